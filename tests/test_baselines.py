"""Tests for skdistillhash.baselines: LSHHash and ITQHash on real and random data.

sklearn's common checks and the contract of every hasher (codes, packing,
batches, seeding, score) run in tests/test_common.py.
"""

import copy

import numpy as np
import pytest
import torch
from _references import brute_leave_one_out_map, pack
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skdistillhash.baselines._lsh  # noqa: F401  (patched below)
from skdistillhash import baselines
from skdistillhash.baselines import BiHalfHash, GreedyHash, ITQHash, LSHHash

BASELINES = [LSHHash, ITQHash]


# --------------------------------------------------------------------------- #
# Retrieval quality on real data
# --------------------------------------------------------------------------- #


def test_map_on_digits_clearly_above_random_codes(digits):
    X, y = digits
    rng = np.random.RandomState(0)
    m = {
        "random": brute_leave_one_out_map(rng.randint(0, 2, (len(X), 32)), y),
        "LSH": brute_leave_one_out_map(LSHHash(32, random_state=0).fit_transform(X), y),
        "PCA-RR": brute_leave_one_out_map(ITQHash(32, n_iter=0, random_state=0).fit_transform(X), y),
        "ITQ": brute_leave_one_out_map(ITQHash(32, random_state=0).fit_transform(X), y),
    }
    # Seen at 32 bits on digits: random 0.10, LSH 0.46, PCA-RR 0.52, ITQ 0.66.
    assert m["random"] < 0.13  # ~ chance: 10 balanced classes
    assert m["LSH"] > m["random"] + 0.25
    assert m["ITQ"] > m["random"] + 0.45
    # The learned rotation is what ITQ adds over PCA + random rotation.
    assert m["ITQ"] > m["PCA-RR"] + 0.08
    assert m["ITQ"] > m["LSH"] + 0.1


def test_pipeline_with_scaler(digits):
    X, y = digits
    pipe = Pipeline([("scale", StandardScaler()), ("hash", ITQHash(16, random_state=0))])
    bits = pipe.fit_transform(X)
    assert bits.shape == (len(X), 16) and bits.dtype == np.uint8
    np.testing.assert_array_equal(pipe.predict(X), pack(bits))
    expected = ITQHash(16, random_state=0).fit(StandardScaler().fit_transform(X))
    np.testing.assert_array_equal(bits, expected.transform(StandardScaler().fit_transform(X)))
    assert list(pipe.get_feature_names_out()) == [f"itqhash{i}" for i in range(16)]
    assert brute_leave_one_out_map(bits, y) > 0.5


# --------------------------------------------------------------------------- #
# ITQ internals
# --------------------------------------------------------------------------- #


def test_itq_quantization_loss_decreases(digits):
    X, _ = digits
    itq = ITQHash(32, n_iter=50, random_state=0).fit(X)
    loss = np.asarray(itq.loss_curve_)
    assert len(loss) == itq.n_iter_ + 1
    assert np.all(np.diff(loss) <= 1e-9 * loss[0])
    assert loss[-1] < 0.97 * loss[0]
    # The recorded loss is the real ||B - V R||^2 / n (up to the final B-step,
    # which can only lower it).
    V = (X - itq.mean_) @ itq.components_.T @ itq.rotation_
    direct = np.sum((np.where(V > 0, 1.0, -1.0) - V) ** 2) / len(X)
    assert direct <= loss[-1] + 1e-9 * loss[0]
    assert direct >= loss[-1] - 0.01 * loss[0]


def test_itq_rotation_and_components_orthonormal(digits):
    X, _ = digits
    itq = ITQHash(24, random_state=1).fit(X)
    np.testing.assert_allclose(itq.rotation_ @ itq.rotation_.T, np.eye(24), atol=1e-10)
    np.testing.assert_allclose(itq.components_ @ itq.components_.T, np.eye(24), atol=1e-10)
    assert np.all(np.diff(itq.explained_variance_) <= 1e-12)
    # Components match the principal axes of the data (up to sign).
    cov = np.cov(X, rowvar=False)
    evals = np.sort(np.linalg.eigvalsh(cov))[::-1][:24]
    np.testing.assert_allclose(itq.explained_variance_, evals, rtol=1e-8)


def test_itq_early_stop_is_exact():
    # Stopping when the codes no longer change gives what more rounds give.
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 10)) @ rng.standard_normal((10, 10))
    long = ITQHash(6, n_iter=1000, random_state=3).fit(X)
    assert long.n_iter_ < 1000
    exact = ITQHash(6, n_iter=long.n_iter_, random_state=3).fit(X)
    np.testing.assert_array_equal(exact.rotation_, long.rotation_)


def test_itq_n_iter_zero_is_pca_random_rotation(digits):
    X, _ = digits
    itq = ITQHash(8, n_iter=0, random_state=0).fit(X)
    assert itq.n_iter_ == 0 and len(itq.loss_curve_) == 1
    np.testing.assert_allclose(itq.rotation_ @ itq.rotation_.T, np.eye(8), atol=1e-12)


def test_itq_more_samples_than_features_and_the_reverse():
    rng = np.random.RandomState(0)
    wide = rng.standard_normal((12, 40))
    tall = rng.standard_normal((40, 12))
    for X in (wide, tall):
        itq = ITQHash(10, random_state=0).fit(X)
        np.testing.assert_allclose(itq.components_ @ itq.components_.T, np.eye(10), atol=1e-10)
        assert itq.transform(X).shape == (len(X), 10)


# --------------------------------------------------------------------------- #
# LSH behaviour
# --------------------------------------------------------------------------- #


def test_lsh_hamming_distance_estimates_angle():
    # For centred data, P(bit differs) = angle / pi (Charikar 2002).
    a = np.array([1.0, 0.0, 0.0])
    b = np.array([np.cos(1.0), np.sin(1.0), 0.0])  # angle 1 rad
    X = np.stack([a, -a, b, -b])  # mean 0, so the hyperplanes pass through 0
    lsh = LSHHash(20000, random_state=0).fit(X)
    bits = lsh.transform(np.stack([a, b]))
    assert np.mean(bits[0] != bits[1]) == pytest.approx(1.0 / np.pi, abs=0.015)


def test_lsh_projection_is_gaussian():
    lsh = LSHHash(4000, random_state=0).fit(np.eye(3) - 1 / 3)
    assert lsh.projection_.shape == (3, 4000)
    assert abs(lsh.projection_.mean()) < 0.05
    assert lsh.projection_.std() == pytest.approx(1, abs=0.05)


# --------------------------------------------------------------------------- #
# Shared API behaviour
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("Hasher", BASELINES)
def test_float32_input_same_codes(Hasher, digits):
    X, _ = digits  # float32 already
    a = Hasher(16, random_state=0).fit(X)
    b = Hasher(16, random_state=0).fit(X.astype(np.float64))
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X.astype(np.float64)))


@settings(max_examples=25, deadline=None)
@given(
    Hasher=st.sampled_from(BASELINES),
    n_samples=st.integers(8, 60),
    n_features=st.integers(2, 12),
    n_bits=st.integers(1, 12),
    log2_scale=st.integers(-8, 8),
    seed=st.integers(0, 2**16),
)
def test_codes_invariant_to_positive_scaling(
    Hasher, n_samples, n_features, n_bits, log2_scale, seed
):
    # Both hashers centre the data and take signs, so multiplying X by a power
    # of two (exact in floating point) gives the same codes. ITQ needs
    # n_bits <= min(n_samples, n_features); LSH accepts any n_bits.
    n_bits = min(n_bits, n_features, n_samples)
    X = np.random.RandomState(seed).standard_normal((n_samples, n_features))
    a = Hasher(n_bits, random_state=seed).fit(X)
    b = Hasher(n_bits, random_state=seed).fit(X * 2.0**log2_scale)
    np.testing.assert_array_equal(a.transform(X), b.transform(X * 2.0**log2_scale))
    assert a.transform(X).shape == (n_samples, n_bits)
    np.testing.assert_array_equal(a.predict(X), pack(a.transform(X)))


@settings(max_examples=20, deadline=None)
@given(
    Hasher=st.sampled_from(BASELINES),
    shift=st.floats(-100, 100, allow_nan=False),
    seed=st.integers(0, 2**16),
)
def test_codes_invariant_to_translation(Hasher, shift, seed):
    # Centring removes a constant shift; only floating-point rounding of
    # values within ~1e-9 of a hyperplane may flip a bit.
    X = np.random.RandomState(seed).standard_normal((50, 8))
    a = Hasher(6, random_state=seed).fit(X)
    b = Hasher(6, random_state=seed).fit(X + shift)
    assert np.mean(a.transform(X) != b.transform(X + shift)) <= 0.01


@pytest.mark.parametrize("Hasher", BASELINES)
@pytest.mark.parametrize("factor", [2.0**1000, 2.0**-1000, 1e300, 1e-300])
def test_codes_of_extreme_magnitudes(Hasher, factor):
    # Centred data near 1e300 overflow float64 in the covariance and float32
    # in the projections; near 1e-300 they underflow. The codes are those of
    # the data at ordinary scale: exactly so for powers of two, and for 1e300
    # too unless a projection lies within rounding (1e-16) of a hyperplane,
    # which none of this data's do.
    X = np.random.RandomState(0).standard_normal((200, 10))
    expected = Hasher(8, random_state=0).fit(X).transform(X)
    est = Hasher(8, random_state=0).fit(X * factor)
    h = est.decision_function(X * factor)
    assert np.all(np.isfinite(h)) and np.all(h != 0)
    np.testing.assert_array_equal(est.transform(X * factor), expected)


# --------------------------------------------------------------------------- #
# A failed fit leaves the last complete one
# --------------------------------------------------------------------------- #


def fitted_state(est):
    return {name: copy.deepcopy(value) for name, value in vars(est).items() if name.endswith("_")}


def assert_fit_unchanged(est, state, X, codes):
    np.testing.assert_equal(fitted_state(est), state)
    np.testing.assert_array_equal(est.transform(X), codes)


class InterruptingRNG:
    """A random state whose draws are interrupted (Ctrl-C)."""

    def standard_normal(self, *args, **kwargs):
        raise KeyboardInterrupt


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


FAILED_FITS = [
    (Hasher, failure)
    for Hasher in BASELINES
    for failure in ("nan input", "n_bits=True", "n_bits > n_features", "interrupted")
    if Hasher is ITQHash or failure != "n_bits > n_features"  # LSH has no such limit
]


@pytest.mark.parametrize("Hasher, failure", FAILED_FITS)
def test_failed_fit_leaves_the_previous_fit(Hasher, failure, monkeypatch):
    rng = np.random.RandomState(0)
    X = rng.standard_normal((200, 10))
    est = Hasher(8, random_state=0).fit(X)
    state, codes = fitted_state(est), est.transform(X)
    # A successful fit on this would change every fitted attribute.
    X_new = rng.standard_normal((200, 5)) + 3.0
    error = ValueError
    if failure == "nan input":
        X_new[0, 0] = np.nan
    elif failure == "n_bits=True":
        est.set_params(n_bits=True)
    elif failure == "interrupted":
        error = KeyboardInterrupt
        est.set_params(n_bits=4)
        if Hasher is LSHHash:
            # LSH's last step draws the hyperplanes.
            monkeypatch.setattr(baselines._lsh, "check_random_state", lambda seed: InterruptingRNG())
        else:
            # On tall data ITQ's SVDs are the R-steps of its rotation loop.
            monkeypatch.setattr(np.linalg, "svd", interrupt)
    with pytest.raises(error):
        est.fit(X_new)
    monkeypatch.undo()
    assert_fit_unchanged(est, state, X, codes)


# --------------------------------------------------------------------------- #
# Errors
# --------------------------------------------------------------------------- #


def test_itq_n_bits_larger_than_n_features():
    X = np.random.RandomState(0).standard_normal((50, 4))
    with pytest.raises(ValueError, match=r"n_bits <= n_features.*n_bits=8 with n_features=4"):
        ITQHash(8).fit(X)


def test_itq_n_bits_larger_than_n_samples():
    X = np.random.RandomState(0).standard_normal((5, 20))
    with pytest.raises(ValueError, match=r"n_bits <= n_samples.*n_bits=8 with n_samples=5"):
        ITQHash(8).fit(X)


@pytest.mark.parametrize("Hasher", BASELINES)
@pytest.mark.parametrize("n_bits", [0, -3, 2.5, "8", 65537])
def test_invalid_n_bits(Hasher, n_bits):
    with pytest.raises(ValueError, match="n_bits"):
        Hasher(n_bits).fit(np.ones((10, 3)))


@pytest.mark.parametrize("n_iter", [-1, 1.5, None])
def test_invalid_n_iter(n_iter):
    with pytest.raises(ValueError, match="n_iter"):
        ITQHash(2, n_iter=n_iter).fit(np.random.RandomState(0).standard_normal((10, 3)))


@pytest.mark.parametrize(
    "make",
    [
        lambda value: LSHHash(value),
        lambda value: ITQHash(value),
        lambda value: ITQHash(2, n_iter=value),
    ],
    ids=["LSHHash-n_bits", "ITQHash-n_bits", "ITQHash-n_iter"],
)
@pytest.mark.parametrize("value", [True, False])
def test_bool_is_not_a_count(make, value):
    # bool subclasses int, and scikit-learn's integer intervals let it pass.
    est = make(value)
    with pytest.raises(ValueError, match=r"'n_(bits|iter)' parameter .* \(not a bool\)"):
        est.fit(np.random.RandomState(0).standard_normal((10, 3)))



# --------------------------------------------------------------------------- #
# BiHalfHash and GreedyHash: hash layers trained on the features' cosine structure
# --------------------------------------------------------------------------- #

COSINE_BASELINES = [BiHalfHash, GreedyHash]


def test_bihalf_layer_splits_each_bit_in_half_and_pulls_h_to_b():
    from skdistillhash._torch._cosine import _BiHalf

    h = torch.randn(10, 6, generator=torch.Generator().manual_seed(0), requires_grad=True)
    b = _BiHalf.apply(h, 6.0)
    # Each bit: +1 for the 5 largest values of the batch, -1 for the others.
    assert torch.equal((b > 0).sum(dim=0), torch.full((6,), 5))
    top = h.detach().argsort(dim=0, descending=True)[:5]
    assert torch.all(b.gather(0, top) == 1)
    g = torch.randn(10, 6, generator=torch.Generator().manual_seed(1))
    b.backward(g)
    torch.testing.assert_close(h.grad, g + 6.0 * (h.detach() - b.detach()) / b.numel())


def test_greedy_layer_is_the_sign_with_the_gradient_straight_through():
    from skdistillhash._torch._cosine import _SignStraightThrough

    h = torch.tensor([[-0.3, 0.2], [1.5, -2.0]], requires_grad=True)
    b = _SignStraightThrough.apply(h)
    assert torch.equal(b, torch.tensor([[-1.0, 1.0], [1.0, -1.0]]))
    b.backward(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert torch.equal(h.grad, torch.tensor([[1.0, 2.0], [3.0, 4.0]]))


@pytest.mark.parametrize("Hasher", COSINE_BASELINES)
def test_cosine_baselines_training_loss_falls(Hasher, digits):
    X, y = digits
    est = Hasher(n_bits=32, device="cpu", random_state=0).fit(X)
    assert len(est.loss_curve_) == est.n_iter_ == 50
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    # And the codes retrieve: far above chance (0.1), as on the benchmarks.
    assert est.score(X[:500], y[:500]) > 0.4


def test_bihalf_codes_are_balanced(digits):
    # The bi-half layer maximises each bit's entropy: half of every batch on
    # each side. The sign of h keeps that on the whole training set.
    X, _ = digits
    share = BiHalfHash(n_bits=32, device="cpu", random_state=0).fit(X).transform(X).mean(axis=0)
    assert np.all((share > 0.4) & (share < 0.6)), share


@pytest.mark.parametrize("Hasher", COSINE_BASELINES)
def test_cosine_baselines_see_features_scaled_to_unit_norm(Hasher, digits):
    # SGD's step on a linear layer grows with the squared norm of its inputs:
    # the features are centred and scaled by one number first, so a
    # power-of-two rescaling of X (exact in floating point) gives the same codes.
    X, _ = digits
    a = Hasher(n_bits=16, epochs=3, device="cpu", random_state=0).fit(X)
    b = Hasher(n_bits=16, epochs=3, device="cpu", random_state=0).fit(X * 2.0**10)
    assert b.scale_ == a.scale_ / 2.0**10
    np.testing.assert_array_equal(a.transform(X), b.transform(X * 2.0**10))
    centred = (X - a.mean_) * a.scale_
    np.testing.assert_allclose(centred.mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(np.mean(np.sum(centred**2, axis=1)), 1.0, rtol=1e-5)


@pytest.mark.parametrize("Hasher", COSINE_BASELINES)
@pytest.mark.parametrize("n_samples", [2, 3, 33])
def test_cosine_baselines_fit_small_data(Hasher, n_samples):
    # Fewer rows than a batch, an odd batch (its last row sits out), two rows.
    X = np.random.RandomState(0).rand(n_samples, 5)
    est = Hasher(n_bits=4, epochs=2, dropout=0.5, device="cpu", random_state=0).fit(X)
    assert est.transform(X).shape == (n_samples, 4) and est.n_iter_ == 2
    assert np.all(np.isfinite(est.loss_curve_))


@pytest.mark.parametrize("Hasher", COSINE_BASELINES)
def test_cosine_baselines_refuse_features_that_do_not_vary(Hasher):
    with pytest.raises(ValueError, match="every row of X is the same"):
        Hasher(n_bits=4, device="cpu").fit(np.ones((10, 3)))


def test_bihalf_learning_rate_drops_tenfold_after_decay_at(monkeypatch):
    from skdistillhash._torch import _cosine

    seen = []
    step = torch.optim.SGD.step

    def recording(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", recording)
    X = np.random.RandomState(0).rand(8, 5)  # 8 rows, batches of 4: 2 steps an epoch
    BiHalfHash(n_bits=4, epochs=5, batch_size=4, learning_rate=0.5, decay_at=0.4, device="cpu",
               random_state=0).fit(X)
    assert seen == [0.5] * 4 + [0.05] * 6
    assert _cosine.CosineConfig  # the schedule lives in the torch module
