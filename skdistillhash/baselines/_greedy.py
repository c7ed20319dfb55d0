"""GreedyHash: sign codes with a straight-through gradient (Su et al., NeurIPS 2018)."""

from __future__ import annotations

from numbers import Real

from .._sklearn_compat import Interval
from ._cosine import _CosineHasher


class GreedyHash(_CosineHasher):
    """Greedy hashing: the sign in the forward pass, its gradient passed straight through.

    A linear hash layer ``h = W x + c`` on frozen features, trained as the
    official code's unsupervised setting (ssppp/GreedyHash,
    ``unsupervised_vgg.py``) trains it: each batch is split in two halves,
    row ``i`` of the first paired with row ``i`` of the second, and the loss
    ``mean_i (cos(b_i, b_i') - cos(x_i, x_i'))^2 + penalty * mean(| |h| - 1 |^3)``
    pulls the cosine similarity of the codes ``b = sign(h)`` to that of the
    features while the cubic term pulls ``|h|`` to 1; the sign's gradient is
    taken as the identity (the greedy principle). SGD with momentum 0.9 and
    weight decay 5e-4, batches of 32, a constant learning rate, dropout on
    the features in training, as in the official code. Codes are
    ``sign(h)``.

    As in :class:`BiHalfHash`, and for the same reasons, the features are
    centred and scaled to mean squared norm 1 (``mean_``, ``scale_``) and
    training runs 50 epochs; ``learning_rate``, ``epochs`` and the centring
    were chosen on the validation splits of the benchmarks' four data sets
    (docs/design_notes.md, "The baselines' settings").

    Parameters
    ----------
    n_bits : int, default=32
        Code length.
    penalty : float, default=0.1
        Weight of the cubic term (the official code's 0.1).
    epochs : int, default=50
        Passes over the training rows.
    batch_size : int, default=32
        Rows per batch: 16 pairs.
    learning_rate : float, default=1.0
        SGD's step size for features of mean squared norm 1 (the published
        1e-4 on VGG16's fc7 features is about 0.5 on EfficientNet-Lite0's,
        scaled).
    decay_at : float, default=1.0
        Fraction of the epochs after which the learning rate is divided by
        10; 1 (the official code's schedule) never.
    momentum : float, default=0.9
        SGD's momentum.
    weight_decay : float, default=5e-4
        SGD's L2 penalty on the layer.
    dropout : float, default=0.5
        Probability of zeroing each feature in training, for the loss's
        targets and the layer's inputs alike, as VGG16's classifier does in
        the official code.
    n_jobs : int or None, default=None
        CPU threads of torch for the fit, restored after; None decides from
        the size of a training step, -1 means every CPU. Encoding runs on one
        thread.
    device : str or torch.device, default="auto"
        Where training runs: "auto" (CUDA when present, else the CPU),
        "cpu", "cuda", "cuda:N", "mps" or a ``torch.device``.
    random_state : int, RandomState instance or None, default=None
        Seeds the layer's initialisation, the batches and the dropout: on the
        CPU two fits with the same seed give identical codes.
    verbose : int, default=0
        1 prints a line per epoch (loss, seconds).

    Attributes
    ----------
    layer_ : torch.nn.Linear
        The trained hash layer, on the CPU.
    mean_ : ndarray of shape (n_features,)
        The training mean the features are centred on.
    scale_ : float
        The number the centred features are multiplied by before the layer:
        their mean squared norm is 1 on the training rows.
    loss_curve_ : list of float
        Mean training loss per epoch.
    n_iter_ : int
        Epochs run.
    n_bits_ : int
        Number of bits of the fitted codes.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``, when ``X`` has string column
        names.

    See Also
    --------
    BiHalfHash : The same loss with balanced bits.
    skdistillhash.DistillHash : Learns from distilled pairs instead.

    References
    ----------
    S. Su, C. Zhang, K. Han, Y. Tian, "Greedy Hash: Towards Fast Optimization
    for Accurate Hash Coding in CNN", NeurIPS 2018.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdistillhash.baselines import GreedyHash
    >>> X, y = load_digits(return_X_y=True)
    >>> hasher = GreedyHash(n_bits=16, epochs=5, device="cpu", random_state=0).fit(X)
    >>> hasher.predict(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints: dict = {
        **_CosineHasher._parameter_constraints,
        "penalty": [Interval(Real, 0, None, closed="left")],
    }

    _method = "greedyhash"

    def __init__(
        self,
        n_bits=32,
        *,
        penalty=0.1,
        epochs=50,
        batch_size=32,
        learning_rate=1.0,
        decay_at=1.0,
        momentum=0.9,
        weight_decay=5e-4,
        dropout=0.5,
        n_jobs=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_bits = n_bits
        self.penalty = penalty
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.decay_at = decay_at
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _layer_weight(self) -> float:
        return self.penalty
