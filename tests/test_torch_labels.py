"""The label table behind pair_labels: the same labels as products of features, within budget."""

import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skdistillhash.distill import PairDistiller


def _labels_both_ways(distiller, a, b):
    """pair_labels by blocked products (no table), then from a freshly built table."""
    labeler = distiller._labeler
    labeler.cache_bytes = 0
    products = distiller.pair_labels(a, b)
    assert labeler._cache is None
    labeler.cache_bytes = 2**40
    labeler._products = labeler.n_rows**2  # as if the calls so far had paid for it
    table = distiller.pair_labels(a, b)
    assert labeler._cache is not None
    return products, table


@pytest.mark.parametrize("strategy", ["distillhash", "ssdh"])
def test_table_labels_every_digits_pair_as_the_products_do(digits, strategy):
    X = digits[0][:700]
    distiller = PairDistiller(strategy=strategy, device="cpu", random_state=0).fit(X)
    idx = np.arange(len(X))
    products, table = _labels_both_ways(distiller, idx, idx)
    np.testing.assert_array_equal(table, products)
    assert (products > 0).any() and (products < 0).any()
    # Rectangular blocks with repeats and any order read the same table.
    rng = np.random.RandomState(0)
    a, b = rng.randint(0, len(X), 300), rng.randint(0, len(X), 77)
    np.testing.assert_array_equal(distiller.pair_labels(a, b), products[np.ix_(a, b)] * (a[:, None] != b))


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
    distiller = PairDistiller(
        neighborhood_size=k, n_neighbors=3, false_similar_rate=rates[0], false_dissimilar_rate=rates[1],
        device="cpu", random_state=0, n_pair_samples=500,
    )
    with warnings.catch_warnings():
        # Few rows shrink the neighbourhoods, odd thresholds distil no dissimilar pair.
        warnings.simplefilter("ignore", UserWarning)
        distiller.fit(X)
    idx = np.arange(n)
    products, table = _labels_both_ways(distiller, idx, idx)
    np.testing.assert_array_equal(table, products)


def test_table_is_built_once_the_products_would_have_paid_for_it(digits):
    X = digits[0][:500]
    distiller = PairDistiller(device="cpu", random_state=0).fit(X)
    labeler = distiller._labeler
    width2 = labeler.hood.shape[1] ** 2
    small = np.arange(10)
    # 10 x 10 pairs with 36 neighbour pairs each: 3,600 products a call; 500^2 to pay.
    calls = -(-500**2 // (small.size**2 * width2))
    for _ in range(calls - 1):
        distiller.pair_labels(small, small)
    assert labeler._cache is None
    distiller.pair_labels(small, small)
    assert labeler._cache is not None


def test_budget_bounds_the_table(digits):
    X = digits[0][:400]
    idx = np.arange(400)
    for budget, built in [(0, False), (2 * 400 * 50 * 2 - 1, False), (2 * 400 * 50 * 2, True)]:
        distiller = PairDistiller(device="cpu", random_state=0, label_cache_bytes=budget).fit(X)
        assert distiller._labeler.cache_nbytes() == 4 * 400 * 50
        distiller.pair_labels(idx, idx)
        distiller.pair_labels(idx, idx)
        assert (distiller._labeler._cache is not None) is built


def test_table_is_not_pickled_and_labels_survive(digits):
    X = digits[0][:300]
    distiller = PairDistiller(device="cpu", random_state=0).fit(X)
    idx = np.arange(300)
    before = distiller.pair_labels(idx, idx)
    assert distiller._labeler._cache is not None
    restored = pickle.loads(pickle.dumps(distiller))
    assert restored._labeler._cache is None
    np.testing.assert_array_equal(restored.pair_labels(idx, idx), before)


def test_invalid_budget_is_rejected(digits):
    with pytest.raises(ValueError, match="label_cache_bytes"):
        PairDistiller(label_cache_bytes=-1).fit(digits[0])
