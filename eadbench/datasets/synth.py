"""The built-in synthetic data (``eadbench synth``), read through the real layout it imitates.

The writer leaves ``eadbench-synth.json`` at the root naming the layout; this adapter hands the
scan to that layout's adapter (MEAD, HDTF, RAVDESS) and reports the dataset as ``synth``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from eadbench.datasets.base import DATASETS, DatasetAdapter, ScanResult, register_dataset
from eadbench.errors import DatasetLayoutError

MARKER = "eadbench-synth.json"


@register_dataset
class Synth(DatasetAdapter):
    name = "synth"
    description = "built-in synthetic talking faces with real speech (any of the three layouts)"
    layout = f"a folder written by `eadbench synth` (with {MARKER} at its root)"

    def scan(self, root, split=None, **options) -> ScanResult:
        root = self.check_root(root)
        marker = root / MARKER
        if not marker.exists():
            raise DatasetLayoutError(f"synth: {root} has no {MARKER}; expected {self.layout}")
        meta = json.loads(marker.read_text())
        layout = meta.get("layout", "mead")
        if layout == "hdtf" and "split_file" not in options and (root / "_splits" / "hdtf.txt").exists():
            options["split_file"] = root / "_splits" / "hdtf.txt"
        inner = DATASETS.get(layout).scan(root, split=None, **options)
        clips = [dataclasses.replace(c, dataset=self.name, extras={**c.extras, "layout": layout}) for c in inner.clips]
        res = ScanResult(self.name, Path(root), None, clips, inner.skipped, f"synth-{layout}-seed{meta.get('seed', 0)}")
        return res.select(split) if split else res
