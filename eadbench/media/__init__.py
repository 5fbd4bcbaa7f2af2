"""Video and audio I/O on PyAV: streaming reads, 25 fps / 16 kHz resampling, atomic mp4 writes.

One job per module: ``constants`` (the shared rates, the whole-frames view's name, the file
extensions), ``decode`` (probing and reading video, audio and images, fitting a clip's audio to
its video) and ``encode`` (every encoder setting, ``Codec``, ``VideoWriter``, ``rewrite``, every
mp4/wav write). This module exports their public names: ``from eadbench.media import X`` and
``media.X`` are how the rest of eadbench uses them.

Everything that can go wrong with a user's file (missing, empty, truncated, not a video, no
frames, no audio, audio shorter than the video, unknown container) surfaces as a MediaError
naming the file and the problem, never as a codec traceback.
"""

from __future__ import annotations

import av

from eadbench.media.constants import (
    AUDIO_EXTENSIONS,
    AUDIO_RATE,
    FRAMES,
    SAMPLES_PER_FRAME,
    VIDEO_EXTENSIONS,
    VIDEO_FPS,
)
from eadbench.media.decode import (
    AV_SLACK_SECONDS,
    AVFit,
    VideoInfo,
    fit_audio_to_video,
    iter_frames,
    probe,
    read_audio,
    read_frames,
    read_image,
    video_stream_key,
)
from eadbench.media.encode import (
    HEVC_CRF,
    LOSSLESS,
    Codec,
    VideoWriter,
    add_video_stream,
    encode_frame,
    encode_frames,
    encode_pcm16,
    flush,
    h264,
    hevc_codec,
    mux_audio,
    rewrite,
    write_audio,
    write_video,
    write_wav,
)

av.logging.set_level(av.logging.PANIC)  # our errors say what went wrong; silence FFmpeg's chatter

__all__ = [
    "AUDIO_EXTENSIONS", "AUDIO_RATE", "AV_SLACK_SECONDS", "AVFit", "Codec", "FRAMES", "HEVC_CRF", "LOSSLESS",
    "SAMPLES_PER_FRAME", "VIDEO_EXTENSIONS", "VIDEO_FPS", "VideoInfo", "VideoWriter", "add_video_stream",
    "encode_frame", "encode_frames", "encode_pcm16", "fit_audio_to_video", "flush", "h264", "hevc_codec",
    "iter_frames", "mux_audio", "probe", "read_audio", "read_frames", "read_image", "rewrite", "video_stream_key",
    "write_audio", "write_video", "write_wav",
]
