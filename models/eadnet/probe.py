"""Behaviour probes: does a checkpoint's output follow its audio, and its emotion text?

Lip-sync (``lipsync_probe``): each prepared clip is regenerated three times, with its own audio,
with another clip's audio and with silence. The signal is the mean brightness of the mouth box
(rows 56-75 %, columns 30-70 % of the face256 crop; the synthetic mouths sit there and are dark
when open), frame by frame, and the score the Pearson r between the generated and the real
series. A model that lip-syncs has r(own) well above r(other); a model whose audio path is cut
gives the same output for every audio, so r(own) = r(other) exactly. Use ``reference="offset"``:
with ``self`` the model sees the real mouth in its reference frames and scores by copying it,
whatever the audio (see ``EADNetPipeline.generate_crops``). The box is fitted to the synthetic
data's face256 crops; on other data it is only a rough mouth location.

Emotion (``emotion_probe``): each clip that has a partner (another clip of the same speaker with
another emotion) is regenerated with the partner's frames as identity reference, so the
reference shows the other expression, once with the clip's own emotion text and once with the
partner's (same seed, the clip's own intensity both times: the emotion category is in the text
alone). Two scores on the lower face:
- effect: the mean absolute change the text makes (0-255 levels). Exactly 0 when the text never
  reaches the output (a cut path): a wiring check that needs no learnt behaviour. The same for
  the intensity (``intensity_effect``: a third run with the intensity moved by 0.5).
- shift: the change projected on the real difference between the two clips' mean expressions,
  as a fraction of it: 1 when switching the text moves the face all the way to the real
  expression, 0 when the change is unrelated to it (a model that has not learnt emotion).
Time means remove the per-frame mouth movement, which follows the audio, not the emotion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

AUDIOS = ("own", "other", "silent")
INTENSITY_STEP = 0.5  # the emotion probe's intensity change (up from below 0.5, else down)


def mouth_series(crops: torch.Tensor) -> np.ndarray:
    """(3, T, S, S) crops in [-1, 1] -> (T,) mean brightness of the mouth box."""
    s = crops.shape[-1]
    return crops[:, :, int(0.56 * s):int(0.75 * s), int(0.3 * s):int(0.7 * s)].mean(dim=(0, 2, 3)).cpu().numpy()


@dataclass
class LipSyncResult:
    reference: str
    per_clip: dict[str, list[float]] = field(default_factory=dict)  # audio kind -> r per clip

    def mean(self, kind: str) -> float:
        return float(np.mean(self.per_clip[kind]))

    @property
    def margin(self) -> float:
        """r(own) - r(other): how much of the mouth's timing comes from the audio."""
        return self.mean("own") - self.mean("other")

    def to_dict(self) -> dict:
        return {"reference": self.reference, "margin": round(self.margin, 4),
                **{k: {"mean_r": round(self.mean(k), 4), "per_clip": [round(x, 4) for x in v]}
                   for k, v in self.per_clip.items()}}


@torch.no_grad()
def lipsync_probe(pipe, prepared: str | Path, reference: str = "offset", frames: int = 48,
                  steps: int = 4) -> LipSyncResult:
    """``pipe``: an ``EADNetPipeline``; ``prepared``: clips from `eadbench prepare` (face256)."""
    from eadbench import media
    from eadbench.errors import EadbenchError
    from eadbench.prepare import iter_prepared
    from eadnet.data import frames_to_tensor

    clips = [c for c in iter_prepared(prepared) if "face256" in c.crops]
    if len(clips) < 2:
        raise EadbenchError(f"{prepared}: the lip-sync probe needs at least 2 prepared clips with face256 crops")
    res = LipSyncResult(reference, {k: [] for k in AUDIOS})
    for i, clip in enumerate(clips):
        crops = frames_to_tensor(media.read_frames(clip.crops["face256"])[:frames], pipe.cfg.size)
        real = mouth_series(crops)
        own = media.read_audio(clip.audio)
        audios = {"own": own, "other": media.read_audio(clips[(i + 1) % len(clips)].audio),
                  "silent": np.zeros_like(own)}
        for kind, audio in audios.items():
            gen = pipe.generate_crops(crops, audio, "a person speaking", 0.5, steps=steps, guidance=1.0,
                                      reference=reference)
            series = mouth_series(gen)
            r = np.corrcoef(series, real)[0, 1] if series.std() > 0 else 0.0
            res.per_clip[kind].append(float(r))
    return res


def lower_face_error(gen: torch.Tensor, real: torch.Tensor) -> float:
    """Mean absolute difference of the lower half of (3, T, S, S) crops in [-1, 1], in 0-255 levels."""
    s = real.shape[-1]
    return float((gen[..., s // 2:, :] - real[..., s // 2:, :]).abs().mean()) * 127.5


@dataclass
class EmotionResult:
    per_clip: dict[str, dict] = field(default_factory=dict)  # clip -> partner, effects, shift, errors

    def mean(self, key: str) -> float:
        return float(np.mean([c[key] for c in self.per_clip.values()]))

    @property
    def effect(self) -> float:
        """Mean absolute change of the lower face when the text changes (0-255 levels)."""
        return self.mean("effect")

    @property
    def intensity_effect(self) -> float:
        """The same when the intensity moves by INTENSITY_STEP."""
        return self.mean("intensity_effect")

    @property
    def shift(self) -> float:
        """Mean fraction of the real expression difference that switching the text produces."""
        return self.mean("shift")

    def to_dict(self) -> dict:
        return {"effect": round(self.effect, 4), "intensity_effect": round(self.intensity_effect, 4),
                "shift": round(self.shift, 4),
                "per_clip": {k: {n: round(v, 4) if isinstance(v, float) else v for n, v in e.items()}
                             for k, e in self.per_clip.items()}}


@torch.no_grad()
def emotion_probe(pipe, prepared: str | Path, frames: int = 48, steps: int = 4) -> EmotionResult:
    """``pipe``: an ``EADNetPipeline``; ``prepared``: clips from `eadbench prepare` (face256) with at
    least one speaker recorded in two emotions."""
    from eadbench import media
    from eadbench.errors import EadbenchError
    from eadbench.prepare import iter_prepared
    from eadnet.data import clip_condition, frames_to_tensor, partners

    clips = [c for c in iter_prepared(prepared) if "face256" in c.crops]
    labels = [(str(c.meta["clip"].get("speaker") or ""), str(c.meta["clip"].get("emotion") or "")) for c in clips]
    pairs = [(clip, clips[others[0]]) for clip, others in zip(clips, partners(labels)) if others]
    if not pairs:
        raise EadbenchError(f"{prepared}: the emotion probe needs a speaker with prepared clips (face256) in two "
                            "different emotions")
    res = EmotionResult()
    for clip, partner in pairs:
        crops = frames_to_tensor(media.read_frames(clip.crops["face256"])[:frames], pipe.cfg.size)
        ref = frames_to_tensor(media.read_frames(partner.crops["face256"])[:frames], pipe.cfg.size)
        audio = media.read_audio(clip.audio)
        text, intensity = clip_condition(clip)
        moved_intensity = intensity + INTENSITY_STEP if intensity < 0.5 else intensity - INTENSITY_STEP
        runs = {"own": (text, intensity), "partner": (clip_condition(partner)[0], intensity),
                "intensity": (text, moved_intensity)}
        gens = {k: pipe.generate_crops(crops, audio, t, i, steps=steps, guidance=1.0, ref_crops=ref)
                for k, (t, i) in runs.items()}
        lower = slice(crops.shape[-1] // 2, None)
        moved = (gens["own"] - gens["partner"])[..., lower, :]
        real = (crops.mean(1) - ref[:, :crops.shape[1]].mean(1))[..., lower, :]
        entry = {"partner": partner.clip_id, "effect": lower_face_error(gens["own"], gens["partner"]),
                 "intensity_effect": lower_face_error(gens["own"], gens["intensity"]),
                 "shift": float((moved.mean(1) * real).sum() / (real * real).sum().clamp(min=1e-12)),
                 "error_own_text": lower_face_error(gens["own"], crops),
                 "error_partner_text": lower_face_error(gens["partner"], crops)}
        res.per_clip[clip.clip_id] = entry
    return res
