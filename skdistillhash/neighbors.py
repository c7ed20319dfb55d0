"""Exact nearest neighbours in Hamming space, the sklearn.neighbors way.

:class:`HammingNeighbors` indexes binary codes (for instance the output of a
fitted hasher) and answers k-nearest-neighbour and radius queries exactly.
Hamming distances are small integers, so ties are everywhere; they are broken
by database index, which makes every result deterministic and identical
across the search backends (numpy, faiss, torch) and multi-index hashing.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import csr_matrix
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import N_JOBS_CONSTRAINT, IntInterval
from ._bits import check_packed, pack_bits
from ._fitting import publish_fit, validation_probe
from ._hamming import BACKENDS, MultiIndexHashing, make_index, prefers_mih
from ._hamming._faiss_index import INDEX_CONSTRAINTS, build_index
from ._sklearn_compat import Interval, StrOptions, _fit_context, validate_parameter_constraints, validate_params
from .metrics import _check_labels, mean_average_precision


class _CodeSearch(BaseEstimator):
    """What every search over codes checks the same way: query codes against
    the fitted width and layout (``packed``, ``n_features_in_``), and
    ``n_neighbors``. Shared by HammingNeighbors and the sharded
    :class:`~skdistillhash.dask.DaskHammingNeighbors`."""

    def _validate_queries(self, B: ArrayLike) -> np.ndarray:
        """Check query codes against the fitted width and layout; return them packed."""
        check_is_fitted(self)
        fitted = getattr(self, "_fit_packed", self.packed)
        if self.packed != fitted:
            # Read in the new layout, the bytes of a packed query pass as bits
            # of a narrower code (or the reverse), and every backend would
            # answer something: refuse instead.
            raise ValueError(
                f"packed={self.packed} was set after fit, but this {type(self).__name__} "
                f"was fitted with packed={fitted}: queries are read in the layout of the "
                f"fit. Set packed={fitted} again, or fit again with packed={self.packed}."
            )
        shape = getattr(B, "shape", None)
        if shape is not None and len(shape) == 2 and shape[1] != self.n_features_in_:
            unit = "bytes of packed code" if self.packed else "bits"
            raise ValueError(
                f"X has {shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input ({unit} per code, "
                f"packed={self.packed}, as in fit)."
            )
        B = validate_data(self, B, dtype=None, reset=False)
        return self._pack(B)

    def _pack(self, B):
        if self.packed:
            return np.ascontiguousarray(check_packed(B, name="B"))
        return pack_bits(B)

    def _check_n_neighbors(self, n_neighbors):
        if n_neighbors is None:
            return self.n_neighbors
        if not isinstance(n_neighbors, Integral) or isinstance(n_neighbors, bool):
            raise TypeError(f"n_neighbors must be an integer; got {n_neighbors!r}.")
        if n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}.")
        return int(n_neighbors)

    def _check_k_for_queries(self, k: int) -> None:
        """Queries other than the database have at most every fitted code as neighbours."""
        if k > self.n_samples_fit_:
            raise ValueError(
                f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
                f"n_samples_fit = {self.n_samples_fit_}."
            )


class HammingNeighbors(_CodeSearch):
    """Exact k-nearest-neighbour and radius search over binary codes.

    Modelled on :class:`sklearn.neighbors.NearestNeighbors` with the Hamming
    distance (the number of differing bits, not sklearn's fraction). Results
    are exact; ties in distance are broken by database index, so every
    backend returns the same indices and distances.

    Parameters
    ----------
    n_neighbors : int, default=10
        Number of neighbours for :meth:`kneighbors`, :meth:`predict` and the
        k of MAP@k in :meth:`score`.
    radius : float, default=2
        Hamming radius for :meth:`radius_neighbors`; a code is a neighbour
        when its distance is ``<= radius``.
    algorithm : {"auto", "mih", "brute"}, default="auto"
        How radius queries (:meth:`radius_neighbors` and
        :meth:`radius_neighbors_graph`) search; every choice returns the same
        answer, only the speed differs. "brute" scans the database with
        ``backend``. "mih" always uses multi-index hashing (Norouzi, Punjani &
        Fleet, 2012): substrings of the codes are looked up in sorted tables
        and the candidates verified, on the CPU whatever the ``backend``; the
        tables are built by the first radius query, not by :meth:`fit`. It
        wins at small radii; at larger ones it is slower than a scan and its
        candidates take more memory. "auto" uses multi-index hashing where a
        cost model estimated for uniform codes expects it to beat a scan,
        never with ``backend="torch"`` (whose searches stay on its device),
        and scans otherwise. k-nearest-neighbour queries always scan with
        ``backend``, whatever ``algorithm`` is.
    packed : bool, default=False
        Input layout, never guessed from the dtype. False: bit matrices
        ``(n, n_bits)`` of {0, 1}, bool or {-1, +1} (what
        ``DistillHash.transform`` returns). True: packed uint8 codes
        ``(n, n_bytes)`` in the FAISS layout (what ``DistillHash.predict``
        returns), read as ``8 * n_bytes`` bits.
    backend : {"auto", "numpy", "faiss", "torch"}, default="auto"
        Search backend. "auto" is faiss when installed, else numpy. "faiss"
        without faiss raises an ImportError naming the extra
        (``pip install skdistillhash[faiss]``). "torch" runs on CUDA when
        available, else on the CPU. Radius queries may use multi-index
        hashing instead of a scan: see ``algorithm``.
    n_jobs : int, default=None
        CPU threads for a search: numpy's blocks of queries, or faiss's
        OpenMP threads (faiss's setting is process-wide; it is restored after
        each call), or torch's CPU threads (restored after each call; on a
        GPU the search runs there). As in scikit-learn, None means 1 unless
        in a :func:`joblib.parallel_config` context, -1 means all cores and
        other negative values count back from it (-2: all but one); it is
        resolved at each query, also after ``set_params``. 0 is not allowed.

    Attributes
    ----------
    codes_ : ndarray of shape (n_samples_fit_, ceil(n_bits_ / 8)), dtype uint8
        The database as packed codes (FAISS layout).
    n_bits_ : int
        Bits per code: the number of columns of a bit matrix, or
        ``8 * n_bytes`` for packed input.
    n_samples_fit_ : int
        Number of codes in the database.
    y_ : ndarray of shape (n_samples_fit_,) or (n_samples_fit_, n_labels) or None
        Labels given to :meth:`fit`, used by :meth:`predict` and :meth:`score`:
        class labels (1-D), or a dense multi-label indicator matrix.
    n_features_in_ : int
        Columns of the input seen in :meth:`fit`: ``n_bits_`` for bit
        matrices, ``n_bytes`` for packed codes.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.

    See Also
    --------
    sklearn.neighbors.NearestNeighbors : The float-feature counterpart.

    Notes
    -----
    Distances are returned as int32 (a Hamming distance is a count of bits).
    Graph methods return ``scipy.sparse.csr_matrix`` with float64 data, as
    sklearn.neighbors does. The database is held twice: as ``codes_`` and
    inside the backend's index (faiss copies the codes; the numpy backend
    keeps a word-major copy unless codes are a single 64-bit word).

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.neighbors import HammingNeighbors
    >>> B = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 1], [1, 1, 1, 1]])
    >>> nn = HammingNeighbors(n_neighbors=2, backend="numpy").fit(B, y=[0, 0, 1, 1])
    >>> dist, idx = nn.kneighbors([[0, 0, 1, 0]])
    >>> dist, idx
    (array([[1, 1]], dtype=int32), array([[0, 2]]))
    >>> nn.predict([[0, 1, 1, 1]])
    array([1])
    >>> dist, idx = nn.radius_neighbors([[0, 0, 0, 1]], radius=1)
    >>> idx[0]
    array([1, 0, 2])
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "radius": [Interval(Real, 0, None, closed="left")],
        "algorithm": [StrOptions({"auto", "mih", "brute"})],
        "packed": ["boolean"],
        "backend": [StrOptions(set(BACKENDS))],
        "n_jobs": N_JOBS_CONSTRAINT,
    }

    def __init__(
        self,
        n_neighbors: int = 10,
        *,
        radius: float = 2,
        algorithm: str = "auto",
        packed: bool = False,
        backend: str = "auto",
        n_jobs: int | None = None,
    ):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.packed = packed
        self.backend = backend
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, B: ArrayLike, y: ArrayLike | None = None) -> HammingNeighbors:
        """Index the database codes ``B`` (and keep labels ``y`` if given).

        A fit is all or nothing: if it fails or is interrupted (bad input, a
        backend that cannot build its index), the estimator keeps its
        previous fit, index included, or stays unfitted.

        Parameters
        ----------
        B : array-like of shape (n_samples, n_bits) or (n_samples, n_bytes)
            Bit matrix, or packed uint8 codes when ``packed=True``.
        y : {array-like, sparse matrix} of shape (n_samples,) or \
                (n_samples, n_labels), default=None
            Labels of the database codes, needed by :meth:`predict` and
            :meth:`score`, read as
            :func:`sklearn.utils.multiclass.type_of_target` does: class labels
            (1-D, or a single column, kept as 1-D), or a multi-label indicator
            matrix of two or more {0, 1} columns (kept dense). Other 2-D
            targets (multi-output class labels) raise a ValueError.

        Returns
        -------
        self : HammingNeighbors
            The fitted index.
        """
        # Validate on a probe and build everything into locals, so that a
        # failure anywhere leaves the previous fit whole.
        probe = validation_probe(self)
        if y is None:
            B = validate_data(probe, B, dtype=None)
        else:
            B, y = validate_data(probe, B, y, dtype=None, multi_output=True)
            # The metrics' reading of labels, so that predict and score agree.
            y = _check_labels(y, len(B), "y", "B")
        codes = self._pack(B)
        index = make_index(self.backend, codes, self.n_jobs)
        publish_fit(
            self,
            probe,
            codes_=codes,
            n_bits_=B.shape[1] * (8 if self.packed else 1),
            n_samples_fit_=B.shape[0],
            y_=y,
            _index=index,
            _index_backend=self.backend,
            _fit_packed=self.packed,
            _mih=None,
        )
        return self

    def kneighbors(
        self,
        B: ArrayLike | None = None,
        n_neighbors: int | None = None,
        return_distance: bool = True,
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """The ``n_neighbors`` nearest database codes of each query.

        Parameters
        ----------
        B : array-like of shape (n_queries, n_features_in_), default=None
            Query codes in the layout given by ``packed``. None queries the
            database itself and excludes each code from its own neighbours.
        n_neighbors : int, default=None
            Defaults to the constructor's ``n_neighbors``.
        return_distance : bool, default=True
            Whether to return the distances too.

        Returns
        -------
        dist : ndarray of shape (n_queries, n_neighbors), dtype int32
            Hamming distances, ascending; only with ``return_distance=True``.
        idx : ndarray of shape (n_queries, n_neighbors), dtype int64
            Database indices, ordered by (distance, index).
        """
        check_is_fitted(self)
        k = self._check_n_neighbors(n_neighbors)
        n = self.n_samples_fit_
        if B is None:
            if k >= n:
                raise ValueError(
                    "Expected n_neighbors < n_samples_fit when B is None (each code is "
                    f"left out of its own neighbours), but n_neighbors = {k}, "
                    f"n_samples_fit = {n}."
                )
            dist, idx = _drop_self(*self._get_index().knn(self.codes_, k + 1))
        else:
            queries = self._validate_queries(B)
            self._check_k_for_queries(k)
            dist, idx = self._get_index().knn(queries, k)
        return (dist, idx) if return_distance else idx

    def radius_neighbors(
        self,
        B: ArrayLike | None = None,
        radius: float | None = None,
        return_distance: bool = True,
        sort_results: bool = True,
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """All database codes within Hamming distance ``radius`` of each query.

        A scan or multi-index hashing, as ``algorithm`` says; the result is
        the same.

        Parameters
        ----------
        B : array-like of shape (n_queries, n_features_in_), default=None
            Query codes; None queries the database itself, each code excluded
            from its own neighbours.
        radius : float, default=None
            Defaults to the constructor's ``radius``.
        return_distance : bool, default=True
            Whether to return the distances too.
        sort_results : bool, default=True
            Accepted for compatibility with sklearn. Results are always
            ordered by (distance, index), the order that makes them equal
            across backends, so False changes nothing; unlike sklearn,
            sorting does not require ``return_distance=True``.

        Returns
        -------
        dist : ndarray of shape (n_queries,), dtype object
            One int32 array of distances per query; only with
            ``return_distance=True``.
        idx : ndarray of shape (n_queries,), dtype object
            One int64 array of database indices per query.
        """
        indptr, dist, idx = self._radius_csr(B, radius)
        bounds = indptr[1:-1]
        idx_rows = _object_rows(np.split(idx, bounds))
        if not return_distance:
            return idx_rows
        return _object_rows(np.split(dist, bounds)), idx_rows

    def kneighbors_graph(
        self,
        B: ArrayLike | None = None,
        n_neighbors: int | None = None,
        mode: str = "connectivity",
    ) -> csr_matrix:
        """Sparse graph of the k nearest neighbours of each query.

        Parameters
        ----------
        B : array-like of shape (n_queries, n_features_in_), default=None
            Query codes; None uses the database, without self-loops.
        n_neighbors : int, default=None
            Defaults to the constructor's ``n_neighbors``.
        mode : {"connectivity", "distance"}, default="connectivity"
            Entries are 1 or the Hamming distance (explicit zeros kept).

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_samples_fit_)
            float64 entries.
        """
        _check_mode(mode)
        dist, idx = self.kneighbors(B, n_neighbors)
        n_queries, k = idx.shape
        indptr = np.arange(0, n_queries * k + 1, k)
        return self._graph(indptr, dist.ravel(), idx.ravel(), mode)

    def radius_neighbors_graph(
        self,
        B: ArrayLike | None = None,
        radius: float | None = None,
        mode: str = "connectivity",
        sort_results: bool = True,
    ) -> csr_matrix:
        """Sparse graph of the neighbours within ``radius`` of each query.

        Parameters
        ----------
        B : array-like of shape (n_queries, n_features_in_), default=None
            Query codes; None uses the database, without self-loops.
        radius : float, default=None
            Defaults to the constructor's ``radius``.
        mode : {"connectivity", "distance"}, default="connectivity"
            Entries are 1 or the Hamming distance (explicit zeros kept).
        sort_results : bool, default=True
            Accepted for compatibility; rows are always ordered by
            (distance, index).

        Returns
        -------
        graph : scipy.sparse.csr_matrix of shape (n_queries, n_samples_fit_)
            float64 entries.
        """
        _check_mode(mode)
        return self._graph(*self._radius_csr(B, radius), mode)

    def predict(self, B: ArrayLike) -> np.ndarray:
        """Majority label among the ``n_neighbors`` nearest database codes.

        With class labels, ties between labels go to the smallest label, as
        in :class:`sklearn.neighbors.KNeighborsClassifier`. With a multi-label
        indicator, each label is voted on separately: it is predicted when
        more than half of the neighbours carry it.

        Parameters
        ----------
        B : array-like of shape (n_queries, n_features_in_)
            Query codes.

        Returns
        -------
        labels : ndarray of shape (n_queries,) or (n_queries, n_labels)
            Class labels, or an indicator matrix when fitted with one.
        """
        check_is_fitted(self)
        self._check_has_labels("predict")
        idx = self.kneighbors(B, return_distance=False)
        y = self.y_.reshape(self.n_samples_fit_, -1)
        votes = np.column_stack([_majority(column, idx) for column in y.T])
        return votes.ravel() if self.y_.ndim == 1 else votes

    def score(self, B: ArrayLike, y: ArrayLike, sample_weight: None = None) -> float:
        """MAP@n_neighbors of queries ``B`` against the database.

        ``map_score(B, y, k=n_neighbors)``, with k capped at the database
        size; see :meth:`map_score`.

        Parameters
        ----------
        B : array-like of shape (n_queries, n_features_in_)
            Query codes.
        y : {array-like, sparse matrix} of shape (n_queries,) or \
                (n_queries, n_labels)
            Labels of the queries, of the same kind as those given to
            :meth:`fit`.
        sample_weight : None
            Not supported; present for the sklearn ``score`` signature.

        Returns
        -------
        score : float
            Mean average precision in [0, 1].
        """
        check_is_fitted(self)
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by HammingNeighbors.score.")
        return self.map_score(B, y, k=min(self.n_neighbors, self.n_samples_fit_))

    def map_score(
        self, B: ArrayLike, y: ArrayLike, *, k: int | None = None, ties: str = "index"
    ) -> float:
        """MAP@k of queries ``B`` against the fitted database, relevance from labels.

        Each query ranks the database by Hamming distance; a database code is
        relevant to a query when it has the same class or, with multi-label
        indicators, shares at least one label (``y_``). This is what
        :meth:`score` and the scorer of :func:`~skdistillhash.make_map_scorer`
        compute for a database, the one way the metrics reach it.

        Parameters
        ----------
        B : array-like of shape (n_queries, n_features_in_)
            Query codes.
        y : {array-like, sparse matrix} of shape (n_queries,) or \
                (n_queries, n_labels)
            Labels of the queries, of the same kind as those given to
            :meth:`fit`: class labels (1-D or a single column), or a
            multi-label indicator with the same columns.
        k : int, default=None
            Length of the ranked list, at most the database size; None means
            the whole database (MAP@all).
        ties : {"index", "average"}, default="index"
            Tie policy, as in :func:`~skdistillhash.mean_average_precision`.

        Returns
        -------
        score : float
            Mean average precision in [0, 1].

        Examples
        --------
        >>> import numpy as np
        >>> from skdistillhash import HammingNeighbors
        >>> B = np.array([[0, 0], [1, 1], [0, 1], [1, 0]])
        >>> nn = HammingNeighbors(backend="numpy").fit(B, y=[0, 1, 0, 1])
        >>> round(nn.map_score([[0, 0]], [1]), 4)  # relevant at ranks 3 and 4
        0.4167
        >>> round(nn.map_score([[0, 0]], [1], ties="average"), 4)
        0.4583
        """
        check_is_fitted(self)
        self._check_has_labels("map_score")
        queries = self._validate_queries(B)
        y = _check_labels(y, len(queries), "y", "B")
        if y.ndim != self.y_.ndim:
            kinds = {1: "class labels", 2: "a multi-label indicator"}
            raise ValueError(
                f"y holds {kinds[y.ndim]} but {type(self).__name__} was fitted "
                f"with {kinds[self.y_.ndim]}: scoring needs labels of the same kind."
            )
        return mean_average_precision(
            queries, self.codes_, y, self.y_, k=k, ties=ties, packed=True
        )

    def to_faiss(
        self,
        kind: str = "flat",
        *,
        nlist: int | None = None,
        nprobe: int | None = None,
        train_size: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ):
        """A faiss binary index over the fitted database, for search at scale.

        ``kind="flat"`` is exact (``faiss.IndexBinaryFlat``); ``kind="ivf"``
        is approximate (``faiss.IndexBinaryIVF``, ``nprobe`` of ``nlist``
        lists scanned per query). Ids are database indices; query the index
        with packed codes (``hasher.predict(X)``). Built with this estimator's
        ``n_jobs`` threads. See
        :func:`~skdistillhash.approximate.to_faiss_index` for the parameters,
        and :func:`~skdistillhash.approximate.compare_to_exact` to measure
        what an approximate index costs against :meth:`kneighbors`.

        Parameters
        ----------
        kind : {"flat", "ivf"}, default="flat"
            Exact scan or inverted file.
        nlist, nprobe, train_size, random_state
            IVF settings, as in
            :func:`~skdistillhash.approximate.to_faiss_index`.

        Returns
        -------
        index : faiss.IndexBinaryFlat or faiss.IndexBinaryIVF
            The index over ``codes_``, ready to search.

        Examples
        --------
        >>> import numpy as np
        >>> from skdistillhash.neighbors import HammingNeighbors
        >>> B = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 1], [1, 1, 1, 1]])
        >>> index = HammingNeighbors().fit(B).to_faiss()
        >>> index.d, index.ntotal  # 4 bits padded to one byte with zeros
        (8, 4)
        >>> query = np.packbits([[0, 0, 1, 0]], axis=1, bitorder="little")
        >>> dist, idx = index.search(query, 1)
        >>> int(dist[0, 0])
        1
        """
        params = dict(kind=kind, nlist=nlist, nprobe=nprobe, train_size=train_size,
                      random_state=random_state, n_jobs=self.n_jobs)
        validate_parameter_constraints(INDEX_CONSTRAINTS, params, caller_name="HammingNeighbors.to_faiss")
        check_is_fitted(self)
        return build_index(self.codes_, **params, caller="HammingNeighbors.to_faiss")

    def _get_index(self):
        """The backend's index, as the current parameters say.

        The index is dropped on pickling (faiss objects do not pickle, and it
        would duplicate ``codes_``), so it is rebuilt on first use after
        loading; also after ``set_params(backend=...)``. ``n_jobs`` is read at
        each query.
        """
        index = getattr(self, "_index", None)
        if index is None or getattr(self, "_index_backend", None) != self.backend:
            index = make_index(self.backend, self.codes_, self.n_jobs)
            self._index, self._index_backend = index, self.backend
        index.n_jobs = self.n_jobs
        return index

    def _radius_csr(self, B, radius):
        check_is_fitted(self)
        r = self._check_radius(radius)
        queries = self.codes_ if B is None else self._validate_queries(B)
        if self._uses_mih(r):
            if getattr(self, "_mih", None) is None:
                self._mih = MultiIndexHashing(self.codes_)
            index = self._mih
        else:
            index = self._get_index()
        indptr, dist, idx = index.radius(queries, r)
        if B is None:
            rows = np.repeat(np.arange(len(queries)), np.diff(indptr))
            keep = idx != rows
            counts = np.bincount(rows[keep], minlength=len(queries))
            indptr = np.concatenate([[0], np.cumsum(counts)])
            dist, idx = dist[keep], idx[keep]
        return indptr, dist, idx

    def _uses_mih(self, r):
        """Whether a radius-``r`` query runs on the MIH tables rather than a scan."""
        if self.algorithm != "auto":
            return self.algorithm == "mih"
        # MIH runs on the CPU; the torch backend's users want their device.
        n_bits = 8 * self.codes_.shape[1]
        return self.backend != "torch" and prefers_mih(self.n_samples_fit_, n_bits, r)

    def _graph(self, indptr, dist, idx, mode):
        data = np.ones(len(idx)) if mode == "connectivity" else dist.astype(np.float64)
        return csr_matrix((data, idx, indptr), shape=(len(indptr) - 1, self.n_samples_fit_))

    def _check_radius(self, radius):
        radius = self.radius if radius is None else radius
        if not isinstance(radius, Real) or np.isnan(radius) or radius < 0:
            raise ValueError(f"radius must be a number >= 0; got {radius!r}.")
        # Distances are integers: d <= radius iff d <= floor(radius).
        return int(min(np.floor(radius), self.n_bits_))

    def _check_has_labels(self, method):
        if self.y_ is None:
            raise ValueError(
                f"{type(self).__name__} was fitted without labels, so {method}() has "
                "none to use: fit(B, y) with the labels of the database codes."
            )

    def __getstate__(self):
        # The base state can be this estimator's own __dict__: filter a copy,
        # or pickling (and copy.copy) would strip the index from the original.
        state = super().__getstate__()
        return {name: value for name, value in state.items()
                if name not in ("_index", "_mih")}

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Labels are optional (they only feed predict and score).
        tags.target_tags.required = False
        # Inputs are bits or packed bytes: never NaN, never sparse.
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


def _drop_self(dist, idx):
    """Remove query i's own index from row i of a top-(k + 1) answer.

    If i is absent (more than k exact duplicates with smaller indices), the
    last column goes instead: the rest is then the top-k of the others.
    """
    keep = idx != np.arange(len(idx))[:, None]
    keep[keep.all(axis=1), -1] = False
    k = idx.shape[1] - 1
    return dist[keep].reshape(-1, k), idx[keep].reshape(-1, k)


def _majority(labels, idx):
    """Most frequent label among the neighbours ``idx``; ties -> smallest label."""
    classes, encoded = np.unique(labels, return_inverse=True)
    n_queries = len(idx)
    rows = np.repeat(np.arange(n_queries), idx.shape[1])
    counts = np.bincount(rows * len(classes) + encoded[idx].ravel(),
                         minlength=n_queries * len(classes))
    # argmax returns the first maximum: classes are sorted, so the smallest.
    return classes[counts.reshape(n_queries, len(classes)).argmax(axis=1)]


def _object_rows(parts):
    rows = np.empty(len(parts), dtype=object)
    for i, part in enumerate(parts):
        rows[i] = part
    return rows


def _check_mode(mode):
    if mode not in ("connectivity", "distance"):
        raise ValueError(f'mode must be "connectivity" or "distance"; got {mode!r}.')


@validate_params(
    {"answers": [list, tuple], "n_neighbors": [IntInterval(1, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def merge_kneighbors(
    answers: list[tuple[np.ndarray, np.ndarray]], n_neighbors: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge the k-nearest-neighbour answers of shards into the exact answer.

    Exact search over a database split into shards gives the answer of one
    index over all of it when every shard returns its top ``k`` (or all its
    codes, if fewer) ordered by (distance, index), with global indices: as
    :meth:`HammingNeighbors.kneighbors` on a shard, its indices offset by
    the shard's first row. (distance, index) is a total order, so the global
    top ``k`` lies inside the union of the shards' answers, and this keeps
    its ``k`` smallest pairs, ties included.
    :class:`~skdistillhash.dask.DaskHammingNeighbors` merges with it; so can
    any other way of running shards (processes, Ray, machines).

    Parameters
    ----------
    answers : list of (dist, idx) pairs
        One pair of ``(n_queries, k_s)`` arrays per shard, global indices;
        any ``k_s``.
    n_neighbors : int
        Neighbours to keep per query. Where the answers hold fewer (a merge
        of some of the shards, itself to be merged further), all are kept.

    Returns
    -------
    dist : ndarray of shape (n_queries, min(n_neighbors, sum of k_s))
        Hamming distances, ascending.
    idx : ndarray of shape (n_queries, min(n_neighbors, sum of k_s))
        Global indices, ordered by (distance, index).

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.neighbors import HammingNeighbors, merge_kneighbors
    >>> B = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 1], [0, 1, 1]])
    >>> query = [[0, 0, 0]]
    >>> first = HammingNeighbors(n_neighbors=2).fit(B[:2]).kneighbors(query)
    >>> dist, idx = HammingNeighbors(n_neighbors=2).fit(B[2:]).kneighbors(query)
    >>> merge_kneighbors([first, (dist, idx + 2)], 3)
    (array([[0, 1, 2]], dtype=int32), array([[0, 2, 3]]))
    """
    dist, idx = _check_answers(answers)
    order = np.lexsort((idx, dist), axis=1)[:, :n_neighbors]
    return np.take_along_axis(dist, order, axis=1), np.take_along_axis(idx, order, axis=1)


def _check_answers(answers) -> tuple[np.ndarray, np.ndarray]:
    """The shards' ``(dist, idx)`` answers side by side, after checking that they
    are answers: pairs of integer 2-D arrays of one shape, one row per query in all."""
    if len(answers) == 0:
        raise ValueError("answers is empty: merge_kneighbors needs the answer of at least one shard.")
    dists, idxs = [], []
    for i, answer in enumerate(answers):
        if not isinstance(answer, (tuple, list)) or len(answer) != 2:
            raise ValueError(
                f"answers[{i}] must be a (dist, idx) pair, as kneighbors returns; got {answer!r:.80}."
            )
        dist, idx = np.asarray(answer[0]), np.asarray(answer[1])
        if dist.ndim != 2 or dist.shape != idx.shape:
            raise ValueError(
                f"answers[{i}] must hold dist and idx of one shape (n_queries, k); got "
                f"shapes {dist.shape} and {idx.shape}."
            )
        if not (np.issubdtype(dist.dtype, np.integer) and np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(
                f"answers[{i}] must hold integer distances and indices; got dtypes "
                f"{dist.dtype} and {idx.dtype}."
            )
        if dists and len(dist) != len(dists[0]):
            raise ValueError(
                f"answers[{i}] answers {len(dist)} queries and answers[0] {len(dists[0])}: "
                "every shard must answer the same queries."
            )
        dists.append(dist)
        idxs.append(idx)
    return np.concatenate(dists, axis=1), np.concatenate(idxs, axis=1)
