"""Retrieval metrics for hash codes: MAP@k, precision@k, precision within a radius.

Every metric ranks a database of codes by Hamming distance to each query and
judges the returned items by labels: with class labels an item is *relevant*
to a query when their classes are equal; with a multi-label indicator matrix,
when they share at least one label. Labels are read as
:func:`sklearn.utils.multiclass.type_of_target` does. Scores are averaged over
all queries; a query with no relevant item in its top ``k`` scores 0. Ties in
distance are broken by database index (``ties="index"``) or averaged over all
orders of the tied items (``ties="average"``, McSherry & Najork, ECIR 2008).

Read more in the :ref:`User Guide <map-and-ties>`.
"""

from __future__ import annotations

from functools import partial
from numbers import Integral

import numpy as np
from scipy.sparse import issparse
from scipy.special import digamma
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array

from ._bits import check_bits, check_packed, pack_bits
from ._hamming import pairwise_hamming
from ._hamming._numpy import distance_dtype
from ._sklearn_compat import Interval, StrOptions, validate_params

__all__ = [
    "make_map_scorer",
    "mean_average_precision",
    "precision_at_k",
    "precision_recall_curve",
    "precision_within_radius",
]

# A block of queries holds at most this many (query, database) pairs. Each pair
# costs about 50 bytes of temporaries (XOR words, distances, sort order,
# relevance, running precision), so a block stays near 50 MB whatever the sizes.
_PAIRS_PER_BLOCK = 2**20

_CODE_PARAMS = {
    "query_codes": ["array-like"],
    "db_codes": ["array-like"],
    "query_labels": ["array-like", "sparse matrix"],
    "db_labels": ["array-like", "sparse matrix"],
    "packed": ["boolean"],
}
_TIES = [StrOptions({"index", "average"})]


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #


def _check_codes(query_codes, db_codes, packed: bool):
    """Return both code sets packed (FAISS layout) and the number of bits.

    With ``packed=True`` the true width is unknown beyond the byte count, so
    ``n_bits`` is ``8 * n_bytes``; zero padding bits never change a distance.
    """
    check = check_packed if packed else check_bits
    q = check(query_codes, name="query_codes")
    d = check(db_codes, name="db_codes")
    if q.shape[1] != d.shape[1]:
        unit = "bytes" if packed else "bits"
        raise ValueError(
            f"query_codes have {q.shape[1]} {unit} per code but db_codes have "
            f"{d.shape[1]}: codes of different widths cannot be compared."
        )
    for name, codes in (("query_codes", q), ("db_codes", d)):
        if len(codes) == 0:
            raise ValueError(f"{name} is empty: at least one code is required.")
    if packed:
        return q, d, 8 * q.shape[1]
    return pack_bits(q), pack_bits(d), q.shape[1]


def _check_labels(labels, n_samples: int, name: str, codes_name: str):
    """Validate one label array: 1-D class labels or a 2-D {0, 1} indicator.

    As in :func:`sklearn.utils.multiclass.type_of_target`, a single column is
    class labels (returned 1-D); only two or more columns of {0, 1} make a
    multi-label indicator.
    """
    labels = check_array(
        labels,
        accept_sparse="csr",
        ensure_2d=False,
        dtype=None,
        ensure_all_finite=True,
        input_name=name,
    )
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"{name} has {labels.shape[0]} samples but {codes_name} has {n_samples}."
        )
    if labels.ndim == 2:
        # Labels are small (n_samples x n_labels): densify once.
        labels = labels.toarray() if issparse(labels) else labels
        if labels.shape[1] == 1:
            return labels.ravel()
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(
                f"{name} has {labels.shape[1]} columns, so it must be a multi-label "
                "indicator matrix with values in {0, 1} (multi-output class labels "
                "are not supported); pass class labels as a 1-D array."
            )
    return labels


def _encode_labels(q, d, q_name: str = "query_labels", d_name: str = "db_labels"):
    """Put validated query and database labels in the form ``_relevance`` wants.

    Class labels become integer codes shared by both sides; indicator
    matrices become float32, so relevance is one BLAS product.
    """
    if q.ndim != d.ndim:
        kinds = {1: "class labels (1-D)", 2: "a multi-label indicator (2-D)"}
        raise ValueError(f"{q_name} are {kinds[q.ndim]} but {d_name} are {kinds[d.ndim]}.")
    if q.ndim == 2:
        if q.shape[1] != d.shape[1]:
            raise ValueError(
                f"{q_name} have {q.shape[1]} label columns but {d_name} "
                f"have {d.shape[1]}."
            )
        return q.astype(np.float32), d.astype(np.float32)
    # Concatenating strings with numbers would silently compare "1" with 1.
    if (q.dtype.kind in "USO") != (d.dtype.kind in "USO"):
        raise ValueError(f"{q_name} and {d_name} mix string and numeric class labels.")
    _, codes = np.unique(np.concatenate([q, d]), return_inverse=True)
    return codes[: len(q)], codes[len(q) :]


def _check_inputs(query_codes, db_codes, query_labels, db_labels, packed: bool):
    """Validate the four arrays every public metric takes."""
    q, d, n_bits = _check_codes(query_codes, db_codes, packed)
    q_labels, db_labels = _encode_labels(
        _check_labels(query_labels, len(q), "query_labels", "query_codes"),
        _check_labels(db_labels, len(d), "db_labels", "db_codes"),
    )
    return q, d, q_labels, db_labels, n_bits


def _check_k(k, n_db: int, *, leave_one_out: bool = False) -> int:
    """Resolve ``k=None`` to the database size; reject ``k`` beyond it."""
    if k is None:
        return n_db
    if k > n_db:
        what = (
            f"the {n_db} other samples each sample is ranked against"
            if leave_one_out
            else f"the database size ({n_db} codes)"
        )
        raise ValueError(f"k={k} exceeds {what}; use k=None for MAP@all.")
    return k


# --------------------------------------------------------------------------- #
# Blocked distances and relevance
# --------------------------------------------------------------------------- #


def _relevance(q_labels: np.ndarray, db_labels: np.ndarray) -> np.ndarray:
    if q_labels.ndim == 1:
        return q_labels[:, None] == db_labels[None, :]
    return (q_labels @ db_labels.T) > 0


def _blocks(q, d, q_labels, db_labels, n_bits: int, *, exclude_self: bool = False):
    """Yield ``(dist, rel)`` for consecutive blocks of queries.

    ``dist`` is the int32 Hamming distance block, ``rel`` the boolean
    relevance block. With ``exclude_self`` (query ``i`` is database item
    ``i``), each query's own item is moved past every real distance
    (``n_bits + 1``) and marked irrelevant, so it ranks last and never enters
    a top ``k <= n_db - 1``.
    """
    # Per query, a block holds a row of n_db distances and, for the tie-aware
    # metrics, a row of n_bits + 2 group counts: bound whichever is wider.
    step = max(1, _PAIRS_PER_BLOCK // max(len(d), n_bits + 2))
    for start in range(0, len(q), step):
        stop = min(start + step, len(q))
        dist = pairwise_hamming(q[start:stop], d)
        rel = _relevance(q_labels[start:stop], db_labels)
        if exclude_self:
            rows = np.arange(stop - start)
            dist[rows, start + rows] = n_bits + 1
            rel[rows, start + rows] = False
        yield dist, rel


def _score(per_query, q, d, q_labels, db_labels, n_bits: int, *, exclude_self: bool = False, **params):
    """Mean over queries of ``per_query(dist, rel, n_bits=n_bits, **params)``.

    The body of every metric: distances and relevance block by block
    (:func:`_blocks`), the per-query scores summed as they come.
    """
    blocks = _blocks(q, d, q_labels, db_labels, n_bits, exclude_self=exclude_self)
    total = sum(per_query(dist, rel, n_bits=n_bits, **params).sum(axis=0) for dist, rel in blocks)
    return total / len(q)


def _top_k_relevance(dist: np.ndarray, rel: np.ndarray, k: int, n_bits: int):
    """Relevance of the top ``k`` items, ranked by (distance, database index)."""
    # Distances fit in one or two bytes, where numpy's stable argsort is a
    # radix sort: linear per row and as fast as an argpartition for top k.
    key = dist.astype(distance_dtype(n_bits + 1))  # + 1: the leave-one-out sentinel
    order = np.argsort(key, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(rel, order, axis=1)


def _tie_groups(dist: np.ndarray, rel: np.ndarray, n_bits: int):
    """Per query and distance value: number of items and of relevant items.

    Returns two int64 arrays of shape (n_queries, n_bits + 2); the last
    column only ever holds the query itself in leave-one-out scoring.
    """
    n_groups = n_bits + 2
    keys = dist + n_groups * np.arange(len(dist))[:, None]
    size = n_groups * len(dist)
    n = np.bincount(keys.ravel(), minlength=size).reshape(-1, n_groups)
    m = np.bincount(keys[rel], minlength=size).reshape(-1, n_groups)
    return n, m


# --------------------------------------------------------------------------- #
# Per-query scores
# --------------------------------------------------------------------------- #


def _ap_by_index(dist, rel, *, k: int, n_bits: int) -> np.ndarray:
    return _ap_of_ranked(_top_k_relevance(dist, rel, k, n_bits))


def _ap_of_ranked(rel_top: np.ndarray) -> np.ndarray:
    """AP@k of ranked lists, from the relevance of each rank (n_queries, k)."""
    hits = np.cumsum(rel_top, axis=1)
    precision_sum = (rel_top * hits / np.arange(1, rel_top.shape[1] + 1)).sum(axis=1)
    return np.divide(precision_sum, hits[:, -1], out=np.zeros(len(rel_top)),
                     where=hits[:, -1] > 0)


def _harmonic_diff(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``1/(lo+1) + ... + 1/hi``, elementwise (H_n = digamma(n+1) + Euler's gamma)."""
    return digamma(hi + 1.0) - digamma(lo + 1.0)


def _hypergeom_pmf(
    n: np.ndarray, m: np.ndarray, s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Support and pmf of hypergeometric(n, m, s), one distribution per row.

    The number of relevant items among ``s`` drawn without replacement from
    ``n`` items of which ``m`` are relevant. Row ``i`` of ``y`` runs from
    the smallest value of its support upwards; the grid is padded to the
    widest support, with pmf 0 past each row's largest value.

    scipy's ``hypergeom.pmf`` costs up to 0.1 ms per point for groups of
    thousands of items, and a query whose ``k`` cuts such a group needs
    hundreds to thousands of points. So the pmf comes from the ratio of
    consecutive terms,
    ``p(y + 1) / p(y) = (m - y)(s - y) / ((y + 1)(n - m - s + y + 1))``:
    a cumulative sum of logs, normalised to sum to 1 over the support.
    Relative error is a few ulps times the support length, far below 1e-9.
    """
    lo = np.maximum(0, s - (n - m))
    hi = np.minimum(s, m)
    y = lo[:, None] + np.arange((hi - lo).max() + 1)
    inside = y <= hi[:, None]
    # Step from y to y + 1, defined while y + 1 is in the support: there all
    # four factors are positive.
    step = y[:, :-1].astype(np.float64)
    n, m, s = (a[:, None].astype(np.float64) for a in (n, m, s))
    ratio = (m - step) * (s - step) / ((step + 1) * (n - m - s + step + 1))
    log_step = np.log(ratio, out=np.zeros(ratio.shape), where=inside[:, 1:])
    log_pmf = np.zeros(y.shape)
    np.cumsum(log_step, axis=1, out=log_pmf[:, 1:])
    # Subtracting the row maximum keeps exp from underflowing near the mode.
    log_pmf -= np.max(log_pmf, axis=1, where=inside, initial=-np.inf, keepdims=True)
    pmf = np.exp(log_pmf, out=np.zeros(y.shape), where=inside)
    return y, pmf / pmf.sum(axis=1, keepdims=True)


def _ap_tie_average(dist, rel, *, k: int, n_bits: int) -> np.ndarray:
    """Expected AP@k over uniformly random orderings within each tie group.

    Groups are the distance values in increasing order. For group ``g`` let
    ``n`` be its size, ``m`` its relevant count, ``c`` the number of items
    and ``M`` the number of relevant items ranked before it. An item at
    position ``t`` of the group (rank ``c + t``) is relevant with probability
    ``m / n`` and, if it is, the group's items up to it hold on average
    ``1 + (t - 1) * b`` relevant items, ``b = (m - 1) / (n - 1)``. Summing
    ``E[rel * P@rank]`` over the group gives McSherry & Najork's closed form

        ``(m / n) * ((M + 1 - b * (c + 1)) * (H_{c+n} - H_c) + b * n)``.

    All groups ending before rank ``k`` contribute fully. The group holding
    rank ``k`` (the *boundary* group) has only its first ``s = k - c``
    positions in the top ``k``; the number ``Y`` of its relevant items there
    is hypergeometric(n, m, s), and ``R_k = M + Y``. Given ``Y = y`` the ``s``
    positions are a random arrangement of ``y`` relevant items, so the same
    closed form applies with ``(n, m) -> (s, y)``, and

        ``E[AP@k] = E[S_before] * E[f(Y)] + E[f(Y) * E[S_boundary | Y]]``,
        ``f(y) = 1 / (M + y)`` (0 when ``M + y = 0``),

    where ``S_before`` (independent of ``Y``) is the sum over earlier groups.
    The expectations over ``Y`` are exact finite sums over its support. When
    ``k`` ends a group, ``s = n`` and ``Y = m`` is certain, which at
    ``k = n_db`` leaves exactly McSherry & Najork's tie-aware AP.
    """
    n, m = _tie_groups(dist, rel, n_bits)
    end = np.cumsum(n, axis=1)
    start = end - n
    before = np.cumsum(m, axis=1) - m
    frac = np.divide(m, n, out=np.zeros(n.shape), where=n > 0)
    b = np.divide(m - 1, n - 1, out=np.zeros(n.shape), where=n > 1)
    expected_sum = frac * (
        (before + 1 - b * (start + 1)) * _harmonic_diff(end, start) + b * n
    )

    # The boundary group is the first one reaching rank k; it is never empty.
    g = np.argmax(end >= k, axis=1)
    rows = np.arange(len(n))
    s_before = np.where(np.arange(n.shape[1]) < g[:, None], expected_sum, 0).sum(axis=1)
    n_g, m_g, c, M = n[rows, g], m[rows, g], start[rows, g], before[rows, g]
    s = k - c

    y, pmf = _hypergeom_pmf(n_g, m_g, s)
    r_k = M[:, None] + y
    f_pmf = np.divide(pmf, r_k, out=np.zeros(pmf.shape), where=r_k > 0)
    a0 = f_pmf.sum(axis=1)
    a1 = (f_pmf * y).sum(axis=1)
    a2 = (f_pmf * y * (y - 1)).sum(axis=1)

    # E[S_boundary | Y=y] = (y / s) * (u + (y - 1) / (s - 1) * v).
    h = _harmonic_diff(np.full_like(c, k), c)
    u = (M + 1) * h
    v = s - (c + 1) * h
    a2_term = np.divide(a2 * v, s - 1, out=np.zeros(len(s)), where=s > 1)
    ap = s_before * a0 + (u * a1 + a2_term) / s
    # Rounding in the digamma differences can leave a perfect AP an ulp or two
    # above 1 (or a null one below 0); the true value lies in [0, 1].
    return np.clip(ap, 0.0, 1.0)


def _precision_at_k_by_index(dist, rel, *, k: int, n_bits: int) -> np.ndarray:
    return _top_k_relevance(dist, rel, k, n_bits).mean(axis=1)


def _precision_at_k_tie_average(dist, rel, *, k: int, n_bits: int) -> np.ndarray:
    # Linear in the relevance of each rank, so the expectation is plain:
    # the boundary group contributes its relevant fraction per top-k slot.
    n, m = _tie_groups(dist, rel, n_bits)
    end = np.cumsum(n, axis=1)
    g = np.argmax(end >= k, axis=1)
    rows = np.arange(len(n))
    n_g, m_g = n[rows, g], m[rows, g]
    before = np.cumsum(m, axis=1)[rows, g] - m_g
    s = k - (end[rows, g] - n_g)
    return (before + s * m_g / n_g) / k


def _ball_precision_recall(dist, rel, *, n_bits: int) -> np.ndarray:
    """Precision and recall of the balls of radius 0..n_bits, per query.

    Returns shape (n_queries, 2, n_bits + 1). An empty ball has precision 0;
    a query with no relevant item in the database has recall 0.
    """
    n, m = _tie_groups(dist, rel, n_bits)
    in_ball = np.cumsum(n, axis=1)[:, : n_bits + 1]
    hits = np.cumsum(m, axis=1)[:, : n_bits + 1]
    n_relevant = m.sum(axis=1, keepdims=True)
    precision = np.divide(hits, in_ball, out=np.zeros(hits.shape), where=in_ball > 0)
    recall = np.divide(hits, n_relevant, out=np.zeros(hits.shape), where=n_relevant > 0)
    return np.stack([precision, recall], axis=1)


#: Per-query scores of each tie policy.
_AP = {"index": _ap_by_index, "average": _ap_tie_average}
_PRECISION = {"index": _precision_at_k_by_index, "average": _precision_at_k_tie_average}

# --------------------------------------------------------------------------- #
# Public metrics
# --------------------------------------------------------------------------- #


@validate_params(
    {**_CODE_PARAMS, "k": [Interval(Integral, 1, None, closed="left"), None],
     "ties": _TIES},
    prefer_skip_nested_validation=True,
)
def mean_average_precision(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    k: int | None = None,
    ties: str = "index",
    packed: bool = False,
) -> float:
    """Mean average precision of Hamming ranking: MAP@k, or MAP@all.

    Each query ranks the whole database by Hamming distance;
    ``AP@k = (1 / R_k) * sum(rel_i * P@i for i in 1..k)``, with ``R_k`` the
    number of relevant items in the top ``k`` and ``P@i`` the precision at
    rank ``i``. **A query with no relevant item in its top k scores 0** (and
    counts in the mean). See the module docstring for the exact definitions
    and for how other reference codes differ.

    Parameters
    ----------
    query_codes : array-like of shape (n_queries, n_bits)
        Bit matrix: {0, 1}, bool or {-1, +1}. With ``packed=True``, uint8
        codes of shape (n_queries, n_bytes) in the FAISS layout.
    db_codes : array-like of shape (n_db, n_bits)
        Database codes, in the same layout and width as ``query_codes``.
    query_labels : {array-like, sparse matrix} of shape (n_queries,) or \
            (n_queries, n_labels)
        Class labels (relevant = same class), 1-D or a single column, or a
        multi-label indicator matrix of two or more {0, 1} columns (relevant
        = at least one shared label).
    db_labels : {array-like, sparse matrix} of shape (n_db,) or (n_db, n_labels)
        Labels of the database, of the same kind as ``query_labels``.
    k : int, default=None
        Length of the ranked list. None means the whole database (MAP@all).
        A ``k`` larger than the database is an error.
    ties : {"index", "average"}, default="index"
        ``"index"`` breaks distance ties by database index (stable ranking);
        ``"average"`` is the exact expected AP@k over all orderings of tied
        items (McSherry & Najork, ECIR 2008), independent of database order.
    packed : bool, default=False
        Whether the codes are packed uint8 bytes instead of bit matrices.

    Returns
    -------
    score : float
        MAP in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.metrics import mean_average_precision
    >>> db = np.array([[0, 0], [1, 1], [0, 1], [1, 0]])
    >>> db_labels = np.array([0, 1, 0, 1])
    >>> query = np.array([[0, 0]])
    >>> # ranked by (distance, index): items 0, 2, 3, 1 -> relevant at ranks 1, 2
    >>> mean_average_precision(query, db, [0], db_labels)
    1.0
    >>> # a query of class 1 finds its relevant items 3 and 1 at ranks 3 and 4
    >>> round(mean_average_precision(query, db, [1], db_labels), 4)
    0.4167
    >>> # items 2 and 3 tie at distance 1: the mean over both orders (5/12, 1/2)
    >>> round(mean_average_precision(query, db, [1], db_labels, ties="average"), 4)
    0.4583
    >>> # no relevant item in the top 2: the query scores 0
    >>> mean_average_precision(query, db, [1], db_labels, k=2)
    0.0
    """
    q, d, q_labels, db_labels, n_bits = _check_inputs(
        query_codes, db_codes, query_labels, db_labels, packed
    )
    return float(_score(_AP[ties], q, d, q_labels, db_labels, n_bits, k=_check_k(k, len(d))))


@validate_params(
    {**_CODE_PARAMS, "k": [Interval(Integral, 1, None, closed="left")], "ties": _TIES},
    prefer_skip_nested_validation=True,
)
def precision_at_k(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    k: int = 100,
    ties: str = "index",
    packed: bool = False,
) -> float:
    """Mean precision of the top ``k`` items of each query's Hamming ranking.

    Parameters
    ----------
    query_codes, db_codes, query_labels, db_labels, packed
        As in :func:`mean_average_precision`.
    k : int, default=100
        Number of retrieved items; must not exceed the database size.
    ties : {"index", "average"}, default="index"
        ``"index"`` breaks distance ties by database index; ``"average"`` is
        the expected precision over all orderings of tied items: the tie
        group cut by rank ``k`` contributes its fraction of relevant items to
        each of its slots in the top ``k``.

    Returns
    -------
    score : float
        Mean precision@k in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.metrics import precision_at_k
    >>> db = np.array([[0, 0], [1, 1], [0, 1], [1, 0]])
    >>> float(precision_at_k([[0, 0]], db, [0], [0, 1, 1, 0], k=2))
    0.5
    >>> float(precision_at_k([[0, 0]], db, [0], [0, 1, 1, 0], k=2, ties="average"))
    0.75
    """
    q, d, q_labels, db_labels, n_bits = _check_inputs(
        query_codes, db_codes, query_labels, db_labels, packed
    )
    return float(_score(_PRECISION[ties], q, d, q_labels, db_labels, n_bits, k=_check_k(k, len(d))))


@validate_params(
    {**_CODE_PARAMS, "radius": [Interval(Integral, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def precision_within_radius(
    query_codes,
    db_codes,
    query_labels,
    db_labels,
    *,
    radius: int = 2,
    packed: bool = False,
) -> float:
    """Mean precision of the Hamming ball of radius ``radius`` around each query.

    The ball holds every database item at Hamming distance ``<= radius``
    (hash lookup, as in the hashing literature's "precision within Hamming
    radius 2"). **An empty ball scores 0** and counts in the mean, so codes
    that spread items too thinly are penalised rather than ignored.

    Parameters
    ----------
    query_codes, db_codes, query_labels, db_labels, packed
        As in :func:`mean_average_precision`.
    radius : int, default=2
        Hamming radius, inclusive. Radii beyond the code width give the
        whole database.

    Returns
    -------
    score : float
        Mean precision in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.metrics import precision_within_radius
    >>> db = np.array([[0, 0, 0], [0, 0, 1], [1, 1, 1]])
    >>> db_labels = [0, 1, 1]
    >>> # radius 0: query 0 finds item 0 (relevant), query 1 an empty ball (0)
    >>> float(precision_within_radius([[0, 0, 0], [1, 1, 0]], db, [0, 1], db_labels,
    ...                               radius=0))
    0.5
    >>> # radius 1: the ball of query 0 holds items 0 and 1, one relevant
    >>> float(precision_within_radius([[0, 0, 0]], db, [0], db_labels, radius=1))
    0.5
    """
    q, d, q_labels, db_labels, n_bits = _check_inputs(
        query_codes, db_codes, query_labels, db_labels, packed
    )
    precision, _ = _score(_ball_precision_recall, q, d, q_labels, db_labels, n_bits)
    return float(precision[min(radius, n_bits)])


@validate_params(_CODE_PARAMS, prefer_skip_nested_validation=True)
def precision_recall_curve(
    query_codes, db_codes, query_labels, db_labels, *, packed: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall of Hamming-ball lookup at every radius 0..n_bits.

    For each radius ``r``, each query retrieves its ball (items at distance
    ``<= r``); precision is relevant retrieved / retrieved and recall is
    relevant retrieved / relevant in the database, both averaged over all
    queries. **An empty ball has precision 0**, and **a query with no relevant
    item in the database has recall 0** at every radius, consistent with
    :func:`mean_average_precision` scoring such a query 0; so mean recall
    reaches 1 at ``r = n_bits`` only when every query has a relevant item.

    Parameters
    ----------
    query_codes, db_codes, query_labels, db_labels, packed
        As in :func:`mean_average_precision`. With ``packed=True`` the width
        is taken as ``8 * n_bytes`` (the true ``n_bits`` is not stored in
        packed codes): radii past the real width repeat the last point.

    Returns
    -------
    precision : ndarray of shape (n_bits + 1,)
        Mean precision of the ball of each radius.
    recall : ndarray of shape (n_bits + 1,)
        Mean recall of the ball of each radius; non-decreasing.
    radii : ndarray of shape (n_bits + 1,)
        The radii ``0, 1, ..., n_bits``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.metrics import precision_recall_curve
    >>> db = np.array([[0, 0], [0, 1], [1, 1]])
    >>> precision, recall, radii = precision_recall_curve([[0, 0]], db, [0], [0, 1, 0])
    >>> precision
    array([1.        , 0.5       , 0.66666667])
    >>> recall
    array([0.5, 0.5, 1. ])
    >>> radii
    array([0, 1, 2])
    """
    q, d, q_labels, db_labels, n_bits = _check_inputs(
        query_codes, db_codes, query_labels, db_labels, packed
    )
    precision, recall = _score(_ball_precision_recall, q, d, q_labels, db_labels, n_bits)
    return precision, recall, np.arange(n_bits + 1)


# --------------------------------------------------------------------------- #
# Scoring estimators
# --------------------------------------------------------------------------- #


def _leave_one_out_map(bits, y, *, k: int | None = None, ties: str = "index") -> float:
    """MAP of a code set against itself: each sample queries all the others.

    Used by ``BaseHasher.score`` and by :func:`make_map_scorer` for hashers
    without a database. The query's own code is excluded (it would always
    rank first at distance 0), and ``k=None`` means the other ``n - 1``.
    """
    bits = check_bits(bits, name="codes")
    if len(bits) < 2:
        raise ValueError(
            f"Leave-one-out MAP needs at least 2 samples; got {len(bits)}."
        )
    codes = pack_bits(bits)
    y = _check_labels(y, len(codes), "y", "X")
    labels, _ = _encode_labels(y, y, "y", "y")
    k = _check_k(k, len(codes) - 1, leave_one_out=True)
    return float(_score(_AP[ties], codes, codes, labels, labels, bits.shape[1], exclude_self=True, k=k))


def _map_score(estimator, X, y, *, k: int | None, ties: str) -> float:
    if y is None:
        raise ValueError("The MAP scorer needs labels y to decide relevance.")
    search = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    # A database is whatever scores queries against itself: the map_score
    # contract of HammingNeighbors, so that metrics never reach inside it.
    if callable(getattr(search, "map_score", None)):
        if search is not estimator and len(estimator) > 1:
            X = estimator[:-1].transform(X)
        return search.map_score(X, y, k=k, ties=ties)
    if not hasattr(estimator, "transform"):
        raise TypeError(
            "The MAP scorer needs a hasher (an estimator with transform) or a "
            "HammingNeighbors, alone or at the end of a Pipeline; got "
            f"{type(estimator).__name__}."
        )
    return _leave_one_out_map(estimator.transform(X), y, k=k, ties=ties)


@validate_params(
    {"k": [Interval(Integral, 1, None, closed="left"), None], "ties": _TIES},
    prefer_skip_nested_validation=True,
)
def make_map_scorer(k: int | None = None, ties: str = "index"):
    """Make a MAP scorer for ``GridSearchCV``, ``cross_validate`` and friends.

    The scorer ``scorer(estimator, X, y) -> float`` works two ways:

    - if the estimator holds a database -- a fitted
      :class:`~skdistillhash.HammingNeighbors`, or a ``Pipeline`` ending in
      one -- ``X`` goes through the preceding steps and is queried against
      the fitted database, with relevance from ``y`` and the database labels
      the HammingNeighbors was fitted with (it must be fitted with ``y``);
    - otherwise ``X`` is encoded with ``estimator.transform`` (a hasher), and
      each sample queries all other samples of ``X`` (leave-one-out), as
      ``DistillHash.score`` does.

    A database is recognised by its contract: the final estimator has a
    ``map_score(X, y, *, k, ties)`` method, as
    :meth:`HammingNeighbors.map_score <skdistillhash.HammingNeighbors.map_score>`.

    Parameters
    ----------
    k : int, default=None
        Length of the ranked list; None means MAP@all.
    ties : {"index", "average"}, default="index"
        Tie policy, as in :func:`mean_average_precision`.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``, greater is better.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from skdistillhash.metrics import make_map_scorer
    >>> X = np.array([[1.0, 2.0], [2.0, 1.0], [-1.0, -2.0], [1.0, -2.0]])
    >>> y = np.array([0, 0, 1, 1])
    >>> hasher = FunctionTransformer(np.sign).fit(X)  # codes in {-1, +1}
    >>> scorer = make_map_scorer()
    >>> # leave-one-out: sample 3 is at distance 1 from all three others, and
    >>> # the tie rule puts its one relevant neighbour (sample 2) at rank 3
    >>> round(scorer(hasher, X, y), 4)
    0.8333
    """
    return partial(_map_score, k=k, ties=ties)
