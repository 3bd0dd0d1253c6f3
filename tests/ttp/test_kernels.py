"""The numba Dice kernels agree with a plain numpy reference, pair by pair and all pairs."""

from __future__ import annotations

import numba
import numpy as np
import pytest

import linkage.ttp.kernels
from linkage.ttp.kernels import all_pairs_dice, pair_dice


@pytest.fixture(autouse=True, params=["parallel", "serial"])
def threads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test on all of numba's threads and on one (small workloads run on one)."""
    monkeypatch.setattr(
        linkage.ttp.kernels, "PARALLEL_PAIRS", 0 if request.param == "parallel" else 2**62
    )


def reference_dice(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dice of row i of a with row i of b (broadcasting), 0 where both rows are empty."""
    both = np.bitwise_count(a & b).sum(axis=-1, dtype=np.int64)
    total = np.bitwise_count(a).sum(axis=-1, dtype=np.int64) + np.bitwise_count(b).sum(
        axis=-1, dtype=np.int64
    )
    return np.where(total > 0, 2 * both / np.maximum(total, 1), 0.0)


def filters(rng: np.random.Generator, rows: int, words: int, fill: float) -> np.ndarray:
    bits = rng.random((rows, words * 64)) < fill
    return np.packbits(bits, axis=1, bitorder="little").view(np.uint64)


def related(rng: np.random.Generator, rows_a: int, rows_b: int, words: int):
    """Two sets of filters with every level of similarity: B holds noisy copies of A, empty
    rows and unrelated rows, so all-pairs thresholds cut somewhere interesting."""
    a = filters(rng, rows_a, words, 0.3)
    a[::7] = 0  # empty filters
    copies = a[rng.integers(0, rows_a, rows_b)]
    flips = filters(rng, rows_b, words, 0.05)
    b = np.where(rng.random((rows_b, 1)) < 0.5, copies ^ flips, filters(rng, rows_b, words, 0.3))
    b[::5] = 0
    return a, b


def test_hand_worked_pairs() -> None:
    a = np.array([[0b1111, 0], [0, 0], [0b1, 0], [2**64 - 1, 2**64 - 1]], dtype=np.uint64)
    b = np.array([[0b0011, 0], [0, 0], [0, 0b1], [2**64 - 1, 0]], dtype=np.uint64)
    left = np.array([0, 1, 2, 0, 3, 3])
    right = np.array([0, 1, 2, 1, 3, 0])
    # 4 and 2 bits sharing 2: 4/6; both empty: 0; 1 and 1 bit sharing none: 0;
    # 4 bits against empty: 0; 128 and 64 sharing 64: 128/192; 128 and 2 sharing 2: 4/130
    expected = [2 / 3, 0.0, 0.0, 0.0, 2 / 3, 4 / 130]
    assert pair_dice(a, b, left, right) == pytest.approx(expected, abs=0, rel=1e-15)


@pytest.mark.parametrize("words", [1, 3, 8, 16])
def test_pair_dice_matches_reference(words: int) -> None:
    rng = np.random.default_rng(words)
    a, b = related(rng, 300, 200, words)
    left = rng.integers(0, len(a), 5000)
    right = rng.integers(0, len(b), 5000)
    got = pair_dice(a, b, left, right)
    np.testing.assert_array_equal(got, reference_dice(a[left], b[right]))
    assert (got == 0).any() and (got > 0.8).any()


def test_pair_dice_non_contiguous_inputs_and_given_popcounts() -> None:
    rng = np.random.default_rng(2)
    a, b = related(rng, 400, 300, 8)
    left = rng.integers(0, len(a), (2000, 2)).astype(np.int32)[:, 1]  # strided, int32
    right = rng.integers(0, len(b), 4000)[::2]
    wide = np.repeat(a, 2, axis=1)[:, ::2]  # strided words
    expected = reference_dice(a[left], b[right])
    np.testing.assert_array_equal(pair_dice(wide, b, left, right), expected)
    ones_a = np.bitwise_count(a).sum(axis=1)
    ones_b = np.bitwise_count(b).sum(axis=1).astype(np.uint16)
    np.testing.assert_array_equal(pair_dice(a, b, left, right, ones_a, ones_b), expected)


def test_pair_dice_refuses_bad_input() -> None:
    a = np.zeros((3, 2), dtype=np.uint64)
    with pytest.raises(IndexError):
        pair_dice(a, a, np.array([0, 3]), np.array([0, 0]))
    with pytest.raises(IndexError):
        pair_dice(a, a, np.array([0]), np.array([-1]))
    with pytest.raises(ValueError):
        pair_dice(a, np.zeros((3, 3), dtype=np.uint64), np.array([0]), np.array([0]))
    with pytest.raises(ValueError):
        pair_dice(a, a, np.array([0, 1]), np.array([0]))
    assert len(pair_dice(a, a, np.array([], dtype=int), np.array([], dtype=int))) == 0


@pytest.mark.parametrize("words", [1, 3, 8, 16])
@pytest.mark.parametrize("threshold", [0.0, 0.5, 0.8, 0.95, 1.0])
def test_all_pairs_matches_reference(words: int, threshold: float) -> None:
    rng = np.random.default_rng(10 * words)
    a, b = related(rng, 150, 123, words)  # 123: the kernel's four-row blocks leave a tail
    full = reference_dice(a[:, None, :], b[None, :, :])
    rows_a, rows_b = np.nonzero(full >= threshold)
    similarity, got_a, got_b = all_pairs_dice(a, b, threshold)
    assert len(similarity) == len(rows_a)
    order = np.lexsort((got_b, got_a))
    np.testing.assert_array_equal(got_a[order], rows_a)
    np.testing.assert_array_equal(got_b[order], rows_b)
    np.testing.assert_array_equal(similarity[order], full[rows_a, rows_b])


def test_all_pairs_in_several_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linkage.ttp.kernels, "CHUNK_ENTRIES", 1000)
    rng = np.random.default_rng(3)
    a, b = related(rng, 100, 90, 2)
    similarity, rows_a, rows_b = all_pairs_dice(a, b, 0.6)
    full = reference_dice(a[:, None, :], b[None, :, :])
    assert len(similarity) == (full >= 0.6).sum() > 0
    np.testing.assert_array_equal(similarity, full[rows_a, rows_b])


def test_all_pairs_edges() -> None:
    empty = np.zeros((2, 1), dtype=np.uint64)
    one = np.array([[1]], dtype=np.uint64)
    # both empty: Dice 0, kept at threshold 0 only
    assert all_pairs_dice(empty, empty, 0.0)[0].tolist() == [0.0] * 4
    assert len(all_pairs_dice(empty, empty, 0.1)[0]) == 0
    assert all_pairs_dice(one, one, 1.0)[0].tolist() == [1.0]
    assert len(all_pairs_dice(one, one, 1.5)[0]) == 0
    assert len(all_pairs_dice(one, one, -1.0)[0]) == 1
    assert len(all_pairs_dice(one[:0], one, 0.0)[0]) == 0
    assert len(all_pairs_dice(one, one[:0], 0.0)[0]) == 0
    with pytest.raises(ValueError):
        all_pairs_dice(one, one, float("nan"))


def test_thread_count_is_restored() -> None:
    threads = numba.get_num_threads()
    a = np.ones((3, 1), dtype=np.uint64)
    pair_dice(a, a, np.arange(3), np.arange(3))
    all_pairs_dice(a, a, 0.5)
    assert numba.get_num_threads() == threads
