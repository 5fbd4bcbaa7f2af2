"""eadbench: a reproducible evaluation harness for emotion-aware talking-head generation."""

from eadbench._torchvision import ensure_torchvision_importable as _ensure_tv

__version__ = "0.1.0"

_ensure_tv()

__all__ = ["__version__"]
