"""The process's thread policy, set in one place (``configure``), read by everything that runs threads.

Each scoring process gets one budget of threads: the usable cores divided by the worker processes
of the run. torch's intra-op pool and the image metrics' per-frame pool each get that budget, and
OpenCV runs single-threaded inside them (its own pool, inside per-frame threads, stacked a third
layer of threads on the same cores). ``EADBENCH_THREADS`` overrides the budget."""

from __future__ import annotations

import os

_BUDGET: int | None = None


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def budget() -> int:
    """Threads one scoring process may use (``configure`` sets it; the cores until then)."""
    if _BUDGET is not None:
        return _BUDGET
    env = os.environ.get("EADBENCH_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else usable_cores()


def configure(workers: int = 1) -> int:
    """Apply the policy for a process that is one of ``workers`` scoring processes; returns the budget."""
    global _BUDGET
    import cv2
    import torch

    _BUDGET = None
    _BUDGET = max(1, budget() // max(1, workers))
    torch.set_num_threads(_BUDGET)
    cv2.setNumThreads(1)
    return _BUDGET
