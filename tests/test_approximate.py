"""FAISS hand-off: to_faiss_index, compare_to_exact, nprobe_sweep."""

import gc

import numpy as np
import pytest
from _references import hamming_distances, needs_faiss, pack
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from skdistillhash import ITQHash, LSHHash, mean_average_precision
from skdistillhash._hamming._faiss_index import default_nlist
from skdistillhash.approximate import compare_to_exact, nprobe_sweep, to_faiss_index
from skdistillhash.neighbors import HammingNeighbors

HINT = r"pip install skdistillhash\[faiss\]"


@pytest.fixture(scope="module")
def digit_codes(digits):
    """32-bit ITQ codes of the digits: clustered, with many ties."""
    X, y = digits
    codes = ITQHash(n_bits=32, random_state=0).fit(X[:1500]).predict(X)
    nn = HammingNeighbors(n_neighbors=20, packed=True).fit(codes[:1500], y[:1500])
    return nn, codes[1500:], y[1500:]


@pytest.fixture(scope="module")
def random_bits():
    """400 + 50 random 12-bit codes: a width that is not whole bytes, many ties."""
    return np.random.default_rng(0).integers(0, 2, (450, 12))


# --------------------------------------------------------------------------- #
# to_faiss_index
# --------------------------------------------------------------------------- #


@needs_faiss
def test_flat_index_gives_exact_distances(digit_codes):
    nn, queries, _ = digit_codes
    index = to_faiss_index(nn.codes_)
    assert isinstance(index, pytest.importorskip("faiss").IndexBinaryFlat)
    assert (index.d, index.ntotal) == (32, nn.n_samples_fit_)
    dist, idx = index.search(queries, 20)
    ref_dist, ref_idx = nn.kneighbors(queries)
    np.testing.assert_array_equal(dist, ref_dist)
    # Ids up to ties: the same below the k-th distance, and truly at their distance.
    for row, kth in enumerate(ref_dist[:, -1]):
        below = ref_dist[row] < kth
        assert set(idx[row][below]) == set(ref_idx[row][below])
    true_dist = hamming_distances(queries, nn.codes_)
    np.testing.assert_array_equal(np.take_along_axis(true_dist, idx, axis=1), dist)


@needs_faiss
def test_from_neighbors_pads_bits_to_whole_bytes(random_bits):
    nn = HammingNeighbors(n_neighbors=7).fit(random_bits[:400])
    queries = pack(random_bits[400:])
    for index in (to_faiss_index(nn), nn.to_faiss()):
        assert (index.d, index.ntotal) == (16, 400)
        dist, _ = index.search(queries, 7)
        np.testing.assert_array_equal(dist, nn.kneighbors(random_bits[400:])[0])


@needs_faiss
def test_ivf_scanning_every_list_is_exact(digit_codes):
    nn, queries, _ = digit_codes
    index = nn.to_faiss("ivf", nlist=12, nprobe=12, random_state=0)
    assert isinstance(index, pytest.importorskip("faiss").IndexBinaryIVF)
    assert (index.nlist, index.nprobe, index.ntotal) == (12, 12, nn.n_samples_fit_)
    dist, _ = index.search(queries, 20)
    np.testing.assert_array_equal(dist, nn.kneighbors(queries)[0])


@needs_faiss
def test_ivf_is_reproducible_and_keeps_its_quantizer(digit_codes):
    nn, queries, _ = digit_codes
    first = to_faiss_index(nn, kind="ivf", nlist=16, train_size=800, random_state=3)
    gc.collect()  # the quantizer was a local of to_faiss_index: it must live on
    second = to_faiss_index(nn, kind="ivf", nlist=16, train_size=800, random_state=3)
    assert first.nprobe == 1
    for a, b in zip(first.search(queries, 20), second.search(queries, 20)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(("n", "nlist"), [(1, 1), (38, 1), (1000, 25), (10**6, 4000)])
def testdefault_nlist(n, nlist):
    assert default_nlist(n) == nlist


@needs_faiss
def test_ivf_defaults_and_smallest_training_sample(random_bits):
    codes = pack(random_bits)
    index = to_faiss_index(codes, kind="ivf", random_state=0)
    assert (index.nlist, index.nprobe, index.ntotal) == (default_nlist(450), 1, 450)
    index = to_faiss_index(codes, kind="ivf", nlist=5, train_size=5, random_state=0)
    assert index.is_trained and index.ntotal == 450


@needs_faiss
def test_threads_are_restored(digit_codes):
    faiss = pytest.importorskip("faiss")
    before = faiss.omp_get_max_threads()
    nn, queries, _ = digit_codes
    index = to_faiss_index(nn, kind="ivf", nlist=4, n_jobs=1, random_state=0)
    compare_to_exact(index, nn, queries, k=5)
    assert faiss.omp_get_max_threads() == before


# --------------------------------------------------------------------------- #
# compare_to_exact and nprobe_sweep
# --------------------------------------------------------------------------- #


@needs_faiss
def test_flat_index_recalls_everything_and_matches_exact_map(digit_codes):
    nn, queries, y_queries = digit_codes
    result = compare_to_exact(nn.to_faiss(), nn, queries, k=20, y_queries=y_queries)
    assert result.recall == result.recall_ties == 1.0
    assert result.unfilled == 0.0
    expected = mean_average_precision(queries, nn.codes_, y_queries, nn.y_, k=20, packed=True)
    assert result.map_exact == pytest.approx(expected) == nn.score(queries, y_queries)
    assert result.map_approximate == pytest.approx(expected)
    assert (result.k, result.n_queries) == (20, len(queries))
    assert result.seconds_per_query_exact > 0 and result.seconds_per_query_approximate > 0
    assert result.speedup == pytest.approx(
        result.seconds_per_query_exact / result.seconds_per_query_approximate
    )


@needs_faiss
def test_recall_rises_with_nprobe_on_digit_codes(digit_codes):
    nn, queries, y_queries = digit_codes
    index = nn.to_faiss("ivf", nlist=16, nprobe=2, random_state=0)
    sweep = nprobe_sweep(index, nn, queries, [1, 2, 4, 8, 16], k=20, y_queries=y_queries)
    assert index.nprobe == 2  # restored
    # Each list scanned adds candidates: the tie-aware recall never falls.
    assert np.all(np.diff(sweep.recall_ties) >= 0)
    assert sweep.recall_ties[-1] == 1.0
    assert sweep.recall[0] < sweep.recall[-1]
    assert np.all(sweep.recall <= sweep.recall_ties)
    assert sweep.nprobe.tolist() == [1, 2, 4, 8, 16]
    for key in ("recall", "recall_ties", "unfilled", "map_approximate",
                "seconds_per_query_approximate", "speedup"):
        assert sweep[key].shape == (5,)
    single = compare_to_exact(index, nn, queries, k=20, y_queries=y_queries)
    assert single.recall == sweep.recall[1] and single.map_exact == sweep.map_exact
    assert single.map_approximate == sweep.map_approximate[1]


@needs_faiss
def test_empty_slots_are_misses():
    # Two far-apart clusters of 3 codes, one list each: a query probing one
    # list finds 3 codes where k = 5 asks for more.
    bits = np.zeros((6, 16), dtype=np.uint8)
    bits[3:] = 1
    bits[[1, 4], 0] ^= 1
    bits[[2, 5], 1] ^= 1
    nn = HammingNeighbors().fit(bits)
    index = nn.to_faiss("ivf", nlist=2, random_state=0)
    result = compare_to_exact(index, nn, bits[:1], k=5)
    assert result.unfilled == pytest.approx(0.4)
    assert result.recall == result.recall_ties == pytest.approx(0.6)


@needs_faiss
def test_multilabel_map():
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, (120, 16))
    Y = rng.integers(0, 2, (120, 3))
    nn = HammingNeighbors().fit(bits[:100], Y[:100])
    result = compare_to_exact(nn.to_faiss(), nn, bits[100:], k=10, y_queries=Y[100:])
    assert result.map_exact == pytest.approx(
        mean_average_precision(bits[100:], bits[:100], Y[100:], Y[:100], k=10)
    )
    assert compare_to_exact(nn.to_faiss(), nn, bits[100:], k=10).map_exact is None


@st.composite
def problems(draw):
    n_bits = draw(st.sampled_from([8, 16]))
    n_db = draw(st.integers(4, 60))
    n_q = draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**16))
    flip = draw(st.sampled_from([0.05, 0.5]))  # clustered (many ties) or random
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2, (3, n_bits))
    bits = centres[rng.integers(0, 3, n_db + n_q)] ^ (rng.random((n_db + n_q, n_bits)) < flip)
    k = draw(st.integers(1, n_db))
    nlist = draw(st.integers(1, n_db))
    nprobe = draw(st.integers(1, nlist))
    return pack(bits[:n_db]), pack(bits[n_db:]), k, nlist, nprobe


@needs_faiss
@settings(max_examples=40, deadline=None)
@given(problems())
def test_recall_definitions(problem):
    db, queries, k, nlist, nprobe = problem
    nn = HammingNeighbors(packed=True).fit(db)
    flat = compare_to_exact(nn.to_faiss(), nn, queries, k=k)
    assert flat.recall_ties == 1.0 and flat.unfilled == 0.0
    ivf = nn.to_faiss("ivf", nlist=nlist, nprobe=nprobe, random_state=0)
    result = compare_to_exact(ivf, nn, queries, k=k)
    for r in (flat, result):
        assert 0.0 <= r.recall <= r.recall_ties
        assert r.recall_ties <= 1.0 - r.unfilled + 1e-12  # empty slots are misses
    # Without a tie at the k-th distance the exact top k is the only right
    # answer, and the two recalls agree.
    dist = np.sort(hamming_distances(queries, db), axis=1)
    if k == len(db) or np.all(dist[:, k - 1] < dist[:, k]):
        assert result.recall == pytest.approx(result.recall_ties)
        assert flat.recall == 1.0


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


@needs_faiss
@pytest.mark.parametrize(
    ("codes", "kwargs", "error", "match"),
    [
        (np.zeros((5, 2), np.int64), {}, ValueError, "uint8"),
        (np.zeros(5, np.uint8), {}, ValueError, "2-D"),
        (np.zeros((0, 2), np.uint8), {}, ValueError, "empty"),
        (np.zeros((5, 0), np.uint8), {}, ValueError, "0 bytes"),
        (None, {"kind": "hnsw"}, ValueError, "'kind' parameter"),
        (None, {"nlist": 4}, ValueError, "nlist apply to kind='ivf' only"),
        (None, {"nprobe": 2, "train_size": 9}, ValueError, "nprobe, train_size apply"),
        (None, {"kind": "ivf", "nlist": 0}, ValueError, "'nlist' parameter"),
        (None, {"kind": "ivf", "nlist": 51}, ValueError, "exceeds the number of codes"),
        (None, {"kind": "ivf", "nlist": 4, "nprobe": 5}, ValueError, r"\[1, nlist=4\]"),
        (None, {"kind": "ivf", "nprobe": 0}, ValueError, "'nprobe' parameter"),
        (None, {"kind": "ivf", "nlist": 4, "train_size": 3}, ValueError, "at least one"),
        (None, {"kind": "ivf", "nlist": 4, "train_size": 51}, ValueError, r"\[4, 50\]"),
        (None, {"n_jobs": 0}, ValueError, "'n_jobs' parameter"),
        (LSHHash(), {}, TypeError, r"LSHHash.*hasher.predict\(X\)"),
        (HammingNeighbors(), {}, NotFittedError, "not fitted"),
    ],
)
def test_to_faiss_index_errors(codes, kwargs, error, match):
    codes = np.zeros((50, 2), np.uint8) if codes is None else codes
    with pytest.raises(error, match=match):
        to_faiss_index(codes, **kwargs)


@needs_faiss
def test_compare_errors(digit_codes):
    nn, queries, y_queries = digit_codes
    index = nn.to_faiss()
    other = HammingNeighbors(packed=True).fit(nn.codes_[:100])
    with pytest.raises(TypeError, match="faiss binary index"):
        compare_to_exact(nn, nn, queries)
    with pytest.raises(TypeError, match="fitted HammingNeighbors"):
        compare_to_exact(index, ITQHash(), queries)
    with pytest.raises(NotFittedError):
        compare_to_exact(index, HammingNeighbors(), queries)
    with pytest.raises(ValueError, match="holds 1500 codes of 32 bits but neighbors holds 100"):
        compare_to_exact(index, other, queries[:, :4])
    reversed_db = to_faiss_index(nn.codes_[::-1])
    with pytest.raises(ValueError, match="same order"):
        compare_to_exact(reversed_db, nn, queries, k=20)
    with pytest.raises(ValueError, match="k=1501 exceeds"):
        compare_to_exact(index, nn, queries, k=1501)
    with pytest.raises(ValueError, match="'k' parameter"):
        compare_to_exact(index, nn, queries, k=0)
    with pytest.raises(ValueError, match="expecting 4 features"):
        compare_to_exact(index, nn, queries[:, :2])
    with pytest.raises(ValueError, match="fitted without labels"):
        compare_to_exact(other.to_faiss(), other, queries, k=5, y_queries=y_queries)
    with pytest.raises(ValueError, match="y_queries has 3 samples"):
        compare_to_exact(index, nn, queries, y_queries=y_queries[:3])
    with pytest.raises(ValueError, match="'n_repeats' parameter"):
        compare_to_exact(index, nn, queries, n_repeats=0)


@needs_faiss
@pytest.mark.parametrize(
    ("nprobe", "match"),
    [([], "non-empty"), ([[1, 2]], "1-D"), ([1.5], "ints"), ([0, 2], r"\[1, nlist=4\]"),
     ([5], r"\[1, nlist=4\]")],
)
def test_nprobe_sweep_errors(digit_codes, nprobe, match):
    nn, queries, _ = digit_codes
    index = nn.to_faiss("ivf", nlist=4, random_state=0)
    with pytest.raises(ValueError, match=match):
        nprobe_sweep(index, nn, queries, nprobe)


@needs_faiss
def test_nprobe_sweep_needs_an_ivf_index(digit_codes):
    nn, queries, _ = digit_codes
    with pytest.raises(TypeError, match="IndexBinaryIVF"):
        nprobe_sweep(nn.to_faiss(), nn, queries, [1])


def test_missing_faiss_names_the_extra(no_faiss):
    codes = np.zeros((10, 1), np.uint8)
    nn = HammingNeighbors(packed=True, backend="numpy").fit(codes)
    with pytest.raises(ImportError, match=HINT):
        to_faiss_index(codes)
    with pytest.raises(ImportError, match=HINT):
        nn.to_faiss("ivf")
    with pytest.raises(ImportError, match=HINT):
        compare_to_exact(object(), nn, codes)
    with pytest.raises(ImportError, match=HINT):
        nprobe_sweep(object(), nn, codes, [1])
