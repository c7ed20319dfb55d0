"""Retrieval datasets with fixed query / database / train splits.

Nothing is downloaded, ever. Each loader reads data that is already on the
machine and returns a :class:`sklearn.utils.Bunch` with the same fields:

``X_query, y_query``
    Queries and their labels.
``X_db, y_db``
    The retrieval database (every sample that is not a query).
``X_train, y_train``
    Training samples, a subset of the database (hashers are unsupervised:
    ``y_train`` is there for diagnostics such as pair precision, not for fit).
``query_idx, db_idx, train_idx``
    Sorted int64 row numbers into the dataset's full sample order (stated by
    each loader), so a split can be reproduced or joined with other data.
    ``query_idx`` and ``db_idx`` are disjoint and cover every kept sample;
    ``train_idx`` is a subset of ``db_idx``.
``image_shape``
    ``(channels, height, width)`` for image datasets, else ``None``.
``name, DESCR``
    Short identifiers and a description of the split.

``X_*`` are float32. Image datasets give flattened pixels scaled to [0, 1],
shape ``(n, channels * height * width)`` in channel-major order; with
``as_images=True`` they give ``(n, channels, height, width)`` instead, the
layout of image inputs to :class:`~skdistillhash.DistillHash`.

Splits are drawn with ``numpy.random.RandomState(random_state)`` (default
seed 0), whose stream numpy keeps fixed across versions, in a documented
order, so the indices are the same on every machine and every call.

:func:`load` gives the named data sets of the main job and the benchmarks
(:data:`DATASETS`), and :func:`validation_split` the one split of a data
set's database side on which settings are chosen, never its queries.
:func:`load_sample_photo_crops` is not a split: it returns labelled images
(``images, target, target_names, DESCR``) to split as you need.
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import struct
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import Bunch
from torch import nn

from ._base import IntInterval
from ._sklearn_compat import StrOptions, validate_params
from ._torch._device import resolve_device
from ._torch._networks import build_backbone
from ._torch._train import encode

__all__ = [
    "DATASETS",
    "load",
    "load_digits_split",
    "load_fashion_mnist",
    "load_cifar10",
    "load_nus_wide",
    "load_mirflickr",
    "read_idx",
    "load_sample_photo_crops",
    "validation_split",
    "FASHION_MNIST_ROOT",
]

#: Where the Debian package ``dataset-fashion-mnist`` installs its IDX files.
FASHION_MNIST_ROOT = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip


# --------------------------------------------------------------------------
# Splitting
# --------------------------------------------------------------------------


#: Constraint of every count parameter (queries, training rows, crops).
_COUNT = [IntInterval(1, None, closed="left")]


def _draw_split(
    y: np.ndarray,
    *,
    rng: np.random.RandomState,
    n_train: int | None,
    n_queries: int | None = None,
    n_queries_per_class: int | None = None,
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (query_idx, db_idx, train_idx), all sorted, from ``candidates``.

    Queries are either ``n_queries_per_class`` per class (classes in sorted
    order, one ``rng.choice`` each) or ``n_queries`` drawn uniformly; the
    database is every other candidate; the training set is ``n_train``
    database rows drawn uniformly (``None``: the whole database). The order of
    the draws is part of the contract: changing it changes every split.
    Callers have checked that the counts are positive ints (``validate_params``
    on the public loaders); the checks here need the data.
    """
    if candidates is None:
        candidates = np.arange(len(y))
    n = len(candidates)
    if n_queries_per_class is not None:
        parts = []
        y_cand = y[candidates]
        for c in np.unique(y_cand):
            members = candidates[y_cand == c]
            if len(members) <= n_queries_per_class:
                raise ValueError(
                    f"class {c.item()!r} has {len(members)} samples, too few for "
                    f"n_queries_per_class={n_queries_per_class} queries and a "
                    "database that still holds the class."
                )
            parts.append(rng.choice(members, n_queries_per_class, replace=False))
        query_idx = np.sort(np.concatenate(parts))
    else:
        if n_queries >= n:
            raise ValueError(
                f"n_queries={n_queries} leaves no database: the dataset has {n} samples."
            )
        query_idx = np.sort(rng.choice(candidates, n_queries, replace=False))
    db_idx = np.setdiff1d(candidates, query_idx, assume_unique=True)
    if n_train is None:
        train_idx = db_idx.copy()
    elif n_train > len(db_idx):
        raise ValueError(
            f"n_train={n_train} is larger than the database ({len(db_idx)} "
            "samples); use n_train=None to train on the whole database."
        )
    else:
        train_idx = np.sort(rng.choice(db_idx, n_train, replace=False))
    as_int = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
    return as_int(query_idx), as_int(db_idx), as_int(train_idx)


def _make_bunch(
    get_X: Callable[[np.ndarray], np.ndarray],
    y: np.ndarray,
    query_idx: np.ndarray,
    db_idx: np.ndarray,
    train_idx: np.ndarray,
    *,
    name: str,
    descr: str,
    image_shape: tuple[int, int, int] | None = None,
    target_names=None,
    train_is_db: bool = False,
) -> Bunch:
    """Assemble the split; ``get_X(idx)`` returns float32 rows for indices."""
    X_db = get_X(db_idx)
    return Bunch(
        X_query=get_X(query_idx),
        y_query=y[query_idx],
        X_db=X_db,
        y_db=y[db_idx],
        X_train=X_db if train_is_db else get_X(train_idx),
        y_train=y[train_idx],
        query_idx=query_idx,
        db_idx=db_idx,
        train_idx=train_idx,
        image_shape=image_shape,
        target_names=target_names,
        name=name,
        DESCR=descr,
    )


def _pixel_getter(
    pixels: np.ndarray, scale: float, image_shape: tuple[int, int, int], as_images: bool
) -> Callable[[np.ndarray], np.ndarray]:
    """Rows of a uint8/float pixel array as float32 in [0, 1], flat or as images."""
    flat = pixels.reshape(len(pixels), -1)

    def get(idx: np.ndarray) -> np.ndarray:
        out = flat[idx].astype(np.float32)
        out *= np.float32(1.0 / scale)
        return out.reshape((len(idx), *image_shape)) if as_images else out

    return get


@validate_params(
    {"data": [Bunch], "n_queries": [*_COUNT, None]},
    prefer_skip_nested_validation=True,
)
def validation_split(data: Bunch, *, n_queries: int | None = None, random_state: int = 0) -> Bunch:
    """A split of ``data``'s database side, for choosing settings without its queries.

    Validation queries are ``n_queries`` database rows outside the training
    set (any database rows when the training set is the whole database);
    the validation database is every other database row; the training set is
    ``data``'s, less the validation queries when it was the whole database.
    So the protocol of ``data`` is mirrored (train on the training set,
    search a database that holds it) and ``data.X_query`` is never touched.

    Parameters
    ----------
    data : sklearn.utils.Bunch
        A split from one of this module's loaders.
    n_queries : int or None, default=None
        Validation queries; None means as many as ``data`` has queries.
    random_state : int, default=0
        Seed of ``numpy.random.RandomState`` for the query draw: one
        ``choice`` of ``n_queries`` candidate rows without replacement
        (candidates in database order), then sorted.

    Returns
    -------
    split : sklearn.utils.Bunch
        The fields of :mod:`skdistillhash.datasets`; the ``*_idx`` fields
        index the same full sample order as ``data``'s.

    Raises
    ------
    ValueError
        If ``n_queries`` is not a positive int, or not fewer than the
        database rows that can be validation queries.

    Examples
    --------
    >>> from skdistillhash.datasets import load_digits_split, validation_split
    >>> val = validation_split(load_digits_split())
    >>> val.X_query.shape, val.X_db.shape, val.X_train is val.X_db
    ((300, 64), (1197, 64), True)
    >>> bool(np.isin(val.query_idx, load_digits_split().query_idx).any())
    False
    """
    n_queries = len(data.query_idx) if n_queries is None else n_queries
    in_train = np.isin(data.db_idx, data.train_idx)
    train_is_db = bool(in_train.all())
    candidates = np.arange(len(data.db_idx)) if train_is_db else np.flatnonzero(~in_train)
    if n_queries >= len(candidates):
        raise ValueError(
            f"n_queries={n_queries} is too many: {len(candidates)} database rows can be "
            "validation queries."
        )
    rng = np.random.RandomState(random_state)
    queries = np.sort(rng.choice(candidates, n_queries, replace=False))
    db = np.setdiff1d(np.arange(len(data.db_idx)), queries, assume_unique=True)
    X_db = data.X_db[db]
    return Bunch(
        X_query=data.X_db[queries],
        y_query=data.y_db[queries],
        X_db=X_db,
        y_db=data.y_db[db],
        X_train=X_db if train_is_db else data.X_train,
        y_train=data.y_db[db] if train_is_db else data.y_train,
        query_idx=data.db_idx[queries],
        db_idx=data.db_idx[db],
        train_idx=data.db_idx[db] if train_is_db else data.train_idx,
        image_shape=data.image_shape,
        target_names=data.get("target_names"),
        name=f"{data.name}-validation",
        DESCR=(
            f"Validation split of {data.name}: {n_queries} queries drawn from its database "
            f"(seed {random_state}), searched against the rest of it.\n\n{data.DESCR}"
        ),
    )


# --------------------------------------------------------------------------
# sklearn digits
# --------------------------------------------------------------------------


@validate_params({"n_queries": _COUNT}, prefer_skip_nested_validation=True)
def load_digits_split(
    *, n_queries: int = 300, random_state: int = 0, as_images: bool = False
) -> Bunch:
    """The sklearn digits (1797 8x8 images, 10 classes) as a retrieval split.

    ``n_queries`` samples drawn uniformly (no per-class balancing) are the
    queries; the other samples are the database, and the database is also the
    training set (``train_idx == db_idx``, ``X_train is X_db``). Row numbers
    index :func:`sklearn.datasets.load_digits` order. Always available.

    Parameters
    ----------
    n_queries : int, default=300
        Number of queries, at least 1 and less than 1797.
    random_state : int, default=0
        Seed of ``numpy.random.RandomState`` for the query draw.
    as_images : bool, default=False
        If True, ``X_*`` have shape ``(n, 1, 8, 8)``; else ``(n, 64)``.

    Returns
    -------
    data : sklearn.utils.Bunch
        Fields as described in :mod:`skdistillhash.datasets`; pixels are the
        digits' 0..16 grey levels divided by 16, float32.

    Examples
    --------
    >>> from skdistillhash.datasets import load_digits_split
    >>> data = load_digits_split()
    >>> data.X_query.shape, data.X_db.shape, data.X_train.dtype
    ((300, 64), (1497, 64), dtype('float32'))
    >>> float(data.X_db.max())
    1.0
    """
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(random_state)
    query_idx, db_idx, train_idx = _draw_split(y, rng=rng, n_queries=n_queries, n_train=None)
    return _make_bunch(
        _pixel_getter(X, 16.0, (1, 8, 8), as_images),
        y,
        query_idx,
        db_idx,
        train_idx,
        name="digits",
        descr=(
            f"sklearn digits: {len(query_idx)} uniformly drawn queries, "
            f"{len(db_idx)} database samples (also the training set); "
            f"RandomState({random_state})."
        ),
        image_shape=(1, 8, 8),
        target_names=np.arange(10),
        train_is_db=True,
    )


# --------------------------------------------------------------------------
# IDX files (MNIST family)
# --------------------------------------------------------------------------

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
    {"n_queries_per_class": _COUNT, "n_train": [*_COUNT, None]},
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(
    root: str | os.PathLike | None = None,
    *,
    n_queries_per_class: int = 100,
    n_train: int | None = 10000,
    random_state: int = 0,
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
    random_state : int, default=0
        Seed of ``numpy.random.RandomState``: queries are drawn class by class
        (classes in increasing order), then the training subset.
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
    image_shape = (1, *pixels.shape[1:])

    rng = np.random.RandomState(random_state)
    query_idx, db_idx, train_idx = _draw_split(
        y, rng=rng, n_queries_per_class=n_queries_per_class, n_train=n_train
    )
    return _make_bunch(
        _pixel_getter(pixels, 255.0, image_shape, as_images),
        y,
        query_idx,
        db_idx,
        train_idx,
        name="fashion-mnist",
        descr=(
            f"Fashion-MNIST from {root}: train+t10k pooled ({len(y)} samples); "
            f"{n_queries_per_class} queries per class, {len(db_idx)} database "
            f"samples, {len(train_idx)} training samples from the database; "
            f"RandomState({random_state})."
        ),
        image_shape=image_shape,
        target_names=FASHION_MNIST_CLASSES,
    )


# --------------------------------------------------------------------------
# CIFAR-10 (python pickle batches)
# --------------------------------------------------------------------------

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
    {"n_queries_per_class": _COUNT, "n_train": [*_COUNT, None]},
    prefer_skip_nested_validation=True,
)
def load_cifar10(
    root: str | os.PathLike,
    *,
    n_queries_per_class: int = 100,
    n_train: int | None = 10000,
    random_state: int = 0,
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
    random_state : int, default=0
        Seed of ``numpy.random.RandomState``: queries are drawn class by class
        (classes in increasing order), then the training subset.
    as_images : bool, default=False
        If True, ``X_*`` have shape ``(n, 3, 32, 32)``; else ``(n, 3072)``
        (channel-major: the 1024 red, then green, then blue pixels).

    Returns
    -------
    data : sklearn.utils.Bunch
        Fields as described in :mod:`skdistillhash.datasets`; pixels divided
        by 255, float32.

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
    image_shape = (3, 32, 32)
    rng = np.random.RandomState(random_state)
    query_idx, db_idx, train_idx = _draw_split(
        y, rng=rng, n_queries_per_class=n_queries_per_class, n_train=n_train
    )
    return _make_bunch(
        _pixel_getter(pixels, 255.0, image_shape, as_images),
        y,
        query_idx,
        db_idx,
        train_idx,
        name="cifar10",
        descr=(
            f"CIFAR-10 from {root}: 5 training batches + test batch pooled "
            f"({len(y)} samples); {n_queries_per_class} queries per class, "
            f"{len(db_idx)} database samples, {len(train_idx)} training samples "
            f"from the database; RandomState({random_state})."
        ),
        image_shape=image_shape,
        target_names=CIFAR10_CLASSES,
    )


# --------------------------------------------------------------------------
# Multi-label feature files (NUS-WIDE, MIRFlickr)
# --------------------------------------------------------------------------


def _read_array(root: Path, stem: str) -> np.ndarray:
    npy, txt = root / f"{stem}.npy", root / f"{stem}.txt"
    if npy.is_file():
        try:
            return np.load(npy, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{npy}: not a plain numeric .npy array: {exc}") from exc
    if txt.is_file():
        try:
            return np.loadtxt(txt, ndmin=2)
        except ValueError as exc:
            raise ValueError(f"{txt}: not a whitespace-separated numeric table: {exc}") from exc
    raise FileNotFoundError(f"{npy} (or {txt.name})")


def _load_feature_split(
    root,
    *,
    dataset: str,
    n_queries: int,
    n_train: int | None,
    random_state: int,
    drop_unlabeled: bool,
) -> Bunch:
    """The loader behind :func:`load_nus_wide` and :func:`load_mirflickr`;
    ``dataset`` names the data set in messages and in the split's ``name``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"{dataset} root {str(root)!r} is not a folder. Pass a folder with "
            "features.npy (or .txt) and labels.npy (or .txt); nothing is downloaded."
        )
    try:
        X = _read_array(root, "features")
        Y = _read_array(root, "labels")
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{dataset} files missing: {exc.args[0]}. Expected features.npy/.txt "
            "(n_samples, n_features) and labels.npy/.txt (n_samples, n_labels), "
            "0/1 label indicators."
        ) from None
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
        raise ValueError(
            f"{dataset} features must be a 2-D numeric array; got {X.dtype} {X.shape}."
        )
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2 or len(Y) != len(X):
        raise ValueError(
            f"{dataset} labels must be (n_samples, n_labels) with n_samples={len(X)} "
            f"like the features; got shape {Y.shape}."
        )
    if not np.isin(Y, (0, 1)).all():
        raise ValueError(f"{dataset} labels must be a 0/1 indicator matrix.")
    if not np.isfinite(X).all():
        raise ValueError(f"{dataset} features contain NaN or infinite values.")
    Y = Y.astype(np.uint8)
    candidates = np.flatnonzero(Y.any(axis=1)) if drop_unlabeled else np.arange(len(X))
    if len(candidates) == 0:
        raise ValueError(f"{dataset}: no sample has a label.")
    rng = np.random.RandomState(random_state)
    query_idx, db_idx, train_idx = _draw_split(
        Y, rng=rng, n_queries=n_queries, n_train=n_train, candidates=candidates
    )
    dropped = len(X) - len(candidates)
    return _make_bunch(
        lambda idx: X[idx].astype(np.float32),
        Y,
        query_idx,
        db_idx,
        train_idx,
        name=dataset.lower(),
        descr=(
            f"{dataset} features from {root}: {len(X)} rows, {dropped} without "
            f"any label dropped; {len(query_idx)} uniformly drawn queries, "
            f"{len(db_idx)} database samples, {len(train_idx)} training samples "
            f"from the database; RandomState({random_state})."
        ),
    )


_FEATURE_PARAMS = {"n_queries": _COUNT, "n_train": [*_COUNT, None]}


@validate_params(_FEATURE_PARAMS, prefer_skip_nested_validation=True)
def load_nus_wide(
    root: str | os.PathLike,
    *,
    n_queries: int = 2100,
    n_train: int | None = 10500,
    random_state: int = 0,
    drop_unlabeled: bool = True,
) -> Bunch:
    """NUS-WIDE from user-supplied feature and multi-label files.

    Reads two files from ``root`` (no fixed public release ships them, and
    nothing is downloaded: extract features with the backbone of your choice):

    * ``features.npy`` or ``features.txt``: ``(n_samples, n_features)``
      numbers, one sample per row (``.txt``: whitespace-separated, as read
      by :func:`numpy.loadtxt`);
    * ``labels.npy`` or ``labels.txt``: ``(n_samples, n_labels)`` 0/1
      indicators, row ``i`` labelling sample ``i``. Two samples are relevant
      to each other when they share a label.

    ``.npy`` wins when both exist; ``.npy`` files are read with
    ``allow_pickle=False``. Row numbers (``*_idx``) index the rows of these
    files. With ``drop_unlabeled`` (the default) rows without any label are
    left out before splitting. Then ``n_queries`` queries are drawn
    uniformly, the rest is the database, and ``n_train`` database rows drawn
    uniformly are the training set. ``y_*`` are the uint8 indicator rows.

    The usual protocol keeps the images tagged with at least one of the 21
    most frequent concepts (give a 21-column ``labels`` file) and draws 2,100
    queries and 10,500 training images: the defaults.

    Parameters
    ----------
    root : str or path-like
        Folder holding the two files.
    n_queries : int, default=2100
        Number of queries.
    n_train : int or None, default=10500
        Training samples drawn from the database; None trains on all of it.
    random_state : int, default=0
        Seed of ``numpy.random.RandomState``: queries first, then training rows.
    drop_unlabeled : bool, default=True
        Leave out rows with no label.

    Returns
    -------
    data : sklearn.utils.Bunch
        Fields as described in :mod:`skdistillhash.datasets`; features as
        float32, unscaled.

    Raises
    ------
    FileNotFoundError
        If ``root`` or a file is missing.
    ValueError
        If shapes disagree, labels are not 0/1, features are not finite, or
        the counts do not fit the data.

    See Also
    --------
    load_mirflickr : The same files and split, with MIRFlickr-25K's defaults.

    Examples
    --------
    >>> from skdistillhash.datasets import load_nus_wide
    >>> data = load_nus_wide("nus-wide-features/")  # doctest: +SKIP
    >>> data.X_query.shape[0], data.y_db.shape[1]  # doctest: +SKIP
    (2100, 21)
    """
    return _load_feature_split(
        root,
        dataset="NUS-WIDE",
        n_queries=n_queries,
        n_train=n_train,
        random_state=random_state,
        drop_unlabeled=drop_unlabeled,
    )


@validate_params(_FEATURE_PARAMS, prefer_skip_nested_validation=True)
def load_mirflickr(
    root: str | os.PathLike,
    *,
    n_queries: int = 2000,
    n_train: int | None = 10000,
    random_state: int = 0,
    drop_unlabeled: bool = True,
) -> Bunch:
    """MIRFlickr-25K from user-supplied feature and multi-label files.

    MIRFlickr-25K has 25,000 images annotated with 24 labels. The files,
    their format and the split are those of :func:`load_nus_wide`:
    ``features.npy`` (or ``.txt``), ``(n_samples, n_features)`` numbers, and
    ``labels.npy`` (or ``.txt``), ``(n_samples, 24)`` 0/1 indicators, in
    ``root``; rows without a label left out (``drop_unlabeled``), then
    ``n_queries`` queries drawn uniformly, the rest the database, and
    ``n_train`` database rows the training set. Nothing is downloaded.

    Parameters
    ----------
    root : str or path-like
        Folder holding the two files.
    n_queries : int, default=2000
        Number of queries.
    n_train : int or None, default=10000
        Training samples drawn from the database; None trains on all of it.
    random_state : int, default=0
        Seed of ``numpy.random.RandomState``: queries first, then training rows.
    drop_unlabeled : bool, default=True
        Leave out rows with no label.

    Returns
    -------
    data : sklearn.utils.Bunch
        Fields as described in :mod:`skdistillhash.datasets`; features as
        float32, unscaled.

    Raises
    ------
    FileNotFoundError
        If ``root`` or a file is missing.
    ValueError
        If shapes disagree, labels are not 0/1, features are not finite, or
        the counts do not fit the data.

    See Also
    --------
    load_nus_wide : The same files and split, with NUS-WIDE's defaults.

    Examples
    --------
    >>> from skdistillhash.datasets import load_mirflickr
    >>> data = load_mirflickr("mirflickr-features/")  # doctest: +SKIP
    >>> data.X_train.shape[0], data.y_db.shape[1]  # doctest: +SKIP
    (10000, 24)
    """
    return _load_feature_split(
        root,
        dataset="MIRFlickr",
        n_queries=n_queries,
        n_train=n_train,
        random_state=random_state,
        drop_unlabeled=drop_unlabeled,
    )


# --------------------------------------------------------------------------
# Crops of the photos bundled with scikit-learn and scikit-image
# --------------------------------------------------------------------------

#: Colour photographs shipped inside scikit-image (not fetched: on disk).
SKIMAGE_PHOTOS = (
    "astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
    "immunohistochemistry", "retina",
)  # fmt: skip

#: ImageNet channel statistics, the normalisation pretrained backbones expect.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _bundled_photos() -> tuple[list[np.ndarray], list[str]]:
    """sklearn's two sample photos, plus scikit-image's colour photos if installed."""
    from sklearn.datasets import load_sample_images

    sample = load_sample_images()
    photos = list(sample.images)
    names = [os.path.splitext(os.path.basename(f))[0] for f in sample.filenames]
    try:
        import skimage.data
    except ImportError:
        return photos, names
    for name in SKIMAGE_PHOTOS:
        photos.append(getattr(skimage.data, name)())
        names.append(name)
    return photos, names


@validate_params(
    {"n_crops_per_photo": _COUNT, "size": _COUNT},
    prefer_skip_nested_validation=True,
)
def load_sample_photo_crops(
    *, n_crops_per_photo: int = 32, size: int = 96, random_state: int = 0
) -> Bunch:
    """Random crops of the photos that ship with scikit-learn and scikit-image.

    A real test of an image backbone that needs no download: every crop
    (a random square of 30-60 % of the photo's shorter side, randomly
    mirrored, resized to ``size`` pixels) is labelled with the photo it comes
    from, so "relevant" means "same scene". scikit-learn ships 2 photos
    (china, flower); with scikit-image installed (the ``pretrained`` extra)
    7 more are added. The crops of each photo are consecutive rows, photos in
    the order of ``target_names``.

    Parameters
    ----------
    n_crops_per_photo : int, default=32
        Crops drawn from each photo.
    size : int, default=96
        Side of the square output images.
    random_state : int, default=0
        Seed of ``numpy.random.RandomState`` for crop positions and mirroring.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object, with the following attributes.

        images : ndarray of shape (n_photos * n_crops_per_photo, 3, size, size), float32
            ImageNet-normalised (channel mean/std), the input pretrained
            backbones expect.
        target : ndarray of shape (n_photos * n_crops_per_photo,), int64
            Index of the source photo.
        target_names : list of str
            Photo names, indexed by ``target``.
        DESCR : str
            A description of the crops.

    Examples
    --------
    >>> from skdistillhash.datasets import load_sample_photo_crops
    >>> crops = load_sample_photo_crops(n_crops_per_photo=2, size=32)
    >>> crops.images.shape[1:], crops.images.dtype, crops.target_names[:2]
    ((3, 32, 32), dtype('float32'), ['china', 'flower'])
    >>> crops.target[:4].tolist()
    [0, 0, 1, 1]
    """
    rng = np.random.RandomState(random_state)
    photos, names = _bundled_photos()
    crops, labels = [], []
    for label, photo in enumerate(photos):
        height, width = photo.shape[:2]
        tensor = torch.from_numpy(np.array(photo)).permute(2, 0, 1).float() / 255.0
        for _ in range(n_crops_per_photo):
            side = int(rng.uniform(0.3, 0.6) * min(height, width))
            top = rng.randint(0, height - side + 1)
            left = rng.randint(0, width - side + 1)
            crop = tensor[None, :, top : top + side, left : left + side]
            crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            if rng.rand() < 0.5:
                crop = crop.flip(-1)
            crops.append(crop[0].numpy())
            labels.append(label)
    images = np.stack(crops).astype(np.float32)
    images = (images - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]
    return Bunch(
        images=images,
        target=np.asarray(labels, dtype=np.int64),
        target_names=names,
        DESCR=(
            f"{n_crops_per_photo} random crops of each of {len(names)} photos bundled with "
            f"scikit-learn and scikit-image ({', '.join(names)}): squares of 30-60 % of the "
            f"shorter side, randomly mirrored, resized to {size} px, ImageNet-normalised; "
            f"RandomState({random_state})."
        ),
    )


# --------------------------------------------------------------------------
# The named data sets of the main job and the benchmarks
# --------------------------------------------------------------------------

#: Names :func:`load` knows: the data sets of the main job
#: (``python -m skdistillhash --dataset NAME``) and of the benchmarks.
DATASETS = ("digits", "fashion-mnist", "fashion-mnist-lite0", "photos-lite0")
#: Side of the images the pretrained EfficientNet-Lite0 sees of Fashion-MNIST
#: (its 28 px upsampled); the photo crops keep their loader's 96 px.
LITE0_SIZE = 64
#: Crops per photo of "photos-lite0", of which the queries (drawn per photo).
PHOTO_CROPS, PHOTO_QUERIES = 64, 8


@validate_params(
    {"name": [StrOptions(set(DATASETS))], "root": [str, os.PathLike, None], "device": [str]},
    prefer_skip_nested_validation=True,
)
def load(name: str, *, root: str | os.PathLike | None = None, device: str = "auto") -> Bunch:
    """A named data set of the main job and the benchmarks, split for retrieval.

    ``"digits"``
        :func:`load_digits_split` at its defaults.
    ``"fashion-mnist"``
        :func:`load_fashion_mnist` at its defaults, read from ``root``.
    ``"fashion-mnist-lite0"``
        The same split, each image through the ImageNet-pretrained
        EfficientNet-Lite0 (frozen; grey pixels repeated over 3 channels,
        resized to :data:`LITE0_SIZE` px, ImageNet-normalised): the 1280-d
        pooled features are ``X_*``.
    ``"photos-lite0"``
        :data:`PHOTO_CROPS` crops of each photo of
        :func:`load_sample_photo_crops` (96 px, ``random_state=0``) through
        the same network; :data:`PHOTO_QUERIES` queries drawn per photo
        (``RandomState(0)``), the other crops are the database and the
        training set.

    The "-lite0" data sets give the deep features most users bring, and every
    method fits on the same features; they need the ``pretrained`` extra.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.
    root : str, path-like or None, default=None
        Folder of Fashion-MNIST's IDX files, for the two "fashion-mnist" data
        sets; None means :data:`FASHION_MNIST_ROOT`. The other data sets ship
        with packages and take no root.
    device : str, default="auto"
        Where the "-lite0" features are computed: "auto", "cpu", "cuda" or
        "cuda:N". The other data sets ignore it.

    Returns
    -------
    data : sklearn.utils.Bunch
        Fields as described in :mod:`skdistillhash.datasets`; ``name`` is
        ``name``. The "-lite0" data sets have ``image_shape=None``.

    Raises
    ------
    ValueError
        If ``name`` is unknown, or ``root`` is given for a data set that
        reads no files.
    FileNotFoundError
        If Fashion-MNIST's files are missing.
    RuntimeError
        If ``device`` names a device this machine lacks.

    See Also
    --------
    validation_split : The split of a data set's database side on which
        settings are chosen.

    Examples
    --------
    >>> from skdistillhash.datasets import DATASETS, load
    >>> DATASETS
    ('digits', 'fashion-mnist', 'fashion-mnist-lite0', 'photos-lite0')
    >>> data = load("digits")
    >>> data.name, data.X_query.shape, data.X_db.shape
    ('digits', (300, 64), (1497, 64))
    """
    if root is not None and not name.startswith("fashion-mnist"):
        raise ValueError(
            f"root is for the fashion-mnist data sets, which read files; {name!r} "
            "ships with packages and takes no root."
        )
    if name == "digits":
        return load_digits_split()
    if name == "fashion-mnist":
        return load_fashion_mnist(root)
    if name == "fashion-mnist-lite0":
        data = load_fashion_mnist(root, as_images=True)
        X_db = _lite0_features(data.X_db, device)
        train = np.searchsorted(data.db_idx, data.train_idx)
        return Bunch(**{**data, "X_query": _lite0_features(data.X_query, device), "X_db": X_db,
                        "X_train": X_db[train], "image_shape": None, "name": name})
    crops = load_sample_photo_crops(n_crops_per_photo=PHOTO_CROPS, random_state=0)
    query_idx, db_idx, train_idx = _draw_split(
        crops.target, rng=np.random.RandomState(0), n_train=None, n_queries_per_class=PHOTO_QUERIES
    )
    features = _lite0_features(crops.images, device)
    return _make_bunch(
        lambda idx: features[idx], crops.target, query_idx, db_idx, train_idx, name=name,
        descr=f"{PHOTO_CROPS} crops of each of {len(crops.target_names)} bundled photos through "
        f"EfficientNet-Lite0; {PHOTO_QUERIES} queries per photo, the other crops are the "
        "database and training set.",
        target_names=crops.target_names, train_is_db=True,
    )


class _ImageNetInput(nn.Module):
    """Grey (n, 1, H, W) pixels in [0, 1] made the input an ImageNet backbone
    expects: repeated over 3 channels, resized to LITE0_SIZE, normalised.
    3-channel images pass as they are (already normalised)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(IMAGENET_MEAN)[:, None, None])
        self.register_buffer("std", torch.from_numpy(IMAGENET_STD)[:, None, None])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.shape[1] != 1:
            return batch
        batch = F.interpolate(batch.expand(-1, 3, -1, -1), size=LITE0_SIZE, mode="bilinear", align_corners=False)
        return (batch - self.mean) / self.std


def _lite0_features(images: np.ndarray, device: str, batch_size: int = 256) -> np.ndarray:
    """Pooled EfficientNet-Lite0 (ImageNet) features of (n, C, H, W) images: grey
    pixels in [0, 1], or already normalised 3-channel images."""
    torch_device = resolve_device(device)
    backbone = build_backbone("efficientnet_lite0", "imagenet", torch.Generator().manual_seed(0))
    net = nn.Sequential(_ImageNetInput(), backbone).to(torch_device)
    return encode(net, images, torch_device, batch_size)
