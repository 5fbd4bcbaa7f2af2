"""Wav2Lip (Prajwal et al., 2020) through its official `inference.py`."""

from __future__ import annotations

from pathlib import Path

from eadbench.generators.base import GenerationRequest, register_generator
from eadbench.generators.official_repo import OfficialRepoGenerator


@register_generator
class Wav2Lip(OfficialRepoGenerator):
    name = "wav2lip"
    description = "Wav2Lip, official inference.py (96x96 mouth region, 25 fps)"
    entry_point = "inference.py"
    checkpoints = ("checkpoint",)
    options = {"pads": "face box padding 'top bottom left right' (Wav2Lip's --pads)",
               "nosmooth": "pass --nosmooth (true/false)"}

    def build_argv(self, req: GenerationRequest) -> list[str]:
        argv = ["inference.py", "--checkpoint_path", str(self.ckpts["checkpoint"]),
                "--face", str(req.reference_video), "--audio", str(req.audio),
                "--outfile", str(req.workdir / "wav2lip_out.mp4")]
        if self.config.get("pads"):
            argv += ["--pads", *str(self.config["pads"]).split()]
        if str(self.config.get("nosmooth", "false")).lower() in ("1", "true", "yes"):
            argv.append("--nosmooth")
        return argv

    def find_output(self, req: GenerationRequest) -> Path:
        return req.workdir / "wav2lip_out.mp4"
