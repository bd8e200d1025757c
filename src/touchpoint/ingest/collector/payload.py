"""Unwrapping request bodies: form fields, base64, gzip (with a size limit), JSON, and the Sensors crc."""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

GZIP_MAGIC = b"\x1f\x8b"


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
        return base64.b64decode(cleaned, altchars=None, validate=True)
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
        raise PayloadError("too_large", f"the payload inflates past {limit:,} bytes", status=413)
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
        raise PayloadError("bad_json", f"the payload is not valid JSON ({exc})") from exc


def java_string_hash(text: str) -> int:
    """Java's String.hashCode: the 32-bit signed 31-hash the Sensors SDKs send as `crc`."""
    units = text.encode("utf-16-be")
    value = 0
    for i in range(0, len(units), 2):
        value = (31 * value + (units[i] << 8 | units[i + 1])) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value
