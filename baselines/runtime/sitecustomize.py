"""Run-time fixes for wrapped baselines whose unchanged upstream code breaks on today's packages.

An adapter with ``runtime_dir`` set (IP_LAP, MuseTalk) puts this folder first on its job's
PYTHONPATH, so only that job's interpreter runs this at start, before the upstream script.
Here, for every such baseline:

* torchvision 0.28's compiled ops cannot load beside the CPU torch wheel: eadbench's own fix
  (``eadbench/_torchvision.py``, loaded from the file named in ``EADBENCH_TORCHVISION_FIX``, so
  the upstream environment needs no eadbench);
* without CUDA, ``Tensor.cuda()`` returns the tensor (upstream code that moves tensors with a
  hard-coded ``.cuda()``).

Then ``fixes_<EADBENCH_BASELINE>.py`` beside this file, when there is one, for that baseline
alone. Each fix names the upstream commit it was made for; the baseline's README lists them.
"""

import importlib.util
import os

import torch

_HERE = os.path.dirname(os.path.abspath(__file__))


def _run_file(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if os.environ.get("EADBENCH_TORCHVISION_FIX"):
    _run_file(os.environ["EADBENCH_TORCHVISION_FIX"], "eadbench_torchvision_fix").ensure_torchvision_importable()

if not torch.cuda.is_available():
    torch.Tensor.cuda = lambda self, *args, **kwargs: self

_fixes = os.path.join(_HERE, f"fixes_{os.environ.get('EADBENCH_BASELINE', '')}.py")
if os.path.exists(_fixes):
    _run_file(_fixes, "eadbench_baseline_fixes")
