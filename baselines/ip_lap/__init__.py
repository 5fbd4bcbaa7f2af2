"""IP_LAP (Zhong et al., CVPR 2023) through its official `inference_single.py`.

Tested on upstream commit 9b9dc03f0e90b10b92c904b202443c160afe7c45 with the environment of
``requirements-ip_lap.txt`` and the run-time fixes of ``../runtime/`` (README.md
beside this file). Upstream writes its drawn landmark sketch and the generated frame side by
side into one video; eadbench keeps the right half, the generated frame.
"""

from __future__ import annotations

from pathlib import Path

from eadbench_baselines import RUNTIME

from eadbench import media
from eadbench.generators.base import GenerationRequest, register_generator
from eadbench.generators.official_repo import OfficialRepoGenerator


@register_generator
class IPLAP(OfficialRepoGenerator):
    name = "ip_lap"
    description = "IP_LAP, official inference_single.py (landmark generator + renderer)"
    entry_point = "inference_single.py"
    checkpoints = ("landmark_checkpoint", "renderer_checkpoint")
    runtime_dir = RUNTIME
    # its mel windows stop 3-4 frames before the audio ends (no window for the end, unlike Wav2Lip)
    tail_frames = 4
    options = {"torch_home": "TORCH_HOME of the job: face_alignment reads S3FD and 2DFAN4 from its "
                             "hub/checkpoints/ (upstream downloads them there when absent)"}

    def job_env(self, req: GenerationRequest) -> dict[str, str]:
        if not self.config.get("torch_home"):
            return {}
        return {"TORCH_HOME": str(Path(self.config["torch_home"]).expanduser().resolve())}

    def build_argv(self, req: GenerationRequest) -> list[str]:
        face, audio = self.link_inputs(req)
        return ["inference_single.py", "--input", face, "--audio", audio, "--output_dir", "ip_lap_out",
                "--landmark_gen_checkpoint_path", str(self.ckpts["landmark_checkpoint"]),
                "--renderer_checkpoint_path", str(self.ckpts["renderer_checkpoint"])]

    def find_output(self, req: GenerationRequest) -> Path | None:
        # named after the input: eadbench_faceresult_N_25_Nl_15.mp4
        outs = sorted((req.workdir / "ip_lap_out").glob("*.mp4"), key=lambda p: p.stat().st_mtime)
        return outs[-1] if outs else None

    def postprocess(self, out: Path, req: GenerationRequest) -> Path:
        frames = media.read_frames(out)
        w = frames.shape[2] // 2
        return media.write_video(req.workdir / "ip_lap_face.mp4", frames[:, :, w:])
