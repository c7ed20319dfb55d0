"""Choose DistillHash defaults on validation splits: never on the queries.

digits: 300 validation queries drawn from the database split of
``load_digits_split()`` (seed 123), the other 1197 database images are the
validation database and training set. fashion-mnist mirrors the test
protocol: 500 validation queries from the database split of
``load_fashion_mnist()`` outside its 10k training subset (seed 7), searched
against the rest of the database (68,500 images, the training subset
included); the hashers train on the same 10k subset as in the main job.

    python benchmarks/bench_validation.py digits 16,32,64 "epochs=50" "similar_std_factor=2.0"
    python benchmarks/bench_validation.py fashion-mnist 32 "epochs=30" ""
    python benchmarks/bench_validation.py digits 16,32,64 itq ""

The third argument holds DistillHash keyword arguments (or ``itq`` for the
ITQ baseline), the fourth PairDistiller keyword arguments, as Python
``name=value`` lists; a value may use ``n_bits`` (``"alpha=8/n_bits"``).
DistillHash runs on the CPU with ``random_state=0`` unless the arguments say
otherwise.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from skdistillhash import DistillHash, ITQHash, PairDistiller
from skdistillhash.datasets import load_digits_split, load_fashion_mnist
from skdistillhash.metrics import mean_average_precision


def validation_split(dataset: str):
    """(X_query, y_query, X_db, y_db, X_train), all from the database split."""
    if dataset == "digits":
        data = load_digits_split()
        order = np.random.RandomState(123).permutation(len(data.X_db))
        q, d = order[:300], order[300:]
        return data.X_db[q], data.y_db[q], data.X_db[d], data.y_db[d], data.X_db[d]
    data = load_fashion_mnist()
    candidates = np.sort(np.random.RandomState(7).choice(len(data.db_idx), 2000, replace=False))
    q = candidates[~np.isin(data.db_idx[candidates], data.train_idx)][:500]
    d = np.setdiff1d(np.arange(len(data.db_idx)), q)
    return data.X_db[q], data.y_db[q], data.X_db[d], data.y_db[d], data.X_train


def _kwargs(text: str, n_bits: int = 0) -> dict:
    # A benchmark's own command line; values may use n_bits, e.g. "alpha=8/n_bits".
    return eval(f"dict({text})", {"n_bits": n_bits})  # noqa: S307


def main(argv: list[str]) -> None:
    dataset, bits, hasher_args, distiller_args = argv
    Xq, yq, Xd, yd, Xt = validation_split(dataset)
    cells = []
    for n_bits in map(int, bits.split(",")):
        tic = time.perf_counter()
        if hasher_args == "itq":
            hasher = ITQHash(n_bits=n_bits, random_state=0).fit(Xt)
        else:
            params = {"device": "cpu", "random_state": 0, **_kwargs(hasher_args, n_bits)}
            distiller = PairDistiller(**_kwargs(distiller_args))
            hasher = DistillHash(n_bits=n_bits, distiller=distiller, **params).fit(Xt)
        bq, bd = hasher.transform(Xq), hasher.transform(Xd)
        scores = f"MAP@all {mean_average_precision(bq, bd, yq, yd):.3f}"
        if dataset != "digits":
            scores = f"MAP@1000 {mean_average_precision(bq, bd, yq, yd, k=1000):.3f} " + scores
        cells.append(f"{n_bits} bits: {scores} ({time.perf_counter() - tic:.0f}s)")
    print(f"{dataset} | {hasher_args} | {distiller_args} | " + " ; ".join(cells), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
