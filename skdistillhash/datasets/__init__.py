"""Retrieval datasets with fixed query / database / train splits.

Nothing is downloaded, ever. Each loader reads data that is already on the
machine and returns a :class:`sklearn.utils.Bunch` with the same fields:

``X_query, y_query``
    Queries and their labels.
``X_db, y_db``
    The retrieval database (every sample that is not a query).
``X_train, y_train``
    Training samples, a subset of the database (hashers are unsupervised:
    ``y_train`` is there for diagnostics such as pair precision, not for fit).
``query_idx, db_idx, train_idx``
    Sorted int64 row numbers into the dataset's full sample order (stated by
    each loader), so a split can be reproduced or joined with other data.
    ``query_idx`` and ``db_idx`` are disjoint and cover every kept sample;
    ``train_idx`` is a subset of ``db_idx``.
``image_shape``
    ``(channels, height, width)`` for image datasets, else ``None``.
``name, DESCR``
    Short identifiers and a description of the split.

``X_*`` are float32. Image datasets give flattened pixels scaled to [0, 1],
shape ``(n, channels * height * width)`` in channel-major order; with
``as_images=True`` they give ``(n, channels, height, width)`` instead, the
layout of image inputs to :class:`~skdistillhash.DistillHash`.

Splits are drawn in a documented order from
``sklearn.utils.check_random_state(random_state)``. An int (the default is 0)
seeds a fresh ``numpy.random.RandomState``, whose stream numpy keeps fixed
across versions, so the indices are the same on every machine and every call;
a ``RandomState`` instance is drawn from (and advanced), and None draws from
numpy's global one.

:func:`load` gives the named data sets of the main job and the benchmarks
(:data:`DATASETS`), and :func:`validation_split` the one split of a data
set's database side on which settings are chosen, never its queries.
:func:`load_sample_photo_crops` is not a split: it returns labelled images
(``images, target, target_names, DESCR``) to split as you need.
"""

from . import _fashion_mnist, _pretrained, _registry
from ._cifar10 import CIFAR10_CLASSES, CIFAR10_FILES, load_cifar10
from ._fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, read_idx
from ._feature_files import load_mirflickr, load_nus_wide
from ._pretrained import load_sample_photo_crops
from ._registry import load
from ._splits import load_digits_split, validation_split

# autodoc takes the comment that documents a constant from the module it
# documents, this one, not from the module that defines the constant: so the
# documented constants are bound here, under their comments.

#: Names :func:`load` knows: the data sets of the main job
#: (``python -m skdistillhash --dataset NAME``) and of the benchmarks.
DATASETS = _registry.DATASETS
#: Crops per photo of "photos-lite0", of which the queries (drawn per photo).
PHOTO_CROPS, PHOTO_QUERIES = _registry.PHOTO_CROPS, _registry.PHOTO_QUERIES
#: Where the Debian package ``dataset-fashion-mnist`` installs its IDX files.
FASHION_MNIST_ROOT = _fashion_mnist.FASHION_MNIST_ROOT
#: Side of the images the pretrained EfficientNet-Lite0 sees of Fashion-MNIST
#: (its 28 px upsampled); the photo crops keep their loader's 96 px.
LITE0_SIZE = _pretrained.LITE0_SIZE
#: Colour photographs shipped inside scikit-image (not fetched: on disk).
SKIMAGE_PHOTOS = _pretrained.SKIMAGE_PHOTOS
#: ImageNet channel statistics, the normalisation pretrained backbones expect.
IMAGENET_MEAN, IMAGENET_STD = _pretrained.IMAGENET_MEAN, _pretrained.IMAGENET_STD

__all__ = [
    "DATASETS",
    "load",
    "load_digits_split",
    "load_fashion_mnist",
    "load_cifar10",
    "load_nus_wide",
    "load_mirflickr",
    "read_idx",
    "load_sample_photo_crops",
    "validation_split",
    "CIFAR10_CLASSES",
    "CIFAR10_FILES",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_ROOT",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LITE0_SIZE",
    "PHOTO_CROPS",
    "PHOTO_QUERIES",
    "SKIMAGE_PHOTOS",
]
