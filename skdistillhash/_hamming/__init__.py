"""Exact Hamming search backends behind one interface (private).

Every index is built from packed uint8 codes (FAISS layout) and answers

- ``knn(queries, k) -> (dist, idx)``: int32 distances and int64 indices of
  shape (n_queries, k), each row ordered by (distance, index);
- ``radius(queries, r) -> (indptr, dist, idx)``: every code within distance
  ``r`` (an int), as CSR arrays, each row ordered by (distance, index).

Ties are broken by database index in every backend, so all of them return
identical arrays. Callers validate inputs and require ``1 <= k <= n_samples``.

torch is a dependency of the package (the hashers need it) and is imported
with it, so the torch backend is imported here like the others.
"""

from __future__ import annotations

import numpy as np

from ._faiss import INSTALL_HINT, FaissIndex, faiss_available
from ._mih import MultiIndexHashing, prefers_mih
from ._numpy import NumpyIndex, pairwise_hamming
from ._torch_backend import TorchIndex

BACKENDS = ("auto", "numpy", "faiss", "torch")

__all__ = [
    "BACKENDS",
    "INSTALL_HINT",
    "MultiIndexHashing",
    "faiss_available",
    "make_index",
    "pairwise_hamming",
    "prefers_mih",
]


def make_index(backend: str, codes: np.ndarray, n_jobs: int | None = None):
    """Build the search index for ``backend`` over packed ``codes``.

    ``"auto"`` is faiss when importable, else numpy. ``n_jobs`` sets the
    numpy threads, faiss's OpenMP threads or torch's CPU threads, in
    joblib's convention (None means 1 unless in a ``joblib.parallel_config``
    context; -1 every core), resolved at each query so that a context around
    the query applies.
    """
    if backend == "auto":
        backend = "faiss" if faiss_available() else "numpy"
    if backend == "numpy":
        return NumpyIndex(codes, n_jobs=n_jobs)
    if backend == "faiss":
        return FaissIndex(codes, n_jobs=n_jobs)
    if backend == "torch":
        return TorchIndex(codes, n_jobs=n_jobs)
    raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}.")
