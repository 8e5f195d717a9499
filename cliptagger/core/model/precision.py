"""Which number format the encoders compute in: chosen by measurement, not by CPU flag.

* CUDA: fp16 autocast (tensor cores; CLIP was trained in mixed precision).
* CPU: fp32, or bf16 with the model's weights cast to bf16 (``model.to(torch.bfloat16)``,
  inputs in bf16). Autocast is the wrong tool on CPUs: it re-casts the weights on every
  call and measured slower than fp32 even on AVX512-BF16; cast weights measured 3.9x
  faster there, and several times slower on AVX2-only CPUs where bf16 is emulated.
  So at model load a short probe times both on a small batch and keeps the faster one
  (fp32 unless bf16 wins by ``MIN_GAIN``). The result is cached per CPU model, torch
  version and model, in ``<cache dir>/precision-probe.json``.
* MPS: fp32 unless fp16 (cast weights) measures faster.

What ``auto`` means can be forced with the ``CLIPTAGGER_PRECISION`` environment variable
(``fp32``, ``bf16``, ``fp16`` or ``auto``): an explicit ``--precision``/argument still wins.
Outputs are always float32, L2-normalized; ``logit_scale``/``logit_bias`` stay float32.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import statistics
import threading
import time
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, ContextManager, Iterator, Optional

from cliptagger.core.errors import CliptaggerError
from cliptagger.core.storage import paths
from cliptagger.core.storage.fileio import atomic_write_text
from cliptagger.core.storage.strict_json import read_json_file


class Precision(str, Enum):
    """What the encoders compute in; ``AUTO`` is resolved at load (a probe on CPUs)."""

    AUTO = "auto"
    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"


PRECISIONS = tuple(p.value for p in Precision)
ENV_VAR = "CLIPTAGGER_PRECISION"
PROBE_FILE = "precision-probe.json"
#: The probe file holds a few hundred bytes per model and machine.
MAX_PROBE_FILE_BYTES = 4 * 1024 * 1024
#: bf16/fp16 must beat fp32 by this factor to be chosen (fp32 is the more exact one).
MIN_GAIN = 1.10
PROBE_BATCH = 2
#: Interleaved timing rounds per precision (after one warm-up call each).
PROBE_ROUNDS = 5
#: An undecided probe (rounds that disagree) is measured again after this long.
PROBE_AGAIN_AFTER_S = 24 * 3600

_probe_lock = threading.Lock()


@dataclass
class PrecisionChoice:
    """What ``auto`` resolved to, and why (shown by ``cliptagger models`` and the status bar)."""

    precision: str
    #: "forced" (argument), "env" (CLIPTAGGER_PRECISION), "measured", "cached" (an earlier
    #: measurement on this CPU + torch + model) or "default" (nothing to measure, e.g. CUDA).
    source: str
    #: Images per second per candidate precision on the probe batch (empty if not measured).
    rates: dict[str, float] = field(default_factory=dict)
    #: False when the rounds of the probe disagreed: fp32 for now, measured again later.
    decided: bool = True

    def describe(self) -> str:
        """One line, e.g. ``bf16 (measured: bf16 68.2 img/s, fp32 17.4 img/s)``."""
        if not self.rates:
            return f"{self.precision} ({self.source})"
        figures = ", ".join(f"{p} {r:.1f} img/s" for p, r in sorted(self.rates.items(), key=lambda kv: -kv[1]))
        undecided = "; its rounds disagreed (best rounds shown), so fp32 for now and measured again later" \
            if not self.decided else ""
        return f"{self.precision} ({self.source}: {figures}{undecided})"


def check_precision(value: str, where: str = "precision") -> str:
    value = (value or "auto").strip().lower()
    if value not in PRECISIONS:
        raise CliptaggerError(f"Unknown {where} {value!r}; choose one of: {', '.join(PRECISIONS)}.")
    return value


def requested_precision(requested: str = "auto") -> tuple[str, str]:
    """(precision or "auto", source): an explicit request wins, then ``CLIPTAGGER_PRECISION``."""
    requested = check_precision(requested)
    if requested != "auto":
        return requested, "forced"
    forced = os.environ.get(ENV_VAR, "").strip()
    if forced:
        value = check_precision(forced, f"{ENV_VAR} value")
        if value != "auto":
            return value, "env"
    return "auto", "auto"


def candidates(device: str) -> tuple[str, ...]:
    """The precisions worth measuring on ``device``, the default (most exact) first."""
    base = device.split(":")[0]
    if base == "cuda":
        return ("fp16",)
    if base == "mps":
        return ("fp32", "fp16")
    return ("fp32", "bf16")


def torch_dtype(precision: str) -> Any:
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def casts_weights(device: str, precision: str) -> bool:
    """CPU and MPS compute in a reduced precision by casting the weights; CUDA uses autocast."""
    return precision != "fp32" and device.split(":")[0] != "cuda"


def compute_context(device: str, precision: str) -> ContextManager[Any]:
    """The context the encoders run in: autocast for CUDA fp16/bf16, nothing otherwise."""
    import torch

    if casts_weights(device, precision) or precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.split(":")[0], dtype=torch_dtype(precision))


_FP32_PARAMETERS = ("logit_scale", "logit_bias")


def cast_model(model: Any, device: str, precision: str) -> Any:
    """Cast ``model``'s weights for ``precision`` where that is how it runs (in place)."""
    if not casts_weights(device, precision):
        return model
    keep = {name: getattr(model, name) for name in _FP32_PARAMETERS if getattr(model, name, None) is not None}
    saved = {name: value.detach().clone() for name, value in keep.items()}
    model.to(torch_dtype(precision))
    for name, value in saved.items():
        getattr(model, name).data = value
    return model


@contextlib.contextmanager
def temporarily_cast(module: Any, dtype: Any) -> Iterator[Any]:
    """``module`` with its floating-point weights swapped for ``dtype`` copies, restored after.

    The originals are kept by reference, so the probe costs one reduced-precision copy of
    the module, never a second full-precision one.
    """
    originals: list[tuple[Any, Any]] = []
    try:
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point() and tensor.dtype != dtype:
                originals.append((tensor, tensor.data))
                tensor.data = tensor.data.to(dtype)
        yield module
    finally:
        for tensor, data in originals:
            tensor.data = data


def measure_rounds(visual: Any, device: str, image_size: int, precisions: tuple[str, ...],
                   batch: int = PROBE_BATCH, rounds: int = PROBE_ROUNDS) -> dict[str, list[float]]:
    """Images per second of the image tower at each precision on a small random batch, per round.

    One warm-up call per precision (oneDNN builds its kernels then), then ``rounds`` rounds
    that time each precision in turn: interleaving makes a burst of load from other programs
    slow both in that round, so rounds compare like with like. A precision that fails is left out.
    """
    import torch

    generator = torch.Generator().manual_seed(0)
    pixels = torch.randn(batch, 3, image_size, image_size, generator=generator)
    timings: dict[str, list[float]] = {}
    failed: set[str] = set()
    with torch.inference_mode():
        for round_index in range(rounds + 1):
            for precision in precisions:
                if precision in failed:
                    continue
                try:
                    seconds = _time_once(visual, device, precision, pixels)
                except Exception:  # e.g. an operator without a kernel for this dtype on this device
                    failed.add(precision)
                    continue
                if round_index:  # round 0 was the warm-up
                    timings.setdefault(precision, []).append(batch / max(seconds, 1e-9))
    return {p: rates for p, rates in timings.items() if p not in failed and len(rates) == rounds}


def measure(visual: Any, device: str, image_size: int, precisions: tuple[str, ...],
            batch: int = PROBE_BATCH, rounds: int = PROBE_ROUNDS) -> dict[str, float]:
    """The best images per second of each precision over ``measure_rounds``."""
    return best_rates(measure_rounds(visual, device, image_size, precisions, batch, rounds))


def best_rates(rounds: dict[str, list[float]]) -> dict[str, float]:
    return {precision: max(rates) for precision, rates in rounds.items() if rates}


def decide(rounds: dict[str, list[float]], default: str = "fp32") -> tuple[str, bool]:
    """(precision, decided) from interleaved rounds: another precision is chosen only when it
    beats ``default`` by ``MIN_GAIN`` in every round; ``default`` is decided when no round
    shows such a gain, or when the other is clearly slower in the median round (a noisy round
    does not reopen the question); otherwise the rounds disagree: undecided, ``default`` for now."""
    if default not in rounds:
        others = [p for p in rounds if rounds[p]]
        return (others[0], True) if others else (default, True)
    reference = rounds[default]
    best, decided = default, True
    for precision, rates in rounds.items():
        if precision == default or len(rates) != len(reference):
            continue
        ratios = [rate / ref for rate, ref in zip(rates, reference) if ref > 0]
        if ratios and min(ratios) >= MIN_GAIN:
            if best == default or max(rates) > max(rounds[best]):
                best = precision
        elif ratios and max(ratios) >= MIN_GAIN and statistics.median(ratios) * MIN_GAIN >= 1.0:
            decided = False  # some rounds say faster, some not: a coin flip is not a decision
    return (best, True) if best != default else (default, decided)


def _time_once(visual: Any, device: str, precision: str, pixels: Any) -> float:
    import torch

    cast = casts_weights(device, precision)
    context = temporarily_cast(visual, torch_dtype(precision)) if cast else contextlib.nullcontext(visual)
    with context, compute_context(device, precision):
        x = pixels.to(device=device, dtype=torch_dtype(precision) if cast else torch.float32)
        _synchronize(device)
        started = time.perf_counter()
        visual(x)
        _synchronize(device)
        return time.perf_counter() - started


def _synchronize(device: str) -> None:
    import torch

    base = device.split(":")[0]
    if base == "cuda":
        torch.cuda.synchronize()
    elif base == "mps":
        torch.mps.synchronize()


def pick(rates: dict[str, float], default: str = "fp32") -> str:
    """The fastest measured precision, but ``default`` unless another beats it by MIN_GAIN."""
    if not rates:
        return default
    best = max(rates, key=rates.__getitem__)
    if default in rates and rates[best] < rates[default] * MIN_GAIN:
        return default
    return best


def choose_precision(device: str, requested: str = "auto", model_id: str = "", visual: Any = None,
                     image_size: int = 224) -> PrecisionChoice:
    """Resolve ``requested`` for ``device``: forced, from the cache, or by measuring ``visual``."""
    value, source = requested_precision(requested)
    if value != "auto":
        return PrecisionChoice(value, source)
    options = candidates(device)
    if len(options) == 1 or visual is None:
        return PrecisionChoice(options[0], "default")
    key = probe_key(device, model_id)
    with _probe_lock:
        cached = _cached_choice(_read_probes().get(key), options)
        if cached is not None:
            return cached
        rounds = measure_rounds(visual, device, image_size, options)
        precision, decided = decide(rounds, options[0])
        choice = PrecisionChoice(precision, "measured", best_rates(rounds), decided)
        _store_probe(key, choice, model_id)
    return choice


def _cached_choice(entry: Any, options: tuple[str, ...]) -> Optional[PrecisionChoice]:
    """The stored choice, unless it is missing, damaged, for other options, or an undecided
    one whose time to be measured again has come."""
    if not isinstance(entry, dict) or entry.get("precision") not in options:
        return None
    rates = entry.get("rates", {})
    if not isinstance(rates, dict) or not all(isinstance(v, (int, float)) for v in rates.values()):
        return None
    decided = entry.get("decided", True) is not False
    again = entry.get("probe_again_after", 0)
    if not decided and (not isinstance(again, (int, float)) or time.time() >= again):
        return None
    return PrecisionChoice(entry["precision"], "cached", {str(k): float(v) for k, v in rates.items()}, decided)


# --------------------------------------------------------------------------- probe cache


def cpu_model() -> str:
    """The CPU's name plus a short hash of its feature flags (VMs often hide the full name)."""
    name, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not name:
                name = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = value.strip()
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    digest = hashlib.sha256(flags.encode()).hexdigest()[:8] if flags else "noflags"
    return f"{name} [{digest}] x{os.cpu_count() or 1}"


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def probe_key(device: str, model_id: str) -> str:
    import torch

    where = cpu_model() if device.split(":")[0] == "cpu" else device
    return f"{where} | torch {torch.__version__} | {model_id}"


def _probe_path() -> Path:

    return paths.cache_dir() / PROBE_FILE


def _read_probes() -> dict[str, dict[str, Any]]:
    try:
        data = read_json_file(_probe_path(), MAX_PROBE_FILE_BYTES)
    except (OSError, ValueError):  # missing, damaged: measured again, and the file rewritten whole
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}


def _store_probe(key: str, choice: PrecisionChoice, model_id: str) -> None:

    probes = _read_probes()
    probes[key] = {"precision": choice.precision, "rates": {k: round(v, 2) for k, v in choice.rates.items()},
                   "decided": choice.decided, "model_id": model_id, "batch": PROBE_BATCH, "threads": _torch_threads(),
                   "measured": time.strftime("%Y-%m-%d %H:%M:%S")}
    if not choice.decided:
        probes[key]["probe_again_after"] = time.time() + PROBE_AGAIN_AFTER_S
    try:
        _probe_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(_probe_path(), json.dumps(probes, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only cache only means measuring again next time


def cached_choices(arch: str) -> list[PrecisionChoice]:
    """Earlier measurements on this CPU and torch for models of architecture ``arch``."""
    import torch

    prefix = f"{cpu_model()} | torch {torch.__version__} | {arch}@"
    found = []
    for key, entry in sorted(_read_probes().items()):
        choice = _cached_choice(entry, tuple(p.value for p in Precision)) if key.startswith(prefix) else None
        if choice is not None:  # a damaged entry is skipped, never a traceback
            found.append(PrecisionChoice(choice.precision, "measured", choice.rates, choice.decided))
    return found


def cpu_has_native_bf16() -> bool:
    """Whether torch reports native bf16 on this CPU (informative only: the probe decides)."""
    import torch

    cpu = getattr(torch._C, "_cpu", None)
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        probe = getattr(cpu, name, None)
        if probe is not None:
            try:
                if probe():
                    return True
            except Exception:
                pass
    return False
