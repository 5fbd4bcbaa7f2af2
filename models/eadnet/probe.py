"""Lip-sync probe: does a checkpoint's mouth follow the audio it is given?

Each prepared clip is regenerated three times: with its own audio, with another clip's audio and
with silence. The probe signal is the mean brightness of the mouth box (rows 56-75 %, columns
30-70 % of the face256 crop; the synthetic mouths sit there and are dark when open), frame by
frame, and the score the Pearson r between the generated and the real series. A model that
lip-syncs has r(own) well above r(other); a model whose audio path is cut gives the same output
for every audio, so r(own) = r(other) exactly.

Use ``reference="offset"``: with ``self`` the model sees the real mouth in its reference frames
and scores by copying it, whatever the audio (see ``EADNetPipeline.generate_crops``).
The box is fitted to the synthetic data's face256 crops; on other data it is only a rough mouth
location.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

AUDIOS = ("own", "other", "silent")


def mouth_series(crops: torch.Tensor) -> np.ndarray:
    """(3, T, S, S) crops in [-1, 1] -> (T,) mean brightness of the mouth box."""
    s = crops.shape[-1]
    return crops[:, :, int(0.56 * s):int(0.75 * s), int(0.3 * s):int(0.7 * s)].mean(dim=(0, 2, 3)).cpu().numpy()


@dataclass
class ProbeResult:
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
def probe(pipe, prepared: str | Path, reference: str = "offset", frames: int = 48, steps: int = 4) -> ProbeResult:
    """``pipe``: an ``EADNetPipeline``; ``prepared``: clips from `eadbench prepare` (face256)."""
    from eadbench import media
    from eadbench.errors import EadbenchError
    from eadbench.prepare import iter_prepared
    from eadnet.data import frames_to_tensor

    clips = [c for c in iter_prepared(prepared) if "face256" in c.crops]
    if len(clips) < 2:
        raise EadbenchError(f"{prepared}: the lip-sync probe needs at least 2 prepared clips with face256 crops")
    res = ProbeResult(reference, {k: [] for k in AUDIOS})
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
