"""Choosing the compute device: CUDA, then Apple's MPS, then the CPU, unless the user says."""

from __future__ import annotations

from cliptagger.core.errors import CliptaggerError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def available_devices() -> list[str]:
    import torch

    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    found.append("cpu")
    return found


def choose_device(preference: str | None = "auto") -> str:
    """Return a torch device string; an unavailable explicit choice is a clear error."""
    preference = (preference or "auto").lower()
    available = available_devices()
    if preference == "auto":
        return available[0]
    base = preference.split(":")[0]
    if base not in DEVICE_CHOICES:
        raise CliptaggerError(f"Unknown device {preference!r}; choose one of: {', '.join(DEVICE_CHOICES)}.")
    if base not in available:
        raise CliptaggerError(
            f"The {base.upper()} device is not available on this computer "
            f"(available: {', '.join(available)}). Use --device auto to pick the best one."
        )
    return preference
