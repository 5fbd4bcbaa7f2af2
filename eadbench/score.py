"""Score existing files with any registered metric (the library behind `eadbench score`).

Inputs: a folder of images (one set of frames; paired with the other folder by sorted file
name for paired metrics, unpaired for FID), a single video, or a folder of videos (paired by
file name; FVD over all of them). ``crop``: ``auto`` crops faces for the face metrics (LSE,
emotion, LMD, CSIM) with their own protocol and gives image metrics the inputs as they are;
``none`` takes every input as an already-cropped face; a protocol name crops everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eadbench import media
from eadbench.errors import EadbenchError, MetricInputError
from eadbench.metrics import METRICS
from eadbench.metrics.base import ClipInput, MetricContext

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


@dataclass
class Item:
    name: str
    frames: np.ndarray
    path: Path
    audio: np.ndarray | None = None


def _image_set(folder: Path) -> Item:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    imgs = [media.read_image(p) for p in files]
    sizes = {im.shape for im in imgs}
    if len(sizes) > 1:
        raise MetricInputError(f"{folder}: images of different sizes {sorted(sizes)[:3]}; resize or crop them first")
    return Item(folder.name, np.stack(imgs), folder)


def load_items(path: str | Path, audio: str | Path | None = None) -> list[Item]:
    p = Path(path)
    if not p.exists():
        raise MetricInputError(f"{p} does not exist")
    if p.is_file():
        return [_video_item(p, audio)]
    vids = sorted(q for q in p.iterdir() if q.suffix.lower() in media.VIDEO_EXTENSIONS)
    imgs = [q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTENSIONS]
    if vids and imgs:
        raise MetricInputError(f"{p} mixes videos and images; give one kind per folder")
    if vids:
        return [_video_item(v, None) for v in vids]
    if imgs:
        return [_image_set(p)]
    raise MetricInputError(f"{p} is empty: no images ({', '.join(IMAGE_EXTENSIONS)}) or videos found")


def _video_item(p: Path, audio) -> Item:
    frames = media.read_frames(p)
    a = None
    try:
        a = media.read_audio(audio or p)
    except EadbenchError:
        if audio:
            raise
    return Item(p.stem, frames, p, a)


def pair(fake: list[Item], real: list[Item] | None, paired: bool) -> list[tuple[Item, Item | None]]:
    if real is None:
        return [(f, None) for f in fake]
    if len(fake) == 1 and len(real) == 1:
        if paired and len(fake[0].frames) != len(real[0].frames) and fake[0].path.is_dir():
            raise MetricInputError(f"{len(fake[0].frames)} generated vs {len(real[0].frames)} real images: "
                                   "paired metrics need the same count")
        return [(fake[0], real[0])]
    by_name = {r.name: r for r in real}
    missing = [f.name for f in fake if f.name not in by_name]
    if missing:
        raise MetricInputError(f"no real counterpart for {len(missing)} file(s), e.g. {missing[0]}; "
                               "videos are paired by file name")
    return [(f, by_name[f.name]) for f in fake]


#: Paired videos whose frame counts differ by more than this are refused (a generator that
#: dropped or added frames would otherwise be compared with the wrong frames, silently).
MAX_LENGTH_MISMATCH = 2


def score(metrics: list[str], fake, real=None, audio=None, emotion: str | None = None, protocol: str | None = None,
          crop: str = "auto", weights_dir: str | None = None, trust_weights: bool = False,
          allow_length_mismatch: bool = False) -> list[dict[str, Any]]:
    from eadbench.labels import canonical

    target = canonical(emotion) if emotion else None  # a misspelt emotion: one line, before any decoding
    for name in metrics:
        METRICS.get(name)
    fake_items = load_items(fake, audio)
    real_items = load_items(real) if real else None
    results = []
    for name in metrics:
        try:
            results.append(_score_metric(name, fake_items, real_items, target, protocol, crop, weights_dir,
                                         trust_weights, allow_length_mismatch))
        except EadbenchError as exc:  # one metric's failure never hides the others' values
            results.append({"metric": name, "value": None, "values": {}, "error": str(exc),
                            "exit_code": exc.exit_code, "protocol": None, "n": 0, "n_failed": 0, "failures": {},
                            "per_item": {}, "weights": {}, "facts": {}, "notes": []})
    return results


def _score_metric(name: str, fake_items: list[Item], real_items: list[Item] | None, target: str | None,
                  protocol: str | None, crop: str, weights_dir: str | None, trust_weights: bool,
                  allow_length_mismatch: bool) -> dict[str, Any]:
    from eadbench import faces

    info = METRICS.get(name)
    if "real" in info.needs and real_items is None:
        raise MetricInputError(f"metric {name} compares with real frames: give --real")
    if "emotion" in info.needs and target is None:
        raise MetricInputError(f"metric {name} needs the target emotion: give --emotion")
    ev = info.factory(MetricContext(weights_dir=weights_dir, trust_weights=trust_weights, protocol=protocol,
                                    options={"crop": crop}))
    outputs, per_item, failures = [], {}, {}
    for f, r in pair(fake_items, real_items, info.level == "clip"):
        fk, rl = f.frames, r.frames if r is not None else None
        if crop not in ("auto", "none"):
            fk = faces.crop_clip(fk, crop).frames
            rl = faces.crop_clip(rl, crop).frames if rl is not None else None
        frames = {"fake": len(fk)} if rl is None else {"fake": len(fk), "real": len(rl)}
        if rl is not None and info.level == "clip" and f.path.is_file():
            n = min(len(fk), len(rl))
            if abs(len(fk) - len(rl)) > MAX_LENGTH_MISMATCH and not allow_length_mismatch:
                failures[f.name] = (f"{len(fk)} generated vs {len(rl)} real frames: more than "
                                    f"{MAX_LENGTH_MISMATCH} apart, so frames would be paired wrongly "
                                    "(--allow-length-mismatch compares the first frames of each)")
                continue
            fk, rl = fk[:n], rl[:n]
            frames["used"] = n
        item = ClipInput(clip_id=f.name, fake=fk, real=rl, audio=f.audio, emotion=target,
                         faces=_faces(fk, rl, crop))
        try:
            out = ev.clip(item)
        except EadbenchError as exc:
            failures[f.name] = str(exc)
            continue
        outputs.append(out)
        if info.level == "clip":
            per_item[f.name] = {**{k: v for k, v in out.items() if not isinstance(v, np.ndarray)},
                                "frames": frames}
    if not outputs:
        raise MetricInputError(f"no item could be scored; first reason: {next(iter(failures.values()))}")
    reduced = ev.reduce(outputs)
    return {
        "metric": name, "value": reduced.get(info.outputs[0]), "values": dict(reduced),
        "protocol": reduced.get("protocol") or f"{info.protocol}@{info.protocol_version}",
        "n": len(outputs), "n_failed": len(failures), "failures": failures, "per_item": per_item,
        "weights": ev.weights_used(), "facts": ev.facts(), "notes": list(ev.notes), "error": None,
    }


def _faces(fake, real, crop):
    from eadbench import faces

    memo = {}

    def get(which: str, protocol: str) -> np.ndarray:
        frames = fake if which == "fake" else real
        if crop != "auto":  # already cropped (none) or cropped above with the chosen protocol
            return frames
        if (which, protocol) not in memo:
            memo[(which, protocol)] = faces.crop_clip(frames, protocol).frames
        return memo[(which, protocol)]

    return get
