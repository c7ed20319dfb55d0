"""Encoding and exact search on Dask: for databases larger than one machine.

Two pieces, both exact (the same answer as the in-memory estimators):

* :func:`encode` maps a fitted hasher over a dask array, chunk by chunk,
  and returns a lazy dask array of packed codes, bits or scores. It is the way
  to encode with Dask: dask-ml's ``ParallelPostFit(hasher).predict`` assumes
  one prediction per row (a 1-D result), but ``predict`` returns packed codes,
  a 2-D array.
* :class:`DaskHammingNeighbors` splits a database of codes into shards, fits
  one :class:`~skdistillhash.neighbors.HammingNeighbors` per shard where the
  shard lives (on the workers of a ``dask.distributed`` cluster), and answers
  k-nearest-neighbour queries by merging the shards' answers in (distance,
  global index) order. Because that order is total, the result equals a
  single ``HammingNeighbors`` over the whole database, ties included.

``encode`` is lazy: it runs wherever its result is computed.
``DaskHammingNeighbors`` runs on the scheduler that ``dask.compute`` would
pick when it is fitted: the ``dask.distributed`` client that is current
(``Client(...)`` made it the default, or ``with client.as_current():``) when
there is one, otherwise dask's local scheduler (threads, unless
``dask.config`` says otherwise). This needs the ``dask`` extra:
``pip install skdistillhash[dask]``.
"""

from __future__ import annotations

import sys
from concurrent.futures import CancelledError

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import BaseHasher, IntInterval
from ._bits import mixed_bits_message, pack_bits
from ._fitting import publish_fit
from ._sklearn_compat import _fit_context
from .neighbors import HammingNeighbors, _CodeSearch, merge_kneighbors

try:
    import dask
    import dask.array as da
    from dask.sizeof import sizeof
except ImportError as exc:  # the optional extra is not installed
    raise ImportError(
        "skdistillhash.dask needs dask, which is not installed: "
        "pip install skdistillhash[dask]"
    ) from exc

__all__ = ["DaskHammingNeighbors", "encode"]

#: encode's outputs: the hasher method that makes each, and its dtype (the
#: dtypes every hasher documents: bits and packed bytes are uint8, the
#: continuous outputs float32).
_OUTPUTS = {
    "packed": ("predict", np.uint8),
    "bits": ("transform", np.uint8),
    "scores": ("decision_function", np.float32),
}

#: Shard answers merged per task: a merge holds this many (n_queries, k)
#: answers at once, and a tree of merges spreads the work over the workers
#: instead of sending every shard's answer to one place.
_MERGE_FAN_IN = 8


def encode(hasher: BaseEstimator, X: da.Array, *, output: str = "packed") -> da.Array:
    """Encode a dask array with a fitted hasher, lazily, chunk by chunk.

    Each chunk of rows is encoded by ``hasher.predict``, ``transform`` or
    ``decision_function`` where it lives. Hashers encode every feature row on
    its own, on one thread, in blocks of one shape, so the result equals the
    in-memory call on the whole array to the bit, however the rows are
    chunked and on any scheduler. (Images through a DistillHash backbone are
    encoded in batches, whose convolutions may round differently: there a
    score may differ in its last bits.)

    Parameters
    ----------
    hasher : DistillHash, ITQHash, LSHHash or Pipeline
        A fitted hasher, or a fitted :class:`~sklearn.pipeline.Pipeline` whose
        last step is one (for instance a scaler followed by a hasher).
    X : dask.array.Array of shape (n_samples, n_features) or (n_samples, C, H, W)
        Samples chunked along the rows; any split of the other axes is undone
        (each chunk must hold whole samples). 4-D images only for a
        DistillHash fitted on images.
    output : {"packed", "bits", "scores"}, default="packed"
        ``"packed"``: ``predict``, uint8 codes of ``ceil(n_bits / 8)`` bytes
        in the FAISS layout; ``"bits"``: ``transform``, one uint8 column in
        {0, 1} per bit; ``"scores"``: ``decision_function``, float32.

    Returns
    -------
    codes : dask.array.Array of shape (n_samples, ceil(n_bits / 8)) or (n_samples, n_bits)
        Lazy; chunked like the rows of ``X``. Compute it, store it
        (``to_zarr``), or fit a :class:`DaskHammingNeighbors` on it.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from skdistillhash import LSHHash
    >>> from skdistillhash.dask import encode
    >>> X = np.random.default_rng(0).normal(size=(100, 5))
    >>> hasher = LSHHash(n_bits=12, random_state=0).fit(X)
    >>> codes = encode(hasher, da.from_array(X, chunks=30))
    >>> codes.chunks, codes.dtype
    (((30, 30, 30, 10), (2,)), dtype('uint8'))
    >>> np.array_equal(codes.compute(), hasher.predict(X))
    True
    """
    if output not in _OUTPUTS:
        raise ValueError(f"output must be one of {sorted(_OUTPUTS)}; got {output!r}.")
    final = hasher[-1] if isinstance(hasher, Pipeline) else hasher
    if not isinstance(final, BaseHasher):
        raise TypeError(
            "encode needs a hasher (DistillHash, ITQHash, LSHHash) or a Pipeline "
            f"ending in one; got {type(final).__name__}."
        )
    check_is_fitted(hasher)
    if not isinstance(X, da.Array):
        raise TypeError(
            f"X must be a dask array; got {type(X).__name__}. Wrap it with "
            "dask.array.from_array(X, chunks=...), or call the hasher directly on "
            "in-memory data."
        )
    if hasher is final:
        # A DistillHash fitted on images records it; everything else takes 2-D.
        ndim = getattr(hasher, "input_ndim_", 2)
        if X.ndim != ndim:
            shape = "(n_samples, n_features)" if ndim == 2 else "(n_samples, C, H, W)"
            raise ValueError(f"X must be {ndim}-D {shape}; got a dask array with ndim={X.ndim}.")
    elif X.ndim < 2:
        # What a pipeline's first step takes is its own business (images for
        # an image DistillHash behind a normalising step, say); rows it needs.
        raise ValueError(f"X must hold samples along its rows, 2-D or more; got ndim={X.ndim}.")
    n_features = getattr(hasher, "n_features_in_", None)
    if np.isnan(X.shape[1]):
        raise ValueError(
            "X has an unknown number of columns; call X.compute_chunk_sizes() first."
        )
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(hasher).__name__} is expecting "
            f"{n_features} features as input."
        )
    method, dtype = _OUTPUTS[output]
    n_bits = final.n_bits_
    width = -(-n_bits // 8) if output == "packed" else n_bits
    # The hasher enters the graph as one key, shipped once to each worker; a
    # plain argument would be repeated in every task (dask's "large object in
    # task graph" warning).
    return da.map_blocks(
        _encode_block,
        X.rechunk({axis: -1 for axis in range(1, X.ndim)}),
        dask.delayed(hasher, pure=True),
        method,
        width,
        dtype,
        token=f"encode-{output}",
        dtype=dtype,
        chunks=(X.chunks[0], (width,)),
        drop_axis=list(range(2, X.ndim)),
        meta=np.empty((0, width), dtype=dtype),
    )


def _encode_block(block, hasher, method, width, dtype):
    # Empty chunks happen (slicing, masks); sklearn refuses 0 samples.
    if len(block) == 0:
        return np.empty((0, width), dtype=dtype)
    return getattr(hasher, method)(block)


class DaskHammingNeighbors(_CodeSearch):
    """Exact k-nearest-neighbour search over codes sharded on Dask workers.

    :meth:`fit` takes a database of codes, as a dask array (each row chunk is
    a shard) or in memory (split into ``n_shards`` shards), and fits one
    :class:`~skdistillhash.neighbors.HammingNeighbors` per shard where the
    shard lives. :meth:`kneighbors` sends the queries to every shard and
    merges the shards' top k in (distance, global index) order: the answer is
    exactly what one ``HammingNeighbors`` over the whole database returns,
    ties included (they go to the smaller database index).

    The scheduler is chosen at :meth:`fit`, as ``dask.compute`` chooses it:
    the current ``dask.distributed`` client if there is one (the shards then
    stay on its workers, as futures; only queries and answers travel),
    otherwise dask's local scheduler (the shards stay in this process). Every
    query uses the same scheduler; if that client is closed, fit again.

    Parameters
    ----------
    n_neighbors : int, default=10
        Number of neighbours for :meth:`kneighbors`.
    packed : bool, default=False
        Input layout, as in ``HammingNeighbors``: False takes bit matrices
        ``(n, n_bits)`` of {0, 1}, bool or {-1, +1}; True takes packed uint8
        codes ``(n, n_bytes)`` in the FAISS layout.
    backend : {"auto", "numpy", "faiss", "torch"}, default="auto"
        Search backend of every shard; "auto" is faiss where the worker has
        it installed, else numpy.
    n_jobs : int, default=None
        Threads each shard's search uses, as in ``HammingNeighbors`` (None
        means 1, which suits workers that run one task per thread).
    n_shards : int, default=None
        Shards to split the database into, of near-equal sizes (a dask array
        is rechunked). None keeps a dask array's row chunks, and splits
        in-memory codes into one shard per thread of the cluster (one per
        CPU core without a distributed client). Empty shards are dropped, so
        a tiny database may have fewer.

    Attributes
    ----------
    shards_ : list of dask.delayed.Delayed
        The fitted shards, persisted: each is a ``HammingNeighbors`` over
        packed codes (``packed=True``), held by a worker (or by this process
        without a distributed client).
    shard_offsets_ : ndarray of shape (n_shards_ + 1,), dtype int64
        Global indices: shard ``i`` holds database rows
        ``shard_offsets_[i]`` to ``shard_offsets_[i + 1] - 1``.
    n_shards_ : int
        Number of (non-empty) shards.
    n_samples_fit_ : int
        Number of codes in the database.
    n_bits_ : int
        Bits per code: the number of columns of a bit matrix, or
        ``8 * n_bytes`` for packed input.
    n_features_in_ : int
        Columns of the input seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when fitted on a DataFrame with string column names.

    See Also
    --------
    skdistillhash.neighbors.HammingNeighbors : The in-memory index, with
        radius search, labels and scoring.
    encode : Encode a dask array with a fitted hasher.

    Notes
    -----
    A fitted instance cannot be pickled (nor copied): its shards are handles
    to data on the workers, meaningless anywhere else. ``clone`` works, and so
    does pickling an unfitted instance. To save an index, save the codes, or
    pickle a ``HammingNeighbors`` fitted on them.

    In-memory codes reach the workers through the task graph; for a large
    database, build the dask array where the data lives (for instance
    ``dask.array.from_zarr``, or :func:`encode` over a dask array of
    features) so that the codes never pass through the client.

    Examples
    --------
    >>> import numpy as np
    >>> from skdistillhash.dask import DaskHammingNeighbors
    >>> B = np.array([[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 1], [1, 1, 1, 1]])
    >>> nn = DaskHammingNeighbors(n_neighbors=2, n_shards=2).fit(B)
    >>> nn.n_shards_, nn.shard_offsets_
    (2, array([0, 2, 4]))
    >>> nn.kneighbors([[0, 0, 1, 0]])
    (array([[1, 1]], dtype=int32), array([[0, 2]]))
    """

    _parameter_constraints: dict = {
        # The parameters HammingNeighbors takes are passed on to each shard.
        **{name: HammingNeighbors._parameter_constraints[name]
           for name in ("packed", "backend", "n_jobs")},
        "n_neighbors": [IntInterval(1, None, closed="left")],
        "n_shards": [IntInterval(1, None, closed="left"), None],
    }

    def __init__(
        self,
        n_neighbors: int = 10,
        *,
        packed: bool = False,
        backend: str = "auto",
        n_jobs: int | None = None,
        n_shards: int | None = None,
    ):
        self.n_neighbors = n_neighbors
        self.packed = packed
        self.backend = backend
        self.n_jobs = n_jobs
        self.n_shards = n_shards

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, B: ArrayLike | da.Array, y: None = None) -> DaskHammingNeighbors:
        """Fit one ``HammingNeighbors`` per shard of ``B``, where the shard lives.

        Returns once every shard is fitted; an error in any shard (a value
        that is not a bit, say) is raised here. A fit is all or nothing: if
        it fails, the estimator keeps its previous fit or stays unfitted.

        Parameters
        ----------
        B : dask.array.Array or array-like of shape (n_samples, n_bits) or \
                (n_samples, n_bytes)
            Bit matrix, or packed uint8 codes when ``packed=True``. A dask
            array is validated on the workers, shard by shard; its row chunk
            sizes may be unknown (NaN) unless ``n_shards`` is given.
        y : None
            Ignored.

        Returns
        -------
        self : DaskHammingNeighbors
            The fitted index.
        """
        scheduler = _current_scheduler()
        # validation_probe's copy.copy would refuse to copy a fitted instance
        # (see __getstate__); an unfitted clone serves the same purpose.
        probe = clone(self)
        packed = self.packed
        if isinstance(B, da.Array):
            B = self._check_dask_codes(B)
            probe.n_features_in_ = B.shape[1]
            n_bits = B.shape[1] * (8 if packed else 1)
        else:
            B = validate_data(probe, B, dtype=None)
            n_bits = B.shape[1] * (8 if packed else 1)
            # Checked and packed whole, as HammingNeighbors does, so that the
            # answer never depends on how the rows are split into shards.
            B = self._pack(B)
            packed = True
            n_shards = self.n_shards or _n_threads(scheduler)
            B = da.from_array(B, chunks=(_split(len(B), n_shards), -1))
        blocks = B.to_delayed().ravel()
        fits = [dask.delayed(_fit_shard)(block, packed, self.backend, self.n_jobs) for block in blocks]
        # Which of 0 and -1 each block holds, computed with its shard (one read
        # of each block): a database may not mix {0, 1} and {-1, +1} bits
        # across shards any more than within one.
        values = [] if packed else [dask.delayed(_zero_and_minus_one)(block) for block in blocks]
        persisted = dask.persist(*fits, *values, scheduler=scheduler)
        shards = persisted[: len(fits)]
        # Waits for every shard; a shard's error is raised here.
        sizes, values = dask.compute(
            [dask.delayed(_n_codes)(shard) for shard in shards], list(persisted[len(fits) :]),
            scheduler=scheduler,
        )
        if any(zero for zero, _ in values) and any(minus for _, minus in values):
            raise ValueError(mixed_bits_message("B"))
        kept = [(shard, size) for shard, size in zip(shards, sizes) if size]
        if not kept:
            raise ValueError("B holds no codes: every chunk is empty.")
        offsets = np.concatenate([[0], np.cumsum([size for _, size in kept])])
        publish_fit(
            self,
            probe,
            shards_=[shard for shard, _ in kept],
            shard_offsets_=offsets,
            n_shards_=len(kept),
            n_samples_fit_=int(offsets[-1]),
            n_bits_=n_bits,
            _fit_packed=self.packed,
            _scheduler=scheduler,
        )
        return self

    def kneighbors(
        self,
        B: ArrayLike,
        n_neighbors: int | None = None,
        return_distance: bool = True,
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """The ``n_neighbors`` nearest database codes of each query.

        Every shard answers with its own top k (all its codes if it holds
        fewer), as global indices; the answers are merged on the workers and
        only the final one comes back.

        Parameters
        ----------
        B : array-like of shape (n_queries, n_features_in_)
            Query codes in the layout given by ``packed``, in memory.
        n_neighbors : int, default=None
            Defaults to the constructor's ``n_neighbors``.
        return_distance : bool, default=True
            Whether to return the distances too.

        Returns
        -------
        dist : ndarray of shape (n_queries, n_neighbors), dtype int32
            Hamming distances, ascending; only with ``return_distance=True``.
        idx : ndarray of shape (n_queries, n_neighbors), dtype int64
            Global database indices, ordered by (distance, index).
        """
        check_is_fitted(self)
        k = self._check_n_neighbors(n_neighbors)
        self._check_k_for_queries(k)
        queries = dask.delayed(self._validate_queries(B), pure=True)
        self._check_shards_alive()
        # The search parameters as they are now: set_params after fit reaches
        # every shard, as it reaches a HammingNeighbors.
        answers = [dask.delayed(_query_shard)(shard, queries, k, offset, self.backend, self.n_jobs)
                   for shard, offset in zip(self.shards_, self.shard_offsets_[:-1])]
        while len(answers) > 1:
            answers = [dask.delayed(merge_kneighbors)(answers[i : i + _MERGE_FAN_IN], k)
                       for i in range(0, len(answers), _MERGE_FAN_IN)]
        try:
            dist, idx = dask.compute(answers[0], scheduler=self._scheduler)[0]
        except CancelledError as exc:  # shards lost while the query ran
            raise RuntimeError(self._lost_shards_message("were lost during the query")) from exc
        return (dist, idx) if return_distance else idx

    def _check_shards_alive(self) -> None:
        """Refuse to query shards that no longer exist: a closed client, or a
        restarted one (its workers dropped every result, the shards with them)."""
        status = getattr(self._scheduler, "status", "running")
        if status != "running":
            raise RuntimeError(
                f"The dask client this {type(self).__name__} was fitted on is {status}, "
                "and its shards with it: fit again under a running client."
            )
        if any(future.status != "finished" for shard in self.shards_ for future in _futures_of(shard)):
            raise RuntimeError(self._lost_shards_message("are no longer on the workers"))

    def _lost_shards_message(self, what: str) -> str:
        return (
            f"The shards of this {type(self).__name__} {what} (the client was restarted, "
            "or workers holding them died): fit again."
        )

    def _check_dask_codes(self, B: da.Array) -> da.Array:
        """Check what can be checked without computing; rechunk into shards."""
        if B.ndim != 2:
            raise ValueError(
                f"B must be 2-D (n_samples, n_features); got a dask array with ndim={B.ndim}."
            )
        if np.isnan(B.shape[1]) or B.shape[1] == 0:
            raise ValueError(
                f"B must have a known, non-zero number of columns; got shape {B.shape}."
            )
        if self.packed and B.dtype != np.uint8:
            raise ValueError(
                f"B must be packed uint8 codes (packed=True); got dtype {B.dtype}."
            )
        if B.shape[0] == 0:
            raise ValueError("B holds no codes: it has 0 rows.")
        # Shards hold whole codes.
        chunks = {1: -1}
        if self.n_shards is not None:
            if np.isnan(B.shape[0]):
                raise ValueError(
                    "B has unknown chunk sizes, so it cannot be split into n_shards "
                    "shards: call B.compute_chunk_sizes() first, or use n_shards=None "
                    "(one shard per chunk)."
                )
            chunks[0] = _split(B.shape[0], self.n_shards)
        return B.rechunk(chunks)

    def __getstate__(self):
        if "shards_" in vars(self):
            raise TypeError(
                f"A fitted {type(self).__name__} cannot be pickled or copied: its shards "
                "live on the dask workers (or in this process's dask memory), out of "
                "reach of a copy. Pickle it unfitted (clone(estimator)) and fit again "
                "after loading, or pickle a HammingNeighbors fitted on the codes."
            )
        return super().__getstate__()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = False
        return tags


def _current_scheduler():
    """The scheduler ``dask.compute`` would use now: a Client, or a local one.

    A Client is kept as itself rather than as its ``get`` method, so that a
    query can tell whether it is still running.
    """
    get = dask.base.get_scheduler() or dask.threaded.get
    try:
        from distributed import Client
    except ImportError:  # no distributed, so no client
        return get
    owner = getattr(get, "__self__", None)
    return owner if isinstance(owner, Client) else get


def _n_threads(scheduler) -> int:
    """Threads of the cluster behind a Client; the CPU cores for a local scheduler."""
    if callable(getattr(scheduler, "nthreads", None)):
        return max(1, sum(scheduler.nthreads().values()))
    return dask.system.CPU_COUNT


def _split(n: int, n_parts: int) -> tuple[int, ...]:
    """Near-equal sizes of ``n_parts`` consecutive parts of ``n`` rows, none empty."""
    size, extra = divmod(n, n_parts)
    return tuple(s for s in (size + 1,) * extra + (size,) * (n_parts - extra) if s)


def _fit_shard(block, packed, backend, n_jobs):
    """One shard's index over packed codes (queries arrive packed); None if empty."""
    if len(block) == 0:
        return None
    codes = block if packed else pack_bits(block)
    return HammingNeighbors(packed=True, backend=backend, n_jobs=n_jobs).fit(codes)


def _n_codes(shard) -> int:
    return 0 if shard is None else shard.n_samples_fit_


def _zero_and_minus_one(block) -> tuple[bool, bool]:
    """Whether a block of bits holds a 0, and whether it holds a -1."""
    block = np.asarray(block)
    return bool(np.any(block == 0)), bool(np.any(block == -1))


def _query_shard(shard, queries, k, offset, backend, n_jobs):
    """A shard's top k (all its codes if fewer), with global indices."""
    # In place: a shard rebuilds its index only when the backend changes.
    shard.set_params(backend=backend, n_jobs=n_jobs)
    dist, idx = shard.kneighbors(queries, min(k, shard.n_samples_fit_))
    return dist, idx + offset


def _futures_of(shard) -> list:
    """The distributed futures behind a persisted shard (none on a local scheduler)."""
    try:
        from distributed import futures_of
    except ImportError:
        return []
    return futures_of(shard)


@sizeof.register(HammingNeighbors)
def _sizeof_hamming_neighbors(nn) -> int:
    # dask's default sizeof for an object is a few dozen bytes; the scheduler
    # would then think a shard cheaper to move than the queries and ship
    # whole shards between workers. The codes are held twice (codes_ and the
    # backend's index).
    codes = getattr(nn, "codes_", None)
    return sys.getsizeof(nn) if codes is None else 2 * codes.nbytes
