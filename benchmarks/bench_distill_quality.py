"""Quality of distilled pairs against true labels, with the anchors it must beat.

For each data set and strategy: precision of the distilled similar pairs
next to the plain kNN graph with the same number of pairs, precision of the
distilled dissimilar pairs next to random pairs, and coverage (fraction of
samples with at least one similar pair). Labels are used for measuring only.

    python benchmarks/bench_distill_quality.py            # digits + Fashion-MNIST 10k
    python benchmarks/bench_distill_quality.py --tune     # grid on the validation split
    python benchmarks/bench_distill_quality.py --batches  # labels that training batches see
    python benchmarks/bench_distill_quality.py --batches --whiten-components none  # the paper's features

``--tune`` runs the grid that chose the DistillHash defaults, on a
Fashion-MNIST validation split: the 10,000 queries of
``validation_split(load("fashion-mnist"), n_queries=10_000, random_state=1)``
(:mod:`skdistillhash.datasets`), database samples outside the 10k training
subset that the report uses (its queries are never touched).
``--batches`` measures what ``DistillHash`` trains on: ``pair_labels`` over
its anchor-plus-neighbour batches labels every pair of a batch by the rule,
not only the kNN pairs of ``graph_``. ``--whiten-components`` sets the
distillers' ``whiten_components`` ("auto", "none" or a number of axes).
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from skdistillhash import PairDistiller
from skdistillhash.benchmark import knn_pair_anchor, random_pair_anchor
from skdistillhash.datasets import load, validation_split
from skdistillhash.hashing import anchor_neighbor_batches


def evaluate(distiller: PairDistiller, X: np.ndarray, y: np.ndarray) -> dict:
    start = time.perf_counter()
    distiller.fit(X)
    seconds = time.perf_counter() - start
    distiller.score(X, y)
    graph = distiller.graph_
    k, knn_pairs, knn_precision = knn_pair_anchor(distiller, y)
    return dict(
        seconds=seconds,
        similar_pairs=(graph > 0).sum() / 2 / X.shape[0],
        similar_precision=distiller.similar_precision_,
        knn_k=k,
        knn_pairs=knn_pairs,
        knn_precision=knn_precision,
        coverage=distiller.coverage_,
        dissimilar_pairs=(graph < 0).sum() / 2 / X.shape[0],
        dissimilar_precision=distiller.dissimilar_precision_,
        random_precision=random_pair_anchor(y),
    )


def datasets(names):
    """(label, X, y) of each named sample: the training sets of the main job's
    "digits" and "fashion-mnist", or the Fashion-MNIST validation sample of ``--tune``."""
    for name in names:
        if name == "digits":
            data = load("digits")
            yield "digits (1,497 db)", data.X_train, data.y_train
        elif name == "fashion":
            data = load("fashion-mnist")
            yield "Fashion-MNIST (10k train)", data.X_train, data.y_train
        elif name == "fashion-validation":
            split = validation_split(load("fashion-mnist"), n_queries=10_000, random_state=1)
            yield "Fashion-MNIST validation (10k)", split.X_query, split.y_query


HEADER = (
    "| data | strategy | similar pairs/sample | similar precision | kNN (k) pairs/sample"
    " | kNN precision | coverage | dissimilar precision | random pairs | fit s |"
)


def row(name: str, strategy: str, r: dict) -> str:
    return (
        f"| {name} | {strategy} | {r['similar_pairs']:.1f} | {r['similar_precision']:.3f} "
        f"| ({r['knn_k']}) {r['knn_pairs']:.1f} | {r['knn_precision']:.3f} | {r['coverage']:.3f} "
        f"| {r['dissimilar_precision']:.3f} | {r['random_precision']:.3f} | {r['seconds']:.1f} |"
    )


def report(names, seed: int, whiten) -> None:
    print(HEADER)
    print("|" + "---|" * (HEADER.count("|") - 1))
    configs = [
        ("ssdh", {"strategy": "ssdh"}),
        ("distillhash", {}),
        # Distillation alone: the same initial labels as SSDH, then the posterior check.
        ("distillhash, alpha=beta=2", {"similar_std_factor": 2.0, "dissimilar_std_factor": 2.0}),
    ]
    for name, X, y in datasets(names):
        for label, params in configs:
            r = evaluate(PairDistiller(random_state=seed, whiten_components=whiten, **params), X, y)
            print(row(name, label, r), flush=True)


def tune(seed: int, whiten) -> None:
    """The grid behind the DistillHash defaults; each side of the rule separately.

    The similar side depends on (similar_std_factor, neighborhood_size,
    false_similar_rate), the dissimilar side on (dissimilar_std_factor,
    neighborhood_size, false_dissimilar_rate), so one fit per combination
    serves both sides.
    """
    (name, X, y), = datasets(["fashion-validation"])
    print(f"{name}: random pair dissimilar precision {random_pair_anchor(y):.3f}")
    print("| alpha | beta | K | rho | similar pairs/sample | similar precision | kNN precision "
          "| coverage | dissimilar precision | dissimilar rate |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    factors = [(1.0, 0.0), (1.25, 0.5), (1.5, 1.0), (2.0, 2.0)]
    for (alpha, beta), k, rho in itertools.product(factors, [3, 5, 10], [0.25, 0.5, 0.75]):
        distiller = PairDistiller(
            similar_std_factor=alpha, dissimilar_std_factor=beta, neighborhood_size=k,
            false_similar_rate=rho, false_dissimilar_rate=rho, whiten_components=whiten,
            random_state=seed,
        )
        r = evaluate(distiller, X, y)
        print(f"| {alpha} | {beta} | {k} | {rho} | {r['similar_pairs']:.1f} "
              f"| {r['similar_precision']:.3f} | {r['knn_precision']:.3f} | {r['coverage']:.3f} "
              f"| {r['dissimilar_precision']:.3f} | {distiller.dissimilar_rate_:.3f} |", flush=True)


def batch_labels(names, seed: int, whiten, n_batches: int = 20) -> None:
    """Precision of the labels of the first training batches, per similar threshold."""
    print("| data | similar_std_factor | similar share of batch pairs | similar precision "
          "| dissimilar share | dissimilar precision |")
    print("|---|---|---|---|---|---|")
    for name, X, y in datasets(names):
        for factor in (1.0, 1.5, 1.75, 2.0):
            distiller = PairDistiller(
                similar_std_factor=factor, whiten_components=whiten, random_state=seed
            ).fit(X)
            # The batches DistillHash trains on (its sampler, one epoch).
            batches = anchor_neighbor_batches(distiller.graph_, 256, random_state=seed)
            counts = np.zeros(5)  # pairs, similar, true similar, dissimilar, true dissimilar
            for idx, _ in zip(batches, range(n_batches)):
                labels = distiller.pair_labels(idx, idx)
                same = y[idx][:, None] == y[idx][None, :]
                counts += [idx.size * (idx.size - 1), (labels > 0).sum(), (same & (labels > 0)).sum(),
                           (labels < 0).sum(), (~same & (labels < 0)).sum()]
            pairs, similar, true_similar, dissimilar, true_dissimilar = counts
            print(f"| {name}, {distiller.n_whitened_axes_} whitened axes | {factor} "
                  f"| {similar / pairs:.3f} | {true_similar / max(similar, 1):.3f} "
                  f"| {dissimilar / pairs:.3f} | {true_dissimilar / max(dissimilar, 1):.3f} |", flush=True)


def whiten_components(text: str):
    """``--whiten-components``: "auto", "none" (the features as given) or a number of axes."""
    if text.lower() in ("auto", "none"):
        return "auto" if text.lower() == "auto" else None
    return int(text)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=["digits", "fashion"],
                        choices=["digits", "fashion", "fashion-validation"])
    parser.add_argument("--tune", action="store_true", help="grid on the validation split")
    parser.add_argument("--batches", action="store_true", help="labels of training batches")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--whiten-components", type=whiten_components, default="auto",
                        help='"auto", "none" or a number of axes')
    args = parser.parse_args(argv)
    whiten = args.whiten_components
    if args.tune:
        tune(args.seed, whiten)
    elif args.batches:
        batch_labels(args.data, args.seed, whiten)
    else:
        report(args.data, args.seed, whiten)


if __name__ == "__main__":
    main()
