"""skdistillhash.show_versions: what a bug report needs."""

import importlib.metadata

import skdistillhash


def test_show_versions_lists_packages_devices_and_threads(capsys):
    skdistillhash.show_versions()
    out = capsys.readouterr().out
    for section in ("System:", "Python dependencies:", "torch:", "Threads:"):
        assert section in out
    for name in ("python", "skdistillhash", "numpy", "scipy", "scikit-learn", "torch", "faiss-cpu",
                 "dask", "CUDA available", "torch intra-op threads", "threads the library may use"):
        assert f"{name}: " in out
    assert f"skdistillhash: {skdistillhash.__version__}" in out


def test_version_is_the_distributions():
    assert skdistillhash.__version__ == importlib.metadata.version("skdistillhash")
