"""The package imports on this machine's CPU torch + CUDA torchvision, and the CLI answers."""

import pathlib
import subprocess
import sys

import pytest


def _py(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


FIRST = ["import torchmetrics", "import torchvision", "import lpips", "import eadbench"]


@pytest.mark.parametrize("first", FIRST)
def test_import_order_never_matters(first):
    """The issue's reproduction: torchmetrics (or torchvision, or lpips) imported before eadbench
    failed with 'operator torchvision::nms does not exist' on this install."""
    r = _py(f"{first}; import torch, torchmetrics; from eadbench.metrics import SSIM; import torchvision;"
            "m = SSIM(); m.update(torch.zeros(1, 16, 16, 3), torch.zeros(1, 16, 16, 3)); print(float(m.compute()));"
            "print(torchvision.models.alexnet(weights=None).__class__.__name__)")
    assert r.returncode == 0, r.stderr[-1500:]
    assert r.stdout.split() == ["1.0", "AlexNet"]


def test_the_face_detector_runs_under_the_hook():
    """MTCNN (which calls torchvision's NMS) with the hook installed and torchvision not yet
    imported: the fix is applied exactly once (a second registration would raise)."""
    r = _py("import numpy as np, eadbench; from eadbench.faces import detect_faces;"
            "print(detect_faces(np.full((64, 64, 3), 127, np.uint8)))")
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stderr[-1500:]


def test_the_startup_hook_is_written_only_where_torchvision_needs_it(tmp_path):
    import site

    from eadbench import _torchvision
    from eadbench._tvhook import PTH_NAME, write_startup_hook

    assert write_startup_hook(tmp_path, needed=False) is None and not (tmp_path / PTH_NAME).exists()
    assert write_startup_hook(tmp_path, needed=True) == tmp_path / PTH_NAME
    assert write_startup_hook(tmp_path, needed=False) is None and not (tmp_path / PTH_NAME).exists()
    installed = pathlib.Path(site.getsitepackages()[0]) / PTH_NAME
    probe = _py("import eadbench._torchvision as t; print(t.needs_patch())")
    assert probe.returncode == 0
    # this environment has the hook exactly when its torchvision needs the fix
    assert installed.exists() == (probe.stdout.strip() == "True")
    del _torchvision


def test_import_eadbench_imports_no_torch():
    r = _py("import sys, eadbench; print('torch' in sys.modules, 'torchvision' in sys.modules)")
    assert r.returncode == 0 and r.stdout.split() == ["False", "False"], r.stdout + r.stderr


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


def test_every_package_is_installed():
    """pyproject lists the packages by hand (two are mapped to other folders): none may be missing."""
    import tomllib

    repo = pathlib.Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(repo).parts) for p in (repo / "eadbench").rglob("__init__.py")}
    assert found <= listed, sorted(found - listed)
    assert not {p for p in listed if p.startswith("eadbench.")} - found, "listed packages that do not exist"


def test_cli_help_lists_every_command():
    r = subprocess.run([sys.executable, "-m", "eadbench.cli.main", "--help"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for cmd in ["run", "ablate", "report", "check", "score", "prepare", "datasets", "weights",
                "synth", "eadnet", "metrics", "methods"]:
        assert cmd in r.stdout
