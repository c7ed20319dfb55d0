"""How many CPU threads torch runs the library's work on, and a block that runs it so.

torch's default is a process-wide pool of one OpenMP thread per core, whose
threads busy-wait between parallel regions. For the small matrix products of
a hash layer's training step that costs more than it gives on a quiet
machine, and beside another busy process a spinning thread takes the core its
partner needs: a fit on two cores ran 8x slower than on one. So every
estimator decides: ``n_jobs`` when the user gives it (joblib's convention,
-1 for every core), otherwise as many threads as the work can use, never more
than the process may use. torch's setting is per calling thread (OpenMP's and
MKL's thread counts are thread-local), and is restored when the work ends,
also on error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import joblib
import torch

#: Floating-point operations that keep one more thread busy enough to pay for
#: its barriers. Measured on 2 cores: a hash layer's step on 128 rows (3e7)
#: is no faster on two threads than on one; a 1024-unit hidden layer on 1280
#: features (1e9) is 1.35x faster.
FLOPS_PER_THREAD = 2.5e8


def available_threads() -> int:
    """The threads this process may use.

    The CPUs it may run on (``joblib.cpu_count``: affinity, cgroup quotas,
    ``LOKY_MAX_CPU_COUNT``), at most the caller's torch setting (which
    carries ``OMP_NUM_THREADS``, the limit joblib sets inside its loky
    workers and any ``threadpoolctl`` limit), and inside a Dask worker its
    share of the machine: the CPUs over the worker's threads.
    """
    n = min(joblib.cpu_count(), torch.get_num_threads())
    worker = _dask_worker()
    if worker is not None:
        n = min(n, joblib.cpu_count() // max(worker.state.nthreads, 1))
    return max(n, 1)


def threads_for(flops: float, n_jobs: int | None = None) -> int:
    """Threads for a piece of work of ``flops`` operations between two waits.

    ``n_jobs`` as given (joblib's convention: -1 every CPU, -2 all but one),
    else one thread per :data:`FLOPS_PER_THREAD`, at most :func:`available_threads`.
    """
    if n_jobs is not None:
        return joblib.effective_n_jobs(n_jobs)
    # flops may be infinite (a backbone's work: every thread the process may use).
    return max(1, int(min(flops / FLOPS_PER_THREAD, available_threads())))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block on ``n`` torch intra-op threads; restore the caller's count after."""
    before = torch.get_num_threads()
    if n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _dask_worker():
    """The Dask worker running this code, or None (distributed is never imported here)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.get_worker()
    except ValueError:  # not inside a task
        return None
