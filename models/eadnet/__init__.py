"""EAD-Net, the reference model of eadbench (importable as ``eadnet``).

Modules, one per part: ``config`` (presets, switches, loss weights), ``attention`` (STDA and
its plain counterparts, cross-attention), ``tfrm`` (temporal frame graph reasoning),
``conditioning`` (audio, emotion text, intensity -> Z_c), ``unet`` (3-D inpainting U-Net),
``diffusion`` (schedule, DDIM), ``losses`` (noise, sync, LPIPS, TREPA), ``data`` (windows of
prepared clips), ``model``, ``train``, ``inference`` (EADNetPipeline).
"""

from eadnet.config import EADNetConfig

__all__ = ["EADNetConfig"]
