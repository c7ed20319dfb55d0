"""Fashion-MNIST from the IDX files of the Debian package ``dataset-fashion-mnist``,
and the reader of IDX files (the MNIST family's format)."""

from __future__ import annotations

import gzip
import math
import os
import struct
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._sklearn_compat import validate_params
from ._splits import _COUNT, _RANDOM_STATE, _per_class_image_split

# Documented in __init__.py, where autodoc reads the package's data comments;
# load_fashion_mnist reads this binding, not the one __init__.py re-exports.
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzip or raw.

    Parameters
    ----------
    path : str or path-like
        The file; gzip compression is detected from the content, not the name.

    Returns
    -------
    array : ndarray
        With the file's shape and its element type in native byte order.

    Raises
    ------
    ValueError
        If the file is not a well-formed IDX file (bad magic number, unknown
        type code, size not matching the header).
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(2)
    try:
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:  # corrupt gzip stream
        raise ValueError(f"{path}: cannot read as gzip: {exc}") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path} is not an IDX file: its header is {data[:4]!r}, expected two "
            "zero bytes, a type code and the number of dimensions."
        )
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: IDX header truncated.")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    # Python ints: the product of four 32-bit sizes overflows int64 and can
    # wrap around to the real data size.
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: the IDX header's shape {shape} does not match the data: "
            f"it needs {expected} bytes of data but the file holds {len(data) - header}."
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


def _find_idx(root: Path, stem: str) -> Path:
    for candidate in (root / stem, root / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{root / stem}[.gz]")


@validate_params(
    {"n_queries_per_class": _COUNT, "n_train": [*_COUNT, None], "random_state": _RANDOM_STATE},
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(
    root: str | os.PathLike | None = None,
    *,
    n_queries_per_class: int = 100,
    n_train: int | None = 10000,
    random_state: int | np.random.RandomState | None = 0,
    as_images: bool = False,
) -> Bunch:
    """Fashion-MNIST (70,000 28x28 grey images, 10 classes) as a retrieval split.

    Reads the four IDX files (``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``, each raw or ``.gz``) that the Debian package
    ``dataset-fashion-mnist`` installs. The official train and test parts are
    pooled (row numbers 0..59999 are the train file, 60000..69999 the t10k
    file), then: ``n_queries_per_class`` queries per class (1,000 by default),
    the other 69,000 samples are the database, and ``n_train`` of them drawn
    uniformly are the training set. The protocol mirrors the usual CIFAR-10
    one in the deep-hashing literature.

    Parameters
    ----------
    root : str, path-like or None, default=None
        Folder holding the IDX files; None means
        ``/usr/share/datasets/fashion-mnist`` (the Debian package's folder).
    n_queries_per_class : int, default=100
        Queries drawn per class.
    n_train : int or None, default=10000
        Training samples drawn from the database; None trains on all of it.
    random_state : int, RandomState instance or None, default=0
        Generator of the draws (an int seeds a fresh
        ``numpy.random.RandomState``): queries class by class (classes in
        increasing order), then the training subset.
    as_images : bool, default=False
        If True, ``X_*`` have shape ``(n, 1, 28, 28)``; else ``(n, 784)``.

    Returns
    -------
    data : sklearn.utils.Bunch
        Fields as described in :mod:`skdistillhash.datasets`; pixels divided
        by 255, float32.

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message says how to install the package.
    ValueError
        If a file is corrupt or images and labels disagree.

    Examples
    --------
    >>> from skdistillhash.datasets import load_fashion_mnist
    >>> data = load_fashion_mnist()  # doctest: +SKIP
    >>> data.X_query.shape, data.X_db.shape, data.X_train.shape  # doctest: +SKIP
    ((1000, 784), (69000, 784), (10000, 784))
    """
    default = root is None
    root = FASHION_MNIST_ROOT if default else Path(root)
    parts = []
    for split in ("train", "t10k"):
        try:
            images_path = _find_idx(root, f"{split}-images-idx3-ubyte")
            labels_path = _find_idx(root, f"{split}-labels-idx1-ubyte")
        except FileNotFoundError as exc:
            where = "its default folder" if default else f"root={str(root)!r}"
            raise FileNotFoundError(
                f"Fashion-MNIST not found in {where}: missing {exc.args[0]}. It "
                "ships in the Debian package dataset-fashion-mnist: run "
                "`apt-get install dataset-fashion-mnist` (files land in "
                f"{FASHION_MNIST_ROOT}), or pass root= a folder with the four "
                "IDX files (train/t10k images/labels, raw or .gz)."
            ) from None
        images, labels = read_idx(images_path), read_idx(labels_path)
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{images_path}: expected uint8 images of shape (n, height, width); "
                f"got {images.dtype} {images.shape}."
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"{labels_path}: expected {len(images)} labels to match "
                f"{images_path.name}; got shape {labels.shape}."
            )
        parts.append((images, labels))
    if parts[0][0].shape[1:] != parts[1][0].shape[1:]:
        raise ValueError(
            f"train and t10k images differ in size: {parts[0][0].shape[1:]} vs "
            f"{parts[1][0].shape[1:]}."
        )
    pixels = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return _per_class_image_split(
        pixels, y, (1, *pixels.shape[1:]), name="fashion-mnist",
        source=f"Fashion-MNIST from {root}: train+t10k pooled", target_names=FASHION_MNIST_CLASSES,
        n_queries_per_class=n_queries_per_class, n_train=n_train, random_state=random_state, as_images=as_images,
    )
