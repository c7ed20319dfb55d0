"""Blocked kNN by matrix products against a brute-force stable sort."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skdistillhash._torch._knn import inner_product_knn

CPU = torch.device("cpu")


def brute_force(queries, database, k, exclude_self):
    sims = queries.astype(np.float64) @ database.astype(np.float64).T
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    # A stable sort of -sim keeps the smaller index first among equal values.
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(sims, order, axis=1), order


@settings(max_examples=60, deadline=None)
@given(
    X=st.integers(2, 40).flatmap(
        lambda n: st.integers(1, 4).flatmap(
            lambda d: arrays(np.float32, (n, d), elements=st.integers(-2, 2).map(float))
        )
    ),
    data=st.data(),
)
def test_self_knn_equals_stable_brute_force(X, data):
    # Small integers: every product is exact in float32 and ties are everywhere,
    # so this checks the tie-breaking as well as the blocking and merging.
    n = X.shape[0]
    k = data.draw(st.integers(1, n - 1), label="k")
    block = data.draw(st.integers(1, n + 2), label="block")
    sims, idx = inner_product_knn(X, n_neighbors=k, block_size=block, device=CPU)
    want_sims, want_idx = brute_force(X, X, k, exclude_self=True)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(sims, want_sims)
    assert sims.dtype == np.float32 and idx.dtype == np.int64


@settings(max_examples=40, deadline=None)
@given(
    shapes=st.tuples(st.integers(1, 30), st.integers(1, 30), st.integers(1, 4)),
    data=st.data(),
)
def test_query_knn_equals_stable_brute_force(shapes, data):
    n_q, n_db, d = shapes
    ints = st.integers(-2, 2).map(float)
    Q = data.draw(arrays(np.float32, (n_q, d), elements=ints), label="Q")
    D = data.draw(arrays(np.float32, (n_db, d), elements=ints), label="D")
    k = data.draw(st.integers(1, n_db), label="k")
    block = data.draw(st.integers(1, max(n_q, n_db) + 1), label="block")
    sims, idx = inner_product_knn(Q, D, n_neighbors=k, block_size=block, device=CPU)
    want_sims, want_idx = brute_force(Q, D, k, exclude_self=False)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(sims, want_sims)


def test_real_valued_features_match_brute_force():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((700, 16)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    sims, idx = inner_product_knn(X, n_neighbors=7, block_size=128, device=CPU)
    want_sims, want_idx = brute_force(X, X, 7, exclude_self=True)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_allclose(sims, want_sims, atol=1e-6)


def test_duplicates_are_neighbours_but_self_is_not():
    X = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float32)
    _, idx = inner_product_knn(X, n_neighbors=1, block_size=2, device=CPU)
    np.testing.assert_array_equal(idx[:, 0], [1, 0, 0])


@pytest.mark.parametrize("k", [0, 3])
def test_too_many_neighbours_is_an_error(k):
    X = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="n_neighbors"):
        inner_product_knn(X, n_neighbors=k, block_size=2, device=CPU)


def test_wide_blocks_with_heavy_ties_match_brute_force():
    # Database blocks wide enough for the chunked top-k, on data full of ties.
    rng = np.random.default_rng(1)
    X = rng.integers(-1, 2, size=(2048, 2)).astype(np.float32)
    for k, block in [(3, 256), (5, 384)]:
        sims, idx = inner_product_knn(X, n_neighbors=k, block_size=block, device=CPU)
        want_sims, want_idx = brute_force(X, X, k, exclude_self=True)
        np.testing.assert_array_equal(idx, want_idx)
        np.testing.assert_array_equal(sims, want_sims)
    Q = rng.integers(-3, 4, size=(300, 3)).astype(np.float32)
    D = rng.integers(-3, 4, size=(2000, 3)).astype(np.float32)
    sims, idx = inner_product_knn(Q, D, n_neighbors=4, block_size=256, device=CPU)
    want_sims, want_idx = brute_force(Q, D, 4, exclude_self=False)
    np.testing.assert_array_equal(idx, want_idx)
    np.testing.assert_array_equal(sims, want_sims)
