"""Data sets seen through an ImageNet-pretrained network: crops of the photos
bundled with scikit-learn and scikit-image, and the EfficientNet-Lite0
features of images."""

from __future__ import annotations

import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import Bunch, check_random_state
from torch import nn

from .._sklearn_compat import validate_params
from .._torch._device import resolve_device
from .._torch._networks import build_backbone
from .._torch._threads import threads_for, torch_threads
from .._torch._train import encode
from ._splits import _COUNT, _RANDOM_STATE, _describe_rng

# The photos and the ImageNet statistics are documented in __init__.py, where
# autodoc reads the package's data comments.
SKIMAGE_PHOTOS = (
    "astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
    "immunohistochemistry", "retina",
)  # fmt: skip
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _bundled_photos() -> tuple[list[np.ndarray], list[str]]:
    """sklearn's two sample photos, plus scikit-image's colour photos if installed."""
    from sklearn.datasets import load_sample_images

    sample = load_sample_images()
    photos = list(sample.images)
    names = [os.path.splitext(os.path.basename(f))[0] for f in sample.filenames]
    try:
        import skimage.data
    except ImportError:
        return photos, names
    for name in SKIMAGE_PHOTOS:
        photos.append(getattr(skimage.data, name)())
        names.append(name)
    return photos, names


@validate_params(
    {"n_crops_per_photo": _COUNT, "size": _COUNT, "random_state": _RANDOM_STATE},
    prefer_skip_nested_validation=True,
)
def load_sample_photo_crops(
    *, n_crops_per_photo: int = 32, size: int = 96, random_state: int | np.random.RandomState | None = 0
) -> Bunch:
    """Random crops of the photos that ship with scikit-learn and scikit-image.

    A real test of an image backbone that needs no download: every crop
    (a random square of 30-60 % of the photo's shorter side, randomly
    mirrored, resized to ``size`` pixels) is labelled with the photo it comes
    from, so "relevant" means "same scene". scikit-learn ships 2 photos
    (china, flower); with scikit-image installed (the ``pretrained`` extra)
    7 more are added. The crops of each photo are consecutive rows, photos in
    the order of ``target_names``.

    Parameters
    ----------
    n_crops_per_photo : int, default=32
        Crops drawn from each photo.
    size : int, default=96
        Side of the square output images.
    random_state : int, RandomState instance or None, default=0
        Generator of crop positions and mirroring; an int seeds a fresh
        ``numpy.random.RandomState``.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object, with the following attributes.

        images : ndarray of shape (n_photos * n_crops_per_photo, 3, size, size), float32
            ImageNet-normalised (channel mean/std), the input pretrained
            backbones expect.
        target : ndarray of shape (n_photos * n_crops_per_photo,), int64
            Index of the source photo.
        target_names : list of str
            Photo names, indexed by ``target``.
        DESCR : str
            A description of the crops.

    Examples
    --------
    >>> from skdistillhash.datasets import load_sample_photo_crops
    >>> crops = load_sample_photo_crops(n_crops_per_photo=2, size=32)
    >>> crops.images.shape[1:], crops.images.dtype, crops.target_names[:2]
    ((3, 32, 32), dtype('float32'), ['china', 'flower'])
    >>> crops.target[:4].tolist()
    [0, 0, 1, 1]
    """
    rng = check_random_state(random_state)
    photos, names = _bundled_photos()
    crops, labels = [], []
    for label, photo in enumerate(photos):
        height, width = photo.shape[:2]
        tensor = torch.from_numpy(np.array(photo)).permute(2, 0, 1).float() / 255.0
        for _ in range(n_crops_per_photo):
            side = int(rng.uniform(0.3, 0.6) * min(height, width))
            top = rng.randint(0, height - side + 1)
            left = rng.randint(0, width - side + 1)
            crop = tensor[None, :, top : top + side, left : left + side]
            crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            if rng.rand() < 0.5:
                crop = crop.flip(-1)
            crops.append(crop[0].numpy())
            labels.append(label)
    images = np.stack(crops).astype(np.float32)
    images = (images - IMAGENET_MEAN[:, None, None]) / IMAGENET_STD[:, None, None]
    return Bunch(
        images=images,
        target=np.asarray(labels, dtype=np.int64),
        target_names=names,
        DESCR=(
            f"{n_crops_per_photo} random crops of each of {len(names)} photos bundled with "
            f"scikit-learn and scikit-image ({', '.join(names)}): squares of 30-60 % of the "
            f"shorter side, randomly mirrored, resized to {size} px, ImageNet-normalised; "
            f"{_describe_rng(random_state)}."
        ),
    )


# Documented in __init__.py, where autodoc reads the package's data comments.
LITE0_SIZE = 64


class _ImageNetInput(nn.Module):
    """Grey (n, 1, H, W) pixels in [0, 1] made the input an ImageNet backbone
    expects: repeated over 3 channels, resized to LITE0_SIZE, normalised.
    3-channel images pass as they are (already normalised)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(IMAGENET_MEAN)[:, None, None])
        self.register_buffer("std", torch.from_numpy(IMAGENET_STD)[:, None, None])

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.shape[1] != 1:
            return batch
        batch = F.interpolate(batch.expand(-1, 3, -1, -1), size=LITE0_SIZE, mode="bilinear", align_corners=False)
        return (batch - self.mean) / self.std


def _lite0_features(images: np.ndarray, device: str, batch_size: int = 256) -> np.ndarray:
    """Pooled EfficientNet-Lite0 (ImageNet) features of (n, C, H, W) images: grey
    pixels in [0, 1], or already normalised 3-channel images.

    In blocks of one shape (the last padded), so that a row's features are the
    same to the bit whatever the other rows loaded with it, on the threads the
    library's rule gives (every one the process may use).
    """
    torch_device = resolve_device(device)
    backbone = build_backbone("efficientnet_lite0", "imagenet", torch.Generator().manual_seed(0))
    net = nn.Sequential(_ImageNetInput(), backbone).to(torch_device)
    with torch_threads(threads_for(math.inf)):
        return encode(net, images, torch_device, batch_size, fixed_shape=True)
