"""LSHHash: random hyperplanes through the data mean (sign random projections)."""

from __future__ import annotations

from sklearn.utils import check_random_state

from .._base import BaseHasher
from .._fitting import publish_fit
from .._pca import mean_and_scale
from .._sklearn_compat import _fit_context
from ._linear import _LinearHasher


class LSHHash(_LinearHasher):
    """Locality-sensitive hashing with random hyperplanes through the data mean.

    Each bit is the side of a random hyperplane a sample falls on: the
    hyperplane normals are i.i.d. standard Gaussian vectors and pass through
    the training mean, so ``decision_function(X) = (X - mean_) @ projection_``.
    For centred data the probability that two samples get different bits is
    their angle divided by pi (sign random projections, Charikar 2002), so the
    Hamming distance estimates the angle between them. Data-independent apart
    from the centring: the classic lower anchor for learned hashing.

    Parameters
    ----------
    n_bits : int, default=32
        Code length: the number of hyperplanes. Any value from 1 to 65536,
        independent of the number of features.
    random_state : int, RandomState instance or None, default=None
        Seeds the hyperplanes. An int gives bit-identical codes across calls
        and processes.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of the training data; the hyperplanes pass through it.
    projection_ : ndarray of shape (n_features, n_bits)
        Hyperplane normals, one column per bit.
    scale_ : float
        Power of two the centred data are multiplied by before projecting:
        1.0 unless the training data's magnitude is extreme (beyond about
        1e19 or below 1e-19), where it brings them near 1 so that nothing
        overflows or underflows. It never changes the codes.
    n_bits_ : int
        Number of bits of the fitted codes.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    ITQHash : PCA plus a learned rotation; much better codes at the same length.

    References
    ----------
    M. S. Charikar, "Similarity estimation techniques from rounding
    algorithms", STOC 2002.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdistillhash.baselines import LSHHash
    >>> X, y = load_digits(return_X_y=True)
    >>> lsh = LSHHash(n_bits=16, random_state=0).fit(X)
    >>> lsh.transform(X[:2]).shape
    (2, 16)
    >>> lsh.predict(X[:2]).shape  # packed: 16 bits in 2 bytes
    (2, 2)
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "random_state": ["random_state"],
    }

    def __init__(self, n_bits: int = 32, *, random_state=None) -> None:
        self.n_bits = n_bits
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None) -> "LSHHash":
        """Draw the hyperplanes and centre them on the mean of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, at least 2 samples, finite values.
        y : None
            Ignored; present for the sklearn API.

        Returns
        -------
        self : LSHHash
            The fitted hasher.
        """
        probe, X = self._validate_training_data(X)
        rng = check_random_state(self.random_state)
        mean, scale = mean_and_scale(X)
        projections = rng.standard_normal((X.shape[1], self.n_bits))
        publish_fit(
            self,
            probe,
            mean_=mean,
            scale_=scale,
            projection_=projections,
            n_bits_=int(self.n_bits),
        )
        return self
