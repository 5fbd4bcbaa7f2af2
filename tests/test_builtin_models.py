"""The built-in models shipped in eadbench/builtin/ (the default run's tiny EAD-Net, the LSE sync
expert and the face256 expert that taught EAD-Net's sync loss): their files match the weight
table and their recipes, they load (fp16 cast to fp32 exactly), the default run's asset step
loads them and trains nothing, a damaged file is one line and exit 3, and `eadbench builtin
train` retrains from scratch into another folder and compares with the shipped file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from eadbench import builtin
from eadbench.config import MethodSpec, RunConfig
from eadbench.errors import WeightsIntegrityError
from eadbench.weights import WEIGHTS, file_sha256


@pytest.mark.parametrize("name", list(builtin.MODELS))
def test_each_shipped_file_matches_the_weight_table_and_its_recipe(name):
    table_name, filename = builtin.MODELS[name]
    path = builtin.HERE / filename
    spec = WEIGHTS.get(table_name)
    assert path.is_file() and spec.filename == filename
    assert spec.package == ("eadbench", f"builtin/{filename}")
    assert path.stat().st_size == spec.size < builtin.MAX_BYTES
    assert file_sha256(path) == spec.sha256
    recipe = json.loads(builtin.recipe_path(name).read_text())
    assert recipe["format"] == builtin.RECIPE_FORMAT and recipe["file"] == filename
    assert (recipe["sha256"], recipe["size"], recipe["dtype"]) == (spec.sha256, spec.size, "float16")
    assert recipe["environment"]["threads"] == builtin.THREADS
    assert recipe["data"]["fingerprint"].startswith("mead-") and len(recipe["data"]["sha256"]) == 64
    assert recipe["code_version"] and recipe["config"]["steps"] > 0 and recipe["seed"] is not None
    assert recipe["final"]
    assert builtin.shipped(name) == path


def test_the_lse_expert_learnt_and_the_seed_it_kept_is_recorded():
    from eadbench.nets.syncnet import MIN_OFFSET_ACCURACY

    recipe = json.loads(builtin.recipe_path("lse").read_text())
    assert recipe["config"]["steps"] == 1500 and recipe["config"]["seeds"] == [0, 1, 2]
    assert recipe["seed"] == recipe["tried"][-1]["seed"]
    assert recipe["final"]["training_set_fp16_file"]["offset_accuracy"] >= MIN_OFFSET_ACCURACY
    assert len(recipe["tried"][-1]["curve"]) == 1500 // 20
    eadnet = json.loads(builtin.recipe_path("eadnet").read_text())
    assert eadnet["config"]["steps"] == 300 and len(eadnet["curve"]["rows"]) >= 30


def test_loading_casts_fp16_to_the_same_fp32_and_builds_the_networks():
    from eadnet.inference import EADNetPipeline

    from eadbench.nets.syncnet import SyncNetSmall, _read_expert

    tensors, meta = builtin.read(builtin.shipped("lse"))
    assert meta["kind"] == "sync-expert" and meta["arch"] == "small"
    assert all(v.dtype != torch.float16 for v in tensors.values())
    net, record = _read_expert(builtin.shipped("lse"))
    assert isinstance(net, SyncNetSmall) and record["steps"] == 1500
    again, _ = builtin.read(builtin.shipped("lse"))
    assert all(torch.equal(tensors[k], again[k]) for k in tensors)
    for k, v in net.state_dict().items():  # exactly the fp16 values, widened
        assert torch.equal(v, tensors[k])
        if v.dtype.is_floating_point:
            assert torch.equal(v.half().float(), v)
    pipe = EADNetPipeline.from_checkpoint(builtin.shipped("eadnet"), device="cpu")
    assert pipe.cfg.syncnet_path == "builtin:face256"
    assert sum(p.numel() for p in pipe.model.parameters()) > 1_000_000


def _synth_cfg(**kw) -> RunConfig:
    return RunConfig(dataset="synth", methods=[MethodSpec.parse("ground_truth"), MethodSpec.parse("eadnet")], **kw)


def _no_training(monkeypatch):
    def refuse(*a, **kw):
        raise AssertionError("the default run trained something")

    monkeypatch.setattr("eadbench.run.builtin.sync_expert", refuse)
    monkeypatch.setattr("eadbench.run.builtin.tiny_eadnet", refuse)
    monkeypatch.setattr("eadbench.run.builtin.train_sync_expert", refuse)
    monkeypatch.setattr("eadbench.run.builtin.train_eadnet", refuse)
    monkeypatch.setattr("eadbench.syncnet_train.train", refuse)
    monkeypatch.setattr("eadnet.train.train", refuse)


def test_the_default_run_loads_the_shipped_models_and_trains_nothing(monkeypatch, tmp_path):
    from eadbench.run.session import prepare_builtin_assets

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))  # no syncnet_v2.model: LSE uses the expert
    monkeypatch.delenv("EADBENCH_WEIGHTS", raising=False)
    _no_training(monkeypatch)
    cfg = _synth_cfg()
    prepare_builtin_assets(cfg, lambda s: None, 0)
    assert cfg.metric_options["lse"]["syncnet_path"] == str(builtin.HERE / "lse_expert.safetensors")
    eadnet = next(m for m in cfg.methods if m.method == "eadnet")
    assert eadnet.options == {"checkpoint": str(builtin.HERE / "eadnet_tiny.safetensors"), "steps": 4,
                              "guidance": 1.0}
    assert not (tmp_path / "cache").exists()  # nothing trained, prepared or cached


def test_retrain_builtin_takes_the_training_path(monkeypatch, tmp_path):
    from eadbench.run.session import prepare_builtin_assets

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("EADBENCH_WEIGHTS", raising=False)
    asked = []
    monkeypatch.setattr("eadbench.run.builtin.sync_expert", lambda cfg, crop, echo, progress: asked.append(crop)
                        or tmp_path / "expert.pt")
    monkeypatch.setattr("eadbench.run.builtin.tiny_eadnet", lambda cfg, echo, progress: asked.append("eadnet")
                        or tmp_path / "checkpoint.pt")
    cfg = _synth_cfg(retrain_builtin=True)
    prepare_builtin_assets(cfg, lambda s: None, 0)
    assert asked == ["syncnet", "eadnet"]
    assert cfg.metric_options["lse"]["syncnet_path"] == str(tmp_path / "expert.pt")


def _damaged_copy(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    src = builtin.HERE / builtin.MODELS[name][1]
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte deep inside the weights
    dest = folder / src.name
    dest.write_bytes(bytes(data))
    return dest


def test_a_damaged_file_is_one_line_naming_it(monkeypatch, tmp_path):
    from eadbench.run.session import prepare_builtin_assets

    bad = _damaged_copy(tmp_path / "weights", "lse")
    with pytest.raises(WeightsIntegrityError) as err:
        builtin.shipped("lse", tmp_path / "weights")
    msg = str(err.value)
    assert "\n" not in msg and str(bad) in msg and "sha256" in msg
    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    _no_training(monkeypatch)
    with pytest.raises(WeightsIntegrityError):
        prepare_builtin_assets(_synth_cfg(weights_dir=str(tmp_path / "weights")), lambda s: None, 0)
    # the reader itself refuses a file that is not a built-in model
    (tmp_path / "junk.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    with pytest.raises(WeightsIntegrityError, match="not"):
        builtin.read(tmp_path / "junk.safetensors")


def test_the_cli_says_a_damaged_file_in_one_line_with_exit_3(tmp_path):
    _damaged_copy(tmp_path / "weights", "eadnet")
    env = {**os.environ, "EADBENCH_WEIGHTS": str(tmp_path / "weights"), "EADBENCH_CACHE": str(tmp_path / "c")}
    r = subprocess.run([sys.executable, "-m", "eadbench.cli.main", "builtin", "list"], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1 and "eadnet_tiny.safetensors" in r.stderr and "sha256" in r.stderr
    ok = subprocess.run([sys.executable, "-m", "eadbench.cli.main", "builtin", "list", "--json"],
                        capture_output=True, text=True, env={**env, "EADBENCH_WEIGHTS": str(tmp_path / "none")},
                        timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert [r["name"] for r in json.loads(ok.stdout)] == list(builtin.MODELS)


def test_train_refuses_the_shipped_folder_and_install_with_steps(tmp_path):
    from typer.testing import CliRunner

    from eadbench.cli.main import app

    r = CliRunner().invoke(app, ["builtin", "train", "--out", str(builtin.HERE)])
    assert r.exit_code == 2 and "shipped folder" in r.output
    r = CliRunner().invoke(app, ["builtin", "train", "--steps", "2", "--install", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "--install" in r.output
    r = CliRunner().invoke(app, ["builtin", "train", "--only", "nope", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "nope" in r.output


@pytest.mark.slow
def test_retraining_in_a_few_steps_gives_loadable_models_and_a_comparison(tmp_path, monkeypatch):
    """The retrain path end to end on a small copy of the built-in data (3 speakers, one of them in
    the training split): a few steps each, files under the size limit, loadable, compared."""
    from eadnet.inference import EADNetPipeline

    from eadbench.nets.syncnet import load_expert

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    cfg = RunConfig(synth={"layout": "mead", "speakers": 3, "clips": 2, "seconds": 2.0, "size": 160, "seed": 0})
    out = tmp_path / "retrained"
    before = sorted(p.name for p in builtin.HERE.iterdir())
    shipped = {n: file_sha256(builtin.HERE / f) for n, (_, f) in builtin.MODELS.items()}
    names = builtin.train(["lse", "eadnet"], out, cfg=cfg, steps=3, echo=lambda s: None)
    assert names == ["lse", "eadnet", "face256"]
    for n in names:
        f = out / builtin.MODELS[n][1]
        assert f.stat().st_size < builtin.MAX_BYTES
        recipe = json.loads(builtin.recipe_path(n, out).read_text())
        assert recipe["sha256"] == file_sha256(f) and recipe["config"]["steps"] == 3
        c = builtin.compare(n, out)
        assert c["same_layout"] and not c["identical"] and c["max_abs_weight_diff"] > 0
        text = builtin.format_comparison(c)
        assert "shipped" in text and "max |weight difference|" in text
    tried = [r["seed"] for r in json.loads(builtin.recipe_path("lse", out).read_text())["tried"]]
    assert tried == [0, 1, 2][:len(tried)]  # seeds in turn until one learns (3 steps: most likely none)
    load_expert(out / "lse_expert.safetensors")
    EADNetPipeline.from_checkpoint(out / "eadnet_tiny.safetensors", device="cpu")
    # the shipped files were not touched
    assert sorted(p.name for p in builtin.HERE.iterdir()) == before
    assert {n: file_sha256(builtin.HERE / f) for n, (_, f) in builtin.MODELS.items()} == shipped


def test_the_same_weights_always_give_the_same_file(tmp_path):
    """safetensors writes its metadata map in hash order (another order per call); the built-in
    files keep theirs in one sorted JSON entry, so a retrained model with the same weights has
    the same sha256 as the shipped one."""
    from eadbench.nets.syncnet import SyncNetSmall

    state = SyncNetSmall().state_dict()
    state.update(arch="small", meta=json.dumps({"steps": 1, "offset_accuracy": 0.0}))
    torch.save(state, tmp_path / "e.pt")
    digests = {file_sha256(builtin.export_expert(tmp_path / "e.pt", tmp_path / f"{i}.safetensors")) for i in range(4)}
    assert len(digests) == 1
