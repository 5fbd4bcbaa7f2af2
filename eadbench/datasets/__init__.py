"""Dataset adapters (one module each); importing this package registers them all."""

from __future__ import annotations

from pathlib import Path

from eadbench.datasets import hdtf, mead, ravdess, synth  # noqa: F401  (registration)
from eadbench.datasets.base import DATASETS, Clip, DatasetAdapter, ScanResult, Skipped, register_dataset


def get(name: str) -> DatasetAdapter:
    return DATASETS.get(name)


def scan(name: str, root: str | Path, split: str | None = None, **options) -> ScanResult:
    """Scan a dataset root into Clip records (file names only: no video is decoded)."""
    return get(name).scan(root, split=split, **options)


__all__ = ["DATASETS", "Clip", "DatasetAdapter", "ScanResult", "Skipped", "register_dataset", "get", "scan"]
