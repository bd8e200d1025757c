"""Roaring bitmaps built straight from boolean masks.

`BitMap(uids[mask])` first gathers the passing uids (a branchy pass over the whole mask) and then inserts them
one by one: about 70 ms for 4.5 million of 10 million customers. When the uids are one unbroken run, a mask
already *is* a bitset in uid order, so it can be packed (`np.packbits`) and handed to CRoaring in its portable
serialization format, which stores a dense chunk as exactly that packed bitset: about 2 ms for the same mask.
Format: https://github.com/RoaringBitmap/RoaringFormatSpec (no run containers, so no run-flag section).
"""

from __future__ import annotations

import numpy as np
from pyroaring import BitMap

CHUNK = 1 << 16
"""Uids per Roaring container: the high 16 bits are the container's key, the low 16 its contents."""
ARRAY_LIMIT = 4096
"""The format stores a container of at most this many members as sorted 16-bit values, above as a bitset."""
_COOKIE_NO_RUNS = 12346


def bitmap_from_mask(first: int, mask: np.ndarray) -> BitMap:
    """The bitmap of `first + i` for every position `i` where `mask` is true.

    For a dense run of uids starting at `first` (as the customer base is), this turns a column test into a
    bitmap at the cost of packing the mask, whatever share of the customers pass.
    """
    flags = np.asarray(mask, dtype=bool)
    if first < 0 or first + len(flags) > 1 << 32:
        raise ValueError(f"uids {first}..{first + len(flags) - 1} are outside 0..2**32-1")
    if not flags.any():
        return BitMap()
    packed = _packed_chunks(first, flags)  # one 8 KiB bitset per container, bit i = its uid i
    counts = np.bitwise_count(packed.view(np.uint64)).sum(axis=1, dtype=np.int64)
    used = np.flatnonzero(counts)
    payloads = [
        packed[i].tobytes() if counts[i] > ARRAY_LIMIT else _members(flags, first % CHUNK, int(i))
        for i in used
    ]
    return BitMap.deserialize(_serialized(first // CHUNK + used, counts[used], payloads))


def _packed_chunks(first: int, flags: np.ndarray) -> np.ndarray:
    """The flags packed 8 to a byte, one row of CHUNK bits per container from key first // CHUNK on.

    Only the partial first and last containers are copied to be padded; the whole ones are packed from
    a view (padding the whole mask cost as much as packing it).
    """
    lead = first % CHUNK
    head = min(len(flags), (CHUNK - lead) % CHUNK)  # the flags before the first container boundary
    whole = (len(flags) - head) // CHUNK * CHUNK
    parts = [flags[head : head + whole].reshape(-1, CHUNK)]
    if head:
        parts.insert(0, _padded(flags[:head], lead))
    if head + whole < len(flags):
        parts.append(_padded(flags[head + whole :], 0))
    return np.concatenate([np.packbits(part, axis=1, bitorder="little") for part in parts])


def _padded(flags: np.ndarray, at: int) -> np.ndarray:
    """One container's row of flags: `flags` from position `at`, false elsewhere."""
    row = np.zeros((1, CHUNK), dtype=bool)
    row[0, at : at + len(flags)] = flags
    return row


def _members(flags: np.ndarray, lead: int, row: int) -> bytes:
    """A sparse container's members as the format stores them: the low 16 bits of its uids, ascending."""
    start = max(row * CHUNK - lead, 0)  # the first flag in this container
    found = np.flatnonzero(flags[start : (row + 1) * CHUNK - lead]) + (start + lead) % CHUNK
    return found.astype("<u2").tobytes()


def _serialized(keys: np.ndarray, counts: np.ndarray, payloads: list[bytes]) -> bytes:
    """The portable format: cookie, container count, (key, count - 1) pairs, byte offsets, containers."""
    header = np.array([_COOKIE_NO_RUNS, len(keys)], dtype="<u4").tobytes()
    described = np.empty(2 * len(keys), dtype="<u2")
    described[0::2], described[1::2] = keys, counts - 1
    sizes = np.array([len(p) for p in payloads], dtype=np.int64)
    start = len(header) + described.nbytes + 4 * len(keys)
    offsets = (start + np.concatenate(([0], np.cumsum(sizes)[:-1]))).astype("<u4")
    return b"".join([header, described.tobytes(), offsets.tobytes(), *payloads])
