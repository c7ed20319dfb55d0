"""Sharded exact search on Dask workers against one in-process index, in one run.

On a LocalCluster of ``--workers`` worker processes (one thread each), it
generates random packed codes on the workers, chunk by chunk from a seeded
generator (the client never builds them), and times:

- the anchor: one ``HammingNeighbors`` in this process over all the codes
  (gathered from the workers once), its ``kneighbors`` and its fit, at each
  thread count of ``--anchor-jobs`` (default 1 and every core); the fastest
  is the anchor, since on a busy machine OpenMP threads can lose to one;
- ``DaskHammingNeighbors`` over the same codes, one shard per chunk on the
  workers: ``kneighbors`` (shard queries, merge on a worker, answer to the
  client), checked identical to the anchor (distances and indices), and fit;
- the parts of a sharded query: the shard queries alone (their answers sent
  to the client, no merge), and the merge on its own (``merge_kneighbors`` on
  those answers, in this process).

Times are the best of ``--repeats`` rounds, each of which runs every search
once (so that a change of load on a shared machine hits them all alike). Run
it under ``python``, not imported: the workers are started with ``spawn`` and
import this file again, so all work stays under ``if __name__ == "__main__"``.

``python benchmarks/bench_scale_out.py`` runs the full size (20M 64-bit codes,
1000 queries, k=100, 2 workers); ``--n-codes 1000000`` runs a quick one.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections import Counter
from functools import partial

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, wait
from timing import best_time

from skdistillhash.dask import DaskHammingNeighbors
from skdistillhash.neighbors import HammingNeighbors, merge_kneighbors


def round_robin(funcs, repeats):
    """Best time and last result of each function, calling each once per round."""
    best, results = dict.fromkeys(funcs, float("inf")), {}
    for _ in range(repeats):
        for name, func in funcs.items():
            start = time.perf_counter()
            results[name] = func()
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def timed(func):
    return best_time(func, 1)


def identical(answer, reference):
    """Distances and indices both equal."""
    return "yes" if all(map(np.array_equal, answer, reference)) else "NO"


def query_shard(shard, queries, k, offset):
    """One shard's top k (all its codes if fewer), with global indices."""
    dist, idx = shard.kneighbors(queries, min(k, shard.n_samples_fit_))
    return dist, idx + offset


def shard_answers(nn, queries, k, client):
    """The shards' own answers, gathered to the client: a sharded query minus the merge."""
    q = dask.delayed(queries, pure=True)
    parts = [dask.delayed(query_shard)(shard, q, k, offset)
             for shard, offset in zip(nn.shards_, nn.shard_offsets_[:-1])]
    return dask.compute(parts, scheduler=client)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-codes", type=int, default=20_000_000)
    parser.add_argument("--bits", type=int, default=64, help="a multiple of 8")
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-shards", type=int, default=None,
                        help="chunks of the generated codes (default: one per worker)")
    parser.add_argument("--backend", default="auto", help="search backend of every index")
    parser.add_argument("--anchor-jobs", type=int, nargs="+", default=[1, -1],
                        help="thread counts of the in-process index (-1: every core); "
                             "the fastest is the anchor")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.bits % 8:
        parser.error("--bits must be a multiple of 8 (the codes are generated as bytes)")
    n_bytes, k = args.bits // 8, args.k
    n_shards = args.n_shards or args.workers
    print(f"{args.n_codes} codes of {args.bits} bits, {args.n_queries} queries, k={k}; "
          f"{args.workers} workers x 1 thread, {n_shards} shards; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        # Workers import the package (and torch) on their first task: not a fit cost.
        client.run(__import__, "skdistillhash.dask")
        rows = -(-args.n_codes // n_shards)
        codes = da.random.default_rng(args.seed).integers(
            0, 256, (args.n_codes, n_bytes), dtype=np.uint8, chunks=(rows, n_bytes))
        start = time.perf_counter()
        codes = client.persist(codes)
        wait(codes)
        generate = time.perf_counter() - start
        queries = np.random.default_rng(args.seed + 1).integers(
            0, 256, (args.n_queries, n_bytes), dtype=np.uint8)

        sharded = DaskHammingNeighbors(n_neighbors=k, packed=True, backend=args.backend)
        fit_sharded, _ = timed(lambda: sharded.fit(codes))
        who_has = client.who_has()
        placement = Counter(worker for shard in sharded.shards_ for worker in who_has[shard.key])

        # The anchors: the same codes in this process, gathered once.
        local = codes.compute()
        anchors, anchor_fits = {}, {}
        for n_jobs in args.anchor_jobs:
            anchors[n_jobs] = HammingNeighbors(n_neighbors=k, packed=True,
                                               backend=args.backend, n_jobs=n_jobs)
            anchor_fits[n_jobs], _ = timed(partial(anchors[n_jobs].fit, local))

        # The workers idle while an anchor searches, and this process while
        # they do. Every repeat times every search once, so that a change of
        # load on a shared machine hits them all alike.
        searches = {n_jobs: partial(nn.kneighbors, queries) for n_jobs, nn in anchors.items()}
        searches["sharded"] = partial(sharded.kneighbors, queries)
        searches["shards only"] = partial(shard_answers, sharded, queries, k, client)
        seconds, answers = round_robin(searches, args.repeats)
        merge, merged = best_time(partial(merge_kneighbors, answers["shards only"], k),
                                  args.repeats)

    # Ratios against the fastest in-process search (and the fastest fit): on
    # a busy machine, OpenMP threads can be slower than one.
    best_jobs = min(args.anchor_jobs, key=seconds.get)
    reference, search_anchor = answers[best_jobs], seconds[best_jobs]
    fit_anchor = min(anchor_fits.values())
    table = ["| step | time (s) | ratio | identical | note |", "|---|---:|---:|---|---|"]
    for n_jobs in args.anchor_jobs:
        table.append(
            f"| kneighbors: HammingNeighbors, one process, n_jobs={n_jobs} | "
            f"{seconds[n_jobs]:.3f} | {seconds[n_jobs] / search_anchor:.2f}x | "
            f"{identical(answers[n_jobs], reference)} | "
            f"{'anchor' if n_jobs == best_jobs else ''} |")
    table += [
        f"| kneighbors: DaskHammingNeighbors, {sharded.n_shards_} shards | "
        f"{seconds['sharded']:.3f} | {seconds['sharded'] / search_anchor:.2f}x | "
        f"{identical(answers['sharded'], reference)} | "
        "shard queries + merge on a worker + answer to the client |",
        f"| shard queries alone | {seconds['shards only']:.3f} | "
        f"{seconds['shards only'] / search_anchor:.2f}x | | "
        "every shard's top k sent to the client, no merge |",
        f"| merge on its own | {merge:.4f} | {merge / search_anchor:.4f}x | "
        f"{identical(merged, reference)} | merge_kneighbors of {sharded.n_shards_} answers of "
        f"{args.n_queries} x {k}, in this process |",
        f"| fit: HammingNeighbors, one process | {fit_anchor:.3f} | 1.00x | | anchor (fastest) |",
        f"| fit: DaskHammingNeighbors | {fit_sharded:.3f} | {fit_sharded / fit_anchor:.2f}x | "
        "| codes already on the workers; shards fitted in parallel |",
        f"| generate the codes on the workers | {generate:.3f} | | | dask.array.random, "
        f"chunks of {rows} rows |",
    ]
    print("\n" + "\n".join(table))
    print(f"\nshards per worker: {sorted(placement.values())}; "
          f"database {args.n_codes * n_bytes / 2**20:.0f} MiB of packed codes")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
