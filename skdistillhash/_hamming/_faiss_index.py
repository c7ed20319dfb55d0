"""Building a faiss binary index over packed codes: the hand-off to FAISS.

:func:`skdistillhash.approximate.to_faiss_index` and
:meth:`skdistillhash.HammingNeighbors.to_faiss` both build here, from the
codes alone, so that neither the estimator's module nor the measuring
functions import each other.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.random import sample_without_replacement

from .._base import N_JOBS_CONSTRAINT
from .._sklearn_compat import Interval, StrOptions
from . import _faiss

#: Index kinds: exact brute force, or an inverted file.
KINDS = ("flat", "ivf")
# faiss's k-means (faiss.ClusteringParameters) warns below this many training
# points per centroid, and subsamples to at most the second number per centroid.
_MIN_POINTS_PER_LIST = 39
_MAX_POINTS_PER_LIST = 256

POSITIVE = [Interval(Integral, 1, None, closed="left")]
#: Constraints of the index parameters, wherever an index is built.
INDEX_CONSTRAINTS = {
    "kind": [StrOptions(set(KINDS))],
    "nlist": [*POSITIVE, None],
    "nprobe": [*POSITIVE, None],
    "train_size": [*POSITIVE, None],
    "random_state": ["random_state"],
    "n_jobs": N_JOBS_CONSTRAINT,
}


def require_faiss(what: str):
    """The faiss module, or an ImportError naming the extra that installs it."""
    if _faiss.faiss is None:
        raise ImportError(
            f"{what} needs the faiss package, which is not installed: "
            f"{_faiss.INSTALL_HINT}."
        )
    return _faiss.faiss


def default_nlist(n_samples: int) -> int:
    """``4 * sqrt(n)`` lists, at most ``n // 39``, at least 1."""
    return max(1, min(round(4 * math.sqrt(n_samples)), n_samples // _MIN_POINTS_PER_LIST))


def build_index(
    codes: np.ndarray,
    *,
    kind: str,
    nlist: int | None,
    nprobe: int | None,
    train_size: int | None,
    random_state,
    n_jobs: int | None,
    caller: str,
):
    """The faiss index over C-contiguous packed ``codes`` (parameters checked
    against :data:`INDEX_CONSTRAINTS` by the caller, named ``caller`` in errors)."""
    faiss = require_faiss(caller)
    n, n_bytes = codes.shape
    d = 8 * n_bytes
    if kind == "flat":
        given = [name for name, value in
                 (("nlist", nlist), ("nprobe", nprobe), ("train_size", train_size))
                 if value is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} apply to kind='ivf' only; kind='flat' is an exact "
                "scan with no lists to train or probe."
            )
        index = faiss.IndexBinaryFlat(d)
        with _faiss._omp_threads(n_jobs):
            index.add(codes)
        return index

    nlist = default_nlist(n) if nlist is None else nlist
    if nlist > n:
        raise ValueError(
            f"nlist={nlist} exceeds the number of codes ({n}): every list needs a "
            "code to train its centroid on."
        )
    nprobe = 1 if nprobe is None else nprobe
    if nprobe > nlist:
        raise ValueError(f"nprobe={nprobe} must be in [1, nlist={nlist}].")
    train_size = min(n, _MAX_POINTS_PER_LIST * nlist) if train_size is None else train_size
    if not nlist <= train_size <= n:
        raise ValueError(
            f"train_size={train_size} must be in [nlist, n_samples] = [{nlist}, {n}]: "
            "faiss's k-means needs at least one training code per list, and the "
            "sample is drawn from the codes without replacement."
        )
    rng = check_random_state(random_state)
    if train_size < n:
        # sample_without_replacement never materialises a permutation of n,
        # which for a billion codes would not fit in memory.
        rows = np.sort(sample_without_replacement(n, train_size, random_state=rng))
        sample = codes[rows]
    else:
        sample = codes
    quantizer = faiss.IndexBinaryFlat(d)
    # faiss's Python layer keeps a reference to the quantizer in the index.
    index = faiss.IndexBinaryIVF(quantizer, d, nlist)
    index.cp.seed = int(rng.randint(np.iinfo(np.int32).max))
    with _faiss._omp_threads(n_jobs):
        index.train(sample)
        index.add(codes)
    index.nprobe = nprobe
    return index
