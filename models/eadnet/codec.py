"""Where diffusion happens: pixel space (tiny preset) or the SD VAE's latent space (paper preset:
diffusers' AutoencoderKL ``sd-vae-ft-mse``, latents scaled by 0.18215, 1/8 resolution)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from eadnet.config import EADNetConfig


class PixelCodec(nn.Module):
    factor = 1

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z


class VAECodec(nn.Module):
    """Frozen AutoencoderKL applied frame by frame; (B, 3, T, H, W) in [-1, 1] <-> (B, 4, T, H/8, W/8)."""

    factor = 8

    def __init__(self, cfg: EADNetConfig):
        super().__init__()
        from diffusers import AutoencoderKL

        path = cfg.extra.get("vae_path")
        if not path:
            from eadbench.weights import locate

            path = str(locate("sd-vae-ft-mse").path)  # WeightsMissingError with the fix when absent
        self.vae = AutoencoderKL.from_pretrained(path).eval().requires_grad_(False)
        self.scale = cfg.vae_scale

    def _frames(self, x):
        b, c, t, h, w = x.shape
        return x.transpose(1, 2).reshape(b * t, c, h, w), (b, t)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        f, (b, t) = self._frames(x)
        z = self.vae.encode(f).latent_dist.mode() * self.scale
        return z.view(b, t, *z.shape[1:]).transpose(1, 2)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        f, (b, t) = self._frames(z)
        x = self.vae.decode(f / self.scale).sample
        return x.view(b, t, *x.shape[1:]).transpose(1, 2)


def build_codec(cfg: EADNetConfig) -> nn.Module:
    return VAECodec(cfg) if cfg.latent == "vae" else PixelCodec()


def latent_mask(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """Pixel mask (1, 1, T, S, S) -> the latent grid's mask (nearest)."""
    if factor == 1:
        return mask
    _, _, t, s, _ = mask.shape
    return F.interpolate(mask, size=(t, s // factor, s // factor), mode="nearest")
