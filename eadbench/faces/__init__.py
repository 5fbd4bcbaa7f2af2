"""Face detection (MTCNN, real weights from facenet-pytorch), tracking and pinned crop protocols."""

from eadbench.faces.crop import CROP_PROTOCOLS, CropProtocol, CropResult, crop_clip
from eadbench.faces.detect import DETECTOR, Face, detect_batch, detect_faces
from eadbench.faces.track import Track, track_clip

__all__ = ["CROP_PROTOCOLS", "CropProtocol", "CropResult", "crop_clip", "DETECTOR", "Face", "detect_batch",
           "detect_faces", "Track", "track_clip"]
