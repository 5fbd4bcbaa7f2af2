"""Nothing lost, second round (issue 23, items 1, 6 and part of 7): no command writes into a
folder it does not own (the owner marker is checked before any write), one lock convention
for every command (the lock inside the folder, so any two commands on one folder exclude each
other), and no litter: a refused command leaves nothing beside the folder, and the temporary
files a killed command left are removed by the next one (and nothing else is)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eadbench.cli.main import app
from eadbench.synth import write_dataset

cli = CliRunner()
RUN = ["--methods", "static", "--metrics", "ssim", "--quiet"]
TINY = ["--speakers", "1", "--clips", "1", "--seconds", "0.6", "--size", "96", "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("lost2") / "synth", layout="mead", speakers=2, clips=1,
                         seconds=0.8, size=128, seed=2)


@pytest.fixture(scope="module")
def run_dir(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("lost2run") / "run"
    r = cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(out), *RUN])
    assert r.exit_code == 0, r.output
    return out


def _run(data: Path, out: Path, *extra: str):
    return cli.invoke(app, ["run", "--dataset", "synth", "--root", str(data), "--out", str(out), *RUN, *extra])


def _one_line_exit_2(r, text: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output and text in r.output.strip().splitlines()[-1], r.output


def _user_folder(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def _untouched(folder: Path, files: dict[str, str]) -> bool:
    """The user's files unchanged, and nothing added (no marker, no lock, no temporary file)."""
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    return present == set(files) and all((folder / n).read_text() == t for n, t in files.items())


# ------------------------------------------------------------------------------------------------
# item 1: the owner marker is checked before any write
# ------------------------------------------------------------------------------------------------
def test_run_refuses_a_folder_it_did_not_write_and_keeps_the_users_files(data, tmp_path):
    u = tmp_path / "u"
    (u / "videos" / "ground_truth").mkdir(parents=True)
    mine = {"summary.json": "mine\n", "per_clip.csv": "mine\n"}
    _user_folder(u, mine)
    _one_line_exit_2(_run(data, u), "not empty and was not written by eadbench run")
    assert _untouched(u, mine) and (u / "videos" / "ground_truth").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["u"]  # nothing beside it either
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _run(data, empty).exit_code == 0  # an empty folder is fine
    summary = (empty / "summary.json").read_bytes()
    r = _run(data, empty)  # its own run folder: resumed
    assert r.exit_code == 0, r.output
    assert (empty / "summary.json").read_bytes() == summary


def test_a_run_folder_written_before_owner_markers_is_still_resumed(data, run_dir, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    (old / ".eadbench-owner").unlink()  # what a run of the previous version left: its manifest only
    r = _run(data, old)
    assert r.exit_code == 0, r.output


def test_one_command_does_not_take_over_another_commands_folder(data, run_dir, tmp_path):
    r = cli.invoke(app, ["robustness", "--metrics", "psnr", "--dataset", "synth", "--root", str(data),
                         "--out", str(run_dir), "--quiet"])
    _one_line_exit_2(r, "was written by eadbench run, not eadbench robustness")


@pytest.mark.parametrize("command,same_named", [
    (["robustness", "--metrics", "psnr", "--dataset", "synth", "--limit", "1", "--perturbations", "shuffle",
      "--bootstrap", "0", "--quiet"], "robustness.json"),
    (["probe", "lipleak", "--dataset", "synth", "--methods", "static", "--limit", "1", "-q"], "lipleak_probe.json"),
    (["prepare", "--dataset", "synth", "--protocols", "face256", "--limit", "1", "--quiet"], "synth/failures.jsonl"),
    (["ablate", "--variants", "baseline", "--train-steps", "1", "--limit", "1", "--metrics", "psnr", "--quiet"],
     "ablation.md"),
    (["report", "RUN", "--no-figures"], "main.md"),
    (["eadnet", "train", "--data", "PREPARED", "--steps", "1", "--quiet"], "config.json"),
])
def test_every_command_writing_a_folder_refuses_one_it_did_not_write(data, run_dir, tmp_path, command, same_named):
    u = tmp_path / "u"
    mine = {same_named: "mine\n", "notes.txt": "keep\n"}
    _user_folder(u, mine)
    argv = [{"RUN": str(run_dir), "PREPARED": str(tmp_path / "prepared")}.get(a, a) for a in command]
    if command[0] not in ("report", "ablate", "eadnet"):
        argv += ["--root", str(data)]
    r = cli.invoke(app, [*argv, "--out", str(u)])
    name = " ".join(command[:2]) if command[0] == "eadnet" else command[0]
    _one_line_exit_2(r, f"was not written by eadbench {name}")
    assert _untouched(u, mine)


# ------------------------------------------------------------------------------------------------
# item 6: one lock convention, whichever commands meet on a folder
# ------------------------------------------------------------------------------------------------
HOLD = """
import sys, time
from eadbench.locking import claim_folder, folder_lock
with claim_folder(sys.argv[1], sys.argv[2], "run") if sys.argv[2:] else folder_lock(sys.argv[1], "test holder"):
    print("locked", flush=True)
    time.sleep(120)
"""


def _holding(folder: Path, command: str | None = None) -> subprocess.Popen:
    """Another process that holds the lock of ``folder`` (and owns it as ``command``, when given,
    as that command does while it runs)."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(folder), *([command] if command else [])],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_synth_force_cannot_write_into_a_live_run(data, tmp_path):
    run_c = tmp_path / "runC"
    holder = _holding(run_c, "eadbench run")
    try:
        before = sorted(p.name for p in run_c.iterdir())
        r = cli.invoke(app, ["synth", "--out", str(run_c), "--force", *TINY])
        _one_line_exit_2(r, f"is in use by pid {holder.pid}")
        r = _run(data, run_c)
        _one_line_exit_2(r, f"is in use by pid {holder.pid}")
        assert sorted(p.name for p in run_c.iterdir()) == before
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", [
    ["synth", *TINY],
    ["run", "--dataset", "synth", "ROOT", *RUN],
    ["prepare", "--dataset", "synth", "ROOT", "--quiet"],
    ["robustness", "--metrics", "psnr", "--dataset", "synth", "ROOT", "--quiet"],
    ["probe", "lipleak", "--dataset", "synth", "ROOT", "--methods", "static", "-q"],
    ["ablate", "--variants", "baseline", "--quiet"],
    ["report", "RUN", "--no-figures"],
])
def test_every_command_waits_for_any_other_commands_lock(data, run_dir, tmp_path, command):
    out = tmp_path / "busy"
    holder = _holding(out)  # a folder holding only a lock: any command may own it, only the lock refuses
    try:
        argv = [{"ROOT": f"--root={data}", "RUN": str(run_dir)}.get(a, a) for a in command]
        r = cli.invoke(app, [*argv, "--out", str(out)])
        _one_line_exit_2(r, f"is in use by pid {holder.pid}")
        assert [p.name for p in out.iterdir()] == [".eadbench.lock"]
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------------------------------------
# item 7: no litter beside a refused folder; a killed command's temporary files are removed
# ------------------------------------------------------------------------------------------------
def test_synth_refusing_a_folder_leaves_nothing_beside_it(tmp_path):
    precious = tmp_path / "precious"
    mine = {"thesis.txt": "x"}
    _user_folder(precious, mine)
    _one_line_exit_2(cli.invoke(app, ["synth", "--out", str(precious), *TINY]), "not empty and was not written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["precious"] and _untouched(precious, mine)


KILLED = """
import os, signal, sys
from eadbench.atomic import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    open(tmp, "wb").write(b"half a video")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_resume_removes_the_temporary_files_of_a_killed_run_and_only_those(data, tmp_path):
    out = tmp_path / "run"
    assert _run(data, out).exit_code == 0
    clip = next((out / "inputs").iterdir())
    real = clip / "real.mp4"
    real.unlink()  # killed while writing it
    p = subprocess.run([sys.executable, "-c", KILLED, str(real)], check=False)
    assert p.returncode == -signal.SIGKILL
    left = [f for f in clip.iterdir() if f.name.startswith(".real.mp4.") and f.suffix == ".part"]
    assert len(left) == 1 and not real.exists()
    others = {clip / ".real.mp4.mine.part": "a user's file", clip / ".notes.part": "also the user's",
              # named as a temporary file of a process that still runs (this one): being written, kept
              clip / f".real.mp4.{os.getpid()}@{left[0].name.split('@')[1]}": "in progress"}
    for f, text in others.items():
        f.write_text(text)
    r = _run(data, out)
    assert r.exit_code == 0, r.output
    assert not left[0].exists() and real.exists()
    assert all(f.read_text() == text for f, text in others.items())
