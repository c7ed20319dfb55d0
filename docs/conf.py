"""Sphinx configuration for the skdistillhash documentation.

Build (from the repository root)::

    sphinx-build -W -b html docs docs/_build/html

The gallery (examples/plot_*.py) is executed during the build. To skip
running it (pages are still made, without outputs)::

    sphinx-build -W -b html -D plot_gallery=0 docs docs/_build/html

and to run it at the examples' small size::

    SKDISTILLHASH_EXAMPLE_SMALL=1 sphinx-build -W -b html docs docs/_build/html

Nothing here needs the network: no intersphinx, no downloads.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import skdistillhash  # noqa: E402

# -- Project ------------------------------------------------------------------

project = "skdistillhash"
author = "the skdistillhash developers"
copyright = "the skdistillhash developers"
release = skdistillhash.__version__
version = ".".join(release.split(".")[:2])

# -- General ------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
# benchmarks.md is written by the benchmark runs and included by
# benchmark_results.md (which adds the context); it is not a page of its own.
exclude_patterns = ["_build", "benchmarks.md", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]

# autosummary: every entry of the tables in api.rst gets a page of its own,
# written into gen_modules/ (git-ignored) from the templates in
# _templates/autosummary/. The class template lists the methods it documents,
# so numpydoc must not add its own member tables as well (they would need a
# page per method).
templates_path = ["_templates"]
autosummary_generate = True
autosummary_generate_overwrite = True
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"
# "On this page" lists a class's methods as fit(), not DistillHash.fit().
toc_object_entries_show_parents = "hide"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# Math in the user guide is rendered by MathJax in the reader's browser; the
# build itself needs no network.
mathjax3_config = {"tex": {"inlineMath": [["\\(", "\\)"]]}}

# -- Gallery ------------------------------------------------------------------

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": str(DOCS / "auto_examples"),
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    # No links to other projects' docs: those need the network.
    "reference_url": {},
    "backreferences_dir": None,
    "show_memory": False,
    # No sg_execution_times.rst written into the source tree.
    "write_computation_times": False,
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
}

# -- HTML ---------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skdistillhash {release}"
html_static_path = ["_static"]
# Narrow screens: long words and code must not make the page scroll sideways.
html_css_files = ["custom.css"]
html_theme_options = {
    # Nothing fetched from the network: no icon links, no version switcher,
    # no analytics.
    "icon_links": [],
    "navbar_align": "left",
    "navbar_start": ["navbar-logo"],
    "navbar_center": ["navbar-nav"],
    "navbar_end": ["theme-switcher"],
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "show_toc_level": 2,
    "show_prev_next": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# Pages without sub-pages need no (empty) section sidebar.
html_sidebars = {
    "index": [],
    "install": [],
    "user_guide": [],
    "benchmark_results": [],
}
html_show_sourcelink = False

# -- docs/benchmarks.md may not exist yet ---------------------------------------

_BENCHMARKS = DOCS / "benchmarks.md"
_INCLUDE = re.compile(r"```\{include\} benchmarks\.md\n(?::[^\n]*\n)*```\n")


def _benchmarks_placeholder(app, docname, source):
    """Say so on the page, instead of failing the build, when the tables are missing."""
    if docname == "benchmark_results" and not _BENCHMARKS.exists():
        source[0] = _INCLUDE.sub(
            "*The benchmark tables (docs/benchmarks.md) have not been written yet: "
            "run the benchmarks to produce them.*\n",
            source[0],
        )


# -- Docstrings written for help() ----------------------------------------------
#
# Docstrings name fitted attributes and symbols as plain text, e.g.
# "ndarray of shape (n_samples_fit_, n_features_in_)" or "rho_-^max". In
# reStructuredText a word ending in "_" before punctuation is a hyperlink
# reference, so Sphinx would fail on a missing target. Such words are escaped
# in the raw docstring (before numpydoc parses it), outside inline literals,
# doctest lines and literal blocks, so the page shows exactly what help() shows.

_TRAILING_UNDERSCORE = re.compile(r"(?<![\w`\\|])([A-Za-z]\w*)_(?=[\s,.:;!?)\]}>'\"/^-]|$)")
# "name : type" header lines of numpydoc sections: the name stays as written.
_HEADER = re.compile(r"^\s*\**\w+(, \**\w+)*( : |\s*$)")


def _escape_segment(text: str) -> str:
    # Leave ``literals``, `interpreted text` and :roles:`...` untouched.
    parts = re.split(r"(``.*?``|`[^`]*`_{0,2})", text)
    return "".join(
        part if i % 2 else _TRAILING_UNDERSCORE.sub(r"\1\\_", part)
        for i, part in enumerate(parts)
    )


def _escape_trailing_underscores(app, what, name, obj, options, lines):
    literal_indent = None
    in_doctest = False
    for i, line in enumerate(lines):
        stripped = line.lstrip()
        indent = len(line) - len(stripped)
        if literal_indent is not None:
            if stripped and indent <= literal_indent:
                literal_indent = None
            else:
                continue
        # A doctest block runs from a ">>>" line to the next blank line.
        in_doctest = bool(stripped) and (in_doctest or stripped.startswith(">>>"))
        if in_doctest:
            continue
        header = _HEADER.match(line)
        head = header.group(0) if header else ""
        lines[i] = head + _escape_segment(line[len(head):])
        if stripped.endswith("::"):
            literal_indent = indent


def setup(app):
    app.connect("source-read", _benchmarks_placeholder)
    # Before numpydoc (priority 500) turns the docstring into reST.
    app.connect("autodoc-process-docstring", _escape_trailing_underscores, priority=400)
