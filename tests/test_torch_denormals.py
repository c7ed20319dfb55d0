import threading

import pytest
import torch

from skdistillhash._torch._denormals import (
    _openmp_parallel,
    flushes_denormals,
    flushing_denormals,
    on_each_intra_op_thread,
)

needs_openmp = pytest.mark.skipif(_openmp_parallel() is None, reason="torch's OpenMP runtime not found")
#: Large enough for torch to split an elementwise product over its threads (grain 32,768).
N = 1 << 20


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def subnormals_left(t: torch.Tensor) -> int:
    return int(t.mul(1.0).count_nonzero())


@needs_openmp
def test_the_task_runs_once_on_each_intra_op_thread(two_threads):
    seen = []
    assert on_each_intra_op_thread(lambda: seen.append(threading.get_ident()))
    assert len(seen) == 2 and len(set(seen)) == 2 and threading.get_ident() in seen


@needs_openmp
def test_every_thread_flushes_in_the_block_and_none_after(two_threads):
    subnormal = torch.full((N,), 1e-40)
    assert subnormals_left(subnormal) == N
    torch.set_flush_denormal(True)  # the calling thread only: the other thread's half stays
    try:
        assert 0 < subnormals_left(subnormal) < N
    finally:
        torch.set_flush_denormal(False)
    with flushing_denormals(torch.device("cpu")):
        assert subnormals_left(subnormal) == 0
    assert subnormals_left(subnormal) == N and not flushes_denormals()


@needs_openmp
def test_each_thread_gets_its_own_mode_back(two_threads):
    subnormal = torch.full((N,), 1e-40)
    on_each_intra_op_thread(lambda: torch.set_flush_denormal(True))
    try:
        with flushing_denormals(torch.device("cpu")):
            pass
        assert subnormals_left(subnormal) == 0 and flushes_denormals()
    finally:
        on_each_intra_op_thread(lambda: torch.set_flush_denormal(False))
    assert subnormals_left(subnormal) == N


def test_other_devices_are_left_alone():
    with flushing_denormals(torch.device("meta")):
        assert not flushes_denormals()
