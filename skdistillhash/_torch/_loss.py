"""Bayesian pairwise likelihood of distilled pairs, plus quantization."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pair_weights(labels: torch.Tensor, balanced: bool, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair weights summing to 1 over the labelled pairs of a batch.

    ``labels`` is symmetric with a zero diagonal (``pair_labels(idx, idx)``),
    so every unordered pair appears twice with the same label and weight:
    normalising over the full matrix counts each pair once, without building
    a triangle mask. Unlabelled pairs (0) weigh nothing. ``balanced=True``
    gives the similar and the dissimilar pairs half the total weight each:
    the likelihood reweighted by inverse class frequency (as in HashNet's
    weighted maximum likelihood), because similar pairs are a small minority
    of the labelled pairs.

    Returns the weights, the {1, 0} targets and the number of labelled
    (unordered) pairs as a 0-d tensor: reading it is left to the caller, so
    a training step never waits on the device.
    """
    similar = (labels > 0).to(dtype)
    dissimilar = (labels < 0).to(dtype)
    n_similar, n_dissimilar = similar.sum(), dissimilar.sum()
    n_labelled = n_similar + n_dissimilar  # each unordered pair twice
    if balanced:
        n_present = (n_similar > 0).to(dtype) + (n_dissimilar > 0).to(dtype)
        weights = similar / (n_present * n_similar).clamp(min=1) + dissimilar / (
            n_present * n_dissimilar
        ).clamp(min=1)
    else:
        weights = (similar + dissimilar) / n_labelled.clamp(min=1)
    return weights, similar, n_labelled / 2


def pairwise_nll(h: torch.Tensor, labels: torch.Tensor, alpha: float, balanced: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative log-likelihood of the labelled pairs of one batch.

    ``p(s_ij = 1 | h_i, h_j) = sigmoid(Omega_ij)``, ``Omega_ij = alpha * h_i . h_j``;
    the NLL of a pair is ``softplus(Omega_ij) - s_ij * Omega_ij`` with
    ``s_ij`` in {1, 0}, averaged with the weights of :func:`pair_weights`.
    Computed densely over the batch: cheaper than gathering the labelled
    pairs, and the weights zero out the rest.

    Returns the loss and the number of labelled pairs it used (a 0-d tensor).
    """
    weights, target, n_pairs = pair_weights(labels, balanced, h.dtype)
    omega = alpha * (h @ h.T)
    nll = F.softplus(omega) - target * omega
    return (weights * nll).sum(), n_pairs


def quantization_loss(h: torch.Tensor) -> torch.Tensor:
    """Mean over samples and bits of ``(h - sign(h))^2``.

    Averaging over bits (rather than summing) keeps ``quantization_weight``
    independent of ``n_bits``.
    """
    return (h - torch.sign(h).detach()).pow(2).mean()
