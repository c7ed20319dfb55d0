"""Timing helpers shared by the benchmark scripts (imported from this folder)."""

from __future__ import annotations

import time


def best_time(func, repeats: int):
    """``(seconds, result)``: the fastest of ``repeats`` calls of ``func`` and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result
