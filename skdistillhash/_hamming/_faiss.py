"""faiss backend: ``faiss.IndexBinaryFlat``, held to the (distance, index) rule.

faiss computes exact distances, so every code closer than the k-th distance
``t`` is always in its answer. Which of the codes *at* distance ``t`` it
returns is an implementation detail (its heap happens to prefer small ids,
but nothing documents that), so we never rely on it:

1. ask faiss for ``2k`` neighbours (little slower than ``k``: the scan dominates);
2. a query whose ``2k``-th distance exceeds ``t`` received every code at
   distance ``t``: sort by (distance, index) and keep ``k``. Exact.
3. otherwise the codes below ``t`` are still complete, and the missing ones
   are the first few codes at distance exactly ``t`` in index order, which
   :meth:`NumpyIndex.first_at_distance` finds with a scan that stops early.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from joblib import effective_n_jobs

from ._numpy import NumpyIndex

try:
    import faiss
except ImportError:  # the optional extra is not installed
    faiss = None

INSTALL_HINT = "pip install skdistillhash[faiss]"


def faiss_available() -> bool:
    """Whether the optional faiss dependency can be imported."""
    return faiss is not None


@contextmanager
def _omp_threads(n_jobs):
    """Run faiss with ``n_jobs`` OpenMP threads, restoring the global setting.

    ``n_jobs`` follows joblib's convention (None: 1 unless in a
    ``joblib.parallel_config`` context), resolved now, at the call.
    """
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(effective_n_jobs(n_jobs))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(previous)


class FaissIndex:
    """Exact Hamming search through ``faiss.IndexBinaryFlat``.

    Parameters
    ----------
    codes : ndarray of uint8, shape (n_samples, n_bytes)
        Packed database codes; faiss takes them unchanged (same bit layout,
        and whole bytes, so ``n_bytes * 8`` bits with zero padding).
    n_jobs : int or None
        OpenMP threads for faiss during each call, in joblib's convention
        (None: 1 unless in a ``joblib.parallel_config`` context; -1: all
        cores). faiss's thread count is process-global: it is set for the
        call and restored afterwards.
    """

    def __init__(self, codes: np.ndarray, *, n_jobs: int | None = None):
        if faiss is None:
            raise ImportError(
                "backend='faiss' needs the faiss package, which is not installed: "
                f"{INSTALL_HINT} (or use backend='numpy')."
            )
        self.n_samples, n_bytes = codes.shape
        self.n_jobs = n_jobs
        self._codes = codes
        self._index = faiss.IndexBinaryFlat(8 * n_bytes)
        self._index.add(codes)
        self._tie_scanner = None

    def knn(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest codes of each query, ordered by (distance, index)."""
        n = self.n_samples
        fetch = min(n, 2 * k)
        with _omp_threads(self.n_jobs):
            dist, idx = self._index.search(queries, fetch)
        keys = np.sort(dist.astype(np.int64) * n + idx, axis=1)
        dist, idx = np.divmod(keys, n)
        dist = dist.astype(np.int32)
        t = dist[:, k - 1]
        open_rows = np.flatnonzero(dist[:, -1] == t) if fetch < n else np.zeros(0, np.intp)
        if open_rows.size:
            self._settle_ties(queries, dist, idx, t, open_rows, k)
        return dist[:, :k], idx[:, :k]

    def _settle_ties(self, queries, dist, idx, t, rows, k):
        """Fill each open row's slots at distance ``t`` with the smallest indices."""
        if self._tie_scanner is None:
            self._tie_scanner = NumpyIndex(self._codes)
        self._tie_scanner.n_jobs = self.n_jobs
        below = (dist[rows] < t[rows, None]).sum(axis=1)
        ties = self._tie_scanner.first_at_distance(queries[rows], t[rows], k - below)
        for row, n_below, tied in zip(rows, below, ties):
            idx[row, n_below:k] = tied
            dist[row, n_below:k] = t[row]

    def radius(self, queries: np.ndarray, r: int):
        """All codes within distance ``r``, CSR rows ordered by (distance, index)."""
        with _omp_threads(self.n_jobs):
            # faiss keeps distances strictly below its radius.
            lims, dist, idx = self._index.range_search(queries, r + 1)
        lims = lims.astype(np.int64)
        rows = np.repeat(np.arange(len(queries)), np.diff(lims))
        order = np.lexsort((idx, dist, rows))
        return lims, dist[order].astype(np.int32), idx[order].astype(np.int64)
