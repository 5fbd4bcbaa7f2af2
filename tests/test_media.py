"""Video/audio I/O: round trips, fps resampling, and one clear error per kind of bad file."""

from __future__ import annotations

import numpy as np
import pytest

from eadbench import media
from eadbench.errors import MediaError

SR = 16000


def _gray_clip(n: int, size: int = 32) -> np.ndarray:
    return np.stack([np.full((size, size, 3), 5 * i, np.uint8) for i in range(n)])


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    return media.write_video(d / "clip.mp4", _gray_clip(50), fps=25, audio=_tone(2.0))


def test_round_trip_frames_and_audio(clip):
    info = media.probe(clip)
    assert (info.fps, info.n_frames, info.width, info.height, info.has_audio) == (25.0, 50, 32, 32, True)
    frames = media.read_frames(clip)
    assert frames.shape == (50, 32, 32, 3)
    np.testing.assert_allclose(frames[:, 8, 8, 0], 5 * np.arange(50), atol=3)
    audio = media.read_audio(clip)
    ref = _tone(2.0)
    assert len(audio) >= len(ref)
    assert np.corrcoef(audio[1000:30000], ref[1000:30000])[0, 1] > 0.999


def test_resample_30_to_25_picks_nearest_source_frame(tmp_path):
    p = media.write_video(tmp_path / "30.mp4", _gray_clip(45), fps=30)
    got = np.round(media.read_frames(p, fps=25)[:, 5, 5, 0] / 5).astype(int)
    expected = np.floor(np.arange(len(got)) * 30 / 25 + 0.5).astype(int)
    assert len(got) == 37
    np.testing.assert_array_equal(got, expected)


def test_streaming_stops_at_max_frames(clip):
    assert len(list(media.iter_frames(clip, max_frames=7))) == 7


def test_audio_resampled_from_side_files(tmp_path):
    tone = _tone(1.0)
    for name in ["a.wav", "a.m4a"]:
        p = media.write_audio(tmp_path / name, tone)
        a8 = media.read_audio(p, sr=8000)
        assert abs(len(a8) - 8000) < 1100  # AAC pads to whole 1024-sample frames
    assert media.read_audio(tmp_path / "a.wav").shape == (SR,)


def test_writer_is_deterministic_and_atomic(tmp_path):
    a = media.write_video(tmp_path / "a.mp4", _gray_clip(10), audio=_tone(0.4))
    b = media.write_video(tmp_path / "b.mp4", _gray_clip(10), audio=_tone(0.4))
    assert a.read_bytes() == b.read_bytes()
    assert not list(tmp_path.glob("*.part"))


def test_odd_frame_sizes_are_padded_to_even(tmp_path):
    p = media.write_video(tmp_path / "odd.mp4", np.zeros((3, 31, 33, 3), np.uint8))
    assert media.read_frames(p).shape == (3, 32, 34, 3)


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make, problem",
    [
        (lambda d, clip: _write(d / "empty.mp4", b""), "empty file"),
        (lambda d, clip: _write(d / "cut.mp4", clip.read_bytes()[: clip.stat().st_size // 3]), "truncated"),
        (lambda d, clip: _write(d / "notes.mp4", b"hello, not a video\n" * 50), "not a readable media file"),
        (lambda d, clip: _write(d / "x.qqq", np.random.default_rng(0).bytes(5000)), "not a readable media file"),
        (lambda d, clip: d / "missing.mp4", "does not exist"),
        (lambda d, clip: media.write_audio(d / "only_audio.m4a", _tone(0.5)), "no video stream"),
    ],
    ids=["zero-byte", "truncated", "text-file", "unknown-container", "missing", "audio-only"],
)
def test_bad_video_files_give_one_line_errors(tmp_path, clip, make, problem):
    path = make(tmp_path, clip)
    with pytest.raises(MediaError) as err:
        media.read_frames(path)
    msg = str(err.value)
    assert problem in msg and str(path) in msg and "\n" not in msg


def test_missing_audio_track(tmp_path):
    p = media.write_video(tmp_path / "silent.mp4", _gray_clip(5))
    with pytest.raises(MediaError, match="no audio track"):
        media.read_audio(p)


def test_audio_shorter_than_video(tmp_path):
    with pytest.raises(MediaError, match="audio is shorter than the video"):
        media.fit_audio_to_video(tmp_path / "v.mp4", _tone(1.0), n_frames=50, strict=True)
    assert media.fit_audio_to_video(tmp_path / "v.mp4", _tone(1.0), n_frames=50).n_frames == 25  # trimmed
    assert media.fit_audio_to_video(tmp_path / "v.mp4", _tone(1.98), n_frames=50, strict=True).n_frames == 50


def test_unreadable_image(tmp_path):
    (tmp_path / "a.png").write_text("nope")
    with pytest.raises(MediaError, match="not a readable image"):
        media.read_image(tmp_path / "a.png")
