"""Dataset adapters (one module each); importing this package registers them all."""

from __future__ import annotations

from pathlib import Path

from eadbench import plugins
from eadbench.datasets import hdtf, mead, ravdess, synth  # noqa: F401  (registration)
from eadbench.datasets.base import DATASETS, Clip, DatasetAdapter, ScanResult, Skipped, register_dataset
from eadbench.errors import DatasetLayoutError


def _register_plugin(obj: object) -> None:
    if issubclass(obj, DatasetAdapter) and obj.name not in DATASETS:
        register_dataset(obj)


plugins.load("eadbench.datasets", _register_plugin)


def get(name: str) -> DatasetAdapter:
    return DATASETS.get(name)


def scan(name: str, root: str | Path, split: str | None = None, **options) -> ScanResult:
    """Scan a dataset root into Clip records (file names only: no video is decoded).

    A clip id met twice (the same name in two folders, or as .mp4 and .mov) keeps its first
    file in path order; the others are listed as skipped with the reason, never merged. A split
    with no clip is an error naming the splits present."""
    full = dedupe(get(name).scan(root, split=None, **options))
    if split is None:
        return full
    sel = full.select(split)
    if not sel.clips:
        have = sorted({c.split for c in full.clips})
        raise DatasetLayoutError(f"no clips in split {split!r} of {name} at {root}; splits present: "
                                 f"{', '.join(have) or 'none'}")
    return sel


def dedupe(res: ScanResult) -> ScanResult:
    first: dict[str, Clip] = {}
    skipped = list(res.skipped)
    for clip in sorted(res.clips, key=lambda c: str(c.video)):
        if clip.clip_id in first:
            skipped.append(Skipped(str(clip.video), f"duplicate clip id {clip.clip_id}: "
                                                    f"{first[clip.clip_id].video} is used"))
        else:
            first[clip.clip_id] = clip
    kept = [c for c in res.clips if first.get(c.clip_id) is c]
    return ScanResult(res.dataset, res.root, res.split, kept, skipped, res.split_name)


__all__ = ["DATASETS", "Clip", "DatasetAdapter", "ScanResult", "Skipped", "register_dataset", "get", "scan"]
