"""What the tests compare the package against: brute force, written plainly.

Every distance is computed, every ranking sorted in full, with none of the
package's blocking, packing into words or early exits, so that a test against
these checks the fast code rather than a second copy of it. The test modules
import this module by name: pytest's default ("prepend") import mode puts
tests/ on ``sys.path`` for the conftest.py there.
"""

import importlib.util
import itertools

import numpy as np
import pytest

#: Marks a test that needs the optional faiss extra.
needs_faiss = pytest.mark.skipif(
    importlib.util.find_spec("faiss") is None, reason="faiss not installed"
)

#: The search backends that must give identical answers.
BACKENDS = ["numpy", "torch", pytest.param("faiss", marks=needs_faiss)]


def pack(bits):
    """Bits ({0, 1}, bool or {-1, +1}) as packed codes in the public FAISS layout:
    bit ``j`` is bit ``j % 8`` of byte ``j // 8``."""
    return np.packbits(np.asarray(bits) > 0, axis=1, bitorder="little")


def hamming_distances(queries, database):
    """Every distance between two code sets, 0/1 bit matrices or packed codes:
    the bits set in the XOR of two codes are the bits in which they differ."""
    xor = np.bitwise_xor(np.asarray(queries)[:, None, :], np.asarray(database)[None, :, :])
    return np.bitwise_count(xor).sum(axis=2, dtype=np.int64)


def brute_knn(queries, database, k=None, *, exclude_self=False):
    """``(dist, idx)`` of each query's ``k`` nearest codes (all by default),
    ordered by (distance, index). With ``exclude_self`` the queries are the
    database and query ``i`` is left out of its own answer."""
    dist = hamming_distances(queries, database)
    if exclude_self:
        n = len(queries)
        dist[np.arange(n), np.arange(n)] = np.iinfo(dist.dtype).max  # ranks last ...
        k = n - 1 if k is None else k  # ... and is cut off
    # A stable sort keeps equal distances in index order.
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, axis=1), order


def brute_radius(queries, database, radius, *, exclude_self=False):
    """Per query, ``(dist, idx)`` of every code within ``radius``, ordered as
    :func:`brute_knn` orders them."""
    dist, idx = brute_knn(queries, database, exclude_self=exclude_self)
    return [(d[d <= radius], i[d <= radius]) for d, i in zip(dist, idx)]


def relevant(query_label, db_labels):
    """Per database item: the query's class, or (multi-label) a label in common."""
    if np.ndim(query_label) == 0:
        return db_labels == query_label
    return ((db_labels == 1) & (np.asarray(query_label) == 1)).any(axis=1)


def rankings(dist, rel, ties):
    """Every ranking the tie policy considers, as relevance in rank order.

    "index": the one ranking by (distance, index). "average": every ordering
    of the items within each group of equal distance, all equally likely.
    """
    if ties == "index":
        return [rel[np.argsort(dist, kind="stable")]]
    groups = [np.flatnonzero(dist == value) for value in np.unique(dist)]
    return [
        np.concatenate([rel[list(group)] for group in ordering])
        for ordering in itertools.product(*(itertools.permutations(g) for g in groups))
    ]


def average_precision(ranked):
    """Mean, over the relevant items in ``ranked``, of the precision at their rank."""
    if not ranked.any():
        return 0.0
    ranks = np.flatnonzero(ranked) + 1
    return float(np.mean(np.arange(1, len(ranks) + 1) / ranks))


def precision(ranked):
    """Fraction of relevant items in ``ranked``."""
    return float(np.mean(ranked))


def brute_mean(measure, Q, D, q_labels, db_labels, k=None, ties="index", exclude_self=False):
    """``measure`` of each query's top ``k`` (all by default), averaged over the
    rankings its ties allow, then over the queries. Codes are bit matrices;
    with ``exclude_self`` they are one set and each query leaves itself out."""
    # Packed first: eight bits a byte keeps digits-sized problems cheap.
    dist = hamming_distances(pack(Q), pack(D))
    q_labels, db_labels = np.asarray(q_labels), np.asarray(db_labels)
    scores = []
    for i in range(len(Q)):
        keep = np.flatnonzero(np.arange(len(D)) != i) if exclude_self else np.arange(len(D))
        rel = relevant(q_labels[i], db_labels[keep])
        top = len(keep) if k is None else k
        scores.append(np.mean([measure(r[:top]) for r in rankings(dist[i, keep], rel, ties)]))
    return float(np.mean(scores))


def brute_leave_one_out_map(bits, y, k=None, ties="index"):
    """MAP of a code set against itself, each sample querying all the others."""
    return brute_mean(average_precision, bits, bits, y, y, k, ties, exclude_self=True)


def brute_ball(Q, D, q_labels, db_labels, radius):
    """Mean precision and mean recall of the codes within ``radius`` of each query."""
    dist = hamming_distances(pack(Q), pack(D))
    db_labels = np.asarray(db_labels)
    precisions, recalls = [], []
    for query_dist, label in zip(dist, np.asarray(q_labels)):
        rel = relevant(label, db_labels)
        found = rel[query_dist <= radius]
        precisions.append(found.mean() if found.size else 0.0)
        recalls.append(found.sum() / rel.sum() if rel.any() else 0.0)
    return np.mean(precisions), np.mean(recalls)
