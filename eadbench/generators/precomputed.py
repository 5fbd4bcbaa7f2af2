"""Score videos generated elsewhere: a folder of a method's outputs named by clip id."""

from __future__ import annotations

import time
from pathlib import Path

from eadbench.generators.base import (
    GenerationError,
    GenerationRequest,
    GenerationResult,
    Generator,
    normalise_output,
    register_generator,
)
from eadbench.media import VIDEO_EXTENSIONS


@register_generator
class Precomputed(Generator):
    name = "precomputed"
    description = "existing outputs in a folder, one file per clip named <clip_id>.<ext>"
    options = {
        "dir": "folder holding <clip_id>.mp4 (or any video extension)",
        "label": "name shown in tables (default: the folder name)",
        "normalise": "re-encode to 25 fps, the real size and the driving audio (default true)",
    }

    def __init__(self, **config):
        super().__init__(**config)
        if "dir" not in config:
            raise GenerationError("method precomputed needs option dir=<folder of outputs>")
        self.folder = Path(config["dir"]).expanduser()
        if not self.folder.is_dir():
            raise GenerationError(f"precomputed outputs folder {self.folder} does not exist")

    def fingerprint(self):
        files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
        stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
        return {**super().fingerprint(), "files": stamp}

    def find(self, clip_id: str) -> Path:
        for ext in VIDEO_EXTENSIONS:
            p = self.folder / f"{clip_id}{ext}"
            if p.exists():
                return p
        raise GenerationError(f"no output for clip {clip_id} in {self.folder} "
                              f"(expected {clip_id}.mp4 or another video extension)")

    def generate(self, req: GenerationRequest) -> GenerationResult:
        t = time.perf_counter()
        src = self.find(req.clip.clip_id)
        if str(self.config.get("normalise", "true")).lower() in ("0", "false", "no"):
            req.out.parent.mkdir(parents=True, exist_ok=True)
            req.out.write_bytes(src.read_bytes())
        else:
            normalise_output(src, req)
        return GenerationResult(req.out, time.perf_counter() - t, info={"source": str(src)})
