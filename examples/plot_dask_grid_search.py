"""
Scaling the search out with Dask
================================

A grid search fits one pipeline per (candidate, fold): independent jobs that
scikit-learn hands to :mod:`joblib`. Switching joblib's backend to
``"dask"`` sends them to a ``dask.distributed`` cluster instead of local
processes, without touching the estimator code. Here the cluster is a
:class:`~distributed.LocalCluster` of two worker processes on 127.0.0.1;
on a real cluster, connect the :class:`~distributed.Client` to the scheduler's
address instead (``Client("tcp://scheduler:8786")``).

We run the same :class:`~sklearn.model_selection.GridSearchCV` as in
:ref:`sphx_glr_auto_examples_plot_grid_search.py` twice, locally and on the
cluster, and check that the results are the same: every fit is seeded, so
where a fit runs does not change what it learns. This needs the ``dask``
extra (``pip install "skdistillhash[dask]"``).

Set ``SKDISTILLHASH_EXAMPLE_SMALL=1`` to run a tiny version (the test suite
does).
"""

# %%
# The grid search, as in the tuning example
# -----------------------------------------
# A smaller grid and fewer epochs than there, to keep the two runs short.
import os
import time

import joblib
import matplotlib.pyplot as plt
import numpy as np
from dask.distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skdistillhash import DistillHash, HammingNeighbors, PairDistiller, make_map_scorer
from skdistillhash.datasets import load_digits_split

SMALL = os.environ.get("SKDISTILLHASH_EXAMPLE_SMALL", "0") not in ("", "0")
EPOCHS = 5 if SMALL else 10
N_DB = 600 if SMALL else None  # database digits kept (None: all of them)
RATES = [0.5, 0.9]
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


def make_search():
    return GridSearchCV(pipe, param_grid, scoring=make_map_scorer(k=100),
                        cv=KFold(N_FOLDS, shuffle=True, random_state=0))


# %%
# Keep the work under a ``__main__`` guard
# ----------------------------------------
# The cluster starts its worker processes with the ``spawn`` method, which
# imports this script afresh in each of them. Everything above is cheap
# definitions; everything that runs work stays under
# ``if __name__ == "__main__":``, so that a worker importing the script does
# not start a search (or a cluster) of its own. This is the usual rule for
# Python scripts that start processes.
#
# Locally, one fit after the other:
if __name__ == "__main__":
    tic = time.perf_counter()
    local = make_search().fit(X_db, y_db)
    local_seconds = time.perf_counter() - tic

# %%
# On a dask.distributed cluster
# -----------------------------
# ``joblib.parallel_config(backend="dask")`` routes every joblib job to the
# client's cluster; ``n_jobs=-1`` uses all its workers. The workers receive
# the pipeline and the data by pickling, exactly as separate machines would.
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        print(client)
        tic = time.perf_counter()
        with joblib.parallel_config(backend="dask", n_jobs=-1):
            distributed = make_search().fit(X_db, y_db)
        dask_seconds = time.perf_counter() - tic

# %%
# Same results
# ------------
# Every fit is seeded (``random_state`` on the hasher and the distiller), so
# the cross-validation scores, and hence the chosen parameters, match.
if __name__ == "__main__":
    local_scores = local.cv_results_["mean_test_score"]
    dask_scores = distributed.cv_results_["mean_test_score"]
    for params, a, b in zip(local.cv_results_["params"], local_scores, dask_scores):
        print(f"{params}: local {a:.4f}  dask {b:.4f}")
    assert local.best_params_ == distributed.best_params_
    np.testing.assert_array_equal(dask_scores, local_scores)
    print(f"identical results; local {local_seconds:.1f} s, dask {dask_seconds:.1f} s "
          "(including sending work to the workers)")
    test_maps = [s.score(data.X_query, data.y_query) for s in (local, distributed)]
    assert test_maps[0] == test_maps[1]
    print(f"query MAP@100 of the tuned pipeline: {test_maps[0]:.3f} (both runs)")

# %%
# The cross-validation scores of both runs, candidate by candidate:
if __name__ == "__main__":
    labels = [f"{p['hash__n_bits']} bits\nrate {p['hash__distiller__false_similar_rate']}"
              for p in local.cv_results_["params"]]
    x = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(labels)), 3.8))
    ax.bar(x - 0.2, local_scores, width=0.4, label=f"local ({local_seconds:.0f} s)")
    ax.bar(x + 0.2, dask_scores, width=0.4, label=f"dask, 2 workers ({dask_seconds:.0f} s)")
    ax.set_xticks(x, labels, fontsize=8)
    low = min(local_scores.min(), dask_scores.min()) - 0.05
    ax.set(ylabel="CV MAP@100", ylim=(low, None),
           title="GridSearchCV locally and on a dask.distributed cluster")
    ax.legend(loc="lower right")
    fig.tight_layout()
# sphinx_gallery_thumbnail_path = '_static/thumbnails/plot_dask_grid_search.png'
