"""Score existing files with any registered metric (the library behind `eadbench score`).

Inputs: a folder of images (one set of frames; paired with the other folder by sorted file
name for paired metrics, unpaired for FID), a single video, or a folder of videos (paired by
file name; FVD over all of them). Videos are streamed through the same clip driver as
``eadbench run``: each is decoded once and face-tracked once for every requested metric, in
bounded memory. ``crop``: ``auto`` crops faces for the face metrics (LSE, emotion, LMD, CSIM)
with their own protocol and gives image metrics the inputs as they are; ``none`` takes every
input as an already-cropped face; a protocol name crops the image metrics' inputs with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eadbench import media
from eadbench.errors import EadbenchError, MetricInputError
from eadbench.jsonio import finite
from eadbench.media import FRAMES
from eadbench.metrics import METRICS
from eadbench.metrics.base import ClipMeta, MetricContext
from eadbench.run.driver import ClipScoring, Job, Outcome, score_clip
from eadbench.run.layout import REAL
from eadbench.streams import Timer
from eadbench.weights import WeightStore

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
#: Paired videos whose frame counts differ by more than this are refused (a generator that
#: dropped or added frames would otherwise be compared with the wrong frames, silently).
MAX_LENGTH_MISMATCH = 2


@dataclass
class Item:
    name: str
    path: Path
    frames: np.ndarray | None = None  # an image set, in memory; None for a video (streamed)
    audio_path: Path | None = None

    @property
    def is_video(self) -> bool:
        return self.frames is None


def _image_set(folder: Path) -> Item:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    imgs = [media.read_image(p) for p in files]
    sizes = {im.shape for im in imgs}
    if len(sizes) > 1:
        raise MetricInputError(f"{folder}: images of different sizes {sorted(sizes)[:3]}; resize or crop them first")
    return Item(folder.name, folder, np.stack(imgs))


def load_items(path: str | Path, audio: str | Path | None = None) -> list[Item]:
    p = Path(path)
    if not p.exists():
        raise MetricInputError(f"{p} does not exist")
    if p.is_file():
        media.probe(p)  # unreadable: one line now
        return [Item(p.stem, p, audio_path=Path(audio) if audio else None)]
    vids = sorted(q for q in p.iterdir() if q.suffix.lower() in media.VIDEO_EXTENSIONS)
    imgs = [q for q in p.iterdir() if q.suffix.lower() in IMAGE_EXTENSIONS]
    if vids and imgs:
        raise MetricInputError(f"{p} mixes videos and images; give one kind per folder")
    if vids:
        return [Item(v.stem, v) for v in vids]
    if imgs:
        return [_image_set(p)]
    raise MetricInputError(f"{p} is empty: no images ({', '.join(IMAGE_EXTENSIONS)}) or videos found")


def pair(fake: list[Item], real: list[Item] | None) -> list[tuple[Item, Item | None]]:
    if real is None:
        return [(f, None) for f in fake]
    if len(fake) == 1 and len(real) == 1:
        f, r = fake[0], real[0]
        if not f.is_video and not r.is_video and len(f.frames) != len(r.frames):
            raise MetricInputError(f"{len(f.frames)} generated vs {len(r.frames)} real images: "
                                   "paired metrics need the same count")
        return [(f, r)]
    by_name = {r.name: r for r in real}
    missing = [f.name for f in fake if f.name not in by_name]
    if missing:
        raise MetricInputError(f"no real counterpart for {len(missing)} file(s), e.g. {missing[0]}; "
                               "videos are paired by file name")
    return [(f, by_name[f.name]) for f in fake]


@dataclass
class _Metric:
    name: str
    ev: Any
    outputs: list[dict] = field(default_factory=list)
    real: list[dict] = field(default_factory=list)
    per_item: dict[str, dict] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)  # scored, but the protocol left it out: why
    warnings: list[str] = field(default_factory=list)  # about the inputs (two faces, small faces)


def score(metrics: list[str], fake, real=None, audio=None, emotion: str | None = None, protocol: str | None = None,
          crop: str = "auto", weights_dir: str | None = None, trust_weights: bool = False,
          allow_length_mismatch: bool = False, device: str | None = "auto", tracking: str | None = None,
          store: WeightStore | None = None, timer: Timer | None = None) -> list[dict[str, Any]]:
    """One record per metric: value, protocol, n, per-item values (with frames used per side),
    failures and exclusions; a metric without a value (it could not be computed at all, or every
    item was excluded) has ``value`` None and ``error``/``reason`` saying why (the others still
    have values). ``timer`` receives the seconds, CPU seconds and frames of every stage."""
    from eadbench.labels import canonical
    from eadbench.threads import configure

    configure()
    timer = timer if timer is not None else Timer()
    target = canonical(emotion) if emotion else None  # a misspelt emotion: one line, before any decoding
    for name in metrics:
        METRICS.get(name)
    protocols = metric_protocols(protocol, metrics)
    if crop not in ("auto", "none"):
        from eadbench.faces.crop import CROP_PROTOCOLS

        CROP_PROTOCOLS.get(crop)
    store = store or WeightStore(weights_dir, trust_weights, device)
    fake_items = load_items(fake, audio)
    real_items = load_items(real) if real else None
    pairs = pair(fake_items, real_items)
    results: list[dict[str, Any]] = []
    active: dict[str, _Metric] = {}
    for name in metrics:
        info = METRICS.get(name)
        try:
            if "real" in info.needs and real_items is None:
                raise MetricInputError(f"metric {name} compares with real frames: give --real")
            if "emotion" in info.needs and target is None:
                raise MetricInputError(f"metric {name} needs the target emotion: give --emotion")
            if "audio" in info.needs and not any(_has_audio(f) for f in fake_items):
                raise MetricInputError(f"metric {name} needs audio: {fake_items[0].path} has no audio track; "
                                       "give --audio")
            ev = info.factory(MetricContext(store=store, protocol=protocols.get(name), options={"crop": crop}))
            active[name] = _Metric(name, ev)
        except EadbenchError as exc:
            results.append(_error(name, exc))
    for f, r in pairs:
        _score_pair(f, r, active, target, store, tracking, allow_length_mismatch, timer)
    for name in metrics:
        if name in active:
            results.append(_finish(active[name]))
    order = {n: i for i, n in enumerate(metrics)}
    return sorted(results, key=lambda x: order[x["metric"]])


def _has_audio(item: Item) -> bool:
    return item.audio_path is not None or (item.is_video and media.probe(item.path).has_audio)


def metric_protocols(protocol: str | None, metrics: list[str]) -> dict[str, str]:
    """``--protocol`` of score: a bare NAME for every metric scored (one that does not declare it
    says so), or ``METRIC=NAME[,METRIC=NAME...]``, checked at once against each metric's protocols."""
    from eadbench.config import RunConfig, apply_metric_flags, check_metric_settings

    if not protocol:
        return {}
    if "=" not in protocol:
        return dict.fromkeys(metrics, protocol)
    cfg = apply_metric_flags(RunConfig(), [p for p in protocol.split(",") if p.strip()], [])
    return check_metric_settings(cfg).protocols


def _error(name: str, exc: EadbenchError) -> dict[str, Any]:
    return {"metric": name, "value": None, "values": {}, "error": str(exc), "reason": str(exc),
            "exit_code": exc.exit_code, "protocol": None, "n": 0, "n_failed": 0, "failures": {}, "excluded": {},
            "per_item": {}, "weights": {}, "facts": {}, "notes": []}


def _score_pair(f: Item, r: Item | None, active: dict[str, _Metric], target, store, tracking,
                allow_mismatch: bool, timer: Timer) -> None:
    audio = None
    if f.is_video:
        try:
            audio = media.read_audio(f.audio_path or f.path)
        except EadbenchError:
            if f.audio_path:
                raise
    meta = ClipMeta(f.name, audio=audio, emotion=target)
    if not f.is_video or (r is not None and not r.is_video):
        _score_arrays(f, r, active, meta, timer)
        return
    jobs = [Job(f.name, f.path, {n: m.ev for n, m in active.items()})]
    set_level = {n: m.ev for n, m in active.items() if m.ev.info.level == "set"}
    if set_level and r is not None:
        jobs.append(Job(REAL, r.path, set_level))
    outcomes, infos = score_clip(ClipScoring(meta, r.path if r is not None else None, jobs, store, tracking, timer))
    frames = {"fake": infos.get(f.name, {}).get("frames")}
    if r is not None:
        frames["real"] = infos.get(REAL, {}).get("frames")
    mismatch = (r is not None and frames["fake"] is not None and frames["real"] is not None
                and abs(frames["fake"] - frames["real"]) > MAX_LENGTH_MISMATCH)
    warnings = [w for label, item in ((f.name, f), (REAL, r)) if item is not None
                for w in face_warnings(item.path, infos.get(label, {}))]
    for name, m in active.items():
        if m.ev.views()[0] != FRAMES:
            m.warnings += [w for w in warnings if w not in m.warnings]
        oc = outcomes.get((f.name, name), Outcome(None, "not scored", "failed"))
        paired = m.ev.info.level == "clip" and "real" in m.ev.info.needs
        if mismatch and paired and not allow_mismatch:
            oc = Outcome(None, f"{frames['fake']} generated vs {frames['real']} real frames: more than "
                               f"{MAX_LENGTH_MISMATCH} apart, so frames would be paired wrongly "
                               "(--allow-length-mismatch compares the first frames of each)", "failed")
        used = dict(frames)
        if paired and r is not None and None not in (frames["fake"], frames["real"]):
            used["used"] = min(frames["fake"], frames["real"])
        _record(m, f.name, oc, used, outcomes.get((REAL, name)))


def face_warnings(path: Path, track: dict) -> list[str]:
    """One line for each way a video's face track makes face metrics less trustworthy."""
    from eadbench.faces.track import SMALL_FACE_PX, Track

    n, out = track.get("frames"), []
    if track.get("multi_face_frames"):
        out.append(f"{path}: {track['multi_face_frames']} of {n} frames show more than one face; the scored "
                   f"face is the {Track.POLICY}")
    if track.get("small_face_frames"):
        out.append(f"{path}: {track['small_face_frames']} of {n} frames have a face under {SMALL_FACE_PX} px; "
                   "its crops are upscaled more than 4x, so face metrics read interpolated pixels")
    return out


def _score_arrays(f: Item, r: Item | None, active: dict[str, _Metric], meta: ClipMeta, timer: Timer) -> None:
    """Image sets (or an image set against a video): everything in memory, same evaluators."""
    from eadbench.faces import crop_clip

    fk = f.frames if f.frames is not None else media.read_frames(f.path)
    rl = None if r is None else (r.frames if r.frames is not None else media.read_frames(r.path))
    frames = {"fake": len(fk)} if rl is None else {"fake": len(fk), "real": len(rl)}
    views: dict[str, np.ndarray] = {}

    def view(arr, v, side):
        if v == FRAMES:
            return arr
        if (side, v) not in views:
            views[(side, v)] = crop_clip(arr, v).frames
        return views[(side, v)]

    for name, m in active.items():
        fv, rv = m.ev.views()
        try:
            with timer.timed(f"metric:{name}", frames=len(fk)):
                out = m.ev.clip(meta, view(fk, fv, "fake"), None if rv is None or rl is None else view(rl, rv, "real"))
                real_out = (m.ev.clip(meta, view(rl, fv, "real")) if m.ev.info.level == "set" and rl is not None
                            else None)
        except EadbenchError as exc:
            _record(m, f.name, Outcome(None, str(exc), "failed"), frames, None)
            continue
        _record(m, f.name, Outcome(out, out.get("excluded"), "excluded" if out.get("excluded") else "ok"), frames,
                None if real_out is None else Outcome(real_out))


def _record(m: _Metric, item: str, oc: Outcome, frames: dict, real: Outcome | None) -> None:
    if oc.status == "failed":
        m.failures[item] = oc.error
        return
    if oc.status == "excluded":
        m.excluded[item] = oc.error
    if m.ev.info.level == "set":
        if real is None or real.status != "ok":
            m.failures[item] = f"real side: {real.error if real else 'no real video'}"
            return
        m.real.append(real.output)
    m.outputs.append(oc.output)
    if m.ev.info.level == "clip":
        m.per_item[item] = {**{k: v for k, v in oc.output.items() if not isinstance(v, np.ndarray)},
                            "frames": frames}


def _finish(m: _Metric) -> dict[str, Any]:
    if not m.outputs:
        first = next(iter(m.failures.values()), "nothing to score")
        return _error(m.name, MetricInputError(f"no item could be scored; first reason: {first}"))
    try:
        reduced = m.ev.reduce(m.outputs, m.real)
    except EadbenchError as exc:
        return _error(m.name, exc)
    rec = {
        "metric": m.name, "value": finite(reduced.get(m.ev.outputs[0])), "values": dict(reduced),
        "protocol": reduced.get("protocol") or m.ev.protocol_key(),
        "n": len(m.outputs), "n_failed": len(m.failures), "failures": m.failures, "excluded": m.excluded,
        "per_item": m.per_item, "weights": m.ev.weights_used(), "facts": m.ev.facts(), "notes": list(m.ev.notes),
        "warnings": m.warnings, "error": None, "reason": None,
    }
    if rec["value"] is None:  # every item excluded (too short, no pause, ...) or a reduction without a value
        why = next(iter({**m.excluded, **m.failures}.items()), None)
        counts = f"{len(m.excluded)} of {len(m.outputs)} item(s) excluded" + (
            f", {len(m.failures)} failed" if m.failures else "")
        rec["error"] = rec["reason"] = f"no value ({counts})" + (f"; {why[0]}: {why[1]}" if why else "")
        rec["exit_code"] = MetricInputError.exit_code
    return rec
