"""Hash layers trained to keep the features' cosine structure: BiHalf and GreedyHash.

Both baselines train one linear layer ``h = W x + c`` on frozen features with
the unsupervised loss of their official code: each batch is split in two
halves, row ``i`` of the first paired with row ``i`` of the second, and the
cosine similarity of their codes is pulled to that of their features,
``mean_i (cos(b_i, b_i') - cos(x_i, x_i'))^2``. They differ in how the codes
``b`` are made from ``h`` in training:

* BiHalf (Li & van Gemert, AAAI 2021): the bi-half layer gives, in each bit,
  +1 to the half of the batch with the largest ``h`` and -1 to the other half
  (balanced bits), and passes back ``g + gamma * (h - b) / b.numel()``;
* GreedyHash (Su et al., NeurIPS 2018): ``b = sign(h)``, the gradient passed
  straight through, plus ``0.1 * mean(| |h| - 1 |^3)``.

As in the official code the features are those of VGG16's classifier in
training mode, so dropout (p = 0.5) acts on them in training, for the
targets and the layer's inputs alike; SGD with momentum 0.9 and weight decay
5e-4, batches of 32. Plain torch; the estimators wrap it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._progress import progress as progress_report
from ._denormals import flushing_denormals


class _BiHalf(torch.autograd.Function):
    """The bi-half layer: per bit, +1 for the top half of the batch, -1 for the rest."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, gamma: float) -> torch.Tensor:
        n = h.shape[0]
        order = h.argsort(dim=0, descending=True)
        ranked = torch.cat([h.new_ones(n // 2, h.shape[1]), -h.new_ones(n - n // 2, h.shape[1])])
        b = torch.empty_like(h).scatter_(0, order, ranked)
        ctx.save_for_backward(h, b)
        ctx.gamma = gamma
        return b

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, b = ctx.saved_tensors
        return grad + ctx.gamma * (h - b) / b.numel(), None


class _SignStraightThrough(torch.autograd.Function):
    """GreedyHash's layer: ``sign`` forward, the gradient passed on unchanged."""

    @staticmethod
    def forward(ctx, h: torch.Tensor) -> torch.Tensor:
        return torch.sign(h)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


@dataclass
class CosineConfig:
    method: str  # "bihalf" or "greedyhash"
    epochs: int
    batch_size: int
    learning_rate: float
    #: Epoch after which the learning rate is divided by 10 (None: never).
    decay_epoch: int | None
    momentum: float
    weight_decay: float
    dropout: float
    #: BiHalf's gamma; GreedyHash's weight of the cubic penalty.
    weight: float
    verbose: int


@dataclass
class CosineResult:
    loss_curve: list[float] = field(default_factory=list)
    n_iter: int = 0


def cosine_pair_loss(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``mean_i (cos(b_i, b_i') - cos(x_i, x_i'))^2`` over the halves of the batch."""
    half = x.shape[0] // 2
    target = F.cosine_similarity(x[:half], x[half : 2 * half])
    return F.mse_loss(F.cosine_similarity(b[:half], b[half : 2 * half]), target)


def train_cosine_layer(
    layer: nn.Linear, features: torch.Tensor, config: CosineConfig, rng: np.random.RandomState,
    generator: torch.Generator,
) -> CosineResult:
    """Train ``layer`` in place on ``features`` (already on the training device).

    Every epoch visits the rows once in a random order (``rng``), in batches
    of ``batch_size``; a last batch of fewer than two rows is left out, and
    an odd one loses its last row, so that the two halves pair up. Dropout
    masks are drawn from ``generator``.
    """
    optimizer = torch.optim.SGD(
        layer.parameters(), lr=config.learning_rate, momentum=config.momentum,
        weight_decay=config.weight_decay,
    )
    with flushing_denormals(features.device):
        return _train(layer, features, config, optimizer, rng, generator)


def _train(layer, features, config: CosineConfig, optimizer, rng, generator) -> CosineResult:
    with progress_report(config.epochs, "training", "epochs", enabled=bool(config.verbose)) as report:
        return _epochs(layer, features, config, optimizer, rng, generator, report)


def _epochs(layer, features, config: CosineConfig, optimizer, rng, generator, report) -> CosineResult:
    result = CosineResult()
    n = features.shape[0]
    device = features.device
    keep = 1.0 - config.dropout
    layer.train()
    for epoch in range(1, config.epochs + 1):
        if config.decay_epoch is not None and epoch == config.decay_epoch + 1:
            for group in optimizer.param_groups:
                group["lr"] = config.learning_rate / 10
        order = torch.from_numpy(rng.permutation(n)).to(device)
        total = torch.zeros((), dtype=torch.float64, device=device)
        steps = 0
        for start in range(0, n, config.batch_size):
            rows = order[start : start + config.batch_size]
            rows = rows[: len(rows) - len(rows) % 2]
            if len(rows) < 2:
                continue
            x = features[rows]
            if config.dropout:
                mask = torch.rand(x.shape, generator=generator, device="cpu").to(device) < keep
                x = x * mask / keep
            h = layer(x)
            if config.method == "bihalf":
                loss = cosine_pair_loss(x, _BiHalf.apply(h, config.weight))
            else:
                penalty = (h.abs() - 1).abs().pow(3).mean()
                loss = cosine_pair_loss(x, _SignStraightThrough.apply(h)) + config.weight * penalty
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach().double()
            steps += 1
        epoch_loss = total.item() / max(steps, 1)
        if not np.isfinite(epoch_loss):
            raise FloatingPointError(
                f"training diverged at epoch {epoch} (loss={epoch_loss}); lower learning_rate."
            )
        result.loss_curve.append(epoch_loss)
        result.n_iter = epoch
        report.set_postfix(loss=f"{epoch_loss:.5f}")
        report.update()
    return result
