"""The OpenAPI document of the API as the checked-in contract (docs/openapi.json).

The console generates its TypeScript types from that file, so it is written with sorted keys and a fixed
layout: two runs over the same code give the same bytes, and a test (tests/unit/api/test_openapi_contract.py)
fails when the code and the file drift. Regenerate with `make openapi`.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from touchpoint.api.app import create_app
from touchpoint.bootstrap import build
from touchpoint.config import load_settings

CONTRACT = Path("docs/openapi.json")


def openapi_document() -> dict[str, Any]:
    """The full API's OpenAPI document, built from the routes alone (a throw-away, unmigrated data dir)."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-openapi-") as home:
        settings = load_settings(Path(home), database_url=f"sqlite:///{Path(home) / 'ops.db'}")
        container = build(settings, migrate=False)
        try:
            return create_app(container).openapi()
        finally:
            container.close()


def render(document: dict[str, Any]) -> str:
    """The document as stable text: sorted keys, two-space indent, UTF-8 kept readable, a final newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """`python -m touchpoint.api.openapi [PATH]`: write the document (default docs/openapi.json)."""
    target = Path(argv[0]) if argv else CONTRACT
    target.write_text(render(openapi_document()), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
