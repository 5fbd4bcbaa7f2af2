"""Run-time fixes for IP_LAP's unchanged ``inference_single.py`` (upstream commit
9b9dc03f0e90b10b92c904b202443c160afe7c45), run by ``sitecustomize.py`` beside this file in an
IP_LAP job only (see baselines/ip_lap/README.md):

* ``Renderer()`` builds its perceptual loss with ``torchvision.models.vgg19(pretrained=True)``,
  which downloads ImageNet weights (548 MB) at every start; the renderer checkpoint holds those
  layers (``perceptual.model.*``) and overwrites them, so ``pretrained`` is dropped;
* ``models/audio.py`` imports ``lws``, whose C++ sources no longer build (Python 3.11), and never
  uses it (``hparams.use_lws=False``): when it is not installed, the import gets a module whose
  every attribute raises AttributeError saying so;
* ``face_alignment.FaceAlignment(..., device='cuda')``: without CUDA it runs on CPU.
"""

import importlib.util
import sys
import types

import torch
import torchvision.models

_vgg19 = torchvision.models.vgg19


def _vgg19_from_checkpoint(*args, pretrained=False, **kwargs):
    return _vgg19(*args, **kwargs)


torchvision.models.vgg19 = _vgg19_from_checkpoint

if importlib.util.find_spec("lws") is None:
    def _no_lws(name):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"lws.{name}: lws is not installed in this environment (IP_LAP uses it only "
                             "with hparams.use_lws=True)")

    _lws = types.ModuleType("lws")
    _lws.__getattr__ = _no_lws
    sys.modules["lws"] = _lws

if not torch.cuda.is_available() and importlib.util.find_spec("face_alignment") is not None:
    import face_alignment

    _init = face_alignment.FaceAlignment.__init__

    def _cpu_init(self, *args, device="cpu", **kwargs):
        _init(self, *args, device="cpu" if "cuda" in str(device) else device, **kwargs)

    face_alignment.FaceAlignment.__init__ = _cpu_init
