"""RAVDESS: ``Actor_NN/MM-VV-EE-II-SS-RR-AA.mp4`` with every field parsed.

Fields: modality (01 audio-video, 02 video-only, 03 audio-only), vocal channel (01 speech,
02 song), emotion (01 neutral ... 08 surprised), intensity (01 normal, 02 strong; neutral has no
strong), statement (01/02), repetition (01/02), actor (01-24, odd male, even female).
Talking-head clips are audio-video speech by default. RAVDESS serves cross-dataset
generalisation, so every clip is in split ``test``. ``calm`` (no MEAD counterpart) follows the
``calm`` option: ``keep`` (default; classifiers then exclude and count it), ``neutral``, ``exclude``.
"""

from __future__ import annotations

import re

from eadbench.datasets.base import Clip, DatasetAdapter, ScanResult, Skipped, register_dataset
from eadbench.errors import ChoiceError
from eadbench.labels import CALM_POLICIES, RAVDESS_CODE_TO_CANONICAL, apply_calm_policy
from eadbench.media import VIDEO_EXTENSIONS

NAME = re.compile(r"^(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d{2})$")
ACTOR_DIR = re.compile(r"^Actor_(\d{2})$")
MODALITY = {"01": "audio-video", "02": "video-only", "03": "audio-only"}
CHANNEL = {"01": "speech", "02": "song"}


@register_dataset
class RAVDESS(DatasetAdapter):
    name = "ravdess"
    description = "RAVDESS: 24 actors, 8 emotions incl. calm, 2 intensities (cross-dataset test set)"
    layout = "Actor_NN/MM-VV-EE-II-SS-RR-AA.mp4 (RAVDESS file naming)"

    def scan(self, root, split=None, calm: str = "keep", modalities: tuple[str, ...] = ("01",),
             channels: tuple[str, ...] = ("01",), **options) -> ScanResult:
        if calm not in CALM_POLICIES:
            raise ChoiceError(f"--calm must be one of {', '.join(CALM_POLICIES)}, got {calm!r}")
        root = self.check_root(root)
        clips, skipped = [], []
        for f in sorted(root.rglob("*")):
            if f.is_dir() or any(p.startswith(("_", ".")) for p in f.relative_to(root).parts):
                continue
            if f.name == "eadbench-synth.json":  # the synthetic data's marker, not a clip
                continue
            if f.suffix.lower() not in VIDEO_EXTENSIONS + (".wav",):
                skipped.append(Skipped(str(f), f"not a RAVDESS media file ({f.suffix or 'no extension'})"))
                continue
            m = NAME.match(f.stem)
            if not m:
                skipped.append(Skipped(str(f), "name does not match MM-VV-EE-II-SS-RR-AA"))
                continue
            mod, chan, emo, inten, stmt, rep, actor = m.groups()
            dm = ACTOR_DIR.match(f.parent.name)
            if not dm:
                skipped.append(Skipped(str(f), "not inside an Actor_NN folder"))
                continue
            if dm.group(1) != actor:
                skipped.append(Skipped(str(f), f"actor field {actor} does not match folder {f.parent.name}"))
                continue
            if not 1 <= int(actor) <= 24:
                skipped.append(Skipped(str(f), f"actor {actor} outside 01-24"))
                continue
            if emo == "01" and inten == "02":
                skipped.append(Skipped(str(f), "neutral has no strong intensity in RAVDESS"))
                continue
            if mod not in modalities or f.suffix.lower() == ".wav":
                skipped.append(Skipped(str(f), f"{MODALITY[mod]} file (talking-head clips are audio-video)"))
                continue
            if chan not in channels:
                skipped.append(Skipped(str(f), f"{CHANNEL[chan]} clip (only speech by default)"))
                continue
            label = apply_calm_policy(RAVDESS_CODE_TO_CANONICAL[emo], calm)
            if label is None:
                skipped.append(Skipped(str(f), "calm clip excluded by --calm exclude"))
                continue
            clips.append(Clip(
                clip_id=f.stem, dataset=self.name, video=f, speaker=f"Actor_{actor}", split="test",
                emotion=label, intensity=int(inten), intensity_levels=2,
                extras={"modality": MODALITY[mod], "vocal_channel": CHANNEL[chan], "emotion_code": emo,
                        "original_emotion": RAVDESS_CODE_TO_CANONICAL[emo], "statement": int(stmt),
                        "repetition": int(rep), "actor": int(actor),
                        "gender": "male" if int(actor) % 2 else "female"},
            ))
        if not clips and not skipped:
            raise self.no_clips(root)
        res = ScanResult(self.name, root, None, clips, skipped, "ravdess-all-test-v1")
        return res.select(split) if split else res
