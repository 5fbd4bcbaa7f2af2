"""The package imports on this machine's CPU torch + CUDA torchvision, and the CLI answers."""

import subprocess
import sys

import pytest


def _py(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_torchvision_models_import_after_eadbench():
    r = _py("import eadbench, torchvision, torch;"
            "m = torchvision.models.alexnet(weights=None); print(m(torch.zeros(1,3,64,64)).shape)")
    assert r.returncode == 0, r.stderr
    assert "torch.Size([1, 1000])" in r.stdout


def test_patch_only_when_compiled_ops_cannot_load():
    r = _py("import eadbench._torchvision as t; print(t._compiled_ops_load(), t.PATCHED)")
    assert r.returncode == 0, r.stderr
    loads, patched = r.stdout.split()
    # The fallback is installed exactly when the compiled library does not load.
    assert (loads == "False") == (patched == "True")


def test_no_patch_when_disabled_or_already_imported():
    r = _py("import os; os.environ['EADBENCH_NO_TORCHVISION_PATCH']='1';"
            "import eadbench._torchvision as t; print(t.PATCHED)")
    assert r.returncode == 0 and r.stdout.strip() == "False"


def test_reference_nms_matches_greedy_definition():
    import torch

    from eadbench._torchvision import nms_reference

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 9, 9.0]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    keep = nms_reference(boxes, scores, 0.5)
    # box 3 (0.95) wins; box 0 overlaps it with IoU 0.81 -> gone; box 1 vs 3: IoU 0.53 -> gone.
    assert keep.tolist() == [3, 2]


@pytest.mark.parametrize("mod", ["eadnet", "eadbench_baselines"])
def test_model_and_baselines_import_under_their_names(mod):
    r = _py(f"import {mod}; print({mod}.__file__)")
    assert r.returncode == 0, r.stderr


def test_cli_help_lists_every_command():
    r = subprocess.run([sys.executable, "-m", "eadbench.cli.main", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for cmd in ["run", "ablate", "report", "check", "score", "prepare", "datasets", "weights",
                "synth", "eadnet"]:
        assert cmd in r.stdout
