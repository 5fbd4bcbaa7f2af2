"""Training windows from clips prepared by `eadbench prepare` (face crops, 16 kHz audio)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from eadbench import media
from eadbench.errors import ChoiceError
from eadbench.labels import describe_emotion
from eadbench.nets.mfcc import mfcc
from eadnet.conditioning import audio_windows, log_mel
from eadnet.config import EADNetConfig


@dataclass
class ClipTensors:
    clip_id: str
    frames: torch.Tensor  # (3, T, S, S) in [-1, 1]
    audio_tokens: torch.Tensor  # (T, n_tok, audio_dim)
    mfcc: torch.Tensor  # (13, n) for the sync loss
    text: str
    intensity: float
    speaker: str = ""  # for references from another clip of the same person (``ref_other_clip``)
    emotion: str = ""
    text_source: str = "template"  # template, file, or the describer that wrote emotion.txt (face, vlm)
    utterance: str = ""  # the source file's stem: a MEAD sentence id, shared by a clip's renders (``ref_clip: twin``)


def frames_to_tensor(frames: np.ndarray, size: int) -> torch.Tensor:
    x = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in frames])
    return torch.from_numpy(x).permute(3, 0, 1, 2).float() / 127.5 - 1.0


def audio_features(audio: np.ndarray, n_frames: int, cfg: EADNetConfig) -> tuple[torch.Tensor, torch.Tensor]:
    if cfg.audio_features == "whisper-tiny.en":
        from eadnet.whisper import whisper_features

        mel = torch.from_numpy(whisper_features(audio))
    else:
        mel = log_mel(audio, cfg.audio_dim)
    pcm = np.clip(np.round(audio.astype(np.float64) * 32768), -32768, 32767)
    return audio_windows(mel, n_frames, cfg.audio_window), torch.from_numpy(mfcc(pcm).T.astype(np.float32))


def clip_intensity(clip: dict) -> float:
    """A clip record's intensity in [0, 1] (level / levels; 0.5 when unknown)."""
    levels = clip.get("intensity_levels") or 0
    return clip["intensity"] / levels if clip.get("intensity") and levels else 0.5


def clip_condition(p) -> tuple[str, float]:
    """A prepared clip's emotion text (its ``emotion.txt``, else the template) and intensity in [0, 1]."""
    c = p.meta["clip"]
    inten = clip_intensity(c)
    text_file = Path(p.dir) / "emotion.txt"
    return (text_file.read_text().strip() if text_file.exists() else describe_emotion(c.get("emotion"), inten)), inten


def text_source(p) -> str:
    """Where a prepared clip's text comes from: the describer named in its ``emotion.json``
    (``eadbench eadnet describe``), ``file`` (an ``emotion.txt`` written otherwise) or ``template``."""
    d = Path(p.dir)
    if not (d / "emotion.txt").exists():
        return "template"
    try:
        return str(json.loads((d / "emotion.json").read_text()).get("describer") or "file")
    except (OSError, ValueError):
        return "file"


def load_prepared(root: str | Path, cfg: EADNetConfig, crop: str = "face256") -> list[ClipTensors]:
    from eadbench.prepare import iter_prepared

    clips = []
    for p in iter_prepared(root):
        if crop not in p.crops:
            continue
        frames = media.read_frames(p.crops[crop])
        audio = media.read_audio(p.audio)
        n = min(len(frames), len(audio) // media.SAMPLES_PER_FRAME)
        if n < cfg.frames:
            continue
        tokens, cc = audio_features(audio, n, cfg)
        c = p.meta["clip"]
        text, inten = clip_condition(p)
        clips.append(ClipTensors(p.clip_id, frames_to_tensor(frames[:n], cfg.size), tokens, cc, text, inten,
                                 str(c.get("speaker") or ""), str(c.get("emotion") or ""), text_source(p),
                                 Path(str(c.get("video") or "")).stem))
    if not clips:
        raise ValueError(f"{root}: no prepared clip with {crop} crops of at least {cfg.frames} frames "
                         "(run `eadbench prepare` first)")
    return clips


#: which of a speaker's other clips give a window its reference (``EADNetConfig.ref_clip``)
REF_CLIPS = ("other", "neutral", "twin")


def twins(clips: list[ClipTensors]) -> list[list[int]]:
    """For each clip, the other renders of the same utterance: clips of its speaker with its
    utterance id, another emotion and as many frames (the built-in counterfactual renders, which
    are aligned frame by frame; ``eadbench.synth.generate.every_expression``)."""
    groups: dict[tuple[str, str, int], list[int]] = {}
    for i, c in enumerate(clips):
        if c.speaker and c.utterance:
            groups.setdefault((c.speaker, c.utterance, c.frames.shape[1]), []).append(i)
    return [[j for j in groups.get((c.speaker, c.utterance, c.frames.shape[1]), []) if clips[j].emotion != c.emotion]
            if c.speaker and c.utterance else [] for c in clips]


def partners(labels: list[tuple[str, str]], prefer: str = "other") -> list[list[int]]:
    """(speaker, emotion) per clip -> for each clip, the other clips of its speaker with another
    emotion (none where the speaker is unknown, "").

    ``prefer="neutral"``: only the speaker's neutral clips where it has any (the reference then
    shows no expression, as with ``--source neutral`` at test time); a neutral clip, or a speaker
    without one, keeps every other-emotion clip."""
    if prefer not in REF_CLIPS[:2]:
        raise ChoiceError(f"ref_clip must be {' or '.join(REF_CLIPS[:2])} here, not {prefer!r}")
    by_speaker: dict[str, list[int]] = {}
    for i, (speaker, _) in enumerate(labels):
        if speaker:
            by_speaker.setdefault(speaker, []).append(i)
    out = []
    for speaker, emotion in labels:
        others = [j for j in by_speaker.get(speaker, []) if labels[j][1] != emotion] if speaker else []
        neutral = [j for j in others if labels[j][1] == "neutral"]
        out.append(neutral if prefer == "neutral" and neutral else others)
    return out


class WindowIndex:
    """All (clip, start) windows; a deterministic order per epoch so a step maps to its samples
    (exact resume, identical sharding on every rank)."""

    def __init__(self, clips: list[ClipTensors], frames: int, seed: int):
        self.items = [(ci, s) for ci, c in enumerate(clips)
                      for s in range(0, c.frames.shape[1] - frames + 1, max(1, frames // 2))]
        self.seed = seed

    def batch(self, step: int, batch: int, rank: int = 0, world: int = 1) -> list[tuple[int, int]]:
        n = len(self.items)
        per_step = batch * world
        start = step * per_step
        out = []
        for k in range(start + rank * batch, start + rank * batch + batch):
            epoch, pos = divmod(k, n)
            perm = np.random.default_rng([self.seed, epoch]).permutation(n)
            out.append(self.items[perm[pos]])
        return out
