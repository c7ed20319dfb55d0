import io

import numpy as np
import torch

from skdistillhash._torch._train import _Progress, encode


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_on_a_terminal_redraws_one_line():
    stream = _Terminal()
    report = _Progress(1000, stream)
    for done in range(100, 1001, 100):
        report(done)
    text = stream.getvalue()
    assert text.count("\r") == 10 and text.endswith("\n") and text.count("\n") == 1
    assert "1000/1000 rows" in text


def test_progress_in_a_log_file_writes_a_line_per_tenth():
    stream = io.StringIO()
    report = _Progress(1000, stream)
    for done in range(37, 1000, 37):
        report(done)
    report(1000)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 10
    assert lines[0].startswith("encoding 111/1000 rows") and lines[-1].startswith("encoding 1000/1000 rows")


def test_encode_reports_progress_on_stderr(capsys):
    net = torch.nn.Linear(4, 2)
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    out = encode(net, X, torch.device("cpu"), 5, progress=True)
    assert out.shape == (50, 2)
    assert capsys.readouterr().err.splitlines()[-1].startswith("encoding 50/50 rows")
