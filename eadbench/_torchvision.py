"""Make ``import torchvision`` work beside a CPU-only torch.

The registry's torchvision wheel pinned to torch 2.13.0 is a CUDA build. Its compiled ops
library cannot load next to the CPU torch wheel, and torchvision's import then fails while
registering fake kernels for ``torchvision::nms`` (an operator that was never defined).
Declaring the two operator schemas ourselves, with a plain-torch NMS, lets the rest of
torchvision (models, transforms) import and work. The patch is applied only when the
compiled library really cannot load; a machine whose torchvision works is left untouched.

It runs just before torchvision is first imported, whoever imports it (torchmetrics, lpips,
the user's code): ``eadbench._tvhook`` puts an import hook in place, from ``import eadbench``
and, in the environment ``scripts/install.sh`` builds, from a startup ``.pth`` file, so the
import order never matters. Nothing here imports torch until the patch is needed.
"""

from __future__ import annotations

import importlib.util
import os
import sys

#: Set to True once the fallback operators were registered in this process.
PATCHED = False


def _compiled_ops_load() -> bool:
    import torch

    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # not installed: nothing to patch, the import error will speak for itself
    folder = list(spec.submodule_search_locations)[0]
    libs = [f for f in os.listdir(folder) if f.startswith("_C") and f.endswith((".so", ".pyd"))]
    if not libs:
        return False
    try:
        torch.ops.load_library(os.path.join(folder, libs[0]))
    except (OSError, RuntimeError):
        return False
    return True


def needs_patch() -> bool:
    """True when torchvision is installed but its compiled ops cannot load with this torch."""
    return importlib.util.find_spec("torchvision") is not None and not _compiled_ops_load()


def nms_reference(boxes, scores, iou_threshold: float):
    """Greedy non-maximum suppression (same contract as torchvision.ops.nms), in numpy
    (``greedy_keep`` over the boxes sorted by decreasing score, ties in index order)."""
    import numpy as np
    import torch

    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.int64, device=boxes.device)
    b = boxes.detach().cpu().double().numpy()
    order = np.argsort(-scores.detach().cpu().double().numpy(), kind="stable")
    keep = order[greedy_keep(b[order], iou_threshold)]
    return torch.as_tensor(keep.astype(np.int64), device=boxes.device)


def greedy_keep(b, threshold: float):
    """Greedy NMS of boxes ``b`` (N, 4) float64 x1 y1 x2 y2, sorted best first: a bool mask of the
    kept ones. Each kept box suppresses, in one vectorised step, every later box whose IoU with it
    is above ``threshold`` (the one NMS kernel of eadbench: torchvision's fallback and the face
    detector's per-frame NMS, ``eadbench.faces.cascade``)."""
    import numpy as np

    x1, y1, x2, y2 = b.T
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    alive = np.ones(len(b), dtype=bool)
    for i in range(len(b)):
        if not alive[i]:
            continue
        rest = np.flatnonzero(alive[i + 1:]) + i + 1
        if rest.size == 0:
            break
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 (empty boxes) is nan: never above
            iou = inter / (areas[i] + areas[rest] - inter)
        alive[rest[iou > threshold]] = False
    return alive


def ensure_torchvision_importable() -> bool:
    """Register fallback ``torchvision::nms``/``qnms`` when the compiled ops cannot load.

    Returns True when the fallback was installed (now or earlier in this process).
    """
    global PATCHED
    if PATCHED:
        return True
    # the import hook (eadbench._tvhook) has done its job and must not re-enter through find_spec below;
    # removed by its module name so that this module never imports the hook's (no import cycle)
    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != "eadbench._tvhook"]
    if "torchvision" in sys.modules or os.environ.get("EADBENCH_NO_TORCHVISION_PATCH") == "1":
        return False
    if _compiled_ops_load():
        return False
    import torch

    lib = torch.library.Library("torchvision", "DEF")  # noqa: F841 - kept alive below
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    impl = torch.library.Library("torchvision", "IMPL", "CompositeExplicitAutograd")
    impl.impl("nms", nms_reference)
    impl.impl("qnms", nms_reference)
    _KEEP_ALIVE.extend([lib, impl])
    PATCHED = True
    return True


_KEEP_ALIVE: list = []
