"""The training loop and batched encoding. Plain torch; the estimator wraps it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .._progress import progress as progress_report
from ._denormals import flushing_denormals
from ._loss import pairwise_nll, quantization_loss


@dataclass
class TrainConfig:
    alpha: float
    quantization_weight: float
    balanced: bool
    epochs: int
    tol: float
    n_iter_no_change: int
    verbose: int
    #: Epochs over which the quantization weight grows linearly from 0 (0: none).
    warmup_epochs: int = 0


@dataclass
class TrainResult:
    loss_curve: list[float] = field(default_factory=list)
    pairs_per_epoch: list[int] = field(default_factory=list)
    n_iter: int = 0


def train_hash_network(
    net: nn.Module,
    inputs: torch.Tensor,
    batches: Iterable[np.ndarray],
    pair_labels: Callable[[np.ndarray, np.ndarray], np.ndarray],
    parameters: Iterable[dict],
    config: TrainConfig,
) -> TrainResult:
    """Minimise the pairwise NLL + quantization loss over epochs of batches.

    ``parameters`` are Adam's parameter groups, each with its own ``lr``
    (required: Adam's default step is decided by the estimator, not here)
    and ``weight_decay`` (none: 0).

    ``inputs`` already lives on the training device (the whole training set
    as one tensor); batches are index arrays into it, and their pair labels
    come from ``pair_labels(idx, idx)``. The quantization weight grows
    linearly, step by step, over the first ``warmup_epochs`` epochs. Stops
    early when the epoch loss has not improved by ``tol`` for
    ``n_iter_no_change`` epochs after the warm-up (as sklearn's MLP; during
    the warm-up the loss grows with its weight).

    A step never waits on the device: an epoch's batch indices travel in one
    copy, and the loss and pair counts are summed on the device and read once
    per epoch.
    """
    device = inputs.device
    groups = list(parameters)
    if not all(isinstance(group, dict) and "lr" in group for group in groups):
        raise ValueError("train_hash_network needs parameter groups, each with its 'lr'.")
    optimizer = torch.optim.Adam(groups, foreach=True)
    with flushing_denormals(device):
        return _train(net, inputs, batches, pair_labels, optimizer, config)


def _train(net, inputs, batches, pair_labels, optimizer, config: TrainConfig) -> TrainResult:
    with progress_report(config.epochs, "training", "epochs", enabled=bool(config.verbose)) as report:
        return _epochs(net, inputs, batches, pair_labels, optimizer, config, report)


def _epochs(net, inputs, batches, pair_labels, optimizer, config: TrainConfig, report) -> TrainResult:
    device = inputs.device
    result = TrainResult()
    best, stale = np.inf, 0
    step, warmup_steps = 0, None
    net.train()
    for epoch in range(1, config.epochs + 1):
        epoch_batches = list(batches)
        if warmup_steps is None:  # every epoch has as many batches
            warmup_steps = config.warmup_epochs * len(epoch_batches)
        sizes = [len(idx) for idx in epoch_batches]
        on_device = torch.from_numpy(np.concatenate(epoch_batches)).to(device).split(sizes)
        total = torch.zeros((), dtype=torch.float64, device=device)
        n_pairs = torch.zeros((), dtype=torch.float64, device=device)
        for idx, rows in zip(epoch_batches, on_device):
            labels = torch.from_numpy(_checked_labels(pair_labels(idx, idx), len(idx))).to(device, non_blocking=True)
            h = net(inputs[rows])
            nll, used = pairwise_nll(h, labels, config.alpha, config.balanced)
            step += 1
            weight = config.quantization_weight
            if step < warmup_steps:
                weight *= step / warmup_steps
            loss = nll + weight * quantization_loss(h)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach().double() * len(idx)
            n_pairs += used
        epoch_loss = total.item() / max(sum(sizes), 1)
        if not np.isfinite(epoch_loss):
            raise FloatingPointError(
                f"training diverged at epoch {epoch} (loss={epoch_loss}); lower learning_rate."
            )
        result.loss_curve.append(epoch_loss)
        result.pairs_per_epoch.append(int(n_pairs.item()))
        result.n_iter = epoch
        report.set_postfix(loss=f"{epoch_loss:.5f}", pairs=result.pairs_per_epoch[-1])
        report.update()
        if epoch <= config.warmup_epochs:
            continue
        if epoch_loss > best - config.tol:
            stale += 1
        else:
            stale = 0
        best = min(best, epoch_loss)
        if stale >= config.n_iter_no_change:
            report.close()
            if config.verbose:
                print(
                    f"training stopped after {epoch} epochs: the loss did not improve by more "
                    f"than tol={config.tol} for {config.n_iter_no_change} epochs.",
                    file=sys.stderr,
                    flush=True,
                )
            break
    return result


def _checked_labels(labels, n: int) -> np.ndarray:
    """A batch's labels as given by a distiller, checked before they meet the loss.

    C-ordered: the layout of the labels carries over into the gradient's matrix
    products, whose rounding depends on it, so codes would depend on how a
    distiller happens to lay out its array.
    """
    labels = np.ascontiguousarray(labels)
    if labels.shape != (n, n):
        raise ValueError(
            f"distiller.pair_labels(idx, idx) returned shape {labels.shape} for a batch of "
            f"{n} rows; it must return the ({n}, {n}) matrix of pair labels."
        )
    return labels


@torch.no_grad()
def encode(
    net: nn.Module,
    X: np.ndarray,
    device: torch.device,
    batch_size: int,
    progress: bool = False,
    *,
    fixed_shape: bool = False,
) -> np.ndarray:
    """Run ``net`` in eval mode over ``X`` in blocks of ``batch_size`` rows; float32 numpy out.

    ``fixed_shape=True`` pads the last block with zeros, so that every block
    has exactly ``batch_size`` rows: the CPU's matrix products pick their
    kernels and summation order by the shape of the product, so a row encoded
    among 7 rows and among 1,000 may differ in its last bits. With one shape
    (and the same thread count, which the callers fix), a row's output does
    not depend on the other rows or on where it falls in a block. Memory is
    bounded by one block on the device plus the (n, n_out) output.
    """
    n = X.shape[0]
    if n == 0:
        raise ValueError("nothing to encode: X has 0 rows.")
    was_training = net.training
    net.eval()
    chunks = []
    report = progress_report(n, "encoding", "rows", enabled=progress)
    for start in range(0, n, batch_size):
        rows = X[start : start + batch_size]
        # A new block each time (a network may return its input, as an empty
        # Sequential does); the rows are copied in by numpy, so that X may be
        # read-only (a memory map, which torch warns about) or any view.
        block = torch.zeros((batch_size if fixed_shape else len(rows), *X.shape[1:]))
        block.numpy()[: len(rows)] = rows
        chunks.append(net(block.to(device)).float().cpu().numpy()[: len(rows)])
        report.update(len(rows))
    report.close()
    net.train(was_training)
    return np.concatenate(chunks)
