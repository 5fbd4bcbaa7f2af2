"""Each method's video for a clip: generated once, recorded with its key and provenance, reused
by a resumed run whose inputs did not change; a method's failure is recorded, never fatal."""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from eadbench import media
from eadbench.config import RunConfig
from eadbench.datasets.base import Clip
from eadbench.errors import EadbenchError, short_reason
from eadbench.generators.base import GenerationRequest
from eadbench.jsonio import atomic_write_json
from eadbench.run.layout import RunDir
from eadbench.streams import heap_temporaries
from eadbench.threads import whole_budget


def build_generators(cfg: RunConfig) -> dict[str, Any]:
    from eadbench import generators

    return {m.label: generators.build(m.method, **m.options) for m in cfg.methods}


def ensure_video(gen, clip: Clip, real: Path, wav: Path, run: RunDir, label: str, key: str,
                 resume: bool, reference: Path | None = None, source: str = "self", timer=None) -> str | None:
    """Make ``videos/<label>/<clip>.mp4`` unless a resumed run already has it for ``key``;
    returns the failure reason, or None. ``reference``: the identity video the method is driven
    from (the clip's ``real`` video unless ``--source neutral``)."""
    video, side = run.video(label, clip.clip_id), run.video_record(label, clip.clip_id)
    if resume and video.exists() and side.exists():
        rec = run.generation(label, clip.clip_id)
        if rec.get("key") == key and rec.get("status") == "ok":
            return None
        if rec.get("key") == key and rec.get("status") == "failed":
            return rec.get("error")
    info = media.probe(real)
    with tempfile.TemporaryDirectory(prefix=f"eadbench-{gen.name}-") as work:
        req = GenerationRequest(
            clip=clip, reference_video=reference or real, audio=wav, out=video, workdir=Path(work),
            emotion=clip.emotion, intensity=clip.intensity_scalar, text=clip.extras.get("text"),
            n_frames=info.n_frames, size=(info.height, info.width), real_video=real, source=source,
        )
        try:
            with timer.timed(f"generate:{label}", frames=info.n_frames) if timer else nullcontext(), \
                    whole_budget(), heap_temporaries():  # a generator's networks are large: every thread, heap
                res = gen.generate(req)
            media.probe(video)
        except EadbenchError as exc:
            video.unlink(missing_ok=True)
            details = {k: getattr(exc, k) for k in ("log_tail", "command") if getattr(exc, k, None)}
            run.record_generation(label, clip.clip_id, key, str(exc), **details)
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - one method's bug must not stop the run
            video.unlink(missing_ok=True)
            msg = f"internal error: {short_reason(exc)}"
            run.record_generation(label, clip.clip_id, key, msg)
            return msg
    atomic_write_json(side, {"key": key, "status": "ok", "error": None, "seconds": round(res.seconds, 3),
                             "command": res.command, "log_tail": res.log_tail, "info": res.info})
    return None
