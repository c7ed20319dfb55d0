"""CIFAR-10 from the python batches of its "CIFAR-10 python version" archive,
read with an unpickler that admits numpy arrays and builtin containers only."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._sklearn_compat import validate_params
from ._splits import _COUNT, _RANDOM_STATE, _per_class_image_split

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

#: Globals a CIFAR batch may reference: numpy's array (re)construction, and
#: the string codec that protocol-2 pickles written by Python 3 use for bytes.
_PICKLE_ALLOWED = {
    ("_codecs", "encode"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    """Unpickler that admits builtin containers and numpy arrays, nothing else.

    A pickle can run arbitrary code when loaded; refusing every other global
    closes that door for the batches we read.
    """

    def find_class(self, module: str, name: str):
        if (module, name) in _PICKLE_ALLOWED:
            # The official batches were pickled by numpy 1 under Python 2:
            # numpy.core is numpy._core in numpy 2 (the old name warns).
            if module.startswith("numpy.core.") and int(np.__version__.split(".")[0]) >= 2:
                module = "numpy._core." + module[len("numpy.core."):]
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: a CIFAR-10 batch only "
            "holds numpy arrays, lists and strings"
        )


def _load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            batch = _ArrayOnlyUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"{path} is not a CIFAR-10 python batch: {exc}") from exc
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR-10 python batch: not a dict.")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or "labels" not in batch:
        raise ValueError(
            f"{path} is not a CIFAR-10 python batch: keys {sorted(batch)} lack "
            "'data' and 'labels'."
        )
    data = np.asarray(batch["data"])
    labels = np.asarray(batch["labels"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{path}: 'data' must be uint8 of shape (n, 3072); got {data.dtype} {data.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(data) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"{path}: 'labels' must be {len(data)} integers; got {labels.dtype} {labels.shape}."
        )
    return data, labels.astype(np.int64)


CIFAR10_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


@validate_params(
    {"n_queries_per_class": _COUNT, "n_train": [*_COUNT, None], "random_state": _RANDOM_STATE},
    prefer_skip_nested_validation=True,
)
def load_cifar10(
    root: str | os.PathLike,
    *,
    n_queries_per_class: int = 100,
    n_train: int | None = 10000,
    random_state: int | np.random.RandomState | None = 0,
    as_images: bool = False,
) -> Bunch:
    """CIFAR-10 (60,000 32x32 colour images, 10 classes) from the python batches.

    Reads ``data_batch_1`` .. ``data_batch_5`` and ``test_batch`` (the
    "CIFAR-10 python version" archive, unpacked) from ``root`` or from
    ``root/cifar-10-batches-py``. Nothing ships these files and nothing is
    downloaded: get the archive yourself. Batches are pickles; they are read
    with an unpickler that refuses anything but numpy arrays and builtin
    containers, yet only load files from a source you trust.

    The batches are pooled in the order above (row numbers 0..49999 are the
    training batches, 50000..59999 the test batch), then
    ``n_queries_per_class`` queries per class (1,000 by default), the other
    59,000 samples are the database, and ``n_train`` of them drawn uniformly
    are the training set: the usual protocol of the unsupervised deep-hashing
    literature.

    Parameters
    ----------
    root : str or path-like
        Folder with the six batch files (or its parent).
    n_queries_per_class : int, default=100
        Queries drawn per class.
    n_train : int or None, default=10000
        Training samples drawn from the database; None trains on all of it.
    random_state : int, RandomState instance or None, default=0
        Generator of the draws, in the order of :func:`load_fashion_mnist`.
    as_images : bool, default=False
        If True, ``X_*`` have shape ``(n, 3, 32, 32)``; else ``(n, 3072)``
        (channel-major: the 1024 red, then green, then blue pixels).

    Returns
    -------
    data : sklearn.utils.Bunch
        Fields as described in :mod:`skdistillhash.datasets`, ``name``
        ``"cifar10"``; pixels divided by 255, float32.

    Raises
    ------
    FileNotFoundError
        If ``root`` or a batch file is missing.
    ValueError
        If a file is not a well-formed CIFAR-10 batch.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"CIFAR-10 root {str(root)!r} is not a folder. Pass the folder with "
            f"the python batches ({', '.join(CIFAR10_FILES)}); nothing is downloaded."
        )
    if (root / "cifar-10-batches-py").is_dir() and not (root / CIFAR10_FILES[0]).exists():
        root = root / "cifar-10-batches-py"
    missing = [name for name in CIFAR10_FILES if not (root / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"CIFAR-10 batches missing in {str(root)!r}: {', '.join(missing)}. "
            "Unpack the 'CIFAR-10 python version' archive there; nothing is downloaded."
        )
    batches = [_load_cifar_batch(root / name) for name in CIFAR10_FILES]
    pixels = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    return _per_class_image_split(
        pixels, y, (3, 32, 32), name="cifar10",
        source=f"CIFAR-10 from {root}: 5 training batches + test batch pooled", target_names=CIFAR10_CLASSES,
        n_queries_per_class=n_queries_per_class, n_train=n_train, random_state=random_state, as_images=as_images,
    )
