"""The one device policy: what "auto" means when no device is named, which ``--device`` values are
accepted, and the float32 numerics metrics keep on every device.

``auto_device`` is "cuda" when torch sees a CUDA device, else "cpu". Every place that picks a device
for itself asks it: ``resolve_device`` (``--device auto``, which adds the rank's GPU under
torchrun; the ``WeightStore`` resolves its device with it), EAD-Net's trainer and inference (no
device given) and the VLM describer (``--device auto``). ``check_device`` refuses a malformed
``--device`` before anything runs; ``exact_metrics_mode`` turns TF32 off on CUDA.
"""

from __future__ import annotations

import os
import re


def auto_device() -> str:
    """The device "auto" means in one process: cuda when torch has CUDA, else cpu (imports torch)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device: str | None) -> str:
    """``device`` lower-cased when it is one of the accepted forms (auto, cpu, cuda, cuda:N), else a
    one-line error naming them; whether CUDA is there is ``resolve_device``'s question."""
    from eadbench.errors import ChoiceError

    d = (device or "auto").strip().lower()
    if not re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", d):
        raise ChoiceError(f"--device must be auto, cpu, cuda or cuda:N (N a GPU number), got {device!r}")
    return d


def resolve_device(device: str | None = "auto") -> str:
    """``auto`` -> ``cuda:<LOCAL_RANK>`` (torchrun) or ``cuda`` when CUDA is available, else
    ``cpu``; ``cuda``/``cuda:N``/``cpu`` as given, with a one-line error when CUDA is absent."""
    import torch

    from eadbench.errors import ChoiceError

    d = check_device(device)
    if d == "auto":
        if auto_device() == "cpu":
            return "cpu"
        rank = os.environ.get("LOCAL_RANK")
        return f"cuda:{int(rank) % torch.cuda.device_count()}" if rank is not None else "cuda"
    if d == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise ChoiceError(f"--device {device}: CUDA is not available on this machine (use cpu or auto)")
    if d.startswith("cuda:") and int(d[5:]) >= torch.cuda.device_count():
        raise ChoiceError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return d


def exact_metrics_mode(device: str) -> None:
    """Metrics are float32 on every device: no TF32 matmuls or convolutions on CUDA."""
    import torch

    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


__all__ = ["auto_device", "check_device", "exact_metrics_mode", "resolve_device"]
