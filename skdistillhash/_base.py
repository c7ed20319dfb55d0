"""Shared base for every hasher (DistillHash, LSHHash, ITQHash).

A hasher maps samples to ``n_bits`` continuous outputs (``decision_function``);
the bits are their signs. Everything derived from that lives here once.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._bits import pack_bits
from ._sklearn_compat import Interval

#: Widest code we accept: 8 KiB codes are far past anything used in practice.
MAX_BITS = 65536


class IntInterval(Interval):
    """``Interval(Integral, left, right, closed=closed)`` that refuses bools.

    scikit-learn's integer intervals accept ``True`` and ``False``, because
    ``bool`` subclasses ``int`` (``PCA(n_components=True)`` validates as one
    component). A bool given for a count is a mistake, not a 1 or a 0, and
    letting it through moves the error deep into numpy or torch, so the
    count parameters of this package use this constraint instead.
    """

    def __init__(self, left, right, *, closed):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val) -> bool:
        return not isinstance(val, bool) and super().is_satisfied_by(val)

    def __str__(self) -> str:
        return f"{super().__str__()} (not a bool)"


#: ``_parameter_constraints`` entry of every ``n_jobs``: joblib's convention
#: (None, a positive count, or -1, -2, ... counting back from every CPU; 0 is
#: no count).
N_JOBS_CONSTRAINT = [
    Interval(Integral, None, -1, closed="right"),
    IntInterval(1, None, closed="left"),
    None,
]


class BaseHasher(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base class for hashers: bits are the signs of ``decision_function``.

    Subclasses implement ``fit`` (setting ``n_bits_`` among their fitted
    attributes) and ``decision_function``.
    """

    _parameter_constraints: dict = {
        "n_bits": [IntInterval(1, MAX_BITS, closed="both")],
    }

    def transform(self, X) -> np.ndarray:
        """Encode ``X`` as bits: one uint8 column in {0, 1} per bit.

        Bit ``j`` is 1 where ``decision_function(X)[:, j] > 0`` (b = sign(h),
        with sign mapped from {-1, +1} to {0, 1}).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        bits : ndarray of shape (n_samples, n_bits), dtype uint8
        """
        return (self.decision_function(X) > 0).astype(np.uint8)

    def predict(self, X) -> np.ndarray:
        """Encode ``X`` as packed codes in the FAISS layout.

        Returns
        -------
        codes : ndarray of shape (n_samples, ceil(n_bits / 8)), dtype uint8
            ``np.packbits(self.transform(X), axis=1, bitorder="little")``.
        """
        return pack_bits(self.transform(X))

    def score(self, X, y, sample_weight=None) -> float:
        """Leave-one-out MAP@all of ``X`` against itself, relevance from ``y``.

        Each sample queries the codes of all others; see
        :func:`skdistillhash.mean_average_precision` for the definition.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a multi-label indicator matrix.
        sample_weight : None
            Not supported; present for the sklearn ``score`` signature.

        Returns
        -------
        score : float
        """
        from .metrics import _leave_one_out_map

        if y is None:
            raise ValueError(
                f"{type(self).__name__}.score needs labels y to decide which "
                "retrieved items are relevant."
            )
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported by score().")
        return _leave_one_out_map(self.transform(X), y)

    @property
    def _n_features_out(self) -> int:
        check_is_fitted(self)
        return self.n_bits_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
