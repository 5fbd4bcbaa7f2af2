"""Faces: detection (MTCNN), tracking under a named protocol, pinned crop protocols, and the
per-video track cache (keyed by the video's content, the detector's weights and the protocol)."""

from eadbench.faces.crop import CROP_PROTOCOLS, FACE_FRACTION, CropProtocol, CropResult, crop_clip, face_box
from eadbench.faces.detect import Face, detect_batch, detect_faces
from eadbench.faces.track import DEFAULT_TRACKING, TRACKING, StreamTracker, Track, TrackingProtocol, track_clip
from eadbench.nets.mtcnn import NAME as DETECTOR

__all__ = ["CROP_PROTOCOLS", "CropProtocol", "CropResult", "DEFAULT_TRACKING", "DETECTOR", "FACE_FRACTION", "Face",
           "StreamTracker", "TRACKING", "Track", "TrackingProtocol", "crop_clip", "detect_batch", "detect_faces",
           "face_box", "track_clip"]
