"""Doctest collection over the package: modules of optional extras need them.

``pytest`` collects ``skdistillhash/`` with ``--doctest-modules`` (pyproject),
which imports every module; the modules of the ``dask`` and ``faiss`` extras
are left out where their extra is not installed, as their tests skip.
"""

from importlib.util import find_spec

collect_ignore = []
if find_spec("dask") is None or find_spec("distributed") is None:
    collect_ignore.append("skdistillhash/dask.py")
if find_spec("faiss") is None:
    collect_ignore.append("skdistillhash/approximate.py")
