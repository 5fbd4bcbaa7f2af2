"""EAD-Net inference: the Python API the harness calls.

    pipe = EADNetPipeline.from_checkpoint("runs/eadnet/checkpoint.pt", device=None)
    frames = pipe.generate(ref_frames, audio, emotion="happy", intensity=0.7, text=None,
                           steps=20, guidance=1.5, seed=0)   # (T, H, W, 3) uint8

The reference video's face is tracked and cropped with the ``face256`` protocol; the model
regenerates the lower half of each crop from the driving audio and the emotion text (or the
template text for ``emotion``/``intensity``), window by window with overlapping frames
blended linearly (no seams); the crops are pasted back with a feathered lower-face mask.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from eadbench.devices import auto_device
from eadbench.errors import ConfigError, EadbenchError, WeightsMissingError
from eadbench.labels import describe_emotion
from eadbench.media import SAMPLES_PER_FRAME
from eadnet.codec import build_codec, latent_mask
from eadnet.conditioning import TextEncoder
from eadnet.config import REFERENCES, EADNetConfig
from eadnet.data import audio_features, frames_to_tensor
from eadnet.model import EADNet, lower_face_mask


class EADNetPipeline:
    def __init__(self, model: EADNet, device: torch.device):
        self.model = model.eval().to(device)
        self.cfg = model.cfg
        self.device = device
        self.text = TextEncoder(self.cfg.text_encoder) if self.cfg.text else None
        self.codec = build_codec(self.cfg).to(device)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None, use_ema: bool = True) -> "EADNetPipeline":
        p = Path(path)
        if not p.exists():
            raise WeightsMissingError(f"EAD-Net checkpoint {p} does not exist (train one with `eadbench eadnet train`)")
        if p.suffix == ".safetensors":  # a built-in model (eadbench.builtin): EMA weights in fp16, config
            import json

            from eadbench.builtin_file import read

            weights, info = read(p)
            if info.get("kind") != "eadnet":
                raise ConfigError(f"{p}: a built-in {info.get('kind')}, not an EAD-Net")
            if not use_ema:
                raise ConfigError(f"{p}: a built-in EAD-Net holds its EMA weights only")
            st = {"config": json.loads(info["config"])}
        else:
            try:
                st = torch.load(p, map_location="cpu", weights_only=True)
            except Exception as exc:  # noqa: BLE001
                raise ConfigError(f"{p}: not a readable EAD-Net checkpoint ({type(exc).__name__})") from None
            if not isinstance(st, dict) or st.get("format") != "eadnet-checkpoint/1":
                raise ConfigError(f"{p}: not an EAD-Net checkpoint (no eadnet-checkpoint/1 format tag)")
            weights = st["ema"] if use_ema else st["model"]
        cfg = EADNetConfig.from_dict(st["config"])
        model = EADNet(cfg)
        own = model.state_dict()
        missing = sorted(set(own) - set(weights))
        unexpected = sorted(set(weights) - set(own))
        if missing or unexpected:
            raise ConfigError(f"{p}: checkpoint does not match its config: missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}")
        model.load_state_dict(weights)
        dev = torch.device(device or auto_device())
        return cls(model, dev)

    @torch.no_grad()
    def generate_crops(self, crops: torch.Tensor, audio: np.ndarray, text: str | None, intensity: float | None,
                       steps: int | None = None, guidance: float | None = None, seed: int = 0,
                       reference: str = "self", ref_crops: torch.Tensor | None = None) -> torch.Tensor:
        """crops (3, N, S, S) in [-1, 1] -> generated crops, same shape.

        ``reference``: ``self`` feeds each window's own frames as the identity reference
        (LatentSync's inference: right for dubbing, but the unmasked reference shows the mouth
        that is being regenerated); ``offset`` takes the window half a clip away (wrapping), as
        training does, so the mouth has to come from the audio. ``ref_crops`` (3, M, S, S), when
        given, replaces both: references from another video of the person (looped to length),
        e.g. one with another expression, so the emotion has to come from the conditions.
        """
        if reference not in REFERENCES:
            raise ConfigError(f"reference must be {' or '.join(REFERENCES)}, not {reference!r}")
        if ref_crops is not None and (ref_crops.shape[0] != crops.shape[0] or ref_crops.shape[2:] != crops.shape[2:]):
            raise ConfigError(f"reference crops {tuple(ref_crops.shape)} do not match the crops {tuple(crops.shape)} "
                              "(channels and size must agree)")
        cfg, dev = self.cfg, self.device
        steps, guidance = steps or cfg.infer_steps, cfg.guidance if guidance is None else guidance
        n = crops.shape[1]
        if n < cfg.frames:
            crops = torch.cat([crops, crops[:, -1:].expand(-1, cfg.frames - n, -1, -1)], dim=1)
        total = crops.shape[1]
        aud, _ = audio_features(audio, total, cfg)
        text_emb = self.text([text or ""]).to(dev) if self.text is not None else None
        inten = torch.tensor([0.5 if intensity is None else float(intensity)], device=dev)
        t, hop = cfg.frames, max(1, cfg.frames - max(1, cfg.frames // 4))
        starts = list(range(0, max(1, total - t + 1), hop))
        if starts[-1] != total - t:
            starts.append(total - t)
        out = torch.zeros_like(crops)
        weight = torch.zeros(1, total, 1, 1)
        ramp = torch.ones(t)
        ov = t - hop
        if ov > 0:
            ramp[:ov] = torch.linspace(0.1, 1, ov)
            ramp[-ov:] = torch.minimum(ramp[-ov:], torch.linspace(1, 0.1, ov))
        mask_px = lower_face_mask(t, cfg.size, dev)
        mask = latent_mask(mask_px, self.codec.factor)
        gen = torch.Generator().manual_seed(seed)
        if ref_crops is not None:
            refs = ref_crops[:, torch.arange(total) % ref_crops.shape[1]]
        else:
            refs = torch.roll(crops, total // 2, dims=1) if reference == "offset" else None
        for s in starts:
            win_px = crops[:, s:s + t][None].to(dev)
            win, masked = self.codec.encode(win_px), self.codec.encode(win_px * (1 - mask_px))
            ref = win if refs is None else self.codec.encode(refs[:, s:s + t][None].to(dev))
            a = aud[s:s + t][None].to(dev)
            cond = self.model.conditioner(a, text_emb, inten if cfg.intensity else None)
            null = self.model.conditioner(a, text_emb, inten if cfg.intensity else None,
                                          torch.ones(1, dtype=torch.bool, device=dev),
                                          torch.ones(1, dtype=torch.bool, device=dev))

            def denoise(x, tt):
                c = self.model(x, tt, mask, masked, ref, cond)
                if guidance == 1.0:
                    return c
                u = self.model(x, tt, mask, masked, ref, null)
                return u + guidance * (c - u)

            x = self.codec.decode(self.model.schedule.ddim(denoise, win.shape, steps, gen, dev))
            x = mask_px * x.clamp(-1, 1) + (1 - mask_px) * win_px
            out[:, s:s + t] += (x[0].cpu() * ramp.view(1, t, 1, 1))
            weight[:, s:s + t] += ramp.view(1, t, 1, 1)
        return (out / weight)[:, :n]

    def generate(self, ref_frames: np.ndarray, audio: np.ndarray, emotion: str | None = None,
                 intensity: float | None = None, text: str | None = None, steps: int | None = None,
                 guidance: float | None = None, seed: int = 0, reference: str = "self") -> np.ndarray:
        """Full frames (T, H, W, 3) uint8 with the lower face regenerated for the driving audio."""
        from eadbench import faces

        if audio is None or len(audio) < SAMPLES_PER_FRAME * 2 or float(np.abs(audio).max()) < 1e-4:
            raise EadbenchError("driving audio is empty or silent: no speech to animate")
        n = min(len(ref_frames), len(audio) // SAMPLES_PER_FRAME)
        ref = np.asarray(ref_frames[:n])
        track = faces.track_clip(ref)  # FaceNotFoundError when the reference has no face
        geo = track.smoothed()
        proto = faces.CROP_PROTOCOLS.get("face256")
        crops = np.stack([proto.crop(f, *g) for f, g in zip(ref, geo)])
        text = text if text is not None else describe_emotion(emotion, intensity)
        gen = self.generate_crops(frames_to_tensor(crops, self.cfg.size), audio, text, intensity, steps, guidance, seed,
                                  reference)
        gen = ((gen.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 3, 0).numpy()
        return paste_back(ref, gen, geo, proto)


def paste_back(frames: np.ndarray, crops: np.ndarray, geo: np.ndarray, proto) -> np.ndarray:
    """Put generated crops back into the frames: the lower half of each crop window, feathered."""
    out = frames.copy()
    for i, (f, c, (cx, cy, s)) in enumerate(zip(frames, crops, geo)):
        top, bottom, left, right = proto.window(cx, cy, s)
        y0, y1, x0, x1 = int(round(top)), int(round(bottom)), int(round(left)), int(round(right))
        h, w = y1 - y0, x1 - x0
        patch = cv2.resize(c, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
        m = np.zeros((h, w), np.float32)
        m[h // 2:, :] = 1
        m = cv2.GaussianBlur(m, (0, 0), max(1.0, h / 40))[..., None]
        fy0, fy1, fx0, fx1 = max(0, y0), min(f.shape[0], y1), max(0, x0), min(f.shape[1], x1)
        if fy1 <= fy0 or fx1 <= fx0:
            continue
        py0, px0 = fy0 - y0, fx0 - x0
        region = out[i, fy0:fy1, fx0:fx1].astype(np.float32)
        pm = m[py0:py0 + fy1 - fy0, px0:px0 + fx1 - fx0]
        pp = patch[py0:py0 + fy1 - fy0, px0:px0 + fx1 - fx0]
        out[i, fy0:fy1, fx0:fx1] = np.clip(region * (1 - pm) + pp * pm, 0, 255).astype(np.uint8)
    return out
