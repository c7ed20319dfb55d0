"""skdistillhash._progress: a tqdm bar on a terminal, a line per tenth in a log file."""

import io

import pytest

from skdistillhash import _progress
from skdistillhash._progress import progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_a_tqdm_bar_redraws_one_line():
    stream = _Terminal()
    with progress(1000, "encoding", "rows", stream=stream) as report:
        assert isinstance(report, _progress.tqdm)
        for _ in range(10):
            report.update(100)
            report.set_postfix(loss="0.5")
    text = stream.getvalue()
    assert "\r" in text and text.count("\n") <= 1
    assert "1000/1000" in text and "encoding" in text and "loss=0.5" in text


def test_in_a_log_file_a_line_per_tenth():
    stream = io.StringIO()
    with progress(1000, "encoding", "rows", stream=stream) as report:
        for _ in range(27):
            report.update(37)
        report.update(1)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert len(lines) == 10
    assert lines[0].startswith("encoding: 111/1000 rows") and lines[-1].startswith("encoding: 1000/1000 rows")


def test_work_that_stops_early_says_where_it_stopped():
    stream = io.StringIO()
    with progress(100, "training", "epochs", stream=stream) as report:
        for _ in range(34):
            report.set_postfix(loss="0.25000", pairs=12)
            report.update()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[-1].startswith("training: 34/100 epochs") and lines[-1].endswith("loss 0.25000  pairs 12")


@pytest.mark.parametrize("interactive", [False, True])
def test_nothing_when_not_enabled(interactive):
    stream = _Terminal() if interactive else io.StringIO()
    with progress(10, "encoding", "rows", enabled=False, stream=stream) as report:
        report.update(10)
    assert stream.getvalue() == ""


def test_a_notebook_gets_tqdms_widget(monkeypatch):
    # tqdm.auto is tqdm.notebook's class inside Jupyter: its widget is used
    # whatever the stream (a notebook's stderr is no terminal).
    class NotebookBar:
        __module__ = "tqdm.notebook"

        def __init__(self, **kwargs):
            self.kwargs = kwargs

    monkeypatch.setattr(_progress, "tqdm", NotebookBar)
    report = progress(10, "training", "epochs", stream=io.StringIO())
    assert isinstance(report, NotebookBar) and report.kwargs["total"] == 10
