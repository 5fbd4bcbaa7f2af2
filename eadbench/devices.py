"""The one device policy: what "auto" means when no device is named.

``auto_device`` is "cuda" when torch sees a CUDA device, else "cpu". Every place that picks a device
for itself asks it: ``weights.resolve_device`` (``--device auto``, which adds the rank's GPU under
torchrun), EAD-Net's trainer and inference (no device given) and the VLM describer (``--device auto``).
"""

from __future__ import annotations


def auto_device() -> str:
    """The device "auto" means in one process: cuda when torch has CUDA, else cpu (imports torch)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


__all__ = ["auto_device"]
