"""The rates and names every piece of media code shares: 25 fps video, 16 kHz mono audio,
640 audio samples per frame, the name of a video's whole-frames view, the file extensions read.

A module of their own so that decoding, encoding and the rest of eadbench take them from one
place (``tests/test_layout_once.py`` checks each is assigned in one module only).
"""

from __future__ import annotations

VIDEO_FPS = 25.0
AUDIO_RATE = 16000
#: audio samples per video frame (16 kHz / 25 fps = 640, 40 ms): frame t's audio is [t * 640, (t + 1) * 640)
SAMPLES_PER_FRAME = AUDIO_RATE // int(VIDEO_FPS)
#: the view of a video that is its whole frames (the other views are face-crop protocol names)
FRAMES = "frames"
VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".flv", ".mpg", ".mpeg")
AUDIO_EXTENSIONS = (".wav", ".m4a", ".mp3", ".aac", ".flac", ".ogg", ".opus")
