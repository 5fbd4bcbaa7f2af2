"""The session every study opens (issue 27, ``eadbench.run.session``): the README's custom study
runs as printed, opening checks names and the folder's owner before any work and writes nothing,
a study that generates nothing has its settings checked only, ranks other than 0 never take the
lock, and no module reaches into ``eadbench.run`` for a private name."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from eadbench import config
from eadbench.errors import EadbenchError, OutputFolderError
from eadbench.run.session import Owner, Session, check_names
from eadbench.synth import write_dataset
from tests.test_readme import _run, block

ROOT = Path(__file__).resolve().parents[1]
MINE = Owner("test study", "test output", "mine.json", "clips")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("session") / "synth", layout="mead", speakers=1, clips=1,
                         seconds=1.0, size=128, seed=3)


def test_readme_study_guide_runs_as_printed(tmp_path):
    r = _run(block("guide-study"), tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "OK" in r.stdout, r.stdout[-2000:]
    record = json.loads((tmp_path / "ceiling" / "ceiling.json").read_text())
    assert set(next(iter(record["clips"].values()))) == {"psnr", "ssim"}


def test_open_builds_once_and_writes_nothing_until_locked(data, tmp_path):
    cfg = config.resolve(None, dataset="synth", root=str(data), metrics=["psnr"], methods=["static"], device="cpu",
                         quiet=True)
    s = Session.open(cfg, MINE, tmp_path / "out", echo=lambda m: None)
    assert [c.clip_id for c in s.clips] and set(s.methods) == {"static"} and set(s.evaluators) == {"psnr"}
    assert s.store is s.store and set(s.setup) == {"data", "builtin_models", "networks"}
    assert not (tmp_path / "out").exists()
    with s.locked():
        written = s.write_json("mine.json", {"clips": 1})
    assert json.loads(written.read_text()) == {"clips": 1} and written.parent == tmp_path / "out"
    again = Session.open(cfg, MINE, tmp_path / "out", echo=lambda m: None)  # its own folder: fine
    assert again.dir.root == tmp_path / "out"


def test_open_refuses_a_misspelt_name_or_another_commands_folder_before_any_work(data, tmp_path):
    cfg = config.resolve(None, dataset="synth", root=str(data), metrics=["ssim"], methods=["statik"], device="cpu")
    with pytest.raises(EadbenchError, match="statik"):
        Session.open(cfg, MINE, tmp_path / "a")
    assert not (tmp_path / "a").exists()
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("someone else's")
    cfg = config.resolve(None, dataset="synth", root=str(data), metrics=["ssim"], methods=["static"], device="cpu")
    with pytest.raises(OutputFolderError):
        Session.open(cfg, MINE, theirs)
    assert sorted(p.name for p in theirs.iterdir()) == ["notes.txt"]


def test_a_study_that_generates_nothing_checks_its_settings_only():
    cfg = config.resolve(None, dataset="synth", metrics=["nope"], methods=["nothing"])
    check_names(cfg, methods=False)  # its evaluators report the unknown metric
    with pytest.raises(EadbenchError, match="nope"):
        check_names(cfg)
    cfg = config.resolve(None, dataset="synth", metrics=["fvd"])
    cfg.protocols["fvd"] = "no-such-protocol"
    with pytest.raises(EadbenchError):
        check_names(cfg, methods=False)


def test_other_ranks_never_take_the_lock(tmp_path):
    s = Session(config.resolve(None, dataset="synth"), MINE, tmp_path / "r1", rank=1)
    with s.locked():
        assert (tmp_path / "r1").is_dir()
    assert list((tmp_path / "r1").iterdir()) == []  # no owner marker, no lock file


def test_no_module_imports_a_private_name_of_the_run_package_or_the_session():
    offenders = []
    for p in sorted((ROOT / "eadbench").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in ("eadbench.run", "eadbench.run.session"):
                offenders += [f"{p.relative_to(ROOT)}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert not offenders, offenders
