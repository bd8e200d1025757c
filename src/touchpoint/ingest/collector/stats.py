"""Collector observability: counters, quarantine, consumer lag — as a dict and as Prometheus text."""

from __future__ import annotations

from typing import Any

from touchpoint.core.clock import Clock
from touchpoint.ingest.collector import repo
from touchpoint.ingest.compactor import consumer_lag
from touchpoint.ingest.ports import EventLog
from touchpoint.store import OperationalStore
from touchpoint.store.operational import dead_letters
from touchpoint.store.operational.offsets import all_offsets

CONSUMERS = ("compactor", "identity")


def collector_stats(*, log: EventLog, ops: OperationalStore, clock: Clock) -> dict[str, Any]:
    """Accepted, duplicates and batches per source, quarantined and replayed by reason, and each consumer's
    lag."""
    with ops.begin() as connection:
        counters = repo.counters(connection)
        quarantined = repo.quarantine_by_reason(connection)
        known = set(all_offsets(connection))
        dead = dead_letters.counts(connection)
    consumers = sorted(known | set(CONSUMERS))
    return {
        "accepted": _by_label(counters, "accepted"),
        "duplicates": _by_label(counters, "duplicates"),
        "batches": _by_label(counters, "batches"),
        "rejected_batches": _by_label(counters, "rejected_batches"),
        "quarantined": quarantined,
        "replayed": _by_label(counters, "replayed"),
        "log_head": log.head(),
        "consumers": {name: consumer_lag(log=log, ops=ops, clock=clock, consumer=name) for name in consumers},
        "dead_letters": dead,
    }


def _by_label(counters: dict[str, int], prefix: str) -> dict[str, int]:
    return {name.split("|", 1)[1]: value for name, value in counters.items() if name.startswith(prefix + "|")}


def prometheus_text(stats: dict[str, Any]) -> str:
    """The stats in the Prometheus text exposition format."""
    lines: list[str] = []
    families = [
        ("accepted", "source", "touchpoint_collector_accepted_total", "Events accepted into the event log"),
        (
            "duplicates",
            "source",
            "touchpoint_collector_duplicates_total",
            "Resent events dropped as duplicates",
        ),
        ("batches", "source", "touchpoint_collector_batches_total", "Requests that carried events"),
        ("quarantined", "reason", "touchpoint_collector_quarantined", "Messages in the quarantine"),
        (
            "replayed",
            "reason",
            "touchpoint_collector_replayed_total",
            "Quarantined messages an operator let in",
        ),
        (
            "rejected_batches",
            "reason",
            "touchpoint_collector_rejected_batches_total",
            "Requests refused whole",
        ),
    ]
    for key, label, metric, help_text in families:
        kind = "gauge" if key == "quarantined" else "counter"
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} {kind}"]
        lines += [f'{metric}{{{label}="{name}"}} {value}' for name, value in sorted(stats[key].items())]
    lines += [
        "# HELP touchpoint_event_log_head Offset of the newest event",
        "# TYPE touchpoint_event_log_head gauge",
    ]
    lines.append(f"touchpoint_event_log_head {stats['log_head']}")
    for metric, field, help_text in (
        ("touchpoint_consumer_lag_records", "records", "Events a consumer has not processed"),
        (
            "touchpoint_consumer_lag_seconds",
            "seconds",
            "Age of the oldest event a consumer has not processed",
        ),
    ):
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{consumer="{c}"}} {lag[field]}' for c, lag in sorted(stats["consumers"].items())]
    lines += [
        "# HELP touchpoint_dead_letters Event-log records a consumer could not process, by status",
        "# TYPE touchpoint_dead_letters gauge",
    ]
    for consumer, by_status in sorted(stats.get("dead_letters", {}).items()):
        lines += [
            f'touchpoint_dead_letters{{consumer="{consumer}",status="{s}"}} {n}'
            for s, n in sorted(by_status.items())
        ]
    return "\n".join(lines) + "\n"
