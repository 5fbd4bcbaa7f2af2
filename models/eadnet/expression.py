"""The lower-face expression loss (``w_expr``): a small frozen classifier of the lower face's
emotion, trained on the counterfactual renders, applied to the estimated clean frames.

Why: with the diffusion loss alone the tiny EAD-Net never learnt its emotion text (docs/eadnet.md):
the expression is a few 0-255 levels of a 64x64 lower face, a sliver of the noise loss. A classifier
turns "is this the named expression?" into a direct gradient. It is trained on the counterfactual
renders (``eadbench.synth.generate.every_expression``: every training utterance drawn once per
emotion over the same speech, mouth opening, head motion and intensity), so that the only thing that
tells its classes apart is the expression: not the speaker, not the intensity (the confound that made
an earlier classifier, trained on the plain clips, teach the intensity instead of the text).

It sees what the sync loss sees: the lower half of the face crop at the model's size, in [-1, 1],
one frame at a time; trained with noise and blur, as the estimated clean frames at high noise
levels are blurred. Held-out utterances measure it (accuracy in the returned report).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from eadbench.labels import EMOTIONS

FORMAT = "eadnet-expression/1"


class LowerFaceClassifier(nn.Module):
    """(N, 3, S/2, S) lower faces in [-1, 1] -> (N, len(EMOTIONS)) logits."""

    def __init__(self, width: int = 32, classes: int = len(EMOTIONS)):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.SiLU(),
                                 nn.Conv2d(cout, cout, 3, stride=2, padding=1), nn.SiLU())

        self.body = nn.Sequential(block(3, width), block(width, 2 * width), block(2 * width, 2 * width))
        self.head = nn.Linear(2 * width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean(dim=(2, 3)))


def lower_faces(frames: torch.Tensor) -> torch.Tensor:
    """(B, 3, T, S, S) -> (B*T, 3, S/2, S): each frame's lower half (the region EAD-Net draws)."""
    b, c, t, s, _ = frames.shape
    return frames[:, :, :, s // 2:].transpose(1, 2).reshape(b * t, c, s - s // 2, s)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Noise, blur and brightness as the estimated clean frames have them."""
    n = x.shape[0]
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
    blurred = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), k.view(1, 1, 1, 5).repeat(3, 1, 1, 1), groups=3)
    blurred = F.conv2d(F.pad(blurred, (0, 0, 2, 2), mode="replicate"), k.view(1, 1, 5, 1).repeat(3, 1, 1, 1), groups=3)
    amount = torch.rand(n, 1, 1, 1, generator=gen)
    x = x + amount * (blurred - x)
    # a heavier blur for a third of them: the estimated clean frames at high noise levels
    heavy = F.avg_pool2d(x, 7, 1, 3, count_include_pad=False)
    pick = (torch.rand(n, 1, 1, 1, generator=gen) < 0.33).float()
    x = x + pick * (heavy - x)
    x = x + 0.1 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5)
    x = x + torch.rand(n, 1, 1, 1, generator=gen) * 0.15 * torch.randn(x.shape, generator=gen)
    return x


def train_classifier(clips, steps: int = 1500, batch: int = 128, seed: int = 0, holdout: float = 0.2,
                     lr: float = 2e-3, progress: bool = True) -> tuple[LowerFaceClassifier, dict]:
    """Train on the lower faces of ``clips`` (``eadnet.data.ClipTensors`` of the renders); the
    utterances are split by a seeded draw so held-out utterances measure it. Returns the model
    (eval mode) and a report (held-out accuracy, per-class counts)."""
    from tqdm import tqdm

    gen = torch.Generator().manual_seed(seed)
    keys = sorted({(c.speaker, c.utterance) for c in clips})
    order = torch.randperm(len(keys), generator=gen).tolist()
    held = {keys[i] for i in order[:max(1, int(round(holdout * len(keys))))]} if holdout > 0 else set()
    xs, ys, hx, hy = [], [], [], []
    for c in clips:
        if c.emotion not in EMOTIONS:
            continue
        faces = lower_faces(c.frames[None])
        label = torch.full((faces.shape[0],), EMOTIONS.index(c.emotion))
        (hx if (c.speaker, c.utterance) in held else xs).append(faces)
        (hy if (c.speaker, c.utterance) in held else ys).append(label)
    x, y = torch.cat(xs), torch.cat(ys)
    torch.manual_seed(seed)
    model = LowerFaceClassifier()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps, pct_start=0.1)
    model.train()
    for _ in tqdm(range(steps), desc="expression classifier", disable=not progress):
        i = torch.randint(0, len(x), (batch,), generator=gen)
        loss = F.cross_entropy(model(_augment(x[i], gen)), y[i])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    report = {"format": FORMAT, "train_frames": len(x), "steps": steps, "seed": seed,
              "classes": [e for e in EMOTIONS if (y == EMOTIONS.index(e)).any()]}
    if hx:
        with torch.no_grad():
            hx_, hy_ = torch.cat(hx), torch.cat(hy)
            pred = torch.cat([model(hx_[j:j + 512]).argmax(1) for j in range(0, len(hx_), 512)])
            noisy = torch.cat([model(_augment(hx_[j:j + 512], torch.Generator().manual_seed(1))).argmax(1)
                               for j in range(0, len(hx_), 512)])
        report.update(heldout_frames=len(hx_), heldout_accuracy=round(float((pred == hy_).float().mean()), 4),
                      heldout_accuracy_augmented=round(float((noisy == hy_).float().mean()), 4))
    return model, report


def save_classifier(model: LowerFaceClassifier, path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path), metadata={"format": FORMAT})


def load_classifier(path) -> LowerFaceClassifier:
    from safetensors.torch import load_file

    model = LowerFaceClassifier()
    model.load_state_dict(load_file(str(path)))
    return model.eval()


class ExpressionLoss(nn.Module):
    """Cross-entropy of the frozen classifier on the estimated clean lower faces against the
    clip's emotion, averaged over the windows with a known emotion (``weight``: 1 or 0). Every
    timestep counts alike: at low noise the noisy input itself shows the expression, so only the
    high-noise steps ask the conditions for it (weighting by the signal level, tried first,
    left the text unused)."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier.eval().requires_grad_(False)

    def forward(self, x0: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """x0 (B, 3, T, S, S) in [-1, 1]; labels (B,) indices into EMOTIONS; weight (B,)."""
        t = x0.shape[2]
        logits = self.classifier(lower_faces(x0.float()))
        ce = F.cross_entropy(logits, labels.repeat_interleave(t), reduction="none").view(-1, t).mean(1)
        return (ce * weight).sum() / weight.sum().clamp(min=1e-8)
