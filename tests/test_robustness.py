"""`eadbench robustness` (issue 17): every perturbation does exactly what it says on tiny synthetic
clips, a small run has every (metric, perturbation) cell, failures are recorded with their
reason, and the flag catches a metric that moves under a harmless perturbation."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from eadbench import config, media
from eadbench import robustness as rb
from eadbench.errors import MetricInputError
from eadbench.metrics.base import HIGHER, LOWER, METRICS, Evaluator, MetricInfo, MetricProtocol
from eadbench.run.inputs import scan_dataset, stage_inputs
from eadbench.run.layout import RunDir
from eadbench.synth import write_dataset
from eadbench.weights import WeightStore

ALL = [p.name for p in rb.PERTURBATIONS]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("robust") / "synth", layout="mead", speakers=1, clips=2,
                         seconds=1.2, size=128, seed=4)


@pytest.fixture(scope="module")
def made(data, tmp_path_factory):
    """One staged clip and all its perturbations."""
    d = tmp_path_factory.mktemp("made")
    clip = scan_dataset(config.resolve(None, dataset="synth", root=str(data), limit=1)).clips[0]
    clean, wav, _ = stage_inputs(clip, RunDir(d / "run"))
    out = rb.make_perturbations(clip.clip_id, clean, wav, d / "perturbed", ALL, seed=0,
                                store=WeightStore(device="cpu"))
    return clean, wav, out, clip


def _ok(made, name):
    m = made[2][name]
    assert m.status == "ok", m.reason
    return m


def test_fifty_fps_container_reads_back_as_the_original_frames(made):
    clean, _, out, _ = made
    m = _ok(made, "fps50-doubled")
    info = media.probe(m.path)
    original = media.read_frames(clean)
    assert info.fps == 50.0
    assert len(media.read_frames(m.path, fps=None)) == 2 * len(original)
    back = media.read_frames(m.path)  # eadbench reads at 25 fps
    assert back.shape == original.shape and np.array_equal(back, original)
    assert np.array_equal(media.read_audio(m.path), media.read_audio(clean))  # audio packets copied


def test_audio_shift_delays_the_audio_by_k_times_640_samples(made):
    clean, wav, out, _ = made
    pcm = media.read_audio(_ok(made, "audio-pcm").path)
    with av.open(str(out["audio-pcm"].path)) as c:
        assert c.streams.audio[0].codec_context.name == "pcm_s16le"
    assert np.array_equal(pcm, rb.to_pcm16(media.read_audio(wav)) / np.float32(32768))
    for k in (1, 2, 3):
        m = _ok(made, f"audio-shift-{k}")
        n = k * 640
        assert m.params["shift_samples"] == n
        shifted = media.read_audio(m.path)
        assert len(shifted) == len(pcm)
        assert not shifted[:n].any()
        assert np.array_equal(shifted[n:], pcm[:-n])
        # the video stream is the clean one, byte for byte
        assert rb.video_stream_key(m.path) == rb.video_stream_key(clean)


def test_shuffled_frames_are_a_permutation(made):
    clean, _, _, _ = made
    m = _ok(made, "shuffle")
    original = media.read_frames(clean)
    back = media.read_frames(m.path)
    order = np.asarray(m.params["order"])
    assert sorted(order.tolist()) == list(range(len(original)))
    assert not np.array_equal(order, np.arange(len(original)))
    assert all(np.array_equal(back[i], original[j]) for i, j in enumerate(order))


def test_crop_jitter_shifts_each_frame_by_at_most_two_pixels(made):
    clean, _, _, _ = made
    m = _ok(made, "jitter-2px")
    original = media.read_frames(clean)
    back = media.read_frames(m.path)
    offsets = np.asarray(m.params["offsets_dx_dy"])
    assert offsets.shape == (len(original), 2) and np.abs(offsets).max() <= 2 and offsets.any()
    for f, g, (dx, dy) in zip(original, back, offsets):
        assert np.array_equal(g, rb.shift_frame(f, int(dx), int(dy)))
    small = np.arange(12).reshape(3, 4, 1)
    moved = rb.shift_frame(small, 2, -1)  # right by 2, up by 1, edges replicated
    assert moved[:, :, 0].tolist() == [[4, 4, 4, 5], [8, 8, 8, 9], [8, 8, 8, 9]]


def test_frozen_mouth_keeps_the_upper_face_and_repeats_the_first_lower_face(made):
    clean, _, _, _ = made
    m = _ok(made, "mouth-frozen")
    original = media.read_frames(clean)
    back = media.read_frames(m.path)
    regions = np.asarray(m.params["regions_top_bottom_left_right"])
    top = regions[:, 0].min()
    assert 0 < top < original.shape[1]
    assert np.array_equal(back[:, :top], original[:, :top])  # everything above the lower face is untouched
    t0, b0, l0, r0 = regions[0]
    assert np.array_equal(back[0], original[0])
    changed = 0
    for i, (t, b, left, right) in enumerate(regions):
        outside = np.ones(original.shape[1:3], bool)
        outside[t:b, left:right] = False
        assert np.array_equal(back[i][outside], original[i][outside])
        if (b - t, right - left) == (b0 - t0, r0 - l0):
            assert np.array_equal(back[i, t:b, left:right], original[0, t0:b0, l0:r0])
        changed += not np.array_equal(back[i], original[i])
    assert changed > 0  # the synthetic face talks: its mouth really was frozen


def test_reencodes_change_the_pixels_a_little_and_keep_the_audio(made):
    clean, _, out, _ = made
    original = media.read_frames(clean).astype(np.float64)
    for name in ("h264-crf18", "h264-crf28"):
        back = media.read_frames(_ok(made, name).path).astype(np.float64)
        mse = ((back - original) ** 2).mean()
        assert 0 < mse and 10 * np.log10(255 ** 2 / mse) > 25
        assert np.array_equal(media.read_audio(out[name].path), media.read_audio(clean))
    codec, why = rb.hevc_codec()
    if codec is None:
        assert out["h265"].status == "skipped" and out["h265"].reason == why
    else:
        with av.open(str(_ok(made, "h265").path)) as c:
            assert c.streams.video[0].codec_context.name == "hevc"


def test_flag_rule_on_constructed_numbers():
    perts = [rb.get_perturbation(n) for n in ("h264-crf28", "jitter-2px", "audio-shift-1", "shuffle")]

    def cells(moves):
        return {n: rb.clip_cell(v, HIGHER, 200) for n, v in moves.items()}

    # moves more under a harmless re-encode (|-0.30|) than under shuffling (degradation 0.10): flagged
    bad = rb.flag(cells({"h264-crf28": [-0.3, -0.31, -0.29], "jitter-2px": [0.0, 0.01, -0.01],
                         "audio-shift-1": [0.0, 0.0, 0.0], "shuffle": [-0.1, -0.11, -0.09]}), perts, HIGHER,
                  lambda p: p.changes != rb.AUDIO)
    assert bad["flagged"] and bad["clear"]
    assert bad["largest_harmless"]["perturbation"] == "h264-crf28"
    assert bad["smallest_harmful"]["perturbation"] == "shuffle"
    assert bad["blind_to"] == []  # the audio shift does not count: the metric cannot see audio
    # a metric that stays put under the harmless ones and drops under every harmful one: ok
    good = rb.flag(cells({"h264-crf28": [-0.01, -0.02, 0.0], "jitter-2px": [0.0, 0.01, -0.01],
                          "audio-shift-1": [-0.5, -0.4, -0.6], "shuffle": [-0.3, -0.2, -0.4]}), perts, HIGHER)
    assert good["status"] == "ok" and not good["flagged"]
    # direction-aware: a harmful edit that *improves* a higher-is-better value is a negative degradation
    odd = rb.flag(cells({"h264-crf28": [0.01, 0.01], "jitter-2px": [0.0, 0.0], "audio-shift-1": [0.2, 0.3],
                         "shuffle": [-0.3, -0.2]}), perts, HIGHER)
    assert odd["flagged"] and odd["smallest_harmful"]["mean_degradation"] < 0
    assert odd["blind_to"] == ["audio-shift-1"]
    # the same numbers for a lower-is-better output read the other way round
    low = rb.flag({n: rb.clip_cell(v, LOWER, 0) for n, v in {"h264-crf28": [0.01], "shuffle": [0.5]}.items()},
                  perts, LOWER)
    assert low["status"] == "ok"
    assert rb.flag({}, perts, HIGHER)["status"] == "not judged"
    assert rb.flag(cells({"shuffle": [1.0]}), perts, None)["status"] == "not judged"


def test_set_level_change_uses_the_exact_small_sample_frechet_distance():
    from eadbench.metrics.frechet import frechet_distance, gaussian_stats

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6, 40)), rng.normal(size=(6, 40)) + 0.3
    exact = frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    assert rb.frechet_small(a, b) == pytest.approx(exact, rel=1e-6)
    assert abs(rb.frechet_small(a, a)) < 1e-9
    cell = rb.set_cell(list(b[:, None]), list(a[:, None]), LOWER, 100)
    assert cell["n"] == 6 and cell["mean_change"] > 0 and cell["mean_degradation"] == cell["mean_change"]
    assert cell["ci95"][0] <= cell["ci95"][1]
    with pytest.raises(MetricInputError):
        rb.set_cell([a[:1]], [a[:1]], LOWER, 10)


class _Sharpness(Evaluator):
    """A fake fake-only metric: mean horizontal gradient of the frames (higher = 'better'). It is
    blind to frame order and sensitive to compression: the flag must catch it."""

    def begin(self, meta):
        return []

    def update(self, state, chunk):
        state.append(np.abs(np.diff(chunk.fake.astype(np.float32), axis=2)).mean(axis=(1, 2, 3)))

    def end(self, state):
        return {"sharp": float(np.concatenate(state).mean())}


class _AudioVideo(Evaluator):
    """A fake fake-only metric that reads audio: mean over frames of (frame brightness x RMS of the
    frame's 640 audio samples), so it sees both the audio and its alignment with the frames."""

    def begin(self, meta):
        return {"audio": meta.audio, "sum": 0.0, "n": 0}

    def update(self, state, chunk):
        for k, frame in enumerate(chunk.fake, chunk.start):
            window = state["audio"][640 * k:640 * (k + 1)]
            if len(window):
                state["sum"] += float(frame.mean()) * float(np.sqrt(np.mean(window ** 2)))
                state["n"] += 1

    def end(self, state):
        return {"av": state["sum"] / max(1, state["n"])}


class _Broken(Evaluator):
    def begin(self, meta):
        return None

    def update(self, state, chunk):
        pass

    def end(self, state):
        raise MetricInputError("deliberately unscorable")


def _fake(cls, name, output, needs=()):
    info = MetricInfo(name=name, direction=HIGHER, level="clip", outputs=(output,), needs=needs, weights=(),
                      protocols=(MetricProtocol(name, "1"),), description="test metric", factory=cls)
    cls.info = info
    return info


def test_audio_edits_are_scored_with_their_own_audio_and_the_clean_frames(made):
    """The shortcut for audio edits (their video packets are the clean ones) gives exactly what
    scoring the perturbed file itself gives."""
    from eadbench.metrics.base import ClipMeta, MetricContext
    from eadbench.run.driver import ClipScoring, Job, score_clip

    clean, _, out, clip = made
    store = WeightStore(device="cpu")
    _fake(_AudioVideo, "av_test", "av", needs=("audio",))
    _fake(_Sharpness, "sharp_test", "sharp")
    evs = {"av_test": _AudioVideo(MetricContext(store=store)),
           "sharp_test": _Sharpness(MetricContext(store=store))}
    videos = {n: out[n].path for n in ("audio-pcm", "audio-shift-2", "shuffle")}
    res = rb.score_videos(clip, clean, videos, evs, store)
    for name in ("audio-pcm", "audio-shift-2"):
        path = out[name].path
        meta = ClipMeta(clip.clip_id, audio=media.read_audio(path), emotion=clip.emotion)
        direct, _ = score_clip(ClipScoring(meta, clean, [Job("x", path, {"av_test": evs["av_test"]})], store))
        assert res[name]["av_test"].values["av"] == direct[("x", "av_test")].output["av"]
        assert not res[name]["av_test"].reused
        assert res[name]["sharp_test"].reused
        assert res[name]["sharp_test"].values == res[rb.CLEAN]["sharp_test"].values
    assert res["audio-shift-2"]["av_test"].values != res["audio-pcm"]["av_test"].values
    assert not res["shuffle"]["sharp_test"].reused


def test_small_run_has_every_cell_and_flags_a_fake_metric(data, tmp_path, monkeypatch):
    monkeypatch.setitem(METRICS._items, "sharp_test", _fake(_Sharpness, "sharp_test", "sharp"))
    monkeypatch.setitem(METRICS._items, "broken_test", _fake(_Broken, "broken_test", "value"))
    res = rb.robustness(["ssim", "sharp_test", "broken_test"], dataset="synth", root=str(data), limit=2,
                        out=tmp_path / "rob", bootstrap=50, device="cpu", progress=False, echo=lambda s: None)
    report = json.loads((tmp_path / "rob" / "robustness.json").read_text())
    assert report["perturbations"] == json.loads(json.dumps(res.report["perturbations"]))
    made = [p["name"] for p in report["perturbations"] if p["status"] == "ok"]
    rows = {(r["metric"], r["output"]): r for r in report["rows"]}
    assert set(rows) == {("ssim", "ssim"), ("sharp_test", "sharp"), ("broken_test", "value")}
    for r in rows.values():
        assert set(r["cells"]) == set(ALL)  # every (metric, perturbation) cell, skipped ones included
    for name in made:
        assert rows[("ssim", "ssim")]["cells"][name]["n"] == 2
        assert rows[("sharp_test", "sharp")]["cells"][name]["n"] == 2
    ssim = rows[("ssim", "ssim")]["cells"]
    assert ssim["fps50-doubled"]["mean_change"] == 0 and ssim["audio-pcm"]["mean_change"] == 0
    assert ssim["shuffle"]["mean_change"] < 0 and ssim["h264-crf28"]["mean_change"] < 0
    flags = {f["metric"]: f for f in report["flags"]}
    assert flags["sharp_test"]["flagged"]
    assert "shuffle" in flags["sharp_test"]["blind_to"]
    assert flags["broken_test"]["status"] == "not judged"
    # the broken metric's failures are all recorded, with their reason, for both clips
    broken = [f for f in report["failures"] if f["metric"] == "broken_test"]
    assert {f["clip"] for f in broken} == set(report["clips"]) and len(report["clips"]) == 2
    assert all("deliberately unscorable" in f["reason"] for f in broken)
    md = (tmp_path / "rob" / "robustness.md").read_text()
    assert all(name in md for name in ALL) and "FLAGGED" in md
    table = rb.format_table(res.report).splitlines()
    assert table[0].split()[2:] == [n + "*" * (rb.get_perturbation(n).kind == rb.HARMFUL) for n in ALL]
    assert [line.split()[0] for line in table[1:4]] == ["ssim", "sharp_test.sharp", "broken_test.value"]


def test_cli_json_and_one_line_errors(data, tmp_path):
    from eadbench.cli.main import app

    cli = CliRunner()
    r = cli.invoke(app, ["robustness", "--metrics", "psnr", "--root", str(data), "--limit", "1",
                         "--perturbations", "h264-crf28,shuffle", "--out", str(tmp_path / "r"),
                         "--device", "cpu", "--bootstrap", "20", "--json", "--quiet"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert [p["name"] for p in report["perturbations"]] == ["h264-crf28", "shuffle"]
    assert report["rows"][0]["cells"]["shuffle"]["mean_change"] < 0
    bad = cli.invoke(app, ["robustness", "--metrics", "psnr", "--root", str(data), "--perturbations", "blur",
                           "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines()[-1].startswith("error: unknown perturbation 'blur'")
