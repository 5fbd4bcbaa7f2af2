"""The clip driver, shared by ``run`` and ``score``: every video of a clip streamed once, every
metric fed from that one pass.

For one clip, the real video and each method's output are opened together and read in lockstep,
chunk by chunk (``eadbench.streams``): each video is decoded once and face-tracked once (or its
track comes from the cache), and every evaluator receives its views of the same chunk (frames,
or face crops of its protocol; the real side paired frame by frame with the method's). The real
side of set-level metrics (FID/FVD features) is computed once per clip, not once per method, and
a method's output with the real video's content (the ground-truth control) shares its stream and
its set-level features.
One evaluator's failure is recorded for that (method, metric) and never stops the others.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eadbench.errors import EadbenchError, short_reason
from eadbench.media import FRAMES
from eadbench.metrics.base import Chunk, ClipMeta, Evaluator
from eadbench.run.align import Pairing
from eadbench.run.layout import REAL
from eadbench.streams import StreamResult, Timer, VideoChunk, stream_video
from eadbench.weights import WeightStore, file_sha256


@dataclass
class Job:
    """Score one video (``label``'s output, or the real video for REAL) with some evaluators."""

    label: str
    video: Path
    evaluators: dict[str, Evaluator]
    max_frames: int | None = None  # frames to read (the paired length with the real video)


@dataclass
class Outcome:
    output: dict[str, Any] | None = None
    error: str | None = None
    status: str = "ok"  # ok | failed | excluded


@dataclass
class ClipScoring:
    meta: ClipMeta
    real: Path | None
    jobs: list[Job]
    store: WeightStore
    tracking: str | None = None
    timer: Timer = field(default_factory=Timer)
    align: bool = True  # pair a method's frames with the real frames they show (run.align)


def _needs_real(ev: Evaluator) -> bool:
    return ev.info.level == "clip" and ev.views()[1] is not None


def score_clip(cs: ClipScoring) -> tuple[dict[tuple[str, str], Outcome], dict[str, dict]]:
    """Run every job of a clip in one lockstep pass; returns ((label, metric) -> outcome, and the
    track summary of each video (label -> dict))."""
    outcomes: dict[tuple[str, str], Outcome] = {}
    if cs.real is None and any(_needs_real(ev) for job in cs.jobs for ev in job.evaluators.values()):
        raise EadbenchError("paired metrics need the real video")
    # every evaluator checks its clip first (e.g. avsync: no audio): one that refuses costs no decoding
    states: dict[tuple[str, str], Any] = {}
    live: dict[tuple[str, str], Evaluator] = {}
    for job in cs.jobs:
        for name, ev in job.evaluators.items():
            try:
                with cs.timer.timed(f"metric:{name}"):
                    states[(job.label, name)] = ev.begin(cs.meta)
                live[(job.label, name)] = ev
            except EadbenchError as exc:
                outcomes[(job.label, name)] = Outcome(None, str(exc), "failed")

    # one stream per video that a live evaluator reads; the real video may also be a job (set-level real side)
    streams: dict[str, Any] = {}
    results: dict[str, StreamResult] = {}
    real_views = {ev.views()[1] for ev in live.values() if _needs_real(ev)}
    views_of: dict[str, set[str]] = {}
    for (label, _), ev in live.items():
        views_of.setdefault(label, set()).add(ev.views()[0])
    if cs.real is not None and real_views:
        views_of[REAL] = real_views | views_of.get(REAL, set())
    paths = {job.label: job.video for job in cs.jobs}
    if REAL in views_of:
        paths[REAL] = cs.real
    limits = {job.label: job.max_frames for job in cs.jobs}
    # videos with the same content (the ground-truth copy of the reference) share one stream
    same: dict[str, str] = {}
    by_content: dict[tuple[str, int | None], str] = {}
    for label in sorted(views_of, key=lambda x: x != REAL):
        key = (file_sha256(paths[label]), limits.get(label))
        if key in by_content:
            same[label] = by_content[key]
            views_of[by_content[key]] |= views_of[label]
        else:
            by_content[key] = label
    for label, views in views_of.items():
        if label in same:
            continue
        results[label] = StreamResult()
        streams[label] = stream_video(paths[label], views, cs.store, cs.tracking, max_frames=limits.get(label),
                                      result=results[label], timer=cs.timer)
    for label, source in same.items():
        results[label] = results[source]
    # an unpaired evaluator on a video whose content another label's stream already feeds to the
    # same evaluator (the ground truth's set-level features = the real side's) is computed once
    twins = {(label, name): (same[label], name) for (label, name), ev in live.items()
             if label in same and not _needs_real(ev) and live.get((same[label], name)) is ev}
    for key in twins:
        live.pop(key)

    pairings: dict[str, Pairing] = {}
    for job in cs.jobs:
        paired = {ev.views()[0] for ev in job.evaluators.values() if _needs_real(ev)}
        if paired and job.label != REAL:
            pairings[job.label] = Pairing(paired, FRAMES if FRAMES in paired else sorted(paired)[0], cs.align)

    current: dict[str, VideoChunk | None] = {}
    while streams:
        for label in list(streams):
            try:
                current[label] = next(streams[label])
            except StopIteration:
                del streams[label]
                current[label] = None
            except EadbenchError as exc:  # an unreadable video: every metric of it fails with the reason
                del streams[label]
                current[label] = None
                hit = {label} | {x for x, src in same.items() if src == label}
                for key in [k for k in live if k[0] in hit or (REAL in hit and _needs_real(live[k]))]:
                    outcomes[key] = Outcome(None, f"video unreadable: {exc}", "failed")
                    live.pop(key)
        for label, source in same.items():
            current[label] = current.get(source)
        if not any(c is not None for c in current.values()):
            break
        real_chunk = current.get(REAL)
        for (label, name), ev in list(live.items()):
            fake_chunk = current.get(label)
            if fake_chunk is None or _needs_real(ev):
                continue  # paired metrics are fed below, frame-aligned
            fv = ev.views()[0]
            _update(cs, outcomes, live, states, label, name, ev,
                    Chunk(fake_chunk.start, _view(fake_chunk, fv), None, _ok(fake_chunk, fv)))
        for label, pairing in pairings.items():
            pairing.push(*_views(current.get(label), pairing.views), *_views(real_chunk, pairing.views))
            _feed_paired(cs, outcomes, live, states, label, pairing)
    for label, pairing in pairings.items():  # short clips: the shift is decided on what there is
        pairing.finish()
        _feed_paired(cs, outcomes, live, states, label, pairing)

    for (label, name), ev in live.items():
        fv, rv = ev.views()
        failure = _track_failure(results, label, fv) or (_track_failure(results, REAL, rv) if _needs_real(ev) else None)
        if failure:
            outcomes[(label, name)] = Outcome(None, failure, "failed")
            continue
        try:
            with cs.timer.timed(f"metric:{name}"):
                out = ev.end(states[(label, name)])
        except EadbenchError as exc:
            outcomes[(label, name)] = Outcome(None, str(exc), "failed")
            continue
        except Exception as exc:  # noqa: BLE001
            outcomes[(label, name)] = Outcome(None, f"internal error: {short_reason(exc)}", "failed")
            continue
        if fv != FRAMES and label in results and results[label].track is not None:
            track = results[label].track  # what the crops were cut from: reported with every face metric
            out["face_frames_missing"] = len(track.missing)
            out["multi_face_frames"] = track.multi_face_frames
            out["small_face_frames"] = track.small_face_frames
        if _needs_real(ev) and label in pairings:  # which frames were compared with which
            out.update(pairings[label].report())
        outcomes[(label, name)] = Outcome(out, out.get("excluded"), "excluded" if out.get("excluded") else "ok")
    for key, source in twins.items():
        src = outcomes.get(source, Outcome(None, "internal error: its twin stream gave no result", "failed"))
        outcomes[key] = Outcome(copy.deepcopy(src.output), src.error, src.status)
    return outcomes, {k: {**r.info, "frames": r.frames} for k, r in results.items()}


def _update(cs: ClipScoring, outcomes, live, states, label: str, name: str, ev: Evaluator, chunk: Chunk) -> None:
    """One evaluator update; its failure is recorded for (label, name) and the others go on."""
    try:
        with cs.timer.timed(f"metric:{name}", frames=0 if chunk.fake is None else len(chunk.fake)):
            ev.update(states[(label, name)], chunk)
    except EadbenchError as exc:
        outcomes[(label, name)] = Outcome(None, str(exc), "failed")
        live.pop((label, name))
    except Exception as exc:  # noqa: BLE001 - a metric bug must not lose the run
        outcomes[(label, name)] = Outcome(None, f"internal error: {short_reason(exc)}", "failed")
        live.pop((label, name))


def _feed_paired(cs: ClipScoring, outcomes, live, states, label: str, pairing: Pairing) -> None:
    """Every run of aligned frame pairs that is ready goes to the method's paired metrics."""
    while (ready := pairing.pop()) is not None:
        start, fake, real, fake_ok, real_ok = ready
        for (lab, name), ev in list(live.items()):
            if lab != label or not _needs_real(ev):
                continue
            v = ev.views()[0]
            _update(cs, outcomes, live, states, lab, name, ev,
                    Chunk(start, fake[v], real[v], None if v == FRAMES else fake_ok[v],
                          None if v == FRAMES else real_ok[v]))


def _views(chunk: VideoChunk | None, views: list[str]):
    """(start, {view: frames}, {view: ok}) of a chunk, or (None, {}, {}) when there is none."""
    if chunk is None:
        return None, {}, {}
    return chunk.start, {v: _view(chunk, v) for v in views}, {v: _ok(chunk, v) for v in views}


def _view(chunk: VideoChunk, view: str | None):
    if view is None:
        return None
    return chunk.frames if view == FRAMES else chunk.crops[view]


def _ok(chunk: VideoChunk, view: str | None):
    return None if view in (None, FRAMES) else chunk.ok


def _track_failure(results: dict[str, StreamResult], label: str, view: str | None) -> str | None:
    if view in (None, FRAMES) or label not in results:
        return None
    return results[label].failure
