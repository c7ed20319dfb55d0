"""Tests for skdistillhash.metrics against a plain brute-force reference."""

import numpy as np
import pytest
from _references import (
    average_precision,
    brute_ball,
    brute_leave_one_out_map,
    brute_mean,
    pack,
    precision,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.sparse import csr_matrix
from scipy.stats import hypergeom
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skdistillhash import metrics
from skdistillhash.metrics import (
    _leave_one_out_map,
    make_map_scorer,
    mean_average_precision,
    precision_at_k,
    precision_recall_curve,
    precision_within_radius,
)

# --------------------------------------------------------------------------- #
# Strategies
# --------------------------------------------------------------------------- #


@st.composite
def problems(draw, max_db=8, max_bits=6):
    """Small retrieval problems with many ties; labels 1-D or multi-label."""
    n_bits = draw(st.integers(1, max_bits))
    n_q = draw(st.integers(1, 3))
    n_db = draw(st.integers(1, max_db))
    bits = st.integers(0, 1)
    Q = draw(arrays(np.uint8, (n_q, n_bits), elements=bits))
    D = draw(arrays(np.uint8, (n_db, n_bits), elements=bits))
    if draw(st.booleans()):
        ql = draw(arrays(np.int64, n_q, elements=st.integers(0, 2)))
        dl = draw(arrays(np.int64, n_db, elements=st.integers(0, 2)))
    else:
        ql = draw(arrays(np.uint8, (n_q, 3), elements=bits))
        dl = draw(arrays(np.uint8, (n_db, 3), elements=bits))
    k = draw(st.one_of(st.none(), st.integers(1, n_db)))
    return Q, D, ql, dl, k


FAST = settings(max_examples=100, deadline=None)

# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #


@FAST
@given(problems())
def test_map_matches_reference(problem):
    Q, D, ql, dl, k = problem
    score = mean_average_precision(Q, D, ql, dl, k=k)
    assert 0.0 <= score <= 1.0
    assert score == pytest.approx(brute_mean(average_precision, Q, D, ql, dl, k), abs=1e-12)


@FAST
@given(problems(max_db=6, max_bits=3))
def test_tie_average_is_mean_over_all_orderings_of_ties(problem):
    # Few bits and at most 6 items: big tie groups, at most 720 orderings,
    # and k (when drawn) often cuts a tie group.
    Q, D, ql, dl, k = problem
    score = mean_average_precision(Q, D, ql, dl, k=k, ties="average")
    assert 0.0 <= score <= 1.0
    expected = brute_mean(average_precision, Q, D, ql, dl, k, ties="average")
    assert score == pytest.approx(expected, abs=1e-12)


@FAST
@given(problems(max_db=30, max_bits=4), st.randoms(use_true_random=False))
def test_tie_average_ignores_database_order(problem, rnd):
    Q, D, ql, dl, k = problem
    perm = list(range(len(D)))
    rnd.shuffle(perm)
    before = mean_average_precision(Q, D, ql, dl, k=k, ties="average")
    after = mean_average_precision(Q, D[perm], ql, dl[perm], k=k, ties="average")
    assert after == pytest.approx(before, abs=1e-12)


@FAST
@given(problems(max_db=6, max_bits=3), st.sampled_from(["index", "average"]))
def test_precision_at_k_matches_reference(problem, ties):
    Q, D, ql, dl, k = problem
    k = len(D) if k is None else k
    score = precision_at_k(Q, D, ql, dl, k=k, ties=ties)
    expected = brute_mean(precision, Q, D, ql, dl, k, ties=ties)
    assert score == pytest.approx(expected, abs=1e-12)


@FAST
@given(problems(), st.integers(0, 8))
def test_radius_metrics_match_reference(problem, radius):
    Q, D, ql, dl, _ = problem
    n_bits = Q.shape[1]
    expected_precision, _ = brute_ball(Q, D, ql, dl, radius)
    score = precision_within_radius(Q, D, ql, dl, radius=radius)
    assert score == pytest.approx(expected_precision, abs=1e-12)

    precision, recall, radii = precision_recall_curve(Q, D, ql, dl)
    np.testing.assert_array_equal(radii, np.arange(n_bits + 1))
    expected = np.array([brute_ball(Q, D, ql, dl, r) for r in radii])
    np.testing.assert_allclose(precision, expected[:, 0], atol=1e-12)
    np.testing.assert_allclose(recall, expected[:, 1], atol=1e-12)
    assert np.all(np.diff(recall) >= 0)


@FAST
@given(problems(max_db=6, max_bits=4), st.sampled_from(["index", "average"]))
def test_leave_one_out_excludes_the_query_itself(problem, ties):
    _, D, _, dl, k = problem
    if len(D) < 2:
        return
    k = None if k is None else min(k, len(D) - 1)
    score = _leave_one_out_map(D, dl, k=k, ties=ties)
    expected = brute_leave_one_out_map(D, dl, k, ties)
    assert score == pytest.approx(expected, abs=1e-12)


@FAST
@given(problems(max_db=12, max_bits=20))
def test_packed_codes_score_like_bits(problem):
    Q, D, ql, dl, k = problem
    Qp, Dp = pack(Q), pack(D)
    for ties in ("index", "average"):
        assert mean_average_precision(
            Qp, Dp, ql, dl, k=k, ties=ties, packed=True
        ) == mean_average_precision(Q, D, ql, dl, k=k, ties=ties)
    assert precision_at_k(Qp, Dp, ql, dl, k=k or 1, packed=True) == precision_at_k(
        Q, D, ql, dl, k=k or 1
    )
    assert precision_within_radius(Qp, Dp, ql, dl, packed=True) == (
        precision_within_radius(Q, D, ql, dl)
    )
    # Packed codes do not carry n_bits: the curve runs to 8 * n_bytes and the
    # radii past the real width repeat its last point.
    precision, recall, _ = precision_recall_curve(Q, D, ql, dl)
    p_packed, r_packed, radii = precision_recall_curve(Qp, Dp, ql, dl, packed=True)
    assert len(radii) == 8 * Qp.shape[1] + 1
    n = len(precision)
    np.testing.assert_array_equal(p_packed[:n], precision)
    np.testing.assert_array_equal(r_packed[:n], recall)
    np.testing.assert_array_equal(p_packed[n:], precision[-1])


# --------------------------------------------------------------------------- #
# Examples and conventions
# --------------------------------------------------------------------------- #


def test_query_with_no_relevant_item_scores_zero_and_counts():
    D = np.array([[0, 0], [1, 1]])
    # Query 0 finds its relevant item first (AP 1); query 1 has none (AP 0).
    assert mean_average_precision([[0, 0], [0, 0]], D, [0, 5], [0, 1]) == 0.5


def test_map_at_k_normalises_by_relevant_items_in_top_k():
    D = np.array([[0, 0], [0, 1], [1, 1], [1, 1]])
    # Ranking 0, 1, 2, 3 with relevance 1, 0, 1, 1: AP@2 = 1 (one relevant in
    # top 2, found at rank 1), AP@all = (1 + 2/3 + 3/4) / 3.
    labels = [0, 1, 0, 0]
    assert mean_average_precision([[0, 0]], D, [0], labels, k=2) == 1.0
    expected = (1 + 2 / 3 + 3 / 4) / 3
    assert mean_average_precision([[0, 0]], D, [0], labels) == pytest.approx(expected)


def test_multilabel_relevance_is_a_shared_label():
    D = np.array([[0, 0], [0, 1], [1, 1]])
    db_labels = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    # The query shares label 2 with items 1 and 2 (ranks 2, 3), none with item 0.
    score = mean_average_precision([[0, 0]], D, [[0, 0, 1]], db_labels)
    assert score == pytest.approx((1 / 2 + 2 / 3) / 2)
    sparse = mean_average_precision([[0, 0]], D, csr_matrix([[0, 0, 1]]),
                                    csr_matrix(db_labels))
    assert sparse == score


def test_string_labels_and_sign_codes():
    D = np.array([[-1, -1], [1, 1], [-1, 1]])
    score = mean_average_precision([[True, True]], D, ["cat"], ["dog", "cat", "cat"])
    assert score == 1.0


def test_tie_average_straddling_k_by_hand():
    # All four items tie; two are relevant. The top 2 holds Y ~ hypergeometric
    # relevant items: Y=0 (p=1/6) scores 0; Y=2 (p=1/6) scores 1; Y=1
    # (p=4/6) scores 1 or 1/2 with equal chance. E[AP@2] = 1/6 + 4/6 * 3/4.
    D = np.zeros((4, 3), dtype=np.uint8)
    score = mean_average_precision([[0, 0, 0]], D, [1], [1, 0, 1, 0], k=2,
                                   ties="average")
    assert score == pytest.approx(1 / 6 + 4 / 6 * 3 / 4)


def test_hypergeometric_pmf_matches_scipy(monkeypatch):
    # Large tie groups, as when k cuts a group of thousands of codes at few
    # bits; the last row is a certain draw (s = n).
    n = np.array([20000, 2187, 5000, 7, 12])
    m = np.array([9000, 219, 1, 3, 5])
    s = np.array([1000, 297, 4000, 4, 12])
    y, pmf = metrics._hypergeom_pmf(n, m, s)
    assert np.array_equal(y[:, 0], np.maximum(0, s - (n - m)))
    expected = hypergeom.pmf(y, n[:, None], m[:, None], s[:, None])
    np.testing.assert_allclose(pmf, np.nan_to_num(expected), rtol=1e-9, atol=1e-300)

    # Whole MAP with k cutting large tie groups: equal to the same formula
    # evaluated with scipy's pmf point by point (the former implementation).
    def scipy_pmf(n, m, s):
        lo, hi = np.maximum(0, s - (n - m)), np.minimum(s, m)
        y = lo[:, None] + np.arange((hi - lo).max() + 1)
        pmf = hypergeom.pmf(y, n[:, None], m[:, None], s[:, None])
        return y, np.where(y <= hi[:, None], pmf, 0.0)

    rng = np.random.default_rng(6)
    Q, D = rng.integers(0, 2, (10, 6)), rng.integers(0, 2, (5000, 6))
    ql, dl = rng.integers(0, 3, 10), rng.integers(0, 3, 5000)
    fast = [mean_average_precision(Q, D, ql, dl, k=k, ties="average") for k in (100, 1000)]
    fast.append(_leave_one_out_map(D[:2000], dl[:2000], k=700, ties="average"))
    monkeypatch.setattr(metrics, "_hypergeom_pmf", scipy_pmf)
    slow = [mean_average_precision(Q, D, ql, dl, k=k, ties="average") for k in (100, 1000)]
    slow.append(_leave_one_out_map(D[:2000], dl[:2000], k=700, ties="average"))
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_one_column_of_labels_is_class_labels():
    # A column vector is class labels (sklearn's type_of_target: "binary" or
    # "multiclass"), never a one-label indicator: labels 0 match each other.
    rng = np.random.default_rng(7)
    Q, D = rng.integers(0, 2, (12, 6)), rng.integers(0, 2, (30, 6))
    for n_classes in (2, 3):
        ql, dl = rng.integers(0, n_classes, 12), rng.integers(0, n_classes, 30)
        for metric, kwargs in [
            (mean_average_precision, {}),
            (mean_average_precision, {"k": 10, "ties": "average"}),
            (precision_at_k, {"k": 10}),
            (precision_within_radius, {"radius": 1}),
        ]:
            expected = metric(Q, D, ql, dl, **kwargs)
            assert metric(Q, D, ql[:, None], dl[:, None], **kwargs) == expected
            assert metric(Q, D, ql, csr_matrix(dl[:, None]), **kwargs) == expected
        np.testing.assert_array_equal(
            precision_recall_curve(Q, D, ql[:, None], dl[:, None]),
            precision_recall_curve(Q, D, ql, dl),
        )
        assert _leave_one_out_map(D, dl[:, None], k=5) == _leave_one_out_map(D, dl, k=5)
        hasher = _sign_hasher().fit(D - 0.5)
        scorer = make_map_scorer(k=5)
        assert scorer(hasher, D - 0.5, dl[:, None]) == scorer(hasher, D - 0.5, dl)


def test_blocking_over_queries_changes_nothing(monkeypatch):
    rng = np.random.default_rng(0)
    Q = rng.integers(0, 2, (23, 16))
    D = rng.integers(0, 2, (40, 16))
    ql, dl = rng.integers(0, 4, 23), rng.integers(0, 4, 40)

    def scores():
        return [
            mean_average_precision(Q, D, ql, dl, k=10),
            mean_average_precision(Q, D, ql, dl, ties="average"),
            precision_at_k(Q, D, ql, dl, k=7, ties="average"),
            precision_within_radius(Q, D, ql, dl, radius=5),
            _leave_one_out_map(D, dl),
            _leave_one_out_map(D, dl, k=5, ties="average"),
        ]

    whole = scores()
    # 40 database items per block of 2 queries: every block has a remainder
    # and, leave-one-out, its own diagonal offset.
    monkeypatch.setattr(metrics, "_PAIRS_PER_BLOCK", 80)
    np.testing.assert_allclose(scores(), whole, rtol=1e-12)


# --------------------------------------------------------------------------- #
# Scorer
# --------------------------------------------------------------------------- #


class FakeDatabase(BaseEstimator):
    """A database known to the scorer by the map_score contract alone."""

    def fit(self, B, y=None):
        self.B_ = np.asarray(B)
        self.y_ = None if y is None else np.asarray(y)
        return self

    def map_score(self, B, y, *, k=None, ties="index"):
        if self.y_ is None:
            raise ValueError("FakeDatabase was fitted without labels")
        return mean_average_precision(B, self.B_, y, self.y_, k=k, ties=ties)


def _sign_hasher():
    return FunctionTransformer(lambda X: np.asarray(X) > 0)


def test_scorer_leave_one_out_for_a_hasher():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 12)), rng.integers(0, 3, 30)
    hasher = _sign_hasher().fit(X)
    for k, ties in [(None, "index"), (5, "average")]:
        expected = _leave_one_out_map(X > 0, y, k=k, ties=ties)
        assert make_map_scorer(k=k, ties=ties)(hasher, X, y) == expected


def test_scorer_queries_the_database_of_a_pipeline():
    rng = np.random.default_rng(2)
    X_db, y_db = rng.normal(size=(40, 12)), rng.integers(0, 3, 40)
    X_q, y_q = rng.normal(size=(10, 12)), rng.integers(0, 3, 10)
    pipe = Pipeline([("hash", _sign_hasher()), ("search", FakeDatabase())])
    pipe.fit(X_db, y_db)
    expected = mean_average_precision(X_q > 0, X_db > 0, y_q, y_db, k=10)
    assert make_map_scorer(k=10)(pipe, X_q, y_q) == expected
    # The database alone takes codes directly.
    database = FakeDatabase().fit(X_db > 0, y_db)
    assert make_map_scorer(k=10)(database, X_q > 0, y_q) == expected


def test_scorer_with_real_hamming_neighbors():
    from sklearn.model_selection import GridSearchCV

    from skdistillhash.neighbors import HammingNeighbors

    rng = np.random.default_rng(3)
    X_db, y_db = rng.normal(size=(40, 12)), rng.integers(0, 3, 40)
    X_q, y_q = rng.normal(size=(10, 12)), rng.integers(0, 3, 10)
    pipe = Pipeline([("hash", _sign_hasher()),
                     ("search", HammingNeighbors(n_neighbors=5))])
    pipe.fit(X_db, y_db)
    expected = mean_average_precision(X_q > 0, X_db > 0, y_q, y_db, k=5)
    assert make_map_scorer(k=5)(pipe, X_q, y_q) == expected
    assert pipe.score(X_q, y_q) == expected  # HammingNeighbors.score: MAP@n_neighbors

    search = GridSearchCV(pipe, {"search__n_neighbors": [3, 5]}, cv=2,
                          scoring=make_map_scorer(k=3, ties="average"))
    search.fit(np.vstack([X_db, X_q]), np.concatenate([y_db, y_q]))
    assert 0.0 <= search.best_score_ <= 1.0


def test_scorer_errors():
    X, y = np.ones((4, 3)), np.array([0, 0, 1, 1])
    unlabelled = Pipeline([("hash", _sign_hasher()), ("search", FakeDatabase())]).fit(X)
    with pytest.raises(ValueError, match="fitted without labels"):
        make_map_scorer()(unlabelled, X, y)
    with pytest.raises(ValueError, match="needs labels y"):
        make_map_scorer()(_sign_hasher().fit(X), X, None)
    with pytest.raises(TypeError, match="needs a hasher"):
        make_map_scorer()(BaseEstimator(), X, y)
    with pytest.raises(ValueError, match="'ties' parameter"):
        make_map_scorer(ties="random")


# --------------------------------------------------------------------------- #
# Input validation
# --------------------------------------------------------------------------- #

B = np.array([[0, 1, 1], [1, 0, 0]])
Y = np.array([0, 1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(query_codes=np.ones((2, 4))), "3 bits per code but db_codes have 4|"
         "4 bits per code but db_codes have 3"),
        (dict(query_codes=np.full((2, 3), 2)), "must hold bits"),
        (dict(query_codes=np.zeros((0, 3))), "query_codes is empty"),
        (dict(db_codes=np.zeros((0, 3)), db_labels=[]), "db_codes is empty|0 sample"),
        (dict(query_codes=[0, 1, 1]), "2-D bit matrix"),
        (dict(query_labels=[0, 1, 2]), "query_labels has 3 samples but query_codes has 2"),
        (dict(db_labels=[0.0, np.nan]), "NaN"),
        (dict(db_labels=[[1, 0], [0, 1]]), "class labels \\(1-D\\) but db_labels are"),
        (dict(query_labels=[[1, 0], [0, 1]], db_labels=[[1, 0, 0], [0, 1, 0]]),
         "2 label columns but db_labels have 3"),
        (dict(query_labels=[[2, 0], [0, 1]], db_labels=[[1, 0], [0, 1]]),
         "multi-label indicator matrix with values in \\{0, 1\\}"),
        (dict(query_labels=["a", "b"]), "mix string and numeric"),
        (dict(k=3), "k=3 exceeds the database size \\(2 codes\\)"),
        (dict(k=0), "'k' parameter"),
        (dict(ties="random"), "'ties' parameter"),
    ],
)
def test_mean_average_precision_errors(kwargs, match):
    args = dict(query_codes=B, db_codes=B, query_labels=Y, db_labels=Y)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        mean_average_precision(**args)


def test_packed_errors():
    packed = pack(B)
    with pytest.raises(ValueError, match="1 bytes per code but db_codes have 2"):
        mean_average_precision(packed, pack(np.ones((2, 12))), Y, Y, packed=True)
    with pytest.raises(ValueError, match="packed uint8"):
        mean_average_precision(B, B, Y, Y, packed=True)
    with pytest.raises(ValueError, match="packed=True"):
        mean_average_precision(packed, packed, Y, Y)


def test_other_metric_errors():
    with pytest.raises(ValueError, match="k=100 exceeds the database size"):
        precision_at_k(B, B, Y, Y)
    with pytest.raises(ValueError, match="'radius' parameter"):
        precision_within_radius(B, B, Y, Y, radius=-1)
    with pytest.raises(ValueError, match="4 bits per code but db_codes have 3"):
        precision_recall_curve(np.ones((1, 4)), B, [0], Y)


def test_leave_one_out_errors():
    with pytest.raises(ValueError, match="at least 2 samples"):
        _leave_one_out_map(B[:1], Y[:1])
    with pytest.raises(ValueError, match="k=2 exceeds the 1 other samples"):
        _leave_one_out_map(B, Y, k=2)
    with pytest.raises(ValueError, match="y has 3 samples but X has 2"):
        _leave_one_out_map(B, [0, 1, 1])


def test_scorer_in_cross_validate():
    from sklearn.model_selection import cross_validate

    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(40, 8)), np.repeat([0, 1], 20)
    X[y == 1] += 2.0
    result = cross_validate(_sign_hasher(), X, y, cv=2,
                            scoring=make_map_scorer(k=5, ties="average"))
    assert np.all((result["test_score"] > 0.5) & (result["test_score"] <= 1.0))
