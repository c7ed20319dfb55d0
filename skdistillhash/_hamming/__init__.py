"""Exact Hamming search backends behind one interface (private)."""

from ._numpy import pairwise_hamming

__all__ = ["pairwise_hamming"]
