"""
Hashing digits and searching them
=================================

Learn 32-bit binary codes for the scikit-learn digits without their labels,
index the database codes, and search them by Hamming distance, all in one
:class:`~sklearn.pipeline.Pipeline`:

``StandardScaler -> DistillHash -> HammingNeighbors``

:class:`~skdistillhash.DistillHash` ignores ``y``; the final
:class:`~skdistillhash.HammingNeighbors` keeps the database labels, so that
``pipe.score(X_query, y_query)`` is the MAP@100 of the queries against the
database. The labels are used for scoring only.

Set ``SKDISTILLHASH_EXAMPLE_SMALL=1`` to run a tiny version (the test suite
does).
"""

# %%
# The data: a fixed query / database split of the digits
# ------------------------------------------------------
# :func:`~skdistillhash.datasets.load_digits_split` draws 300 queries with a
# fixed seed; the other 1497 digits are the database, which is also the
# training set (hashing is unsupervised).
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdistillhash import DistillHash, HammingNeighbors, ITQHash, LSHHash
from skdistillhash.datasets import load_digits_split

SMALL = os.environ.get("SKDISTILLHASH_EXAMPLE_SMALL", "0") not in ("", "0")
EPOCHS = 5 if SMALL else 30
N_DB = 600 if SMALL else None  # database digits kept (None: all of them)

data = load_digits_split()
X_db, y_db = data.X_db[:N_DB], data.y_db[:N_DB]
X_query, y_query = data.X_query, data.y_query
print(f"{len(X_db)} database digits, {len(X_query)} queries")

# %%
# Fit the pipeline on the database, score the queries
# ---------------------------------------------------
# ``fit`` distils confident pairs from the database features, trains the hash
# network on them, encodes the database and indexes the codes.
pipe = make_pipeline(
    StandardScaler(),
    DistillHash(n_bits=32, epochs=EPOCHS, device="cpu", random_state=0),
    HammingNeighbors(n_neighbors=100),
)
pipe.fit(X_db, y_db)
map_distillhash = pipe.score(X_query, y_query)
print(f"DistillHash, 32 bits: MAP@100 = {map_distillhash:.3f}")

# %%
# The same pipeline with the classic baselines in place of DistillHash
# (random hyperplanes, and PCA plus iterative quantization):
scores = {"DistillHash": map_distillhash}
for name, hasher in [("LSH", LSHHash(n_bits=32, random_state=0)),
                     ("ITQ", ITQHash(n_bits=32, random_state=0))]:
    baseline = make_pipeline(StandardScaler(), hasher, HammingNeighbors(n_neighbors=100))
    scores[name] = baseline.fit(X_db, y_db).score(X_query, y_query)
    print(f"{name}, 32 bits: MAP@100 = {scores[name]:.3f}")

# %%
# Look at the search results
# --------------------------
# ``pipe[:-1].transform`` encodes queries as bits; the fitted
# HammingNeighbors returns the nearest database codes, ties in distance
# broken by database index. Each row below is a query (left) and its eight
# nearest database digits, with their Hamming distance; a red title marks a
# digit of another class.
query_bits = pipe[:-1].transform(X_query)
dist, idx = pipe[-1].kneighbors(query_bits, n_neighbors=8)

n_show = 5
fig, axes = plt.subplots(n_show, 10, figsize=(10, 5.6),
                         gridspec_kw={"width_ratios": [1, 0.2] + [1] * 8})
for row in range(n_show):
    axes[row, 0].imshow(X_query[row].reshape(8, 8), cmap="gray_r")
    axes[row, 0].set_title(f"query {y_query[row]}", fontsize=8)
    for col in range(8):
        ax = axes[row, col + 2]
        ax.imshow(X_db[idx[row, col]].reshape(8, 8), cmap="gray_r")
        wrong = y_db[idx[row, col]] != y_query[row]
        ax.set_title(f"d={dist[row, col]}", fontsize=8, color="red" if wrong else "black")
for ax in axes.ravel():
    ax.set_axis_off()
fig.suptitle("Nearest database digits in Hamming space (32-bit DistillHash codes)\n"
             + ", ".join(f"{k} MAP@100 {v:.3f}" for k, v in scores.items()), fontsize=10)
fig.tight_layout()

# %%
# Hamming distances are small integers, so many database items share a
# distance: the histogram of query-to-database distances for same-class and
# different-class pairs shows how well the codes separate the classes.
db_bits = pipe[:-1].transform(X_db)
distances = (query_bits[:, None, :] != db_bits[None, :, :]).sum(axis=2)
same = y_query[:, None] == y_db[None, :]
fig, ax = plt.subplots(figsize=(6, 3.5))
bins = np.arange(34) - 0.5
ax.hist(distances[same], bins=bins, density=True, alpha=0.6, label="same class")
ax.hist(distances[~same], bins=bins, density=True, alpha=0.6, label="different class")
ax.set(xlabel="Hamming distance (32 bits)", ylabel="fraction of pairs")
ax.legend()
fig.tight_layout()
# sphinx_gallery_thumbnail_path = '_static/thumbnails/plot_digits_search.png'
