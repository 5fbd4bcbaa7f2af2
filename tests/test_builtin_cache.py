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
    monkeypatch.setattr("eadbench.run.inputs.builtin_synth_root", lambda cfg, renders=None: tmp_path / "mead-0123")
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


def _build_expert(monkeypatch, tmp_path: Path, accuracy_by_seed: dict[int, float], crop: str = "syncnet"):
    """Run sync_expert's build step with a stand-in trainer; returns (seeds trained, messages, folder)."""
    trained: list[int] = []
    said: list[str] = []

    def fake_train(data, out, *, seed, **kw):
        trained.append(seed)
        Path(out).write_text(f"seed {seed}")
        Path(str(out) + ".ckpt").write_text("optimizer state")
        return {"sync_accuracy": 0.5, "offset_accuracy": accuracy_by_seed[seed]}

    folder = tmp_path / "asset"
    folder.mkdir()

    def cached(kind, key, build, echo):
        return build(folder)

    monkeypatch.setattr("eadbench.run.inputs.builtin_synth_root", lambda cfg, renders=None: tmp_path / "mead-0123")
    monkeypatch.setattr(builtin, "_prepared_train", lambda cfg, protocols, progress: tmp_path / "prep")
    monkeypatch.setattr(builtin, "_cached", cached)
    monkeypatch.setattr("eadbench.syncnet_train.train", fake_train)
    path = builtin.sync_expert(RunConfig(), crop, echo=said.append, progress=False)
    return trained, said, path


def test_the_lse_expert_is_retrained_with_the_next_seed_until_it_learns(monkeypatch, tmp_path):
    """Training the LSE expert is chaotic (another CPU's rounding, another path): a seed that stays at
    chance is replaced by the next, the first that learns is kept, and its optimizer state is dropped."""
    trained, said, path = _build_expert(monkeypatch, tmp_path, {0: 0.0, 1: 1.0, 2: 1.0})
    assert trained == [0, 1]
    assert path.read_text() == "seed 1" and sorted(p.name for p in path.parent.iterdir()) == ["expert.pt"]
    assert any("did not learn with seed 0" in s and "trying seed 1" in s for s in said)


def test_a_learning_first_seed_is_the_only_training_and_no_seed_learning_is_said(monkeypatch, tmp_path):
    trained, said, path = _build_expert(monkeypatch, tmp_path, {0: 1.0, 1: 1.0, 2: 1.0})
    assert trained == [0] and path.read_text() == "seed 0"
    (tmp_path / "none").mkdir()
    trained, said, path = _build_expert(monkeypatch, tmp_path / "none", {0: 0.0, 1: 0.1, 2: 0.0})
    assert trained == [0, 1, 2] and path.read_text() == "seed 2"
    assert "no seed of [0, 1, 2] learnt, so LSE will refuse it" in said[-1]


def test_the_face256_expert_trains_one_seed_as_baselined(monkeypatch, tmp_path):
    trained, _, path = _build_expert(monkeypatch, tmp_path, {0: 0.0}, crop="face256")
    assert trained == [0] and path.read_text() == "seed 0"
