"""Channel dispatch: messages/s through the dispatcher with every send-time policy on, beside bare HTTP posts.

Synthesises a brokerage of `--customers` customers (default 20,000) on a VirtualClock at 10:00 Beijing: a
customers snapshot with risk level, a recent risk assessment, investor type, phone and the marketing
consent flag (about 8 % without it), a product shelf with an R3 fund, consent records for about 2 % (a
withdrawal on every channel for consenting customers, a webhook grant for some without the flag) and a
do-not-disturb list of 0.5 %. Customers at C1/C2 (5 %) or assessed more than 730 days ago (2 %) admit less
than R3, so the suitability check refuses them the fund (professional investors, 2 %, admit anything). One
marketing webhook template promotes the fund named in the payload, carries the risk disclosure, one https
link (rewritten by the link tracker) and the unsubscribe link. The webhook provider posts to a FakeGateway
(tests/provider_servers.py) in a child process: a real receiver is another process, and the server's
threads then take no GIL time from the dispatcher.

Every policy runs on each request, in the dispatcher's order: consent (profile flag and records),
suitability, do-not-disturb, quiet hours (checked, daytime: never delays), frequency caps (raised to 1,000
a day and 5,000 a week on all channels and 1,000 a day on the webhook: three counters raised a send, none
ever full) and the provider's token bucket (1,000/s with a burst of 1,000, or of a batch if larger; the
clock moved on a second a batch: a token taken a send, never short); then rendering, link tracking, the
signed post, the send row and its event.

The figure: `--messages` requests (default 5,000), each a distinct key for a customer drawn at random,
dispatched `--batch` (default 200) at a time as the journey dispatcher does (`prepare` once a batch and
`stage` each request in one transaction, `transmit` with none open, `conclude` in a second; the time includes
all of it), beside the peer: as many `httpx.Client.post` calls of a webhook-shaped JSON body (with an
Idempotency-Key, so that the gateway keeps the same books) to the same server, the bodies built beforehand.
Each dispatcher batch is followed by its batch of bare posts, so that both see the same machine. The ratio
dispatcher ÷ bare is printed for requests/s and for sent/s (a skipped request makes no post); the gateway's
count of deliveries must equal the sends. `--profile` runs one more batch under cProfile (not counted) and
lists its top entries.
Run: `python bench/bench_channels.py [--customers N] [--messages N] [--batch N] [--profile] [--smoke]
[--json]` (the default on 2 CPUs: about 20 s, peak RSS about 0.35 GiB).
"""

from __future__ import annotations

import cProfile
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pyarrow as pa

import _harness as h
from touchpoint.bootstrap import Container, build
from touchpoint.channels.audience import add_do_not_disturb, set_consent
from touchpoint.channels.dispatcher import Retry, Staged, conclude, prepare, stage, transmit
from touchpoint.channels.env import ChannelEnv
from touchpoint.channels.model import SendRequest, SendResult
from touchpoint.channels.service import activate_template, parse_template, save_template
from touchpoint.config import load_settings
from touchpoint.core.clock import VirtualClock
from touchpoint.governance import SYSTEM
from touchpoint.ingest import ImportOptions, import_arrow

DAY = date(2026, 3, 31)  # a Tuesday, a trading day
AT = datetime(2026, 3, 31, 2, tzinfo=UTC)  # 10:00 Beijing: quiet hours (21:00-08:00) are checked, never hit
FUND = "F000001"
HOOK_PATH = "/hooks/touchpoint"
SECRET = "bench-webhook-secret"
TEMPLATE = "bench_fund_offer"
BATCH_TICK = timedelta(seconds=1)  # the virtual clock moves on a second a batch, so the token bucket refills
TEMPLATE_BODY = {
    "name": TEMPLATE,
    "title": "新发基金推荐（webhook）",
    "channel": "webhook",
    "classification": "marketing",
    "product": "payload.fund_code",
    "subject": "{{ product.name }}今日开放认购",
    "body": (
        "{{ customer_no }}，您关注的{{ product.name }}（{{ product.risk_level }}）今日开放认购，详情见 "
        "https://m.bench-securities.cn/fund/{{ payload.fund_code }} 。市场有风险，投资需谨慎。"
        "退订：{{ unsubscribe_url }}"
    ),
    "track_links": True,
}
# Raised so that every send is counted against three caps (all channels per day and per week, the webhook
# per day) without any customer reaching one: the caps' cost is measured, not their refusals.
CHANNEL_POLICY = {
    "caps_all_channels": {"per_day": 1000, "per_week": 5000},
    "caps_per_channel": {"webhook": {"per_day": 1000}},
}
RISK_LEVELS = (["C1", "C2", "C3", "C4", "C5"], [0.02, 0.03, 0.4, 0.4, 0.15])


# The local webhook server ----------------------------------------------------------------------------------


# FakeGateway lives with the tests. A plain child interpreter that imports only it (not a multiprocessing
# spawn, which re-imports this script and with it all of Touchpoint: seconds of start-up for nothing).
GATEWAY = """
import sys

sys.path.insert(0, sys.argv[1])
from provider_servers import FakeGateway

with FakeGateway() as gateway:
    print(gateway.url, flush=True)
    for command in sys.stdin:
        if command.strip() != "deliveries":
            break
        print(len(gateway.deliveries()), flush=True)
"""
TESTS = Path(__file__).resolve().parent.parent / "tests"


class Gateway:
    """The parent's handle on the child process's FakeGateway."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self._process = process
        self.url = url

    def deliveries(self) -> int:
        """Distinct keys the gateway accepted so far."""
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write("deliveries\n")
        self._process.stdin.flush()
        return int(self._process.stdout.readline())


@contextmanager
def gateway_process() -> Iterator[Gateway]:
    """A FakeGateway in a child process: a real receiver is another process, whose threads take no GIL time
    from the dispatcher. It answers "deliveries" on its stdin with the count, and stops at "stop" or EOF."""
    process = subprocess.Popen(
        [sys.executable, "-c", GATEWAY, str(TESTS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        url = process.stdout.readline().strip()
        if not url:
            raise RuntimeError(f"the gateway process did not start (exit status {process.wait(10)})")
        yield Gateway(process, url)
    finally:
        if process.poll() is None:
            process.stdin.write("stop\n")
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(10)


# The brokerage ---------------------------------------------------------------------------------------------


def customer_numbers(size: int) -> list[str]:
    """The synthetic customer numbers, C10000000 onwards."""
    return list(h.customer_numbers(size).tolist())


def synthesise(container: Container, size: int, rng: np.random.Generator) -> dict[str, int]:
    """The customers snapshot, the product shelf, consent records, the do-not-disturb list and the active
    template; returns how many customers may not get marketing, the consent records and the list's size."""
    numbers = customer_numbers(size)
    levels = rng.choice(RISK_LEVELS[0], size, p=RISK_LEVELS[1])
    # Mostly assessed within the last year; about 2 % longer ago than the 730 days an assessment holds.
    assessed_days = np.where(
        rng.random(size) < 0.02, rng.integers(731, 1500, size), rng.integers(1, 365, size)
    )
    assessed = [DAY - timedelta(days=int(d)) for d in assessed_days]
    professional = rng.random(size) < 0.02
    consent = rng.random(size) >= 0.08
    customers = pa.table(
        {
            "customer_no": numbers,
            "phone": [f"139{n:08d}" for n in range(size)],
            "risk_level": pa.array(levels.tolist(), pa.string()),
            "risk_assessed_at": pa.array(assessed, pa.date32()),
            "investor_type": ["professional" if p else "ordinary" for p in professional],
            "consent_marketing": pa.array(consent.tolist(), pa.bool_()),
        }
    )
    products = pa.table(
        {
            "product_code": [FUND, "F000002"],
            "name": ["景顺成长混合A", "货币增利B"],
            "product_type": ["fund", "fund"],
            "risk_level": ["R3", "R1"],
            "fund_type": ["混合型", "货币型"],
        }
    )
    options = ImportOptions(business_date=DAY, force=True)
    for table, data in (("customers", customers), ("products", products)):
        report = import_arrow(
            env=container,
            principal=SYSTEM,
            table=table,
            data=data,
            options=options,
            source_name=f"bench-{table}",
        )
        assert report.rows_imported == data.num_rows, report.errors[:3]

    env = container
    # Consent records, through the use case the console calls: withdrawals on every channel for about 1 % of
    # the consenting customers, webhook grants for about a tenth of those without the flag.
    withdrawn = np.flatnonzero(consent & (rng.random(size) < 0.01)).tolist()
    granted = np.flatnonzero(~consent & (rng.random(size) < 0.1)).tolist()
    for i in withdrawn:
        set_consent(env=env, principal=SYSTEM, customer_no=numbers[i], channel="*", granted=False)
    for i in granted:
        set_consent(env=env, principal=SYSTEM, customer_no=numbers[i], channel="webhook", granted=True)
    resting = rng.choice(size, max(size // 200, 1), replace=False)
    for i in resting:
        add_do_not_disturb(env=env, principal=SYSTEM, customer_no=numbers[i], reason="客户投诉后暂停营销")

    template = parse_template(TEMPLATE_BODY)
    faults = save_template(env=env, principal=SYSTEM, template=template)["faults"]
    assert not faults, faults
    activate_template(env=env, principal=SYSTEM, name=TEMPLATE)
    may = (consent & ~np.isin(np.arange(size), withdrawn)) | np.isin(np.arange(size), granted)
    return {
        "without_consent": int(size - may.sum()),
        "consent_records": len(withdrawn) + len(granted),
        "do_not_disturb": len(resting),
    }


def send_requests(size: int, count: int, rng: np.random.Generator, prefix: str) -> list[SendRequest]:
    """`count` requests, each a distinct key, for customers drawn at random (a customer may get two)."""
    numbers = customer_numbers(size)
    return [
        SendRequest(
            key=f"{prefix}-{i:07d}",
            customer_no=numbers[c],
            channel="webhook",
            template=TEMPLATE,
            payload={"fund_code": FUND},
        )
        for i, c in enumerate(rng.integers(0, size, count))
    ]


# Measuring -------------------------------------------------------------------------------------------------


def dispatch_batch(env: ChannelEnv, batch: list[SendRequest], outcomes: Counter[str]) -> None:
    """As the journey dispatcher does: one transaction stages the batch (prepare once, the policies, caps and
    rendering per request), the posts go out with no transaction open, a second transaction records them."""
    results: list[SendResult | Retry] = []
    with env.ops.begin() as connection:
        prepared = prepare(connection, env, batch)
        staged = [stage(connection, env, request, prepared) for request in batch]
    answers = [(s, transmit(env, s)) for s in staged if isinstance(s, Staged)]
    with env.ops.begin() as connection:
        results += [conclude(connection, env, s, answer) for s, answer in answers]
    results += [s for s in staged if isinstance(s, SendResult)]
    for result in results:
        if isinstance(result, Retry):
            outcomes["retry"] += 1
            continue
        # The reason's first word (consent, suitability, do-not-disturb, frequency …) names the policy.
        outcomes[result.status if result.status != "skipped" else result.reason.split(":")[0]] += 1


def bare_bodies(requests: list[SendRequest]) -> list[tuple[str, bytes]]:
    """(key, JSON body) per request: the webhook provider's document with the text as rendered for the
    customer (the link and the unsubscribe link as the tracker shortens them)."""
    tracked, unsubscribe = "http://127.0.0.1:8000/t/Qm3xT0aK9vLp", "http://127.0.0.1:8000/u/Zr8bN2cW5eHs"
    return [
        (
            f"bare-{r.key}",
            orjson.dumps(
                {
                    "key": f"bare-{r.key}",
                    "channel": "webhook",
                    "customer_no": r.customer_no,
                    "address": r.customer_no,
                    "title": "景顺成长混合A今日开放认购",
                    "body": (
                        f"{r.customer_no}，您关注的景顺成长混合A（R3）今日开放认购，详情见 {tracked} 。"
                        f"市场有风险，投资需谨慎。退订：{unsubscribe}"
                    ),
                    "marketing": True,
                    "template": TEMPLATE,
                    "template_version": 1,
                    "url": None,
                    "params": {},
                    "metadata": {
                        "journey": None,
                        "node": None,
                        "variant": None,
                        "unsubscribe_url": unsubscribe,
                    },
                }
            ),
        )
        for r in requests
    ]


def post_batch(client: httpx.Client, url: str, bodies: list[tuple[str, bytes]]) -> None:
    """The peer: one post per body, a 2xx required (the webhook provider requires one too)."""
    for key, body in bodies:
        response = client.post(
            url, content=body, headers={"Content-Type": "application/json", "Idempotency-Key": key}
        )
        response.raise_for_status()


@dataclass
class Measured:
    """What the dispatcher did and the seconds it and the peer took."""

    outcomes: Counter[str] = field(default_factory=Counter)
    dispatch_seconds: float = 0.0
    first_batch_seconds: float = 0.0
    bare_seconds: float = 0.0
    bare_posts: int = 0


def dispatch_and_post(
    bench: h.Bench, env: ChannelEnv, clock: VirtualClock, url: str, requests: list[SendRequest], batch: int
) -> Measured:
    """Each batch through the dispatcher, then as many bare posts. Interleaved rather than one phase after
    the other so that both see the same machine: on a shared 2-CPU box the load drifts within a minute."""
    bodies = bare_bodies(requests)  # built beforehand, as the floor should be
    measured = Measured()
    with httpx.Client(timeout=10) as client, bench.progress() as progress:  # as the container's own client
        task = progress.add_task("dispatcher | bare", total=len(requests), note="")
        for start in range(0, len(requests), batch):
            chunk = requests[start : start + batch]
            with h.Stopwatch() as dispatching:
                dispatch_batch(env, chunk, measured.outcomes)
            measured.dispatch_seconds += dispatching.seconds
            measured.first_batch_seconds = measured.first_batch_seconds or dispatching.seconds
            clock.advance(BATCH_TICK)
            chunk_bodies = bodies[start : start + batch]
            with h.Stopwatch() as posting:
                post_batch(client, url, chunk_bodies)
            measured.bare_seconds += posting.seconds
            measured.bare_posts += len(chunk_bodies)
            done = start + len(chunk)
            progress.update(
                task,
                advance=len(chunk),
                note=f"{done / measured.dispatch_seconds:,.0f}/s | {done / measured.bare_seconds:,.0f}/s",
            )
    return measured


def profile_batch(env: ChannelEnv, requests: list[SendRequest]) -> list[dict[str, Any]]:
    """One more batch under cProfile (fresh keys, warm caches): its top entries."""
    profiler = cProfile.Profile()
    profiler.runcall(dispatch_batch, env, requests, Counter())
    return h.top_entries(profiler, entry="prepare + stage + transmit + conclude")


# Running ---------------------------------------------------------------------------------------------------


def run(bench: h.Bench, home: Path) -> dict[str, Any]:
    """Synthesise, then dispatch and post; print and return the figures."""
    args = bench.args
    rng = np.random.default_rng(args.customers)
    with gateway_process() as gateway:
        url = gateway.url + HOOK_PATH
        # A token taken a send, never short: the bucket holds a batch and refills one each BATCH_TICK.
        tokens = max(1000, args.batch)
        webhook = {
            "provider": "webhook",
            "url": url,
            "secret": SECRET,
            "rate_per_second": tokens,
            "burst": tokens,
        }
        settings = load_settings(home, channels={"webhook": webhook}, channel_policy=CHANNEL_POLICY)
        clock = VirtualClock(AT)
        container = build(settings, clock=clock)
        try:
            with (
                bench.status(f"synthesising {args.customers:,} customers, consent, do-not-disturb"),
                h.Stopwatch() as watch,
            ):
                expected = synthesise(container, args.customers, rng)
            bench.say(
                f"{args.customers:,} customers synthesised in {watch.seconds:.1f} s: "
                f"{expected['without_consent']:,} may not get marketing ({expected['consent_records']:,} "
                f"consent records), {expected['do_not_disturb']:,} on the do-not-disturb list; "
                f"operational store {container.ops.dialect}"
            )
            env = container
            requests = send_requests(args.customers, args.messages, rng, "bench")
            measured = dispatch_and_post(bench, env, clock, url, requests, args.batch)
            # Every key is new, so the gateway took each send once and each bare post once.
            delivered = gateway.deliveries() - measured.bare_posts
            sent = measured.outcomes["sent"]
            assert delivered == sent, f"the gateway took {delivered:,} messages, the dispatcher sent {sent:,}"
            profile = (
                profile_batch(env, send_requests(args.customers, args.batch, rng, "profiled"))
                if args.profile
                else []
            )
        finally:
            container.close()
    figures = summarise(bench, measured)
    figures["gateway_deliveries"] = delivered
    if profile:
        figures["batch_profile"] = profile
        h.print_profile(
            bench, f"one more batch of {args.batch}", profile, what="prepare + stage + transmit + conclude"
        )
    figures["max_rss_bytes"] = h.lifetime_peak_rss()
    bench.say(f"peak RSS of the whole run {figures['max_rss_bytes'] / h.GiB:.2f} GiB")
    return figures


def summarise(bench: h.Bench, measured: Measured) -> dict[str, Any]:
    """Print the rates and the ratio; return them."""
    args = bench.args
    outcomes, messages = measured.outcomes, args.messages
    sent = outcomes["sent"]
    rate, bare_rate = messages / measured.dispatch_seconds, messages / measured.bare_seconds
    sent_rate = sent / measured.dispatch_seconds
    skipped = ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()) if k != "sent")
    bench.say(
        f"dispatcher {messages:,} requests ({sent:,} sent; skipped: {skipped}) in "
        f"{measured.dispatch_seconds:.1f} s = {rate:,.0f} requests/s, {sent_rate:,.0f} sent/s, "
        f"{1000 / rate:.2f} ms a request (first batch of {args.batch} {measured.first_batch_seconds:.2f} s: "
        f"snapshots read cold) | bare httpx posts {messages:,} in {measured.bare_seconds:.1f} s = "
        f"{bare_rate:,.0f}/s, {1000 / bare_rate:.2f} ms a post | ratio dispatcher ÷ bare "
        f"{rate / bare_rate:.2f}× (sent/s ÷ bare {sent_rate / bare_rate:.2f}×)"
    )
    return {
        "customers": args.customers,
        "messages": messages,
        "batch": args.batch,
        "outcomes": dict(outcomes),
        "requests_concluded": sum(outcomes.values()),
        "sent": sent,
        "dispatch_seconds": round(measured.dispatch_seconds, 3),
        "first_batch_seconds": round(measured.first_batch_seconds, 3),
        "requests_per_second": round(rate, 1),
        "sent_per_second": round(sent_rate, 1),
        "bare_posts": measured.bare_posts,
        "bare_seconds": round(measured.bare_seconds, 3),
        "bare_posts_per_second": round(bare_rate, 1),
        "ratio_dispatcher_to_bare": round(rate / bare_rate, 3),
        "ratio_sent_to_bare": round(sent_rate / bare_rate, 3),
    }


def main() -> None:
    """Parse the options, run in a throwaway home, print the figures (or JSON)."""
    parser = h.parser(__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--messages", type=int, default=5_000, help="send requests dispatched")
    parser.add_argument("--batch", type=int, default=200, help="requests a transaction")
    parser.add_argument("--profile", action="store_true", help="profile one more batch")
    bench = h.start("bench_channels", parser, smoke={"customers": 500, "messages": 100, "batch": 50})
    with tempfile.TemporaryDirectory(prefix="bench-channels-") as home:
        figures = run(bench, Path(home))
    bench.report(figures)


if __name__ == "__main__":
    main()
