"""Roaring bitmaps built straight from boolean masks.

`BitMap(uids[mask])` first gathers the passing uids (a branchy pass over the whole mask) and then inserts them
one by one: about 70 ms for 4.5 million of 10 million customers. When the uids are one unbroken run, a mask
already *is* a bitset in uid order, so it can be packed (`np.packbits`) and handed to CRoaring in its portable
serialization format, which stores a dense chunk as exactly that packed bitset: about 3 ms for the same mask.
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
    chunks = _aligned_chunks(first, flags)
    packed = np.packbits(chunks, axis=1, bitorder="little")  # one 8 KiB bitset per chunk, bit i = uid i
    counts = np.bitwise_count(packed.view(np.uint64)).sum(axis=1, dtype=np.int64)
    used = np.flatnonzero(counts)
    payloads = [
        packed[i].tobytes() if counts[i] > ARRAY_LIMIT else np.flatnonzero(chunks[i]).astype("<u2").tobytes()
        for i in used
    ]
    return BitMap.deserialize(_serialized(first // CHUNK + used, counts[used], payloads))


def _aligned_chunks(first: int, flags: np.ndarray) -> np.ndarray:
    """The mask as rows of CHUNK flags, row k holding the uids of container key first // CHUNK + k (padded
    with false before `first` and after the last uid)."""
    lead = first % CHUNK
    rows = -(-(lead + len(flags)) // CHUNK)
    padded = np.zeros(rows * CHUNK, dtype=bool)
    padded[lead : lead + len(flags)] = flags
    return padded.reshape(rows, CHUNK)


def _serialized(keys: np.ndarray, counts: np.ndarray, payloads: list[bytes]) -> bytes:
    """The portable format: cookie, container count, (key, count - 1) pairs, byte offsets, containers."""
    header = np.array([_COOKIE_NO_RUNS, len(keys)], dtype="<u4").tobytes()
    described = np.empty(2 * len(keys), dtype="<u2")
    described[0::2], described[1::2] = keys, counts - 1
    sizes = np.array([len(p) for p in payloads], dtype=np.int64)
    start = len(header) + described.nbytes + 4 * len(keys)
    offsets = (start + np.concatenate(([0], np.cumsum(sizes)[:-1]))).astype("<u4")
    return b"".join([header, described.tobytes(), offsets.tobytes(), *payloads])
