"""The built-in trained assets (eadbench/run/builtin.py) are keyed by everything that shapes them:
a change to the code that prepares their training crops must give a new prepared folder and new
cache keys for the sync expert and the tiny EAD-Net, never a model trained on stale crops. (A
cold default run and a run reusing crops prepared by older code gave different LSE values.)"""

from __future__ import annotations

from pathlib import Path

from eadbench.config import RunConfig
from eadbench.run import builtin


def _keys(monkeypatch, tmp_path: Path, prepare_version: str) -> dict:
    real_version = builtin.code_version

    def version(*modules: str) -> str:
        return prepare_version if modules == builtin.PREPARE_MODULES else real_version(*modules)

    seen: dict = {}
    monkeypatch.setattr(builtin, "code_version", version)
    monkeypatch.setattr("eadbench.run.inputs.builtin_synth_root", lambda cfg: tmp_path / "mead-0123")
    monkeypatch.setattr(builtin, "_cached", lambda kind, key, build, echo: seen.setdefault(kind, key) and tmp_path)
    prepared: list[Path] = []
    monkeypatch.setattr("eadbench.prepare.prepare_dataset", lambda kind, data, out, **kw: prepared.append(out))
    builtin.sync_expert(RunConfig(), "syncnet", echo=lambda *a: None, progress=False)
    builtin.tiny_eadnet(RunConfig(), echo=lambda *a: None, progress=False)
    builtin._prepared_train(RunConfig(), ("face256",), progress=False)
    return {**seen, "prepared": prepared[0].name}


def test_a_change_to_the_preparing_code_retrains_and_reprepares(monkeypatch, tmp_path):
    a = _keys(monkeypatch, tmp_path, "prepare-v1")
    b = _keys(monkeypatch, tmp_path, "prepare-v1")
    c = _keys(monkeypatch, tmp_path, "prepare-v2")
    assert a == b  # the same code: the same assets are reused
    for kind in ("sync-expert-syncnet", "eadnet-tiny", "prepared"):
        assert a[kind] != c[kind], kind
    assert c["prepared"].endswith("-prepared-face256-prepare-v2")
