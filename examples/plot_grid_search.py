"""
Tuning the distillation thresholds with GridSearchCV
====================================================

The pair distiller keeps a pair when the share of its neighbour pairs that
carry the same initial label exceeds a threshold,
``(1 + false_similar_rate) / 2`` for similar pairs (see the user guide,
"Pair distillation"). How strict to be is a trade-off: a stricter rule gives
cleaner but fewer similar pairs. Here we tune that threshold together with the
code length ``n_bits``, with :class:`~sklearn.model_selection.GridSearchCV`
and :func:`~skdistillhash.make_map_scorer`.

The search runs on the **database split only**: each cross-validation split
fits the pipeline (and so indexes a database) on some database folds and
queries it with the held-out fold. The query split is scored exactly once, at
the end, with the refitted best pipeline.

Set ``SKDISTILLHASH_EXAMPLE_SMALL=1`` to run a tiny version (the test suite
does).
"""

# %%
# A pipeline whose distiller parameters are reachable by name
# -----------------------------------------------------------
# The distiller's parameters are reachable as ``distiller__<name>``, also
# with the default ``distiller=None`` (setting one puts a
# :class:`~skdistillhash.PairDistiller` in its place). In the pipeline below
# the threshold is ``hash__distiller__false_similar_rate``.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skdistillhash import DistillHash, HammingNeighbors, PairDistiller, make_map_scorer
from skdistillhash.datasets import load_digits_split

SMALL = os.environ.get("SKDISTILLHASH_EXAMPLE_SMALL", "0") not in ("", "0")
EPOCHS = 5 if SMALL else 20
N_DB = 600 if SMALL else None  # database digits kept (None: all of them)
RATES = [0.5, 0.9] if SMALL else [0.5, 0.75, 0.9]
N_FOLDS = 2 if SMALL else 3

data = load_digits_split()
X_db, y_db = data.X_db[:N_DB], data.y_db[:N_DB]

pipe = Pipeline([
    ("scale", StandardScaler()),
    ("hash", DistillHash(distiller=PairDistiller(random_state=0), epochs=EPOCHS,
                         device="cpu", random_state=0)),
    ("search", HammingNeighbors(n_neighbors=100)),
])
param_grid = {
    "hash__distiller__false_similar_rate": RATES,
    "hash__n_bits": [16, 32],
}

# %%
# Search on the database
# ----------------------
# ``make_map_scorer(k=100)`` queries each held-out fold against the database
# the pipeline indexed on the other folds, and averages MAP@100 over queries.
search = GridSearchCV(
    pipe,
    param_grid,
    scoring=make_map_scorer(k=100),
    cv=KFold(N_FOLDS, shuffle=True, random_state=0),
)
search.fit(X_db, y_db)

cv = search.cv_results_
bits = np.asarray(cv["param_hash__n_bits"], dtype=int)
rates = np.asarray(cv["param_hash__distiller__false_similar_rate"], dtype=float)
print("n_bits  false_similar_rate  CV MAP@100      fit s")
for b, r, mean, std, t in zip(bits, rates, cv["mean_test_score"], cv["std_test_score"],
                              cv["mean_fit_time"]):
    print(f"{b:6d}  {r:18.2f}  {mean:.3f} ± {std:.3f}  {t:5.1f}")
print("best:", search.best_params_, f"CV MAP@100 {search.best_score_:.3f}")

# %%
# Score the queries once
# ----------------------
# ``refit=True`` (the default) refitted the best pipeline on the whole
# database. Only now do the queries come in.
test_map = search.score(data.X_query, data.y_query)
print(f"query MAP@100 of the tuned pipeline: {test_map:.3f}")

# %%
# What the threshold does to the pairs
# ------------------------------------
# For intuition only (a real unsupervised user has no labels for this): the
# precision of the distilled similar pairs, and how many similar partners a
# point gets,
# at each threshold. :meth:`PairDistiller.score <skdistillhash.PairDistiller.score>`
# computes both against the true digit classes.
X_scaled = StandardScaler().fit_transform(X_db)
precision, per_point = [], []
for rate in RATES:
    distiller = PairDistiller(false_similar_rate=rate, random_state=0).fit(X_scaled)
    distiller.score(X_scaled, y_db)
    precision.append(distiller.similar_precision_)
    per_point.append((distiller.graph_.data > 0).sum() / len(X_scaled))

fig, (ax_map, ax_pairs) = plt.subplots(1, 2, figsize=(10, 3.8))
for n_bits in np.unique(bits):
    mine = np.flatnonzero(bits == n_bits)
    mine = mine[np.argsort(rates[mine])]
    ax_map.errorbar(rates[mine], cv["mean_test_score"][mine], yerr=cv["std_test_score"][mine],
                    marker="o", capsize=3, label=f"{n_bits} bits")
ax_map.set(xlabel="false_similar_rate (similar threshold = (1 + rate) / 2)",
           ylabel="CV MAP@100",
           title=f"GridSearchCV on the database\nquery MAP@100 of the best: {test_map:.3f}")
ax_map.legend()
ax_pairs.plot(RATES, precision, marker="o", color="C2")
ax_pairs.set(xlabel="false_similar_rate", ylabel="precision of similar pairs",
             title="distilled similar pairs")
twin = ax_pairs.twinx()
twin.plot(RATES, per_point, marker="s", color="C3")
twin.set_ylabel("similar partners per point", color="C3")
for ax in (ax_map, ax_pairs):
    ax.grid(alpha=0.3)
fig.tight_layout()
assert np.isfinite(cv["mean_test_score"]).all()
# sphinx_gallery_thumbnail_path = '_static/thumbnails/plot_grid_search.png'
