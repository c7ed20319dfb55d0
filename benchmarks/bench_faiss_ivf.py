"""What faiss's IVF index costs against exact search, on digits codes.

Fits a hasher on the digits database (``load_digits_split``: 1497 database
codes, 300 queries), indexes the database codes with
``skdistillhash.approximate.to_faiss_index`` -- ``IndexBinaryFlat`` and
``IndexBinaryIVF`` at each ``--nlist`` -- and searches each IVF index at each
``--nprobe`` (and at ``nprobe = nlist``, a full scan), through
``compare_to_exact`` / ``nprobe_sweep``. The anchor is the exact
``HammingNeighbors.kneighbors`` (ties broken by database index), measured in
the same run. Per index it prints recall@k of the exact ids (strict), the
tie-aware recall (a returned code as near as the exact k-th counts), the
share of the k slots left empty, MAP@k and time per query, each with its
ratio to the exact search.

1497 codes are far too few for IVF to pay off in time: at this size a scan is
a few microseconds per query and the times mostly show fixed costs. The
recall and MAP columns are the point; time an IVF index on your own database.

Run ``python benchmarks/bench_faiss_ivf.py`` (DistillHash with its defaults at
64 bits; the fit takes one to two minutes on two cores) or ``--hasher itq``
for a quick run.
"""

from __future__ import annotations

import argparse
import os
import time

from skdistillhash import DistillHash, HammingNeighbors, ITQHash
from skdistillhash.approximate import compare_to_exact, nprobe_sweep
from skdistillhash.datasets import load_digits_split

try:
    import faiss
except ImportError as exc:  # the subject is faiss: nothing to measure without it
    raise SystemExit("bench_faiss_ivf needs faiss: pip install skdistillhash[faiss]") from exc

HASHERS = {"distillhash": DistillHash, "itq": ITQHash}


def row(index, nlist, nprobe, recall, recall_ties, unfilled, map_, map_exact, seconds,
        time_ratio):
    map_ratio = f"{map_ / map_exact:.3f}" if map_exact else ""
    return (f"| {index} | {nlist} | {nprobe} | {recall:.3f} | {recall_ties:.3f} | "
            f"{unfilled:.3f} | {map_:.4f} | {map_ratio} | {seconds * 1e6:.1f} | "
            f"{time_ratio:.2f}x |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hasher", choices=sorted(HASHERS), default="distillhash")
    parser.add_argument("--n-bits", type=int, default=64)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--nlist", type=int, nargs="+", default=[8, 16, 38],
                        help="IVF list counts (38 is to_faiss_index's default here)")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=5,
                        help="each search is timed this many times; the best is kept")
    parser.add_argument("--threads", type=int, default=1,
                        help="n_jobs of the exact search, and faiss threads for both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    data = load_digits_split(random_state=args.seed)
    hasher = HASHERS[args.hasher](n_bits=args.n_bits, random_state=args.seed)
    start = time.perf_counter()
    hasher.fit(data.X_train)
    fit_seconds = time.perf_counter() - start
    db, queries = hasher.predict(data.X_db), hasher.predict(data.X_query)
    nn = HammingNeighbors(n_neighbors=args.k, packed=True, n_jobs=args.threads)
    nn.fit(db, data.y_db)

    k = args.k
    print(f"digits: {len(db)} database codes, {len(queries)} queries, "
          f"{type(hasher).__name__}(n_bits={args.n_bits}) fitted in {fit_seconds:.1f} s; "
          f"k={k}, {args.threads} thread(s), best of {args.repeats}; faiss "
          f"{faiss.__version__}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}\n")
    table = [
        (f"| index | nlist | nprobe | recall@{k} | tie-aware recall@{k} | empty slots "
         f"| MAP@{k} | MAP / exact | µs per query | time / exact |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print("\n".join(table), flush=True)
    common = {"k": k, "y_queries": data.y_query, "n_repeats": args.repeats}
    flat = compare_to_exact(nn.to_faiss(), nn, queries, **common)
    map_exact = flat.map_exact
    table.append(row("exact: HammingNeighbors.kneighbors (anchor)", "", "", 1.0, 1.0, 0.0,
                     map_exact, map_exact, flat.seconds_per_query_exact, 1.0))
    table.append(row("faiss IndexBinaryFlat", "", "", flat.recall, flat.recall_ties,
                     flat.unfilled, flat.map_approximate, map_exact,
                     flat.seconds_per_query_approximate, 1 / flat.speedup))
    print("\n".join(table[-2:]), flush=True)
    for nlist in args.nlist:
        index = nn.to_faiss("ivf", nlist=nlist, random_state=args.seed)
        nprobe = sorted({p for p in args.nprobe if p < nlist} | {nlist})
        # Each sweep times the exact search again: its ratios are to that run.
        sweep = nprobe_sweep(index, nn, queries, nprobe, **common)
        for i, p in enumerate(sweep.nprobe):
            table.append(row("faiss IndexBinaryIVF", nlist, p, sweep.recall[i],
                             sweep.recall_ties[i], sweep.unfilled[i],
                             sweep.map_approximate[i], map_exact,
                             sweep.seconds_per_query_approximate[i], 1 / sweep.speedup[i]))
            print(table[-1], flush=True)
    print(f"\nMAP@{k} / exact compares with the exact search's MAP@{k} ({map_exact:.4f}); "
          "time / exact: approximate time / exact time, both measured in the same call.")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
