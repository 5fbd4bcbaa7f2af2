"""Any other method (EmotiveTalk, EMOdiffhead, SadTalker, your own) from an argv template.

The template is a list of arguments (or a string split like a shell would, but never run
through one) with placeholders {video} {audio} {emotion} {intensity} {text} {clip_id} {out}
{workdir}. The program must write the video to {out}; the harness then normalises it.
"""

from __future__ import annotations

import shlex

from eadbench.generators.base import (
    GenerationError,
    GenerationRequest,
    GenerationResult,
    Generator,
    normalise_output,
    register_generator,
)
from eadbench.generators.subprocess_job import run_job

PLACEHOLDERS = ("video", "audio", "emotion", "intensity", "text", "clip_id", "out", "workdir")


@register_generator
class Command(Generator):
    name = "command"
    description = "any program, from an argv template with {video} {audio} {emotion} {intensity} {out}"
    options = {
        "argv": "the command as a list (YAML) or a string (split like a shell, never run by one)",
        "label": "name shown in tables",
        "timeout": "seconds before the job is killed (default 1800)",
        "cwd": "working directory (default: a private temporary folder per job)",
    }

    def __init__(self, **config):
        super().__init__(**config)
        argv = config.get("argv")
        if not argv:
            raise GenerationError("method command needs option argv (the command template)")
        self.template = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
        if not any("{out}" in a for a in self.template):
            raise GenerationError("method command: the argv template must contain {out}")

    def argv_for(self, req: GenerationRequest, raw_out) -> list[str]:
        values = {
            "video": str(req.reference_video), "audio": str(req.audio), "emotion": req.emotion or "",
            "intensity": "" if req.intensity is None else f"{req.intensity:g}", "text": req.text or "",
            "clip_id": req.clip.clip_id, "out": str(raw_out), "workdir": str(req.workdir),
        }
        try:
            return [a.format(**values) for a in self.template]
        except (KeyError, IndexError, ValueError) as exc:
            raise GenerationError(f"method command: bad placeholder {exc} in argv template; "
                                  f"known: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}") from None

    def generate(self, req: GenerationRequest) -> GenerationResult:
        raw = req.workdir / "raw_output.mp4"
        argv = self.argv_for(req, raw)
        cwd = req.workdir if not self.config.get("cwd") else type(req.workdir)(self.config["cwd"])
        job = run_job(argv, cwd, float(self.config.get("timeout", 1800)))
        if not raw.exists():
            raise GenerationError(f"the command finished but wrote no video at {{out}}; last output: "
                                  f"{job.log_tail.splitlines()[-1] if job.log_tail else '(none)'}")
        normalise_output(raw, req)
        return GenerationResult(req.out, job.seconds, argv, job.log_tail)
