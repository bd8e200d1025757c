"""Identifiers: run ids and content hashes."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path


def new_id(prefix: str) -> str:
    """A short random id with a readable prefix, e.g. `imp_4f9c1a2b7d3e`."""
    return f"{prefix}_{secrets.token_hex(6)}"


def file_sha256(path: Path) -> str:
    """The SHA-256 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bytes_sha256(data: bytes) -> str:
    """The SHA-256 hex digest of `data`."""
    return hashlib.sha256(data).hexdigest()
