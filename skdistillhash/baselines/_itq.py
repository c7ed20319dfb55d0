"""ITQHash: PCA to n_bits dimensions plus a learned rotation (iterative quantization)."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._base import BaseHasher, IntInterval
from .._fitting import publish_fit
from .._pca import centre, mean_and_scale, principal_components
from .._sklearn_compat import _fit_context
from ._linear import _LinearHasher


class ITQHash(_LinearHasher):
    """Iterative quantization: PCA to ``n_bits`` dimensions plus a learned rotation.

    Following Gong & Lazebnik (2011): centre the data, project it on its top
    ``n_bits`` principal axes (``V = (X - mean_) @ components_.T``), and find
    the orthogonal rotation ``R`` that minimises the quantization loss
    ``||B - V R||_F^2`` over codes ``B`` in {-1, +1}. Starting from a random
    orthogonal ``R``, it alternates

    * ``B = sign(V R)`` (bit 1 where ``V R > 0``, as in :meth:`transform`), and
    * ``R = U W^T`` from the SVD ``V^T B = U S W^T`` (orthogonal Procrustes),

    which never increases the loss. Iteration stops after ``n_iter`` rounds or
    as soon as ``B`` stops changing (then ``R`` is at a fixed point and further
    rounds would change nothing, so stopping early gives the same result).

    Parameters
    ----------
    n_bits : int, default=32
        Code length, which is also the PCA dimension. Must not exceed the
        number of features nor the number of training samples: ``fit`` raises
        a ValueError otherwise (it never shortens the code silently).
    n_iter : int, default=50
        Maximum number of alternating rounds (50 in the paper). ``n_iter=0``
        gives the "PCA-RR" baseline: PCA followed by a random rotation.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial rotation. An int gives bit-identical codes across
        calls and processes.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of the training data.
    components_ : ndarray of shape (n_bits, n_features)
        Principal axes (orthonormal rows), by decreasing explained variance;
        each row's largest-magnitude entry is positive.
    explained_variance_ : ndarray of shape (n_bits,)
        Variance of the training data along each principal axis (``inf`` or
        0 where it leaves the float64 range, for data beyond about 1e154 or
        below about 1e-154).
    rotation_ : ndarray of shape (n_bits, n_bits)
        The learned orthogonal rotation ``R``.
    projection_ : ndarray of shape (n_features, n_bits)
        ``components_.T @ rotation_``: ``decision_function(X)`` is
        ``((X - mean_) * scale_) @ projection_`` (computed as PCA, then
        rotation).
    scale_ : float
        Power of two the centred data are multiplied by before projecting
        (``V = ((X - mean_) * scale_) @ components_.T``): 1.0 unless the
        training data's magnitude is extreme (beyond about 1e19 or below
        1e-19), where it brings them near 1 so that the covariance neither
        overflows nor underflows. It never changes the codes.
    loss_curve_ : list of float
        Quantization loss ``||B - V R||_F^2 / n_samples``: the first entry for
        the initial random rotation and its codes, then one entry per round,
        after its R-step (the codes ``B`` that R was fitted to, the new ``R``).
        Non-increasing; the fitted codes ``sign(V rotation_)`` have a loss no
        larger than the last entry.
    n_iter_ : int
        Number of rounds run (at most ``n_iter``).
    n_bits_ : int
        Number of bits of the fitted codes.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    LSHHash : Data-independent random hyperplanes.

    Notes
    -----
    Cost: one ``d x d`` covariance (``O(n d^2)``) and its eigendecomposition,
    then ``O(n * n_bits^2)`` per round. PCA puts most of the variance in the
    first few directions; the rotation spreads it over all bits, which is
    what makes ITQ codes much better than plain PCA signs.

    References
    ----------
    Y. Gong and S. Lazebnik, "Iterative quantization: A Procrustean approach
    to learning binary codes", CVPR 2011.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdistillhash.baselines import ITQHash
    >>> X, y = load_digits(return_X_y=True)
    >>> itq = ITQHash(n_bits=16, random_state=0).fit(X)
    >>> itq.transform(X[:3]).shape
    (3, 16)
    >>> bool(itq.loss_curve_[-1] < itq.loss_curve_[0])
    True
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "n_iter": [IntInterval(0, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_bits: int = 32, *, n_iter: int = 50, random_state=None) -> None:
        self.n_bits = n_bits
        self.n_iter = n_iter
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None) -> "ITQHash":
        """Fit the PCA projection and learn the rotation on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, finite values, with ``n_samples >= n_bits`` (and at
            least 2) and ``n_features >= n_bits``.
        y : None
            Ignored; present for the sklearn API.

        Returns
        -------
        self : ITQHash
            The fitted hasher.
        """
        probe, X = self._validate_training_data(X)
        n_samples, n_features = X.shape
        if self.n_bits > n_features:
            raise ValueError(
                f"ITQHash needs n_bits <= n_features, because the codes live in "
                f"the top n_bits principal directions; got n_bits={self.n_bits} "
                f"with n_features={n_features}. Use n_bits <= {n_features}, or "
                "LSHHash, which has no such limit."
            )
        if self.n_bits > n_samples:
            raise ValueError(
                f"ITQHash needs n_bits <= n_samples to estimate n_bits principal "
                f"directions; got n_bits={self.n_bits} with n_samples={n_samples}. "
                f"Use n_bits <= {n_samples} or fit on more samples."
            )
        rng = check_random_state(self.random_state)

        mean, scale = mean_and_scale(X)
        Xc = centre(X, mean, scale)
        components, variance = principal_components(Xc, self.n_bits)
        V = Xc @ components.T
        del Xc

        # ||B - V R||^2 = n * n_bits + ||V||^2 - 2 tr(R^T V^T B) for orthogonal R
        # and B in {-1, +1}: with M = V^T B, the loss costs nothing extra.
        const = n_samples * self.n_bits + float(np.sum(V**2))
        R = _random_orthogonal(self.n_bits, rng)
        positive = V @ R > 0
        M = V.T @ np.where(positive, 1.0, -1.0)
        loss_curve = [(const - 2.0 * float(np.sum(M * R))) / n_samples]
        n_iter = 0
        for n_iter in range(1, self.n_iter + 1):
            # R-step: orthogonal Procrustes, argmax_R tr(R^T V^T B) = U W^T.
            U, _, Wt = np.linalg.svd(M)
            R = U @ Wt
            loss_curve.append((const - 2.0 * float(np.sum(M * R))) / n_samples)
            # B-step for the next round; a fixed point ends the iteration.
            new_positive = V @ R > 0
            if np.array_equal(new_positive, positive):
                break
            positive = new_positive
            M = V.T @ np.where(positive, 1.0, -1.0)

        # Variance in the units of X: inf, not an error, past the float64 range.
        # (Two divisions: scale**2 itself may leave the float range.)
        with np.errstate(over="ignore"):
            explained_variance = variance / scale / scale
        publish_fit(
            self,
            probe,
            mean_=mean,
            scale_=scale,
            components_=components,
            explained_variance_=explained_variance,
            rotation_=R,
            loss_curve_=loss_curve,
            n_iter_=n_iter,
            n_bits_=int(self.n_bits),
        )
        return self

    @property
    def projection_(self) -> np.ndarray:
        """``components_.T @ rotation_``, of shape (n_features, n_bits)."""
        check_is_fitted(self)
        return self.components_.T @ self.rotation_

    def _project(self, Xc: np.ndarray) -> np.ndarray:
        # PCA first, then the rotation, as fitted: the same rounding as in fit.
        return (Xc @ self.components_.T) @ self.rotation_


def _random_orthogonal(n: int, rng: np.random.RandomState) -> np.ndarray:
    """A Haar-distributed random orthogonal ``(n, n)`` matrix (QR of a Gaussian)."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    # Fix the signs so that the distribution is uniform (Mezzadri 2007).
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)
