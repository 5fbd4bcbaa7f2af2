"""Clip records and the dataset-adapter contract shared by every dataset module."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eadbench.errors import DatasetLayoutError
from eadbench.registry import Registry


@dataclass(frozen=True)
class Clip:
    """One talking-head clip: the unit every generator and metric works on.

    ``clip_id`` is unique within its dataset and safe as a file name.
    ``audio`` is None when the audio track of ``video`` is the driving audio.
    ``intensity`` is the dataset's discrete level (MEAD 1-3, RAVDESS 1-2), ``None`` when the
    dataset has none; ``intensity_scalar`` maps it onto [0, 1] for continuous conditioning.
    """

    clip_id: str
    dataset: str
    video: Path
    speaker: str
    split: str
    audio: Path | None = None
    emotion: str | None = None
    intensity: int | None = None
    intensity_levels: int | None = None
    extras: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def intensity_scalar(self) -> float | None:
        if self.intensity is None or not self.intensity_levels:
            return None
        return self.intensity / self.intensity_levels

    @property
    def audio_source(self) -> Path:
        return self.audio if self.audio is not None else self.video

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["video"] = str(self.video)
        d["audio"] = str(self.audio) if self.audio is not None else None
        return d


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str

    @property
    def kind(self) -> str:
        """The reason without its particulars (what follows ':' or '(', quoted names, words with
        digits such as clip ids): how skipped files are counted by reason."""
        head = re.split(r":| \(", self.reason, maxsplit=1)[0]
        return " ".join(w for w in re.sub(r"'[^']*'", "", head).split() if not any(ch.isdigit() for ch in w))


@dataclass
class ScanResult:
    dataset: str
    root: Path
    split: str | None
    clips: list[Clip]
    skipped: list[Skipped]
    split_name: str | None = None  # e.g. "mead-eat-test" or a user split file's name

    def select(self, split: str | None) -> "ScanResult":
        clips = self.clips if split is None else [c for c in self.clips if c.split == split]
        return ScanResult(self.dataset, self.root, split, clips, self.skipped, self.split_name)

    def skipped_by_reason(self) -> dict[str, int]:
        """{reason kind: files skipped for it}, most frequent first."""
        return dict(Counter(sk.kind for sk in self.skipped).most_common())

    def split_hash(self) -> str:
        """Hash of the clip ids (sorted) of this selection: printed with every result."""
        h = hashlib.sha256("\n".join(sorted(c.clip_id for c in self.clips)).encode())
        return h.hexdigest()[:16]

    def summary(self) -> dict[str, Any]:
        def count(key):
            c = Counter(str(key(clip)) for clip in self.clips)
            return dict(sorted(c.items()))

        return {
            "dataset": self.dataset,
            "root": str(self.root),
            "split": self.split,
            "split_name": self.split_name,
            "clips": len(self.clips),
            "by_split": count(lambda c: c.split),
            "by_emotion": count(lambda c: c.emotion),
            "by_intensity": count(lambda c: c.intensity),
            "by_speaker": count(lambda c: c.speaker),
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


class DatasetAdapter:
    """Scans a dataset root into Clip records. One subclass per dataset module."""

    name: str = ""
    description: str = ""
    #: A one-line description of the expected tree, used in layout errors.
    layout: str = ""

    def scan(self, root: Path | str, split: str | None = None, **options: Any) -> ScanResult:
        raise NotImplementedError

    def check_root(self, root: Path | str) -> Path:
        root = Path(root)
        if not root.is_dir():
            raise DatasetLayoutError(f"{self.name}: root {root} is not a folder; expected {self.layout}")
        if not any(root.iterdir()):
            raise DatasetLayoutError(f"{self.name}: root {root} is empty; expected {self.layout}")
        return root

    def no_clips(self, root: Path) -> DatasetLayoutError:
        return DatasetLayoutError(f"{self.name}: no clips found under {root}; expected {self.layout}")


DATASETS: Registry[DatasetAdapter] = Registry("dataset")


def register_dataset(cls):
    """Class decorator: instantiate the adapter and register it under ``cls.name``."""
    DATASETS.add(cls.name, cls())
    return cls
