"""Named, versioned face-crop protocols: the same crop for every method, pinned like clean-fid modes.

* ``syncnet`` (v1): syncnet_python's crop. Half-size s = max(w, h)/2 of the smoothed box, crop
  scale cs = 0.4: rows [cy - s, cy + s(1 + 2cs)), columns [cx - s(1 + cs), cx + s(1 + cs)) of the
  frame padded with the constant 110, resized to 224x224 (bilinear). LSE is defined on it.
* ``face256`` (v1): a square of side 3s (1.5x the box) centred on the box, edge-replicated
  padding, area resize to 256x256. Used for emotion, LMD and CSIM.
* ``face224`` (v1): as face256 at 224x224 (FID/FVD on faces, --crop face224).

``face_box`` takes the centre of face256 crops (the box plus a ~8% margin): what the emotion
classifiers and FaceNet see. A frame whose box is unknown (no face found yet) is cropped as a
blank image and flagged, never silently given another frame's box.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from eadbench.faces.track import Track, track_clip
from eadbench.registry import Registry

INTERP = {"bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}


@dataclass(frozen=True)
class CropProtocol:
    name: str
    version: str
    size: int
    interpolation: str
    description: str

    def window(self, cx: float, cy: float, s: float) -> tuple[float, float, float, float]:
        """(top, bottom, left, right) in frame pixels."""
        raise NotImplementedError

    def pad_value(self):
        return None  # None = replicate edges

    def blank(self) -> np.ndarray:
        return np.zeros((self.size, self.size, 3), np.uint8)

    def crop_or_blank(self, frame: np.ndarray, geo: np.ndarray) -> tuple[np.ndarray, bool]:
        """The crop at ``geo`` (cx, cy, s), or a blank image (and False) when ``geo`` is unknown."""
        if not np.isfinite(geo).all():
            return self.blank(), False
        return self.crop(frame, *geo), True

    def crop(self, frame: np.ndarray, cx: float, cy: float, s: float) -> np.ndarray:
        top, bottom, left, right = self.window(cx, cy, s)
        pad = int(np.ceil(max(0.0, -top, -left, bottom - frame.shape[0], right - frame.shape[1]))) + 1
        if self.pad_value() is None:
            padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        else:
            padded = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_CONSTANT,
                                        value=(self.pad_value(),) * 3)
        face = padded[int(top + pad):int(bottom + pad), int(left + pad):int(right + pad)]
        return cv2.resize(face, (self.size, self.size), interpolation=INTERP[self.interpolation])


@dataclass(frozen=True)
class SyncNetCrop(CropProtocol):
    scale: float = 0.4

    def window(self, cx, cy, s):
        cs = self.scale
        return cy - s, cy + s * (1 + 2 * cs), cx - s * (1 + cs), cx + s * (1 + cs)

    def pad_value(self):
        return 110


@dataclass(frozen=True)
class SquareCrop(CropProtocol):
    factor: float = 1.5  # side = factor * box size = factor * 2s

    def window(self, cx, cy, s):
        h = self.factor * s
        return cy - h, cy + h, cx - h, cx + h


CROP_PROTOCOLS: Registry[CropProtocol] = Registry("crop protocol")
for _p in (
    SyncNetCrop("syncnet", "1", 224, "bilinear", "syncnet_python crop: scale 0.4, 224x224, pad 110"),
    SquareCrop("face256", "1", 256, "area", "square 1.5x box, 256x256, area resize"),
    SquareCrop("face224", "1", 224, "area", "square 1.5x box, 224x224, area resize"),
):
    CROP_PROTOCOLS.add(_p.name, _p)


#: the centre of a face256 crop (1.5x the box) covering the box plus a ~8% margin
FACE_FRACTION = 0.72


def face_box(crops: np.ndarray) -> np.ndarray:
    """Centre of face256 crops that covers the face box plus a small margin."""
    s = crops.shape[1]
    m = int(round(s * (1 - FACE_FRACTION) / 2))
    return crops[:, m:s - m, m:s - m]


@dataclass
class CropResult:
    frames: np.ndarray  # (T, S, S, 3) uint8: every input frame, none dropped
    missing: list[int]  # frames without a detection (cropped with the nearest detected box)
    boxes: np.ndarray  # (T, 3) smoothed cx, cy, s used for each crop
    protocol: CropProtocol


def crop_clip(frames: np.ndarray, protocol: str, track: Track | None = None) -> CropResult:
    proto = CROP_PROTOCOLS.get(protocol)
    track = track if track is not None else track_clip(frames)
    geo = track.smoothed()
    out = np.stack([proto.crop(f, *g) for f, g in zip(frames, geo)])
    return CropResult(out, list(track.missing), geo, proto)
