"""What an ingestion key costs a batch: `admit` (hash the key, look it up, take from its bucket) against
`collect` of the same native batch of 50 events (check, dedupe, append to the event log) — the peer.

Both run in this process on a fresh SQLite data directory, one after the other, on the same batches.
Prints microseconds per batch for each and the ratio admit / collect (the share keys add to a batch).
Run: `python bench/bench_ingest_keys.py [--batches N] [--smoke] [--json]`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson

import _harness as h
from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.governance import SYSTEM
from touchpoint.ingest.collector import native
from touchpoint.ingest.collector.keys import IngestKeyCreate, admit, create_key
from touchpoint.ingest.collector.service import CollectResult, collect

EVENTS = 50


def _body(batch: int, now_ms: int) -> bytes:
    events = [
        {
            "event_id": f"b{batch}-e{i}",
            "event": "fund_detail_view",
            "customer_no": f"C{1_000_000 + i}",
            "time": now_ms,
            "properties": {"fund_code": "110006"},
        }
        for i in range(EVENTS)
    ]
    return orjson.dumps({"events": events})


def main() -> None:
    """Time admit and collect over the same batches and print both and their ratio."""
    parser = h.parser(__doc__)
    parser.add_argument("--batches", type=int, default=2_000)
    bench = h.start("bench_ingest_keys", parser, smoke={"batches": 20})
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as home:
        container = build(load_settings(Path(home)))
        try:
            key = IngestKeyCreate(name="bench", source="native", rate_per_second=1_000_000, burst=10_000_000)
            secret = create_key(container, principal=SYSTEM, key=key).key
            now_ms = int(container.clock.now().timestamp() * 1000)
            batches = [native.decode(_body(b, now_ms)) for b in range(bench.args.batches)]

            def admit_all() -> int:
                for _ in batches:
                    admit(container, source="native", secret=secret)  # raises when it refuses one
                return len(batches)

            def collect_all() -> list[CollectResult]:
                return [collect(env=container, batch=batch) for batch in batches]

            admitting = h.measure(admit_all, runs=1)
            collecting = h.measure(collect_all, runs=1)
        finally:
            container.close()
    admit_us = admitting.first / len(batches) * 1e6
    collect_us = collecting.first / len(batches) * 1e6
    bench.say(f"admit (key check + rate limit): {admit_us:,.0f} µs per batch")
    bench.say(f"collect ({EVENTS} events, the peer):  {collect_us:,.0f} µs per batch")
    bench.say(f"ratio admit / collect: {admit_us / collect_us:.3f}")
    bench.report(
        {
            "batches": len(batches),
            "events_per_batch": EVENTS,
            "admitted_batches": admitting.result,
            "events_accepted": sum(r.accepted for r in collecting.result),
            "events_refused": sum(r.duplicates + r.quarantined for r in collecting.result),
            "admit_us_per_batch": round(admit_us, 1),
            "collect_us_per_batch": round(collect_us, 1),
            "ratio": round(admit_us / collect_us, 4),
        }
    )


if __name__ == "__main__":
    main()
