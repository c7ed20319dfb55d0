"""What the linear baselines share: codes are signs of linear functions of the centred data."""

from __future__ import annotations

import functools

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import ThreadpoolController

from .._base import BaseHasher
from .._fitting import validation_probe
from .._pca import centre

#: Rows per block of ``decision_function``: every block has this shape, the
#: last one padded, so that a row's output does not depend on the rows
#: projected with it.
_BLOCK_ROWS = 1024


class _LinearHasher(BaseHasher):
    """A hasher whose outputs are linear in the centred data:
    ``decision_function(X) = ((X - mean_) * scale_) @ projection_``.

    Subclasses fit ``mean_``, ``scale_`` (see ``mean_and_scale``) and what
    ``projection_`` is made of; DistillHash starts its hash layer from an
    ``ITQHash``'s ``mean_`` and ``projection_``.
    """

    def _validate_training_data(self, X):
        """``(probe, X)``: the input of ``fit`` validated on a probe (see
        ``_fitting``), as float64, at least 2 samples."""
        probe = validation_probe(self)
        return probe, validate_data(probe, X, dtype=np.float64, ensure_min_samples=2)

    def decision_function(self, X) -> np.ndarray:
        """Signed projections of the centred ``X``: the bits are their signs.

        Computed in float64, one BLAS thread, in blocks of 1,024 rows (the
        last padded with zeros), then rounded to float32: every block is the
        same product, so a row's output is the same to the bit however the
        rows are batched (BLAS kernels round a product of 7 rows and of
        1,024 differently, and differently on one thread and on two).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        h : ndarray of shape (n_samples, n_bits), dtype float32
            ``((X - mean_) * scale_) @ projection_``; bit ``j`` is
            ``h[:, j] > 0``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        out = np.empty((len(X), self.n_bits_), dtype=np.float32)
        block = np.zeros((_BLOCK_ROWS, X.shape[1]))
        with _blas().limit(limits=1, user_api="blas"):
            for start in range(0, len(X), _BLOCK_ROWS):
                rows = X[start : start + _BLOCK_ROWS]
                block[: len(rows)] = rows
                block[len(rows) :] = 0
                out[start : start + len(rows)] = self._project(centre(block, self.mean_, self.scale_))[: len(rows)]
        return out

    def _project(self, Xc: np.ndarray) -> np.ndarray:
        return Xc @ self.projection_


@functools.cache
def _blas() -> ThreadpoolController:
    """The thread pools of the loaded BLAS libraries (found once: a scan of them)."""
    return ThreadpoolController()
