"""torch backend: Hamming distances as a matrix product, top-k on the device.

For codes in {-1, +1}^n, ``d(b_i, b_j) = (n - <b_i, b_j>) / 2``, so a GEMM
gives every distance of a block at once, which is what GPUs are fast at. The
products are integers in [-n, n]: float32 holds them exactly for n < 2**24 and
float16 for n <= 2048 (every partial sum is such an integer too), so the
results are exact, not approximate. Ties are broken on the device by sorting
unique int64 keys ``distance * n_samples + index``.
"""

from __future__ import annotations

import numpy as np
import torch

from .._torch._device import resolve_device

# Distances kept on the device per step: 2**24 pairs (64 MiB of float32
# products plus 128 MiB of int64 keys) fits any GPU and most CPUs.
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
    """

    def __init__(self, codes: np.ndarray, *, device: str = "auto"):
        self.device = resolve_device(device)
        self.n_samples, n_bytes = codes.shape
        self.n_bits = 8 * n_bytes  # padding bits are 0 on both sides: they agree
        self._codes = torch.from_numpy(np.ascontiguousarray(codes)).to(self.device)
        self._float = (
            torch.float16 if self.device.type == "cuda" and self.n_bits <= 2048 else torch.float32
        )
        self._shifts = torch.arange(8, dtype=torch.uint8, device=self.device)

    def knn(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest codes of each query, ordered by (distance, index)."""
        dist = np.empty((len(queries), k), dtype=np.int32)
        idx = np.empty((len(queries), k), dtype=np.int64)
        for start in range(0, len(queries), _QUERY_CHUNK):
            q = self._signs(self._to_device(queries[start : start + _QUERY_CHUNK]))
            best = None
            for db_start, d in self._distance_blocks(q, k):
                keys = d * self.n_samples + torch.arange(
                    db_start, db_start + d.shape[1], device=self.device
                )
                if best is not None:
                    keys = torch.cat([best, keys], dim=1)
                best = torch.topk(keys, min(k, keys.shape[1]), dim=1, largest=False).values
            best = torch.sort(best, dim=1).values.cpu().numpy()
            stop = start + len(best)
            np.divmod(best, self.n_samples, out=(dist[start:stop], idx[start:stop]),
                      casting="unsafe")
        return dist, idx

    def radius(self, queries: np.ndarray, r: int):
        """All codes within distance ``r``, CSR rows ordered by (distance, index)."""
        rows, dists, idx = [], [], []
        for start in range(0, len(queries), _QUERY_CHUNK):
            q = self._signs(self._to_device(queries[start : start + _QUERY_CHUNK]))
            for db_start, d in self._distance_blocks(q, 1):
                i, j = torch.nonzero(d <= r, as_tuple=True)
                rows.append((i + start).cpu().numpy())
                dists.append(d[i, j].cpu().numpy())
                idx.append((j + db_start).cpu().numpy())
        rows, dists, idx = (np.concatenate(a) for a in (rows, dists, idx))
        order = np.lexsort((idx, dists, rows))
        indptr = np.zeros(len(queries) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(queries)), out=indptr[1:])
        return indptr, dists[order].astype(np.int32), idx[order].astype(np.int64)

    def _distance_blocks(self, q, min_block):
        """Yield (first index, int64 distances) for database blocks against ``q``."""
        block = max(min_block, _PAIRS_PER_STEP // len(q))
        for db_start in range(0, self.n_samples, block):
            db = self._signs(self._codes[db_start : db_start + block])
            dots = (q @ db.T).float()
            yield db_start, ((self.n_bits - dots) * 0.5).round_().long()

    def _to_device(self, codes):
        return torch.from_numpy(np.ascontiguousarray(codes)).to(self.device)

    def _signs(self, packed):
        """Packed uint8 codes -> +-1 matrix, bit j from bit j % 8 of byte j // 8."""
        bits = (packed.unsqueeze(-1) >> self._shifts) & 1
        return bits.reshape(len(packed), self.n_bits).to(self._float) * 2 - 1
