"""EAD-Net, the reference model (``models/eadnet``, package ``eadnet``), in the harness.

Loads the pipeline once per process and generates each clip from the real clip's frames
(identity reference), the driving audio and the clip's emotion/intensity (or text). With the
option ``texts`` (a prepared folder described by `eadbench eadnet describe`), a clip's text is
its ``<texts>/<clip_id>/emotion.txt`` when there is one: a model trained on per-clip
descriptions is then given descriptions of the same kind.
"""

from __future__ import annotations

import time
from pathlib import Path

from eadnet.config import REFERENCES

from eadbench import media
from eadbench.errors import GenerationError
from eadbench.generators.base import GenerationRequest, GenerationResult, Generator, register_generator
from eadbench.weights import file_sha256


@register_generator
class EADNet(Generator):
    name = "eadnet"
    description = "EAD-Net reference model (models/eadnet): latent diffusion with STDA, TFRM, text"
    options = {
        "checkpoint": "checkpoint file written by `eadbench eadnet train`",
        "steps": "DDIM steps (default: the checkpoint config's)",
        "guidance": "classifier-free guidance scale (default: the checkpoint config's)",
        "device": "cpu, cuda, ... (default: cuda when available)",
        "seed": "sampling seed (default 0)",
        "reference": "identity reference frames: self (default; the frames being regenerated, as LatentSync "
                     "and Wav2Lip do, so their mouth is visible to the model) or offset (frames half a clip "
                     "away, as in training: the mouth can only come from the audio)",
        "texts": "a prepared folder whose <clip_id>/emotion.txt (from `eadbench eadnet describe`) is the "
                 "clip's emotion text (default: the template sentence of the clip's label and intensity)",
        "label": "name shown in tables",
    }

    def __init__(self, **config):
        super().__init__(**config)
        ckpt = config.get("checkpoint")
        if not ckpt:
            raise GenerationError("method eadnet needs option checkpoint=<file from `eadbench eadnet train`> "
                                  "(or use `eadbench ablate`, which trains one on the synthetic data)")
        self.checkpoint = Path(ckpt).expanduser()
        if not self.checkpoint.exists():
            raise GenerationError(f"EAD-Net checkpoint {self.checkpoint} does not exist")
        if config.get("reference", "self") not in REFERENCES:
            raise GenerationError(f"eadnet option reference={config['reference']!r}: choose one of "
                                  f"{', '.join(REFERENCES)}")
        self._pipe = None

    def fingerprint(self):
        fp = {**super().fingerprint(), "sha256": file_sha256(self.checkpoint)}
        if self.config.get("texts"):  # the descriptions' content, not only their folder, decides the output
            import hashlib

            h = hashlib.sha256()
            for f in sorted(Path(self.config["texts"]).expanduser().glob("*/emotion.txt")):
                h.update(f"{f.parent.name}\0{f.read_text()}\0".encode())
            fp["texts_sha256"] = h.hexdigest()
        return fp

    def text_for(self, req: GenerationRequest) -> str | None:
        if self.config.get("texts"):
            f = Path(self.config["texts"]).expanduser() / req.clip.clip_id / "emotion.txt"
            if f.exists():
                return f.read_text().strip()
        return req.text

    def provenance(self):
        return self.fingerprint()

    def pipeline(self):
        if self._pipe is None:
            from eadnet.inference import EADNetPipeline

            self._pipe = EADNetPipeline.from_checkpoint(self.checkpoint, device=self.config.get("device"))
        return self._pipe

    def generate(self, req: GenerationRequest) -> GenerationResult:
        t = time.perf_counter()
        ref = media.read_frames(req.reference_video)
        audio = media.read_audio(req.audio)
        kwargs = {k: self.config[k] for k in ("steps", "guidance", "reference") if k in self.config}
        frames = self.pipeline().generate(ref, audio, emotion=req.emotion, intensity=req.intensity,
                                          text=self.text_for(req), seed=int(self.config.get("seed", 0)),
                                          **kwargs)
        n = min(len(frames), int(len(audio) / media.AUDIO_RATE * media.VIDEO_FPS + 1e-6))
        media.write_video(req.out, frames[:n], audio=audio[: int(round(n / media.VIDEO_FPS * media.AUDIO_RATE))])
        return GenerationResult(req.out, time.perf_counter() - t)
