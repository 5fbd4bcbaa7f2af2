"""One shard of a run: for each of its clips, stage the inputs, generate every method's video,
and score what is not already scored (one streamed pass per clip, ``run.driver``).

A shard writes only its own clips' files, so local workers and torchrun ranks never collide; a
resumed run skips every video and score whose key (inputs, method, metric protocol, weights)
is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eadbench import media
from eadbench.config import RunConfig
from eadbench.datasets.base import Clip
from eadbench.errors import EadbenchError, WeightsIntegrityError, WeightsMissingError
from eadbench.generators.base import fingerprint_hash
from eadbench.metrics.base import ClipMeta, MetricContext
from eadbench.run.driver import ClipScoring, Job, score_clip
from eadbench.run.generate import build_generators, ensure_video
from eadbench.run.inputs import stage_inputs, stage_source
from eadbench.run.layout import REAL, RunDir
from eadbench.streams import Timer
from eadbench.weights import WeightStore

SCORES_VERSION = 2


@dataclass
class Shard:
    cfg: RunConfig
    run: RunDir
    clips: list[Clip]
    store: WeightStore
    methods: dict[str, Any] = field(default_factory=dict)  # label -> Generator
    evaluators: dict[str, Any] = field(default_factory=dict)  # metric name -> Evaluator
    timer: Timer = field(default_factory=Timer)
    neutral: dict[str, Clip] = field(default_factory=dict)  # speaker -> neutral clip (--source neutral)
    #: wall seconds of what the run did before its clips: finding or making the data (the built-in
    #: data is generated into the cache on first use), the built-in models, the networks' setup
    setup: dict[str, float] = field(default_factory=dict)


def metric_context(cfg: RunConfig, metric: str, store: WeightStore) -> MetricContext:
    return MetricContext(store=store, protocol=cfg.protocols.get(metric),
                         options=dict(cfg.metric_options.get(metric, {})))


def build_evaluators(cfg: RunConfig, store: WeightStore) -> tuple[dict[str, Any], dict[str, str]]:
    """Evaluators for the requested metrics; those whose weights are missing are listed apart."""
    from eadbench.metrics import METRICS, import_errors

    names = cfg.metrics if cfg.metrics is not None else METRICS.names()
    evaluators, unavailable = {}, {}
    for name in names:
        if name not in METRICS:
            if name in import_errors:
                unavailable[name] = f"cannot import: {import_errors[name]}"
                continue
            METRICS.get(name)  # unknown metric: one line with the known ones (and a suggestion)
        try:
            evaluators[name] = METRICS.get(name).factory(metric_context(cfg, name, store))
        except (WeightsMissingError, WeightsIntegrityError) as exc:
            unavailable[name] = str(exc)
    return evaluators, unavailable


def build_shard(cfg: RunConfig, run: RunDir, clips: list[Clip], store: WeightStore) -> tuple[Shard, dict[str, str]]:
    shard = Shard(cfg, run, clips, store)
    shard.methods = build_generators(cfg)
    shard.evaluators, unavailable = build_evaluators(cfg, store)
    return shard, unavailable


def video_key(path: Path) -> str:
    st = path.stat()
    return fingerprint_hash({"p": str(path.resolve()), "s": st.st_size, "m": st.st_mtime_ns})


def metric_key(evaluator, video: str, real: str, clip: Clip, tracking: str) -> str:
    return fingerprint_hash({"v": SCORES_VERSION, **evaluator.cache_identity(), "fake": video, "real": real,
                             "tracking": tracking, "emotion": clip.emotion, "intensity": clip.intensity_scalar})


def process_clip(shard: Shard, clip: Clip, progress=None) -> list[str]:
    """Generate every method's video for one clip and score it; returns failure messages."""
    from eadbench.faces.track import DEFAULT_TRACKING, TRACKING

    cfg, run = shard.cfg, shard.run
    tracking = TRACKING.get(cfg.tracking or DEFAULT_TRACKING).key
    failures: list[str] = []
    try:
        with shard.timer.timed("stage-inputs"):  # the real video re-encoded at 25 fps with its audio (cached)
            real, wav, src_key = stage_inputs(clip, run, cfg.strict_av_length)
    except EadbenchError as exc:
        for label in shard.methods:
            run.record_generation(label, clip.clip_id, None, f"input: {exc}")
            for name in shard.evaluators:
                run.save_output(run.score(label, clip.clip_id, name), "", None, f"input unusable: {exc}", "failed")
            failures.append(f"{label}/{clip.clip_id}: {exc}")
            if progress:
                progress(label, failed=True)
        return failures
    real_key = video_key(real)
    n_real = media.probe(real).n_frames
    reference, ref_key = real, src_key
    if cfg.source == "neutral":
        partner = shard.neutral.get(clip.speaker)
        if partner is None:
            why = f"no neutral clip of speaker {clip.speaker} (--source neutral)"
            for label in shard.methods:
                run.record_generation(label, clip.clip_id, None, why, status="excluded")
                for name in shard.evaluators:
                    run.save_output(run.score(label, clip.clip_id, name), "", None, why, "excluded")
                if progress:
                    progress(label, failed=False)
            return failures
        try:
            reference = stage_source(clip, partner, run, n_real, wav, cfg.strict_av_length)
        except EadbenchError as exc:
            for label in shard.methods:
                run.record_generation(label, clip.clip_id, None, f"neutral source: {exc}")
                for name in shard.evaluators:
                    run.save_output(run.score(label, clip.clip_id, name), "", None, f"neutral source: {exc}", "failed")
            return failures + [f"{clip.clip_id}: neutral source: {exc}"]
        ref_key = fingerprint_hash({"src": src_key, "neutral": video_key(reference)})
    jobs: list[Job] = []
    keys: dict[tuple[str, str], str] = {}
    done: list[str] = []
    for label, gen in shard.methods.items():
        gen_key = fingerprint_hash({"gen": gen.fingerprint(), "src": ref_key, "seed": cfg.seed})
        err = ensure_video(gen, clip, real, wav, run, label, gen_key, cfg.resume, reference, cfg.source,
                           shard.timer)
        if err:
            failures.append(f"{label}/{clip.clip_id}: {err}")
            for name in shard.evaluators:
                run.save_output(run.score(label, clip.clip_id, name), "", None, f"generation failed: {err}", "failed")
            if progress:
                progress(label, failed=True)
            continue
        video = run.video(label, clip.clip_id)
        fake_key = video_key(video)
        need = {}
        for name, ev in shard.evaluators.items():
            key = metric_key(ev, fake_key, real_key, clip, tracking)
            keys[(label, name)] = key
            if cfg.resume and _cached(run, run.score(label, clip.clip_id, name), key):
                continue
            need[name] = ev
        if need:
            try:
                n_fake = media.probe(video).n_frames
                n = None if n_fake <= n_real else n_real  # read the whole output unless it is longer
            except EadbenchError as exc:
                for name in need:
                    run.save_output(run.score(label, clip.clip_id, name), keys[(label, name)], None,
                                    f"generated video unreadable: {exc}", "failed")
                continue
            jobs.append(Job(label, video, need, max_frames=n))
        else:
            done.append(label)
    real_need = {}
    for name, ev in shard.evaluators.items():
        if ev.info.level == "set":
            key = metric_key(ev, real_key, real_key, clip, tracking)
            keys[(REAL, name)] = key
            if not (cfg.resume and _cached(run, run.real_score(clip.clip_id, name), key)):
                real_need[name] = ev
    if real_need and (jobs or done):
        jobs.append(Job(REAL, real, real_need))
    if jobs:
        meta = ClipMeta(clip.clip_id, audio=media.read_audio(wav), emotion=clip.emotion,
                        intensity=clip.intensity_scalar, n_frames=n_real,
                        extras={"speaker": clip.speaker})
        outcomes, _ = score_clip(ClipScoring(meta, real, jobs, shard.store, cfg.tracking, shard.timer))
        for (label, name), oc in outcomes.items():
            path = run.real_score(clip.clip_id, name) if label == REAL else run.score(label, clip.clip_id, name)
            run.save_output(path, keys[(label, name)], oc.output, oc.error, oc.status)
            if oc.status == "failed" and label != REAL:
                failures.append(f"{label}/{clip.clip_id}/{name}: {oc.error}")
        for job in jobs:
            if job.label != REAL and progress:
                progress(job.label, failed=any(outcomes[(job.label, n)].status == "failed" for n in job.evaluators))
    for label in done:
        if progress:
            progress(label, failed=False)
    return failures


def _cached(run: RunDir, path: Path, key: str) -> bool:
    if not path.exists():
        return False
    rec = run.load_output(path)
    return rec is not None and rec.get("key") == key
