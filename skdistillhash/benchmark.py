"""The main job: DistillHash against LSH and ITQ on real data that ships offline.

``python -m skdistillhash`` fits every method at every code length on the
training split, encodes queries and database, and prints one aligned table
(MAP, precision within Hamming radius 2, fit time) plus a PNG with MAP against
code length and precision-recall curves. Queries never influence any fit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .metrics import mean_average_precision, precision_recall_curve, precision_within_radius

DATASETS = ("digits", "fashion-mnist")
#: The protocol of each dataset: Fashion-MNIST also reports MAP@1000 (issue protocol).
REPORTS_MAP_AT_1000 = {"digits": False, "fashion-mnist": True}
METHODS = ("lsh", "itq", "distillhash", "ssdh")
DEFAULT_METHODS = ("lsh", "itq", "distillhash")
LABELS = {"lsh": "LSH", "itq": "ITQ", "distillhash": "DistillHash", "ssdh": "DistillHash (SSDH pairs)"}


def tuned_params(dataset: str, n_bits: int) -> dict:
    """DistillHash parameters of the main job for ``dataset``, beyond the defaults.

    Chosen on a validation split of each dataset's database
    (``benchmarks/bench_validation.py``; docs/benchmarks.md), never on the
    queries. digits keeps the library defaults. On Fashion-MNIST pixels the
    best found was a linear hash layer started at ITQ, alpha scaled as
    8 / n_bits (so that ``Omega_ij`` spans the same range at every length),
    smaller batches, a stronger quantization term and 100 epochs.
    """
    if dataset == "fashion-mnist":
        return dict(
            hidden_layer_sizes=(),
            hash_layer_init="itq",
            alpha=8 / n_bits,
            batch_size=128,
            quantization_weight=0.5,
            epochs=100,
            n_iter_no_change=100,
        )
    return {}


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


def make_hasher(method: str, n_bits: int, seed: int, device: str, dataset: str = "digits"):
    """A fresh, unfitted hasher for one table cell; DistillHash gets ``tuned_params``."""
    from .baselines import ITQHash, LSHHash
    from .distill import PairDistiller
    from .hashing import DistillHash

    if method == "lsh":
        return LSHHash(n_bits=n_bits, random_state=seed)
    if method == "itq":
        return ITQHash(n_bits=n_bits, random_state=seed)
    strategy = "ssdh" if method == "ssdh" else "distillhash"
    return DistillHash(
        n_bits=n_bits,
        distiller=PairDistiller(strategy=strategy),
        device=device,
        random_state=seed,
        **tuned_params(dataset, n_bits),
    )


def load(dataset: str):
    from .datasets import load_digits_split, load_fashion_mnist

    if dataset == "digits":
        return load_digits_split()
    return load_fashion_mnist()


def run(
    dataset: str = "digits",
    bits: Sequence[int] = (16, 32, 64),
    methods: Sequence[str] = DEFAULT_METHODS,
    device: str = "auto",
    seeds: Sequence[int] = (0,),
    progress: bool = True,
) -> list[Result]:
    """Fit and score every (method, n_bits, seed); returns one Result each."""
    data = load(dataset)
    with_map_at_1000 = REPORTS_MAP_AT_1000[dataset]
    results = []
    cells = [(m, b, s) for m in methods for b in bits for s in seeds]
    for i, (method, n_bits, seed) in enumerate(cells, 1):
        hasher = make_hasher(method, n_bits, seed, device, dataset)
        tic = time.perf_counter()
        hasher.fit(data.X_train)
        fit_seconds = time.perf_counter() - tic
        q, d = hasher.transform(data.X_query), hasher.transform(data.X_db)
        args = (q, d, data.y_query, data.y_db)
        result = Result(
            method=method,
            n_bits=n_bits,
            seed=seed,
            map_all=mean_average_precision(*args),
            map_at_1000=mean_average_precision(*args, k=1000) if with_map_at_1000 else None,
            precision_r2=precision_within_radius(*args, radius=2),
            fit_seconds=fit_seconds,
            pr_curve=precision_recall_curve(*args)[:2],
        )
        results.append(result)
        if progress:
            print(
                f"[{i}/{len(cells)}] {LABELS[method]:<24} {n_bits:>3} bits  seed {seed}  "
                f"MAP@all {result.map_all:.3f}  fit {fit_seconds:.1f}s",
                file=sys.stderr,
                flush=True,
            )
    return results


def _cell(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def format_table(results: list[Result]) -> str:
    """An aligned text table, one row per (method, n_bits), mean ± std over seeds."""
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
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    fmt = lambda line: "  ".join(  # noqa: E731
        c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))
    )
    return "\n".join([fmt(header), "  ".join("-" * w for w in widths), *map(fmt, rows)])


def plot(results: list[Result], path: str, title: str) -> str:
    """MAP@all against code length, and precision-recall curves at the longest code."""
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m skdistillhash",
        description=(
            "Fit DistillHash and the LSH / ITQ baselines on real data that ships offline, "
            "print MAP and precision within Hamming radius 2, and write a plot."
        ),
    )
    parser.add_argument("--dataset", choices=DATASETS, default="digits")
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 32, 64], help="code lengths")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(DEFAULT_METHODS))
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (DistillHash)")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds (mean ± std)")
    parser.add_argument(
        "--output", default="skdistillhash_results/map_vs_bits.png", help="where the PNG goes"
    )
    parser.add_argument("--quiet", action="store_true", help="no per-fit progress lines")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if any(b < 1 for b in args.bits) or args.seeds < 1:
        print("error: --bits and --seeds must be positive", file=sys.stderr)
        return 2
    try:
        from ._torch._device import resolve_device

        resolve_device(args.device)
        tic = time.perf_counter()
        results = run(
            args.dataset, args.bits, args.methods, args.device, range(args.seeds), not args.quiet
        )
    except (FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"\n{args.dataset}: {len(results)} fits in {time.perf_counter() - tic:.0f}s\n")
    print(format_table(results))
    if {"distillhash", "ssdh"} & set(args.methods):
        for n_bits in args.bits:
            tuned = tuned_params(args.dataset, n_bits)
            if tuned:
                settings = ", ".join(f"{name}={value!r}" for name, value in tuned.items())
                print(f"DistillHash at {n_bits} bits (chosen on a validation split): {settings}")
    try:
        path = plot(results, args.output, args.dataset)
    except ImportError:
        print("\nno plot: matplotlib is missing (pip install 'skdistillhash[plot]')")
    else:
        print(f"\nplot written to {path}")
    return 0
