"""The process's thread policy, set in one place (``configure``), read by everything that runs threads.

Each scoring process gets one budget of threads: torch's default (the physical cores it may use)
divided by the worker processes of the run. torch's intra-op pool and the image metrics'
per-frame pool each get that budget, and OpenCV runs single-threaded inside them (its own pool,
inside per-frame threads, stacked a third layer of threads on the same cores).
``EADBENCH_THREADS`` (else ``OMP_NUM_THREADS``) sets the budget instead."""

from __future__ import annotations

import os

_BUDGET: int | None = None


def budget() -> int:
    """Threads one scoring process may use (``configure`` sets it)."""
    if _BUDGET is not None:
        return _BUDGET
    for name in ("EADBENCH_THREADS", "OMP_NUM_THREADS"):
        env = os.environ.get(name, "")
        if env.isdigit() and int(env) > 0:
            return int(env)
    import torch

    return torch.get_num_threads()


def configure(workers: int = 1) -> int:
    """Apply the policy for a process that is one of ``workers`` scoring processes; returns the budget."""
    global _BUDGET
    import cv2
    import torch

    if _BUDGET is None:
        _BUDGET = max(1, budget() // max(1, workers))
    torch.set_num_threads(_BUDGET)
    cv2.setNumThreads(1)
    return _BUDGET
