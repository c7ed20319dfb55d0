"""Speed of exact Hamming search: our backends against raw faiss, in one run.

For each code width and distribution it times, on the same data:

- raw ``faiss.IndexBinaryFlat.search`` (the anchor; index built beforehand);
- ``HammingNeighbors.kneighbors`` with backend faiss, numpy and torch (CPU
  here), each checked to return the anchor's distances, and all of them the
  same indices (the (distance, index) tie rule);

each at every thread count of ``--threads`` (anchor and ours alike), since on
a shared machine faiss's OpenMP threads suffer most from a busy neighbour;
- two reference points on subsets, scaled linearly to the full size: a
  naive per-query numpy loop and sklearn's ``NearestNeighbors`` with the
  hamming metric (brute force);
- radius search (r <= 2, first code width) by multi-index hashing against
  the faiss and numpy scans, checked identical.

Times are the best of ``--repeats`` runs. Peak memory: tracemalloc's peak of
numpy allocations during the numpy search and MIH, and the process's peak RSS.

Run ``python benchmarks/bench_search.py`` for the full benchmark (1M codes,
1000 queries, k=100, 64 and 256 bits), or e.g. ``--n-db 100000 --n-queries
200`` for a quick one.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from timing import best_time

from skdistillhash.neighbors import HammingNeighbors

try:
    import faiss
except ImportError as exc:  # the anchor is faiss: nothing to compare without it
    raise SystemExit("bench_search needs faiss: pip install skdistillhash[faiss]") from exc


def make_codes(kind, n, n_bits, rng, *, n_centres=300, flip=0.1, chunk=100_000):
    """Packed codes (the FAISS layout of ``DistillHash.predict``): uniform
    random, or bit-flipped copies of a few centres."""
    if kind == "random":
        return rng.integers(0, 256, (n, n_bits // 8), dtype=np.uint8)
    centres = rng.integers(0, 2, (n_centres, n_bits), dtype=np.uint8)
    codes = np.packbits(centres, axis=1, bitorder="little")[rng.integers(0, n_centres, n)]
    for start in range(0, n, chunk):  # chunks keep the float mask small
        mask = rng.random((min(chunk, n - start), n_bits), dtype=np.float32) < flip
        codes[start : start + chunk] ^= np.packbits(mask, axis=1, bitorder="little")
    return codes


def traced_peak(func):
    """Peak bytes numpy allocates during func (tracemalloc sees numpy buffers)."""
    tracemalloc.start()
    func()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def naive_numpy(queries, db, k):
    """One query at a time: full XOR + popcount, exact top-k by (distance, index)."""
    words, out = db.view(np.uint64), []
    for q in queries.view(np.uint64):
        dist = np.bitwise_count(words ^ q).sum(axis=1)
        keys = dist.astype(np.int64) * len(db) + np.arange(len(db))
        out.append(np.sort(np.partition(keys, k - 1)[:k]) % len(db))
    return np.array(out)


def sklearn_hamming(queries, db, k, n_bits):
    bits_db = np.unpackbits(db, axis=1, bitorder="little", count=n_bits).astype(bool)
    bits_q = np.unpackbits(queries, axis=1, bitorder="little", count=n_bits).astype(bool)
    nn = NearestNeighbors(n_neighbors=k, metric="hamming", algorithm="brute").fit(bits_db)
    return nn.kneighbors(bits_q)


def row(table, codes, method, seconds, anchor, same, note=""):
    ratio = f"{seconds / anchor:.2f}x" if anchor else ""
    same = {True: "yes", False: "NO", None: ""}[same]
    table.append(f"| {codes} | {method} | {seconds:.3f} | {ratio} | {same} | {note} |")
    print(table[-1], flush=True)


def bench_knn(args, kind, n_bits, rng, table, memory):
    db = make_codes(kind, args.n_db + args.n_queries, n_bits, rng)
    db, queries = db[: args.n_db], db[args.n_db :]
    label = f"{n_bits}-bit {kind}"
    k, results, anchors = args.k, {}, []

    index = faiss.IndexBinaryFlat(n_bits)
    index.add(db)
    for threads in args.threads:
        # Same thread count for the anchor and for us: faiss's OpenMP, numpy's
        # query blocks, torch's intra-op pool.
        faiss.omp_set_num_threads(threads)
        torch.set_num_threads(threads)
        tag = f"{threads} thread{'s' if threads > 1 else ''}"
        anchor, (ref_dist, ref_idx) = best_time(lambda: index.search(queries, k), args.repeats)
        anchors.append(anchor)
        row(table, label, f"raw faiss IndexBinaryFlat, {tag}", anchor, anchor, None, "anchor")
        for backend in ("faiss", "numpy", "torch"):
            nn = HammingNeighbors(n_neighbors=k, packed=True, backend=backend, n_jobs=threads)
            nn.fit(db)
            repeats = 1 if backend == "torch" else args.repeats
            seconds, (dist, idx) = best_time(lambda: nn.kneighbors(queries), repeats)
            if backend == "numpy":  # the tie rule, computed without faiss
                rule_dist, rule_idx = dist, idx
            results[backend, threads] = dist, idx
            row(table, label, f"HammingNeighbors(backend={backend!r}), {tag}", seconds, anchor,
                np.array_equal(dist, ref_dist))
    # n_jobs=-1: every core, as before n_jobs=None came to mean one thread.
    nn = HammingNeighbors(n_neighbors=k, packed=True, backend="numpy", n_jobs=-1).fit(db)
    memory.append((f"{label}: numpy kneighbors, {len(queries)} queries",
                   traced_peak(lambda: nn.kneighbors(queries))))
    same = all(np.array_equal(d, rule_dist) and np.array_equal(i, rule_idx)
               for d, i in results.values())
    table.append(f"| {label} | indices of all backends and thread counts identical | | | "
                 f"{'yes' if same else 'NO'} | raw faiss's indices equal them too: "
                 f"{'yes' if np.array_equal(ref_idx, rule_idx) else 'no'} |")
    print(table[-1])

    # Reference points against the fastest raw faiss measured above.
    anchor = min(anchors)
    nq = min(args.naive_queries, len(queries))
    seconds, idx = best_time(lambda: naive_numpy(queries[:nq], db, k), 1)
    scaled = seconds * len(queries) / nq
    row(table, label, "naive per-query numpy loop", scaled, anchor,
        np.array_equal(idx, rule_idx[:nq]), f"{nq} queries, scaled")

    n_sub = min(args.sklearn_db, len(db))
    nq = min(args.sklearn_queries, len(queries))
    seconds, (dist, _) = best_time(lambda: sklearn_hamming(queries[:nq], db[:n_sub], k, n_bits), 1)
    scaled = seconds * (len(db) / n_sub) * (len(queries) / nq)
    # Our exact distances to the same subset (numpy backend: no faiss in the check).
    ours = HammingNeighbors(n_neighbors=k, packed=True, backend="numpy", n_jobs=-1).fit(db[:n_sub])
    same = np.array_equal(np.rint(dist * n_bits), ours.kneighbors(queries[:nq])[0])
    row(table, label, "sklearn NearestNeighbors(metric='hamming')", scaled, anchor, same,
        f"{nq} queries x {n_sub} codes, scaled")
    return db, queries


def same_rows(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def bench_radius(args, kind, db, queries, table, memory):
    label = f"{8 * db.shape[1]}-bit {kind}"
    mih = HammingNeighbors(packed=True, algorithm="mih", backend="numpy").fit(db)
    start = time.perf_counter()
    mih.radius_neighbors(queries[:1], radius=0)  # builds the MIH tables once
    build = time.perf_counter() - start
    # One thread each, as MIH's own search.
    scans = {backend: HammingNeighbors(packed=True, algorithm="brute", backend=backend,
                                       n_jobs=1).fit(db)
             for backend in ("faiss", "numpy")}
    for r in range(args.max_radius + 1):
        mih_s, mih_idx = best_time(
            lambda: mih.radius_neighbors(queries, radius=r, return_distance=False), args.repeats)
        times, same = {}, True
        for backend, nn in scans.items():
            repeats = 1 if backend == "numpy" else args.repeats
            times[backend], idx = best_time(
                lambda: nn.radius_neighbors(queries, radius=r, return_distance=False), repeats)
            same &= same_rows(mih_idx, idx)
        table.append(
            f"| {label} | {r} | {sum(len(i) for i in mih_idx)} | {mih_s:.4f} | "
            f"{times['faiss']:.3f} | {times['numpy']:.3f} | {times['faiss'] / mih_s:.0f}x | "
            f"{times['numpy'] / mih_s:.0f}x | {'yes' if same else 'NO'} |"
        )
        print(table[-1], flush=True)
    # The tables are built by the first radius query: trace that, not the fit.
    fresh = HammingNeighbors(packed=True, algorithm="mih", backend="numpy").fit(db)
    memory.append((f"{label}: MIH tables + radius r={args.max_radius}",
                   traced_peak(lambda: fresh.radius_neighbors(queries, radius=args.max_radius))))
    table.append(f"| {label} | MIH build, once: {build:.3f} s | | | | | | | |")
    print(table[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-db", type=int, default=1_000_000)
    parser.add_argument("--n-queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--bits", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--kinds", nargs="+", default=["random", "clustered"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts to time the kNN comparison with")
    parser.add_argument("--max-radius", type=int, default=2)
    parser.add_argument("--naive-queries", type=int, default=20)
    parser.add_argument("--sklearn-db", type=int, default=100_000)
    parser.add_argument("--sklearn-queries", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    print(f"{args.n_db} database codes, {args.n_queries} queries, k={args.k}; "
          f"{os.cpu_count()} CPUs, faiss threads {faiss.omp_get_max_threads()}, "
          f"load average {os.getloadavg()[0]:.2f}")
    table = ["| codes | method | time (s) | ratio | identical | note |",
             "|---|---|---:|---:|---|---|"]
    print("\n".join(table))
    memory, radius_table = [], [
        "| codes | r | neighbours | MIH (s) | faiss scan (s) | numpy scan (s) "
        "| MIH speed-up vs faiss | vs numpy | identical |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind in args.kinds:
        for n_bits in args.bits:
            db, queries = bench_knn(args, kind, n_bits, rng, table, memory)
            if n_bits == args.bits[0]:
                print("\n".join(radius_table[:2]))
                bench_radius(args, kind, db, queries, radius_table, memory)
    print("\nk-nearest neighbours (ratio: time / raw faiss time at the same thread count;"
          " reference points: / the fastest raw faiss)\n")
    print("\n".join(table))
    print(f"\nradius search, {args.bits[0]} bits (MIH vs the scans)\n")
    print("\n".join(radius_table))
    print()
    for what, peak in memory:
        print(f"peak numpy memory, {what}: {peak / 2**20:.1f} MiB")
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB")
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
