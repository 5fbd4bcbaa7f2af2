"""Speech for the synthetic data: espeak-ng when installed, otherwise a built-in synthesiser.

Both are deterministic. Emotion shapes prosody (pitch, speed, loudness) so audio and face
agree, and each speaker has its own voice variant.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from scipy.signal import lfilter, resample_poly

SR = 16000

SENTENCES = (
    "the quiet river carried small boats toward the old stone bridge",
    "please bring the blue folder to the meeting after lunch",
    "we planted seven tall trees along the northern fence",
    "my brother fixed the broken window before the storm arrived",
    "a warm light filled the kitchen early in the morning",
    "she read the letter twice and then put it away",
    "the train to the coast leaves at a quarter past nine",
    "every summer the village holds a market by the lake",
    "open the door slowly and look at the garden",
    "the children painted bright pictures of animals and ships",
    "he counted the coins and found one missing",
    "they walked home together under a clear starry sky",
)

#: emotion -> (pitch offset, speed factor, amplitude in espeak units)
PROSODY = {
    "neutral": (0, 1.00, 100), "calm": (-5, 0.92, 90), "happy": (15, 1.08, 120), "sad": (-15, 0.85, 80),
    "angry": (5, 1.12, 150), "fear": (20, 1.15, 110), "disgusted": (-8, 0.95, 110),
    "surprised": (22, 1.05, 130), "contempt": (-5, 0.95, 100),
}
VOICES = ("m1", "f1", "m3", "f2", "m4", "f3", "m7", "f4")


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, speaker: int, emotion: str = "neutral", intensity: float = 0.5,
          engine: str | None = None, seed: int = 0) -> np.ndarray:
    """float32 mono speech at 16 kHz."""
    engine = engine or ("espeak" if have_espeak() else "builtin")
    pitch_off, speed_f, amp = PROSODY.get(emotion, PROSODY["neutral"])
    k = 0.5 + intensity  # emotion strength scales prosody
    pitch = int(np.clip(45 + 10 * (speaker % 3) + pitch_off * k, 0, 99))
    speed = int(150 * (1 + (speed_f - 1) * k))
    if engine == "espeak":
        return _espeak(text, VOICES[speaker % len(VOICES)], pitch, speed, int(min(200, amp)))
    return _builtin(text, speaker, pitch, speed, np.random.default_rng(seed))


def _espeak(text: str, voice: str, pitch: int, speed: int, amp: int) -> np.ndarray:
    import soundfile as sf

    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "s.wav"
        subprocess.run(["espeak-ng", "-v", f"en-us+{voice}", "-p", str(pitch), "-s", str(speed),
                        "-a", str(amp), "-w", str(out), text], check=True, capture_output=True, timeout=60)
        x, sr = sf.read(out, dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    if sr != SR:
        from math import gcd

        g = gcd(SR, sr)
        x = resample_poly(x, SR // g, sr // g).astype(np.float32)
    return _normalise(x)


def _builtin(text: str, speaker: int, pitch: int, speed: int, rng: np.random.Generator) -> np.ndarray:
    """Voiced formant syllables with pauses: speech-like envelope and spectrum, no words."""
    f0 = 95 + 90 * (speaker % 2) + pitch * 0.8
    out = []
    for word in text.split():
        for _ in range(max(1, len(word) // 3)):
            dur = rng.uniform(0.12, 0.22) * 150 / speed
            n = int(dur * SR)
            t = np.arange(n) / SR
            vib = 1 + 0.03 * np.sin(2 * np.pi * 5 * t)
            phase = 2 * np.pi * np.cumsum(f0 * vib * (1 + rng.uniform(-0.05, 0.05))) / SR
            src = np.sign(np.sin(phase)) * 0.5 + 0.02 * rng.standard_normal(n)
            y = np.zeros(n)
            for f, bw in ((rng.uniform(300, 800), 80), (rng.uniform(900, 2200), 120), (2600, 200)):
                r = np.exp(-np.pi * bw / SR)
                y += lfilter([1 - r], [1, -2 * r * np.cos(2 * np.pi * f / SR), r * r], src)
            env = np.sin(np.pi * np.arange(n) / n) ** 0.7
            out.append(y * env)
        out.append(np.zeros(int(rng.uniform(0.05, 0.12) * SR)))
    return _normalise(np.concatenate(out).astype(np.float32))


def _normalise(x: np.ndarray) -> np.ndarray:
    peak = np.abs(x).max()
    return (x / peak * 0.7).astype(np.float32) if peak > 0 else x.astype(np.float32)


def fit_length(x: np.ndarray, seconds: float, lead: float = 0.2) -> np.ndarray:
    """Exactly ``seconds`` long: a short lead-in silence, then speech, trimmed or padded."""
    n = int(round(seconds * SR))
    y = np.zeros(n, np.float32)
    start = int(lead * SR)
    take = min(len(x), n - start)
    y[start:start + take] = x[:take]
    # fade out when cut mid-word
    if take < len(x):
        fade = min(800, take)
        y[start + take - fade:start + take] *= np.linspace(1, 0, fade, dtype=np.float32)
    return y


def mouth_envelope(audio: np.ndarray, n_frames: int, fps: float = 25.0) -> np.ndarray:
    """Mouth opening per video frame in [0, 1] from the speech energy of that frame's 40 ms."""
    hop = int(SR / fps)
    x = np.pad(audio, (0, max(0, n_frames * hop - len(audio))))[: n_frames * hop].reshape(n_frames, hop)
    rms = np.sqrt((x.astype(np.float64) ** 2).mean(axis=1))
    ref = np.percentile(rms, 95) + 1e-8
    o = np.clip((rms / ref - 0.08) / 0.92, 0, 1)
    # light temporal smoothing (lips cannot jump), no delay: symmetric 3-tap
    o = np.convolve(np.pad(o, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    return o.astype(np.float32)
