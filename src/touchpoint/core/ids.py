"""Identifiers: run ids and content hashes."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path


def new_id(prefix: str) -> str:
    """A random id with a readable prefix, e.g. `run_4f9c1a2b7d3e0a1b2c3d4e5f`: 96 random bits, so a batch of
    millions (one transaction) never meets a collision in practice."""
    return f"{prefix}_{secrets.token_hex(12)}"


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
