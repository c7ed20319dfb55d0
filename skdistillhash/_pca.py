"""Principal axes computed safely at any magnitude: ITQ's PCA and the distiller's whitening."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Inputs whose largest magnitude lies within 2**-64 .. 2**64 are used as
#: they are: their squares, sums of squares and float32 projections are all
#: far inside the float64 and float32 ranges. Others are rescaled first.
_SAFE_EXPONENT = 64


def mean_and_scale(X: np.ndarray) -> tuple[np.ndarray, float]:
    """Column means of ``X``, and the power of two to scale centred data by.

    The scale is 1.0 for data of ordinary magnitude, else the power of two
    that brings ``max |X|`` into [0.5, 1). Without it the covariance of data
    near 1e300 overflows (near 1e-300 it underflows to zero), and so do the
    float32 projections. Multiplying by a power of two is exact, and both
    hashers take signs of linear functions of the centred data, so the scale
    never changes the codes; whitening divides it out again.
    """
    # max |X| without np.abs's copy of X (1 s of a 69,000 x 1280 fit).
    _, exponent = np.frexp(max(np.max(X), -np.min(X)))
    if abs(exponent) <= _SAFE_EXPONENT:
        return X.mean(axis=0), 1.0
    # 2.0**1023 is the largest power of two; a max |X| that needs more is
    # subnormal, and 2**1023 times it is still well inside the safe range.
    scale = float(np.ldexp(1.0, min(-int(exponent), 1023)))
    # Mean of the scaled data: the plain sum of values near 1e308 overflows.
    return (X * scale).mean(axis=0) / scale, scale


def centre(X: np.ndarray, mean: np.ndarray, scale: float) -> np.ndarray:
    """``(X - mean) * scale``, computed without overflow."""
    # Scale first: X - mean itself overflows for values near 1e308.
    Xc = X * scale
    Xc -= mean * scale
    return Xc


def principal_components(Xc: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``n_components`` principal axes of centred data, deterministic signs.

    Returns ``(components, explained_variance)`` with components of shape
    ``(n_components, n_features)`` (orthonormal rows), sorted by decreasing
    variance. Uses an eigendecomposition of the ``d x d`` covariance when
    there are more samples than features (cheap for tall data), else a thin SVD.
    Each component's largest-magnitude entry is made positive, so the result
    does not depend on the LAPACK build's sign choices.
    """
    n_samples, n_features = Xc.shape
    if n_samples >= n_features:
        cov = Xc.T @ Xc
        evals, evecs = np.linalg.eigh(cov)
        order = np.argsort(evals)[::-1][:n_components]
        components = evecs[:, order].T
        variance = np.maximum(evals[order], 0.0) / (n_samples - 1)
    else:
        _, s, vt = np.linalg.svd(Xc, full_matrices=False)
        components = vt[:n_components]
        variance = s[:n_components] ** 2 / (n_samples - 1)
    pivots = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(n_components), pivots])
    signs[signs == 0] = 1.0
    return components * signs[:, None], variance


#: Axes whose variance is below this fraction of the first axis' are not
#: whitened: scaling them to unit variance would blow up rounding noise.
_MIN_RELATIVE_VARIANCE = 1e-8


@dataclass(frozen=True)
class Whitening:
    """PCA whitening fitted on training data: ``centre(X, mean, scale) @ projection``.

    The centred data are scaled by a power of two (:func:`mean_and_scale`),
    so data of any magnitude whiten without overflow, and ``X`` times a power
    of two whitens to the same values, bit for bit (unless it makes the data
    subnormal, where their mean loses bits).
    """

    mean: np.ndarray
    scale: float
    projection: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, n_components: int) -> Whitening | None:
        """Whitening to at most ``n_components`` axes; None for data without variance."""
        X = np.asarray(X, dtype=np.float64)
        mean, scale = mean_and_scale(X)
        components, variance = principal_components(centre(X, mean, scale), min(n_components, *X.shape))
        keep = variance > _MIN_RELATIVE_VARIANCE * variance[0]
        if variance[0] <= 0 or not keep.any():
            return None
        return cls(mean, scale, components[keep].T / np.sqrt(variance[keep]))

    @property
    def n_axes(self) -> int:
        return self.projection.shape[1]

    def transform(self, X: np.ndarray) -> np.ndarray:
        return centre(np.asarray(X, dtype=np.float64), self.mean, self.scale) @ self.projection
