"""Unwrapping request bodies: form fields, base64, gzip (with a size limit), JSON, and the Sensors crc."""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import orjson

GZIP_MAGIC = b"\x1f\x8b"
# Content-Encoding values a collector reads: gzip is recognised by its magic number whatever the header says.
ENCODINGS = frozenset({"", "identity", "gzip", "x-gzip"})
_HASH_CHUNK = 1 << 20
_B64_CHUNK = 1 << 18  # a multiple of 4


class PayloadError(Exception):
    """A request that can never be valid as sent; `status` is the HTTP answer (400 or 413)."""

    def __init__(self, reason: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status


def form_fields(query: Mapping[str, str], body: bytes) -> dict[str, str]:
    """Form fields from the query and the body (parsed as a form whatever its Content-Type says)."""
    fields = dict(query)
    if body:
        text = body.decode("utf-8", errors="replace")
        fields.update(parse_qsl(text, keep_blank_values=True))
    return fields


def decode_base64(text: str) -> bytes:
    """Base64 that tolerates missing padding, newlines, and `+` turned into spaces by form decoding."""
    cleaned = "".join(text.replace(" ", "+").split())
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        # In slices of whole 4-character groups: one call on megabytes would hold the GIL that long.
        parts = [
            base64.b64decode(cleaned[start : start + _B64_CHUNK], validate=True)
            for start in range(0, len(cleaned), _B64_CHUNK)
        ]
        return b"".join(parts)
    except (binascii.Error, ValueError):
        try:
            return base64.urlsafe_b64decode(cleaned)
        except (binascii.Error, ValueError) as exc:
            raise PayloadError("bad_base64", f"the data field is not valid base64 ({exc})") from exc


def gunzip_limited(data: bytes, limit: int) -> bytes:
    """Inflate gzip data, refusing anything that inflates past `limit` bytes (a gzip bomb)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise PayloadError("bad_gzip", f"the payload is not valid gzip ({exc})") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise PayloadError(
            "too_large", f"the payload inflates past {limit:,} bytes (collector_max_inflated_mb)", status=413
        )
    if not inflater.eof:
        raise PayloadError("truncated", "the gzip stream ends early (truncated payload)")
    return out


def maybe_gunzip(data: bytes, limit: int) -> bytes:
    """Inflate when the bytes are gzip (by magic number), else return them as they are."""
    return gunzip_limited(data, limit) if data[:2] == GZIP_MAGIC else data


def parse_json(data: bytes) -> Any:
    """Parse JSON or raise a PayloadError naming the problem."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise PayloadError(
                "too_deep", "the payload nests deeper than 1,024 levels (collector_max_depth)"
            ) from exc
        raise PayloadError("bad_json", f"the payload is not valid JSON ({exc})") from exc


def check_encoding(content_encoding: str | None) -> None:
    """Refuse a Content-Encoding the collector cannot read (HTTP 415)."""
    encoding = (content_encoding or "").strip().lower()
    if encoding not in ENCODINGS:
        raise PayloadError(
            "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not read: send gzip or none",
            status=415,
        )


def java_string_hash(text: str) -> int:
    """Java's String.hashCode: the 32-bit signed 31-hash the Sensors SDKs send as `crc`."""
    units = np.frombuffer(text.encode("utf-16-be"), dtype=">u2").astype(np.uint32)
    value = 0
    # h = sum(u[i] * 31^(n-1-i)) mod 2^32, a chunk at a time: uint32 arrays wrap exactly as Java's int does
    # (a Python loop took seconds on a 6 MB body).
    for start in range(0, len(units), _HASH_CHUNK):
        chunk = units[start : start + _HASH_CHUNK]
        powers = np.cumprod(np.full(len(chunk), 31, dtype=np.uint32), dtype=np.uint32)  # 31^1 … 31^len
        weights = np.concatenate(([np.uint32(1)], powers[:-1]))[::-1]  # 31^(len-1) … 31^0
        tail = int(np.sum(chunk * weights, dtype=np.uint32))
        value = (value * int(powers[-1]) + tail) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value
