"""HammingNeighbors: the sklearn.neighbors API over binary codes."""

import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from _references import BACKENDS, brute_knn, brute_radius, pack
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from skdistillhash import neighbors
from skdistillhash._hamming import _numpy
from skdistillhash.metrics import mean_average_precision
from skdistillhash.neighbors import HammingNeighbors, merge_kneighbors


@pytest.fixture(scope="module")
def data():
    """Clustered 24-bit codes: many ties, labels that follow the clusters."""
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 2, (4, 24))
    y = rng.integers(0, 4, 300)
    bits = (centres[y] ^ (rng.random((300, 24)) < 0.15)).astype(np.uint8)
    return bits[:250], y[:250], bits[250:], y[250:]


@pytest.mark.parametrize("backend", BACKENDS)
def test_kneighbors_exact_and_identical_across_backends(data, backend):
    X, _, Q, _ = data
    nn = HammingNeighbors(n_neighbors=15, backend=backend).fit(X)
    dist, idx = nn.kneighbors(Q)
    ref_dist, ref_idx = brute_knn(Q, X, 15)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)
    assert dist.dtype == np.int32 and idx.dtype == np.int64
    np.testing.assert_array_equal(nn.kneighbors(Q, 3, return_distance=False), ref_idx[:, :3])


@pytest.mark.parametrize("backend", BACKENDS)
def test_kneighbors_without_queries_excludes_self(data, backend):
    X = data[0]
    dist, idx = HammingNeighbors(n_neighbors=5, backend=backend).fit(X).kneighbors()
    ref_dist, ref_idx = brute_knn(X, X, 5, exclude_self=True)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)


def test_self_exclusion_with_many_duplicates():
    X = np.zeros((6, 8), dtype=np.uint8)  # all identical: self is never in a top-2
    idx = HammingNeighbors(n_neighbors=2).fit(X).kneighbors(return_distance=False)
    expected = [[1, 2], [0, 2], [0, 1], [0, 1], [0, 1], [0, 1]]
    np.testing.assert_array_equal(idx, expected)


def test_agrees_with_sklearn_hamming_neighbours(data):
    X, _, Q, _ = data
    dist, _ = HammingNeighbors(n_neighbors=10).fit(X).kneighbors(Q)
    sk = NearestNeighbors(n_neighbors=10, metric="hamming", algorithm="brute").fit(X)
    sk_dist, _ = sk.kneighbors(Q)
    np.testing.assert_allclose(sk_dist * X.shape[1], dist)


def test_layouts_equivalent(data):
    X, y, Q, _ = data
    ref = HammingNeighbors().fit(X, y)
    for fit_X, query, packed in [
        (X.astype(bool), Q.astype(bool), False),
        (2 * X.astype(np.int8) - 1, 2.0 * Q - 1, False),
        (pack(X), pack(Q), True),
    ]:
        nn = HammingNeighbors(packed=packed).fit(fit_X, y)
        np.testing.assert_array_equal(nn.codes_, ref.codes_)
        for a, b in zip(nn.kneighbors(query), ref.kneighbors(Q)):
            np.testing.assert_array_equal(a, b)
    packed = HammingNeighbors(packed=True).fit(pack(X))
    assert packed.n_bits_ == 24 and packed.n_features_in_ == 3
    assert ref.n_bits_ == 24 and ref.n_features_in_ == 24 and ref.n_samples_fit_ == 250


@pytest.mark.parametrize("backend", BACKENDS)
def test_radius_neighbors(data, backend):
    X, _, Q, _ = data
    nn = HammingNeighbors(radius=3, backend=backend).fit(X)
    dist, idx = nn.radius_neighbors(Q)
    assert dist.dtype == object and idx.dtype == object and len(idx) == len(Q)
    for d, i, (ref_d, ref_i) in zip(dist, idx, brute_radius(Q, X, 3), strict=True):
        np.testing.assert_array_equal(i, ref_i)
        np.testing.assert_array_equal(d, ref_d)
    idx_only = nn.radius_neighbors(Q, radius=1.7, return_distance=False)
    for i, (_, ref_i) in zip(idx_only, brute_radius(Q, X, 1), strict=True):
        np.testing.assert_array_equal(i, ref_i)


def test_radius_neighbors_without_queries_excludes_self(data):
    X = data[0]
    dist, idx = HammingNeighbors(radius=2).fit(X).radius_neighbors()
    reference = brute_radius(X, X, 2, exclude_self=True)
    for row, (d, i, (ref_d, ref_i)) in enumerate(zip(dist, idx, reference, strict=True)):
        assert row not in i
        np.testing.assert_array_equal(i, ref_i)
        np.testing.assert_array_equal(d, ref_d)


def test_multi_index_hashing_path_matches_scan(monkeypatch, data):
    X, _, Q, _ = data
    nn = HammingNeighbors(radius=4, backend="numpy").fit(X)
    scan = nn.radius_neighbors(Q)
    monkeypatch.setattr("skdistillhash.neighbors.prefers_mih", lambda *args: True)
    mih = nn.radius_neighbors(Q)
    assert nn._mih is not None
    for a, b in zip(mih, scan):
        for row_a, row_b in zip(a, b):
            np.testing.assert_array_equal(row_a, row_b)


def test_graphs(data):
    X, _, Q, _ = data
    nn = HammingNeighbors(n_neighbors=4, radius=2).fit(X)
    dist, idx = nn.kneighbors(Q)
    g = nn.kneighbors_graph(Q, mode="distance")
    assert sp.issparse(g) and g.format == "csr" and g.shape == (len(Q), len(X))
    np.testing.assert_array_equal(g.indices.reshape(-1, 4), idx)
    np.testing.assert_array_equal(g.data.reshape(-1, 4), dist)  # explicit zeros kept
    c = nn.kneighbors_graph(mode="connectivity")
    assert c.shape == (len(X), len(X)) and c.diagonal().sum() == 0
    np.testing.assert_array_equal(c.sum(axis=1), 4)
    r = nn.radius_neighbors_graph(Q, mode="distance")
    rd, ri = nn.radius_neighbors(Q)
    np.testing.assert_array_equal(r.indptr, np.r_[0, np.cumsum([len(i) for i in ri])])
    np.testing.assert_array_equal(r.data, np.concatenate(list(rd)))
    with pytest.raises(ValueError, match="mode"):
        nn.kneighbors_graph(Q, mode="weights")


def test_predict_majority_vote_ties_to_smallest_label():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    nn = HammingNeighbors(n_neighbors=2).fit(X, ["b", "a", "b", "c"])
    # [0, 0]: neighbours 0 ("b") and 1 ("a"): a tie, smallest label wins.
    # [1, 1]: neighbours 3 ("c") and 1 ("a", distance 1, index before 2).
    np.testing.assert_array_equal(nn.predict([[0, 0], [1, 1]]), ["a", "a"])
    nn.set_params(n_neighbors=3).fit(X, ["b", "a", "b", "c"])
    np.testing.assert_array_equal(nn.predict([[0, 0]]), ["b"])


def test_column_of_labels_is_class_labels(data):
    # type_of_target reads a column vector as classes: predict and score agree.
    X, y, Q, yq = data
    ref = HammingNeighbors(n_neighbors=10).fit(X, y)
    nn = HammingNeighbors(n_neighbors=10).fit(X, y[:, None])
    assert nn.y_.shape == (len(X),)
    np.testing.assert_array_equal(nn.predict(Q), ref.predict(Q))
    assert nn.score(Q, yq[:, None]) == nn.score(Q, yq) == ref.score(Q, yq)
    assert nn.score(Q, yq) == mean_average_precision(Q, X, yq, y, k=10)


def test_multilabel_indicator_labels(data):
    X, y, Q, yq = data
    rng = np.random.default_rng(1)
    # Label 0 follows the clusters, the others are noise.
    Y = np.column_stack([y < 2, rng.random((len(X), 3)) < 0.4]).astype(np.int64)
    Yq = np.column_stack([yq < 2, rng.random((len(Q), 3)) < 0.4]).astype(np.int64)
    nn = HammingNeighbors(n_neighbors=6).fit(X, Y)
    pred = nn.predict(Q)
    assert pred.shape == Yq.shape and set(np.unique(pred)) <= {0, 1}
    # A label is predicted when more than half of the neighbours carry it.
    idx = nn.kneighbors(Q, return_distance=False)
    np.testing.assert_array_equal(pred, (Y[idx].sum(axis=1) > 3).astype(np.int64))
    assert nn.score(Q, Yq) == mean_average_precision(Q, X, Yq, Y, k=6)
    sparse = HammingNeighbors(n_neighbors=6).fit(X, sp.csr_matrix(Y))
    np.testing.assert_array_equal(sparse.predict(Q), pred)
    with pytest.raises(ValueError, match="y holds class labels.*multi-label indicator"):
        nn.score(Q, yq)
    with pytest.raises(ValueError, match="y holds a multi-label indicator.*with class labels"):
        ref = HammingNeighbors().fit(X, y)
        ref.score(Q, Yq)


def test_multioutput_class_labels_are_rejected(data):
    X, y, Q, _ = data
    nn = HammingNeighbors().fit(X, y)
    before = nn.predict(Q)
    with pytest.raises(ValueError, match="y has 2 columns, so it must be a multi-label"):
        nn.fit(X, np.column_stack([y, y % 2]))
    np.testing.assert_array_equal(nn.predict(Q), before)  # the failed fit changed nothing


def test_predict_and_score_need_labels(data):
    X, _, Q, yq = data
    nn = HammingNeighbors().fit(X)
    with pytest.raises(ValueError, match="fitted without labels.*predict"):
        nn.predict(Q)
    with pytest.raises(ValueError, match="fitted without labels.*score"):
        nn.score(Q, yq)


def test_score_is_map_at_n_neighbors(data):
    X, y, Q, yq = data
    nn = HammingNeighbors(n_neighbors=20).fit(X, y)
    expected = mean_average_precision(Q, X, yq, y, k=20)
    assert nn.score(Q, yq) == pytest.approx(expected)
    assert 0.5 < nn.score(Q, yq) <= 1


@pytest.mark.parametrize("k", [None, 1, 37])
@pytest.mark.parametrize("ties", ["index", "average"])
def test_map_score_is_the_metric_against_the_database(data, k, ties):
    X, y, Q, yq = data
    nn = HammingNeighbors(packed=True).fit(np.packbits(X, axis=1, bitorder="little"), y)
    queries = np.packbits(Q, axis=1, bitorder="little")
    expected = mean_average_precision(Q, X, yq, y, k=k, ties=ties)
    assert nn.map_score(queries, yq, k=k, ties=ties) == expected
    with pytest.raises(ValueError, match=f"k={len(X) + 1} exceeds the database size"):
        nn.map_score(queries, yq, k=len(X) + 1)


def test_pipeline_and_grid_search(data):
    X, y, Q, yq = data
    signs = 2.0 * np.vstack([X, Q]) - 1  # float features whose signs are the codes
    pipe = make_pipeline(FunctionTransformer(lambda Z: Z > 0), HammingNeighbors(n_neighbors=5))
    pipe.fit(signs[:250], y)
    np.testing.assert_array_equal(
        pipe.predict(signs[250:]), HammingNeighbors(n_neighbors=5).fit(X, y).predict(Q)
    )
    search = GridSearchCV(pipe, {"hammingneighbors__n_neighbors": [1, 10]}, cv=3)
    search.fit(signs[:250], y)
    assert search.best_params_["hammingneighbors__n_neighbors"] in (1, 10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_pickle_round_trip_rebuilds_index(tmp_path, data, backend):
    X, y, Q, _ = data
    nn = HammingNeighbors(backend=backend, radius=3).fit(X, y)
    index = nn._index
    joblib.dump(nn, tmp_path / "nn.joblib")
    assert nn._index is index  # pickling leaves the live estimator's index alone
    loaded = joblib.load(tmp_path / "nn.joblib")
    assert getattr(loaded, "_index", None) is None
    for a, b in zip(loaded.kneighbors(Q), nn.kneighbors(Q)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(nn)).predict(Q), nn.predict(Q))


@pytest.mark.parametrize(
    "bad, match",
    [
        ([[0, 2, 1]], "must hold bits"),
        ([[0.0, np.nan, 1.0]], "NaN"),
        ([[0.0, np.inf, 1.0]], "infinity"),
        ([["a", "b"]], "numeric or bool"),
    ],
)
def test_fit_rejects_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        HammingNeighbors().fit(bad)


def test_packed_input_must_be_uint8():
    with pytest.raises(ValueError, match="packed uint8"):
        HammingNeighbors(packed=True).fit(np.zeros((3, 2), dtype=np.int64))


def test_query_validation(data):
    X, _, Q, _ = data
    nn = HammingNeighbors().fit(X)
    with pytest.raises(ValueError, match="X has 3 features, but HammingNeighbors is expecting 24"):
        nn.kneighbors(pack(Q))  # packed codes given to a bit-matrix index
    with pytest.raises(ValueError, match="must hold bits"):
        nn.kneighbors(Q * 3)
    with pytest.raises(ValueError, match="NaN"):
        nn.radius_neighbors(np.full((1, 24), np.nan))
    packed = HammingNeighbors(packed=True).fit(pack(X))
    with pytest.raises(ValueError, match="X has 24 features.*expecting 3.*bytes"):
        packed.kneighbors(Q)


def test_neighbour_count_and_radius_errors(data):
    X, _, Q, _ = data
    nn = HammingNeighbors().fit(X[:5])
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit.*6.*5"):
        nn.kneighbors(Q, n_neighbors=6)
    nn.kneighbors(Q, n_neighbors=5)
    with pytest.raises(ValueError, match="n_neighbors < n_samples_fit when B is None"):
        nn.kneighbors(n_neighbors=5)
    with pytest.raises(ValueError, match="n_neighbors > 0"):
        nn.kneighbors(Q, n_neighbors=0)
    with pytest.raises(TypeError, match="integer"):
        nn.kneighbors(Q, n_neighbors=2.5)
    for radius in (-1, np.nan):
        with pytest.raises(ValueError, match="radius must be a number >= 0"):
            nn.radius_neighbors(Q, radius=radius)
    with pytest.raises(ValueError, match="'radius' parameter of HammingNeighbors"):
        HammingNeighbors(radius=-1).fit(X)
    with pytest.raises(ValueError, match="'backend' parameter of HammingNeighbors"):
        HammingNeighbors(backend="annoy").fit(X)


def _fitted_state(nn):
    return {name: value for name, value in vars(nn).items() if name.endswith("_")}


def _assert_same_state(nn, state, index):
    assert _fitted_state(nn).keys() == state.keys()
    for name, value in state.items():
        np.testing.assert_array_equal(getattr(nn, name), value)
    assert nn._index is index


def _faiss_missing(request):
    request.getfixturevalue("no_faiss")
    return ImportError


def _interrupted(request):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    request.getfixturevalue("monkeypatch").setattr(neighbors, "make_index", interrupt)
    return KeyboardInterrupt


@pytest.mark.parametrize("break_index", [_faiss_missing, _interrupted])
def test_refit_failing_in_index_build_keeps_previous_fit(request, monkeypatch, data, break_index):
    X, y, Q, yq = data
    nn = HammingNeighbors(n_neighbors=5, backend="numpy").fit(X, y)
    answers = nn.kneighbors(Q), nn.predict(Q), nn.score(Q, yq)
    state, index = _fitted_state(nn), nn._index
    error = break_index(request)
    with pytest.raises(error):
        nn.set_params(backend="faiss").fit(1 - X[:100], (y[:100] + 1) % 4)
    _assert_same_state(nn, state, index)
    monkeypatch.undo()
    for a, b in zip(answers[0], nn.kneighbors(Q)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(nn.predict(Q), answers[1])
    assert nn.score(Q, yq) == answers[2]


def test_refit_failing_in_validation_keeps_previous_fit():
    rng = np.random.default_rng(0)
    B = rng.integers(0, 2, (50, 16))
    nn = HammingNeighbors(n_neighbors=3).fit(B, rng.integers(0, 3, 50))
    state, index = _fitted_state(nn), nn._index
    answers = nn.kneighbors(B[:5])
    # validate_data accepts the array (8 columns) before the bit check fails.
    with pytest.raises(ValueError, match="must hold bits"):
        nn.fit(rng.integers(0, 3, (50, 8)))
    _assert_same_state(nn, state, index)
    assert nn.n_features_in_ == 16
    for a, b in zip(answers, nn.kneighbors(B[:5])):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="NaN"):
        nn.fit(np.full((4, 8), np.nan))
    _assert_same_state(nn, state, index)


def test_n_jobs_reaches_the_index(monkeypatch, data):
    X, _, Q, _ = data
    with pytest.raises(ValueError, match="'n_jobs' parameter of HammingNeighbors"):
        HammingNeighbors(n_jobs=0).fit(X)
    # How each backend spends n_jobs is tested in test_hamming.py.
    make_index, built = neighbors.make_index, []

    def recording(backend, codes, n_jobs):
        built.append(n_jobs)
        return make_index(backend, codes, n_jobs)

    monkeypatch.setattr(neighbors, "make_index", recording)
    nn = HammingNeighbors(n_neighbors=5).fit(X)
    reference = nn.kneighbors(Q)
    for a, b in zip(nn.set_params(n_jobs=2).fit(X).kneighbors(Q), reference):
        np.testing.assert_array_equal(a, b)
    assert built == [None, 2]


def test_n_jobs_and_backend_set_after_fit_reach_the_search(monkeypatch, no_faiss, data):
    # Reported: the index kept the n_jobs and backend of the fit, although
    # n_jobs is documented as resolved at each query.
    X, _, Q, _ = data
    nn = HammingNeighbors(n_neighbors=5, backend="numpy").fit(X)
    reference = nn.kneighbors(Q)
    seen = []
    resolve = _numpy.effective_n_jobs
    monkeypatch.setattr(_numpy, "effective_n_jobs", lambda n_jobs: seen.append(n_jobs) or resolve(n_jobs))
    for a, b in zip(nn.set_params(n_jobs=2).kneighbors(Q), reference):
        np.testing.assert_array_equal(a, b)
    assert seen and set(seen) == {2}
    for a, b in zip(nn.set_params(backend="torch").kneighbors(Q), reference):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ImportError, match=r"pip install skdistillhash\[faiss\]"):
        nn.set_params(backend="faiss").kneighbors(Q)


@pytest.mark.parametrize("backend", BACKENDS)
def test_packed_set_after_fit_is_refused_on_every_backend(data, backend):
    # Reported: fitted packed on 16-bit codes, then packed=False: 2-bit queries
    # passed and numpy answered wrong distances (faiss: a bare AssertionError,
    # torch: a shape error).
    X, _, Q, _ = data
    nn = HammingNeighbors(n_neighbors=3, packed=True, backend=backend).fit(pack(X))
    message = "packed=False was set after fit, but this HammingNeighbors was fitted with packed=True"
    with pytest.raises(ValueError, match=message):
        nn.set_params(packed=False).kneighbors(Q[:, :3])
    with pytest.raises(ValueError, match=message):
        nn.radius_neighbors(Q[:, :3])
    # Set back, the queries are read as fitted.
    dist, idx = nn.set_params(packed=True).kneighbors(pack(Q))
    np.testing.assert_array_equal(idx, brute_knn(Q, X, 3)[1])
    # The other way round.
    bits = HammingNeighbors(n_neighbors=3, backend=backend).fit(X).set_params(packed=True)
    with pytest.raises(ValueError, match="packed=True was set after fit, .* fitted with packed=False"):
        bits.kneighbors(pack(Q))


def test_faiss_backend_without_faiss(no_faiss, data):
    X, _, Q, _ = data
    with pytest.raises(ImportError, match=r"pip install skdistillhash\[faiss\]"):
        HammingNeighbors(backend="faiss").fit(X)
    # The default backend is there without it.
    dist, idx = HammingNeighbors(n_neighbors=5).fit(X).kneighbors(Q)
    ref_dist, ref_idx = brute_knn(Q, X, 5)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(dist, ref_dist)


# sklearn's common checks that HammingNeighbors fails only because they fit on
# floats (PER_ESTIMATOR_XFAIL_CHECKS in test_common.py), asked again on bits.
# Further up: check_estimators_pickle (test_pickle_round_trip_rebuilds_index),
# check_estimators_nan_inf and check_dtype_object (test_fit_rejects_bad_input),
# check_n_features_in* (test_query_validation), check_pipeline_consistency
# (test_pipeline_and_grid_search).


# check_estimators_dtypes
@pytest.mark.parametrize("dtype", [bool, np.uint8, np.int8, np.int64, np.float32, np.float64])
def test_any_numeric_bit_dtype(data, dtype):
    X, y, Q, _ = data
    ref = HammingNeighbors().fit(X, y)
    nn = HammingNeighbors().fit(X.astype(dtype), y)
    np.testing.assert_array_equal(nn.kneighbors(Q.astype(dtype))[1], ref.kneighbors(Q)[1])


# check_estimators_fit_returns_self, check_fit_idempotent,
# check_estimators_overwrite_params and check_dont_overwrite_parameters
def test_fit_is_idempotent_and_leaves_params_and_input_alone(data):
    X, y, Q, _ = data
    X_copy = X.copy()
    nn = HammingNeighbors(n_neighbors=7)
    params = nn.get_params()
    assert nn.fit(X, y) is nn
    first = nn.kneighbors(Q)
    nn.fit(X, y)
    for a, b in zip(first, nn.kneighbors(Q)):
        np.testing.assert_array_equal(a, b)
    assert nn.get_params() == params
    np.testing.assert_array_equal(X, X_copy)


# check_methods_subset_invariance and check_methods_sample_order_invariance
def test_query_subsets_and_order_do_not_matter(data):
    X, y, Q, _ = data
    nn = HammingNeighbors().fit(X, y)
    perm = np.random.default_rng(0).permutation(len(Q))
    np.testing.assert_array_equal(nn.predict(Q[perm]), nn.predict(Q)[perm])
    np.testing.assert_array_equal(nn.predict(Q[:7]), nn.predict(Q)[:7])


# check_readonly_memmap_input and check_f_contiguous_array_estimator
def test_readonly_and_fortran_inputs(tmp_path, data):
    X, y, Q, _ = data
    ref = HammingNeighbors().fit(X, y).predict(Q)
    path = tmp_path / "X.npy"
    np.save(path, X)
    readonly = np.load(path, mmap_mode="r")
    pred = HammingNeighbors().fit(readonly, y).predict(np.asfortranarray(Q))
    np.testing.assert_array_equal(pred, ref)


# check_fit2d_1sample, check_fit2d_1feature and check_fit2d_predict1d
def test_one_sample_one_bit():
    nn = HammingNeighbors(n_neighbors=1).fit([[1]])
    dist, idx = nn.kneighbors([[0], [1]])
    np.testing.assert_array_equal(dist, [[1], [0]])
    np.testing.assert_array_equal(idx, [[0], [0]])
    with pytest.raises(ValueError, match="2-D|Expected 2D"):
        nn.kneighbors([1, 0])


# check_estimators_unfitted (which passes) calls predict only: kneighbors too.
def test_not_fitted():
    with pytest.raises(NotFittedError):
        HammingNeighbors().kneighbors([[0, 1]])


def _codes(kind, n, n_bits, rng):
    """Uniform random bits, or bit-flipped copies of five centres (many ties)."""
    if kind == "random":
        return rng.integers(0, 2, (n, n_bits))
    centres = rng.integers(0, 2, (5, n_bits))
    return centres[rng.integers(0, 5, n)] ^ (rng.random((n, n_bits)) < 0.1)


# Each backend's scan is checked in test_radius_neighbors; here the default one.
@pytest.mark.parametrize("kind", ["random", "clustered"])
def test_radius_algorithms_give_identical_answers(kind):
    rng = np.random.default_rng(0)
    for n_bits in (13, 64, 100):  # a partial byte, one word, several words
        codes = _codes(kind, 340, n_bits, rng)
        X, Q = codes[:300], codes[300:]
        fitted = [HammingNeighbors(algorithm=algorithm).fit(X)
                  for algorithm in ("auto", "mih", "brute")]
        for radius in (0, 2, 5, n_bits // 2, n_bits):
            for queries, reference in [
                (Q, brute_radius(Q, X, radius)),
                (None, brute_radius(X, X, radius, exclude_self=True)),
            ]:
                # Rows compared whole: their lengths, then every entry in order.
                ref_d, ref_i = (np.concatenate(part) for part in zip(*reference))
                for nn in fitted:
                    dist, idx = nn.radius_neighbors(queries, radius)
                    assert [len(i) for i in idx] == [len(i) for _, i in reference]
                    np.testing.assert_array_equal(np.concatenate(idx), ref_i)
                    np.testing.assert_array_equal(np.concatenate(dist), ref_d)


def test_algorithm_chooses_the_radius_search(monkeypatch, data):
    X, _, Q, _ = data
    reference = brute_radius(Q, X, 2)
    # Where the cost model favours MIH, only "brute" and the torch backend scan.
    monkeypatch.setattr(neighbors, "prefers_mih", lambda *args: True)
    for algorithm, backend, uses_mih in [
        ("auto", "numpy", True), ("auto", "torch", False), ("brute", "numpy", False),
        ("mih", "torch", True),
    ]:
        nn = HammingNeighbors(algorithm=algorithm, backend=backend).fit(X)
        for i, (_, ref_i) in zip(nn.radius_neighbors(Q, return_distance=False), reference,
                                 strict=True):
            np.testing.assert_array_equal(i, ref_i)
        assert (nn._mih is not None) is uses_mih
    # Where it favours a scan, "mih" still uses MIH.
    monkeypatch.setattr(neighbors, "prefers_mih", lambda *args: False)
    nn = HammingNeighbors(algorithm="mih").fit(X)
    for i, (_, ref_i) in zip(nn.radius_neighbors(Q, return_distance=False), reference,
                             strict=True):
        np.testing.assert_array_equal(i, ref_i)
    assert nn._mih is not None


def test_algorithm_leaves_kneighbors_to_the_backend(data):
    X, _, Q, _ = data
    nn = HammingNeighbors(n_neighbors=5, algorithm="mih").fit(X)
    for a, b in zip(nn.kneighbors(Q), brute_knn(Q, X, 5), strict=True):
        np.testing.assert_array_equal(a, b)
    assert nn._mih is None
    with pytest.raises(ValueError, match="'algorithm' parameter of HammingNeighbors"):
        HammingNeighbors(algorithm="kd_tree").fit(X)


def test_merge_kneighbors_orders_by_distance_then_index():
    answers = [
        (np.array([[1, 2, 2]]), np.array([[7, 3, 9]])),
        (np.array([[0, 2]]), np.array([[12, 4]])),
        (np.array([[2]]), np.array([[1]])),
    ]
    dist, idx = merge_kneighbors(answers, 4)
    np.testing.assert_array_equal(dist, [[0, 1, 2, 2]])
    np.testing.assert_array_equal(idx, [[12, 7, 1, 3]])
    # A partial merge keeps everything its answers hold.
    assert merge_kneighbors(answers, 7)[1].tolist() == [[12, 7, 1, 3, 4, 9]]
    with pytest.raises(ValueError, match="'n_neighbors' parameter of merge_kneighbors"):
        merge_kneighbors(answers, 0)


@pytest.mark.parametrize(
    "answers, n_neighbors, match",
    [
        # Reported: numpy's concatenate error, a slicing TypeError, True taken as 1.
        ([], 2, "answers is empty"),
        ([(np.array([[1]]), np.array([[0]]))], 2.0, "'n_neighbors' parameter .*not a bool.*Got (2.0|True) instead"),
        ([(np.array([[1]]), np.array([[0]]))], True, "'n_neighbors' parameter .*not a bool.*Got (2.0|True) instead"),
        ("ab", 1, "'answers' parameter"),
        ([np.array([[1]])], 1, r"answers\[0\] must be a \(dist, idx\) pair"),
        ([(np.array([1]), np.array([0]))], 1, r"one shape \(n_queries, k\)"),
        ([(np.array([[1, 2]]), np.array([[0]]))], 1, r"shapes \(1, 2\) and \(1, 1\)"),
        ([(np.array([[1.5]]), np.array([[0]]))], 1, "integer distances"),
        ([(np.array([[1]]), np.array([[0]])), (np.array([[1], [2]]), np.array([[3], [4]]))], 1,
         r"answers\[1\] answers 2 queries and answers\[0\] 1"),
    ],
)
def test_merge_kneighbors_refuses_what_is_not_an_answer(answers, n_neighbors, match):
    with pytest.raises(ValueError, match=match):
        merge_kneighbors(answers, n_neighbors)


@given(st.integers(0, 2**31 - 1), st.integers(1, 6), st.integers(1, 40))
@settings(max_examples=30, deadline=None)
def test_merged_shards_answer_like_one_index(seed, n_shards, k):
    rng = np.random.default_rng(seed)
    B = rng.integers(0, 2, size=(40, 5))  # 5 bits: ties everywhere
    Q = rng.integers(0, 2, size=(3, 5))
    bounds = np.unique(np.concatenate([[0, 40], rng.integers(1, 40, n_shards - 1)]))
    answers = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        shard = HammingNeighbors(n_neighbors=min(k, stop - start), backend="numpy").fit(B[start:stop])
        dist, idx = shard.kneighbors(Q)
        answers.append((dist, idx + start))
    expected = HammingNeighbors(n_neighbors=k, backend="numpy").fit(B).kneighbors(Q)
    for got, want in zip(merge_kneighbors(answers, k), expected):
        np.testing.assert_array_equal(got, want)
