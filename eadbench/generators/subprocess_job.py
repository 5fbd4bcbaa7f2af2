"""Run another method's program safely: argument lists only, a private working directory,
a timeout that kills the whole process group, and the log tail kept for the failure record."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from eadbench.errors import GenerationError

#: folders official scripts write scratch files and results into, relative to their working directory
SCRATCH = ("temp", "results")


@dataclass
class JobResult:
    argv: list[str]
    returncode: int
    seconds: float
    log_tail: str


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_job(argv: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None,
            log_name: str = "job.log") -> JobResult:
    """Run ``argv`` (a list, never a shell string) in ``cwd``; raise GenerationError on failure,
    carrying the log tail and the command line for the clip's failure record."""
    argv = [str(a) for a in argv]
    cwd.mkdir(parents=True, exist_ok=True)
    log_path = cwd / log_name
    t = time.perf_counter()
    full_env = {**os.environ, **(env or {})}
    with open(log_path, "wb") as log:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, env=full_env, start_new_session=True)
        except OSError as exc:
            raise GenerationError(f"cannot start {argv[0]}: {exc.strerror}", command=argv) from None
        try:
            rc = proc.wait(timeout=timeout)
        except BaseException as exc:
            # the job runs in its own session (a terminal's Ctrl-C never reaches it): it must not
            # outlive eadbench when eadbench itself is interrupted
            _kill_group(proc)
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            raise GenerationError(f"timed out after {timeout:g} s: {' '.join(argv[:3])} ...; "
                                  f"last output: {_last_line(log_path)}", tail(log_path), argv) from None
    seconds = time.perf_counter() - t
    result = JobResult(argv, rc, seconds, tail(log_path))
    if rc < 0:
        # the program did not exit: something killed it (the kernel's OOM killer, a user, a scheduler)
        _kill_group(proc)  # whatever it started goes too
        raise GenerationError(f"killed by {_signal_name(-rc)} after {seconds:.0f} s (out of memory, or stopped "
                              f"from outside); last output: {_last_line(log_path)}", result.log_tail, argv)
    if rc != 0:
        raise GenerationError(f"exited with code {rc}: {_last_line(log_path)}", result.log_tail, argv)
    return result


def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _last_line(log_path: Path) -> str:
    lines = [ln for ln in tail(log_path, 50).splitlines() if ln.strip()]
    return lines[-1].strip()[:300] if lines else "(no output)"


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def git_commit(repo: Path) -> str | None:
    """HEAD commit of a repository, read without running a shell (None when not a git repo)."""
    git = Path(repo) / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if head.startswith("ref: "):
            ref = head[5:]
            ref_file = git / ref
            if ref_file.exists():
                return ref_file.read_text().strip()
            packed = git / "packed-refs"
            if packed.exists():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0]
            return None
        return head
    except OSError:
        return None


def mirror_repo(repo: Path, workdir: Path) -> None:
    """Symlink a repository's top-level entries into ``workdir``.

    Official scripts read models and configs through paths relative to the working directory
    and write scratch files (Wav2Lip's ``temp/``) into it; a mirrored private folder gives
    every job its own scratch space while relative paths still resolve. The scratch folders
    themselves are made empty here: Wav2Lip's ``cv2.VideoWriter('temp/result.avi')`` writes
    nothing, silently, when ``temp/`` is missing.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    for entry in Path(repo).iterdir():
        if entry.name in (".git", *SCRATCH):
            continue
        link = workdir / entry.name
        if not link.exists():
            link.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    for name in SCRATCH:
        (workdir / name).mkdir(exist_ok=True)
