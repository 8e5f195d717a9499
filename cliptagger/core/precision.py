"""Which number format the encoder computes in, chosen once per device.

* CUDA: fp16 autocast (tensor cores; CLIP was trained in mixed precision).
* CPU with native bf16 (AVX512-BF16 or AMX): bf16 autocast, several times faster there.
* Anything else (AVX2-only CPUs, MPS): fp32; bf16 would be emulated and slower.
The user can force fp32. Outputs are always float32, L2-normalized.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, ContextManager

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def cpu_has_native_bf16() -> bool:
    import torch

    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    cpu = getattr(torch._C, "_cpu", None)
    for name in probes:
        probe = getattr(cpu, name, None)
        if probe is not None:
            try:
                if probe():
                    return True
            except Exception:
                pass
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def choose_precision(device: str, requested: str = "auto") -> str:
    requested = (requested or "auto").lower()
    if requested != "auto":
        return requested
    base = device.split(":")[0]
    if base == "cuda":
        return "fp16"
    if base == "cpu" and cpu_has_native_bf16():
        return "bf16"
    return "fp32"


def autocast(device: str, precision: str) -> ContextManager[Any]:
    """A context in which the model computes in ``precision`` (a no-op for fp32)."""
    import torch

    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.split(":")[0], dtype=dtype)
