"""Numpy backend: XOR + popcount on uint64 words, blocked over queries and database.

The scan keeps memory at O(block) per thread: distances for a block of
``_QUERY_BLOCK`` queries against ``_DB_BLOCK`` database codes live in buffers
that fit the L2 cache, and only candidates that can still enter the top k
leave the block. Because database blocks are visited in index order, an item
whose distance equals the current k-th distance can never displace an earlier
item (ties go to the smaller index), so the filter is a strict ``d < thr``;
that keeps the candidate stream short and the result exact.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from joblib import effective_n_jobs

from .._bits import to_words

# 16 queries x 8192 codes: the uint64 XOR buffer is 1 MiB, inside a typical
# 2 MiB L2, and each numpy call covers 131k pairs, enough to make the Python
# overhead per call small.
_QUERY_BLOCK = 16
_DB_BLOCK = 8192
# Pending candidates (in units of k per query) that trigger a merge into the
# running top k: merging sorts, so rarely; the bound caps memory when the
# database is ordered badly (each block better than the last).
_MERGE_EVERY = 8


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


def distance_dtype(n_bits: int) -> type:
    """Smallest unsigned dtype that holds every distance in 0..n_bits."""
    return np.uint8 if n_bits < 256 else np.uint16 if n_bits < 65536 else np.uint32


class NumpyIndex:
    """Exact Hamming search by a blocked scan in numpy.

    Parameters
    ----------
    codes : ndarray of uint8, shape (n_samples, n_bytes)
        Packed database codes (validated by the caller).
    n_jobs : int or None
        Threads over query blocks; numpy releases the GIL inside its loops.
        joblib's convention, resolved at each call (None: 1 unless in a
        ``joblib.parallel_config`` context).
    """

    def __init__(self, codes: np.ndarray, *, n_jobs: int | None = 1):
        self.n_samples, n_bytes = codes.shape
        self.n_jobs = n_jobs
        # One contiguous row per word: the XOR of a query word against a
        # database block is then a contiguous, vectorised broadcast.
        self._words = np.ascontiguousarray(to_words(codes).T)
        self._dtype = distance_dtype(8 * n_bytes)

    def knn(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest codes of each query, ordered by (distance, index).

        Returns
        -------
        dist : ndarray of shape (n_queries, k), dtype int32
        idx : ndarray of shape (n_queries, k), dtype int64
        """
        qw = to_words(queries)
        dist = np.empty((len(qw), k), dtype=np.int32)
        idx = np.empty((len(qw), k), dtype=np.int64)

        def run(start):
            stop = min(start + _QUERY_BLOCK, len(qw))
            keys = self._knn_block(qw[start:stop], k)
            np.divmod(keys, self.n_samples, out=(dist[start:stop], idx[start:stop]),
                      casting="unsafe")

        self._map(run, range(0, len(qw), _QUERY_BLOCK))
        return dist, idx

    def radius(self, queries: np.ndarray, r: int):
        """All codes within distance ``r`` of each query.

        Returns
        -------
        indptr : ndarray of shape (n_queries + 1,), dtype int64
        dist : ndarray of shape (indptr[-1],), dtype int32
        idx : ndarray of shape (indptr[-1],), dtype int64
            CSR layout; each row ordered by (distance, index).
        """
        qw = to_words(queries)
        starts = range(0, len(qw), _QUERY_BLOCK)
        parts = self._map(lambda s: self._radius_block(qw[s : s + _QUERY_BLOCK], r), starts)
        counts, dist, idx = (np.concatenate(column) for column in zip(*parts))
        indptr = np.zeros(len(qw) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return indptr, dist, idx

    def first_at_distance(self, queries: np.ndarray, levels, counts) -> list[np.ndarray]:
        """For each query, the first ``counts[i]`` indices at distance exactly ``levels[i]``.

        Scans the database in index order and drops a query as soon as it has
        its count, so the scan is short when the wanted codes come early. Used
        to settle ties at the k-th distance that another backend left open.
        """
        qw = to_words(queries)
        counts = np.asarray(counts, dtype=np.int64)
        levels = np.asarray(levels, dtype=self._dtype)
        blocks = [slice(s, s + _QUERY_BLOCK) for s in range(0, len(qw), _QUERY_BLOCK)]
        chunks = self._map(
            lambda b: self._first_at_distance_block(qw[b], levels[b], counts[b]), blocks
        )
        return [found for chunk in chunks for found in chunk]

    def _first_at_distance_block(self, qw, levels, counts):
        missing = counts.copy()
        active = np.flatnonzero(missing > 0)
        xor_buf, count_buf = self._buffers(len(qw))
        d_buf = np.empty((len(qw), _DB_BLOCK), dtype=self._dtype)
        hit_rows, hit_idx = [], []
        for start in range(0, self.n_samples, _DB_BLOCK):
            if not active.size:
                break
            n_act, stop = active.size, min(start + _DB_BLOCK, self.n_samples)
            d = self._block_distances(qw[active], start, stop, xor_buf[:n_act],
                                      count_buf[:n_act], d_buf[:n_act, : stop - start])
            rows, cols = np.divmod(np.flatnonzero(d == levels[active, None]), stop - start)
            hit_rows.append(active[rows])
            hit_idx.append(start + cols)
            missing[active] -= np.bincount(rows, minlength=n_act)
            active = active[missing[active] > 0]
        # Hits arrive in index order per row; a row may hold a few too many
        # from its last block, so keep the first counts[i].
        rows = np.concatenate(hit_rows) if hit_rows else np.zeros(0, np.intp)
        idx = np.concatenate(hit_idx) if hit_idx else np.zeros(0, np.int64)
        order = np.argsort(rows, kind="stable")
        rows, idx = rows[order], idx[order]
        ends = np.cumsum(np.bincount(rows, minlength=len(qw)))
        return [idx[e - have : e - have + c] for e, have, c in
                zip(ends, np.diff(ends, prepend=0), counts)]

    def _map(self, func, items):
        n_threads = effective_n_jobs(self.n_jobs)
        if n_threads == 1:
            return [func(item) for item in items]
        with ThreadPoolExecutor(n_threads) as pool:
            return list(pool.map(func, items))

    def _block_distances(self, qw, start, stop, xor_buf, count_buf, out):
        """Distances of the query words ``qw`` to database codes start:stop."""
        xor = xor_buf[:, : stop - start]
        np.bitwise_xor(qw[:, :1], self._words[:1, start:stop], out=xor)
        np.bitwise_count(xor, out=out)
        for w in range(1, qw.shape[1]):
            np.bitwise_xor(qw[:, w : w + 1], self._words[w : w + 1, start:stop], out=xor)
            count = count_buf[:, : stop - start]
            np.bitwise_count(xor, out=count)
            np.add(out, count, out=out)
        return out

    def _buffers(self, n_queries):
        xor_buf = np.empty((n_queries, _DB_BLOCK), dtype=np.uint64)
        count_buf = np.empty((n_queries, _DB_BLOCK), dtype=np.uint8)
        return xor_buf, count_buf

    def _knn_block(self, qw, k):
        """Top-k keys ``distance * n_samples + index`` (sorted) for a query block."""
        n, nq = self.n_samples, len(qw)
        n_levels = 8 * 8 * qw.shape[1] + 1
        xor_buf, count_buf = self._buffers(nq)
        # First block: big enough to hold k codes; keys are unique, so a
        # partition selects the exact top k of that block.
        first = min(n, max(_DB_BLOCK, k))
        if first > _DB_BLOCK:
            xor_buf, count_buf = (np.empty((nq, first), b.dtype) for b in (xor_buf, count_buf))
        d = self._block_distances(qw, 0, first, xor_buf, count_buf,
                                  np.empty((nq, first), self._dtype))
        keys = d.astype(np.int64) * n + np.arange(first)
        top = np.partition(keys, k - 1, axis=1)[:, :k] if k < first else keys
        # hist[i, t]: codes at distance t among those that passed the filter
        # for query i. Codes that failed it were beyond the k-th distance, so
        # the k-th distance of the passed ones is the exact running threshold.
        top_rows = np.repeat(np.arange(nq), k)
        hist = np.bincount(top_rows * n_levels + (top // n).ravel(), minlength=nq * n_levels)
        hist = hist.reshape(nq, n_levels)
        thr = _kth_level(hist, k).astype(self._dtype)
        d_buf = np.empty((nq, _DB_BLOCK), dtype=self._dtype)
        mask_buf = np.empty((nq, _DB_BLOCK), dtype=bool)
        pending_rows, pending_keys, n_pending = [], [], 0
        for start in range(first, n, _DB_BLOCK):
            stop = min(start + _DB_BLOCK, n)
            width = stop - start
            d = self._block_distances(qw, start, stop, xor_buf, count_buf, d_buf[:, :width])
            mask = mask_buf[:, :width]
            np.less(d, thr[:, None], out=mask)
            # flatnonzero on 1-D is ~15x faster than 2-D nonzero here.
            flat = np.flatnonzero(mask)
            if not flat.size:
                continue
            r, c = np.divmod(flat, width)
            level = d[r, c]
            pending_rows.append(r)
            pending_keys.append(level.astype(np.int64) * n + (start + c))
            n_pending += flat.size
            hist += np.bincount(r * n_levels + level, minlength=nq * n_levels).reshape(
                nq, n_levels
            )
            thr = _kth_level(hist, k).astype(self._dtype)
            if n_pending > _MERGE_EVERY * k * nq:
                top = _merge(top, pending_rows, pending_keys, k, n * n_levels)
                pending_rows, pending_keys, n_pending = [], [], 0
        return _merge(top, pending_rows, pending_keys, k, n * n_levels)

    def _radius_block(self, qw, r):
        n, nq = self.n_samples, len(qw)
        xor_buf, count_buf = self._buffers(nq)
        d_buf = np.empty((nq, _DB_BLOCK), dtype=self._dtype)
        rows, levels, idx = [], [], []
        for start in range(0, n, _DB_BLOCK):
            stop = min(start + _DB_BLOCK, n)
            width = stop - start
            d = self._block_distances(qw, start, stop, xor_buf, count_buf, d_buf[:, :width])
            i, j = np.divmod(np.flatnonzero(d <= r), width)
            rows.append(i)
            levels.append(d[i, j])
            idx.append(start + j)
        rows, levels, idx = (np.concatenate(a) for a in (rows, levels, idx))
        order = np.lexsort((idx, levels, rows))
        counts = np.bincount(rows, minlength=nq)
        return counts, levels[order].astype(np.int32), idx[order]


def _kth_level(hist, k):
    """Per row, the smallest distance t with at least k codes at distance <= t."""
    return np.argmax(np.cumsum(hist, axis=1) >= k, axis=1)


def _merge(top, pending_rows, pending_keys, k, row_stride):
    """Sorted top-k keys per row from the current ``top`` and pending candidates.

    Keys are unique within a row, so sorting ``row * row_stride + key`` gives
    each row's candidates in (distance, index) order, rows contiguous. With
    ``_QUERY_BLOCK`` rows this fits int64 while n_samples * (n_bits + 1) < 2**59.
    """
    nq = len(top)
    rows = np.concatenate([np.repeat(np.arange(nq), top.shape[1]), *pending_rows])
    keys = np.concatenate([top.ravel(), *pending_keys])
    combined = np.sort(rows * row_stride + keys)
    counts = np.bincount(rows, minlength=nq)
    first = np.cumsum(counts) - counts
    return combined[first[:, None] + np.arange(k)] - np.arange(nq)[:, None] * row_stride
