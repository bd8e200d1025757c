"""What every HTTP provider shares: one JSON call that sorts failures into transient and permanent, and the
generic JSON receipt callback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from touchpoint.channels.providers.base import PermanentError, Receipt, ReceiptError, TransientError

# Chinese gateways write local times without an offset; they mean Beijing time (no daylight saving).
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# A gateway's own time-out (408) and its rate limit (429) say nothing about the message itself.
_TRANSIENT_4XX = frozenset({408, 429})
_EXCERPT_CHARS = 200
_GENERIC_STATUSES = frozenset({"delivered", "failed", "opened", "clicked"})


def where(url: str) -> str:
    """The URL without its query, for error messages: query strings carry tokens and secrets."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def excerpt(data: bytes | str, limit: int = _EXCERPT_CHARS) -> str:
    """The start of a response body on one line, short enough for a log or an error message."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def request_json(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    content: bytes | None = None,
    lenient: bool = False,
) -> Any:
    """Make one request and return the answer's parsed JSON.

    Time-outs, connection failures, 5xx, 408 and 429 raise TransientError; other non-2xx answers raise
    PermanentError with the status and a body excerpt. A 2xx answer that is not JSON raises TransientError
    (a proxy's error page, a half-written answer), unless `lenient`, when it gives None: receivers such as
    webhooks may answer a bare "ok".
    """
    target = where(url)
    try:
        response = client.request(
            method, url, headers=headers, params=params, content=content, timeout=timeout
        )
    except httpx.TimeoutException as exc:
        raise TransientError(f"{target} timed out after {timeout:g}s ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"{target} unreachable: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if status >= 500 or status in _TRANSIENT_4XX:
        raise TransientError(f"{target} answered HTTP {status}: {excerpt(response.content)}")
    if not 200 <= status < 300:
        raise PermanentError(f"{target} answered HTTP {status}: {excerpt(response.content)}")
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        if lenient:
            return None
        raise TransientError(f"{target} answered malformed JSON: {excerpt(response.content)!r}") from exc


def post_json(
    client: httpx.Client,
    url: str,
    payload: Any,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> Any:
    """POST `payload` as UTF-8 JSON and return the parsed answer, as `request_json` does."""
    try:
        content = orjson.dumps(payload)
    except TypeError as exc:
        raise PermanentError(f"message cannot be written as JSON: {exc}") from exc
    return request_json(
        client,
        "POST",
        url,
        timeout=timeout,
        headers={**(headers or {}), "Content-Type": "application/json"},
        params=params,
        content=content,
    )


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path ("data.msg_id", "results.0.id") in parsed JSON, or None when absent."""
    node = data
    for step in path.split("."):
        if isinstance(node, dict):
            node = node.get(step)
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return None
        if node is None:
            return None
    return node


def as_id(value: Any) -> str | None:
    """A gateway's message id as text (several send integers), or None when there is none."""
    if value is None or value == "" or isinstance(value, bool | dict | list):
        return None
    return str(value)


def parse_time(value: Any, *, epoch_unit: str = "ms") -> datetime | None:
    """A callback's time: epoch milliseconds (or seconds with epoch_unit="s"), or ISO 8601 text.

    Text without an offset is Beijing time, as Chinese gateways write it. Anything else: ReceiptError.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if epoch_unit == "ms" else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise ReceiptError(f"time out of range: {value!r}") from exc
    if isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ReceiptError(f"unreadable time: {value!r}") from exc
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=BEIJING)
        return instant.astimezone(UTC)
    raise ReceiptError(f"unreadable time: {value!r}")


def json_items(body: bytes) -> list[dict[str, Any]]:
    """The objects of a JSON callback: `{"receipts": [...]}`, a bare list, or one object on its own."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ReceiptError(f"callback body is not JSON: {excerpt(body, 80)!r}") from exc
    if isinstance(data, dict) and "receipts" in data:
        data = data["receipts"]
    items = data if isinstance(data, list) else [data]
    for item in items:
        if not isinstance(item, dict):
            raise ReceiptError(f"a receipt must be a JSON object, not {excerpt(orjson.dumps(item), 80)}")
    return items


def parse_json_receipts(body: bytes) -> list[Receipt]:
    """Read the generic receipt callback shared by the push and webhook providers.

    `{"receipts": [{"msg_id", "status": "delivered|failed|opened|clicked", "time": epoch ms or ISO,
    "reason"}]}`, or one such object on its own. Raises ReceiptError naming the first problem.
    """
    receipts = []
    for item in json_items(body):
        message_id = as_id(item.get("msg_id"))
        if message_id is None:
            raise ReceiptError("receipt without msg_id")
        status = item.get("status")
        if status not in _GENERIC_STATUSES:
            raise ReceiptError(f"receipt {message_id}: unknown status {status!r}")
        reason = item.get("reason")
        receipts.append(
            Receipt(
                status=status,
                provider_message_id=message_id,
                at=parse_time(item.get("time")),
                reason=str(reason) if reason not in (None, "") else None,
            )
        )
    return receipts
