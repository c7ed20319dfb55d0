"""What BiHalfHash and GreedyHash share: a hash layer trained to keep the cosine
structure of frozen features, with SGD as in their official code."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from .._base import N_JOBS_CONSTRAINT, BaseHasher, IntInterval
from .._fitting import publish_fit, validation_probe
from .._sklearn_compat import Interval, _fit_context
from .._torch._cosine import CosineConfig, train_cosine_layer
from .._torch._device import DEVICE_CONSTRAINT, resolve_device
from .._torch._networks import build_head, on_device
from .._torch._threads import threads_for, torch_threads
from .._torch._train import encode

#: Rows per block when encoding: one shape for every block (see ``encode``).
_ENCODE_ROWS = 1024


class _CosineHasher(BaseHasher):
    """A linear hash layer ``h = W x + c`` on frozen features, trained so that
    the cosine similarity of two rows' codes follows that of their features.

    Subclasses name their layer (``_method``: "bihalf" or "greedyhash") and
    its parameter (``_layer_weight``), and document their defaults.

    The features are centred on their training mean (``mean_``), as ITQ's
    and LSH's are, and scaled by one number (``scale_``) so that their mean
    squared norm is 1; ``decision_function`` computes
    ``W (scale_ * (x - mean_)) + c``. Both depart from the official code,
    which feeds VGG16's fc7 features as they are:

    * centred: the cosine of non-negative features (pooled after a ReLU, or
      pixels) is high for nearly every pair, and the losses are then best
      met by near-constant codes (GreedyHash's codes collapsed to one value
      in most bits); centred, the targets spread over [-1, 1] as the cosines
      of balanced codes do (+0.01 to +0.12 MAP@all on the validation splits);
    * scaled: SGD's step on a linear layer grows with the squared norm of its
      inputs, and the published learning rate was set for the features of
      one network; scaled, one rate suits any features, and the cosine
      similarities, the loss's targets, do not change.
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "epochs": [IntInterval(1, None, closed="left")],
        "batch_size": [IntInterval(2, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "decay_at": [Interval(Real, 0, 1, closed="both")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "n_jobs": N_JOBS_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    _method: str

    def _layer_weight(self) -> float:
        raise NotImplementedError

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the hash layer on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature vectors, at least 2 samples, finite values.
        y : None
            Ignored; present for the sklearn API.

        Returns
        -------
        self
            The fitted hasher. A fit that fails or is interrupted leaves the
            estimator as it was.
        """
        device = resolve_device(self.device)
        probe = validation_probe(self)
        X = validate_data(probe, X, dtype=np.float32, ensure_min_samples=2)
        rng = check_random_state(self.random_state)
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        centred = X - mean
        mean_square = float(np.mean(np.einsum("ij,ij->i", centred, centred, dtype=np.float64)))
        if mean_square == 0:
            raise ValueError(
                f"{type(self).__name__} needs features that vary: every row of X is the same."
            )
        scale = 1.0 / math.sqrt(mean_square)
        layer = build_head(X.shape[1], (), self.n_bits, generator)[0]
        config = CosineConfig(
            method=self._method,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            decay_epoch=round(self.decay_at * self.epochs),
            momentum=self.momentum,
            weight_decay=self.weight_decay,
            dropout=self.dropout,
            weight=self._layer_weight(),
            verbose=self.verbose,
        )
        features = torch.from_numpy(centred * np.float32(scale)).to(device)
        step_flops = 6 * self.batch_size * X.shape[1] * self.n_bits
        with torch_threads(threads_for(step_flops, self.n_jobs)):
            result = train_cosine_layer(layer.to(device), features, config, rng, generator)
        publish_fit(
            self, probe,
            layer_=layer.cpu().eval(),
            mean_=mean,
            scale_=scale,
            loss_curve_=result.loss_curve,
            n_iter_=result.n_iter,
            n_bits_=int(self.n_bits),
        )
        return self

    def decision_function(self, X) -> np.ndarray:
        """The layer's outputs ``h = W (scale_ * (x - mean_)) + c``; the bits are their signs.

        Each row on its own, never the batch's bi-half assignment: encoded on
        one CPU thread in blocks of one shape, so that a row's output is the
        same to the bit however the rows are batched.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        h : ndarray of shape (n_samples, n_bits), dtype float32
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        device = resolve_device(self.device)
        layer = on_device(self.layer_, device)
        progress = bool(self.verbose) and len(X) > 10 * _ENCODE_ROWS
        with torch_threads(1):
            features = (X - self.mean_) * np.float32(self.scale_)
            return encode(layer, features, device, _ENCODE_ROWS, progress, fixed_shape=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = str(self.device) != "cpu" and (
            torch.cuda.is_available() or torch.backends.mps.is_available()
        )
        return tags
