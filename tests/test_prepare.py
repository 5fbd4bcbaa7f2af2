"""End to end: synth -> datasets inspect -> prepare (resumable, atomic, failures recorded)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from eadbench import media
from eadbench.cli.main import app
from eadbench.prepare import iter_prepared

cli = CliRunner()


def test_synth_inspect_prepare_end_to_end(tmp_path):
    root = tmp_path / "synth"
    r = cli.invoke(app, ["synth", "--layout", "mead", "--out", str(root), "--speakers", "2", "--clips", "2",
                         "--seconds", "1.2", "--size", "160", "--quiet"])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["datasets", "inspect", "--dataset", "synth", "--root", str(root), "--json"])
    assert json.loads(r.output)["clips"] == 4
    # one clip made unreadable: recorded, the others prepared
    victim = sorted(root.glob("W009/video/front/*/*/*.mp4"))[0]
    victim.write_bytes(b"\x00" * 100)
    out = tmp_path / "prepared"
    r = cli.invoke(app, ["prepare", "--dataset", "synth", "--root", str(root), "--out", str(out), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "prepared 3, skipped 0 (already done), failed 1" in r.output
    fails = (out / "synth" / "failures.jsonl").read_text().splitlines()
    assert len(fails) == 1 and "not a readable media file" in json.loads(fails[0])["reason"]
    clips = list(iter_prepared(out / "synth"))
    assert len(clips) == 3
    c = clips[0]
    assert media.probe(c.video).fps == 25.0 and media.probe(c.video).has_audio
    assert media.read_audio(c.audio).shape[0] > 16000
    crop = media.probe(c.crops["syncnet"])
    assert (crop.width, crop.height) == (224, 224) and abs(crop.n_frames - 30) <= 1
    meta = c.meta
    assert meta["crops"]["syncnet"]["version"] == "1" and meta["crops"]["face256"]["size"] == 256
    assert meta["detector"]["name"].startswith("mtcnn") and len(meta["source_sha256"]) >= 64
    assert meta["crops"]["syncnet"]["missing_face_frames"] == []
    # re-run: everything finished is skipped; a half-written temp folder left by a kill is ignored
    (out / "synth" / f".{c.clip_id}.abc").mkdir()
    mtime = c.video.stat().st_mtime_ns
    r = cli.invoke(app, ["prepare", "--dataset", "synth", "--root", str(root), "--out", str(out), "--quiet"])
    assert "prepared 0, skipped 3" in r.output
    assert c.video.stat().st_mtime_ns == mtime
    # an interrupted clip (meta missing) is redone
    (c.dir / "meta.json").unlink()
    r = cli.invoke(app, ["prepare", "--dataset", "synth", "--root", str(root), "--out", str(out), "--quiet"])
    assert "prepared 1, skipped 2" in r.output
