"""The documentation builds with warnings as errors (sphinx-build -W).

The gallery is not executed here (``-D plot_gallery=0``: its pages are made
from the scripts, without outputs); tests/test_examples.py runs the examples.
docs/ and examples/ are copied to a temporary directory first, because
sphinx-gallery writes its generated pages into the source tree.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

DOCS_REQUIREMENTS = ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "matplotlib")


def _copy_sources(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("_build", "auto_examples", "sg_execution_times.rst",
                                    "__pycache__")
    shutil.copytree(ROOT / "docs", dest / "docs", ignore=ignore)
    shutil.copytree(ROOT / "examples", dest / "examples", ignore=ignore)
    return dest / "docs"


def test_docs_build_without_warnings(tmp_path: Path):
    missing = [m for m in DOCS_REQUIREMENTS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"building the docs needs {', '.join(missing)}: "
                    "pip install 'skdistillhash[docs]'")
    docs = _copy_sources(tmp_path / "src")
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-D", "plot_gallery=0", "-q", str(docs), str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"sphinx-build -W failed (exit {proc.returncode})\n"
        f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-8000:]}"
    )
    for page in ("index", "install", "user_guide", "api", "benchmark_results",
                 "auto_examples/index"):
        assert (out / f"{page}.html").is_file(), page
    api = (out / "api.html").read_text(encoding="utf-8")
    import skdistillhash

    for name in skdistillhash.__all__:
        if name != "__version__":
            assert f'id="skdistillhash.{name}"' in api, name
    gallery = sorted(p.stem for p in (ROOT / "examples").glob("plot_*.py"))
    for stem in gallery:
        assert (out / "auto_examples" / f"{stem}.html").is_file(), stem
