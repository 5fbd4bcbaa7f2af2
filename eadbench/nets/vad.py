"""The Silero voice-activity detector, 16 kHz, ported to plain torch and run on the weights the
``silero-vad`` 6.2.3 wheel ships as ``silero_vad/data/silero_vad_16k.safetensors``: speech
probability per 32 ms of audio, for the lip-sync (``avsync``) and silent-mouth (``lipleak``)
metrics. The file is hash-checked through the weight table (``silero-vad``) before it is read.

Why a port and not ``torch.jit.load`` of the wheel's ``silero_vad.jit``: the safetensors file is
plain tensors (reading it runs no code, unlike a TorchScript archive), the network is small (an
STFT as a fixed convolution, four 1-D convolutions, one LSTM cell, a 1x1 output convolution),
and written out it encodes every window in one batch and steps the LSTM in numpy, where the
TorchScript model is called once per window: a 6 s clip takes milliseconds, not the seconds
torch's thread pool spends on 190 tiny steps on a busy machine.

Which weights: the safetensors export (added to the package in December 2025 with its tinygrad
port) is not a copy of the TorchScript model's weights. ``tests/test_avsync.py`` checks both
halves: the port loaded with the TorchScript model's own weights reproduces that model window by
window (within 1e-6), and with the safetensors weights it makes the same speech / non-speech
decision per video frame on 98-100 % of the frames of the seven real test clips.

The 16 kHz model, as the package runs it: the audio is cut into windows of 512 samples (the last
one zero-padded); each window is prefixed with the 64 samples before it (zeros for the first),
reflect-padded by 64 on the right, turned into a 129-bin magnitude spectrum of 4 frames
(256-point STFT as a convolution, hop 128), encoded to 128 numbers by the convolutions, and
stepped through the LSTM cell, whose state carries from window to window; ReLU, the 1x1
convolution and a sigmoid give the window's speech probability.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from eadbench.errors import MetricInputError, WeightsIntegrityError
from eadbench.media import SAMPLES_PER_FRAME
from eadbench.weights import WeightStore

SAMPLE_RATE = 16000
WINDOW = 512  # samples per probability (32 ms)
CONTEXT = 64  # samples of the previous window prefixed to each one
N_FFT, HOP = 256, 128
BINS = N_FFT // 2 + 1
#: The package's default decision threshold (``get_speech_timestamps(threshold=0.5)``) and its
#: lower threshold for leaving speech (``neg_threshold = threshold - 0.15``).
SPEECH_THRESHOLD = 0.5
SILENCE_THRESHOLD = 0.35


class SileroVAD(nn.Module):
    """The 16 kHz Silero VAD v6 network; parameter names match the safetensors file."""

    def __init__(self) -> None:
        super().__init__()
        self.stft_conv = nn.Conv1d(1, 2 * BINS, N_FFT, stride=HOP, bias=False)
        self.conv1 = nn.Conv1d(BINS, 128, 3, padding=1)
        self.conv2 = nn.Conv1d(128, 64, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(64, 64, 3, stride=2, padding=1)
        self.conv4 = nn.Conv1d(64, 128, 3, padding=1)
        self.lstm_cell = nn.LSTMCell(128, 128)
        self.final_conv = nn.Conv1d(128, 1, 1)

    def encode(self, windows: torch.Tensor) -> torch.Tensor:
        """(N, CONTEXT + WINDOW) samples -> (N, 128) features, every window independently."""
        x = nn.functional.pad(windows[:, None], (0, CONTEXT), mode="reflect")
        spec = self.stft_conv(x)
        x = torch.sqrt(spec[:, :BINS] ** 2 + spec[:, BINS:] ** 2)
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = torch.relu(conv(x))
        return x[..., 0]

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """(samples,) float audio in [-1, 1] at 16 kHz -> (ceil(samples / 512),) speech probabilities."""
        n = -(-audio.shape[-1] // WINDOW)
        padded = nn.functional.pad(audio.reshape(-1), (CONTEXT, n * WINDOW - audio.shape[-1]))
        feats = self.encode(padded.unfold(0, CONTEXT + WINDOW, WINDOW))
        h = torch.from_numpy(lstm_steps(feats.detach().cpu().numpy(), self.lstm_cell)).to(feats)
        return torch.sigmoid(self.final_conv(torch.relu(h)[..., None])).reshape(-1)


def lstm_steps(x: np.ndarray, cell: nn.LSTMCell) -> np.ndarray:
    """(N, 128) inputs -> (N, 128) hidden states of ``cell`` stepped over them from a zero state
    (torch's gate order: input, forget, cell, output), in float32 numpy. Why not torch: ~30 tiny
    steps per second of audio, each a sync point of torch's thread pool, took 6 s for 6 s of
    audio on a busy 2-core machine, against milliseconds here."""
    w_ih = cell.weight_ih.detach().cpu().numpy()
    w_hh = cell.weight_hh.detach().cpu().numpy()
    bias = (cell.bias_ih + cell.bias_hh).detach().cpu().numpy()
    pre = x.astype(np.float32) @ w_ih.T + bias  # the input part of every step at once
    size = w_hh.shape[1]
    h = np.zeros(size, np.float32)
    c = np.zeros(size, np.float32)
    out = np.empty((len(x), size), np.float32)

    def sig(v: np.ndarray) -> np.ndarray:  # the logistic function, without overflow
        return 0.5 * (1.0 + np.tanh(0.5 * v))

    for t in range(len(x)):
        g = pre[t] + w_hh @ h
        i, f, z, o = g[:size], g[size:2 * size], g[2 * size:3 * size], g[3 * size:]
        c = sig(f) * c + sig(i) * np.tanh(z)
        h = sig(o) * np.tanh(c)
        out[t] = h
    return out


def _build(store: WeightStore) -> SileroVAD:
    from safetensors.torch import load_file

    path = store.path("silero-vad")  # hash-checked before anything is read
    net = SileroVAD()
    try:
        net.load_state_dict(load_file(str(path)), strict=True)
    except Exception as exc:  # noqa: BLE001 - a wrong or damaged file, in one line
        raise WeightsIntegrityError(f"{path}: cannot load as the Silero VAD network "
                                    f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    return net


def silero_vad(store: WeightStore | None = None) -> SileroVAD:
    """The VAD network, once per process (small: it runs on the CPU whatever the store's device)."""
    store = store or WeightStore()
    return store.network("silero-vad", ("silero-vad",), _build, to_device=False)


def speech_probs(audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
                 store: WeightStore | None = None) -> np.ndarray:
    """Speech probability of every 512-sample window (32 ms) of mono 16 kHz float audio."""
    if sample_rate != SAMPLE_RATE:
        raise MetricInputError(f"the voice-activity detector needs 16 kHz audio, got {sample_rate} Hz")
    x = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(x) == 0:
        return np.zeros(0, np.float32)
    with torch.inference_mode():
        return silero_vad(store)(torch.from_numpy(x)).numpy()


def frame_probs(window_probs: np.ndarray, n_frames: int, samples_per_frame: int = SAMPLES_PER_FRAME) -> np.ndarray:
    """Per video frame: the windows' probabilities averaged with weights = their overlap with the
    samples centred on the frame's instant, ``[t * spf - spf / 2, t * spf + spf / 2)`` (640 = 40 ms:
    25 fps at 16 kHz), clipped to the audio. Frames wholly past the audio get 0 (no speech)."""
    p = np.asarray(window_probs, dtype=np.float64)
    total = len(p) * WINDOW
    edges = np.arange(len(p) + 1) * WINDOW
    cum = np.concatenate([[0.0], np.cumsum(p * WINDOW)])

    def integral(x: np.ndarray) -> np.ndarray:  # sum of p over samples [0, x)
        i = np.clip(x // WINDOW, 0, max(len(p) - 1, 0))
        return cum[i] + p[i] * (x - edges[i]) if len(p) else np.zeros_like(x, dtype=np.float64)

    centre = np.arange(n_frames) * samples_per_frame
    a = np.clip(centre - samples_per_frame // 2, 0, total)
    b = np.clip(centre + samples_per_frame // 2, 0, total)
    width = b - a
    return np.where(width > 0, (integral(b) - integral(a)) / np.maximum(width, 1), 0.0)
