"""`touchpoint compute` refuses a result that partial inputs would move, and stores it with --force."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
from typer.testing import CliRunner

from touchpoint.bootstrap import build
from touchpoint.cli.main import app
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_arrow
from touchpoint.tags.definitions_io import apply_import
from touchpoint.tags.service import compute

RUNNER = CliRunner()
CUSTOMERS = [f"C{i}" for i in range(5)]
LIBRARY = """
indicators:
  - {name: total_assets, title: 总资产, source: assets, aggregation: sum, column: total_assets,
     window: {kind: snapshot}}
tags:
  - name: tier
    title: 资产等级
    category: 资产
    kind: rule
    params: {mass: 10000}
    rules:
      - {when: {indicator: total_assets, op: ">=", value: {param: mass}}, value: 大众}
      - {when: {indicator: total_assets, op: exists}, value: 长尾}
"""


def _prepare(home: Path) -> None:
    container = build(load_settings(home), clock=VirtualClock(datetime(2026, 3, 13, tzinfo=UTC)))
    try:

        def load(table: str, data: pa.Table, day: date | None = None) -> None:
            import_arrow(
                env=container,
                principal=SYSTEM,
                table=table,
                data=data,
                options=ImportOptions(business_date=day, force=True),
                source_name=f"{table}-{day}",
            )

        load("customers", pa.table({"customer_no": CUSTOMERS}), date(2026, 3, 2))
        apply_import(registry=container.registry, principal=SYSTEM, text=LIBRARY)
        assets = {"customer_no": CUSTOMERS, "date": [date(2026, 3, 2)] * 5, "total_assets": [50_000.0] * 5}
        load("assets", pa.table(assets))
        compute(env=container, principal=SYSTEM, day=date(2026, 3, 2))
        # Eight trading days later only one customer's assets arrive: the others' values are stale.
        later = {"customer_no": ["C0"], "date": [date(2026, 3, 12)], "total_assets": [60_000.0]}
        load("assets", pa.table(later))
    finally:
        container.close()


def test_compute_stops_on_missing_inputs_and_force_stores_the_result(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _prepare(home)
    refused = RUNNER.invoke(app, ["--home", str(home), "compute", "--date", "2026-03-12"])
    # A TouchpointError (here MissingInputsError) prints its message as one error line and exits 1.
    assert refused.exit_code == 1
    assert "error: " in refused.output
    assert "tier 4 of 5 (80%)" in refused.output
    assert "total_assets (assets)" in refused.output
    forced = RUNNER.invoke(app, ["--home", str(home), "compute", "--date", "2026-03-12", "--force", "--json"])
    assert forced.exit_code == 0, forced.output
    assert "tier 4 of 5" in json.loads(forced.output)["forced"]
