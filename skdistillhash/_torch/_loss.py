"""Bayesian pairwise likelihood of distilled pairs, plus quantization."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_nll(h: torch.Tensor, labels: torch.Tensor, alpha: float, balanced: bool) -> tuple[torch.Tensor, int]:
    """Negative log-likelihood of the labelled pairs of one batch.

    ``p(s_ij = 1 | h_i, h_j) = sigmoid(Omega_ij)``, ``Omega_ij = alpha * h_i . h_j``;
    the NLL of a pair is ``softplus(Omega_ij) - s_ij * Omega_ij`` with
    ``s_ij`` in {1, 0}. Each unordered pair counts once (upper triangle).

    ``balanced=True`` weighs the similar and the dissimilar pairs so that each
    class carries half the loss: the likelihood reweighted by inverse class
    frequency (as in HashNet's weighted maximum likelihood), because similar
    pairs are a small minority of the labelled pairs.

    Returns the loss and the number of labelled pairs it used.
    """
    omega = alpha * (h @ h.T)
    upper = torch.ones_like(labels, dtype=torch.bool).triu(diagonal=1)
    keep = upper & (labels != 0)
    omega = omega[keep]
    similar = labels[keep] > 0
    nll = F.softplus(omega) - similar.to(omega.dtype) * omega
    n_pairs = int(nll.numel())
    if n_pairs == 0:
        return h.sum() * 0.0, 0
    if not balanced:
        return nll.mean(), n_pairs
    parts = [nll[mask].mean() for mask in (similar, ~similar) if mask.any()]
    return torch.stack(parts).mean(), n_pairs


def quantization_loss(h: torch.Tensor) -> torch.Tensor:
    """Mean over samples and bits of ``(h - sign(h))^2``.

    Averaging over bits (rather than summing) keeps ``quantization_weight``
    independent of ``n_bits``.
    """
    return (h - torch.sign(h).detach()).pow(2).mean()
