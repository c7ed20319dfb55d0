"""The main job: DistillHash against the baselines on real data that ships offline.

``python -m skdistillhash`` fits every method (LSH, ITQ, BiHalf, GreedyHash,
DistillHash) at every code length on the training split of a data set of
:func:`skdistillhash.datasets.load`, encodes queries and database, and prints
one aligned table (MAP, precision within Hamming radius 2, fit time) plus a
PNG with MAP against code length and precision-recall curves. Below the
methods, a reference row ranks the database by the exact cosine similarity
of the features themselves: what the codes keep of the features, and where
they exceed them. Each fit's scores are also written, as soon as it is
scored, to a CSV beside the plot. Queries never influence any fit.

The benchmarks (``benchmarks/``) share its pieces: :func:`make_hasher` for a
hasher per table cell, and :func:`knn_pair_anchor` and
:func:`random_pair_anchor`, the anchors that distilled pairs must beat.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch

from . import datasets
from ._base import MAX_BITS
from .metrics import mean_average_precision, precision_recall_curve, precision_within_radius

if TYPE_CHECKING:  # the annotation only: estimators are imported where they are used
    from .distill import PairDistiller

#: A database of more than this many rows is also scored by MAP@1000.
MAP_AT_K = 1000
METHODS = ("lsh", "itq", "bihalf", "greedyhash", "distillhash", "ssdh")
DEFAULT_METHODS = ("lsh", "itq", "bihalf", "greedyhash", "distillhash")
LABELS = {
    "lsh": "LSH", "itq": "ITQ", "bihalf": "BiHalf", "greedyhash": "GreedyHash",
    "distillhash": "DistillHash", "ssdh": "DistillHash (SSDH pairs)",
}
#: The reference row's label: the features' own cosine ranking, not a method.
COSINE_LABEL = "cosine of the features"
#: The plot's file name when ``--output`` names a folder.
PLOT_NAME = "map_vs_bits.png"
#: The tie policies of mean_average_precision, as the main job's output says them.
TIES = {
    "index": "ranks codes at equal Hamming distance by database index",
    "average": "averages over every order of codes at equal Hamming distance",
}
#: Columns of the CSV beside the plot, one row per fit: fields of :class:`Result`.
CSV_COLUMNS = ("method", "n_bits", "seed", "map_all", "map_at_1000", "precision_r2", "fit_seconds")


@dataclass
class Result:
    method: str
    n_bits: int
    seed: int
    map_all: float
    map_at_1000: float | None
    precision_r2: float
    fit_seconds: float
    pr_curve: tuple[np.ndarray, np.ndarray]


def reports_map_at_1000(data: Bunch) -> bool:
    """Whether a split is also scored by MAP@1000: its database has more than 1,000 rows."""
    return len(data.y_db) > MAP_AT_K


def make_hasher(method: str, n_bits: int, seed: int, device: str):
    """A fresh, unfitted hasher for one table cell: every method at its defaults,
    the same on every data set (the main job tunes nothing)."""
    from .baselines import BiHalfHash, GreedyHash, ITQHash, LSHHash
    from .distill import PairDistiller
    from .hashing import DistillHash

    if method == "lsh":
        return LSHHash(n_bits=n_bits, random_state=seed)
    if method == "itq":
        return ITQHash(n_bits=n_bits, random_state=seed)
    if method == "bihalf":
        return BiHalfHash(n_bits=n_bits, device=device, random_state=seed)
    if method == "greedyhash":
        return GreedyHash(n_bits=n_bits, device=device, random_state=seed)
    strategy = "ssdh" if method == "ssdh" else "distillhash"
    return DistillHash(
        n_bits=n_bits,
        distiller=PairDistiller(strategy=strategy),
        device=device,
        random_state=seed,
    )


def knn_pair_anchor(distiller: PairDistiller, y: ArrayLike) -> tuple[int, float, float]:
    """The kNN graph with as many pairs as a distiller's similar pairs, and its precision.

    The anchor that distilled similar pairs must beat: of the symmetrized
    k-nearest-neighbour graphs built from the fitted ``distiller``'s own
    neighbour lists (``neighbors_``, k = 1 .. ``neighbors_.shape[1]``), the
    one whose number of unordered pairs is closest to the number of
    distilled similar pairs (the smallest such k on a tie). Pairs are
    unordered, as in the distilled graph, so both give as many training pairs.

    Parameters
    ----------
    distiller : PairDistiller
        A fitted distiller.
    y : array-like of shape (n_samples_fit_,)
        Class labels of the distiller's training samples, for measuring only.

    Returns
    -------
    k : int
        Neighbours per sample of that graph.
    pairs_per_sample : float
        Its unordered pairs per training sample.
    precision : float
        The fraction of its pairs whose two samples share a label.

    Raises
    ------
    ValueError
        If ``y`` does not hold one label per training sample.

    See Also
    --------
    random_pair_anchor : The anchor of the distilled dissimilar pairs.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skdistillhash import PairDistiller
    >>> from skdistillhash.benchmark import knn_pair_anchor
    >>> X, y = load_digits(return_X_y=True)
    >>> distiller = PairDistiller(device="cpu", random_state=0).fit(X[:500])
    >>> k, pairs_per_sample, precision = knn_pair_anchor(distiller, y[:500])
    >>> k, pairs_per_sample, round(precision, 3)
    (11, 7.17, 0.912)
    >>> round(float((distiller.graph_ > 0).sum() / 2 / 500), 2)  # distilled similar pairs per sample
    7.12
    """
    import scipy.sparse as sp
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(distiller, ["graph_", "neighbors_"])
    n = distiller.n_samples_fit_
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(
            f"y must hold one class label per training sample of the distiller ({n}); "
            f"got shape {y.shape}."
        )
    target = (distiller.graph_ > 0).sum() / 2
    best = None
    for k in range(1, distiller.neighbors_.shape[1] + 1):
        rows = np.repeat(np.arange(n), k)
        cols = distiller.neighbors_[:, :k].ravel()
        knn = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(n, n))
        pairs = sp.triu(knn + knn.T, k=1).tocoo()
        gap = abs(pairs.nnz - target)
        if best is None or gap < best[0]:
            precision = float(np.mean(y[pairs.row] == y[pairs.col]))
            best = (gap, k, pairs.nnz / n, precision)
    return best[1:]


def random_pair_anchor(y: ArrayLike) -> float:
    """Precision of random pairs labelled dissimilar: ``1 - sum_c p_c ** 2``.

    The anchor that distilled dissimilar pairs must beat: the probability
    that two samples drawn independently and uniformly have different
    labels, ``p_c`` being the frequency of class ``c`` in ``y``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.

    Returns
    -------
    precision : float

    Raises
    ------
    ValueError
        If ``y`` is not a non-empty 1-D array.

    See Also
    --------
    knn_pair_anchor : The anchor of the distilled similar pairs.

    Examples
    --------
    >>> from skdistillhash.benchmark import random_pair_anchor
    >>> random_pair_anchor([0, 0, 1, 1])
    0.5
    >>> random_pair_anchor(["a", "b", "c", "d"])
    0.75
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D array of class labels; got shape {y.shape}.")
    _, counts = np.unique(y, return_counts=True)
    p = counts / y.size
    return float(1 - np.sum(p**2))


def run(
    dataset: str = "digits",
    bits: Sequence[int] = (16, 32, 64),
    methods: Sequence[str] = DEFAULT_METHODS,
    device: str = "auto",
    seeds: Sequence[int] = (0,),
    progress: bool = True,
    *,
    data: Bunch | None = None,
    on_result: Callable[[Result], None] | None = None,
    ties: str = "index",
) -> list[Result]:
    """Fit and score every (method, n_bits, seed); returns one Result each.

    ``data`` is the split of ``dataset`` if already loaded (None loads it);
    ``on_result`` is called with each Result as soon as it is scored;
    ``ties`` is the tie policy of both MAPs
    (:func:`~skdistillhash.mean_average_precision`).
    """
    if data is None:
        data = datasets.load(dataset)
    with_map_at_1000 = reports_map_at_1000(data)
    results = []
    cells = [(m, b, s) for m in methods for b in bits for s in seeds]
    for i, (method, n_bits, seed) in enumerate(cells, 1):
        hasher = make_hasher(method, n_bits, seed, device)
        tic = time.perf_counter()
        hasher.fit(data.X_train)
        fit_seconds = time.perf_counter() - tic
        q, d = hasher.transform(data.X_query), hasher.transform(data.X_db)
        args = (q, d, data.y_query, data.y_db)
        result = Result(
            method=method,
            n_bits=n_bits,
            seed=seed,
            map_all=mean_average_precision(*args, ties=ties),
            map_at_1000=mean_average_precision(*args, k=MAP_AT_K, ties=ties) if with_map_at_1000 else None,
            precision_r2=precision_within_radius(*args, radius=2),
            fit_seconds=fit_seconds,
            pr_curve=precision_recall_curve(*args)[:2],
        )
        results.append(result)
        if on_result is not None:
            on_result(result)
        if progress:
            print(
                f"[{i}/{len(cells)}] {LABELS[method]:<24} {n_bits:>3} bits  seed {seed}  "
                f"MAP@all {result.map_all:.3f}  fit {fit_seconds:.1f}s",
                file=sys.stderr,
                flush=True,
            )
    return results


@dataclass
class Reference:
    """Scores of ranking the database by the features' own cosine similarity."""

    map_all: float
    map_at_1000: float | None


#: Queries ranked at once by cosine_reference: a block of similarities
#: (queries x database rows) in float32.
_REFERENCE_QUERIES = 128


def cosine_reference(data: Bunch, with_map_at_1000: bool) -> Reference:
    """MAP of ranking ``data.X_db`` by exact cosine similarity to each query.

    No codes: the ranking the features themselves give (ties, which real
    features hardly have, go to the smaller database index, as for codes).
    An all-zero row is at similarity 0 from everything.

    Parameters
    ----------
    data : sklearn.utils.Bunch
        A split of :func:`skdistillhash.datasets.load`: ``X_query``,
        ``X_db``, ``y_query``, ``y_db``.
    with_map_at_1000 : bool
        Whether to compute MAP@1000 too.

    Returns
    -------
    reference : Reference

    Examples
    --------
    >>> from skdistillhash.benchmark import cosine_reference
    >>> from skdistillhash.datasets import load
    >>> round(cosine_reference(load("digits"), False).map_all, 3)
    0.652
    """
    from .metrics import _ap_of_ranked, _encode_labels, _relevance

    def unit(X):
        X = np.asarray(X, dtype=np.float32)
        return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), np.finfo(np.float32).tiny)

    queries, database = unit(data.X_query), unit(data.X_db)
    q_labels, db_labels = _encode_labels(data.y_query, data.y_db)
    k = min(MAP_AT_K, len(database))
    ap_all, ap_1000 = [], []
    for start in range(0, len(queries), _REFERENCE_QUERIES):
        sim = queries[start : start + _REFERENCE_QUERIES] @ database.T
        order = np.argsort(-sim, axis=1, kind="stable")
        rel = _relevance(q_labels[start : start + _REFERENCE_QUERIES], db_labels)
        rel = np.take_along_axis(rel, order, axis=1)
        ap_all.append(_ap_of_ranked(rel))
        if with_map_at_1000:
            ap_1000.append(_ap_of_ranked(rel[:, :k]))
    return Reference(
        map_all=float(np.mean(np.concatenate(ap_all))),
        map_at_1000=float(np.mean(np.concatenate(ap_1000))) if with_map_at_1000 else None,
    )


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def format_table(results: list[Result], reference: Reference | None = None) -> str:
    """An aligned text table, one row per (method, n_bits), mean ± std over
    seeds; the cosine reference, when given, last."""
    has_1000 = any(r.map_at_1000 is not None for r in results)
    header = ["method", "bits", "MAP@all"] + (["MAP@1000"] if has_1000 else []) + ["P@r<=2", "fit s"]
    rows = []
    keys = list(dict.fromkeys((r.method, r.n_bits) for r in results))
    for method, n_bits in keys:
        group = [r for r in results if (r.method, r.n_bits) == (method, n_bits)]
        row = [LABELS[method], str(n_bits), _cell([r.map_all for r in group])]
        if has_1000:
            row.append(_cell([r.map_at_1000 for r in group]))
        row += [_cell([r.precision_r2 for r in group]), f"{np.mean([r.fit_seconds for r in group]):.1f}"]
        rows.append(row)
    if reference is not None:
        row = [COSINE_LABEL, "-", _cell([reference.map_all])]
        if has_1000:
            row.append(_cell([reference.map_at_1000]))
        rows.append(row + ["-", "-"])
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    fmt = lambda line: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))
    )
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def plot(results: list[Result], path: str, title: str, reference: Reference | None = None) -> str:
    """MAP@all against code length, and precision-recall curves at the longest
    code; the cosine reference, when given, as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_map, ax_pr) = plt.subplots(1, 2, figsize=(11, 4.2))
    methods = list(dict.fromkeys(r.method for r in results))
    longest = max(r.n_bits for r in results)
    for method in methods:
        mine = [r for r in results if r.method == method]
        bits = sorted({r.n_bits for r in mine})
        means = [np.mean([r.map_all for r in mine if r.n_bits == b]) for b in bits]
        stds = [np.std([r.map_all for r in mine if r.n_bits == b]) for b in bits]
        ax_map.errorbar(bits, means, yerr=stds, marker="o", capsize=3, label=LABELS[method])
        first = next(r for r in mine if r.n_bits == longest)
        precision, recall = first.pr_curve
        ax_pr.plot(recall, precision, marker=".", label=LABELS[method])
    if reference is not None:
        ax_map.axhline(reference.map_all, color="grey", linestyle="--", label=COSINE_LABEL)
    ax_map.set(xlabel="bits", ylabel="MAP@all", title=f"{title}: MAP vs code length")
    ax_map.set_xticks(sorted({r.n_bits for r in results}))
    ax_pr.set(
        xlabel="recall", ylabel="precision", title=f"precision-recall over Hamming radii ({longest} bits)"
    )
    for ax in (ax_map, ax_pr):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_path(output: str) -> Path:
    """The file ``--output`` names for the plot.

    A folder (existing, or written with a trailing separator) gets
    :data:`PLOT_NAME` inside it; a name without extension gets ``.png``.

    Raises
    ------
    ValueError
        If ``output`` is empty, or its extension is not a format matplotlib
        writes (checked only when matplotlib is installed: without it no plot
        is written).
    """
    if not output:
        raise ValueError("--output must name a file or a folder; got ''.")
    path = Path(output)
    if path.is_dir() or output.endswith(("/", os.sep)):
        return path / PLOT_NAME
    if not path.suffix:
        return path.with_name(f"{path.name}.png")
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return path
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix[1:].lower() not in formats:
        raise ValueError(
            f"--output {output!r}: matplotlib cannot write {path.suffix!r} files; "
            f"use one of {', '.join('.' + ext for ext in sorted(formats))}."
        )
    return path


def _check_code_lengths(methods: Sequence[str], bits: Sequence[int], data: Bunch) -> None:
    """Raise a ValueError if a requested (method, n_bits) cannot be fitted on ``data``.

    ITQ codes live in the top ``n_bits`` principal directions of the training
    set, so ITQ needs ``n_bits <= min(n_samples, n_features)``: checked here,
    before any fit, rather than by ITQHash.fit after the other fits' work.
    """
    n_samples, n_features = data.X_train.shape
    limit = min(n_samples, n_features)
    too_long = [n_bits for n_bits in bits if n_bits > limit]
    if "itq" in methods and too_long:
        raise ValueError(
            f"--bits {' '.join(map(str, too_long))} too long for itq on {data.name}: "
            f"ITQ needs bits <= {limit}, the smaller of its training samples "
            f"({n_samples}) and features ({n_features})."
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m skdistillhash",
        description=(
            "Fit DistillHash and the LSH, ITQ, BiHalf and GreedyHash baselines on real data "
            "that ships offline, print MAP and precision within Hamming radius 2 (and the "
            "features' own cosine ranking as a reference), and write a plot."
        ),
    )
    parser.add_argument("--dataset", choices=datasets.DATASETS, default="digits")
    parser.add_argument(
        "--data-root",
        metavar="DIR",
        help=(
            "folder with fashion-mnist's four IDX files (raw or .gz); default: where "
            "the Debian package dataset-fashion-mnist installs them"
        ),
    )
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64], help="code lengths")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(DEFAULT_METHODS))
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (DistillHash)")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds (mean ± std)")
    parser.add_argument(
        "--output",
        default=f"skdistillhash_results/{PLOT_NAME}",
        help=(
            f"the plot's file (no extension: .png), or a folder to write {PLOT_NAME} "
            "in; one CSV row per fit goes beside it, same name with .csv"
        ),
    )
    parser.add_argument(
        "--ties",
        choices=sorted(TIES),
        default="index",
        help=(
            "MAP's order of codes at equal Hamming distance: by database index, or "
            "averaged over every order (McSherry & Najork), which does not depend on "
            "the order of the database"
        ),
    )
    parser.add_argument("--quiet", action="store_true", help="no per-fit progress lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the main job from command-line arguments; returns the exit status.

    0 on success; 2 for arguments that cannot work (checked before any fit);
    1 when the device, the data or a fit fails (the CSV keeps every row
    finished before that).
    """
    args = _parser().parse_args(argv)
    # A repeated length or method would be fitted twice and shown as two seeds.
    bits = list(dict.fromkeys(args.bits))
    methods = list(dict.fromkeys(args.methods))
    if not all(1 <= b <= MAX_BITS for b in bits) or args.seeds < 1:
        print(f"error: --bits must lie in 1..{MAX_BITS} and --seeds be positive", file=sys.stderr)
        return 2
    if args.data_root is not None and not args.dataset.startswith("fashion-mnist"):
        print("error: --data-root is for fashion-mnist; the other data sets ship with packages", file=sys.stderr)
        return 2
    try:
        png = _plot_path(args.output)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if png.is_dir() or (png.exists() and not os.access(png, os.W_OK)):
        print(f"error: cannot write the plot to {png}: a folder or a read-only file", file=sys.stderr)
        return 2
    table_path = png.with_suffix(".csv")
    try:
        from ._torch._device import resolve_device

        resolve_device(args.device)
        data = datasets.load(args.dataset, root=args.data_root, device=args.device)
    except FileNotFoundError as exc:
        print(f"error: {exc} Here, pass that folder as --data-root DIR.", file=sys.stderr)
        return 1
    except (RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        _check_code_lengths(methods, bits, data)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        table_path.parent.mkdir(parents=True, exist_ok=True)
        table_file = open(table_path, "w", newline="")
    except OSError as exc:
        print(f"error: cannot write the results to {table_path}: {exc}", file=sys.stderr)
        return 2

    with_map_at_1000 = reports_map_at_1000(data)
    columns = [c for c in CSV_COLUMNS if c != "map_at_1000" or with_map_at_1000]
    with table_file:
        writer = csv.writer(table_file)
        writer.writerow(columns)

        def write_row(result: Result) -> None:
            writer.writerow([getattr(result, c) for c in columns])
            table_file.flush()  # a later failure, or Ctrl-C, keeps this row

        tic = time.perf_counter()
        try:
            results = run(
                args.dataset,
                bits,
                methods,
                args.device,
                range(args.seeds),
                not args.quiet,
                data=data,
                on_result=write_row,
                ties=args.ties,
            )
        except (RuntimeError, ValueError) as exc:
            print(f"error: {exc} (finished fits are in {table_path})", file=sys.stderr)
            return 1
        reference = cosine_reference(data, with_map_at_1000)
        row = {"method": "cosine", "map_all": reference.map_all, "map_at_1000": reference.map_at_1000}
        writer.writerow([row.get(c, "") for c in columns])
    print(f"\n{args.dataset}: {len(results)} fits in {time.perf_counter() - tic:.0f}s; MAP {TIES[args.ties]}\n")
    print(format_table(results, reference))
    print(f"\nresults written to {table_path}")
    try:
        plot(results, str(png), args.dataset, reference)
    except ImportError:
        print("no plot: matplotlib is missing (pip install 'skdistillhash[plot]')")
    except OSError as exc:
        print(f"error: cannot write the plot to {png}: {exc}", file=sys.stderr)
        return 1
    else:
        print(f"plot written to {png}")
    return 0
