"""HDTF: clips ``<RD|WDA|WRA>_<name>_<idx>.mp4`` (flat, or in sub-folders).

HDTF has no official split, so results are only comparable with the split named next to
them. The shipped default ``hdtf-hash10-v1`` is identity-disjoint and needs no list: a speaker
(``<prefix>_<name>``) is in test when the first 8 hex digits of sha1(speaker) mod 10 == 0.
A user's split file (``--split-file``) has one entry per line, ``<clip_id or speaker> [train|test]``
(a bare entry means test; ``#`` starts a comment; unlisted clips are train); its name becomes
the split name.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from eadbench.datasets.base import Clip, DatasetAdapter, ScanResult, Skipped, register_dataset
from eadbench.errors import DatasetLayoutError
from eadbench.media import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

NAME = re.compile(r"^(RD|WDA|WRA)_([A-Za-z0-9][A-Za-z0-9_-]*?)_(\d+)$")
DEFAULT_SPLIT = "hdtf-hash10-v1"


def hash_split(speaker: str) -> str:
    return "test" if int(hashlib.sha1(speaker.encode()).hexdigest()[:8], 16) % 10 == 0 else "train"


def read_split_file(path: str | Path) -> dict[str, str]:
    p = Path(path)
    if not p.exists():
        raise DatasetLayoutError(f"split file {p} does not exist")
    table: dict[str, str] = {}
    for i, line in enumerate(p.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.replace(",", " ").split()
        split = parts[1] if len(parts) > 1 else "test"
        if len(parts) > 2 or split not in ("train", "test", "val"):
            raise DatasetLayoutError(f"{p}:{i}: expected '<clip_id or speaker> [train|test|val]', got {line!r}")
        table[parts[0]] = split
    return table


@register_dataset
class HDTF(DatasetAdapter):
    name = "hdtf"
    description = "HDTF: ~400 in-the-wild YouTube speakers; no official split (named split lists)"
    layout = "<RD|WDA|WRA>_<name>_<idx>.mp4 files (flat or in sub-folders), audio from the video or <same name>.wav"

    def scan(self, root, split=None, split_file: str | Path | None = None, **options) -> ScanResult:
        root = self.check_root(root)
        table = read_split_file(split_file) if split_file else None
        split_name = Path(split_file).stem if split_file else DEFAULT_SPLIT
        clips, skipped = [], []
        for f in sorted(root.rglob("*")):
            if f.is_dir() or any(part.startswith(("_", ".")) for part in f.relative_to(root).parts):
                continue
            if f.suffix.lower() in AUDIO_EXTENSIONS + (".json", ".txt"):
                continue  # side audio / metadata, read with its clip
            if f.suffix.lower() not in VIDEO_EXTENSIONS:
                skipped.append(Skipped(str(f), f"not a video file ({f.suffix or 'no extension'})"))
                continue
            m = NAME.match(f.stem)
            if not m:
                skipped.append(Skipped(str(f), "name does not match <RD|WDA|WRA>_<name>_<idx>"))
                continue
            speaker = f"{m.group(1)}_{m.group(2)}"
            if table is not None:
                clip_split = table.get(f.stem, table.get(speaker, "train"))
            else:
                clip_split = hash_split(speaker)
            audio = next((f.with_suffix(e) for e in AUDIO_EXTENSIONS if f.with_suffix(e).exists()), None)
            clips.append(Clip(clip_id=f.stem, dataset=self.name, video=f, speaker=speaker, split=clip_split,
                              audio=audio, extras={"source": m.group(1), "index": int(m.group(3))}))
        if not clips and not skipped:
            raise self.no_clips(root)
        res = ScanResult(self.name, root, None, clips, skipped, split_name)
        return res.select(split) if split else res
