"""Hand-off to FAISS: build a binary index from our codes, measure what it costs.

:class:`~skdistillhash.HammingNeighbors` is exact and keeps its database in
memory. Beyond one machine, or when approximate search is good enough, FAISS's
binary indexes take our packed codes unchanged (same bit layout). This module

- builds one in a single call, :func:`to_faiss_index`: exact
  ``faiss.IndexBinaryFlat``, or ``faiss.IndexBinaryIVF``, an inverted file
  that clusters the codes into ``nlist`` lists and scans only the ``nprobe``
  lists nearest each query;
- measures what an approximate index gives up against the exact search on a
  sample of queries, :func:`compare_to_exact`: recall@k, MAP@k and time per
  query; :func:`nprobe_sweep` does it for several ``nprobe`` at once.

faiss is the optional extra ``pip install skdistillhash[faiss]``; it is
imported only when one of these functions runs.

Recall and ties
---------------
Hamming distances are small integers, so many codes tie at the k-th distance
``t`` of a query. The exact answer keeps the tied codes with the smallest
database indices; an index that returns another code at distance ``t``
returned an equally near one. So two recalls are reported, both over the
``k`` slots of each query and averaged over queries:

- ``recall``: the fraction of the exact top-k ids found (strict);
- ``recall_ties``: the fraction of returned ids whose Hamming distance to the
  query is ``<= t``, counting any code as near as the exact k-th as correct.

``recall_ties >= recall``, and ``recall_ties`` is 1.0 for every exact index
(``IndexBinaryFlat``, or IVF with ``nprobe = nlist``) whatever its tie order,
while ``recall`` may not be (faiss's IVF does not order ties by id). Both
count slots the index left empty (id -1: the visited lists held fewer than
``k`` codes) as misses. Distances of returned ids are recomputed from the
codes, never taken from the index.
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from ._bits import check_packed, to_words
from ._hamming import _faiss
from ._hamming._faiss_index import INDEX_CONSTRAINTS, POSITIVE, build_index, require_faiss
from ._sklearn_compat import validate_params
from .metrics import _ap_of_ranked, _check_labels, _encode_labels
from .neighbors import HammingNeighbors

__all__ = ["compare_to_exact", "nprobe_sweep", "to_faiss_index"]

def _database_codes(codes_or_neighbors) -> np.ndarray:
    """Packed codes from an array or from a fitted HammingNeighbors."""
    if isinstance(codes_or_neighbors, HammingNeighbors):
        check_is_fitted(codes_or_neighbors, "codes_")
        codes = codes_or_neighbors.codes_
    elif isinstance(codes_or_neighbors, BaseEstimator):
        raise TypeError(
            "Expected packed uint8 codes or a fitted HammingNeighbors; got a "
            f"{type(codes_or_neighbors).__name__}. Pass the codes of a hasher "
            "instead: hasher.predict(X)."
        )
    else:
        codes = check_packed(codes_or_neighbors, name="codes")
        if len(codes) == 0:
            raise ValueError("codes is empty: an index needs at least one code.")
    # faiss reads the buffer as rows of n_bytes: it must be C-contiguous.
    return np.ascontiguousarray(codes)


@validate_params(
    {"codes_or_neighbors": "no_validation", **INDEX_CONSTRAINTS},
    prefer_skip_nested_validation=True,
)
def to_faiss_index(
    codes_or_neighbors,
    *,
    kind: str = "flat",
    nlist: int | None = None,
    nprobe: int | None = None,
    train_size: int | None = None,
    random_state: int | np.random.RandomState | None = None,
    n_jobs: int | None = None,
):
    """Build a faiss binary index over packed codes, in one call.

    Ids in the index are row numbers of the codes (database indices of a
    HammingNeighbors). Query it with packed codes of the same width, as
    ``hasher.predict(X)`` returns them: ``index.search(queries, k)``.

    Parameters
    ----------
    codes_or_neighbors : ndarray of shape (n_samples, n_bytes), dtype uint8, \
            or HammingNeighbors
        Packed codes in the FAISS layout (``hasher.predict(X)``; the layout is
        never guessed, so pack a bit matrix first with ``np.packbits(B,
        axis=1, bitorder="little")``), or a fitted
        :class:`~skdistillhash.HammingNeighbors`, whose database ``codes_`` is
        used. The index has ``d = 8 * n_bytes`` bits, a multiple of 8 as
        faiss requires; codes of other widths are zero-padded to whole bytes
        (``n_bits_ = 12`` gives ``d = 16``), which changes no distance.
    kind : {"flat", "ivf"}, default="flat"
        ``"flat"``: ``faiss.IndexBinaryFlat``, exact brute force.
        ``"ivf"``: ``faiss.IndexBinaryIVF`` over an ``IndexBinaryFlat``
        quantizer: k-means splits the codes into ``nlist`` lists and a search
        scans the ``nprobe`` lists nearest the query; approximate, and faster
        the smaller ``nprobe / nlist``.
    nlist : int, default=None
        Number of lists, ``kind="ivf"`` only; at most ``n_samples``. None
        means ``4 * sqrt(n_samples)`` (the low end of faiss's guideline of 4
        to 16 sqrt(n)), but at most ``n_samples // 39`` and at least 1, so
        that k-means has the 39 training points per list that faiss asks for.
    nprobe : int, default=None
        Lists scanned per query, ``kind="ivf"`` only, in ``[1, nlist]``; None
        means 1. It can be changed later: ``index.nprobe = 8``; see
        :func:`nprobe_sweep` for what each value costs.
    train_size : int, default=None
        Codes to train k-means on, ``kind="ivf"`` only, drawn without
        replacement (seeded by ``random_state``), in ``[nlist, n_samples]``:
        faiss needs at least one training point per list. None means
        ``min(n_samples, 256 * nlist)``, as many as faiss's k-means uses
        anyway (it subsamples beyond 256 points per list). Training converts
        the sample to float32, ``4 * d`` bytes per code. faiss prints a
        warning when there are fewer than ``39 * nlist``.
    random_state : int, RandomState instance or None, default=None
        Seeds the training sample and faiss's k-means, ``kind="ivf"`` only
        (ignored for ``"flat"``, which is not trained). An int gives the same
        index on every call.
    n_jobs : int, default=None
        faiss's OpenMP threads while training and adding, in joblib's
        convention (None: 1 unless in a :func:`joblib.parallel_config`
        context; -1: all cores); faiss's process-wide setting is restored
        afterwards, and searches on the returned index use that setting.

    Returns
    -------
    index : faiss.IndexBinaryFlat or faiss.IndexBinaryIVF
        The index, holding all codes, ready to search.

    Raises
    ------
    ImportError
        If faiss is not installed.

    See Also
    --------
    compare_to_exact : What an approximate index costs in recall, MAP and time.
    skdistillhash.HammingNeighbors.to_faiss : The same, from the estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.approximate import to_faiss_index
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.integers(0, 256, size=(1000, 8), dtype=np.uint8)  # 64 bits
    >>> index = to_faiss_index(codes)
    >>> index.d, index.ntotal
    (64, 1000)
    >>> dist, idx = index.search(codes[:3], 2)
    >>> dist[:, 0], idx[:, 0]  # every code is its own nearest
    (array([0, 0, 0], dtype=int32), array([0, 1, 2]))
    >>> ivf = to_faiss_index(codes, kind="ivf", nlist=16, nprobe=4, random_state=0)
    >>> ivf.nlist, ivf.nprobe, ivf.ntotal
    (16, 4, 1000)
    """
    codes = _database_codes(codes_or_neighbors)
    return build_index(
        codes, kind=kind, nlist=nlist, nprobe=nprobe, train_size=train_size,
        random_state=random_state, n_jobs=n_jobs, caller="to_faiss_index",
    )


# --------------------------------------------------------------------------- #
# Measuring an index against the exact search
# --------------------------------------------------------------------------- #


def _best_time(func, n_repeats):
    best, result = math.inf, None
    for _ in range(n_repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def _exact_reference(faiss, index, neighbors, queries, k, y_queries, n_repeats) -> Bunch:
    """Validate the inputs and run the exact search once: the anchor of a comparison."""
    if not isinstance(neighbors, HammingNeighbors):
        raise TypeError(
            f"neighbors must be a fitted HammingNeighbors; got {type(neighbors).__name__}."
        )
    check_is_fitted(neighbors, "codes_")
    if not isinstance(index, faiss.IndexBinary):
        raise TypeError(
            f"index must be a faiss binary index (faiss.IndexBinary); got "
            f"{type(index).__name__}."
        )
    n, n_bytes = neighbors.codes_.shape
    if (index.ntotal, index.d) != (n, 8 * n_bytes):
        raise ValueError(
            f"index holds {index.ntotal} codes of {index.d} bits but neighbors holds {n} "
            f"codes of {8 * n_bytes} bits: build the index from the same database, "
            "e.g. neighbors.to_faiss()."
        )
    if k > n:
        raise ValueError(f"k={k} exceeds the database size ({n} codes).")
    packed = neighbors._validate_queries(queries)
    if y_queries is not None:
        if neighbors.y_ is None:
            raise ValueError(
                "y_queries was given but neighbors was fitted without labels: fit it "
                "with the labels of the database codes to compare MAP."
            )
        y_queries, y_db = _encode_labels(
            _check_labels(y_queries, len(packed), "y_queries", "queries"),
            neighbors.y_, "y_queries", "the labels neighbors was fitted with",
        )
    seconds, (dist, idx) = _best_time(lambda: neighbors.kneighbors(queries, k), n_repeats)
    ref = Bunch(queries=packed, dist=dist, idx=idx, seconds=seconds, k=k,
                y_queries=y_queries, map=None)
    if y_queries is not None:
        ref.y_db = y_db
        ref.map = _map_of_lists(_relevance_of(idx, y_queries, y_db))
    return ref


def _hamming_to(queries, codes, ids):
    """Hamming distance from each query to the codes ``ids`` (one row per query)."""
    gathered = to_words(codes[ids.ravel()]).reshape(*ids.shape, -1)
    return np.bitwise_count(gathered ^ to_words(queries)[:, None, :]).sum(
        axis=2, dtype=np.int32
    )


def _relevance_of(ids, y_queries, y_db):
    """Whether database item ``ids[i, j]`` is relevant to query ``i``; -1 is not."""
    found = ids >= 0
    labels = y_db[np.where(found, ids, 0)]
    if y_queries.ndim == 1:
        rel = labels == y_queries[:, None]
    else:  # indicators: relevant when at least one label is shared
        rel = np.einsum("ql,qkl->qk", y_queries, labels) > 0
    return rel & found


def _map_of_lists(rel) -> float:
    """MAP@k of ranked lists, given the relevance of each rank (n_queries, k):
    the AP@k of mean_average_precision, on lists already in order."""
    return float(_ap_of_ranked(rel).mean())


def _score_index(index, neighbors, ref, n_repeats) -> dict:
    """Recall, MAP and time of ``index`` against the exact reference ``ref``."""
    k, queries, codes = ref.k, ref.queries, neighbors.codes_
    # Same threads as the exact search, so the times compare like with like.
    with _faiss._omp_threads(neighbors.n_jobs):
        seconds, (index_dist, ids) = _best_time(lambda: index.search(queries, k), n_repeats)
    found = ids >= 0
    dist = _hamming_to(queries, codes, np.where(found, ids, 0))
    if not np.array_equal(dist[found], index_dist[found]):
        raise ValueError(
            "index reports distances that differ from the Hamming distances between "
            "the queries and neighbors' codes with the returned ids: it does not hold "
            "neighbors' database in the same order (build it with neighbors.to_faiss())."
        )
    n = len(codes)
    # One key per (query, id), so one isin call matches every row at once.
    row_keys = n * np.arange(len(ids))[:, None]
    in_exact = found & np.isin(ids + row_keys, ref.idx + row_keys)
    within_kth = found & (dist <= ref.dist[:, -1:])
    scores = {
        "recall": float(in_exact.mean()),
        "recall_ties": float(within_kth.mean()),
        "unfilled": float(1 - found.mean()),
        "seconds_per_query": seconds / len(queries),
        "speedup": ref.seconds / seconds,
        "map": None,
    }
    if ref.map is not None:
        # Rank what the index found by the exact search's rule, (distance,
        # id), empty slots last: the two MAPs then differ only in which codes
        # were found, not in faiss's order of ties.
        order = np.lexsort((ids, np.where(found, dist, np.iinfo(np.int32).max)), axis=1)
        ranked = np.take_along_axis(ids, order, axis=1)
        scores["map"] = _map_of_lists(_relevance_of(ranked, ref.y_queries, ref.y_db))
    return scores


_COMPARE_PARAMS = {
    "index": "no_validation",
    "neighbors": "no_validation",
    "queries": ["array-like"],
    "k": POSITIVE,
    "y_queries": ["array-like", "sparse matrix", None],
    "n_repeats": POSITIVE,
}


@validate_params(_COMPARE_PARAMS, prefer_skip_nested_validation=True)
def compare_to_exact(
    index,
    neighbors,
    queries: ArrayLike,
    *,
    k: int = 100,
    y_queries: ArrayLike | None = None,
    n_repeats: int = 1,
) -> Bunch:
    """What a faiss index gives up against the exact search, on a sample of queries.

    Runs the queries through ``neighbors.kneighbors`` (exact, ties broken by
    database index) and through ``index.search``, and compares the top
    ``k``: recall of the exact ids (strict, and counting ties at the k-th
    distance as found; see :mod:`skdistillhash.approximate`), MAP@k of both
    when labels are known, and time per query of both.

    Parameters
    ----------
    index : faiss.IndexBinary
        A faiss binary index over the same database as ``neighbors``, ids
        being database indices: what :func:`to_faiss_index` builds.
    neighbors : HammingNeighbors
        Fitted on the database; with labels (``fit(B, y)``) for MAP. Its
        ``n_jobs`` sets the threads of both searches.
    queries : array-like of shape (n_queries, n_features_in_)
        Query codes in the layout ``neighbors`` takes (``packed``); a sample
        of real queries, as the exact search scans the whole database.
    k : int, default=100
        Neighbours per query, at most the database size.
    y_queries : {array-like, sparse matrix} of shape (n_queries,) or \
            (n_queries, n_labels), default=None
        Labels of the queries, of the kind ``neighbors`` was fitted with
        (class labels or a multi-label indicator). Needed for MAP.
    n_repeats : int, default=1
        Each search is timed this many times; the best time is kept.

    Returns
    -------
    result : sklearn.utils.Bunch
        With keys

        - ``recall``: mean fraction of the exact top-k ids the index found;
        - ``recall_ties``: mean fraction of returned ids whose distance is at
          most the exact k-th distance of their query (``>= recall``; 1.0 for
          an exact index);
        - ``unfilled``: fraction of the ``k`` slots the index left empty (id
          -1), counted as misses by both recalls;
        - ``map_exact``, ``map_approximate``: MAP@k of the exact search (as
          :func:`~skdistillhash.mean_average_precision` with ``k`` defines
          it) and of the index's lists ranked by (distance, id), the exact
          search's rule, empty slots last as irrelevant items (AP@k,
          normalised by the relevant items in the top k, does not penalise
          them: read MAP with ``unfilled``); None without ``y_queries``.
          The two may differ a little even when ``recall_ties`` is 1.0,
          either way: which of the codes tied at the k-th distance are in
          the top k changes MAP@k;
        - ``seconds_per_query_exact``, ``seconds_per_query_approximate``:
          best wall time of each search over all queries, divided by their
          number;
        - ``speedup``: exact time / approximate time;
        - ``k``, ``n_queries``.

    Raises
    ------
    ImportError
        If faiss is not installed.

    See Also
    --------
    nprobe_sweep : The same for several ``nprobe`` of an IVF index.

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.approximate import compare_to_exact
    >>> from skdistillhash.neighbors import HammingNeighbors
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.integers(0, 2, size=(8, 32))
    >>> y = rng.integers(0, 8, size=1200)
    >>> bits = centres[y] ^ (rng.random((1200, 32)) < 0.1)  # 8 clusters of codes
    >>> nn = HammingNeighbors().fit(bits[:1000], y[:1000])
    >>> queries, y_queries = bits[1000:], y[1000:]
    >>> result = compare_to_exact(nn.to_faiss(), nn, queries, k=10, y_queries=y_queries)
    >>> result.recall_ties, result.map_approximate == result.map_exact
    (1.0, True)
    >>> ivf = nn.to_faiss("ivf", nlist=8, nprobe=8, random_state=0)  # every list
    >>> compare_to_exact(ivf, nn, queries, k=10).recall_ties
    1.0
    """
    faiss = require_faiss("compare_to_exact")
    ref = _exact_reference(faiss, index, neighbors, queries, k, y_queries, n_repeats)
    scores = _score_index(index, neighbors, ref, n_repeats)
    return Bunch(
        recall=scores["recall"],
        recall_ties=scores["recall_ties"],
        unfilled=scores["unfilled"],
        map_exact=ref.map,
        map_approximate=scores["map"],
        seconds_per_query_exact=ref.seconds / len(ref.queries),
        seconds_per_query_approximate=scores["seconds_per_query"],
        speedup=scores["speedup"],
        k=k,
        n_queries=len(ref.queries),
    )


@validate_params(
    {**_COMPARE_PARAMS, "nprobe": ["array-like"]}, prefer_skip_nested_validation=True
)
def nprobe_sweep(
    index,
    neighbors,
    queries: ArrayLike,
    nprobe: ArrayLike,
    *,
    k: int = 100,
    y_queries: ArrayLike | None = None,
    n_repeats: int = 1,
) -> Bunch:
    """:func:`compare_to_exact` for several ``nprobe`` of one IVF index.

    The exact search runs once; the index is searched at each ``nprobe`` and
    its own ``nprobe`` is restored afterwards. Recall rises with ``nprobe``
    (``recall_ties`` never falls: each list scanned adds candidates) and so
    does the time; at ``nprobe = nlist`` every code is scanned and
    ``recall_ties`` is 1.0.

    Parameters
    ----------
    index : faiss.IndexBinaryIVF
        An IVF index over the same database as ``neighbors``, as
        ``to_faiss_index(..., kind="ivf")`` builds.
    neighbors : HammingNeighbors
        Fitted on the database (with labels for MAP).
    queries : array-like of shape (n_queries, n_features_in_)
        Query codes in the layout ``neighbors`` takes.
    nprobe : array-like of int
        Values to try, each in ``[1, index.nlist]``, in the order given.
    k, y_queries, n_repeats
        As in :func:`compare_to_exact`.

    Returns
    -------
    result : sklearn.utils.Bunch
        Arrays with one entry per value of ``nprobe``: ``nprobe``, ``recall``,
        ``recall_ties``, ``unfilled``, ``map_approximate`` (None without
        ``y_queries``), ``seconds_per_query_approximate`` and ``speedup``;
        and, measured once, ``map_exact``, ``seconds_per_query_exact``,
        ``k``, ``n_queries``. The keys mean what they mean in
        :func:`compare_to_exact`; ``pandas.DataFrame`` of the arrays makes a
        table.

    Raises
    ------
    ImportError
        If faiss is not installed.

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.approximate import nprobe_sweep
    >>> from skdistillhash.neighbors import HammingNeighbors
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.integers(0, 2, size=(8, 32))
    >>> bits = centres[rng.integers(0, 8, size=1200)] ^ (rng.random((1200, 32)) < 0.1)
    >>> nn = HammingNeighbors().fit(bits[:1000])
    >>> ivf = nn.to_faiss("ivf", nlist=16, random_state=0)
    >>> sweep = nprobe_sweep(ivf, nn, bits[1000:], [1, 4, 16], k=10)
    >>> bool(np.all(np.diff(sweep.recall_ties) >= 0)), float(sweep.recall_ties[-1])
    (True, 1.0)
    """
    faiss = require_faiss("nprobe_sweep")
    if not isinstance(index, faiss.IndexBinaryIVF):
        raise TypeError(
            "nprobe_sweep needs a faiss.IndexBinaryIVF, as "
            f"to_faiss_index(..., kind='ivf') builds; got {type(index).__name__}."
        )
    values = np.asarray(nprobe)
    if values.ndim != 1 or values.size == 0 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"nprobe must be a non-empty 1-D array of ints; got {nprobe!r}.")
    if values.min() < 1 or values.max() > index.nlist:
        raise ValueError(
            f"Every nprobe must be in [1, nlist={index.nlist}]; got {values.tolist()}."
        )
    ref = _exact_reference(faiss, index, neighbors, queries, k, y_queries, n_repeats)
    previous = index.nprobe
    rows = []
    try:
        for value in values:
            index.nprobe = int(value)
            rows.append(_score_index(index, neighbors, ref, n_repeats))
    finally:
        index.nprobe = previous
    def column(key):
        return np.array([row[key] for row in rows])

    return Bunch(
        nprobe=values.astype(np.int64),
        recall=column("recall"),
        recall_ties=column("recall_ties"),
        unfilled=column("unfilled"),
        map_approximate=None if ref.map is None else column("map"),
        seconds_per_query_approximate=column("seconds_per_query"),
        speedup=column("speedup"),
        map_exact=ref.map,
        seconds_per_query_exact=ref.seconds / len(ref.queries),
        k=k,
        n_queries=len(ref.queries),
    )
