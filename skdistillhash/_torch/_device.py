"""Device resolution shared by every estimator that runs torch code."""

from __future__ import annotations

import re

import torch

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

#: ``_parameter_constraints`` entry of every ``device`` parameter.
DEVICE_CONSTRAINT = [str, torch.device]


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn a user's ``device`` parameter into a ``torch.device``.

    Accepts "auto", "cpu", "cuda", "cuda:N", "mps" or a ``torch.device`` of
    those types (as skorch does). "auto" picks CUDA when present, else the
    CPU. Asking for a device this machine lacks raises a RuntimeError that
    says so, rather than failing later inside torch.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str) or not _DEVICE_PATTERN.match(device):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda', 'cuda:N', 'mps' or a torch.device "
            f"of those types; got {device!r}."
        )
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "mps":
        if not torch.backends.mps.is_available():
            raise RuntimeError(
                "device='mps' was requested but Apple's MPS backend is not available on "
                "this machine (torch.backends.mps.is_available() is False). Use "
                "device='cpu' or device='auto'."
            )
    elif device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False). Use device='cpu' or "
                "device='auto'."
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible."
            )
    return torch.device(device)
