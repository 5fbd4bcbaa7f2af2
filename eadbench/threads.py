"""The process's thread policy, set in one place (``configure``), read by everything that runs threads.

Each scoring process gets one budget of threads: torch's default (the physical cores it may use)
divided by the worker processes of the run (``EADBENCH_THREADS``, else ``OMP_NUM_THREADS``, sets
it instead). Where the budget goes was measured on real clips (issue 24; README "Performance"):

* the image metrics' per-frame pool (SSIM, PSNR) gets the whole budget: each frame is one
  OpenCV/numpy call that releases the GIL, so its threads scale with no synchronisation cost;
* torch's intra-op pool gets ``TORCH_THREADS`` (1): the networks eadbench runs per frame are
  small (MTCNN's 12-48 px inputs, the face mesh, a 64x64 emotion CNN, I3D on 16 frames of 224²)
  and their OpenMP threads spent more CPU waiting than computing: on two cores, two threads
  cost 2.2x the CPU-seconds of one for face detection and 1.3-2.5x for FVD and Acc_emo, for
  little or no gain in wall time. ``EADBENCH_TORCH_THREADS`` overrides it (a GPU run, or a
  machine where a large network dominates);
* the BLAS libraries numpy and scipy load (OpenBLAS, up to three copies) get one thread: their
  work here is small matrices (Frechet distances of 400-d features: a 400² eigendecomposition
  took 5x the CPU on two threads), and their spinning threads fought torch's for the cores;
* a generator (EAD-Net's U-Net and VAE: large convolutions that do scale with threads) gets
  torch's pool at the whole budget while it generates (``whole_budget``);
* OpenCV runs single-threaded inside the frame pool (its own pool there stacked a third layer of
  threads on the same cores).
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager

_BUDGET: int | None = None
#: torch's intra-op threads in a scoring process (see the module docstring)
TORCH_THREADS = 1


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


def torch_threads(budget_: int) -> int:
    """torch's intra-op threads for a process with ``budget_`` threads."""
    env = os.environ.get("EADBENCH_TORCH_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return min(TORCH_THREADS, budget_)


def limit_blas(threads: int = 1) -> None:
    """Cap every BLAS library loaded so far (numpy's, scipy's, others') at ``threads``."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it the libraries keep their defaults
        return
    import numpy  # noqa: F401 - load the BLAS libraries first, so the cap reaches them
    import scipy.linalg  # noqa: F401

    threadpool_limits(limits=threads, user_api="blas")


def configure(workers: int = 1) -> int:
    """Apply the policy for a process that is one of ``workers`` scoring processes; returns the budget."""
    global _BUDGET
    import cv2
    import torch

    if _BUDGET is None:
        _BUDGET = max(1, budget() // max(1, workers))
    torch.set_num_threads(torch_threads(_BUDGET))
    cv2.setNumThreads(1)
    limit_blas(1)
    return _BUDGET


@contextmanager
def whole_budget():
    """torch's intra-op pool at the whole budget for the block (a generator's large networks),
    then back to what it was."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(before, budget()))
    try:
        yield
    finally:
        torch.set_num_threads(before)


_SCRATCH = threading.local()


def scratch(name: str, size: int, dtype):
    """A flat numpy buffer of at least ``size`` elements, this thread's own, reused across calls
    with the same ``name`` (grown when a larger one is asked for; its contents are left over from
    the last call): the per-frame work (SSIM, PSNR, the detector's integral images) allocates
    nothing per frame, and two threads never share one."""
    import numpy as np

    bufs = _SCRATCH.__dict__.setdefault("bufs", {})
    buf = bufs.get(name)
    if buf is None or buf.size < size or buf.dtype != dtype:
        buf = bufs[name] = np.empty(size, dtype)
    return buf[:size]
