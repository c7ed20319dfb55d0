"""Numpy backend: XOR + popcount on uint64 words."""

from __future__ import annotations

import numpy as np

from .._bits import to_words


def pairwise_hamming(query_codes: np.ndarray, db_codes: np.ndarray) -> np.ndarray:
    """Dense Hamming distances between two sets of packed codes.

    Parameters
    ----------
    query_codes, db_codes : ndarray of uint8, shapes (nq, n_bytes), (nd, n_bytes)
        Packed codes of the same width (validated by the caller).

    Returns
    -------
    dist : ndarray of shape (nq, nd), dtype int32
        Memory is nq * nd * 4 bytes: callers block over queries.
    """
    q = to_words(query_codes)
    d = to_words(db_codes)
    dist = np.zeros((q.shape[0], d.shape[0]), dtype=np.int32)
    for w in range(q.shape[1]):
        dist += np.bitwise_count(q[:, w, None] ^ d[None, :, w])
    return dist
