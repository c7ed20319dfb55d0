"""Speed and memory of PairDistiller.fit against FAISS's exact kNN graph.

Anchor: ``faiss.IndexFlatIP`` (exact inner-product search, BLAS blocks) over
the same unit-norm features, asked for the same k nearest neighbours of every
sample: the kNN graph that distillation starts from. Both run in this process,
on the same threads; we report our fit time (kNN search + thresholds +
distillation) over FAISS's search time, our peak resident memory, and how many
of FAISS's neighbours we found (our features are rounded onto a 2**-12 grid,
so near-ties may swap).

    python benchmarks/bench_distill.py                 # 1M x 128, k=20
    python benchmarks/bench_distill.py --n 100000 --k 2
    python benchmarks/bench_distill.py --queries 16384   # search cost only, 1M database

Features are synthetic and clustered (Gaussian blobs around random centres),
then scaled to unit norm, float32.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

import numpy as np


def clustered_features(n: int, d: int, n_clusters: int, seed: int) -> np.ndarray:
    """Unit-norm float32 blobs, generated in chunks to keep memory at n * d floats."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, d)).astype(np.float32)
    X = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 65536):
        stop = min(n, start + 65536)
        labels = rng.integers(n_clusters, size=stop - start)
        chunk = centres[labels] + 0.6 * rng.standard_normal((stop - start, d), dtype=np.float32)
        X[start:stop] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return X


def peak_rss_gib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def faiss_knn(X: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    import faiss

    start = time.perf_counter()
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    _, found = index.search(X, k + 1)
    seconds = time.perf_counter() - start
    # Drop each sample from its own list (it is normally first, but a
    # duplicate may tie with it).
    own = found == np.arange(X.shape[0])[:, None]
    own[own.sum(axis=1) == 0, -1] = True
    return found[~own].reshape(X.shape[0], k), seconds


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="samples")
    parser.add_argument("--d", type=int, default=128, help="features")
    parser.add_argument("--k", type=int, default=20, help="n_neighbors (FAISS gets the same k)")
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--strategy", default="distillhash", choices=["distillhash", "ssdh"])
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--queries", type=int, default=None,
        help="time only the kNN search of the first QUERIES samples against all n "
        "(ours and FAISS): the dominant cost of fit, per query, in minutes instead of hours",
    )
    args = parser.parse_args(argv)
    if args.queries:
        return search_only(args)

    import torch

    from skdistillhash import PairDistiller

    X = clustered_features(args.n, args.d, args.clusters, args.seed)
    rss_data = peak_rss_gib()
    # The features as given (no whitening): FAISS searches the same ones.
    distiller = PairDistiller(
        strategy=args.strategy,
        whiten_components=None,
        n_neighbors=args.k,
        neighborhood_size=min(5, args.k),
        device=args.device,
        block_size=args.batch_size,
        random_state=args.seed,
    )
    start = time.perf_counter()
    distiller.fit(X)
    ours = time.perf_counter() - start
    rss_ours = peak_rss_gib()

    theirs_idx, theirs = faiss_knn(X, args.k)
    ours_idx = distiller.neighbors_[:, : args.k]
    recall = float(np.mean([np.isin(a, b).mean() for a, b in zip(theirs_idx[:10000], ours_idx[:10000])]))
    graph = distiller.graph_
    result = dict(
        n=args.n,
        d=args.d,
        k=args.k,
        strategy=args.strategy,
        device=args.device,
        threads=torch.get_num_threads(),
        fit_seconds=ours,
        faiss_seconds=theirs,
        ratio=ours / theirs,
        peak_rss_gib=rss_ours,
        data_rss_gib=rss_data,
        recall=recall,
        similar_per_sample=(graph.data > 0).sum() / args.n,
        dissimilar_per_sample=(graph.data < 0).sum() / args.n,
    )
    print(
        f"n={args.n} d={args.d} k={args.k} {args.strategy} threads={result['threads']} "
        f"load={os.getloadavg()[0]:.1f}: fit {ours:.1f} s, FAISS IndexFlatIP kNN {theirs:.1f} s, "
        f"ratio {result['ratio']:.2f}; peak RSS {rss_ours:.2f} GiB (data alone {rss_data:.2f}); "
        f"recall of FAISS neighbours {recall:.4f}; graph entries/sample "
        f"+1 {result['similar_per_sample']:.1f}, -1 {result['dissimilar_per_sample']:.1f}",
        flush=True,
    )
    return result


def search_only(args) -> dict:
    """Search of ``args.queries`` samples among all ``args.n``: ours against FAISS."""
    import faiss
    import torch

    # The distiller's search without a fit (whose search of every row is the
    # hours this mode exists to avoid): rounding onto its exact grid included.
    from skdistillhash.distill import cosine_kneighbors

    X = clustered_features(args.n, args.d, args.clusters, args.seed)
    queries = slice(0, args.queries)
    start = time.perf_counter()
    _, ours_idx = cosine_kneighbors(
        X, X[queries], n_neighbors=args.k + 1, block_size=args.batch_size, device=args.device
    )
    ours = time.perf_counter() - start
    rss_ours = peak_rss_gib()
    start = time.perf_counter()
    index = faiss.IndexFlatIP(X.shape[1])
    index.add(X)
    _, theirs_idx = index.search(X[queries], args.k + 1)
    theirs = time.perf_counter() - start
    recall = float(np.mean([np.isin(a, b).mean() for a, b in zip(theirs_idx, ours_idx)]))
    result = dict(
        n=args.n, d=args.d, k=args.k, queries=args.queries, threads=torch.get_num_threads(),
        search_seconds=ours, faiss_seconds=theirs, ratio=ours / theirs,
        peak_rss_gib=rss_ours, recall=recall,
    )
    print(
        f"search of {args.queries} queries among n={args.n} d={args.d} k={args.k} "
        f"threads={result['threads']} load={os.getloadavg()[0]:.1f}: ours {ours:.1f} s, "
        f"FAISS IndexFlatIP {theirs:.1f} s, ratio {result['ratio']:.2f}; peak RSS "
        f"{rss_ours:.2f} GiB; recall of FAISS neighbours {recall:.4f}",
        flush=True,
    )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
