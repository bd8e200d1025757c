"""What an ingestion key costs a batch: `admit` (hash the key, look it up, take from its bucket) against
`collect` of the same native batch of 50 events (check, dedupe, append to the event log) — the peer.

Both run in this process on a fresh SQLite data directory, one after the other, on the same batches.
Prints microseconds per batch for each and the ratio admit / collect (the share keys add to a batch).
Run: `python bench/bench_ingest_keys.py [--batches N]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson

from touchpoint.bootstrap import build
from touchpoint.config import load_settings
from touchpoint.governance import SYSTEM
from touchpoint.ingest.collector import native
from touchpoint.ingest.collector.keys import IngestKeyCreate, admit, create_key
from touchpoint.ingest.collector.service import collect


def _body(batch: int, now_ms: int) -> bytes:
    events = [
        {
            "event_id": f"b{batch}-e{i}",
            "event": "fund_detail_view",
            "customer_no": f"C{1_000_000 + i}",
            "time": now_ms,
            "properties": {"fund_code": "110006"},
        }
        for i in range(50)
    ]
    return orjson.dumps({"events": events})


def main() -> None:
    """Time admit and collect over the same batches and print both and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as home:
        container = build(load_settings(Path(home)))
        try:
            key = IngestKeyCreate(name="bench", source="native", rate_per_second=1_000_000, burst=10_000_000)
            secret = create_key(container, principal=SYSTEM, key=key).key
            now_ms = int(container.clock.now().timestamp() * 1000)
            batches = [native.decode(_body(b, now_ms)) for b in range(args.batches)]
            started = time.perf_counter()
            for _ in batches:
                admit(container, source="native", secret=secret)
            admit_us = (time.perf_counter() - started) / len(batches) * 1e6
            started = time.perf_counter()
            for batch in batches:
                collect(env=container, batch=batch)
            collect_us = (time.perf_counter() - started) / len(batches) * 1e6
        finally:
            container.close()
    print(f"admit (key check + rate limit): {admit_us:,.0f} µs per batch")
    print(f"collect (50 events, the peer):  {collect_us:,.0f} µs per batch")
    print(f"ratio admit / collect: {admit_us / collect_us:.3f}")


if __name__ == "__main__":
    main()
