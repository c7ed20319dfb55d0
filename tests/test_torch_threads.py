"""skdistillhash._torch._threads: the library decides torch's threads for its work
and gives the caller's setting back."""

import threading

import joblib
import numpy as np
import pytest
import torch

import skdistillhash.hashing as hashing_module
from skdistillhash import DistillHash, HammingNeighbors, PairDistiller
from skdistillhash._torch import _threads
from skdistillhash._torch._threads import FLOPS_PER_THREAD, available_threads, threads_for, torch_threads


@pytest.fixture
def caller_threads():
    """The caller's torch setting for the test's thread, restored afterwards."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_torch_threads_sets_and_restores_also_on_error(caller_threads):
    torch.set_num_threads(2)
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(KeyboardInterrupt), torch_threads(1):
        raise KeyboardInterrupt
    assert torch.get_num_threads() == 2


def test_the_setting_is_the_calling_threads_own(caller_threads):
    # A fit in one thread does not change the threads of a fit in another:
    # torch's count (OpenMP's and MKL's) is per calling thread.
    torch.set_num_threads(2)
    inside, entered, leave = [], threading.Event(), threading.Event()

    def work():
        with torch_threads(1):
            inside.append(torch.get_num_threads())
            entered.set()
            leave.wait(10)

    worker = threading.Thread(target=work)
    worker.start()
    entered.wait(10)
    assert inside == [1] and torch.get_num_threads() == 2
    leave.set()
    worker.join()


def test_threads_for_follows_n_jobs_or_the_work(monkeypatch):
    monkeypatch.setattr(_threads, "available_threads", lambda: 4)
    assert threads_for(1e6) == 1
    assert threads_for(2.5 * FLOPS_PER_THREAD) == 2
    assert threads_for(1e15) == 4  # never more than the process may use
    assert threads_for(float("inf")) == 4
    assert threads_for(1e6, n_jobs=3) == 3
    assert threads_for(1e15, n_jobs=1) == 1
    assert threads_for(1e6, n_jobs=-1) == joblib.cpu_count()


def test_available_threads_is_capped_by_the_callers_setting(caller_threads):
    torch.set_num_threads(1)
    assert available_threads() == 1
    torch.set_num_threads(max(joblib.cpu_count(), 1) + 8)
    assert available_threads() == joblib.cpu_count()


def _threads_in_a_loky_worker():
    return available_threads(), torch.get_num_threads()


@pytest.mark.skipif(joblib.cpu_count() < 2, reason="needs 2 CPUs for 2 workers")
def test_loky_workers_get_their_share():
    # GridSearchCV(n_jobs=2) runs its fits in loky workers, which joblib limits
    # to cpu_count // n_jobs threads: the library follows that limit.
    results = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_threads_in_a_loky_worker)() for _ in range(2)
    )
    share = max(joblib.cpu_count() // 2, 1)
    assert all(available == share for available, _ in results)


def test_a_dask_worker_gets_its_share():
    distributed = pytest.importorskip("distributed")
    with distributed.Client(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as client:
        available = client.submit(available_threads, pure=False).result()
    assert available == max(joblib.cpu_count() // 2, 1)


def _recording(monkeypatch, module, name):
    """Wrap ``module.name`` to record torch's threads while it runs."""
    seen, original = [], getattr(module, name)

    def record(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, record)
    return seen


def test_distillhash_trains_a_linear_layer_on_one_thread_and_gives_the_setting_back(
    digits, monkeypatch, caller_threads
):
    X = digits[0][:300]
    torch.set_num_threads(2)
    seen = _recording(monkeypatch, hashing_module, "train_hash_network")
    DistillHash(n_bits=8, epochs=1, device="cpu", random_state=0).fit(X)
    assert seen == [1] and torch.get_num_threads() == 2
    DistillHash(n_bits=8, epochs=1, device="cpu", random_state=0, n_jobs=2).fit(X)
    assert seen == [1, 2] and torch.get_num_threads() == 2


def test_a_failed_fit_gives_the_setting_back(digits, monkeypatch, caller_threads):
    torch.set_num_threads(2)

    def interrupted(*args, **kwargs):
        assert torch.get_num_threads() == 1
        raise KeyboardInterrupt

    monkeypatch.setattr(hashing_module, "train_hash_network", interrupted)
    with pytest.raises(KeyboardInterrupt):
        DistillHash(n_bits=8, epochs=1, device="cpu", n_jobs=1).fit(digits[0][:300])
    assert torch.get_num_threads() == 2


def test_distiller_threads_follow_n_jobs(digits, monkeypatch, caller_threads):
    import skdistillhash.distill as distill_module

    X = digits[0][:300]
    torch.set_num_threads(2)
    seen = _recording(monkeypatch, distill_module, "inner_product_knn")
    PairDistiller(n_jobs=1, whiten_components=None, random_state=0).fit(X)
    # 300 x 300 x 64 products: too little work for a second thread.
    PairDistiller(whiten_components=None, random_state=0).fit(X)
    PairDistiller(n_jobs=2, whiten_components=None, random_state=0).fit(X)
    assert seen == [1, 1, 2] and torch.get_num_threads() == 2
    # DistillHash hands its n_jobs to a distiller that has none.
    DistillHash(n_bits=8, epochs=1, device="cpu", n_jobs=2,
                distiller=PairDistiller(whiten_components=None)).fit(X)
    assert seen[-1] == 2


def test_encoding_features_runs_on_one_thread(digits, monkeypatch, caller_threads):
    X = digits[0][:300]
    est = DistillHash(n_bits=8, epochs=1, device="cpu", random_state=0, n_jobs=2).fit(X)
    torch.set_num_threads(2)
    seen = _recording(monkeypatch, hashing_module, "encode")
    est.decision_function(X)
    assert seen == [1] and torch.get_num_threads() == 2


def test_torch_search_threads_follow_n_jobs(caller_threads, monkeypatch):
    from skdistillhash._hamming import _torch_backend

    B = np.random.default_rng(0).integers(0, 2, (50, 16))
    torch.set_num_threads(2)
    seen = _recording(monkeypatch, _torch_backend.TorchIndex, "_knn")
    nn = HammingNeighbors(n_neighbors=3, backend="torch").fit(B)
    nn.kneighbors(B)
    nn.set_params(n_jobs=2).kneighbors(B)
    assert seen == [1, 2] and torch.get_num_threads() == 2
