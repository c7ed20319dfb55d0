"""_pca: principal axes at any magnitude, and the distiller's whitening."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from skdistillhash._pca import Whitening, principal_components


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    # Correlated columns of very different spreads, and one constant column.
    base = rng.randn(300, 6) * np.array([50, 10, 3, 1, 0.3, 0.1]) @ np.linalg.qr(rng.randn(6, 6))[0]
    return np.hstack([base, np.full((300, 1), 7.0)])


def test_whitening_matches_sklearns_pca(X):
    whitening = Whitening.fit(X, 4)
    ours = whitening.transform(X[:50])
    theirs = PCA(4, whiten=True, svd_solver="full").fit(X).transform(X[:50])
    # The same axes up to sign, each with unit variance on the training data.
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(whitening.transform(X).std(axis=0, ddof=1), 1.0, rtol=1e-10)
    assert whitening.n_axes == 4


def test_axes_without_variance_are_dropped(X):
    # Six varying columns and a constant one: at most 6 axes, whatever is asked.
    assert Whitening.fit(X, 32).n_axes == 6
    # An axis with 1e-14 of the first's variance is rounding noise, not an axis.
    faint = np.hstack([X[:, :6], 1e-5 * np.random.RandomState(1).randn(300, 1)])
    assert Whitening.fit(faint, 32).n_axes == 6
    assert Whitening.fit(np.ones((20, 3)), 3) is None
    # Fewer rows than columns: the rank is n - 1 after centring.
    assert Whitening.fit(X[:4], 32).n_axes == 3


@pytest.mark.parametrize("exponent", [-1000, -70, 0, 70, 1000])
def test_a_power_of_two_changes_nothing(X, exponent):
    scaled = np.ldexp(X, exponent)
    reference = Whitening.fit(X, 5).transform(X)
    np.testing.assert_array_equal(Whitening.fit(scaled, 5).transform(scaled), reference)


def test_principal_components_are_orthonormal_with_fixed_signs(X):
    Xc = X - X.mean(axis=0)
    components, variance = principal_components(Xc, 3)
    np.testing.assert_allclose(components @ components.T, np.eye(3), atol=1e-12)
    assert np.all(np.diff(variance) <= 0)
    # Each axis' largest entry is positive, so no LAPACK build flips it.
    rows = np.arange(3)
    assert np.all(components[rows, np.argmax(np.abs(components), axis=1)] > 0)
    # The wide path (an SVD) finds the same axes.
    wide, wide_variance = principal_components(Xc[:5], 3)
    narrow, narrow_variance = principal_components(np.vstack([Xc[:5]] * 2), 3)
    np.testing.assert_allclose(np.abs(wide @ narrow.T), np.eye(3), atol=1e-8)
