"""`eadbench run`: dataset -> generators -> face crops -> metrics -> results, resumable.

Data flows one way and every intermediate lands on disk under the run folder with a key that
says what it was made from, so a killed run resumes where it stopped and a re-run with the
same inputs only reads files:

    inputs/<clip>/{real.mp4,audio.wav,key}      the clip at 25 fps + 16 kHz driving audio
    videos/<method>/<clip>.mp4 (+ .json)         generated video, its key and provenance
    scores/<method>/<clip>/<metric>.json (+.npz) per-clip metric output (features for FID/FVD)
    manifest.json, per_clip.csv/.parquet, clip_details.jsonl, summary.json, failures.csv

Clips are sharded over local worker processes (``--workers``) or torchrun ranks; each shard
writes only its own files and the set-level reduction runs once over all of them, in clip
order, so the results equal a single-process run.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eadbench import __version__, media
from eadbench.atomic import atomic_path
from eadbench.config import RunConfig
from eadbench.datasets.base import Clip, ScanResult
from eadbench.errors import EadbenchError, WeightsIntegrityError, WeightsMissingError
from eadbench.generators.base import GenerationRequest, fingerprint_hash
from eadbench.metrics.base import ClipInput, MetricContext
from eadbench.results import (
    atomic_write_json,
    atomic_write_text,
    summarise,
    write_tables,
)

SCORES_VERSION = 1


# ------------------------------------------------------------------------------------------
# dataset
# ------------------------------------------------------------------------------------------
def builtin_synth_root(cfg: RunConfig) -> Path:
    """The built-in synthetic dataset, generated once into the cache for these settings."""
    from eadbench.synth import write_dataset
    from eadbench.weights import eadbench_cache

    s = {"layout": "mead", "speakers": 8, "clips": 7, "seconds": 2.0, "size": 256, "seed": 0, **cfg.synth}
    key = fingerprint_hash({"synth": s, "version": __version__})
    root = eadbench_cache() / "synth" / f"{s['layout']}-{key}"
    if (root / "eadbench-synth.json").exists():
        return root
    tmp = Path(tempfile.mkdtemp(dir=root.parent if root.parent.exists() else _mk(root.parent),
                                prefix=".synth-"))
    write_dataset(tmp, layout=s["layout"], speakers=int(s["speakers"]), clips=int(s["clips"]),
                  seed=int(s["seed"]), seconds=float(s["seconds"]), size=int(s["size"]))
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    return root


def _mk(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def scan_dataset(cfg: RunConfig) -> ScanResult:
    from eadbench import datasets

    root = cfg.root
    if root is None:
        if cfg.dataset != "synth":
            raise EadbenchError(f"--root is required for dataset {cfg.dataset} "
                                "(only synth has built-in data)")
        root = str(builtin_synth_root(cfg))
        cfg.root = root
    options = {k: v for k, v in (("split_file", cfg.split_file), ("view", cfg.view), ("calm", cfg.calm))
               if v is not None}
    scan = datasets.scan(cfg.dataset, root, **options)
    sel = scan.select(cfg.split) if cfg.split else scan
    if not sel.clips:
        have = sorted({c.split for c in scan.clips})
        raise EadbenchError(f"no clips in split {cfg.split!r} of {cfg.dataset} at {root}; "
                            f"splits present: {', '.join(have) or 'none'}")
    sel.clips = sorted(sel.clips, key=lambda c: c.clip_id)
    if cfg.limit:
        sel.clips = sel.clips[: cfg.limit]
    return sel


# ------------------------------------------------------------------------------------------
# per-clip inputs
# ------------------------------------------------------------------------------------------
def _source_key(clip: Clip) -> str:
    parts = []
    for p in (clip.video, clip.audio):
        if p is not None and Path(p).exists():
            st = Path(p).stat()
            parts.append((str(p), st.st_size, st.st_mtime_ns))
    return fingerprint_hash({"sources": parts})


def stage_inputs(clip: Clip, out: Path) -> tuple[Path, Path, str]:
    """The clip's real video at 25 fps (driving audio muxed) and 16 kHz wav, cached by source."""
    d = out / "inputs" / clip.clip_id
    key = _source_key(clip)
    real, wav, keyfile = d / "real.mp4", d / "audio.wav", d / "key"
    if keyfile.exists() and keyfile.read_text() == key and real.exists() and wav.exists():
        return real, wav, key
    frames = media.read_frames(clip.video)
    audio = media.read_audio(clip.audio_source)
    media.check_audio_covers(clip.audio_source, audio, len(frames))
    audio = audio[: int(round(len(frames) / media.VIDEO_FPS * media.AUDIO_RATE))]
    media.write_video(real, frames, audio=audio)
    media.write_wav(wav, audio)
    atomic_write_text(keyfile, key)
    return real, wav, key


# ------------------------------------------------------------------------------------------
# the per-shard worker
# ------------------------------------------------------------------------------------------
@dataclass
class Shard:
    cfg: RunConfig
    out: Path
    clips: list[Clip]
    methods: dict[str, Any] = field(default_factory=dict)  # label -> Generator
    evaluators: dict[str, Any] = field(default_factory=dict)  # metric name -> Evaluator


def build_generators(cfg: RunConfig) -> dict[str, Any]:
    from eadbench import generators

    return {m.label: generators.build(m.method, **m.options) for m in cfg.methods}


def metric_context(cfg: RunConfig, metric: str) -> MetricContext:
    return MetricContext(weights_dir=cfg.weights_dir, device=cfg.device, trust_weights=cfg.trust_weights,
                         protocol=cfg.protocols.get(metric), options=dict(cfg.metric_options.get(metric, {})))


def build_evaluators(cfg: RunConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """Evaluators for the requested metrics; those whose weights are missing are listed apart."""
    from eadbench.metrics import METRICS, import_errors

    names = cfg.metrics if cfg.metrics is not None else METRICS.names()
    evaluators, unavailable = {}, {}
    for name in names:
        if name not in METRICS:
            if name in import_errors:
                unavailable[name] = f"cannot import: {import_errors[name]}"
                continue
            raise EadbenchError(f"unknown metric {name!r}; known: {', '.join(METRICS.names())}")
        try:
            evaluators[name] = METRICS.get(name).factory(metric_context(cfg, name))
        except (WeightsMissingError, WeightsIntegrityError) as exc:
            unavailable[name] = str(exc)
    return evaluators, unavailable


class FaceCache:
    """Face tracks per video, computed once and kept on disk; crops made on demand."""

    def __init__(self, out: Path):
        self.dir = out / "cache" / "tracks"

    def crops(self, video_key: str, frames: np.ndarray, protocol: str) -> np.ndarray:
        from eadbench import faces

        path = self.dir / f"{video_key}.npz"
        track = None
        if path.exists():
            try:
                track = faces.Track.load(path)
            except Exception:  # noqa: BLE001 - a damaged cache entry is recomputed
                track = None
        if track is None:
            track = faces.track_clip(frames)
            _mk(self.dir)
            track.save(path)
        return faces.crop_clip(frames, protocol, track=track).frames


def _video_key(path: Path) -> str:
    st = path.stat()
    return fingerprint_hash({"p": str(path.resolve()), "s": st.st_size, "m": st.st_mtime_ns})


def _metric_key(evaluator, video_key: str, real_key: str, clip: Clip) -> str:
    info = evaluator.info
    return fingerprint_hash({
        "v": SCORES_VERSION, "metric": info.name, "protocol": info.protocol, "pv": info.protocol_version,
        "ctx_protocol": evaluator.ctx.protocol, "options": evaluator.ctx.options,
        "weights": evaluator.weights_used(), "fake": video_key, "real": real_key,
        "emotion": clip.emotion, "intensity": clip.intensity_scalar,
    })


def _save_output(path: Path, key: str, output: dict[str, Any] | None, error: str | None, status: str) -> None:
    arrays = {k: v for k, v in (output or {}).items() if isinstance(v, np.ndarray)}
    plain = {k: v for k, v in (output or {}).items() if not isinstance(v, np.ndarray)}
    if arrays:
        with atomic_path(path.with_suffix(".npz")) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    atomic_write_json(path, {"key": key, "status": status, "error": error, "output": plain,
                             "arrays": sorted(arrays)})


def load_output(path: Path) -> dict[str, Any] | None:
    try:
        rec = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if rec.get("arrays"):
        try:
            with np.load(path.with_suffix(".npz")) as z:
                rec["output"].update({k: z[k] for k in rec["arrays"]})
        except (OSError, ValueError, KeyError):
            return None
    return rec


def process_clip(shard: Shard, clip: Clip, progress=None) -> list[str]:
    """Generate every method's video for one clip and score it; returns failure messages."""
    cfg, out = shard.cfg, shard.out
    failures: list[str] = []
    try:
        real, wav, src_key = stage_inputs(clip, out)
    except EadbenchError as exc:
        for label in shard.methods:
            _record_generation(out, label, clip, None, f"input: {exc}")
            for name in shard.evaluators:
                _save_output(out / "scores" / label / clip.clip_id / f"{name}.json", "", None,
                             f"input unusable: {exc}", "failed")
            failures.append(f"{label}/{clip.clip_id}: {exc}")
            if progress:
                progress(label, failed=True)
        return failures
    real_frames = audio = None
    faces = FaceCache(out)
    real_key = _video_key(real)
    for label, gen in shard.methods.items():
        video = out / "videos" / label / f"{clip.clip_id}.mp4"
        gen_key = fingerprint_hash({"gen": gen.fingerprint(), "src": src_key, "seed": cfg.seed})
        err = _ensure_video(gen, clip, real, wav, video, gen_key, out, cfg)
        if err:
            failures.append(f"{label}/{clip.clip_id}: {err}")
            for name in shard.evaluators:
                _save_output(out / "scores" / label / clip.clip_id / f"{name}.json", "", None,
                             f"generation failed: {err}", "failed")
            if progress:
                progress(label, failed=True)
            continue
        fake_key = _video_key(video)
        fake_frames = None
        failed_here = False
        for name, ev in shard.evaluators.items():
            path = out / "scores" / label / clip.clip_id / f"{name}.json"
            key = _metric_key(ev, fake_key, real_key, clip)
            if cfg.resume and path.exists():
                rec = load_output(path)
                if rec is not None and rec.get("key") == key:
                    continue
            if fake_frames is None:
                try:
                    fake_frames = media.read_frames(video)
                except EadbenchError as exc:
                    _save_output(path, key, None, f"generated video unreadable: {exc}", "failed")
                    failed_here = True
                    continue
            if real_frames is None:  # decoded only when some score is not cached
                real_frames = media.read_frames(real)
                audio = media.read_audio(wav)
            n = min(len(fake_frames), len(real_frames))
            item = ClipInput(
                clip_id=clip.clip_id, fake=fake_frames[:n], real=real_frames[:n], audio=audio,
                emotion=clip.emotion, intensity=clip.intensity_scalar, fake_path=video, real_path=real,
                faces=_faces_fn(faces, fake_key, real_key, fake_frames[:n], real_frames[:n]),
                extras={"speaker": clip.speaker, "method": label},
            )
            try:
                output = ev.clip(item)
                status = "excluded" if output.get("excluded") else "ok"
                _save_output(path, key, output, output.get("excluded"), status)
            except EadbenchError as exc:
                _save_output(path, key, None, str(exc), "failed")
                failures.append(f"{label}/{clip.clip_id}/{name}: {exc}")
                failed_here = True
            except Exception as exc:  # noqa: BLE001 - a metric bug must not lose the run
                msg = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                _save_output(path, key, None, f"internal error: {msg}", "failed")
                failures.append(f"{label}/{clip.clip_id}/{name}: internal error: {msg}")
                failed_here = True
        if progress:
            progress(label, failed=failed_here)
    return failures


def _faces_fn(cache: FaceCache, fake_key, real_key, fake, real):
    memo: dict[tuple[str, str], np.ndarray] = {}

    def faces(which: str, protocol: str) -> np.ndarray:
        k = (which, protocol)
        if k not in memo:
            frames, key = (fake, fake_key) if which == "fake" else (real, real_key)
            memo[k] = cache.crops(key, frames, protocol)
        return memo[k]

    return faces


def _ensure_video(gen, clip: Clip, real: Path, wav: Path, video: Path, key: str, out: Path,
                  cfg: RunConfig) -> str | None:
    side = video.with_suffix(".json")
    if cfg.resume and video.exists() and side.exists():
        try:
            rec = json.loads(side.read_text())
            if rec.get("key") == key and rec.get("status") == "ok":
                return None
            if rec.get("key") == key and rec.get("status") == "failed":
                return rec.get("error")
        except json.JSONDecodeError:
            pass
    info = media.probe(real)
    with tempfile.TemporaryDirectory(prefix=f"eadbench-{gen.name}-") as work:
        req = GenerationRequest(
            clip=clip, reference_video=real, audio=wav, out=video, workdir=Path(work),
            emotion=clip.emotion, intensity=clip.intensity_scalar, text=clip.extras.get("text"),
            n_frames=info.n_frames, size=(info.height, info.width),
        )
        try:
            res = gen.generate(req)
            media.probe(video)
        except EadbenchError as exc:
            video.unlink(missing_ok=True)
            _record_generation(out, gen.name, clip, key, str(exc), side=side)
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - one method's bug must not stop the run
            video.unlink(missing_ok=True)
            msg = f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            _record_generation(out, gen.name, clip, key, msg, side=side)
            return msg
    atomic_write_json(side, {"key": key, "status": "ok", "error": None, "seconds": round(res.seconds, 3),
                             "command": res.command, "log_tail": res.log_tail, "info": res.info})
    return None


def _record_generation(out: Path, label: str, clip: Clip, key: str | None, error: str,
                       side: Path | None = None) -> None:
    side = side or out / "videos" / label / f"{clip.clip_id}.json"
    atomic_write_json(side, {"key": key, "status": "failed", "error": error})


# ------------------------------------------------------------------------------------------
# collection and reduction (rank 0 / the main process)
# ------------------------------------------------------------------------------------------
def collect(out: Path, clips: list[Clip], labels: list[str], evaluators: dict[str, Any], cfg: RunConfig):
    """Rows, per-clip details and set-level values from the files the shards wrote."""
    from eadbench.metrics import METRICS

    rows: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    set_values: dict[tuple[str, str], dict[str, Any]] = {}
    for label in labels:
        per_metric: dict[str, list[dict[str, Any]]] = {m: [] for m in evaluators}
        for clip in clips:
            base = {"method": label, "clip_id": clip.clip_id, "speaker": clip.speaker,
                    "emotion": clip.emotion, "intensity": clip.intensity}
            side = out / "videos" / label / f"{clip.clip_id}.json"
            gen = json.loads(side.read_text()) if side.exists() else {"status": "failed", "error": "not generated"}
            if gen.get("status") != "ok":
                rows.append({**base, "metric": "generate", "output": "video", "value": None,
                             "status": "failed", "reason": gen.get("error")})
            for name, ev in evaluators.items():
                info = ev.info
                rec = load_output(out / "scores" / label / clip.clip_id / f"{name}.json")
                if rec is None:
                    rec = {"status": "failed", "error": "not scored", "output": {}}
                status, reason, output = rec["status"], rec.get("error"), rec.get("output") or {}
                if info.level == "set":
                    rows.append({**base, "metric": name, "output": info.outputs[0], "value": None,
                                 "status": status, "reason": reason})
                    if status == "ok":
                        per_metric[name].append(output)
                    continue
                for o in info.outputs:
                    v = output.get(o)
                    ok = status == "ok" and isinstance(v, (int, float)) and v is not None
                    rows.append({**base, "metric": name, "output": o,
                                 "value": float(v) if ok else None,
                                 "status": status if status != "ok" or ok else "failed",
                                 "reason": reason if status != "ok" else (None if ok else f"no value for {o}")})
                extra = {k: v for k, v in output.items() if k not in info.outputs}
                if extra or status != "ok":
                    details.append({**base, "metric": name, "status": status, "reason": reason, **extra})
        for name, ev in evaluators.items():
            if ev.info.level == "set":
                try:
                    set_values[(label, name)] = ev.reduce(per_metric[name]) if len(per_metric[name]) >= 2 else {
                        ev.info.outputs[0]: None,
                        "reason": f"needs at least 2 scored clips, got {len(per_metric[name])}"}
                except EadbenchError as exc:
                    set_values[(label, name)] = {ev.info.outputs[0]: None, "reason": str(exc)}
    infos = {name: METRICS.get(name) for name in evaluators}
    return rows, details, set_values, infos


def write_manifest(out: Path, cfg: RunConfig, scan: ScanResult, shard: Shard, unavailable: dict[str, str],
                   started: float, finished: float | None = None) -> None:
    import torch

    from eadbench.weights import WEIGHTS, file_sha256, locate

    weights = {}
    for name, ev in shard.evaluators.items():
        used = ev.weights_used() or {}
        if not used:
            for w in ev.info.weights:
                try:
                    loc = locate(w, cfg.weights_dir)
                    used[w] = file_sha256(loc.path)
                except EadbenchError:
                    continue
        weights.update(used)
    atomic_write_json(out / "manifest.json", {
        "eadbench_version": __version__,
        "git_commit": _own_commit(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "config": cfg.to_dict(),
        "dataset": {"name": cfg.dataset, "root": cfg.root, "split": cfg.split, "split_name": scan.split_name,
                    "split_hash": scan.split_hash(), "clips": len(scan.clips)},
        "protocols": {n: {"protocol": ev.info.protocol, "version": ev.info.protocol_version,
                          "selected": ev.ctx.protocol} for n, ev in shard.evaluators.items()},
        "weights": {k: {"sha256": v, "file": WEIGHTS.get(k).filename if k in WEIGHTS else None}
                    for k, v in sorted(weights.items())},
        "methods": {label: g.provenance() for label, g in shard.methods.items()},
        "unavailable_metrics": unavailable,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)) if finished else None,
    })


def _own_commit() -> str | None:
    from eadbench.generators.subprocess_job import git_commit

    return git_commit(Path(__file__).resolve().parent.parent)


# ------------------------------------------------------------------------------------------
# entry point
# ------------------------------------------------------------------------------------------
@dataclass
class RunResult:
    out: Path
    summary: dict[str, Any]
    failures: list[str]
    unavailable: dict[str, str]


def _dist_info() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def run(cfg: RunConfig, echo=print) -> RunResult:
    started = time.time()
    rank, world = _dist_info()
    scan = scan_dataset(cfg)
    out = Path(cfg.out or f"runs/{cfg.dataset}-{cfg.split or 'all'}")
    _mk(out)
    if not cfg.resume and rank == 0:
        for sub in ("videos", "scores", "cache"):
            shutil.rmtree(out / sub, ignore_errors=True)
    shard = Shard(cfg, out, scan.clips)
    shard.methods = build_generators(cfg)
    shard.evaluators, unavailable = build_evaluators(cfg)
    if rank == 0:
        echo(f"eadbench run: {cfg.dataset} split {cfg.split} ({scan.split_name or 'default'}, "
             f"hash {scan.split_hash()}), {len(scan.clips)} clips x {len(shard.methods)} methods "
             f"-> {out}")
        for name, why in unavailable.items():
            echo(f"  metric {name} unavailable: {why}")
        write_manifest(out, cfg, scan, shard, unavailable, started)

    if world > 1:
        failures = _run_distributed(shard, rank, world, cfg)
    elif cfg.workers > 1:
        failures = _run_pool(shard, cfg)
    else:
        failures = _run_serial(shard, cfg)
    if rank != 0:
        return RunResult(out, {}, failures, unavailable)

    rows, details, set_values, infos = collect(out, scan.clips, list(shard.methods), shard.evaluators, cfg)
    write_tables(out, rows)
    atomic_write_text(out / "clip_details.jsonl",
                      "".join(json.dumps(d, sort_keys=True, default=_plain) + "\n" for d in details))
    summary = {
        "dataset": cfg.dataset, "split": cfg.split, "split_name": scan.split_name,
        "split_hash": scan.split_hash(), "n_clips": len(scan.clips),
        "methods": summarise(rows, set_values, infos, cfg.bootstrap, cfg.seed),
        "unavailable_metrics": sorted(unavailable),
    }
    atomic_write_json(out / "summary.json", summary)
    write_manifest(out, cfg, scan, shard, unavailable, started, time.time())
    all_failures = sorted({f"{r['method']}/{r['clip_id']}/{r['metric']}: {r['reason']}"
                           for r in rows if r["status"] == "failed"})
    return RunResult(out, summary, all_failures, unavailable)


def _plain(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def _progress_bar(total: int, cfg: RunConfig):
    from tqdm import tqdm

    return tqdm(total=total, desc="clips x methods", unit="job", disable=cfg.quiet or None,
                dynamic_ncols=True)


def _run_serial(shard: Shard, cfg: RunConfig) -> list[str]:
    bar = _progress_bar(len(shard.clips) * len(shard.methods), cfg)
    n_failed = 0

    def progress(label, failed=False):
        nonlocal n_failed
        n_failed += bool(failed)
        bar.set_postfix(method=label, failed=n_failed)
        bar.update(1)

    failures = []
    for clip in shard.clips:
        failures += process_clip(shard, clip, progress)
    bar.close()
    return failures


# Worker-process state (spawned processes build their generators/evaluators once).
_WORKER: Shard | None = None


def _worker_init(cfg: RunConfig, out: str) -> None:
    global _WORKER
    import torch

    torch.set_num_threads(1)
    _WORKER = Shard(cfg, Path(out), [])
    _WORKER.methods = build_generators(cfg)
    _WORKER.evaluators, _ = build_evaluators(cfg)


def _worker_clip(clip: Clip) -> tuple[list[str], int]:
    assert _WORKER is not None
    fails = process_clip(_WORKER, clip)
    return fails, len(_WORKER.methods)


def _run_pool(shard: Shard, cfg: RunConfig) -> list[str]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    bar = _progress_bar(len(shard.clips) * len(shard.methods), cfg)
    failures: list[str] = []
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(cfg.workers, mp_context=ctx, initializer=_worker_init,
                             initargs=(cfg, str(shard.out))) as pool:
        futures = [pool.submit(_worker_clip, c) for c in shard.clips]
        for fut in as_completed(futures):
            fails, n = fut.result()
            failures += fails
            bar.update(n)
            bar.set_postfix(failed=len(failures))
    bar.close()
    return failures


def _run_distributed(shard: Shard, rank: int, world: int, cfg: RunConfig) -> list[str]:
    """torchrun: each rank scores its deterministic shard; ranks meet before rank 0 reduces.

    Per-clip outputs (including FID/FVD features) are gathered to rank 0 through
    torch.distributed so ranks on different machines need no shared folder.
    """
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo")
    mine = shard.clips[rank::world]
    failures: list[str] = []
    for clip in mine:
        failures += process_clip(shard, clip)
    files = {}
    for clip in mine:
        for label in shard.methods:
            for sub in (f"videos/{label}/{clip.clip_id}.json",):
                p = shard.out / sub
                files[sub] = p.read_bytes() if p.exists() else None
            d = shard.out / "scores" / label / clip.clip_id
            if d.exists():
                for p in d.iterdir():
                    if not p.name.startswith("."):
                        files[str(p.relative_to(shard.out))] = p.read_bytes()
    gathered = [None] * world if rank == 0 else None
    dist.gather_object((files, failures), gathered, dst=0)
    if rank == 0:
        failures = []
        for f, fl in gathered:
            failures += fl
            for rel, data in f.items():
                p = shard.out / rel
                if data is not None and not p.exists():
                    _mk(p.parent)
                    p.write_bytes(data)
    dist.barrier()
    return failures


def failures_exit_code(result: RunResult, strict: bool) -> int:
    return 1 if strict and result.failures else 0


def format_summary(summary: dict[str, Any]) -> str:
    """A compact text table of the summary for the terminal."""
    lines = []
    for method, metrics in summary.get("methods", {}).items():
        cells = []
        for metric, outs in metrics.items():
            for o, e in outs.items():
                v = e.get("value")
                if v is None or (isinstance(v, float) and not math.isfinite(v)):
                    cells.append(f"{o}=n/a")
                else:
                    cells.append(f"{o}={v:.4g}")
        lines.append(f"  {method:<14} " + "  ".join(cells))
    return "\n".join(lines)
