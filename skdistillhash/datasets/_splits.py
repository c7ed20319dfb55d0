"""The retrieval split every loader draws, the validation split of its
database side, and the digits that ship with scikit-learn."""

from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .._base import IntInterval
from .._sklearn_compat import validate_params

#: Constraint of every count parameter (queries, training rows, crops).
_COUNT = [IntInterval(1, None, closed="left")]

#: Constraint of every ``random_state``: what
#: :func:`sklearn.utils.check_random_state` takes, but not the bools that
#: scikit-learn's "random_state" constraint lets through as the seeds 0 and 1
#: (a bool given for a seed is a mistake, as for a count).
_RANDOM_STATE = [IntInterval(0, 2**32 - 1, closed="both"), np.random.RandomState, None]


def _describe_rng(random_state) -> str:
    """How a ``DESCR`` names the generator of its draws: by its seed if it has one."""
    if random_state is None:
        return "numpy's global RandomState"
    if isinstance(random_state, np.random.RandomState):
        return "a RandomState instance"
    return f"RandomState({random_state})"


def _draw_split(
    y: np.ndarray,
    *,
    random_state,
    n_train: int | None,
    n_queries: int | None = None,
    n_queries_per_class: int | None = None,
    candidates: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (query_idx, db_idx, train_idx), all sorted, from ``candidates``.

    Queries are either ``n_queries_per_class`` per class (classes in sorted
    order, one ``rng.choice`` each) or ``n_queries`` drawn uniformly; the
    database is every other candidate; the training set is ``n_train``
    database rows drawn uniformly (``None``: the whole database). ``rng`` is
    ``check_random_state(random_state)``: an int seeds a fresh
    ``RandomState``, so a seed gives the same split on every call. The order
    of the draws is part of the contract: changing it changes every split.
    Callers have checked that the counts are positive ints (``validate_params``
    on the public loaders); the checks here need the data.
    """
    rng = check_random_state(random_state)
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


def _per_class_image_split(
    pixels: np.ndarray,
    y: np.ndarray,
    image_shape: tuple[int, int, int],
    *,
    name: str,
    source: str,
    target_names: tuple[str, ...],
    n_queries_per_class: int,
    n_train: int | None,
    random_state,
    as_images: bool,
) -> Bunch:
    """The split of the pooled uint8 image sets (Fashion-MNIST, CIFAR-10).

    ``n_queries_per_class`` queries per class, the other samples the database,
    ``n_train`` of them the training set; pixels divided by 255. ``source``
    (where the samples come from and how they were pooled) opens ``DESCR``.
    """
    query_idx, db_idx, train_idx = _draw_split(
        y, random_state=random_state, n_queries_per_class=n_queries_per_class, n_train=n_train
    )
    return _make_bunch(
        _pixel_getter(pixels, 255.0, image_shape, as_images),
        y,
        query_idx,
        db_idx,
        train_idx,
        name=name,
        descr=(
            f"{source} ({len(y)} samples); {n_queries_per_class} queries per class, "
            f"{len(db_idx)} database samples, {len(train_idx)} training samples "
            f"from the database; {_describe_rng(random_state)}."
        ),
        image_shape=image_shape,
        target_names=target_names,
    )


@validate_params(
    {"data": [Bunch], "n_queries": [*_COUNT, None], "random_state": _RANDOM_STATE},
    prefer_skip_nested_validation=True,
)
def validation_split(
    data: Bunch, *, n_queries: int | None = None, random_state: int | np.random.RandomState | None = 0
) -> Bunch:
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
    random_state : int, RandomState instance or None, default=0
        Generator of the query draw (an int seeds a fresh
        ``numpy.random.RandomState``): one ``choice`` of ``n_queries``
        candidate rows without replacement (candidates in database order),
        then sorted.

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
    rng = check_random_state(random_state)
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
            f"with {_describe_rng(random_state)}, searched against the rest of it.\n\n{data.DESCR}"
        ),
    )


@validate_params({"n_queries": _COUNT, "random_state": _RANDOM_STATE}, prefer_skip_nested_validation=True)
def load_digits_split(
    *, n_queries: int = 300, random_state: int | np.random.RandomState | None = 0, as_images: bool = False
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
    random_state : int, RandomState instance or None, default=0
        Generator of the query draw; an int seeds a fresh
        ``numpy.random.RandomState``.
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
    query_idx, db_idx, train_idx = _draw_split(y, random_state=random_state, n_queries=n_queries, n_train=None)
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
            f"{_describe_rng(random_state)}."
        ),
        image_shape=(1, 8, 8),
        target_names=np.arange(10),
        train_is_db=True,
    )
