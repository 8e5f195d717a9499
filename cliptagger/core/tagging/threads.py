"""CPU threads: who gets the cores while tagging, and background threads that yield to the UI.

The tagging pipeline has two kinds of CPU work: decoding (a pool of Python threads, the
codecs release the GIL) and the encoder (torch's intra-op OpenMP team, driven by one
thread). When both compete as equals for the cores, the OS preempts members of the
OpenMP team in the middle of a matrix product and the others wait at its barrier: on 2
cores the engine reached 0.52 of what the hardware allows. Two ways out, see
``plan_threads``:

* "priority" (Linux, where ``setpriority`` takes a thread id): the encoder keeps every
  core and the decode threads run nicer than it, so they fill the cores while the encoder
  waits for pictures and step aside while it computes: the cores alternate between the two
  at full efficiency, whatever the ratio of decode to encode time.
* "split" (elsewhere): a static budget, decode threads and encoder threads in proportion to
  their cost per image as the previous run measured it (equal shares until then).

Background threads (the GUI's tagging worker, thumbnails) are made nicer than the UI thread;
correctness never depends on any of this.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Optional

BACKGROUND_NICENESS = 10
#: How much nicer decode threads run than the encoder's thread in the "priority" plan.
DECODE_NICENESS_STEP = 5
MAX_NICENESS = 19


def cpu_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup affinity where the OS tells)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def thread_priorities_available() -> bool:
    """Whether one thread's niceness can be set apart from the others' (Linux)."""
    return (sys.platform.startswith("linux") and hasattr(os, "setpriority")
            and hasattr(threading, "get_native_id"))


def current_thread_niceness() -> Optional[int]:
    if not thread_priorities_available():
        return None
    try:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    except OSError:
        return None


def lower_current_thread_priority(niceness: int = BACKGROUND_NICENESS) -> bool:
    """Make the calling thread at least ``niceness`` nice (never less nice than it is)."""
    if not thread_priorities_available():
        return False
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < niceness:
            os.setpriority(os.PRIO_PROCESS, tid, min(niceness, MAX_NICENESS))
        return True
    except OSError:
        return False


@dataclass(frozen=True)
class ThreadPlan:
    """How many threads encode and decode, and whether decoding runs at a lower priority."""

    encoder_threads: int
    decode_workers: int
    #: "priority" (decode threads nicer than the encoder), "split" (static budget) or "shared".
    mode: str
    #: For "priority": the niceness decode threads get (None in "split").
    decode_niceness: Optional[int] = None

    def decode_initializer(self) -> Optional[Callable[[], None]]:
        if self.decode_niceness is None:
            return None
        niceness = self.decode_niceness

        def lower() -> None:
            lower_current_thread_priority(niceness)

        return lower


def plan_threads(cores: int, decode_s: Optional[float] = None, encode_s: Optional[float] = None,
                 mode: Optional[str] = None) -> ThreadPlan:
    """The thread budget for tagging on ``cores`` cores.

    ``decode_s``: CPU seconds one image's decode + preprocess takes on one thread;
    ``encode_s``: CPU seconds (wall x threads) the encoder spends per image. Unknown: assume
    equal. ``mode``: "priority", "split", or None for priority where the OS allows it;
    "shared" (every core to both, same priority: the old behaviour) is kept for benchmarks.
    """
    cores = max(1, cores)
    if mode == "shared":
        return ThreadPlan(cores, cores, "shared")
    if mode is None:
        mode = "priority" if thread_priorities_available() and current_thread_niceness() is not None else "split"
    if mode == "priority":
        base = current_thread_niceness() or 0
        return ThreadPlan(cores, cores, "priority", min(MAX_NICENESS, base + DECODE_NICENESS_STEP))
    if cores == 1:
        return ThreadPlan(1, 1, "split")
    share = 0.5 if not decode_s or not encode_s else decode_s / (decode_s + encode_s)
    # Decode threads scale linearly; round up so the encoder never starves for pictures.
    decode = min(cores - 1, max(1, math.ceil(cores * share - 0.25)))
    return ThreadPlan(cores - decode, decode, "split")
