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
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from eadbench import faces, media
from eadbench.atomic import atomic_write_text, clean_partials, ensure_folder, partial_dir, replace_folder
from eadbench.datasets.base import Clip
from eadbench.errors import DatasetLayoutError, EadbenchError, FaceNotFoundError
from eadbench.jsonio import dumps
from eadbench.locking import claim_folder
from eadbench.weights import file_sha256

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


def _detector_info(store=None) -> dict:
    from eadbench.nets.mtcnn import WEIGHTS
    from eadbench.weights import WeightStore

    store = store or WeightStore()
    return {"name": faces.DETECTOR, "weights": {n: store.sha256(n) for n in WEIGHTS}}


def read_meta(path: Path) -> dict | None:
    """A prepared clip's meta.json, or None when it is missing, truncated, binary or not a mapping."""
    try:
        m = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None
    return m if isinstance(m, dict) else None


def is_done(dest: Path, source_hash: str, protocols: tuple[str, ...]) -> bool:
    m = read_meta(dest / "meta.json")
    if m is None:
        return False
    crops = m.get("crops")
    return (m.get("source_sha256") == source_hash and m.get("meta_version") == META_VERSION
            and isinstance(crops, dict) and set(protocols) <= set(crops))


PREPARE_FILES = ("meta.json", "video.mp4", "audio.wav")


def _written_by_prepare(rel: str) -> bool:
    return rel in PREPARE_FILES or rel.startswith("crops/")


def _check_clip_folder(dest: Path) -> list[str]:
    """A clip folder is redone only when `prepare` made it (it holds a meta.json or prepare's
    video and crops) or it is empty; anything else at that path is refused. Returns the files
    in it that prepare did not write (e.g. an ``emotion.txt``): they are moved into the redone
    folder, never deleted."""
    from eadbench.atomic import OutputFolderError, files_below

    if not dest.exists():
        return []
    if not dest.is_dir():
        raise OutputFolderError(f"{dest} exists and is not a folder")
    files = files_below(dest)
    ours = {f for f in files if _written_by_prepare(f)}
    if files and not ({"meta.json", "video.mp4"} & ours):
        raise OutputFolderError(f"{dest} is not empty and was not written by eadbench prepare; move it away "
                                "(nothing in it is deleted)")
    return sorted(files - ours)


def prepare_clip(clip: Clip, dest: Path, protocols: tuple[str, ...], source_hash: str,
                 strict_av: bool = False, store=None, tracking: str | None = None) -> None:
    """One streamed pass over the source: the 25 fps video and every crop protocol written as the
    frames arrive (bounded memory, one decode, one face track shared with `run` and `score`)."""
    from eadbench.media import FRAMES
    from eadbench.streams import StreamResult, stream_video

    audio = media.read_audio(clip.audio_source)  # a bad audio file fails before any video work
    keep = _check_clip_folder(dest)
    tmp = partial_dir(dest.parent, dest.name)
    try:
        result = StreamResult()
        silent = tmp / ".video-only.mp4"
        crop_paths = {p: tmp / "crops" / f".{p}-all.mp4" for p in protocols}
        writers = [media.VideoWriter(silent)] + [media.VideoWriter(crop_paths[p]) for p in protocols]
        for w in writers:
            w.__enter__()
        try:
            for chunk in stream_video(clip.video, {FRAMES, *protocols}, store, tracking, result=result):
                for i in range(len(chunk.frames)):
                    writers[0].write(chunk.frames[i])
                    for w, p in zip(writers[1:], protocols):
                        w.write(chunk.crops[p][i])
        except BaseException as exc:
            for w in writers:
                w.__exit__(type(exc), exc, None)
            raise
        for w in writers:
            w.__exit__(None, None, None)
        if result.failure:
            raise FaceNotFoundError(result.failure)
        fit = media.fit_audio_to_video(clip.audio_source, audio, result.frames, strict=strict_av)
        cut = None if fit.n_frames == result.frames else fit.n_frames
        media.mux_audio(silent, fit.audio, tmp / "video.mp4", cut)
        silent.unlink()
        media.write_wav(tmp / "audio.wav", fit.audio)
        track = result.track
        crops = {}
        for p in protocols:
            final = tmp / "crops" / f"{p}.mp4"
            if cut is None:
                crop_paths[p].rename(final)
            else:  # the audio ended early: the crops are cut to the same frames as the video
                media.write_video(final, media.iter_frames(crop_paths[p], fps=None, max_frames=cut))
                crop_paths[p].unlink()
            pr = faces.CROP_PROTOCOLS.get(p)
            crops[p] = {"name": pr.name, "version": pr.version, "size": pr.size, "interpolation": pr.interpolation,
                        "n_frames": fit.n_frames, "missing_face_frames": [i for i in track.missing if i < fit.n_frames]}
        meta = {"meta_version": META_VERSION, "clip": clip.to_dict(), "source_sha256": source_hash,
                "detector": _detector_info(store), "tracking": track.protocol, "fps": media.VIDEO_FPS,
                "sample_rate": media.AUDIO_RATE, "n_frames": fit.n_frames, "source_frames": result.frames,
                "trimmed_seconds": fit.trimmed_seconds, "padded_seconds": fit.padded_seconds,
                "multi_face_frames": track.multi_face_frames, "tracking_policy": track.POLICY, "crops": crops}
        atomic_write_text(tmp / "meta.json", dumps(meta, indent=1, lenient=True, sort_keys=False))
        for rel in keep:  # files others put in the clip folder travel with it
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(dest / rel, tmp / rel)
        replace_folder(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def prepare_dataset(dataset: str, root: str | Path, out: str | Path, split: str | None = None,
                    protocols: tuple[str, ...] = ("syncnet", "face256"), limit: int | None = None,
                    progress: bool = True, strict_av: bool = False, device: str | None = "auto",
                    tracking: str | None = None, **options) -> PrepareReport:
    from eadbench import datasets

    for p in protocols:
        faces.CROP_PROTOCOLS.get(p)  # unknown protocol: one clear error before any work
    scan = datasets.scan(dataset, root, split=split, **options)
    clips = sorted(scan.clips, key=lambda c: c.clip_id)
    clips = clips[:limit] if limit else clips
    if not clips:
        raise DatasetLayoutError(f"no clips to prepare in {dataset} at {root}" + (f" (split {split})" if split else ""))
    with claim_folder(Path(out), "eadbench prepare", "prepare output", legacy=_legacy_prepared):
        base = ensure_folder(Path(out) / dataset, "prepare output")
        clean_partials(base)
        from eadbench.weights import WeightStore

        store = WeightStore(device=device)
        return _prepare_clips(clips, base, dataset, protocols, progress, strict_av, store, tracking)


def _legacy_prepared(folder: Path) -> bool:
    """A folder prepared before prepare's folders carried an owner marker: a clip's meta.json."""
    return any(read_meta(m) is not None for m in folder.glob("*/*/meta.json"))


def _prepare_clips(clips: list[Clip], base: Path, dataset: str, protocols: tuple[str, ...],
                   progress: bool, strict_av: bool, store, tracking: str | None) -> PrepareReport:
    from tqdm import tqdm

    report = PrepareReport()
    bar = tqdm(clips, desc=f"prepare {dataset}", unit="clip", disable=not progress)
    for clip in bar:
        dest = base / clip.clip_id
        try:
            src = _source_hash(clip)
            if is_done(dest, src, protocols):
                report.skipped.append(clip.clip_id)
                continue
            prepare_clip(clip, dest, protocols, src, strict_av, store, tracking)
            report.prepared.append(clip.clip_id)
        except (EadbenchError, OSError) as exc:
            report.failed.append((clip.clip_id, str(exc)))
        bar.set_postfix(failed=len(report.failed))
    atomic_write_text(base / "failures.jsonl",
                      "".join(dumps({"clip_id": c, "reason": r}, indent=None) + "\n" for c, r in report.failed))
    return report


def iter_prepared(root: str | Path) -> Iterator[PreparedClip]:
    """Prepared clips under ``root`` (a dataset folder of `prepare`'s output, or its parent)."""
    root = Path(root)
    for meta in sorted(root.glob("*/meta.json")) + sorted(root.glob("*/*/meta.json")):
        d = meta.parent
        if d.name.startswith("."):
            continue
        m = read_meta(meta)
        if m is None or not isinstance(m.get("crops", {}), dict) or not isinstance(m.get("clip"), dict):
            warnings.warn(f"{meta}: unreadable or damaged (skipped; re-run `eadbench prepare` to redo the clip)",
                          stacklevel=2)
            continue
        yield PreparedClip(d.name, d, d / "video.mp4", d / "audio.wav",
                           {p: d / "crops" / f"{p}.mp4" for p in m.get("crops", {})}, m)
