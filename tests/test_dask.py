"""skdistillhash.dask: encoding and sharded exact search on Dask.

Everything runs on dask's local schedulers, and the parts that cross process
boundaries (pickling hashers and shards, placing tasks next to their shard)
also on one two-process LocalCluster, started once for the module.
"""

import copy
import logging
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

pytest.importorskip("distributed", reason="needs the 'dask' extra")

import dask  # noqa: E402
import dask.array as da  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402

from skdistillhash import DistillHash, HammingNeighbors, ITQHash, LSHHash  # noqa: E402
from skdistillhash.baselines import BiHalfHash  # noqa: E402
from skdistillhash.dask import DaskHammingNeighbors, encode  # noqa: E402

OUTPUTS = {"packed": "predict", "bits": "transform", "scores": "decision_function"}


@pytest.fixture(scope="module")
def client():
    """Two worker processes, one thread each; not the default client, so that
    the other tests keep dask's local scheduler (use ``client.as_current()``)."""
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture(scope="module")
def hashers(digits):
    X, _ = digits
    return [
        DistillHash(n_bits=8, epochs=2, hidden_layer_sizes=(32,), device="cpu",
                    random_state=0).fit(X),
        # 12 bits: packed codes of two bytes, four of them padding.
        ITQHash(n_bits=12, n_iter=5, random_state=0).fit(X),
        LSHHash(n_bits=12, random_state=0).fit(X),
        BiHalfHash(n_bits=12, epochs=2, device="cpu", random_state=0).fit(X),
    ]


def chunked(X):
    """Row chunks of 400 (not dividing 1797), columns split in two."""
    return da.from_array(X, chunks=(400, X.shape[1] // 2))


@settings(max_examples=15, deadline=None)
@given(cuts=st.lists(st.integers(1, 299), max_size=8, unique=True))
def test_codes_do_not_depend_on_the_chunks(hashers, digits, cuts):
    # A row's scores, to the bit, whatever chunk it falls in and wherever in it:
    # chunks of one row included.
    X = digits[0][:300]
    sizes = tuple(np.diff([0, *sorted(cuts), 300]))
    for hasher in hashers:
        got = encode(hasher, da.from_array(X, chunks=(sizes, -1)), output="scores").compute()
        np.testing.assert_array_equal(got, hasher.decision_function(X))


# -- encode ---------------------------------------------------------------


@pytest.mark.parametrize("where", ["threads", "cluster"])
def test_encode_equals_in_memory(digits, hashers, where, request):
    X, _ = digits
    Xd = chunked(X)
    lazy = {(h, out): encode(h, Xd, output=out) for h in hashers for out in OUTPUTS}
    for (hasher, out), codes in lazy.items():
        width = -(-hasher.n_bits_ // 8) if out == "packed" else hasher.n_bits_
        assert codes.chunks == (Xd.chunks[0], (width,))
        assert codes.dtype == (np.float32 if out == "scores" else np.uint8)
        assert type(codes._meta) is np.ndarray and codes._meta.dtype == codes.dtype
    scheduler = request.getfixturevalue("client") if where == "cluster" else "threads"
    computed = dask.compute(lazy, scheduler=scheduler)[0]
    for (hasher, out), codes in computed.items():
        expected = getattr(hasher, OUTPUTS[out])(X)
        assert codes.dtype == expected.dtype
        np.testing.assert_array_equal(codes, expected, err_msg=f"{hasher!r} {out}")


def test_encode_pipeline_and_odd_chunks(digits):
    X, _ = digits
    pipe = make_pipeline(StandardScaler(), LSHHash(n_bits=10, random_state=0)).fit(X)
    Xd = da.from_array(X[:300], chunks=((100, 0, 150, 50), (32, 32)))
    np.testing.assert_array_equal(encode(pipe, Xd).compute(), pipe.predict(X[:300]))
    # Unknown chunk sizes (a mask), some chunks empty.
    masked = Xd[Xd[:, 10] > 0.5]
    assert np.isnan(masked.shape[0])
    got = encode(pipe, masked, output="bits").compute()
    np.testing.assert_array_equal(got, pipe.transform(X[:300][X[:300, 10] > 0.5]))


def test_encode_images(digits):
    """A DistillHash fitted on 4-D images encodes 4-D dask arrays."""
    X, _ = digits
    images = X[:200].reshape(-1, 1, 8, 8)
    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(),
                                   torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    hasher = DistillHash(n_bits=8, backbone=backbone, epochs=2, hidden_layer_sizes=(16,),
                         device="cpu", random_state=0).fit(images)
    codes = encode(hasher, da.from_array(images, chunks=(64, 1, 4, 8)), output="scores")
    assert codes.chunks == ((64, 64, 64, 8), (8,))
    np.testing.assert_array_equal(codes.compute(), hasher.decision_function(images))
    with pytest.raises(ValueError, match="must be 4-D"):
        encode(hasher, da.from_array(X[:10]))
    # Reported: refused ("X must be 2-D") behind a pipeline, whose predict works.
    pipe = make_pipeline(FunctionTransformer(lambda images: images * 2.0), hasher)
    got = encode(pipe, da.from_array(images, chunks=(64, 1, 8, 8)))
    np.testing.assert_array_equal(got.compute(), pipe.predict(images))


def test_encode_errors(digits, hashers):
    X, _ = digits
    Xd = da.from_array(X, chunks=500)
    lsh = hashers[2]
    with pytest.raises(NotFittedError):
        encode(LSHHash(), Xd)
    with pytest.raises(ValueError, match="output must be one of"):
        encode(lsh, Xd, output="codes")
    with pytest.raises(TypeError, match="needs a hasher"):
        encode(HammingNeighbors().fit([[0, 1]]), Xd)
    with pytest.raises(TypeError, match="must be a dask array"):
        encode(lsh, X)
    with pytest.raises(ValueError, match="X has 10 features, but LSHHash is expecting 64"):
        encode(lsh, Xd[:, :10])
    with pytest.raises(ValueError, match="must be 2-D"):
        encode(lsh, Xd[:, 0])


# -- DaskHammingNeighbors ---------------------------------------------------------


def single_index(B, Q, k, packed):
    """The reference: one HammingNeighbors over everything."""
    return HammingNeighbors(n_neighbors=k, packed=packed, backend="numpy").fit(B).kneighbors(Q)


def assert_same(got, expected):
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert got[0].dtype == np.int32 and got[1].dtype == np.int64


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n_bits=st.integers(4, 8), packed=st.booleans(),
       chunks=st.lists(st.integers(0, 12), min_size=1, max_size=6).filter(sum))
def test_sharded_equals_single_index(data, n_bits, packed, chunks):
    """Few bits, so ties abound; shards of any size, empty or smaller than k."""
    n = sum(chunks)
    bits = st.integers(0, 1)
    B = data.draw(arrays(np.uint8, (n, n_bits), elements=bits), label="B")
    Q = data.draw(arrays(np.uint8, (data.draw(st.integers(1, 6)), n_bits), elements=bits),
                  label="Q")
    k = data.draw(st.integers(1, n), label="k")
    if packed:
        B, Q = np.packbits(B, axis=1, bitorder="little"), np.packbits(Q, axis=1, bitorder="little")
    # A dask array's own chunks, or in-memory codes split into n_shards.
    if data.draw(st.booleans(), label="dask input"):
        database, n_shards = da.from_array(B, chunks=(tuple(chunks), -1)), None
    else:
        database, n_shards = B, len(chunks)
    nn = DaskHammingNeighbors(n_neighbors=k, packed=packed, n_shards=n_shards)
    with dask.config.set(scheduler="sync"):
        nn.fit(database)
        got = nn.kneighbors(Q)
    assert_same(got, single_index(B, Q, k, packed))
    assert nn.n_samples_fit_ == n and nn.shard_offsets_[-1] == n
    assert nn.n_shards_ == (np.count_nonzero(chunks) if n_shards is None else min(n_shards, n))


def test_sharded_on_threads_with_many_shards():
    """More shards than one merge takes: the answers merge in a tree."""
    rng = np.random.default_rng(0)
    B = rng.integers(0, 2, (400, 6), dtype=np.uint8)
    Q = rng.integers(0, 2, (30, 6), dtype=np.uint8)
    nn = DaskHammingNeighbors(n_neighbors=50, n_shards=20).fit(B)
    assert nn.n_shards_ == 20 and nn.n_bits_ == 6
    np.testing.assert_array_equal(nn.shard_offsets_, np.arange(0, 401, 20))
    assert_same(nn.kneighbors(Q), single_index(B, Q, 50, False))
    idx = nn.kneighbors(Q, n_neighbors=400, return_distance=False)
    np.testing.assert_array_equal(idx, single_index(B, Q, 400, False)[1])


def test_sharded_with_unknown_chunk_sizes():
    """Shard sizes are learnt from the shards; empty ones are dropped."""
    rng = np.random.default_rng(2)
    B = rng.integers(0, 2, (120, 8), dtype=np.uint8)
    Q = rng.integers(0, 2, (10, 8), dtype=np.uint8)
    Bd = da.from_array(B, chunks=((30, 30, 30, 30), (4, 4)))
    keep = np.repeat([True, False, True, True], 30) & (B[:, 0] == 1)
    masked = Bd[da.from_array(keep, chunks=30)]
    assert np.isnan(masked.shape[0])
    nn = DaskHammingNeighbors(n_neighbors=7).fit(masked)
    assert nn.n_shards_ == 3 and nn.n_samples_fit_ == keep.sum()
    assert_same(nn.kneighbors(Q), single_index(B[keep], Q, 7, False))


def test_sharded_on_cluster(client):
    rng = np.random.default_rng(1)
    B = rng.integers(0, 256, (500, 1), dtype=np.uint8)  # 8-bit packed codes
    Q = rng.integers(0, 256, (40, 1), dtype=np.uint8)
    database = da.from_array(B, chunks=((230, 5, 265), (1,)))  # one shard < k
    with client.as_current():
        nn = DaskHammingNeighbors(n_neighbors=20, packed=True).fit(database)
    assert nn._scheduler is client
    # Queries go to the fit's client, current or not.
    assert_same(nn.kneighbors(Q), single_index(B, Q, 20, True))
    # Each shard stays on a worker, which reports its real size, so the
    # scheduler moves the queries to the shards rather than the reverse.
    keys = [shard.key for shard in nn.shards_]
    who_has = client.who_has()
    assert all(who_has[key] for key in keys)
    nbytes = client.nbytes(keys, summary=False)
    assert [nbytes[key] for key in keys] == [2 * 230, 2 * 5, 2 * 265]
    # In-memory codes: one shard per worker thread by default.
    with client.as_current():
        assert DaskHammingNeighbors(packed=True).fit(B).n_shards_ == 2


def test_closed_client(client):
    B = np.eye(8, dtype=np.uint8)
    with Client(client.scheduler.address, set_as_default=False) as other, other.as_current():
        nn = DaskHammingNeighbors(n_neighbors=2).fit(B)
    with pytest.raises(RuntimeError, match="client .* is closed"):
        nn.kneighbors(B)


def test_restarted_client_is_a_clear_error(client):
    # Reported: distributed's FutureCancelledError ("lost dependencies").
    B = np.eye(8, dtype=np.uint8)
    with Client(client.scheduler.address, set_as_default=False) as other, other.as_current():
        nn = DaskHammingNeighbors(n_neighbors=2).fit(B)
        other.restart()
        with pytest.raises(RuntimeError, match="shards .* are no longer on the workers .*fit again"):
            nn.kneighbors(B)
        # Fitted again, it answers.
        assert_same(nn.fit(B).kneighbors(B), single_index(B, B, 2, False))


@pytest.mark.parametrize("n_shards", [1, 2, 3])
def test_mixed_bit_conventions_are_refused_however_sharded(n_shards):
    # Reported: accepted or refused depending on n_shards; HammingNeighbors
    # always refuses a database that mixes {0, 1} and {-1, +1} rows.
    B = np.array([[0, 1, 1], [1, 0, 1], [1, -1, 1], [-1, 1, 1]])
    with pytest.raises(ValueError, match="B mixes 0 and -1"):
        HammingNeighbors().fit(B)
    with pytest.raises(ValueError, match="B mixes 0 and -1"):
        DaskHammingNeighbors(n_neighbors=1, n_shards=n_shards).fit(B)
    with pytest.raises(ValueError, match="B mixes 0 and -1"):
        DaskHammingNeighbors(n_neighbors=1).fit(da.from_array(B, chunks=4 // n_shards or 1))
    # One convention per database, in any shards, is fine.
    for good in (np.abs(B), np.where(B == 0, -1, B)):
        for database in (good, da.from_array(good, chunks=2)):
            nn = DaskHammingNeighbors(n_neighbors=2, n_shards=n_shards).fit(database)
            assert_same(nn.kneighbors(good), single_index(good, good, 2, False))


def test_search_parameters_set_after_fit_reach_the_shards(no_faiss):
    B = np.random.default_rng(0).integers(0, 2, (60, 16))
    nn = DaskHammingNeighbors(n_neighbors=4, n_shards=3, backend="numpy").fit(B)
    reference = single_index(B, B[:5], 4, False)
    assert_same(nn.set_params(backend="torch", n_jobs=2).kneighbors(B[:5]), reference)
    with pytest.raises(ImportError, match=r"skdistillhash\[faiss\]"):
        nn.set_params(backend="faiss").kneighbors(B[:5])
    with pytest.raises(ValueError, match="packed=True was set after fit"):
        nn.set_params(backend="numpy", packed=True).kneighbors(np.packbits(B[:5], axis=1))


def test_fit_errors_and_all_or_nothing():
    B = np.array([[0, 1, 1], [1, 0, 0], [1, 1, 1]], dtype=np.uint8)
    nn = DaskHammingNeighbors(n_neighbors=2, n_shards=2).fit(B)
    # A bad value in one shard is raised by fit; the previous fit survives.
    bad = da.from_array(np.array([[0, 1, 1], [1, 2, 0]]), chunks=1)
    with pytest.raises(ValueError, match="must hold bits"):
        nn.fit(bad)
    assert nn.n_samples_fit_ == 3
    assert_same(nn.kneighbors(B), single_index(B, B, 2, False))
    with pytest.raises(ValueError, match="0 sample"):
        DaskHammingNeighbors().fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="0 rows"):
        DaskHammingNeighbors().fit(da.zeros((0, 3), dtype=np.uint8))
    empty = da.from_array(B, chunks=1)
    with pytest.raises(ValueError, match="every chunk is empty"):
        DaskHammingNeighbors().fit(empty[empty[:, 0] > 1])
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        DaskHammingNeighbors(n_shards=2).fit(empty[empty[:, 0] > 0])
    with pytest.raises(ValueError, match="must be 2-D"):
        DaskHammingNeighbors().fit(da.ones(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="packed uint8"):
        DaskHammingNeighbors(packed=True).fit(da.from_array(B.astype(np.int64)))
    with pytest.raises(ValueError, match="n_shards"):
        DaskHammingNeighbors(n_shards=0).fit(B)
    with pytest.raises(ValueError, match="n_neighbors"):
        DaskHammingNeighbors(n_neighbors=True).fit(B)


def test_kneighbors_errors():
    B = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [1, 1, 1, 1]])
    with pytest.raises(NotFittedError):
        DaskHammingNeighbors().kneighbors(B)
    nn = DaskHammingNeighbors(n_neighbors=2).fit(B)
    with pytest.raises(ValueError, match="expecting 4 features .*bits per code"):
        nn.kneighbors(B[:, :3])
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        nn.kneighbors(B, n_neighbors=4)
    with pytest.raises(ValueError, match="n_neighbors > 0"):
        nn.kneighbors(B, n_neighbors=0)
    with pytest.raises(TypeError, match="must be an integer"):
        nn.kneighbors(B, n_neighbors=2.0)
    with pytest.raises(ValueError, match="must hold bits"):
        nn.kneighbors([[0, 1, 2, 0]])
    packed = DaskHammingNeighbors(n_neighbors=2, packed=True).fit(np.packbits(B, axis=1))
    with pytest.raises(ValueError, match="expecting 1 features .*bytes of packed code"):
        packed.kneighbors(B)


def test_pickle_and_copy():
    nn = DaskHammingNeighbors(n_neighbors=1, n_shards=2)
    assert pickle.loads(pickle.dumps(nn)).get_params() == nn.get_params()
    nn.fit(np.eye(4, dtype=np.uint8))
    for copier in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="cannot be pickled or copied"):
            copier(nn)
    # clone is the way to a copy; and a fitted instance can be fitted again,
    # though fit cannot copy it to validate on.
    refit = clone(nn).fit(np.eye(4, dtype=np.uint8))
    assert_same(nn.fit(np.eye(4, dtype=np.uint8)).kneighbors(np.eye(4)),
                refit.kneighbors(np.eye(4)))


@pytest.mark.parametrize("check", [
    check_parameters_default_constructible,
    check_no_attributes_set_in_init,
    check_get_params_invariance,
    check_set_params,
])
def test_sklearn_parameter_checks(check):
    check("DaskHammingNeighbors", DaskHammingNeighbors())
