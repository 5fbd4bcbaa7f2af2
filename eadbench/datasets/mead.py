"""MEAD: ``<actor>/video/<view>/<emotion>/level_<n>/<id>.mp4`` + ``<actor>/audio/<emotion>/level_<n>/<id>.m4a``.

Test split = the actors in the shipped split file (EAT protocol: M003, M030, W009, W015),
train = every other actor. Intensity levels 1-3; neutral has only level 1.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from eadbench.datasets.base import Clip, DatasetAdapter, ScanResult, Skipped, register_dataset
from eadbench.errors import ChoiceError
from eadbench.labels import EMOTIONS
from eadbench.media import AUDIO_EXTENSIONS, VIDEO_EXTENSIONS

ACTOR = re.compile(r"^[MW]\d{3}$")
LEVEL = re.compile(r"^level_([123])$")
VIEWS = ("front", "down", "left_30", "left_60", "right_30", "right_60", "top")
SPLIT_NAME = "mead-eat-test-v1"


def test_actors() -> set[str]:
    text = resources.files("eadbench.datasets").joinpath("splits/mead-test.txt").read_text()
    return {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}


@register_dataset
class MEAD(DatasetAdapter):
    name = "mead"
    description = "MEAD: 60 actors, 8 emotions x 3 intensities, 7 views (test: M003 M030 W009 W015)"
    layout = ("<actor>/video/<view>/<emotion>/level_<n>/<id>.mp4 with audio in "
              "<actor>/audio/<emotion>/level_<n>/<id>.m4a")

    def scan(self, root, split=None, view: str = "front", **options) -> ScanResult:
        root = self.check_root(root)
        if view not in VIEWS:
            raise ChoiceError(f"MEAD view must be one of {', '.join(VIEWS)}, got {view!r}")
        tests = test_actors()
        clips, skipped = [], []
        actors = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
        for actor_dir in actors:
            if not ACTOR.match(actor_dir.name):
                skipped.append(Skipped(str(actor_dir), "folder is not an actor id like M003 or W015"))
                continue
            vroot = actor_dir / "video" / view
            if not vroot.is_dir():
                skipped.append(Skipped(str(actor_dir), f"no video/{view} folder"))
                continue
            for f in sorted(vroot.rglob("*")):
                if f.is_dir():
                    continue
                clip = self._clip(root, actor_dir.name, view, vroot, f, skipped)
                if clip is not None:
                    clip_split = "test" if actor_dir.name in tests else "train"
                    clips.append(Clip(**{**clip, "split": clip_split}))
        if not clips and not skipped:
            raise self.no_clips(root)
        res = ScanResult(self.name, root, None, clips, skipped, SPLIT_NAME)
        return res.select(split) if split else res

    def _clip(self, root: Path, actor: str, view: str, vroot: Path, f: Path, skipped: list) -> dict | None:
        rel = f.relative_to(vroot).parts
        if f.suffix.lower() not in VIDEO_EXTENSIONS:
            skipped.append(Skipped(str(f), f"not a video file ({f.suffix or 'no extension'})"))
            return None
        if len(rel) != 3:
            skipped.append(Skipped(str(f), "expected <emotion>/level_<n>/<id>.mp4 under the view folder"))
            return None
        emotion, level, name = rel
        if emotion not in EMOTIONS:
            skipped.append(Skipped(str(f), f"unknown emotion folder {emotion!r}"))
            return None
        m = LEVEL.match(level)
        if not m:
            skipped.append(Skipped(str(f), f"bad intensity folder {level!r} (expected level_1..level_3)"))
            return None
        n = int(m.group(1))
        if emotion == "neutral" and n != 1:
            skipped.append(Skipped(str(f), "neutral has only level_1 in MEAD"))
            return None
        audio = None
        for ext in AUDIO_EXTENSIONS:
            cand = root / actor / "audio" / emotion / level / (f.stem + ext)
            if cand.exists():
                audio = cand
                break
        return dict(
            clip_id=f"{actor}_{view}_{emotion}_{level}_{f.stem}", dataset=self.name, video=f, speaker=actor,
            split="", audio=audio, emotion=emotion, intensity=n, intensity_levels=3,
            extras={"view": view, "gender": "male" if actor[0] == "M" else "female",
                    "audio_source": "side file" if audio else "video track"},
        )
