"""The label table: the same labels and graph as products of features, within budget."""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skdistillhash.distill import PairDistiller


def _fit_both_ways(X, **params):
    """The same distiller fitted with the label table and without it (products only)."""
    with warnings.catch_warnings():
        # Few rows shrink the neighbourhoods, odd thresholds distil no dissimilar pair.
        warnings.simplefilter("ignore", UserWarning)
        table = PairDistiller(device="cpu", random_state=0, **params).fit(X)
        products = PairDistiller(device="cpu", random_state=0, label_cache_bytes=0, **params).fit(X)
    assert table._labeler.has_table and not products._labeler.has_table
    return table, products


def _assert_same_fit(table, products):
    assert (table.graph_ != products.graph_).nnz == 0
    assert table.dissimilar_rate_ == products.dissimilar_rate_
    idx = np.arange(table.n_samples_fit_)
    np.testing.assert_array_equal(table.pair_labels(idx, idx), products.pair_labels(idx, idx))


@pytest.mark.parametrize("strategy", ["distillhash", "ssdh"])
def test_table_gives_the_graph_and_labels_of_the_products_on_digits(digits, strategy):
    X = digits[0][:700]
    table, products = _fit_both_ways(X, strategy=strategy)
    _assert_same_fit(table, products)
    labels = products.pair_labels(np.arange(700), np.arange(700))
    assert (labels > 0).any() and (labels < 0).any()
    # Rectangular blocks with repeats and any order read the same table.
    rng = np.random.RandomState(0)
    a, b = rng.randint(0, len(X), 300), rng.randint(0, len(X), 77)
    np.testing.assert_array_equal(table.pair_labels(a, b), labels[np.ix_(a, b)] * (a[:, None] != b))


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 60),
    d=st.integers(1, 6),
    k=st.integers(1, 17),  # (k + 1)^2 > 255 needs wider counts than uint8
    clusters=st.integers(1, 4),
    rates=st.sampled_from([(0.75, 0.75), (0.0, 0.0), (0.5, 0.9)]),
    seed=st.integers(0, 2**16),
)
def test_table_equals_products_on_random_data(n, d, k, clusters, rates, seed):
    rng = np.random.RandomState(seed)
    centres = rng.randn(clusters, d)
    X = centres[rng.randint(clusters, size=n)] + 0.3 * rng.randn(n, d)
    table, products = _fit_both_ways(
        X, neighborhood_size=k, n_neighbors=3, false_similar_rate=rates[0],
        false_dissimilar_rate=rates[1], n_pair_samples=500,
    )
    _assert_same_fit(table, products)


def test_budget_bounds_the_table(digits):
    X = digits[0][:400]
    needed = 4 * 400 * 50  # two bit matrices kept, two more while building
    for budget, built in [(0, False), (needed - 1, False), (needed, True)]:
        distiller = PairDistiller(device="cpu", random_state=0, label_cache_bytes=budget).fit(X)
        assert distiller._labeler.table_nbytes() == needed
        assert distiller._labeler.has_table is built


def test_unpickled_distiller_rebuilds_the_table_once_products_would_have_paid(digits):
    X = digits[0][:500]
    fitted = PairDistiller(device="cpu", random_state=0).fit(X)
    idx = np.arange(500)
    expected = fitted.pair_labels(idx, idx)
    restored = pickle.loads(pickle.dumps(fitted))
    labeler = restored._labeler
    assert not labeler.has_table
    small = np.arange(10)
    # 10 x 10 pairs with 36 neighbour pairs each: 3,600 products a call; 500^2 to pay.
    calls = -(-500**2 // (small.size**2 * labeler.hood.shape[1] ** 2))
    for _ in range(calls - 1):
        restored.pair_labels(small, small)
    assert not labeler.has_table
    restored.pair_labels(small, small)
    assert labeler.has_table
    np.testing.assert_array_equal(restored.pair_labels(idx, idx), expected)


def test_invalid_budget_is_rejected(digits):
    with pytest.raises(ValueError, match="label_cache_bytes"):
        PairDistiller(label_cache_bytes=-1).fit(digits[0])


@pytest.mark.parametrize(("width", "dtype"), [(6, "int16"), (200, "int32")])
def test_neighbour_pair_counts_are_exact_at_any_width(width, dtype):
    """Counts of up to width**2 neighbour pairs: past 181 x 181 they need int32."""
    import torch

    from skdistillhash._torch._labels import _count_pairs

    hit = torch.from_numpy(np.random.RandomState(0).rand(3, width, 2, width) < 0.9)
    counts = _count_pairs(hit)
    assert counts.dtype == getattr(torch, dtype)
    np.testing.assert_array_equal(counts.numpy(), hit.sum(dim=(1, 3)).numpy())
