"""A mask packed straight into Roaring's format holds exactly the uids a gather of the mask would."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyroaring import BitMap

from touchpoint.core.roaring import ARRAY_LIMIT, CHUNK, bitmap_from_mask


def _gathered(first: int, mask: np.ndarray) -> BitMap:
    return BitMap((first + np.flatnonzero(mask)).tolist())


@pytest.mark.parametrize(
    ("first", "size", "share"),
    [
        (0, CHUNK, 1.0),  # one full container (cardinality 65536 is stored as 65535)
        (1, 3 * CHUNK, 0.5),  # bitset containers, not aligned to a chunk
        (CHUNK - 1, 2 * CHUNK, 0.01),  # array containers straddling a chunk boundary
        (5, 10 * CHUNK, ARRAY_LIMIT / CHUNK),  # around the array/bitset limit
        (2**32 - 1000, 1000, 0.5),  # the last uids a 32-bit bitmap holds
    ],
)
def test_mask_becomes_the_bitmap_of_its_true_positions(first: int, size: int, share: float) -> None:
    mask = np.random.default_rng(size).random(size) < share
    built = bitmap_from_mask(first, mask)
    assert built == _gathered(first, mask)
    assert len(built) == int(mask.sum())


def test_container_of_exactly_the_array_limit_and_one_more() -> None:
    mask = np.zeros(2 * CHUNK, dtype=bool)
    mask[:ARRAY_LIMIT] = True  # 4096 members: an array container
    mask[CHUNK : CHUNK + ARRAY_LIMIT + 1] = True  # 4097: a bitset container
    assert bitmap_from_mask(7, mask) == _gathered(7, mask)


def test_all_false_and_empty_masks_are_empty_bitmaps() -> None:
    assert bitmap_from_mask(3, np.zeros(100_000, dtype=bool)) == BitMap()
    assert bitmap_from_mask(3, np.zeros(0, dtype=bool)) == BitMap()


def test_uids_beyond_32_bits_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        bitmap_from_mask(2**32 - 1, np.ones(2, dtype=bool))
    with pytest.raises(ValueError, match="outside"):
        bitmap_from_mask(-1, np.ones(2, dtype=bool))


@settings(max_examples=60, deadline=None)
@given(
    first=st.integers(0, 4 * CHUNK),
    flags=st.lists(st.booleans(), max_size=3 * CHUNK // 64).map(lambda f: np.repeat(np.array(f, bool), 64)),
    sparse=st.booleans(),
)
def test_any_mask_matches_the_gathered_bitmap(first: int, flags: np.ndarray, sparse: bool) -> None:
    mask = flags & (np.arange(len(flags)) % 97 == 0) if sparse else flags
    assert bitmap_from_mask(first, mask) == _gathered(first, mask)
