"""The four training losses: noise prediction, SyncNet lip-sync on the estimated clean sample,
LPIPS on decoded frames, and TREPA (distance of L2-normalised video-model embeddings)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def noise_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred.float(), target.float())


class SyncLoss(nn.Module):
    """Frozen sync expert on the lower half of the estimated clean frames (5-frame windows):
    binary cross-entropy pushing generated lips and the driving audio to agree."""

    def __init__(self, expert: nn.Module):
        super().__init__()
        self.expert = expert.eval().requires_grad_(False)

    def forward(self, x0: torch.Tensor, mfcc_blocks: torch.Tensor) -> torch.Tensor:
        """x0 (B, 3, T>=5, S, S) in [-1, 1]; mfcc_blocks (B, 1, 13, 20) for the window's first frame."""
        b, _, t, s, _ = x0.shape
        grey = (0.299 * x0[:, 0] + 0.587 * x0[:, 1] + 0.114 * x0[:, 2])[:, :5, s // 2:]  # (B, 5, S/2, S)
        lips = F.interpolate(grey, size=(48, 96), mode="bilinear", align_corners=False)[:, None]
        v = self.expert.lip_windows(lips)[:, 0]
        a = self.expert.forward_aud(mfcc_blocks)
        logit = self.expert.logit(v, a)
        return F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))


class LPIPSLoss(nn.Module):
    def __init__(self, pretrained: bool = True):
        super().__init__()
        import lpips

        if pretrained:
            from eadbench.nets.lpips import lpips_alex

            self.net = lpips_alex()  # AlexNet from the weight store; a clear error when missing
        else:  # tests only: random backbone, stated in the config
            self.net = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
        self.net.eval().requires_grad_(False)

    def forward(self, x0: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x0.shape
        f = lambda z: z.transpose(1, 2).reshape(b * t, c, h, w)  # noqa: E731
        return self.net(f(x0).float(), f(real).float()).mean()


class TREPALoss(nn.Module):
    """Temporal representation alignment with any frozen video encoder ``(B, 3, T, H, W) -> (B, D)``.
    Tiny preset: the Kinetics I3D of the metric suite (real weights, offline); frames are resized
    to 224 and repeated to 16 when the window is shorter (I3D's temporal pooling needs 16)."""

    def __init__(self, encoder: nn.Module | None = None):
        super().__init__()
        if encoder is None:
            from eadbench.nets.i3d import kinetics_i3d

            encoder = kinetics_i3d()
        self.encoder = encoder.eval().requires_grad_(False)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        if t < 16:
            x = x.repeat_interleave(-(-16 // t), dim=2)[:, :, :16]
        if h != 224:
            x = F.interpolate(x.transpose(1, 2).reshape(-1, c, h, w), size=(224, 224), mode="bilinear",
                              align_corners=False).view(b, -1, c, 224, 224).transpose(1, 2)
        return F.normalize(self.encoder(x).float(), dim=-1)

    def forward(self, x0: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.embed(real)
        return F.mse_loss(self.embed(x0), target)
