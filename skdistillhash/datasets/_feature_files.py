"""Multi-label data sets from user-supplied feature and label files: NUS-WIDE
and MIRFlickr-25K, which share their format and their split."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from .._sklearn_compat import validate_params
from ._splits import _COUNT, _RANDOM_STATE, _describe_rng, _draw_split, _make_bunch


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
    root, dataset: str, n_queries: int, n_train: int | None, random_state, drop_unlabeled: bool
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
    query_idx, db_idx, train_idx = _draw_split(
        Y, random_state=random_state, n_queries=n_queries, n_train=n_train, candidates=candidates
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
            f"from the database; {_describe_rng(random_state)}."
        ),
    )


_FEATURE_PARAMS = {"n_queries": _COUNT, "n_train": [*_COUNT, None], "random_state": _RANDOM_STATE}


@validate_params(_FEATURE_PARAMS, prefer_skip_nested_validation=True)
def load_nus_wide(
    root: str | os.PathLike,
    *,
    n_queries: int = 2100,
    n_train: int | None = 10500,
    random_state: int | np.random.RandomState | None = 0,
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
    random_state : int, RandomState instance or None, default=0
        Generator of the draws (an int seeds a fresh
        ``numpy.random.RandomState``): queries first, then training rows.
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
    return _load_feature_split(root, "NUS-WIDE", n_queries, n_train, random_state, drop_unlabeled)


@validate_params(_FEATURE_PARAMS, prefer_skip_nested_validation=True)
def load_mirflickr(
    root: str | os.PathLike,
    *,
    n_queries: int = 2000,
    n_train: int | None = 10000,
    random_state: int | np.random.RandomState | None = 0,
    drop_unlabeled: bool = True,
) -> Bunch:
    """MIRFlickr-25K from user-supplied feature and multi-label files.

    MIRFlickr-25K has 25,000 images annotated with 24 labels. The files in
    ``root`` (features, and ``(n_samples, 24)`` 0/1 label indicators), their
    format, the split and what is returned or raised are those of
    :func:`load_nus_wide`; only the defaults differ. Nothing is downloaded.

    Parameters
    ----------
    root : str or path-like
        Folder holding ``features.npy`` (or ``.txt``) and ``labels.npy``
        (or ``.txt``).
    n_queries : int, default=2000
        Number of queries.
    n_train : int or None, default=10000
        Training samples drawn from the database; None trains on all of it.
    random_state : int, RandomState instance or None, default=0
        Generator of the draws, as in :func:`load_nus_wide`.
    drop_unlabeled : bool, default=True
        Leave out rows with no label.

    Returns
    -------
    data : sklearn.utils.Bunch
        As from :func:`load_nus_wide`, named ``"mirflickr"``.

    Raises
    ------
    FileNotFoundError
        If ``root`` or a file is missing.
    ValueError
        As from :func:`load_nus_wide`.

    See Also
    --------
    load_nus_wide : The same files and split, with NUS-WIDE's defaults.

    Examples
    --------
    >>> from skdistillhash.datasets import load_mirflickr
    >>> data = load_mirflickr("mirflickr-features/")  # doctest: +SKIP
    >>> data.name, data.X_train.shape[0], data.y_db.shape[1]  # doctest: +SKIP
    ('mirflickr', 10000, 24)
    """
    return _load_feature_split(root, "MIRFlickr", n_queries, n_train, random_state, drop_unlabeled)
