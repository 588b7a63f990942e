"""The flat index's exact top-k against a brute-force sort, across block and chunk edges."""

from __future__ import annotations

import numpy as np
import pytest

from musicedge.topk import top_k_inner_product


@pytest.mark.parametrize("size", [1, 5, 63, 64, 65, 1000, 4097])
@pytest.mark.parametrize("k", [1, 8, 70])
def test_equals_a_full_sort(size, k):
    rng = np.random.default_rng(size * 100 + k)
    base = rng.standard_normal((size, 16)).astype(np.float32)
    queries = rng.standard_normal((7, 16)).astype(np.float32)
    scores, rows = top_k_inner_product(queries, base, k, block=64, chunk=1024)
    full = queries @ base.T
    found = min(k, size)
    expected = np.sort(full, axis=1)[:, ::-1][:, :found]
    np.testing.assert_allclose(scores[:, :found], expected, rtol=1e-5, atol=1e-5)
    chosen = np.take_along_axis(full, rows[:, :found], axis=1)
    np.testing.assert_allclose(chosen, expected, rtol=1e-5, atol=1e-5)
    assert (rows[:, found:] == -1).all() and np.isneginf(scores[:, found:]).all()
    assert all(len(set(r[:found])) == found for r in rows)  # no row twice


def test_nothing_to_search():
    scores, rows = top_k_inner_product(np.ones((3, 4), np.float32), np.zeros((0, 4), np.float32), 2)
    assert scores.shape == (3, 2) and (rows == -1).all()
