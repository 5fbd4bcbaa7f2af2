"""IP_LAP (Zhong et al., CVPR 2023) through its official `inference_single.py`."""

from __future__ import annotations

from pathlib import Path

from eadbench.generators.base import GenerationRequest, register_generator
from eadbench.generators.official_repo import OfficialRepoGenerator


@register_generator
class IPLAP(OfficialRepoGenerator):
    name = "ip_lap"
    description = "IP_LAP, official inference_single.py (landmark generator + renderer)"
    entry_point = "inference_single.py"
    checkpoints = ("landmark_checkpoint", "renderer_checkpoint")

    def build_argv(self, req: GenerationRequest) -> list[str]:
        return ["inference_single.py", "--input", str(req.reference_video), "--audio", str(req.audio),
                "--output_dir", str(req.workdir / "ip_lap_out"),
                "--landmark_gen_checkpoint_path", str(self.ckpts["landmark_checkpoint"]),
                "--renderer_checkpoint_path", str(self.ckpts["renderer_checkpoint"])]

    def find_output(self, req: GenerationRequest) -> Path | None:
        # The file name is derived from the input's name; take the newest video written.
        outs = sorted((req.workdir / "ip_lap_out").glob("**/*.mp4"), key=lambda p: p.stat().st_mtime)
        return outs[-1] if outs else None
