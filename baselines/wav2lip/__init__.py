"""Wav2Lip (Prajwal et al., 2020) through its official `inference.py`.

Tested on upstream commit 5c90fa9b4a2c2a37d0b4ebf7633ac41534eb9941 with the environment of
``requirements-wav2lip.txt`` (README.md beside this file). Nothing of upstream is edited; two
things are arranged around it:

* the face box: upstream's S3FD detector downloads its weights at run time, so by default the
  box eadbench's own face tracker finds (MTCNN, median over the first 10 s, Wav2Lip's pads
  added) is passed as ``--box``; ``box: detect`` leaves detection to upstream;
* inputs are linked into the job folder under plain names, because ``inference.py`` builds its
  ffmpeg command as a shell string (a path with a space breaks it) and tests ``--face`` for an
  image by ``split('.')[1]`` (a dot in a folder name breaks it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eadbench import media
from eadbench.errors import EadbenchError, GenerationError
from eadbench.generators.base import GenerationRequest, register_generator
from eadbench.generators.official_repo import OfficialRepoGenerator

#: frames of the reference video the tracked box is taken from (10 s at 25 fps)
BOX_FRAMES = 250


#: S3FD's weights, which upstream downloads at run time when they are not here (box: detect)
S3FD = "face_detection/detection/sfd/s3fd.pth"
#: (video, size, mtime) -> its median face box, or the FaceNotFoundError it raised: every
#: Wav2Lip variant of a run tracks a clip once
_TRACKED: dict[tuple[str, int, int], np.ndarray | EadbenchError] = {}


def tracked_box(video: Path, pads: list[int]) -> list[int]:
    """Wav2Lip's ``--box`` (top, bottom, left, right) from eadbench's face track of ``video``:
    the median detection of its first frames, padded as Wav2Lip pads S3FD's box."""
    from eadbench.faces.track import track_clip

    st = Path(video).stat()
    key = (str(Path(video).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _TRACKED:
        frames = media.read_frames(video, max_frames=BOX_FRAMES)
        try:
            boxes = track_clip(frames, source=str(video)).boxes
            _TRACKED[key] = np.r_[np.nanmedian(boxes, axis=0), frames.shape[1:3]]
        except EadbenchError as exc:
            _TRACKED[key] = exc
    if isinstance(_TRACKED[key], EadbenchError):
        raise _TRACKED[key]
    x1, y1, x2, y2, h, w = _TRACKED[key]
    top, bottom, left, right = pads
    return [int(max(0, y1 - top)), int(min(h, y2 + bottom)), int(max(0, x1 - left)), int(min(w, x2 + right))]


@register_generator
class Wav2Lip(OfficialRepoGenerator):
    name = "wav2lip"
    description = "Wav2Lip, official inference.py (96x96 mouth region, 25 fps)"
    entry_point = "inference.py"
    checkpoints = ("checkpoint",)
    # inference.py emits one frame per 16-step mel window starting every 3.2 steps (and one for
    # the last window), so it stops 2 to 3 frames (0.08-0.12 s) before the audio ends (computed
    # over 1-12 s of audio); those frames hold its last one
    tail_frames = 3
    options = {"pads": "face box padding 'top bottom left right' (Wav2Lip's --pads; default 0 10 0 0)",
               "nosmooth": "pass --nosmooth (true/false)",
               "box": "tracked (default: eadbench's face track, passed as --box), detect (upstream S3FD, "
                      "needs face_detection/detection/sfd/s3fd.pth in repo) or 'top bottom left right'",
               "batch_size": "Wav2Lip's --wav2lip_batch_size (default 128)"}

    def __init__(self, **config):
        super().__init__(**config)
        if str(config.get("box", "")).strip() == "detect" and not (self.repo / S3FD).exists():
            raise GenerationError(f"wav2lip: box: detect needs S3FD's weights at {self.repo / S3FD} (upstream "
                                  "would download them at run time); put them there, or leave box out to use "
                                  "eadbench's face track")
        self.pads()

    def pads(self) -> list[int]:
        pads = str(self.config.get("pads", "0 10 0 0")).split()
        if len(pads) != 4 or not all(p.lstrip("-").isdigit() for p in pads):
            raise GenerationError(f"wav2lip: pads must be four integers 'top bottom left right', got {pads}")
        return [int(p) for p in pads]

    def build_argv(self, req: GenerationRequest) -> list[str]:
        face, audio = self.link_inputs(req)
        argv = ["inference.py", "--checkpoint_path", str(self.ckpts["checkpoint"]),
                "--face", face, "--audio", audio, "--outfile", "wav2lip_out.mp4", "--pads", *map(str, self.pads())]
        box = str(self.config.get("box", "tracked")).strip()
        if box == "tracked":
            argv += ["--box", *map(str, tracked_box(req.reference_video, self.pads()))]
        elif box != "detect":
            if len(box.split()) != 4:
                raise GenerationError(f"wav2lip: box must be tracked, detect or 'top bottom left right', got {box!r}")
            argv += ["--box", *box.split()]
        if self.config.get("batch_size"):
            argv += ["--wav2lip_batch_size", str(int(self.config["batch_size"]))]
        if str(self.config.get("nosmooth", "false")).lower() in ("1", "true", "yes"):
            argv.append("--nosmooth")
        return argv

    def find_output(self, req: GenerationRequest) -> Path:
        return req.workdir / "wav2lip_out.mp4"
