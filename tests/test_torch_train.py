import numpy as np
import pytest
import torch

from skdistillhash._torch import _train
from skdistillhash._torch._train import TrainConfig, encode, train_hash_network


def test_encode_reports_progress_on_stderr(capsys):
    net = torch.nn.Linear(4, 2)
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    out = encode(net, X, torch.device("cpu"), 5, progress=True)
    assert out.shape == (50, 2)
    assert capsys.readouterr().err.splitlines()[-1].startswith("encoding: 50/50 rows")


def _config(**changes) -> TrainConfig:
    params = dict(alpha=0.5, quantization_weight=3.0, balanced=True, epochs=4,
                  tol=0.0, n_iter_no_change=10, verbose=0)
    return TrainConfig(**{**params, **changes})


@pytest.mark.parametrize("warmup_epochs, expected", [
    (2, [(0.75 + 1.5) / 2, (2.25 + 3.0) / 2, 3.0, 3.0]),
    (0, [3.0] * 4),
])
def test_the_quantization_weight_grows_step_by_step_over_the_warmup(monkeypatch, warmup_epochs, expected):
    # A pair term of 0 and a quantization term of 1: each step's loss is the weight it used.
    monkeypatch.setattr(_train, "pairwise_nll", lambda h, *_: (h.sum() * 0.0, torch.zeros(())))
    monkeypatch.setattr(_train, "quantization_loss", lambda h: h.sum() * 0.0 + 1.0)
    net = torch.nn.Linear(3, 2)
    batches = [np.arange(4), np.arange(4, 8)]  # two steps an epoch
    result = train_hash_network(
        net, torch.zeros(8, 3), batches, lambda a, b: np.zeros((len(a), len(b)), dtype=np.int8),
        [{"params": list(net.parameters()), "lr": 1e-3}], _config(warmup_epochs=warmup_epochs),
    )
    np.testing.assert_allclose(result.loss_curve, expected, rtol=1e-6)


def test_training_needs_each_groups_step_size():
    # Adam's own default step would otherwise apply without anyone choosing it.
    net = torch.nn.Linear(3, 2)
    with pytest.raises(ValueError, match="'lr'"):
        train_hash_network(
            net, torch.zeros(8, 3), [np.arange(8)], lambda a, b: np.zeros((len(a), len(b)), dtype=np.int8),
            list(net.parameters()), _config(),
        )
