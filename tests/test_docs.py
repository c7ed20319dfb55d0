"""The documentation builds with warnings as errors (sphinx-build -W).

The gallery is not executed here (``-D plot_gallery=0``: its pages are made
from the scripts, without outputs); tests/test_examples.py runs the examples.
docs/ and examples/ are copied to a temporary directory first, because
sphinx-gallery and autosummary write their generated pages into the source
tree. The build is shared by the tests of this module.
"""

from __future__ import annotations

import html
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

DOCS_REQUIREMENTS = ("sphinx", "numpydoc", "sphinx_gallery", "myst_parser", "matplotlib",
                     "pydata_sphinx_theme")
PAGES = ("index", "install", "user_guide", "api", "benchmark_results", "design_notes", "changes",
         "auto_examples/index")
# autosummary writes one page per public class and function here (api.rst).
API_DIR = "gen_modules"
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
_THUMBNAIL = re.compile(r"^# sphinx_gallery_thumbnail_path = '([^']+)'$", re.MULTILINE)


def _copy_sources(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("_build", "auto_examples", API_DIR,
                                    "sg_execution_times.rst", "__pycache__")
    shutil.copytree(ROOT / "docs", dest / "docs", ignore=ignore)
    shutil.copytree(ROOT / "examples", dest / "examples", ignore=ignore)
    return dest / "docs"


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory) -> Path:
    """Build the HTML once with -W (warnings are errors); the output folder."""
    missing = [m for m in DOCS_REQUIREMENTS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"building the docs needs {', '.join(missing)}: "
                    "pip install 'skdistillhash[docs]'")
    tmp_path = tmp_path_factory.mktemp("docs")
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
    return out


def test_docs_build_without_warnings(built_docs: Path):
    for page in PAGES:
        assert (built_docs / f"{page}.html").is_file(), page
    for example in EXAMPLES:
        assert (built_docs / "auto_examples" / f"{example.stem}.html").is_file(), example.stem


def test_every_public_name_has_its_own_api_page(built_docs: Path):
    import skdistillhash

    api = (built_docs / "api.html").read_text(encoding="utf-8")
    for name in skdistillhash.__all__:
        if name == "__version__":
            continue
        page = built_docs / API_DIR / f"skdistillhash.{name}.html"
        assert page.is_file(), f"no API page for {name}"
        assert f'id="skdistillhash.{name}"' in page.read_text(encoding="utf-8"), name
        # ... and the API reference links to it.
        assert f'href="{API_DIR}/skdistillhash.{name}.html' in api, name


def test_front_page_code_fits_the_page(built_docs: Path):
    """No line of the front page's code blocks is longer than 80 characters."""
    index = (built_docs / "index.html").read_text(encoding="utf-8")
    blocks = re.findall(r"<pre>(.*?)</pre>", index, flags=re.DOTALL)
    assert blocks, "the front page shows no example"
    for block in blocks:
        text = html.unescape(re.sub(r"<[^>]+>", "", block))
        for line in text.splitlines():
            assert len(line) <= 80, line


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_examples_have_static_thumbnails(example: Path):
    """The gallery is built without running the examples, so each names a
    thumbnail made beforehand (otherwise sphinx-gallery shows a placeholder)."""
    found = _THUMBNAIL.findall(example.read_text(encoding="utf-8"))
    assert len(found) == 1, f"{example.name}: no sphinx_gallery_thumbnail_path line"
    assert (ROOT / "docs" / found[0]).is_file(), found[0]
