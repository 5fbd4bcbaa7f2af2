"""EAD-Net configuration: presets, ablation switches, loss weights.

``tiny`` runs in pixel space (64x64 face crops, no VAE: stated here on purpose) and trains on
the built-in synthetic data on 2 CPU cores; ``paper`` follows LatentSync's scale (SD-1.5 block
widths 320/640/1280/1280, 16 frames, sd-vae-ft-mse latents at 1/8 resolution, scale 0.18215).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from eadbench.errors import ChoiceError
from eadbench.jsonio import dumps

#: identity reference frames at inference (see ``EADNetPipeline.generate_crops``)
REFERENCES = ("self", "offset")


@dataclass
class EADNetConfig:
    preset: str = "tiny"
    # data
    size: int = 64  # face-crop size in pixels
    frames: int = 8  # frames per training window
    filter_min_similarity: float | None = None  # keep training clips whose text/video similarity >= this
    latent: str = "pixel"  # "pixel" (tiny) or "vae" (paper: diffusers AutoencoderKL sd-vae-ft-mse)
    vae_scale: float = 0.18215
    # network
    channels: tuple[int, ...] = (32, 64, 96)
    # tiny: attention at the 16x16 level only; at 32x32 the full-attention counterpart of the ablation
    # (8x32x32 tokens) took 2.8 s per CPU step against STDA's 0.9, and 0.7 vs 0.47 here
    attention_levels: tuple[bool, ...] = (False, False, True)
    heads: int = 4
    cond_dim: int = 128
    groups: int = 8
    # switches (ablations): each off = the plain counterpart
    stda: bool = True  # off: full spatio-temporal self-attention
    tfrm: bool = True  # off: nothing
    text: bool = True  # off: audio-only conditioning
    intensity: bool = True  # continuous intensity condition
    tfrm_rounds: int = 2
    tfrm_window: int = 2  # temporal neighbours linked on each side
    # conditioning
    audio_features: str = "logmel"  # "logmel" (n_mels at 50 Hz) or "whisper-tiny.en" (384-d at 50 Hz)
    n_mels: int = 40
    audio_window: int = 2  # video frames of audio context on each side
    text_encoder: str = "minilm"  # "minilm" (offline default) or "t5" (paper)
    # diffusion
    train_timesteps: int = 1000
    prediction: str = "epsilon"  # or "v_prediction"
    beta_schedule: str = "scaled_linear"
    infer_steps: int = 20
    guidance: float = 1.5
    cond_dropout: float = 0.1  # classifier-free guidance training
    # share of training windows whose identity reference comes from another clip of the same
    # speaker with another emotion: the reference then shows the wrong expression, so the emotion
    # has to come from the text (with same-clip references the model can copy it and ignore the text)
    ref_other_clip: float = 0.0
    # which other clip: "other" (any clip of the speaker with another emotion) or "neutral" (the
    # speaker's neutral clip where it has one: the reference shows no expression, as with
    # `--source neutral` at test time; a neutral clip takes another emotion's) or "twin" (another
    # render of the same utterance, aligned frame by frame: its frames at the same time give the
    # visible upper face, another window of it the reference; the built-in counterfactual renders)
    ref_clip: str = "other"
    # windows with another clip's reference also take their visible upper face from it (the same
    # frames, as `--source neutral` presents a clip at test time); only the lower face, the part
    # that is regenerated and scored, stays the clip's own. Without it the upper face shows the
    # clip's expression (brows, eyes), and the model can read the emotion there instead of the text
    ref_as_source: bool = False
    # the emotion text and intensity tokens also added to the U-Net's timestep embedding (a global
    # signal reaching every ResBlock, besides the cross-attention); off keeps earlier checkpoints
    emotion_temb: bool = False
    # losses (LatentSync's weights as defaults)
    w_noise: float = 1.0
    w_sync: float = 0.05
    w_lpips: float = 0.1
    w_trepa: float = 10.0
    syncnet_path: str | None = None  # sync expert from `eadbench syncnet train`
    # the lower-face expression loss (eadnet.expression): a frozen classifier of the lower face's
    # emotion, trained on the counterfactual renders, on the estimated clean frames; 0 = off
    w_expr: float = 0.0
    expr_path: str | None = None  # its weights (eadnet.expression.save_classifier)
    lpips_pretrained: bool = True  # False only in tests (random backbone, stated)
    # optimisation
    lr: float = 2e-4
    batch_size: int = 2
    grad_accum: int = 1
    ema_decay: float = 0.999
    checkpoint_every: int = 100
    seed: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def preset_config(cls, name: str, **overrides) -> "EADNetConfig":
        if name == "tiny":
            # v-prediction and a higher learning rate: after 300 CPU steps on the synthetic data the
            # epsilon/2e-4 model's x0 estimate at t=999 was off by 45 (MSE, the lower face's variance
            # being 0.09) and 4-step samples were noise; v/1e-3 gives a 0.015 sample MSE
            # sync loss 0.02 (LatentSync: 0.05): with a face256 expert and 300 steps, 0.02 made the mouth
            # follow the audio (probe margin +0.42) and 0.05 did not (+0.07): benchmarks/eadnet_probes.py
            base = cls(prediction="v_prediction", lr=1e-3, w_sync=0.02)
        elif name == "paper":
            base = cls(preset="paper", size=256, frames=16, latent="vae", channels=(320, 640, 1280, 1280),
                       attention_levels=(True, True, True, False), heads=8, cond_dim=768, groups=32,
                       audio_features="whisper-tiny.en", text_encoder="t5", batch_size=1, checkpoint_every=1000,
                       lr=1e-5)
        else:
            raise ChoiceError(f"unknown preset {name!r}; choose tiny or paper")
        for k, v in overrides.items():
            if not hasattr(base, k):
                raise ChoiceError(f"unknown config key {k!r}")
            setattr(base, k, type(getattr(base, k))(v) if isinstance(getattr(base, k), tuple) else v)
        return base

    @property
    def audio_dim(self) -> int:
        if self.audio_features == "logmel":
            return self.n_mels
        if self.audio_features == "whisper-tiny.en":
            return 384
        raise ChoiceError(f"unknown audio_features {self.audio_features!r}; choose logmel or whisper-tiny.en")

    @property
    def in_channels(self) -> int:
        c = 3 if self.latent == "pixel" else 4
        return c + 1 + c + c  # noisy + mask + masked frame + reference

    @property
    def out_channels(self) -> int:
        return 3 if self.latent == "pixel" else 4

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "EADNetConfig":
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ChoiceError(f"unknown config keys: {', '.join(sorted(unknown))}")
        kw = {k: tuple(v) if isinstance(getattr(cls(), k), tuple) else v for k, v in d.items()}
        return cls(**kw)

    @classmethod
    def load(cls, path: str | Path) -> "EADNetConfig":
        p = Path(path)
        import yaml

        data = yaml.safe_load(p.read_text()) or {}
        preset = data.pop("preset", "tiny")
        return cls.preset_config(preset, **data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(dumps(self.to_dict(), sort_keys=False))
