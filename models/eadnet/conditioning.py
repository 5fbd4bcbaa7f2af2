"""Conditioning Z_c: audio (per video frame, +-2 frames of context), emotion text, intensity.

Audio: 50 Hz feature vectors (2 per video frame at 25 fps, Whisper's rate), so each frame sees
2 * (2w + 1) of them: Whisper tiny.en encoder features (``eadnet.whisper``, the paper preset;
the CTranslate2 weights ship in a package) or a plain log-mel (the tiny preset's default:
no encoder to run, fast on a CPU). Text: a frozen sentence encoder
(MiniLM offline, T5 in the paper preset) gives one embedding per description. Intensity: a
scalar in [0, 1] through Fourier features and an MLP, so any value works at inference.
The modalities are projected to one width and weighted by learned, softmax-normalised modality
weights into one token sequence per frame. Learned null tokens stand in for dropped
conditions (classifier-free guidance).
"""

from __future__ import annotations

import math
import threading
from functools import lru_cache

import numpy as np
import torch
import torch.nn as nn

from eadnet.config import EADNetConfig

SR, HOP, NFFT = 16000, 320, 640


@lru_cache(maxsize=4)
def mel_filters(n_mels: int, sr: int = SR, n_fft: int = NFFT) -> torch.Tensor:
    def hz2mel(f):
        return 2595 * np.log10(1 + f / 700)

    pts = 700 * (10 ** (np.linspace(hz2mel(0), hz2mel(sr / 2), n_mels + 2) / 2595) - 1)
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    fb = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lo, c, hi = pts[i], pts[i + 1], pts[i + 2]
        fb[i] = np.clip(np.minimum((freqs - lo) / (c - lo), (hi - freqs) / (hi - c)), 0, None)
    return torch.tensor(fb, dtype=torch.float32)


def log_mel(audio: np.ndarray | torch.Tensor, n_mels: int) -> torch.Tensor:
    """(n_frames_50hz, n_mels) log-mel of 16 kHz audio; frame k covers [k*320, k*320+640)."""
    x = torch.as_tensor(np.asarray(audio, dtype=np.float32))
    x = torch.nn.functional.pad(x, (0, NFFT))
    spec = torch.stft(x, NFFT, HOP, window=torch.hann_window(NFFT), center=False, return_complex=True).abs() ** 2
    mel = mel_filters(n_mels) @ spec
    logm = torch.log10(mel.clamp(min=1e-10))
    logm = torch.maximum(logm, logm.max() - 8.0)
    return ((logm + 4.0) / 4.0).T.contiguous()


def audio_windows(mel: torch.Tensor, n_frames: int, window: int) -> torch.Tensor:
    """(n_frames, 2*(2w+1), n_mels): the mel vectors around each video frame (zero beyond the ends)."""
    per = 2 * (2 * window + 1)
    padded = torch.nn.functional.pad(mel, (0, 0, 2 * window, 2 * window + 2 * n_frames))
    idx = torch.arange(n_frames)[:, None] * 2 + torch.arange(per)[None]
    return padded[idx]


class TextEncoder:
    """Frozen sentence encoder (MiniLM offline; T5 for the paper preset), embeddings cached."""

    _lock = threading.Lock()
    _models: dict = {}

    def __init__(self, name: str = "minilm"):
        self.name = name
        self.dim = 384 if name == "minilm" else 768
        self.cache: dict[str, torch.Tensor] = {}

    def _load(self):
        with self._lock:
            if self.name not in self._models:
                from transformers import AutoModel, AutoTokenizer
                from transformers.utils import logging as hf_logging

                from eadbench.weights import locate

                path = locate("minilm-l6-v2" if self.name == "minilm" else "t5-base").path
                bar_was_on = hf_logging.is_progress_bar_enabled()
                hf_logging.disable_progress_bar()  # a local load: its bar only clutters --quiet logs
                try:
                    tok = AutoTokenizer.from_pretrained(str(path))
                    model = AutoModel.from_pretrained(str(path))
                finally:
                    if bar_was_on:  # the switch is process-wide: leave other loads (downloads) as they were
                        hf_logging.enable_progress_bar()
                if self.name != "minilm":
                    model = model.get_encoder()
                self._models[self.name] = (tok, model.eval())
            return self._models[self.name]

    @torch.no_grad()
    def __call__(self, texts: list[str]) -> torch.Tensor:
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            tok, model = self._load()
            enc = tok(missing, padding=True, truncation=True, return_tensors="pt")
            hid = model(**enc).last_hidden_state
            m = enc["attention_mask"][..., None].float()
            emb = torch.nn.functional.normalize((hid * m).sum(1) / m.sum(1), dim=-1)
            for t, e in zip(missing, emb):
                self.cache[t] = e
        return torch.stack([self.cache[t] for t in texts])


class Conditioner(nn.Module):
    def __init__(self, cfg: EADNetConfig, text_dim: int = 384):
        super().__init__()
        self.cfg = cfg
        d = cfg.cond_dim
        n_tok = 2 * (2 * cfg.audio_window + 1)
        self.audio_proj = nn.Sequential(nn.Linear(cfg.audio_dim, d), nn.GELU(), nn.Linear(d, d))
        self.audio_pos = nn.Parameter(torch.randn(n_tok, d) * 0.02)
        self.text_proj = nn.Sequential(nn.Linear(text_dim, d), nn.GELU(), nn.Linear(d, d)) if cfg.text else None
        self.intensity_proj = nn.Sequential(nn.Linear(16, d), nn.GELU(), nn.Linear(d, d)) if cfg.intensity else None
        self.modality_logits = nn.Parameter(torch.zeros(3))
        self.null_audio = nn.Parameter(torch.zeros(n_tok, d))
        self.null_text = nn.Parameter(torch.zeros(1, d))

    @staticmethod
    def fourier(x: torch.Tensor) -> torch.Tensor:
        f = torch.arange(8, device=x.device, dtype=torch.float32)
        ang = x[:, None] * math.pi * (2.0 ** f)[None]
        return torch.cat([torch.sin(ang), torch.cos(ang)], dim=-1)

    def forward(self, audio: torch.Tensor, text_emb: torch.Tensor | None, intensity: torch.Tensor | None,
                drop_audio: torch.Tensor | None = None, drop_text: torch.Tensor | None = None) -> torch.Tensor:
        """audio (B, T, n_tok, audio_dim); text_emb (B, E); intensity (B,) -> Z_c (B, T, L, D)."""
        b, t = audio.shape[:2]
        w = torch.softmax(self.modality_logits, 0)
        a = self.audio_proj(audio) + self.audio_pos
        if drop_audio is not None:
            a = torch.where(drop_audio[:, None, None, None], self.null_audio.expand_as(a), a)
        tokens = [w[0] * a]
        if self.text_proj is not None and text_emb is not None:
            tx = self.text_proj(text_emb)[:, None, None, :].expand(b, t, 1, -1)
            if drop_text is not None:
                tx = torch.where(drop_text[:, None, None, None], self.null_text.expand_as(tx), tx)
            tokens.append(w[1] * tx)
        if self.intensity_proj is not None and intensity is not None:
            it = self.intensity_proj(self.fourier(intensity))[:, None, None, :].expand(b, t, 1, -1)
            if drop_text is not None:
                it = torch.where(drop_text[:, None, None, None], torch.zeros_like(it), it)
            tokens.append(w[2] * it)
        return torch.cat(tokens, dim=2)
