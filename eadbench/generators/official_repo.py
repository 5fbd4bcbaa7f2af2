"""Shared driver for baselines run from their official repositories as subprocesses.

Each baseline lives in ``baselines/<name>/`` (package ``eadbench_baselines.<name>``) and only
says how to build its command line and where its output lands. This class checks the
configuration, mirrors the repository into a private working directory per job, runs the
job with the repository's own interpreter (its ``bin/`` first on PATH, so the ``ffmpeg`` an
official script shells out to is the one of its environment), normalises the output and records
provenance (upstream commit, checkpoint hashes, command line, duration, log tail). Every failure
of a job (crash, kill, timeout, no or short output) is a GenerationError carrying the log tail.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

from eadbench.errors import GenerationError
from eadbench.generators.base import GenerationRequest, GenerationResult, Generator, normalise_output
from eadbench.generators.subprocess_job import git_commit, mirror_repo, run_job
from eadbench.weights import file_sha256


class OfficialRepoGenerator(Generator):
    #: checkpoint option names this baseline needs, e.g. ("checkpoint",)
    checkpoints: tuple[str, ...] = ()
    #: a file that must exist in the repository (sanity check of the `repo` option)
    entry_point: str = ""
    default_timeout = 1800.0
    #: frames the official script may stop before the end of the audio by design (held, see normalise_output)
    tail_frames = 0
    common_options = {
        "repo": "path of the official repository checkout",
        "python": "interpreter of the repository's own environment (default: this Python)",
        "extra_args": "extra command-line arguments (list, or a string split like a shell)",
        "timeout": "seconds before a job is killed",
        "label": "name shown in tables",
        "commit": "upstream commit of a checkout without .git (recorded; a .git's HEAD wins)",
    }

    @classmethod
    def option_help(cls) -> dict[str, str]:
        return {**cls.common_options, **{c: f"{c} file" for c in cls.checkpoints}, **cls.options}

    def __init__(self, **config: Any):
        self.options = self.option_help()
        super().__init__(**config)
        if "repo" not in config:
            raise GenerationError(f"method {self.name} needs option repo=<path of its official repository> "
                                  f"(see baselines/{self.name}/README.md)")
        self.repo = Path(config["repo"]).expanduser().resolve()
        if not (self.repo / self.entry_point).exists():
            raise GenerationError(f"method {self.name}: {self.repo} has no {self.entry_point}; "
                                  "is repo= the official checkout?")
        self.python = str(config.get("python") or sys.executable)
        self.ckpts: dict[str, Path] = {}
        for name in self.checkpoints:
            if name not in config:
                raise GenerationError(f"method {self.name} needs option {name}=<file>")
            p = Path(config[name]).expanduser()
            if not p.is_absolute():
                p = (self.repo / p).resolve()
            if not p.exists():
                raise GenerationError(f"method {self.name}: checkpoint {p} does not exist")
            self.ckpts[name] = p
        extra = config.get("extra_args") or []
        self.extra = shlex.split(extra) if isinstance(extra, str) else [str(a) for a in extra]
        self.timeout = float(config.get("timeout", self.default_timeout))

    def commit(self) -> str | None:
        return git_commit(self.repo) or self.config.get("commit")

    def provenance(self) -> dict[str, Any]:
        return {
            "method": self.name, "repo": str(self.repo), "commit": self.commit(),
            "entry_point": {"path": self.entry_point, "sha256": file_sha256(self.repo / self.entry_point)},
            "python": self.python, "extra_args": self.extra,
            "checkpoints": {k: {"path": str(p), "sha256": file_sha256(p)} for k, p in self.ckpts.items()},
        }

    def fingerprint(self) -> dict[str, Any]:
        return self.provenance()

    # --- what each baseline defines ------------------------------------------------------
    def build_argv(self, req: GenerationRequest) -> list[str]:
        raise NotImplementedError

    def find_output(self, req: GenerationRequest) -> Path:
        raise NotImplementedError

    def prepare_inputs(self, req: GenerationRequest) -> None:
        """Hook for baselines that need extra files (e.g. MuseTalk's task YAML)."""

    def job_env(self, req: GenerationRequest) -> dict[str, str]:
        """Extra environment variables of a job (e.g. where upstream finds downloaded weights)."""
        return {}

    def postprocess(self, out: Path, req: GenerationRequest) -> Path:
        """Hook: turn upstream's output into the generated video alone (e.g. cut away a sketch panel)."""
        return out

    #: a folder put first on the job's PYTHONPATH: its ``sitecustomize.py`` applies run-time fixes to
    #: the environment before the unchanged upstream script runs (``eadbench_baselines.RUNTIME``;
    #: see the baseline's README)
    runtime_dir: Path | None = None

    @classmethod
    def runtime_env(cls) -> dict[str, str]:
        """The variables that give a job ``runtime_dir``'s fixes (also for a test's own upstream calls)."""
        if cls.runtime_dir is None:
            return {}
        return {"PYTHONPATH": str(cls.runtime_dir), "EADBENCH_BASELINE": cls.name,
                "EADBENCH_TORCHVISION_FIX": str(Path(__file__).resolve().parents[1] / "_torchvision.py")}

    @staticmethod
    def link_inputs(req: GenerationRequest) -> tuple[str, str]:
        """Link the reference video and the audio into the job folder under plain names, for
        upstream scripts that paste paths into shell strings or split them at the first dot."""
        names = ("eadbench_face.mp4", "eadbench_audio.wav")
        for name, src in zip(names, (req.reference_video, req.audio)):
            (req.workdir / name).symlink_to(Path(src).resolve())
        return names

    # --------------------------------------------------------------------------------------
    def generate(self, req: GenerationRequest) -> GenerationResult:
        mirror_repo(self.repo, req.workdir)
        self.prepare_inputs(req)
        argv = [self.python, *self.build_argv(req), *self.extra]
        # unbuffered: a killed or timed-out job's log still holds what it printed last
        env = {**self.runtime_env(), "PYTHONUNBUFFERED": "1", **self.job_env(req)}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(self.repo)) if p)
        if os.path.dirname(self.python):
            env["PATH"] = os.pathsep.join([str(Path(self.python).expanduser().parent), os.environ.get("PATH", "")])
        job = run_job(argv, req.workdir, self.timeout, env=env)
        try:
            out = self.find_output(req)
            if out is None or not Path(out).exists():
                raise GenerationError(f"finished but its output video was not found; last output: "
                                      f"{job.log_tail.splitlines()[-1] if job.log_tail else '(none)'}")
            normalise_output(self.postprocess(Path(out), req), req, hold_tail=self.tail_frames)
        except GenerationError as exc:
            raise GenerationError(f"{self.name} {exc}", job.log_tail, argv) from None
        return GenerationResult(req.out, job.seconds, argv, job.log_tail, info={"commit": self.commit()})
