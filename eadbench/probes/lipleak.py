"""Silent-mouth probe: drive a method with silence, and with a clip whose second half is silent,
and measure ``lipleak`` on what it makes.

Why: on real test sets the silent stretches are short (most real talking clips have no pause
long enough to score), so a method that keeps the mouth moving without speech is rarely
caught. The probe builds the inputs where it must show: for one clip (its reference video and
its driving audio, fitted to the clip's length at 25 fps / 16 kHz),

* ``silence``: the whole driving audio replaced by zeros;
* ``half-silent``: the clip's own audio with everything from the middle frame on set to zero;

runs the given ``Generator`` on each (a normal ``GenerationRequest``; the method sees a plain
wav), and scores the output with the ``lipleak`` evaluator against the probe's audio. A method
that follows the audio keeps its mouth closed and still where the audio is silent (low
``lipleak``); one that replays or invents talking motion does not. Note that ``ground_truth``
copies the real video whatever the audio, so it leaks under the probe like any method that
ignores the audio; its own ``lipleak`` on the clip's real audio is the reference for a real
speaker.

From the command line, ``eadbench probe lipleak`` runs it for every method on a dataset's clips
(``probe_dataset``) and writes ``lipleak_probe.json`` and a table; from Python, ``run_probe`` for
one generator and clip.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from eadbench import media
from eadbench.datasets.base import Clip
from eadbench.errors import EadbenchError
from eadbench.generators.base import GenerationRequest, Generator
from eadbench.media import SAMPLES_PER_FRAME
from eadbench.run.layout import LIPLEAK_PROBE
from eadbench.run.session import Owner

CASES = ("silence", "half-silent")


@dataclass(frozen=True)
class ProbeCase:
    """One probe input: the driving audio (float32, 16 kHz, exactly the clip's length) and the
    first frame from which it is silent."""

    name: str
    audio: np.ndarray
    silent_from: int


@dataclass
class ProbeResult:
    """The probe's outcome for one method: per case, the ``lipleak`` outputs (or ``error``) plus
    the generation time and the output video's path."""

    method: str
    clip_id: str
    cases: dict[str, dict] = field(default_factory=dict)

    def leak(self, case: str) -> float | None:
        return self.cases.get(case, {}).get("lipleak")


def probe_cases(audio: np.ndarray, n_frames: int) -> list[ProbeCase]:
    """The ``silence`` and ``half-silent`` inputs for a clip of ``n_frames`` frames whose own
    driving audio is ``audio`` (padded with silence or cut to the clip's length)."""
    if n_frames < 2:
        raise EadbenchError(f"the silent-mouth probe needs a clip of at least 2 frames, got {n_frames}")
    need = n_frames * SAMPLES_PER_FRAME
    own = np.zeros(need, np.float32)
    a = np.asarray(audio, dtype=np.float32).reshape(-1)[:need]
    own[: len(a)] = a
    half = n_frames // 2
    cut = own.copy()
    cut[half * SAMPLES_PER_FRAME:] = 0.0
    return [ProbeCase("silence", np.zeros(need, np.float32), 0), ProbeCase("half-silent", cut, half)]


def face_crops(path: Path, store=None, tracking: str | None = None) -> np.ndarray:
    """The harness's ``face256`` crops of a video (tracked as ``eadbench run`` tracks)."""
    from eadbench.streams import read_view

    return read_view(path, "face256", store, tracking)


def run_probe(generator: Generator, clip: Clip, reference_video: Path, audio: np.ndarray, workdir: Path,
              store=None, tracking: str | None = None,
              crops: Callable[[Path], np.ndarray] | None = None) -> ProbeResult:
    """Drive ``generator`` with each probe case of ``clip`` and score the outputs.

    ``reference_video``: the clip's real video at 25 fps (the identity source); ``audio``: its
    driving audio (float32 mono 16 kHz); ``workdir``: where the probe's wavs and videos go (kept
    for inspection); ``crops``: how a video becomes ``face256`` crops (default: the harness's
    tracking). A case the method fails on is recorded with its one-line error."""
    from eadbench.metrics import METRICS
    from eadbench.metrics.base import ClipMeta, MetricContext

    info = media.probe(reference_video)
    n = info.n_frames
    evaluator = METRICS.get("lipleak").factory(MetricContext(store=store))
    crop = crops or (lambda p: face_crops(p, evaluator.store, tracking))
    result = ProbeResult(generator.name, clip.clip_id)
    for case in probe_cases(audio, n):
        folder = Path(workdir) / case.name
        folder.mkdir(parents=True, exist_ok=True)
        wav = media.write_wav(folder / "driving.wav", case.audio)
        out = folder / f"{generator.name}.mp4"
        t = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix="eadbench-probe-") as tmp:
                generator.generate(GenerationRequest(
                    clip=clip, reference_video=Path(reference_video), audio=wav, out=out, workdir=Path(tmp),
                    emotion=clip.emotion, intensity=clip.intensity_scalar, text=clip.extras.get("text"),
                    n_frames=n, size=(info.height, info.width)))
            seconds = time.perf_counter() - t
            scored = evaluator.clip(ClipMeta(f"{clip.clip_id}:{case.name}", audio=case.audio), crop(out))
        except EadbenchError as exc:
            result.cases[case.name] = {"lipleak": None, "error": str(exc)}
            continue
        scored.update(seconds=round(seconds, 3), video=str(out), silent_from=case.silent_from)
        result.cases[case.name] = scored
    return result


PROBE_COMMAND = "eadbench probe lipleak"  # the owner marker of the probe's output folder


#: a probe folder written before owner markers holds lipleak_probe.json with its probe name
PROBE = Owner(PROBE_COMMAND, "probe output", LIPLEAK_PROBE, "probe")


def probe_dataset(cfg, out: Path, echo=print, progress: bool = True) -> dict:
    """The probe for every method of ``cfg`` on its dataset's clips (``cfg.limit`` first by id;
    ``cfg.metrics`` is set to the probe's one metric):
    per method and case, the mean ``lipleak`` over the clips scored and the per-clip outputs;
    written to ``out/lipleak_probe.json`` (``out`` keeps the staged inputs and the videos).
    Built-in data makes ready what the default run would (the tiny EAD-Net) first. A study on the
    shared session; its one metric is built per method and clip by ``run_probe``."""
    from eadbench.run.session import Session

    cfg.metrics = ["lipleak"]  # only what the probe needs is made ready (no sync expert)
    session = Session.open(cfg, PROBE, out, echo, evaluators=False, progress=progress)
    gens = session.methods
    clips = sorted(session.clips, key=lambda c: c.clip_id)[: cfg.limit or None]
    run = session.dir
    per: dict[str, dict[str, dict]] = {label: {} for label in gens}
    failures: list[dict] = []
    with session.locked():
        bar = session.progress(desc="silent-mouth probe", unit="video", total=len(clips) * len(gens))
        for clip in clips:
            try:
                real, wav, _ = session.stage(clip)
                audio = media.read_audio(wav)
            except EadbenchError as exc:
                failures.append({"clip": clip.clip_id, "method": None, "reason": str(exc)})
                bar.update(len(gens))
                continue
            for label, gen in gens.items():
                res = run_probe(gen, clip, real, audio, run.probe(label, clip.clip_id), store=session.store,
                                tracking=cfg.tracking)
                per[label][clip.clip_id] = res.cases
                for case, o in res.cases.items():
                    if o.get("error"):
                        failures.append({"clip": clip.clip_id, "method": label, "case": case, "reason": o["error"]})
                bar.update(1)
        bar.close()
        summary = {label: {case: _mean_leak([c.get(case, {}) for c in clips_.values()]) for case in CASES}
                   for label, clips_ in per.items()}
        report = {"probe": "silent-mouth@1", "dataset": cfg.dataset, "split_name": session.scan.split_name,
                  "split_hash": session.scan.split_hash(), "clips": [c.clip_id for c in clips], "summary": summary,
                  "per_clip": per, "failures": failures}
        session.write_json(run.lipleak_probe, report)
    return report


def _mean_leak(outputs: list[dict]) -> dict:
    vals = [o["lipleak"] for o in outputs if o.get("lipleak") is not None]
    return {"lipleak": float(np.mean(vals)) if vals else None, "n": len(vals),
            "n_excluded": sum(1 for o in outputs if o.get("excluded")),
            "n_failed": sum(1 for o in outputs if o.get("error"))}


def format_table(report: dict) -> str:
    """Markdown: one row per method, the mean lipleak under each probe (clips scored)."""
    lines = ["| method | " + " | ".join(f"lipleak ↓, {c}" for c in CASES) + " |",
             "| --- | " + " | ".join("---" for _ in CASES) + " |"]
    for label, cases in report["summary"].items():
        cells = []
        for c in CASES:
            v = cases[c]
            cells.append("n/a" if v["lipleak"] is None else f"{v['lipleak']:.3f} ({v['n']} clips)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"silent-mouth@1 on {len(report['clips'])} clips of {report['split_name']} "
                 f"(hash {report['split_hash']}): the method driven by silence, and by the clip's audio "
                 "silenced from its middle frame; fraction of silent frames whose mouth is open or moving.")
    return "\n".join(lines)
