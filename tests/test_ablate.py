"""`eadbench ablate` fast mode: trains two variants with the same seed, scores, writes the table."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from eadbench.cli.main import app

# each test trains EAD-Net variants (a minute or more): CI runs them with `pytest -m slow`
pytestmark = pytest.mark.slow

cli = CliRunner()


def test_fast_ablation_writes_the_table(tmp_path, monkeypatch):
    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))

    args = ["ablate", "--variants", "baseline,full", "--train-steps", "2", "--infer-steps", "1", "--limit", "1",
            "--metrics", "ssim,psnr", "--out", str(tmp_path / "abl"), "--quiet",
            "--set", "size=32", "--set", "channels=[16, 32]", "--set", "attention_levels=[false, true]",
            "--set", "cond_dim=32", "--set", "heads=2", "--set", "groups=4"]
    r = cli.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "| baseline | ✗ | ✗ | ✗ |" in r.output and "| full | ✓ | ✓ | ✓ |" in r.output
    data = json.loads((tmp_path / "abl" / "ablation.json").read_text())
    rows = {x["variant"]: x for x in data["rows"]}
    assert rows["full"]["params"] > rows["baseline"]["params"]
    assert rows["full"]["metrics"]["ssim/ssim"] is not None
    r = cli.invoke(app, ["ablate", "--variants", "nope", "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "unknown variant" in r.output


def test_syncnet_auto_trains_the_expert_first_and_turns_the_sync_loss_on(tmp_path, monkeypatch):
    from eadbench import ablate

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ablate, "EXPERT_STEPS", 3)
    out = tmp_path / "abl"
    args = ["ablate", "--variants", "full", "--train-steps", "2", "--infer-steps", "1", "--limit", "1",
            "--metrics", "psnr", "--out", str(out), "--quiet", "--syncnet", "auto",
            "--set", "size=32", "--set", "channels=[16, 32]", "--set", "attention_levels=[false, true]",
            "--set", "cond_dim=32", "--set", "heads=2", "--set", "groups=4"]
    r = cli.invoke(app, args)
    assert r.exit_code == 0, r.output
    overrides = json.loads((out / "ablation.json").read_text())["overrides"]
    assert overrides["syncnet_path"] == str(out / "sync256.pt") and (out / "sync256.pt").exists()
    trained = torch.load(out / "models" / "full" / "checkpoint.pt", weights_only=True)["config"]
    assert trained["w_sync"] == 0.02 and trained["syncnet_path"] == str(out / "sync256.pt")
    header = (out / "models" / "full" / "metrics.csv").read_text().splitlines()[0]
    assert "sync" in header.split(",")


def test_text_source_axis_parsing():
    import pytest

    from eadbench.ablate import text_sources
    from eadbench.errors import EadbenchError

    assert text_sources(None) is None  # the default ablation: no axis, rows unchanged
    assert text_sources(["face", " template", "face"]) == ["face", "template"]
    with pytest.raises(EadbenchError, match="unknown text source 'vlm'"):
        text_sources(["template", "vlm"])
    with pytest.raises(EadbenchError, match="at least one"):
        text_sources([])
    r = cli.invoke(app, ["ablate", "--text-source", "template,poem", "--out", "/nonexistent/never-made"])
    assert r.exit_code == 2 and "unknown text source 'poem'" in r.output


def test_text_source_axis_trains_each_variant_on_template_and_face_texts(tmp_path, monkeypatch):
    """2 training steps per row on small synthetic clips: the face row trains on per-clip face
    descriptions and generates the test clip from the test clip's own face description."""
    from eadbench.ablate import ablate

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    small = {"size": 32, "channels": (16, 32), "attention_levels": (False, True), "cond_dim": 32, "heads": 2,
             "groups": 4}
    res = ablate(tmp_path / "abl", ["full"], train_steps=2, infer_steps=1, overrides=small,
                 synth={"speakers": 3, "clips": 1, "seconds": 1.0, "size": 128}, limit=1, metrics=["psnr"],
                 progress=False, text_source=["template", "face"], echo=lambda s: None)
    rows = {r["variant"]: r for r in res.rows}
    assert set(rows) == {"full/template", "full/face"}
    assert rows["full/face"]["text_source"] == "face" and rows["full/template"]["text_source"] == "template"
    assert "| Variant | STDA | TFRM | Text | Text source |" in res.table
    assert "| full/face | ✓ | ✓ | ✓ | face |" in res.table
    assert rows["full/face"]["metrics"]["psnr/psnr"] is not None
    out = tmp_path / "abl"
    face_train = sorted((out / "prepared-face" / "synth").glob("*/emotion.json"))
    assert face_train and all(json.loads(f.read_text())["describer"] == "face" for f in face_train)
    tmpl = sorted((out / "prepared-template" / "synth").glob("*/emotion.txt"))
    assert tmpl and all(t.read_text().startswith("a person speaking") for t in tmpl)
    test_texts = sorted((out / "prepared-test-face" / "synth").glob("*/emotion.txt"))
    assert len(test_texts) == 1 and rows["full/face"]["texts"] == str(out / "prepared-test-face" / "synth")
    assert rows["full/template"]["texts"] is None
    assert json.loads((out / "ablation.json").read_text())["text_sources"] == ["template", "face"]


def test_builtin_recipe_ablation_writes_the_report_with_cis_probe_and_command(tmp_path, monkeypatch):
    """``--recipe builtin``: variants train on the counterfactual renders with the shipped recipe's
    overrides; ``--checkpoint-for full=builtin`` takes the shipped model instead of training it,
    ``--steps-for`` shortens one variant, ``--source neutral`` scores the editing protocol,
    ``--probe`` adds the emotion probe, and ``--report`` writes Markdown, LaTeX, figure and JSON
    that carry what was measured (2 steps, tiny sizes: the wiring, not the numbers)."""
    from eadbench import builtin
    from eadbench.run.builtin import EADNET_RECIPE

    monkeypatch.setenv("EADBENCH_CACHE", str(tmp_path / "cache"))
    out, rep = tmp_path / "abl", tmp_path / "report"
    from eadbench.ablate import ablate

    small = {"size": 32, "channels": (16, 32), "attention_levels": (False, True), "cond_dim": 32, "heads": 2,
             "groups": 4, "w_sync": 0.0}
    res = ablate(out, ["full", "no-text", "no-tfrm"], train_steps=3, infer_steps=1, overrides=small,
                 synth={"speakers": 3, "clips": 2, "seconds": 1.0, "size": 128}, limit=2, metrics=["emotion", "psnr"],
                 progress=False, echo=lambda s: None, recipe="builtin", steps_for={"no-tfrm": 2},
                 checkpoint_for={"full": "builtin"}, source="neutral", probe=True, report=rep,
                 command="eadbench ablate --recipe builtin ...")
    rows = {r["variant"]: r for r in res.rows}
    assert rows["full"]["checkpoint"] == str(builtin.shipped("eadnet")) and rows["full"]["weights"] == "given"
    assert rows["no-text"]["steps"] == 3 and rows["no-tfrm"]["steps"] == 2
    trained = torch.load(out / "models" / "no-text" / "checkpoint.pt", weights_only=True)["config"]
    assert all(trained[k] == v for k, v in EADNET_RECIPE.items() if k not in small) and trained["text"] is False
    for r in rows.values():
        assert r["probe"]["n_clips"] >= 1 and r["metrics"]["emotion/acc_emo"] is not None
    assert rows["no-text"]["probe"]["text_effect"] == 0.0  # no text path: switching the text changes nothing
    record = json.loads((rep / "ablation.json").read_text())
    assert record["source"] == "neutral" and record["recipe"] == "builtin" and record["steps_for"] == {"no-tfrm": 2}
    md = (rep / "ablation.md").read_text()
    assert "Probe shift" in md and "eadbench ablate --recipe builtin ..." in md and "2 (shipped)" not in md
    assert "(shipped)" in md and "neutral clip" in md
    assert r"\begin{tabular}" in (rep / "ablation.tex").read_text()
    assert (rep / "ablation.png").stat().st_size > 0 and (rep / "ablation.pdf").stat().st_size > 0


def test_ablate_cli_refuses_bad_pairs_in_one_line(tmp_path):
    for args, message in ((["--steps-for", "full"], "VARIANT=VALUE"), (["--steps-for", "full=x"], "positive"),
                          (["--variants", "full", "--steps-for", "no-text=3"], "not one of the variants"),
                          (["--recipe", "paper"], "unknown recipe")):
        r = cli.invoke(app, ["ablate", *args, "--out", str(tmp_path / "x"), "--quiet"])
        assert r.exit_code == 2 and message in r.output, r.output
