"""Choosing the torch device: `auto` picks CUDA when present, else CPU; asking for an absent
device is an error that says so in one line (never a silent fallback)."""

import torch

from arena_core.errors import ArgumentError, UserError


class DeviceUnavailableError(UserError, RuntimeError):
    """The requested device does not exist on this machine."""


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """Turn `auto | cpu | cuda | cuda:N | mps` into a `torch.device`, checking it exists."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = spec.strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as err:
        raise ArgumentError(f"unknown device {spec!r}: use auto, cpu, cuda, cuda:N or mps") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device {spec!r} was requested but CUDA is not available here "
                "(use --device cpu or --device auto)"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {spec!r} was requested but only {torch.cuda.device_count()} CUDA "
                "device(s) exist"
            )
    elif device.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise DeviceUnavailableError(f"device {spec!r} was requested but MPS is not available")
    elif device.type != "cpu":
        raise ArgumentError(f"unsupported device {spec!r}: use auto, cpu, cuda, cuda:N or mps")
    return device
