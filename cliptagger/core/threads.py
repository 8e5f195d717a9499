"""Background threads yield the CPU to the UI thread.

On Linux ``setpriority`` takes a thread id, so each background thread (the tagging
worker, and through it torch's OpenMP team, which inherits the nice value when it is
created; decode and thumbnail threads) can be made "nicer" than the UI thread. Elsewhere
this is a no-op: correctness never depends on it.
"""

from __future__ import annotations

import os
import threading

BACKGROUND_NICENESS = 10


def lower_current_thread_priority(niceness: int = BACKGROUND_NICENESS) -> bool:
    setpriority = getattr(os, "setpriority", None)
    if setpriority is None or not hasattr(threading, "get_native_id"):
        return False
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < niceness:
            setpriority(os.PRIO_PROCESS, tid, niceness)
        return True
    except OSError:
        return False
