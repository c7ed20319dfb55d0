"""torch backend: Hamming distances as a matrix product, top-k on the device.

For codes in {-1, +1}^n, ``d(b_i, b_j) = (n - <b_i, b_j>) / 2``, so a GEMM
gives every distance of a block at once, which is what GPUs are fast at. The
products are integers in [-n, n]: float32 holds them exactly for n < 2**24 and
float16 for n <= 2048 (every partial sum is such an integer too), so the
results are exact, not approximate.

Ties are broken by index with one key per pair, ``distance * stride +
column`` within a database block of ``stride`` columns. Keeping every key
below 2**24 makes it an exact float32 integer, so the GEMM's output becomes
the keys in one fused pass (``addmm``), and ``topk`` on unique keys is exact.
"""

from __future__ import annotations

import numpy as np
import torch
from joblib import effective_n_jobs

from .._torch._device import resolve_device
from .._torch._threads import torch_threads

# Pairs per step: 2**24 float32 keys (64 MiB) fit any GPU and most CPUs.
_PAIRS_PER_STEP = 2**24
_QUERY_CHUNK = 1024


class TorchIndex:
    """Exact Hamming search with torch (CUDA when available, else CPU).

    Parameters
    ----------
    codes : ndarray of uint8, shape (n_samples, n_bytes)
        Packed database codes, kept packed on the device (8x less memory than
        +-1 floats) and unpacked one block at a time.
    device : str
        Passed to :func:`~skdistillhash._torch._device.resolve_device`.
    n_jobs : int or None
        torch's CPU threads during each call, in joblib's convention,
        resolved at the call (None: 1 unless in a ``joblib.parallel_config``
        context; -1: all CPUs); the caller's setting is restored after.
    """

    def __init__(self, codes: np.ndarray, *, device: str = "auto", n_jobs: int | None = None):
        self.device = resolve_device(device)
        self.n_jobs = n_jobs
        self.n_samples, n_bytes = codes.shape
        self.n_bits = 8 * n_bytes  # padding bits are 0 on both sides: they agree
        self._codes = torch.from_numpy(np.ascontiguousarray(codes)).to(self.device)
        self._float = (
            torch.float16 if self.device.type == "cuda" and self.n_bits <= 2048 else torch.float32
        )
        self._shifts = torch.arange(8, dtype=torch.uint8, device=self.device)

    def knn(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest codes of each query, ordered by (distance, index)."""
        with torch_threads(effective_n_jobs(self.n_jobs)):
            return self._knn(queries, k)

    def _knn(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        dist = np.empty((len(queries), k), dtype=np.int32)
        idx = np.empty((len(queries), k), dtype=np.int64)
        for start in range(0, len(queries), _QUERY_CHUNK):
            q = self._signs(self._to_device(queries[start : start + _QUERY_CHUNK]))
            best = None
            for db_start, stride, keys in self._key_blocks(q):
                top = torch.topk(keys, min(k, keys.shape[1]), dim=1, largest=False).values
                d = torch.div(top, stride, rounding_mode="floor")
                top = d.long() * self.n_samples + (top - d * stride).long() + db_start
                if best is not None:
                    top = torch.cat([best, top], dim=1)
                    top = torch.topk(top, min(k, top.shape[1]), dim=1, largest=False).values
                best = top
            best = torch.sort(best, dim=1).values.cpu().numpy()
            stop = start + len(best)
            np.divmod(best, self.n_samples, out=(dist[start:stop], idx[start:stop]),
                      casting="unsafe")
        return dist, idx

    def radius(self, queries: np.ndarray, r: int):
        """All codes within distance ``r``, CSR rows ordered by (distance, index)."""
        with torch_threads(effective_n_jobs(self.n_jobs)):
            return self._radius(queries, r)

    def _radius(self, queries: np.ndarray, r: int):
        rows, dists, idx = [], [], []
        for start in range(0, len(queries), _QUERY_CHUNK):
            q = self._signs(self._to_device(queries[start : start + _QUERY_CHUNK]))
            for db_start, stride, keys in self._key_blocks(q):
                i, j = torch.nonzero(keys < (r + 1) * stride, as_tuple=True)
                rows.append((i + start).cpu().numpy())
                dists.append(torch.div(keys[i, j], stride, rounding_mode="floor").cpu().numpy())
                idx.append((j + db_start).cpu().numpy())
        rows, dists, idx = (np.concatenate(a) for a in (rows, dists, idx))
        order = np.lexsort((idx, dists, rows))
        indptr = np.zeros(len(queries) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(queries)), out=indptr[1:])
        return indptr, dists[order].astype(np.int32), idx[order].astype(np.int64)

    def _key_blocks(self, q):
        """Yield (first index, stride, keys) per database block against ``q``.

        ``keys[i, j] = distance * stride + j``, float32, exact: the product
        ``dot * stride / 2`` is a multiple of 1/2 below 2**23 and the sum an
        integer below 2**24.
        """
        stride = max(1, min(_PAIRS_PER_STEP // len(q), 2**24 // (self.n_bits + 1)))
        bias = self.n_bits * stride / 2 + torch.arange(
            stride, dtype=torch.float32, device=self.device
        )
        for db_start in range(0, self.n_samples, stride):
            db = self._signs(self._codes[db_start : db_start + stride])
            width = len(db)
            if q.dtype == torch.float32:
                keys = torch.addmm(bias[:width], q, db.T, alpha=-stride / 2)
            else:  # float16 products are exact, but not the keys: scale in float32
                keys = torch.add(bias[:width], (q @ db.T).float(), alpha=-stride / 2)
            yield db_start, stride, keys

    def _to_device(self, codes):
        return torch.from_numpy(np.ascontiguousarray(codes)).to(self.device)

    def _signs(self, packed):
        """Packed uint8 codes -> +-1 matrix, bit j from bit j % 8 of byte j // 8."""
        bits = (packed.unsqueeze(-1) >> self._shifts) & 1
        return bits.reshape(len(packed), self.n_bits).to(self._float) * 2 - 1
