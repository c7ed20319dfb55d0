"""Search backends: exact, identical across backends, ties by index."""

from contextlib import contextmanager
from math import comb

import joblib
import numpy as np
import pytest
from _references import BACKENDS, brute_knn, brute_radius, needs_faiss, pack
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.neighbors import NearestNeighbors

from skdistillhash._hamming import (
    _faiss,
    _numpy,
    _torch_backend,
    make_index,
    prefers_mih,
)
from skdistillhash._hamming._mih import MultiIndexHashing, n_substrings
from skdistillhash._hamming._numpy import NumpyIndex, pairwise_hamming
from skdistillhash._hamming._torch_backend import TorchIndex


def split_csr(indptr, dist, idx):
    return [(dist[a:b], idx[a:b]) for a, b in zip(indptr[:-1], indptr[1:])]


def build(name, codes, n_jobs=1):
    if name == "torch":
        return TorchIndex(codes, device="cpu")
    return make_index(name, codes, n_jobs)


@st.composite
def tied_codes(draw, max_n=300):
    """Databases drawn from few distinct codes, so nearly every distance ties."""
    n_bytes = draw(st.integers(1, 5))
    n_distinct = draw(st.integers(1, 6))
    n = draw(st.integers(1, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # Sparse bytes keep distances small, hence more ties.
    pool = (rng.random((n_distinct, n_bytes)) < 0.3) * rng.integers(0, 256, (n_distinct, n_bytes))
    db = pool[rng.integers(0, n_distinct, n)].astype(np.uint8)
    q = pool[rng.integers(0, n_distinct, draw(st.integers(1, 12)))].astype(np.uint8)
    q ^= (rng.random(q.shape) < 0.05).astype(np.uint8)
    return q, db


@contextmanager
def small_blocks():
    """Tiny blocks, so small tests cross many block and merge boundaries."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_numpy, "_QUERY_BLOCK", 3)
        mp.setattr(_numpy, "_DB_BLOCK", 16)
        mp.setattr(_numpy, "_MERGE_EVERY", 1)
        mp.setattr(_torch_backend, "_QUERY_CHUNK", 4)
        mp.setattr(_torch_backend, "_PAIRS_PER_STEP", 160)  # 40 codes per block
        yield


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=40, deadline=None)
@given(data=tied_codes(), k_frac=st.floats(0, 1))
def test_knn_matches_reference_with_heavy_ties(backend, data, k_frac):
    q, db = data
    k = 1 + int(k_frac * (len(db) - 1))
    dist, idx = build(backend, db).knn(q, k)
    ref_dist, ref_idx = brute_knn(q, db, k)
    assert dist.dtype == np.int32 and idx.dtype == np.int64
    np.testing.assert_array_equal(dist, ref_dist)
    np.testing.assert_array_equal(idx, ref_idx)


@settings(max_examples=40, deadline=None)
@given(data=tied_codes(), k_frac=st.floats(0, 1), n_jobs=st.sampled_from([1, 2]))
def test_knn_across_blocks_and_merges(data, k_frac, n_jobs):
    q, db = data
    k = 1 + int(k_frac * (len(db) - 1))
    ref_dist, ref_idx = brute_knn(q, db, k)
    with small_blocks():
        for index in (NumpyIndex(db, n_jobs=n_jobs), TorchIndex(db, device="cpu")):
            dist, idx = index.knn(q, k)
            np.testing.assert_array_equal(dist, ref_dist)
            np.testing.assert_array_equal(idx, ref_idx)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None)
@given(data=tied_codes(), r=st.integers(0, 12))
def test_radius_matches_reference(backend, data, r):
    q, db = data
    got = split_csr(*build(backend, db).radius(q, r))
    for (d, i), (ref_d, ref_i) in zip(got, brute_radius(q, db, r), strict=True):
        np.testing.assert_array_equal(i, ref_i)
        np.testing.assert_array_equal(d, ref_d)
        assert d.dtype == np.int32 and i.dtype == np.int64


@settings(max_examples=30, deadline=None)
@given(data=tied_codes(), r=st.integers(0, 12))
def test_radius_across_blocks(data, r):
    q, db = data
    with small_blocks():
        for index in (NumpyIndex(db, n_jobs=2), TorchIndex(db, device="cpu")):
            got = split_csr(*index.radius(q, r))
            for (d, i), (ref_d, ref_i) in zip(got, brute_radius(q, db, r), strict=True):
                np.testing.assert_array_equal(i, ref_i)
                np.testing.assert_array_equal(d, ref_d)


@settings(max_examples=60, deadline=None)
@given(data=tied_codes(), r=st.integers(0, 16), m=st.integers(1, 40))
def test_mih_equals_scan(data, r, m):
    q, db = data
    m = min(m, 8 * db.shape[1])
    m = max(m, -(-8 * db.shape[1] // 32))  # substrings of at most 32 bits
    # MIH enumerates a Hamming ball per substring; HammingNeighbors picks it
    # only where that ball is small (prefers_mih). Keep forced cases tractable.
    longest, ball_radius = -(-8 * db.shape[1] // m), r // m
    assume(sum(comb(longest, i) for i in range(ball_radius + 1)) <= 50_000)
    mih = MultiIndexHashing(db, m=m).radius(q, r)
    scan = NumpyIndex(db).radius(q, r)
    for a, b in zip(mih, scan, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mih_on_near_duplicates_with_default_substrings():
    rng = np.random.default_rng(0)
    centres = rng.integers(0, 2, (20, 64))
    bits = centres[rng.integers(0, 20, 5000)] ^ (rng.random((5000, 64)) < 0.03)
    db = pack(bits)
    q = db[:200] ^ pack(rng.random((200, 64)) < 0.02)
    mih = MultiIndexHashing(db)
    assert mih.m == n_substrings(64, 5000) == 5
    for r in range(6):
        for a, b in zip(mih.radius(q, r), NumpyIndex(db).radius(q, r), strict=True):
            np.testing.assert_array_equal(a, b)


def test_prefers_mih_for_small_radii_on_large_databases():
    assert prefers_mih(10**6, 64, 2)
    assert not prefers_mih(10**6, 64, 16)
    assert not prefers_mih(100, 64, 0)  # a scan of 100 codes is already cheap


@needs_faiss
@pytest.mark.parametrize("seed", range(5))
def test_faiss_ties_settled_even_if_faiss_prefers_large_indices(seed):
    """faiss may return any of the codes tied at the k-th distance: be exact anyway."""
    rng = np.random.default_rng(seed)
    db = (rng.random((500, 2)) < 0.1) * rng.integers(0, 256, (500, 2))
    db = db.astype(np.uint8)
    q = db[:20]

    class Adversarial:
        """Correct distances, but ties resolved towards the largest index."""

        def search(self, queries, k):
            dist = pairwise_hamming(queries, db)
            order = np.lexsort((-np.arange(len(db))[None, :].repeat(len(queries), 0), dist))
            order = order[:, :k]
            return np.take_along_axis(dist, order, axis=1), order

    index = make_index("faiss", db, 1)
    index._index = Adversarial()
    for k in (1, 7, 100, 250, 500):
        dist, idx = index.knn(q, k)
        ref_dist, ref_idx = brute_knn(q, db, k)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_array_equal(dist, ref_dist)


def test_numpy_threads_follow_joblib_convention(monkeypatch):
    pools = []

    class RecordingPool(_numpy.ThreadPoolExecutor):
        def __init__(self, max_workers):
            pools.append(max_workers)
            super().__init__(max_workers)

    monkeypatch.setattr(_numpy, "ThreadPoolExecutor", RecordingPool)
    db = np.arange(64, dtype=np.uint8).reshape(-1, 1)
    index = make_index("numpy", db, None)
    index.knn(db, 3)
    assert pools == []  # None means one thread outside a joblib context ...
    with joblib.parallel_config(n_jobs=3):
        index.knn(db, 3)
    assert pools == [3]  # ... and the context's n_jobs inside one.
    make_index("numpy", db, 2).knn(db, 3)
    assert pools == [3, 2]


@needs_faiss
def test_faiss_threads_follow_n_jobs_and_are_restored(monkeypatch):
    faiss = _faiss.faiss
    before, threads = faiss.omp_get_max_threads(), []
    set_threads = faiss.omp_set_num_threads
    monkeypatch.setattr(faiss, "omp_set_num_threads", lambda n: threads.append(n) or set_threads(n))
    db = np.arange(64, dtype=np.uint8).reshape(-1, 1)
    make_index("faiss", db, None).knn(db, 3)
    assert threads[0] == 1  # None means one thread outside a joblib context
    assert faiss.omp_get_max_threads() == before


def test_faiss_missing_names_the_extra(no_faiss):
    with pytest.raises(ImportError, match=r"pip install skdistillhash\[faiss\]"):
        make_index("faiss", np.zeros((3, 1), np.uint8))
    assert isinstance(make_index("auto", np.zeros((3, 1), np.uint8)), NumpyIndex)


def test_first_at_distance():
    db = np.array([[0], [1], [3], [1], [7], [1], [0]], dtype=np.uint8)
    q = np.array([[0], [0], [0]], dtype=np.uint8)
    found = NumpyIndex(db).first_at_distance(q, levels=[1, 0, 3], counts=[2, 5, 0])
    assert [f.tolist() for f in found] == [[1, 3], [0, 6], []]


@settings(max_examples=30, deadline=None)
@given(data=tied_codes(max_n=60), n_bits_trim=st.integers(0, 7))
def test_distances_match_sklearn_hamming_metric(data, n_bits_trim):
    """sklearn's hamming metric is the fraction of differing bits."""
    q, db = data
    n_bits = 8 * db.shape[1] - n_bits_trim
    bits_q = np.unpackbits(q, axis=1, bitorder="little", count=n_bits)
    bits_db = np.unpackbits(db, axis=1, bitorder="little", count=n_bits)
    k = len(db)
    dist, _ = NumpyIndex(pack(bits_db)).knn(pack(bits_q), k)
    nn = NearestNeighbors(n_neighbors=k, metric="hamming", algorithm="brute").fit(bits_db)
    sk_dist, sk_idx = nn.kneighbors(bits_q)
    np.testing.assert_allclose(np.sort(sk_dist, axis=1) * n_bits, dist)
    np.testing.assert_array_equal(pairwise_hamming(pack(bits_q), pack(bits_db))[
        np.arange(len(q))[:, None], sk_idx], np.rint(sk_dist * n_bits))


def test_wide_codes_use_wider_distance_dtype():
    rng = np.random.default_rng(1)
    db = rng.integers(0, 256, (50, 40), dtype=np.uint8)  # 320 bits: distances > 255
    q = ~db[:5]
    for backend in ("numpy", "torch"):
        dist, idx = build(backend, db).knn(q, 50)
        ref_dist, ref_idx = brute_knn(q, db, 50)
        np.testing.assert_array_equal(dist, ref_dist)
        np.testing.assert_array_equal(idx, ref_idx)
    assert dist[:, -1].max() == 320  # each query's own complement
