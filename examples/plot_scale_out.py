"""
Scaling out: encode on Dask, search shards, hand the codes to FAISS
===================================================================

The path users with many millions of items take: fit the hasher on a sample,
encode the whole collection chunk by chunk on a cluster, then search it,
exactly over shards that stay on the workers
(:class:`~skdistillhash.dask.DaskHammingNeighbors`) or approximately with a
FAISS inverted-file index
(:meth:`HammingNeighbors.to_faiss <skdistillhash.HammingNeighbors.to_faiss>`),
whose cost in recall :func:`~skdistillhash.approximate.nprobe_sweep`
measures against the exact search.

The cluster is a :class:`~distributed.LocalCluster` of two worker processes;
on a real cluster, connect a :class:`~distributed.Client` to its scheduler
instead. The collection is the digits database, each image repeated with a
little pixel noise to give the index some size. This needs the ``dask`` and
``faiss`` extras (``pip install "skdistillhash[dask,faiss]"``).

Set ``SKDISTILLHASH_EXAMPLE_SMALL=1`` to run a tiny version (the test suite
does).
"""

# %%
# A collection, and a hasher fitted on a sample of it
# ---------------------------------------------------
# Hashing is unsupervised: the labels only score the search at the end.
import os
import time

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster

from skdistillhash import DistillHash, HammingNeighbors
from skdistillhash.approximate import nprobe_sweep
from skdistillhash.dask import DaskHammingNeighbors, encode
from skdistillhash.datasets import load_digits_split

SMALL = os.environ.get("SKDISTILLHASH_EXAMPLE_SMALL", "0") not in ("", "0")
COPIES = 4 if SMALL else 40  # noisy copies of each database digit
EPOCHS = 5 if SMALL else 30
K = 100
NPROBE = [1, 2, 4, 8, 16]

# The cluster's worker processes import this script again (they are started
# with ``spawn``), so every step that does work stays under the ``__main__``
# guard, the usual rule for scripts that start processes.
if __name__ == "__main__":
    data = load_digits_split()
    # A lazy dask array, as a collection on a cluster would be (read from
    # storage where it lives); generated here from the digits, chunk by chunk.
    n_db, n_features = data.X_db.shape
    noise = da.random.RandomState(0).normal(scale=0.05, size=(COPIES * n_db, n_features),
                                            chunks=(n_db, n_features))
    X_dask = (da.concatenate([da.from_array(data.X_db, chunks=-1)] * COPIES) + noise)
    X_dask = X_dask.astype(np.float32).rechunk((COPIES * n_db // 4 + 1, n_features))
    X_big = X_dask.compute()  # in memory too, for the in-process reference
    y_big = np.tile(data.y_db, COPIES)
    sample = np.random.default_rng(0).choice(len(X_big), size=n_db, replace=False)
    hasher = DistillHash(n_bits=64, epochs=EPOCHS, device="cpu", random_state=0)
    hasher.fit(X_big[sample])
    query_codes = hasher.predict(data.X_query)
    print(f"collection {X_big.shape}, hasher fitted on {len(sample)} rows")

# %%
# Encode and search on the cluster
# --------------------------------
# :func:`~skdistillhash.dask.encode` maps the fitted hasher over the chunks of
# a dask array; the codes stay on the workers (``persist``), where
# :class:`~skdistillhash.dask.DaskHammingNeighbors` fits one
# :class:`~skdistillhash.HammingNeighbors` per chunk. A query goes to every
# shard, and the shards' answers are merged by (distance, global index): the
# answer of one index over the whole collection, ties included, which we
# check against an in-process ``HammingNeighbors``.
if __name__ == "__main__":
    codes_local = hasher.predict(X_big)
    exact = HammingNeighbors(n_neighbors=K, packed=True).fit(codes_local, y_big)
    tic = time.perf_counter()
    exact_dist, exact_idx = exact.kneighbors(query_codes)
    in_process_seconds = time.perf_counter() - tic

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster):
        codes = encode(hasher, X_dask).persist()
        assert np.array_equal(codes.compute(), codes_local)  # chunk by chunk = in memory
        sharded = DaskHammingNeighbors(n_neighbors=K, packed=True).fit(codes)
        tic = time.perf_counter()
        dist, idx = sharded.kneighbors(query_codes)
        sharded_seconds = time.perf_counter() - tic
    assert np.array_equal(dist, exact_dist) and np.array_equal(idx, exact_idx)
    print(f"{sharded.n_shards_} shards on 2 workers: the same {K} neighbours as one index; "
          f"{sharded_seconds * 1e3:.0f} ms against {in_process_seconds * 1e3:.0f} ms in process "
          "(at this size the cluster's round trips dominate)")

# %%
# FAISS: what an approximate index gives up
# -----------------------------------------
# An IVF index splits the codes into ``nlist`` lists by k-means and scans the
# ``nprobe`` lists nearest each query. ``nprobe_sweep`` measures, against the
# exact search, the share of the exact top ``K`` found (and, counting any
# code as near as the exact ``K``-th, the tie-aware share), MAP@K and the
# time per query.
if __name__ == "__main__":
    index = exact.to_faiss("ivf", nlist=64 if not SMALL else 16, random_state=0)
    sweep = nprobe_sweep(index, exact, query_codes, NPROBE, k=K, y_queries=data.y_query)
    print(f"exact MAP@{K}: {sweep.map_exact:.3f}")
    for row in zip(sweep.nprobe, sweep.recall, sweep.recall_ties, sweep.map_approximate,
                   sweep.speedup):
        print("nprobe {:>2}: recall@{K} {:.3f}, tie-aware {:.3f}, MAP@{K} {:.3f}, "
              "{:.1f}x the exact speed".format(*row, K=K))

# %%
# Recall and MAP against ``nprobe``: a few lists already find most of the
# exact neighbours; the exact search remains the reference.
if __name__ == "__main__":
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(sweep.nprobe, sweep.recall, "o-", label=f"recall@{K}")
    ax.plot(sweep.nprobe, sweep.recall_ties, "s--", label=f"tie-aware recall@{K}")
    ax.plot(sweep.nprobe, np.asarray(sweep.map_approximate) / sweep.map_exact, "^:",
            label=f"MAP@{K} / exact MAP@{K}")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(xscale="log", xticks=NPROBE, xticklabels=[str(n) for n in NPROBE],
           xlabel=f"nprobe (lists scanned, of {index.nlist})", ylim=(0, 1.05),
           title="FAISS IndexBinaryIVF against exact Hamming search")
    ax.legend(loc="lower right")
    fig.tight_layout()
# sphinx_gallery_thumbnail_path = '_static/thumbnails/plot_scale_out.png'
