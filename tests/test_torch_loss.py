"""The pairwise likelihood against a plain per-pair reference."""

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from skdistillhash._torch._loss import pairwise_nll, quantization_loss


def reference_nll(h, labels, alpha, balanced):
    """-log p(s | h_i, h_j) per labelled unordered pair, written out plainly."""
    terms = {1: [], -1: []}
    n = len(h)
    for i in range(n):
        for j in range(i + 1, n):
            s = labels[i][j]
            if s == 0:
                continue
            p = 1 / (1 + math.exp(-alpha * float(np.dot(h[i], h[j]))))
            terms[s].append(-math.log(p if s == 1 else 1 - p))
    present = [t for t in terms.values() if t]
    if not present:
        return 0.0, 0
    n_pairs = sum(len(t) for t in present)
    if balanced:
        return sum(np.mean(t) for t in present) / len(present), n_pairs
    return sum(sum(t) for t in present) / n_pairs, n_pairs


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 7),
    bits=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    alpha=st.floats(0.1, 2.0),
    balanced=st.booleans(),
)
def test_nll_matches_per_pair_reference(n, bits, seed, alpha, balanced):
    rng = np.random.RandomState(seed)
    h = np.tanh(rng.randn(n, bits)).astype(np.float64)
    labels = rng.choice([-1, 0, 1], size=(n, n))
    labels = np.triu(labels, 1) + np.triu(labels, 1).T  # symmetric, empty diagonal
    loss, used = pairwise_nll(torch.from_numpy(h), torch.from_numpy(labels), alpha, balanced)
    expected, expected_used = reference_nll(h, labels, alpha, balanced)
    assert int(used) == expected_used
    assert math.isclose(float(loss), expected, rel_tol=1e-9, abs_tol=1e-12)


def test_similar_pairs_pull_codes_together():
    h = torch.tensor([[0.5, -0.2], [0.1, 0.3]], requires_grad=True)
    loss, _ = pairwise_nll(h, torch.tensor([[0, 1], [1, 0]]), 0.5, True)
    loss.backward()
    with torch.no_grad():
        moved = h - 0.1 * h.grad
        assert float(moved[0] @ moved[1]) > float(h[0] @ h[1])


def test_quantization_is_zero_on_binary_codes_and_per_bit():
    assert float(quantization_loss(torch.tensor([[1.0, -1.0]]))) == 0.0
    assert math.isclose(float(quantization_loss(torch.full((3, 8), 0.5))), 0.25)
