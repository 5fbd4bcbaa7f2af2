"""MuseTalk v1.5 (Zhang et al., 2024) through `python -m scripts.inference` and a task YAML.

Tested on upstream commit 0a89dec45a0192b824e3cf4daf96c239440c5ed8 with the environment of
``requirements-musetalk.txt`` and the shared run-time fixes (``../runtime/``): it runs up to
``musetalk/utils/preprocessing.py``'s ``from mmpose.apis import ...``, the OpenMMLab stack that
environment does not have (README.md beside this file says what that step needs).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from eadbench_baselines import RUNTIME

from eadbench.generators.base import GenerationRequest, register_generator
from eadbench.generators.official_repo import OfficialRepoGenerator


@register_generator
class MuseTalk(OfficialRepoGenerator):
    name = "musetalk"
    description = "MuseTalk v1.5, official scripts.inference with a one-task YAML"
    entry_point = "scripts/inference.py"
    checkpoints = ("unet_model", "unet_config")
    options = {"version": "MuseTalk version flag (default v15)"}
    runtime_dir = RUNTIME  # torchvision beside CPU torch (musetalk/utils/face_parsing imports it)

    def prepare_inputs(self, req: GenerationRequest) -> None:
        task = {"task_0": {"video_path": str(req.reference_video), "audio_path": str(req.audio),
                           "result_name": f"{req.clip.clip_id}.mp4"}}
        (req.workdir / "eadbench_task.yaml").write_text(yaml.safe_dump(task))

    def build_argv(self, req: GenerationRequest) -> list[str]:
        return ["-m", "scripts.inference", "--inference_config", str(req.workdir / "eadbench_task.yaml"),
                "--result_dir", str(req.workdir / "musetalk_out"),
                "--unet_model_path", str(self.ckpts["unet_model"]),
                "--unet_config", str(self.ckpts["unet_config"]),
                "--version", str(self.config.get("version", "v15"))]

    def find_output(self, req: GenerationRequest) -> Path | None:
        outs = sorted((req.workdir / "musetalk_out").glob(f"**/{req.clip.clip_id}.mp4"))
        return outs[0] if outs else None
