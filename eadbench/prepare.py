"""`eadbench prepare`: the per-clip preprocessing every consumer shares (training, scoring).

Per clip: ``video.mp4`` (25 fps, driving audio muxed), ``audio.wav`` (16 kHz mono),
``crops/<protocol>.mp4`` for each crop protocol, and ``meta.json`` (clip record, source hash,
detector and its weights' hashes, crop protocols with versions and the frames where no face
was found). Each clip is built in a temporary folder and renamed into place, so an
interrupted clip is redone and never left half-written; finished clips are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from eadbench import faces, media
from eadbench.datasets.base import Clip
from eadbench.errors import EadbenchError
from eadbench.weights import file_sha256, locate

META_VERSION = 1


@dataclass
class PreparedClip:
    clip_id: str
    dir: Path
    video: Path
    audio: Path
    crops: dict[str, Path]
    meta: dict


@dataclass
class PrepareReport:
    prepared: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def _source_hash(clip: Clip) -> str:
    parts = [file_sha256(clip.video)] + ([file_sha256(clip.audio)] if clip.audio else [])
    return "+".join(parts)


def _detector_info() -> dict:
    return {"name": faces.DETECTOR, "weights": {n: file_sha256(locate(n).path)
                                                for n in ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet")}}


def is_done(dest: Path, source_hash: str, protocols: tuple[str, ...]) -> bool:
    meta = dest / "meta.json"
    if not meta.exists():
        return False
    try:
        m = json.loads(meta.read_text())
    except json.JSONDecodeError:
        return False
    return (m.get("source_sha256") == source_hash and m.get("meta_version") == META_VERSION
            and set(protocols) <= set(m.get("crops", {})))


def prepare_clip(clip: Clip, dest: Path, protocols: tuple[str, ...], source_hash: str) -> None:
    frames = media.read_frames(clip.video)
    audio = media.read_audio(clip.audio_source)
    media.check_audio_covers(clip.audio_source, audio, len(frames))
    audio = audio[: int(round(len(frames) / media.VIDEO_FPS * media.AUDIO_RATE))]
    track = faces.track_clip(frames)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        media.write_video(tmp / "video.mp4", frames, audio=audio)
        media.write_wav(tmp / "audio.wav", audio)
        crops = {}
        for p in protocols:
            res = faces.crop_clip(frames, p, track)
            media.write_video(tmp / "crops" / f"{p}.mp4", res.frames)
            pr = res.protocol
            crops[p] = {"name": pr.name, "version": pr.version, "size": pr.size, "interpolation": pr.interpolation,
                        "n_frames": len(res.frames), "missing_face_frames": res.missing}
        meta = {"meta_version": META_VERSION, "clip": clip.to_dict(), "source_sha256": source_hash,
                "detector": _detector_info(), "fps": media.VIDEO_FPS, "sample_rate": media.AUDIO_RATE,
                "n_frames": len(frames), "crops": crops}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def prepare_dataset(dataset: str, root: str | Path, out: str | Path, split: str | None = None,
                    protocols: tuple[str, ...] = ("syncnet", "face256"), limit: int | None = None,
                    progress: bool = True, **options) -> PrepareReport:
    from tqdm import tqdm

    from eadbench import datasets

    for p in protocols:
        faces.CROP_PROTOCOLS.get(p)  # unknown protocol: one clear error before any work
    scan = datasets.scan(dataset, root, split=split, **options)
    clips = sorted(scan.clips, key=lambda c: c.clip_id)[:limit] if limit else sorted(scan.clips, key=lambda c: c.clip_id)
    base = Path(out) / dataset
    report = PrepareReport()
    bar = tqdm(clips, desc=f"prepare {dataset}", unit="clip", disable=not progress)
    for clip in bar:
        dest = base / clip.clip_id
        try:
            src = _source_hash(clip)
            if is_done(dest, src, protocols):
                report.skipped.append(clip.clip_id)
                continue
            prepare_clip(clip, dest, protocols, src)
            report.prepared.append(clip.clip_id)
        except (EadbenchError, OSError) as exc:
            report.failed.append((clip.clip_id, str(exc)))
        bar.set_postfix(failed=len(report.failed))
    base.mkdir(parents=True, exist_ok=True)
    fails = base / "failures.jsonl"
    fails.write_text("".join(json.dumps({"clip_id": c, "reason": r}) + "\n" for c, r in report.failed))
    return report


def iter_prepared(root: str | Path) -> Iterator[PreparedClip]:
    """Prepared clips under ``root`` (a dataset folder of `prepare`'s output, or its parent)."""
    root = Path(root)
    for meta in sorted(root.glob("*/meta.json")) + sorted(root.glob("*/*/meta.json")):
        d = meta.parent
        if d.name.startswith("."):
            continue
        m = json.loads(meta.read_text())
        yield PreparedClip(d.name, d, d / "video.mp4", d / "audio.wav",
                           {p: d / "crops" / f"{p}.mp4" for p in m.get("crops", {})}, m)
