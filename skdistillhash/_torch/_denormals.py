"""Subnormal floats treated as zero on every CPU thread torch computes with.

Adam's first moment of a weight whose gradient is almost always 0 (an input
feature that is rarely non-zero, such as a border pixel) decays by 0.9 a step
into the subnormal range, where x86 arithmetic is tens of times slower: on
10,000 Fashion-MNIST images a third of the first layer's moments are
subnormal after ten epochs. The flush-to-zero mode is a per-thread register
(MXCSR), and ``torch.set_flush_denormal`` sets only the calling thread's:
torch's other intra-op threads, started by OpenMP before any fit, keep
computing subnormals and the whole step waits on them. So the mode is set on
each of those threads too, by running ``torch.set_flush_denormal`` inside an
OpenMP parallel region of torch's own OpenMP runtime (``GOMP_parallel``, the
entry point GCC emits for ``#pragma omp parallel``, which libgomp and LLVM's
libomp export). Where that runtime cannot be found, only the calling thread
flushes, as before.

Flushing changes nothing a fit computes above 1e-38: an update of that size
leaves every weight as it was (the codes and losses equal those computed
without flushing; tests/test_hashing.py).
"""

from __future__ import annotations

import ctypes
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

#: ``void fn(void *data)``, the task ``GOMP_parallel`` runs on every thread of the team.
_TASK = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


@contextmanager
def flushing_denormals(device: torch.device) -> Iterator[None]:
    """Treat subnormal floats as zero on the CPU threads while in the block; restore each thread's mode after."""
    if device.type != "cpu":
        yield
        return
    was_on = flushes_denormals()
    if not torch.set_flush_denormal(True):  # not an x86 CPU with SSE3: nothing to set
        yield
        return
    before = {threading.get_ident(): was_on}

    def turn_on() -> None:
        before.setdefault(threading.get_ident(), flushes_denormals())
        torch.set_flush_denormal(True)

    def restore() -> None:
        torch.set_flush_denormal(before.get(threading.get_ident(), was_on))

    on_each_intra_op_thread(turn_on)
    try:
        yield
    finally:
        on_each_intra_op_thread(restore)


def flushes_denormals() -> bool:
    """Whether the calling thread treats subnormal floats as zero."""
    # torch can set the mode but not report it: a subnormal product tells.
    return torch.tensor(1e-40, dtype=torch.float32).mul(1.0).item() == 0.0


def on_each_intra_op_thread(task: Callable[[], None]) -> bool:
    """Run ``task()`` once on each of torch's intra-op threads, the calling one included.

    Returns False (having run it on the calling thread only) where torch's
    OpenMP runtime is not found.
    """
    parallel = _openmp_parallel()
    if parallel is None:
        task()
        return False
    # The callback must outlive the call; the team is the one torch's next
    # parallel region uses: same calling thread, same size.
    callback = _TASK(lambda _data: task())
    parallel(callback, None, torch.get_num_threads(), 0)
    return True


@functools.cache
def _openmp_parallel():
    """``GOMP_parallel`` of the OpenMP runtime torch was built against, or None."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    # Wheels ship their runtime beside libtorch (libgomp.so.1 on Linux,
    # libomp.dylib on macOS); other packages (faiss, scikit-learn) ship their
    # own copies, whose threads are not torch's.
    for path in sorted((Path(torch.__file__).parent / "lib").glob("lib*omp*")):
        try:
            parallel = ctypes.CDLL(str(path)).GOMP_parallel
        except (OSError, AttributeError):
            continue
        parallel.argtypes = [_TASK, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        parallel.restype = None
        return parallel
    return None
