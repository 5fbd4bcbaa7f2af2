"""Run-time fixes for IP_LAP's unchanged ``inference_single.py`` (upstream commit
9b9dc03f0e90b10b92c904b202443c160afe7c45), applied at interpreter start of an eadbench job only:
the adapter puts this folder first on the job's PYTHONPATH. Each fix is what a user would
otherwise make by editing upstream (see baselines/ip_lap/README.md):

* torchvision 0.28's compiled ops cannot load beside the CPU torch wheel: eadbench's own fix
  (``eadbench/_torchvision.py``, loaded from the file the adapter names in
  ``EADBENCH_TORCHVISION_FIX``, so the upstream environment needs no eadbench);
* ``Renderer()`` builds its perceptual loss with ``torchvision.models.vgg19(pretrained=True)``,
  which downloads ImageNet weights (548 MB) at every start; the renderer checkpoint holds those
  layers (``perceptual.model.*``) and overwrites them, so ``pretrained`` is dropped;
* ``models/audio.py`` imports ``lws``, whose C++ sources no longer build (Python 3.11), and never
  uses it (``hparams.use_lws=False``): when it is not installed, the import gets a module whose
  every attribute raises AttributeError saying so;
* the script moves every tensor with ``.cuda()`` and builds ``face_alignment.FaceAlignment(...,
  device='cuda')``: without CUDA, ``Tensor.cuda`` returns the tensor and FaceAlignment runs on CPU.
"""

import importlib.util
import os
import sys
import types

import torch

if importlib.util.find_spec("lws") is None:
    def _no_lws(name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"lws.{name}: lws is not installed in this environment (IP_LAP uses it only "
                             "with hparams.use_lws=True)")

    _lws = types.ModuleType("lws")
    _lws.__getattr__ = _no_lws
    sys.modules["lws"] = _lws

_fix = os.environ.get("EADBENCH_TORCHVISION_FIX")
if _fix:
    _spec = importlib.util.spec_from_file_location("eadbench_torchvision_fix", _fix)
    _mod = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_mod)
    _mod.ensure_torchvision_importable()

import torchvision.models  # noqa: E402

_vgg19 = torchvision.models.vgg19


def _vgg19_from_checkpoint(*args, pretrained=False, **kwargs):
    return _vgg19(*args, **kwargs)


torchvision.models.vgg19 = _vgg19_from_checkpoint

if not torch.cuda.is_available():
    torch.Tensor.cuda = lambda self, *args, **kwargs: self

    try:
        import face_alignment
    except ImportError:  # not IP_LAP's environment: its own import will say so
        face_alignment = None
    if face_alignment is not None:
        _init = face_alignment.FaceAlignment.__init__

        def _cpu_init(self, *args, device="cpu", **kwargs):
            _init(self, *args, device="cpu" if "cuda" in str(device) else device, **kwargs)

        face_alignment.FaceAlignment.__init__ = _cpu_init
