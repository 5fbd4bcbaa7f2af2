"""benchmarks/identity_check.py's comparison: two run folders are identical only when every result
file and every generated video is the same byte for byte, and a video missing on one side counts."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("identity_check", REPO / "benchmarks" / "identity_check.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(folder: Path, summary: bytes, video: bytes | None) -> Path:
    (folder / "videos" / "eadnet").mkdir(parents=True)
    for f in ("per_clip.csv", "failures.csv", "clip_details.jsonl"):
        (folder / f).write_bytes(b"same\n")
    (folder / "summary.json").write_bytes(summary)
    if video is not None:
        (folder / "videos" / "eadnet" / "c1.mp4").write_bytes(video)
    (folder / "videos" / "eadnet" / "c1.json").write_text('{"key": "%s"}' % folder.name)  # sidecars: not compared
    return folder


def test_identical_only_when_every_file_and_video_is(tmp_path):
    tool = _tool()
    a = _run(tmp_path / "a", b'{"v": 1}', b"\x00video")
    assert all(tool.compare(a, _run(tmp_path / "b", b'{"v": 1}', b"\x00video")).values())
    assert tool.compare(a, _run(tmp_path / "c", b'{"v": 2}', b"\x00video"))["summary.json"] is False
    assert tool.compare(a, _run(tmp_path / "d", b'{"v": 1}', b"\x00vidEo"))["videos/eadnet/c1.mp4"] is False
    assert tool.compare(a, _run(tmp_path / "e", b'{"v": 1}', None))["videos/eadnet/c1.mp4"] is False
