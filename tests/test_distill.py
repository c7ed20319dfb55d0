"""PairDistiller: graph invariants, consistency of its three views, quality, errors.

sklearn's common checks run in tests/test_common.py.
"""

import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.decomposition import PCA
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.model_selection import GridSearchCV

from skdistillhash.benchmark import knn_pair_anchor, random_pair_anchor
from skdistillhash.distill import PairDistiller

STRATEGIES = ["distillhash", "ssdh"]


@pytest.fixture(scope="module", params=STRATEGIES)
def fitted(request, digits):
    X, y = digits
    return PairDistiller(strategy=request.param, device="cpu", random_state=0).fit(X), X, y


def test_graph_is_a_symmetric_signed_csr_without_diagonal(fitted):
    distiller, X, _ = fitted
    graph = distiller.graph_
    assert sp.isspmatrix_csr(graph) and graph.dtype == np.int8
    assert graph.shape == (X.shape[0], X.shape[0])
    assert set(np.unique(graph.data)) == {-1, 1}
    assert (graph != graph.T).nnz == 0
    assert not graph.diagonal().any()
    # neighbors_ holds each sample's n_neighbors nearest others.
    assert distiller.neighbors_.shape == (X.shape[0], 20)
    assert not (distiller.neighbors_ == np.arange(X.shape[0])[:, None]).any()


def test_transform_of_training_data_is_the_graph(fitted):
    distiller, X, _ = fitted
    graph = distiller.graph_
    for out in (distiller.transform(), distiller.transform(X), distiller.transform(X.astype(np.float64))):
        assert (out != graph).nnz == 0
    # Rows equal to training samples, in any order, are looked up.
    rows = np.array([5, 3, 900, 3])
    assert (distiller.transform(X[rows]) != graph[rows]).nnz == 0


def test_without_whitening_rows_are_looked_up_at_any_scale(digits):
    X, _ = digits
    distiller = PairDistiller(whiten_components=None, device="cpu", random_state=0).fit(X)
    assert distiller.n_whitened_axes_ == 0
    # Cosine of the features as given does not see a row's scale.
    rows = np.array([5, 3, 900, 3])
    assert (distiller.transform(2.5 * X[rows]) != distiller.graph_[rows]).nnz == 0


def compared_features(distiller, X_train, X):
    """The features the distiller compares, from sklearn's PCA: ``X`` whitened
    on the axes of ``X_train``, or as given (cosine ignores axis signs)."""
    if not distiller.n_whitened_axes_:
        return X
    pca = PCA(distiller.n_whitened_axes_, whiten=True, svd_solver="full").fit(X_train.astype(np.float64))
    return pca.transform(np.asarray(X, dtype=np.float64))


def test_pair_labels_agree_with_graph_everywhere(fitted):
    distiller, X, _ = fitted
    idx = np.arange(X.shape[0])
    labels = distiller.pair_labels(idx, idx)
    assert labels.dtype == np.int8 and labels.shape == (X.shape[0],) * 2
    dense = distiller.graph_.toarray()
    np.testing.assert_array_equal(labels[dense != 0], dense[dense != 0])
    np.testing.assert_array_equal(labels, labels.T)
    assert not labels.diagonal().any()
    # Blocks of any shape cut from the full matrix.
    a, b = np.array([7, 0, 1500, 7]), np.array([3, 1796, 8])
    np.testing.assert_array_equal(distiller.pair_labels(a, b), labels[np.ix_(a, b)])
    assert distiller.pair_labels([], b).shape == (0, 3)
    # A training batch (the same rows on both sides, with a repeat) takes the
    # symmetric path: it must equal the general one.
    batch = np.random.default_rng(1).choice(X.shape[0], 301)
    batch_labels = distiller.pair_labels(batch, batch)
    np.testing.assert_array_equal(batch_labels, labels[np.ix_(batch, batch)])
    np.testing.assert_array_equal(batch_labels, distiller.pair_labels(batch, batch[::-1])[:, ::-1])


def test_new_rows_are_labelled_row_by_row(fitted):
    distiller, X, _ = fitted
    rng = np.random.default_rng(0)
    new = X[:60] + rng.uniform(0, 0.05, X[:60].shape).astype(np.float32)
    out = distiller.transform(new)
    assert out.shape == (60, X.shape[0]) and out.dtype == np.int8
    assert (out.data > 0).any() and (out.data < 0).any()
    # No row depends on the others: batch by batch gives the same matrix.
    parts = sp.vstack([distiller.transform(new[i : i + 7]) for i in range(0, 60, 7)])
    assert (parts != out).nnz == 0
    # Similar entries are among the new point's nearest training samples
    # (a little slack: the distiller's features are rounded).
    sims = cosine_similarity(compared_features(distiller, X, new), compared_features(distiller, X, X))
    nearest = np.argsort(-sims, axis=1)[:, : distiller.n_neighbors + 3]
    positive = sp.csr_matrix(out > 0)
    for i in range(60):
        cols = positive.indices[positive.indptr[i] : positive.indptr[i + 1]]
        assert np.isin(cols, nearest[i]).all()


def test_same_random_state_same_graph_and_blocking_does_not_matter(digits):
    X, _ = digits
    one = PairDistiller(device="cpu", random_state=3).fit(X).graph_
    two = PairDistiller(device="cpu", random_state=3, block_size=1000).fit(X).graph_
    other = PairDistiller(device="cpu", random_state=4).fit(X).graph_
    assert (one != two).nnz == 0
    # Another seed samples other pairs: other thresholds, other dissimilar pairs.
    assert (one != other).nnz > 0


def test_distilled_pairs_beat_knn_and_random_pairs_on_digits(fitted):
    distiller, X, y = fitted
    score = distiller.score(X, y)
    assert score == pytest.approx((distiller.similar_precision_ + distiller.dissimilar_precision_) / 2)
    # The kNN graph with as many pairs as the distilled similar pairs.
    _, _, knn = knn_pair_anchor(distiller, y)
    random_pairs = random_pair_anchor(y)
    # "Markedly": at least a third fewer wrong similar pairs than kNN.
    assert 1 - distiller.similar_precision_ < (1 - knn) * 2 / 3
    assert distiller.dissimilar_precision_ > random_pairs + 0.05
    assert distiller.coverage_ > 0.9


def test_score_on_other_samples_uses_pairs_among_them(fitted):
    distiller, X, y = fitted
    subset = distiller.score(X[:500], y[:500])
    assert 0.8 < subset <= 1
    # Multi-label indicators: "similar" means sharing a label.
    onehot = np.eye(10, dtype=int)[y[:500]]
    assert distiller.score(X[:500], onehot) == pytest.approx(subset)


def test_distillhash_refines_ssdh(digits):
    X, y = digits
    # The same features for both (SSDH's rule alone would compare them as given).
    params = dict(
        similar_std_factor=1.5, dissimilar_std_factor=0.5, whiten_components=32, device="cpu", random_state=0
    )
    ssdh = PairDistiller(strategy="ssdh", **params).fit(X)
    distilled = PairDistiller(**params).fit(X)
    # Same initial labels; distillation only drops pairs.
    assert distilled.similar_distance_ == ssdh.similar_distance_
    assert ((distilled.graph_ > 0) > (ssdh.graph_ > 0)).nnz == 0
    assert distilled.score(X, y) > ssdh.score(X, y)


def test_grid_search_tunes_the_thresholds(digits):
    X, y = digits
    search = GridSearchCV(
        PairDistiller(device="cpu", random_state=0),
        {"false_similar_rate": [0.0, 0.75]},
        cv=2,
    ).fit(X, y)
    assert search.best_score_ > 0.9


def test_pickle_round_trip(fitted):
    distiller, X, _ = fitted
    clone = pickle.loads(pickle.dumps(distiller))
    new = X[:20] * 0.5 + 0.1
    assert (clone.transform(new) != distiller.transform(new)).nnz == 0
    np.testing.assert_array_equal(clone.pair_labels([1, 2], [3, 4]), distiller.pair_labels([1, 2], [3, 4]))


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan], [1.0, 2.0]] * 20), "NaN"),
        (np.array([[1.0, np.inf], [1.0, 2.0]] * 20), "infinity"),
        (np.arange(40.0), "2D array"),
        (np.ones((1, 3)), "minimum of 2"),
    ],
)
def test_bad_input_is_a_clear_error(X, match):
    with pytest.raises(ValueError, match=match):
        PairDistiller(device="cpu").fit(X)


def test_fewer_rows_than_neighbours_use_every_other_row_with_a_warning():
    X = np.random.RandomState(0).randn(6, 3)
    with pytest.warns(UserWarning, match="n_neighbors=5 and neighborhood_size=5"):
        distiller = PairDistiller(device="cpu", random_state=0).fit(X)
    assert distiller.neighbors_.shape == (6, 5)
    # Every row's candidates are all the others, so the graph covers them.
    labels = distiller.pair_labels(np.arange(6), np.arange(6))
    assert labels.shape == (6, 6) and np.all(np.diag(labels) == 0)


def test_thresholds_in_the_wrong_order_are_an_error(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="d_l <= d_r"):
        PairDistiller(similar_std_factor=-3, dissimilar_std_factor=-3, device="cpu").fit(X)


@pytest.mark.parametrize(
    "params",
    [
        {"strategy": "knn"}, {"n_neighbors": 0}, {"false_similar_rate": 1.0}, {"metric": "euclidean"},
        {"whiten_components": 0}, {"whiten_components": "all"},
    ],
)
def test_invalid_parameters_are_rejected(params, digits):
    with pytest.raises(ValueError, match="parameter"):
        PairDistiller(**params).fit(digits[0])


def test_pair_labels_rejects_bad_indices(fitted):
    distiller, X, _ = fitted
    with pytest.raises(ValueError, match="outside"):
        distiller.pair_labels([0, X.shape[0]], [1])
    with pytest.raises(ValueError, match="integer"):
        distiller.pair_labels([0.5], [1])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_zero_rows_are_similar_to_nothing(strategy, digits):
    # A convention of cosine on the features as given (whitening centres them).
    X, _ = digits
    params = dict(strategy=strategy, whiten_components=None, device="cpu", random_state=0)
    distiller = PairDistiller(**params).fit(X)
    out = distiller.transform(np.zeros((2, X.shape[1])))
    assert not (out.data > 0).any()
    Xz = np.vstack([X[:300], np.zeros((3, X.shape[1]), dtype=X.dtype)])
    zero_fit = PairDistiller(**params).fit(Xz)
    assert not (zero_fit.graph_[300:] > 0).nnz
    labels = zero_fit.pair_labels(np.arange(303), np.arange(300, 303))
    assert not (labels > 0).any()


def test_score_needs_labels(fitted):
    distiller, X, _ = fitted
    with pytest.raises(ValueError, match="labels y"):
        distiller.score(X, None)


def test_speed_benchmark_smoke_run_agrees_with_faiss():
    pytest.importorskip("faiss")
    # Run as a user runs it: the script, in its own process.
    script = Path(__file__).parents[1] / "benchmarks" / "bench_distill.py"
    # 100,000 x 128 with a tiny k: about 15 s for us and 11 s for FAISS on 2 cores.
    done = subprocess.run(
        [sys.executable, str(script), "--n", "100000", "--k", "2", "--device", "cpu"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    found = re.search(
        r"recall of FAISS neighbours ([\d.]+); graph entries/sample \+1 ([\d.]+), -1 ([\d.]+)",
        done.stdout,
    )
    assert found, done.stdout
    recall, similar, dissimilar = map(float, found.groups())
    # Our kNN runs on rows rounded onto a 2**-12 grid: near-ties may swap.
    assert recall > 0.99
    assert similar > 0 and dissimilar > 0


# -- reliability ---------------------------------------------------------------


def test_failed_refit_keeps_the_previous_fit(digits, monkeypatch):
    import skdistillhash.distill as distill_module

    X = digits[0][:300]
    distiller = PairDistiller(device="cpu", random_state=0).fit(X)
    graph, labels = distiller.graph_.copy(), distiller.pair_labels(np.arange(50), np.arange(50))
    attributes = {k: v for k, v in vars(distiller).items() if k.endswith("_")}

    def unchanged():
        assert {k for k in vars(distiller) if k.endswith("_")} == set(attributes)
        assert distiller.n_features_in_ == 64 and distiller.n_samples_fit_ == 300
        assert (distiller.transform() != graph).nnz == 0
        assert (distiller.transform(X) != graph).nnz == 0
        np.testing.assert_array_equal(distiller.pair_labels(np.arange(50), np.arange(50)), labels)

    # Thresholds in the wrong order, on other data of another width.
    with pytest.raises(ValueError, match="d_l <= d_r"):
        distiller.set_params(similar_std_factor=-3, dissimilar_std_factor=-3).fit(digits[0][:200, :5])
    unchanged()
    # Bad input at validation.
    with pytest.raises(ValueError, match="NaN"):
        distiller.set_params(similar_std_factor=None, dissimilar_std_factor=None).fit(np.full((30, 3), np.nan))
    unchanged()

    # Interrupted inside the distillation of the rows.
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(distill_module.PairLabeler, "distil_rows", interrupted)
    with pytest.raises(KeyboardInterrupt):
        distiller.fit(digits[0][300:500, :32])
    unchanged()


def test_a_failed_first_fit_leaves_an_unfitted_distiller():
    distiller = PairDistiller(similar_std_factor=-3, dissimilar_std_factor=-3, device="cpu")
    with pytest.raises(ValueError, match="d_l <= d_r"):
        distiller.fit(np.random.RandomState(0).rand(50, 4))
    assert not hasattr(distiller, "n_features_in_") and not hasattr(distiller, "graph_")


@pytest.mark.parametrize("scale", [1e-200, 1e-170, 1e300, 1e-310])
def test_tiny_and_huge_rows_are_normalised_safely(digits, scale):
    X = digits[0][:300].astype(np.float64)
    reference = PairDistiller(whiten_components=None, device="cpu", random_state=0).fit(X)
    scaled = PairDistiller(whiten_components=None, device="cpu", random_state=0).fit(X * scale)
    assert scaled.graph_.nnz > 0
    assert (scaled.graph_ != reference.graph_).nnz == 0


@pytest.mark.parametrize("scale", [2.0**-1060, 2.0**-1000, 2.0**-80, 2.0**1000])
def test_whitening_is_safe_and_exact_at_any_magnitude(digits, scale):
    # Scaling by a power of two is exact, and whitening undoes it: the same
    # graph, bit for bit. 2**-1060 makes the digits subnormal (exactly), and
    # their mean loses bits there: safe, not exact.
    X = digits[0][:300].astype(np.float64)
    reference = PairDistiller(whiten_components=32, device="cpu", random_state=0).fit(X)
    scaled = PairDistiller(whiten_components=32, device="cpu", random_state=0).fit(X * scale)
    assert reference.n_whitened_axes_ == scaled.n_whitened_axes_ == 32
    assert scaled.graph_.nnz > 0
    if scale < 2.0**-1022:
        assert (scaled.graph_ != reference.graph_).nnz < 0.01 * reference.graph_.nnz
        return
    assert (scaled.graph_ != reference.graph_).nnz == 0
    np.testing.assert_array_equal(scaled.pair_labels(np.arange(300), np.arange(300)),
                                  reference.pair_labels(np.arange(300), np.arange(300)))


def test_feature_names_out_and_set_output(digits):
    X = digits[0][:120]
    distiller = PairDistiller(device="cpu", random_state=0).fit(X)
    names = distiller.get_feature_names_out()
    assert len(names) == 120 and names[0] == "pairdistiller0" and names[-1] == "pairdistiller119"
    assert distiller.set_output(transform="default") is distiller
    assert (distiller.transform(X) != distiller.graph_).nnz == 0
    distiller.set_output(transform="pandas")
    with pytest.raises(ValueError, match="Pandas output does not support sparse data"):
        distiller.transform(X)
    with pytest.raises(ValueError, match="transform must be"):
        distiller.set_output(transform="arrow")


# -- kneighbors ------------------------------------------------------------------


def _brute_cosine_neighbours(Q, X, k, *, exclude_self=False):
    """Stable sort of the exact similarities of the rounded unit rows the
    distiller searches: ties in index order."""
    from skdistillhash.distill import _unit_rows

    sims = _unit_rows(Q, 64).astype(np.float64) @ _unit_rows(X, 64).astype(np.float64).T
    if exclude_self:
        np.fill_diagonal(sims, -np.inf)
    idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return 1.0 - np.take_along_axis(sims, idx, axis=1), idx


def test_kneighbors_of_training_rows_is_the_prefix_of_neighbors(fitted):
    distiller, X, _ = fitted
    dist, idx = distiller.kneighbors()
    np.testing.assert_array_equal(idx, distiller.neighbors_[:, :20])
    assert dist.dtype == np.float64 and np.all(np.diff(dist, axis=1) >= 0)
    idx = distiller.kneighbors(n_neighbors=3, return_distance=False)
    np.testing.assert_array_equal(idx, distiller.neighbors_[:, :3])
    # The training rows are pickled with the fit: the search needs no refit.
    clone = pickle.loads(pickle.dumps(distiller))
    np.testing.assert_array_equal(clone.kneighbors(X[:50], 5)[1], distiller.kneighbors(X[:50], 5)[1])


def test_kneighbors_are_the_exact_cosine_neighbours_ties_to_the_smaller_index(digits):
    rng = np.random.default_rng(0)
    X = digits[0][:300]
    X = np.vstack([X, X[:10]])  # exact duplicates: ties at every distance
    # Small blocks: several query and database blocks, merged. The features as
    # given: the reference is cosine on them.
    distiller = PairDistiller(whiten_components=None, device="cpu", block_size=16, random_state=0).fit(X)
    Q = np.vstack([X[:10], rng.random((30, X.shape[1]))])
    dist, idx = distiller.kneighbors(Q, 12)
    ref_dist, ref_idx = _brute_cosine_neighbours(Q, X, 12)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)
    # A query equal to a duplicated row finds both copies, the smaller index first.
    np.testing.assert_array_equal(idx[:10, :2], np.c_[np.arange(10), np.arange(300, 310)])
    # The rounded rows' distances are within 2 sqrt(d) 2**-12 of the rows' own.
    exact = np.take_along_axis(1.0 - cosine_similarity(Q, X), idx, axis=1)
    np.testing.assert_allclose(dist, exact, atol=2 * np.sqrt(X.shape[1]) * 2**-12)
    # Without queries each row is left out, but not its duplicate.
    dist, idx = distiller.kneighbors(n_neighbors=12)
    ref_dist, ref_idx = _brute_cosine_neighbours(X, X, 12, exclude_self=True)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)
    np.testing.assert_array_equal(idx[:10, 0], np.arange(300, 310))


def test_whitened_kneighbors_are_the_cosine_neighbours_of_whitened_features(digits):
    X = digits[0][:400]
    distiller = PairDistiller(whiten_components=12, device="cpu", block_size=64, random_state=0).fit(X)
    assert distiller.n_whitened_axes_ == 12
    Q = X[:50] + np.random.default_rng(0).random((50, X.shape[1]))
    dist, idx = distiller.kneighbors(Q, 10)
    # Against sklearn's PCA(whiten=True): the same distances, up to the
    # rounding of the distiller's grid (so near-ties may swap).
    ref = 1.0 - cosine_similarity(compared_features(distiller, X, Q), compared_features(distiller, X, X))
    tol = 2 * np.sqrt(12) * 2**-12
    np.testing.assert_allclose(dist, np.take_along_axis(ref, idx, axis=1), atol=tol)
    np.testing.assert_allclose(dist, np.sort(ref, axis=1)[:, :10], atol=tol)
    # The training rows' own neighbours: neighbors_, found in the whitened space.
    ref_train = 1.0 - cosine_similarity(compared_features(distiller, X, X))
    np.fill_diagonal(ref_train, np.inf)
    found = np.take_along_axis(ref_train, distiller.neighbors_, axis=1)
    np.testing.assert_allclose(found, np.sort(ref_train, axis=1)[:, : found.shape[1]], atol=tol)


def test_auto_whitening_keeps_the_pairs_whose_neighbourhoods_agree(digits, monkeypatch):
    import skdistillhash.distill as distill_module

    X = digits[0][:600]
    given = PairDistiller(whiten_components=None, device="cpu", random_state=0).fit(X)
    whitened = PairDistiller(whiten_components=32, device="cpu", random_state=0).fit(X)
    n_similar = [(fit.graph_.data > 0).sum() for fit in (given, whitened)]
    # On the digits whitening breaks up the neighbourhoods: far fewer similar pairs.
    assert n_similar[1] < 0.75 * n_similar[0]
    auto = PairDistiller(device="cpu", random_state=0).fit(X)
    assert auto.n_whitened_axes_ == 0 and (auto.graph_ != given.graph_).nnz == 0
    # Where the whitened pairs are kept, they are those of whiten_components=32,
    # bit for bit: both candidates draw the same random numbers.
    monkeypatch.setattr(distill_module, "_AUTO_WHITEN_AGREEMENT", 0.0)
    auto = PairDistiller(device="cpu", random_state=0).fit(X)
    assert auto.n_whitened_axes_ == 32 and (auto.graph_ != whitened.graph_).nnz == 0
    np.testing.assert_array_equal(auto.pair_labels(np.arange(99), np.arange(99)),
                                  whitened.pair_labels(np.arange(99), np.arange(99)))
    assert (auto.transform(X[:50] + 0.5) != whitened.transform(X[:50] + 0.5)).nnz == 0
    # A RandomState instance ends where one fit leaves it.
    one, two = np.random.RandomState(5), np.random.RandomState(5)
    PairDistiller(device="cpu", random_state=one).fit(X)
    PairDistiller(whiten_components=32, device="cpu", random_state=two).fit(X)
    assert one.randint(1 << 30) == two.randint(1 << 30)


def test_auto_whitening_decides_on_a_sample_of_a_large_data_set(digits, monkeypatch):
    # Above _AUTO_DECIDE_ROWS rows the two candidates are compared on a sample
    # of that many rows, and all rows are distilled from the chosen one only.
    import skdistillhash.distill as distill_module

    X = digits[0]
    monkeypatch.setattr(distill_module, "_AUTO_DECIDE_ROWS", 500)
    distilled = []
    distil = PairDistiller._distil

    def recording(self, X, whitening, *args):
        distilled.append((len(X), whitening is not None))
        return distil(self, X, whitening, *args)

    monkeypatch.setattr(PairDistiller, "_distil", recording)
    auto = PairDistiller(device="cpu", random_state=0).fit(X)
    # The digits keep their features as given, as on all their rows.
    assert distilled == [(500, False), (500, True), (len(X), False)]
    assert auto.n_whitened_axes_ == 0 and auto.n_samples_fit_ == len(X)
    monkeypatch.setattr(distill_module, "_AUTO_WHITEN_AGREEMENT", 0.0)
    distilled.clear()
    assert PairDistiller(device="cpu", random_state=0).fit(X).n_whitened_axes_ == 32
    assert distilled == [(500, False), (500, True), (len(X), True)]
    # At most that many rows, both candidates see every row, as before.
    distilled.clear()
    PairDistiller(device="cpu", random_state=0).fit(X[:500])
    assert distilled == [(500, False), (500, True)]


def test_whitening_drops_axes_without_variance():
    rng = np.random.RandomState(0)
    # 3 informative columns, 4 constant ones: only 3 axes have variance.
    X = np.hstack([rng.randn(60, 3), np.ones((60, 4))])
    assert PairDistiller(whiten_components=5, device="cpu", random_state=0).fit(X).n_whitened_axes_ == 3
    assert PairDistiller(whiten_components=2, device="cpu", random_state=0).fit(X).n_whitened_axes_ == 2
    assert PairDistiller(strategy="ssdh", device="cpu", random_state=0).fit(X).n_whitened_axes_ == 0
    # Data without variance are compared as given: every row is the same.
    flat = PairDistiller(n_dissimilar=0, device="cpu", random_state=0).fit(np.ones((30, 3)))
    assert flat.n_whitened_axes_ == 0 and (flat.graph_.data > 0).all()


def test_kneighbors_rejects_bad_input(fitted):
    distiller, X, _ = fitted
    n = X.shape[0]
    with pytest.raises(ValueError, match="not fitted"):
        PairDistiller().kneighbors(X)
    with pytest.raises(ValueError, match=f"n_neighbors <= {n - 1}.*other than the query"):
        distiller.kneighbors(n_neighbors=n)
    with pytest.raises(ValueError, match=f"n_neighbors <= {n}, the number of training samples;"):
        distiller.kneighbors(X[:2], n_neighbors=n + 1)
    assert distiller.kneighbors(X[:2], n_neighbors=n, return_distance=False).shape == (2, n)
    with pytest.raises(ValueError, match="n_neighbors == 0, must be >= 1"):
        distiller.kneighbors(X[:2], n_neighbors=0)
    with pytest.raises(TypeError, match="n_neighbors must be an instance of int"):
        distiller.kneighbors(X[:2], n_neighbors=2.5)
    with pytest.raises(ValueError, match="X has 3 features, but PairDistiller is expecting 64"):
        distiller.kneighbors(X[:2, :3])
    with pytest.raises(ValueError, match="NaN"):
        distiller.kneighbors(np.full((1, X.shape[1]), np.nan))


def test_kneighbors_defaults_to_the_neighbours_fit_used():
    X = np.random.RandomState(0).randn(6, 3)
    with pytest.warns(UserWarning, match="n_neighbors=5"):
        distiller = PairDistiller(device="cpu", random_state=0).fit(X)
    np.testing.assert_array_equal(distiller.kneighbors(return_distance=False), distiller.neighbors_)


# -- cosine_kneighbors -----------------------------------------------------------


def test_cosine_kneighbors_is_the_exact_search_ties_to_the_smaller_index(digits):
    import torch

    from skdistillhash.distill import cosine_kneighbors

    X = digits[0][:200]
    X = np.vstack([X, 2 * X[:10]])  # the same unit rows: ties at every distance
    # A zero query is at distance 1 from every (non-negative) row: all tied.
    Q = np.vstack([X[:5], np.zeros((1, X.shape[1])), np.random.default_rng(0).random((20, X.shape[1]))])
    # Small blocks: several query and database blocks, merged.
    dist, idx = cosine_kneighbors(X, Q, n_neighbors=15, block_size=16, device="cpu")
    ref_dist, ref_idx = _brute_cosine_neighbours(Q, X, 15)
    assert dist.dtype == np.float64 and idx.dtype == np.int64
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)
    np.testing.assert_array_equal(idx[:5, :2], np.c_[np.arange(5), np.arange(200, 205)])
    np.testing.assert_array_equal(idx[5], np.arange(15))
    # queries=None: each row is left out of its own neighbours, not its copy.
    dist, idx = cosine_kneighbors(X, n_neighbors=15, block_size=16, device=torch.device("cpu"))
    ref_dist, ref_idx = _brute_cosine_neighbours(X, X, 15, exclude_self=True)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)
    assert not np.any(idx == np.arange(len(X))[:, None])
    np.testing.assert_array_equal(idx[:10, 0], np.arange(200, 210))
    # The distiller's own search on the features as given, to the bit.
    distiller = PairDistiller(whiten_components=None, device="cpu", random_state=0).fit(X)
    k = distiller.neighbors_.shape[1]
    np.testing.assert_array_equal(cosine_kneighbors(X, n_neighbors=k)[1], distiller.neighbors_)
    for ours, its in zip(cosine_kneighbors(X, Q, n_neighbors=7), distiller.kneighbors(Q, 7)):
        np.testing.assert_array_equal(ours, its)


def test_cosine_kneighbors_rejects_bad_input(digits):
    from skdistillhash.distill import cosine_kneighbors

    X = digits[0][:20]
    n = len(X)
    with pytest.raises(ValueError, match=rf"n_neighbors <= {n - 1}.*other than the query itself \(queries is None\)"):
        cosine_kneighbors(X, n_neighbors=n)
    with pytest.raises(ValueError, match=f"n_neighbors <= {n}, the number of rows of X;"):
        cosine_kneighbors(X, X[:2], n_neighbors=n + 1)
    assert cosine_kneighbors(X, X[:2], n_neighbors=n)[1].shape == (2, n)
    with pytest.raises(ValueError, match="queries has 3 features, but X has 64"):
        cosine_kneighbors(X, X[:2, :3], n_neighbors=1)
    with pytest.raises(ValueError, match="Expected 2D array"):
        cosine_kneighbors(X[0], n_neighbors=1)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        cosine_kneighbors(np.where(X == X.max(), np.nan, X), n_neighbors=1)
    with pytest.raises(ValueError, match="Input queries contains infinity"):
        cosine_kneighbors(X, np.full((1, X.shape[1]), np.inf), n_neighbors=1)
    for bad in (0, True, 2.5):
        with pytest.raises(ValueError, match="'n_neighbors' parameter of cosine_kneighbors"):
            cosine_kneighbors(X, n_neighbors=bad)
    with pytest.raises(ValueError, match="'block_size' parameter of cosine_kneighbors"):
        cosine_kneighbors(X, n_neighbors=1, block_size=0)
    with pytest.raises(ValueError, match="device must be 'auto'"):
        cosine_kneighbors(X, n_neighbors=1, device="tpu")
    with pytest.raises(RuntimeError, match="cuda:7"):
        cosine_kneighbors(X, n_neighbors=1, device="cuda:7")
