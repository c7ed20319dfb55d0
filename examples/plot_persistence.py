"""
Saving a fitted hasher and loading it in a fresh process
========================================================

A fitted :class:`~skdistillhash.DistillHash` (or a whole pipeline ending in a
:class:`~skdistillhash.HammingNeighbors` index) is saved with
:func:`joblib.dump` and loaded with :func:`joblib.load`, like any
scikit-learn estimator. Here we fit on the digits, save, load the file in a
**new Python process**, encode the same samples there, and check that the
codes are identical bit for bit.

.. warning::

   Loading a pickle runs code chosen by whoever wrote the file. Only load
   files you trust. (Backbone weights given to ``DistillHash`` as a path are
   a different matter: they are read with ``torch.load(weights_only=True)``,
   which loads tensors only.)

Set ``SKDISTILLHASH_EXAMPLE_SMALL=1`` to run a tiny version (the test suite
does).
"""

# %%
# Fit and save
# ------------
import os
import shutil
import subprocess
import sys
import tempfile

import joblib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdistillhash import DistillHash, HammingNeighbors
from skdistillhash.datasets import load_digits_split

SMALL = os.environ.get("SKDISTILLHASH_EXAMPLE_SMALL", "0") not in ("", "0")
EPOCHS = 5 if SMALL else 30
N_DB = 600 if SMALL else None  # database digits kept (None: all of them)

data = load_digits_split()
X_db, y_db = data.X_db[:N_DB], data.y_db[:N_DB]

pipe = make_pipeline(
    StandardScaler(),
    DistillHash(n_bits=32, epochs=EPOCHS, device="cpu", random_state=0),
    HammingNeighbors(n_neighbors=10),
)
pipe.fit(X_db, y_db)

workdir = tempfile.mkdtemp()
model_path = os.path.join(workdir, "digits_index.joblib")
joblib.dump(pipe, model_path)
np.save(os.path.join(workdir, "queries.npy"), data.X_query)
print(f"saved {os.path.getsize(model_path) / 1e6:.1f} MB to {model_path}")

codes_here = pipe[:-1].predict(data.X_query)  # packed codes, 4 bytes per query
neighbours_here = pipe[-1].kneighbors(pipe[:-1].transform(data.X_query),
                                      return_distance=False)

# %%
# Load in a fresh process
# -----------------------
# The child process knows nothing of this one: it imports joblib, loads the
# file, encodes the queries and searches the loaded index. A model trained on
# a GPU loads the same way on a CPU-only machine (its weights are stored on
# the CPU); set ``device="cpu"`` (or ``"auto"``) on the loaded hasher before
# using it there.
child = r"""
import sys
import joblib
import numpy as np

workdir = sys.argv[1]
pipe = joblib.load(workdir + "/digits_index.joblib")
pipe.set_params(distillhash__device="cpu")
queries = np.load(workdir + "/queries.npy")
np.save(workdir + "/codes.npy", pipe[:-1].predict(queries))
np.save(workdir + "/neighbours.npy",
        pipe[-1].kneighbors(pipe[:-1].transform(queries), return_distance=False))
"""
subprocess.run([sys.executable, "-c", child, workdir], check=True)
codes_there = np.load(os.path.join(workdir, "codes.npy"))
neighbours_there = np.load(os.path.join(workdir, "neighbours.npy"))

assert np.array_equal(codes_here, codes_there), "codes differ after loading"
assert np.array_equal(neighbours_here, neighbours_there), "search results differ"
print("identical codes and neighbours in the fresh process")

# %%
# The codes, side by side
# -----------------------
# The first 40 query codes as bits (one row per query), computed in this
# process and in the fresh one, and their difference: all zero.
bits_here = np.unpackbits(codes_here[:40], axis=1, bitorder="little")
bits_there = np.unpackbits(codes_there[:40], axis=1, bitorder="little")
fig, axes = plt.subplots(1, 3, figsize=(9, 4), sharey=True)
panels = [(bits_here, "this process"), (bits_there, "fresh process"),
          (bits_here ^ bits_there, "XOR (differing bits)")]
for ax, (bits, title) in zip(axes, panels):
    ax.imshow(bits, cmap="gray_r", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set(title=title, xlabel="bit")
axes[0].set_ylabel("query")
fig.suptitle(f"{int((bits_here ^ bits_there).sum())} differing bits after joblib.dump / load")
fig.tight_layout()

# %%
# Clean up the temporary files.
shutil.rmtree(workdir)
# sphinx_gallery_thumbnail_path = '_static/thumbnails/plot_persistence.png'
