"""Silent-mouth leak (metric ``lipleak``, protocol ``silent-mouth@1``) and the silent-mouth probe
(``eadbench.probes.lipleak``): the stored thresholds are what the real clips' silent frames
give, a real speaker's silences barely leak, the probe tells the ``static`` method from a
method that keeps the mouth moving, and ``eadbench run --metrics avsync,lipleak`` scores a clip
with a silent stretch.

The synthetic clip is a built-in talking face (4.5 s, 128 px) saying a 3.3 s sentence, so its
last second is silent with the mouth closed; the "replay" method is a command-line program that
shows the reference's talking frames wherever its driving audio is silent. Videos are tracked
the quick way (MTCNN on every 8th frame, boxes interpolated) except inside ``eadbench run``.
"""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest

from eadbench import media
from tests.helpers.faces import fast_crops
from tests.helpers.shared_data import real_data

REAL = ("WDA_AlexandriaOcasioCortez_000", "WDA_KatieHill_000", "retalking_1", "retalking_2", "retalking_3",
        "retalking_4", "retalking_5")
#: the real clips with silent frames (the other four have none at all)
WITH_SILENCE = ("WDA_AlexandriaOcasioCortez_000", "WDA_KatieHill_000", "retalking_1")
CLIP_ID = "WRA_BenOkafor_000"
SECONDS = 4.5

REPLAY = textwrap.dedent('''
    """Test method: the reference video, its talking frames replayed wherever the driving audio is silent."""
    import sys

    import numpy as np

    from eadbench import media


    def rms(audio, n):
        a = np.pad(audio, (0, max(0, n * 640 - len(audio))))[: n * 640].reshape(n, 640)
        return np.sqrt((a.astype(np.float64) ** 2).mean(axis=1))


    video, driving, out = sys.argv[1:4]
    frames = media.read_frames(video)
    drive = media.read_audio(driving)
    talking = frames[rms(media.read_audio(video), len(frames)) > 0.02]
    quiet = np.flatnonzero(rms(drive, len(frames)) < 0.005)
    frames[quiet] = talking[np.arange(len(quiet)) % len(talking)]
    media.write_video(out, frames, audio=drive[: len(frames) * 640])
''')


@pytest.fixture(scope="module")
def single_thread():
    """torch on one thread while the tests measure (MTCNN is several times faster that way on a
    busy shared machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def synth(tmp_path_factory, single_thread):
    """An HDTF-layout folder holding one synthetic clip with a silent tail, its split file and audio."""
    from eadbench.synth import speech
    from eadbench.synth.generate import render_clip

    d = tmp_path_factory.mktemp("lipleak")
    item = dict(speaker_index=1, emotion="neutral", level=1, levels=3, sentence=speech.SENTENCES[5])
    frames, audio, opening = render_clip(item, SECONDS, 128, 0)
    assert (opening[-25:] == 0).all()  # the last second: silent, mouth closed
    video = media.write_video(d / "data" / f"{CLIP_ID}.mp4", frames, fps=25, audio=audio)
    (d / "split.txt").write_text(f"{CLIP_ID} test\n")
    (d / "replay.py").write_text(REPLAY)
    return d, video, audio


def replay_method(folder):
    from eadbench.generators import build

    return build("command", argv=[sys.executable, str(folder / "replay.py"), "{video}", "{audio}", "{out}"],
                 label="replay")


# ------------------------------------------------------------------ calibration on real clips

def test_stored_thresholds_are_the_real_clips_silent_frames_quantiles(single_thread):
    """Remeasures OPEN_MAX and MOTION_MAX as the protocol defines them (95th percentiles over the
    pooled silent frames of the seven real talking clips) and checks a real speaker's pause."""
    from eadbench.metrics import lipleak as L
    from eadbench.metrics.avsync import audio_frames, mouth_series, voice_probs
    from eadbench.nets.face_mesh import face_mesh

    real = real_data()
    missing = [c for c in REAL if not (real / f"{c}.mp4").exists()]
    if missing:
        pytest.skip(f"real clips {', '.join(missing)} not found in {real} "
                    "(set EADBENCH_SHARED to the shared folder)")
    probs = {}
    for c in REAL:
        audio = media.read_audio(real / f"{c}.mp4")
        probs[c] = voice_probs(audio, audio_frames(audio))
    silent = {c: int(L.silent_frames(p).sum()) for c, p in probs.items()}
    assert {c for c, n in silent.items() if n} == set(WITH_SILENCE), silent
    mesh = face_mesh()
    series = {}
    for c in WITH_SILENCE:  # only these contribute frames: the mouth is measured on them alone
        frames = media.read_frames(real / f"{c}.mp4")
        series[c] = mouth_series(mesh, fast_crops(frames))
    cal = L.calibrate([(series[c], probs[c]) for c in WITH_SILENCE])
    assert cal["silent_frames"] == 48, cal
    assert abs(cal["open_max"] - L.OPEN_MAX) < 0.003 and abs(cal["motion_max"] - L.MOTION_MAX) < 0.003, cal
    pause = L.lipleak_from_series(series["retalking_1"], probs["retalking_1"])
    assert pause["silent_frames"] >= 30 and pause["lipleak"] <= 0.15, pause  # measured 37 frames, 0.08
    short = L.lipleak_from_series(series["WDA_KatieHill_000"], probs["WDA_KatieHill_000"])
    assert short["lipleak"] is None and "silent frames" in short["excluded"], short


# ------------------------------------------------------------------ the metric on its own

def test_still_mouth_does_not_leak_and_talking_through_silence_does():
    from eadbench.metrics import lipleak as L

    probs = np.r_[np.ones(40), np.zeros(60)]  # speech, then silence
    talk = 0.05 + 0.06 * np.clip(np.sin(np.arange(100) * 1.3), 0, None)
    closed = np.r_[talk[:40], np.full(60, 0.05)]
    assert L.lipleak_from_series(closed, probs)["lipleak"] == 0.0
    leaking = L.lipleak_from_series(talk, probs)
    assert leaking["lipleak"] > 0.8 and leaking["silent_frames"] == 60 - L.MARGIN, leaking
    assert L.lipleak_from_series(np.full(100, 0.2), probs)["lipleak"] == 0.0  # blind spot: held open, still
    few = L.lipleak_from_series(talk, np.r_[np.ones(90), np.zeros(10)])
    assert few["lipleak"] is None and "only 4 silent frames" in few["excluded"], few


def test_registered_with_its_own_protocol_and_column():
    from eadbench.metrics import METRICS, import_errors
    from eadbench.metrics.base import LOWER
    from eadbench.report.tables import DISPLAY

    assert "lipleak" not in import_errors
    info = METRICS.get("lipleak")
    assert info.direction == LOWER and info.default_protocol.key == "silent-mouth@1"
    assert info.needs == ("audio",) and "lipleak/lipleak" in DISPLAY


# ------------------------------------------------------------------ the probe

def test_probe_tells_still_and_audio_following_mouths_from_one_that_keeps_moving(synth, tmp_path):
    """static never leaks; the replaying method leaks under both probes; ground_truth, which copies
    the real video whatever the audio, leaks under the all-silent probe as any method that ignores
    the audio must."""
    from eadbench.datasets.base import Clip
    from eadbench.generators import build
    from eadbench.probes.lipleak import run_probe

    folder, video, audio = synth
    clip = Clip(CLIP_ID, "hdtf", video, "WRA_BenOkafor", "test")

    def crops(path):
        return fast_crops(media.read_frames(path))

    res = {name: run_probe(gen, clip, video, audio, tmp_path / name, crops=crops)
           for name, gen in (("static", build("static")), ("ground_truth", build("ground_truth")),
                             ("replay", replay_method(folder)))}
    table = {name: {case: r.cases[case] for case in r.cases} for name, r in res.items()}
    for case in ("silence", "half-silent"):
        static, replay = res["static"].leak(case), res["replay"].leak(case)
        assert static is not None and static <= 0.05, table
        assert replay is not None and replay >= 0.3 and replay >= static + 0.25, table
        assert res["replay"].cases[case]["silent_frames"] >= 40, table
    assert res["ground_truth"].leak("silence") >= 0.3, table


# ------------------------------------------------------------------ in a run

def test_run_scores_avsync_and_lipleak_on_a_clip_with_a_silent_stretch(synth, tmp_path):
    from eadbench import config
    from eadbench import run as runner
    from eadbench.report.tables import main_table
    from eadbench.run.layout import load_run

    folder, _, _ = synth
    methods = ["ground_truth", "static", {"name": "replay", "method": "command",
                                           "argv": [sys.executable, str(folder / "replay.py"), "{video}",
                                                    "{audio}", "{out}"]}]
    cfg = config.resolve(None, dataset="hdtf", root=str(folder / "data"),
                         split_file=str(folder / "split.txt"), out=str(tmp_path / "run"), quiet=True,
                         metrics=["avsync", "lipleak"])
    cfg.methods = [config.MethodSpec.parse(m) for m in methods]
    runner.run(cfg, echo=lambda s: None)
    s = json.loads((tmp_path / "run" / "summary.json").read_text())["methods"]
    outputs = (("avsync", "avsync_r"), ("lipleak", "lipleak"))
    value = {m: {k: s[m][metric][k]["value"] for metric, k in outputs}
             for m in ("ground_truth", "static", "replay")}
    assert value["ground_truth"]["avsync_r"] > 0.5 and value["static"]["avsync_r"] == 0.0, value
    assert value["ground_truth"]["lipleak"] <= 0.1 and value["static"]["lipleak"] == 0.0, value
    assert value["replay"]["lipleak"] >= value["ground_truth"]["lipleak"] + 0.3, value
    table = main_table([load_run(tmp_path / "run")])
    heads = [h for _, h in table.columns]
    assert any(h.startswith("AV-sync r") for h in heads) and not any("LSE" in h for h in heads), heads
    assert any(h.startswith("Silent-mouth leak") for h in heads), heads


def test_probe_command_writes_the_table_and_json(synth, tmp_path):
    """`eadbench probe lipleak` drives each method with both probe audios on a dataset's clips: the
    still static face never leaks, ground_truth (which ignores the audio) leaks under silence."""
    from typer.testing import CliRunner

    from eadbench.cli.main import app

    folder, _, _ = synth
    out = tmp_path / "probe"
    r = CliRunner().invoke(app, ["probe", "lipleak", "--dataset", "hdtf", "--root", str(folder / "data"),
                                 "--split-file", str(folder / "split.txt"), "--methods", "ground_truth,static",
                                 "--tracking", "mtcnn-fast", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert "| static |" in r.output and "lipleak ↓, silence" in r.output
    report = json.loads((out / "lipleak_probe.json").read_text())
    s = report["summary"]
    assert report["clips"] == [CLIP_ID] and not report["failures"]
    assert s["static"]["silence"]["lipleak"] == 0.0 and s["static"]["silence"]["n"] == 1
    assert s["ground_truth"]["silence"]["lipleak"] >= 0.3, s
    assert (out / "probe" / "static" / CLIP_ID / "silence" / "static.mp4").exists()
