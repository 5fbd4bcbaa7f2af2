"""Noise schedule, forward noising, and DDIM sampling with classifier-free guidance."""

from __future__ import annotations

import torch

from eadbench.errors import ChoiceError


class Schedule:
    def __init__(self, steps: int = 1000, kind: str = "scaled_linear", prediction: str = "epsilon"):
        if kind == "scaled_linear":  # Stable Diffusion's
            betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, steps, dtype=torch.float64) ** 2
        elif kind == "linear":
            betas = torch.linspace(1e-4, 0.02, steps, dtype=torch.float64)
        else:
            raise ChoiceError(f"unknown beta schedule {kind!r}")
        self.steps, self.prediction = steps, prediction
        self.alphas_cumprod = torch.cumprod(1 - betas, 0).float()

    def _a(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        return self.alphas_cumprod.to(like.device)[t].view(-1, *([1] * (like.dim() - 1)))

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = self._a(t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.prediction == "epsilon":
            return noise
        a = self._a(t, x0)
        return a.sqrt() * noise - (1 - a).sqrt() * x0  # v

    def x0_and_eps(self, xt: torch.Tensor, pred: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a = self._a(t, xt)
        if self.prediction == "epsilon":
            eps = pred
            x0 = (xt - (1 - a).sqrt() * eps) / a.sqrt()
        else:
            x0 = a.sqrt() * xt - (1 - a).sqrt() * pred
            eps = (1 - a).sqrt() * xt + a.sqrt() * pred
        return x0, eps

    @torch.no_grad()
    def ddim(self, denoise, shape, steps: int, generator: torch.Generator, device) -> torch.Tensor:
        """Deterministic DDIM (eta 0). ``denoise(x_t, t) -> prediction`` (guidance applied inside)."""
        ts = torch.linspace(self.steps - 1, 0, steps, dtype=torch.float64).round().long()
        x = torch.randn(shape, generator=generator, device="cpu").to(device)
        ac = self.alphas_cumprod.to(device)
        for i, t in enumerate(ts):
            tt = torch.full((shape[0],), int(t), device=device, dtype=torch.long)
            x0, eps = self.x0_and_eps(x, denoise(x, tt), tt)
            x0 = x0.clamp(-1.5, 1.5)  # pixel/latent range guard against early-step blow-ups
            a_prev = ac[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0, device=device)
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        return x
