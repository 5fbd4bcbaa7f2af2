"""EAD-Net: conditioning + 3-D inpainting U-Net + noise schedule, and its parameter report."""

from __future__ import annotations

import torch
import torch.nn as nn

from eadnet.attention import STDA, CrossAttention, FullSpatioTemporalAttention
from eadnet.conditioning import Conditioner
from eadnet.config import EADNetConfig
from eadnet.diffusion import Schedule
from eadnet.tfrm import TFRM
from eadnet.unet import UNet3D


def lower_face_mask(t: int, size: int, device=None) -> torch.Tensor:
    """(1, 1, T, S, S): 1 on the lower half of the face crop (the region EAD-Net regenerates)."""
    m = torch.zeros(1, 1, t, size, size, device=device)
    m[..., size // 2:, :] = 1.0
    return m


class EADNet(nn.Module):
    """Denoiser only: the VAE of the paper preset (eadnet.codec) stays outside, frozen and unsaved."""

    def __init__(self, cfg: EADNetConfig):
        super().__init__()
        self.cfg = cfg
        self.conditioner = Conditioner(cfg, text_dim=384 if cfg.text_encoder == "minilm" else 768)
        self.unet = UNet3D(cfg)
        self.schedule = Schedule(cfg.train_timesteps, cfg.beta_schedule, cfg.prediction)

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, mask: torch.Tensor, masked: torch.Tensor,
                ref: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = torch.cat([noisy, mask.expand(noisy.shape[0], -1, -1, -1, -1), masked, ref], dim=1)
        return self.unet(x, t, cond)

    def parameter_report(self) -> dict[str, int]:
        def count(types):
            return sum(p.numel() for m in self.modules() if isinstance(m, types) for p in m.parameters())

        return {
            "total": sum(p.numel() for p in self.parameters()),
            "unet": sum(p.numel() for p in self.unet.parameters()),
            "self_attention (STDA)" if self.cfg.stda else "self_attention (full)":
                count((STDA, FullSpatioTemporalAttention)),
            "tfrm": count(TFRM),
            "cross_attention": count(CrossAttention),
            "conditioning": sum(p.numel() for p in self.conditioner.parameters()),
        }
