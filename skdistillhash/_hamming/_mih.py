"""Multi-index hashing for exact radius search (Norouzi, Punjani & Fleet, CVPR 2012).

Codes are cut into ``m`` disjoint substrings, each indexed by a sorted table.
Write ``r = m * q + a`` with ``0 <= a < m``. If two codes are within distance
``r``, some substring is close: one of the first ``a + 1`` substrings is within
``q``, or one of the others within ``q - 1`` (otherwise the distance would be
at least ``(a + 1)(q + 1) + (m - a - 1) q = r + 1``). So probing every table
with all keys in that small ball yields a superset of the answer; verifying
the candidates with the full distance makes the search exact. For a small
radius each probe is a binary search that returns a handful of codes, instead
of a scan over all of them.
"""

from __future__ import annotations

from itertools import combinations
from math import comb, log2

import numpy as np

from .._bits import to_words
from ._numpy import distance_dtype

# Longest substring we index: keys fit a uint32.
_MAX_SUBSTRING = 32
# Queries per step: bounds the probe and candidate arrays.
_QUERY_CHUNK = 1024
# Cost of MIH work in units of one code scanned by a fast scan: a binary-search
# step is a cache miss, about 80 codes scanned; a candidate (gather, verify,
# deduplicate, sort) about 800 (docs/benchmarks.md, "Hamming search").
_SEARCH_STEP_COST = 80
_CANDIDATE_COST = 800


def n_substrings(n_bits: int, n_samples: int) -> int:
    """Norouzi et al.'s choice: substrings of about log2(n_samples) bits."""
    m = round(n_bits / max(log2(max(n_samples, 2)), 1))
    return min(n_bits, max(m, -(-n_bits // _MAX_SUBSTRING), 1))


def _split(n_bits, m):
    """``m`` contiguous bit ranges covering 0..n_bits, lengths differing by <= 1."""
    edges = np.linspace(0, n_bits, m + 1).round().astype(int)
    return list(zip(edges[:-1], edges[1:]))


def _probe_radii(r, m):
    """Search radius per substring: q for the first a + 1, q - 1 for the rest."""
    q, a = divmod(r, m)
    return [q if j <= a else q - 1 for j in range(m)]


def prefers_mih(n_samples: int, n_bits: int, r: int) -> bool:
    """Whether MIH should beat a scan for radius ``r``, estimated for uniform codes.

    Per query, MIH does ``probes`` binary searches of ``log2(n_samples)`` steps
    and verifies about ``probes * n_samples / 2**s`` candidates (``s`` bits per
    substring); a scan touches all ``n_samples`` codes. The unit costs above
    were measured against faiss, the fastest scan, so the rule picks MIH only
    where it wins against any backend. Clustered codes make more candidates
    than this estimate; the result stays exact, only the speed-up shrinks.
    """
    m = n_substrings(n_bits, n_samples)
    cost = 0.0
    for (lo, hi), rad in zip(_split(n_bits, m), _probe_radii(r, m)):
        probes = sum(comb(hi - lo, i) for i in range(rad + 1))
        cost += probes * (
            _SEARCH_STEP_COST * log2(max(n_samples, 2))
            + _CANDIDATE_COST * n_samples / 2 ** (hi - lo)
        )
    return bool(cost < n_samples)


class MultiIndexHashing:
    """Exact radius search over packed codes with ``m`` substring tables.

    Parameters
    ----------
    codes : ndarray of uint8, shape (n_samples, n_bytes)
        Packed database codes (validated by the caller).
    m : int, optional
        Number of substrings; defaults to :func:`n_substrings`.
    """

    def __init__(self, codes: np.ndarray, *, m: int | None = None):
        self.n_samples, n_bytes = codes.shape
        self.n_bits = 8 * n_bytes
        self.m = m or n_substrings(self.n_bits, self.n_samples)
        self._words = to_words(codes)
        self._ranges = _split(self.n_bits, self.m)
        self._tables = []
        # Sorted substring keys and the code index of each: 4 + 4 bytes per code
        # and table while n_samples < 2**31.
        index_dtype = np.int32 if self.n_samples < 2**31 else np.int64
        for lo, hi in self._ranges:
            keys = self._substring(self._words, lo, hi)
            order = np.argsort(keys, kind="stable").astype(index_dtype)
            self._tables.append((keys[order], order))

    def radius(self, queries: np.ndarray, r: int):
        """All codes within distance ``r``, CSR rows ordered by (distance, index)."""
        qw = to_words(queries)
        counts, dists, idx = [], [], []
        for start in range(0, len(qw), _QUERY_CHUNK):
            c, d, i = self._radius_chunk(qw[start : start + _QUERY_CHUNK], r)
            counts.append(c)
            dists.append(d)
            idx.append(i)
        indptr = np.zeros(len(qw) + 1, dtype=np.int64)
        np.cumsum(np.concatenate(counts), out=indptr[1:])
        return indptr, np.concatenate(dists), np.concatenate(idx)

    def _radius_chunk(self, qw, r):
        n, nq = self.n_samples, len(qw)
        found = []
        for (lo, hi), (keys, order), rad in zip(
            self._ranges, self._tables, _probe_radii(r, self.m)
        ):
            if rad < 0:
                continue
            probes = self._substring(qw, lo, hi)[:, None] ^ _ball(hi - lo, rad)
            first = np.searchsorted(keys, probes, side="left").ravel()
            sizes = np.searchsorted(keys, probes, side="right").ravel() - first
            # Expand each bucket [first, first + size) into positions.
            total = int(sizes.sum())
            offsets = np.cumsum(sizes) - sizes
            pos = np.repeat(first - offsets, sizes) + np.arange(total)
            rows = np.repeat(np.arange(nq).repeat(probes.shape[1]), sizes)
            found.append(rows * n + order[pos].astype(np.int64))
        # A code may match in several tables: deduplicate (a sort beats
        # np.unique's hashing here), then verify.
        pairs = np.sort(np.concatenate(found))
        pairs = pairs[np.diff(pairs, prepend=-1) != 0]
        rows, idx = np.divmod(pairs, n)
        dist = np.bitwise_count(qw[rows] ^ self._words[idx]).sum(
            axis=1, dtype=distance_dtype(self.n_bits)
        )
        keep = dist <= r
        rows, dist, idx = rows[keep], dist[keep], idx[keep]
        order = np.lexsort((idx, dist, rows))
        return np.bincount(rows, minlength=nq), dist[order].astype(np.int32), idx[order]

    @staticmethod
    def _substring(words, lo, hi):
        """Bits lo:hi of every code as an integer (hi - lo <= 32)."""
        word, shift = divmod(lo, 64)
        key = words[:, word] >> np.uint64(shift)
        if shift + (hi - lo) > 64:
            key = key | (words[:, word + 1] << np.uint64(64 - shift))
        return (key & np.uint64((1 << (hi - lo)) - 1)).astype(np.uint32)


def _ball(s, rad):
    """XOR masks of every key within Hamming distance ``rad`` on ``s`` bits."""
    masks = [
        sum(1 << b for b in bits) for i in range(rad + 1) for bits in combinations(range(s), i)
    ]
    return np.array(masks, dtype=np.uint32)
