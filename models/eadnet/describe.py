"""Per-clip emotion descriptions for EAD-Net's text condition, written from the real video.

EAD-Net's paper describes each real training video with a vision-language model and encodes
that text. Without a description every clip of one emotion and level gets the same template
sentence. Three describers write a prepared clip's ``emotion.txt`` (which training reads):

* ``face`` (offline default): facial actions measured on the clip's ``face256`` crop with the
  468-point mesh (``eadbench.faces.actions``), each compared with a neutral baseline, the
  strongest (median over the clip's frames) named in a sentence such as
  "inner brows raised, lip corners pulled down, eyes narrowed; strong". Baseline, in order:
  the speaker's own neutral clip(s); else the mean of the neutral clips of the other speakers
  in the data (population statistics, which carry the identity difference between faces); else
  ``BUILTIN_NEUTRAL`` (MEAD W011's neutral clip). The clip's own least-expressive frames are not
  used: an expression held through a clip has no neutral frames to compare with.
* ``template``: ``eadbench.labels.describe_emotion`` of the clip's label and intensity (what
  training uses when a clip has no ``emotion.txt``).
* ``vlm``: an image-text-to-text model loaded by transformers (a folder, or a name in the
  Hugging Face cache), shown a few face crops and ``PROMPT`` (version ``PROMPT_VERSION``).

This module imports ``eadbench.faces``, ``eadbench.media`` and ``eadbench.labels``; the face
mesh it needs is reached through ``eadbench.faces.actions`` (``eadbench.nets.face_mesh``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eadbench import media
from eadbench.atomic import atomic_write_text
from eadbench.devices import auto_device
from eadbench.errors import ConfigError, EadbenchError, FaceNotFoundError, WeightsMissingError
from eadbench.faces import actions
from eadbench.jsonio import atomic_write_json
from eadbench.labels import describe_emotion

DESCRIBERS = ("face", "template", "vlm")
CROP = "face256"
FACE_VERSION = "face-actions-v1"
TEMPLATE_VERSION = "template-v1"
#: an action is named when its median strength (change / the action's scale) reaches this
MIN_STRENGTH = 0.5
#: when no action reaches MIN_STRENGTH, the strongest one above this is still named ("faint")
FAINT = 0.25
MAX_ACTIONS = 3
#: overall strength words by the strongest named action's strength
STRENGTH_WORDS = ((0.5, "faint"), (1.0, "slight"), (2.0, "moderate"), (float("inf"), "strong"))
#: a clip is described only when the mesh finds the face in at least this share of its frames
MIN_FACE_SHARE = 0.5
#: population neutral when the data has no neutral clip: MEAD W011's neutral front clip
#: (clip medians, IOD units), with the lip-corner asymmetry set to 0 (a population is symmetric)
BUILTIN_NEUTRAL = {
    "outer_brow_height": 0.2887, "inner_brow_height": 0.3695, "inner_brow_gap": 0.4296, "eye_opening": 0.1231,
    "eye_opening_right": 0.1233, "eye_opening_left": 0.1229, "lip_corner_height": -0.0096,
    "lip_corner_asymmetry": 0.0, "mouth_width": 0.8136, "lip_thickness": 0.2595, "nose_to_upper_lip": 0.2142,
    "mouth_opening": 0.0547, "brow_to_nose": 0.9938,
}

DEFAULT_VLM = "HuggingFaceTB/SmolVLM-256M-Instruct"
PROMPT_VERSION = "vlm-prompt-v1"
PROMPT = ("These are {n} frames of one person's face from a video. Describe only the facial expression: "
          "how the brows, eyes, mouth and nose move, which emotion this shows and how intense it is (slight, "
          "moderate or strong). Do not mention identity, age, gender, hair, clothing or background. "
          "Answer in one sentence.")
VLM_FRAMES = 4
VLM_MAX_NEW_TOKENS = 48


@dataclass
class Clip:
    """What a describer needs of one prepared clip."""

    clip_id: str
    dir: Path
    crop: Path | None
    speaker: str
    emotion: str | None
    intensity: float

    @classmethod
    def from_prepared(cls, p) -> "Clip":
        from eadnet.data import clip_intensity

        c = p.meta.get("clip", {})
        return cls(p.clip_id, Path(p.dir), p.crops.get(CROP), str(c.get("speaker") or ""), c.get("emotion"),
                   clip_intensity(c))

    def crop_hash(self) -> str:
        from eadbench.weights import file_sha256

        if self.crop is None or not self.crop.exists():
            raise EadbenchError(f"{self.clip_id}: no {CROP} crop (run `eadbench prepare --protocols {CROP}`)")
        return file_sha256(self.crop)


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


class Describer:
    """Base: ``plan`` sees every clip first (baselines), ``key`` is the cache key of a clip's text."""

    name = ""

    def plan(self, clips: list[Clip]) -> None:
        pass

    def key(self, clip: Clip) -> str:
        raise NotImplementedError

    def describe(self, clip: Clip) -> tuple[str, dict]:
        raise NotImplementedError


class TemplateDescriber(Describer):
    name = "template"

    def key(self, clip):
        return _digest(self.name, TEMPLATE_VERSION, clip.emotion, clip.intensity)

    def describe(self, clip):
        text = describe_emotion(clip.emotion, clip.intensity)
        return text, {"emotion": clip.emotion, "intensity": clip.intensity}


# ------------------------------------------------------------------------------ face


def _strength_word(s: float) -> str:
    return next(w for limit, w in STRENGTH_WORDS if s < limit)


def _merge_brows(named: list[tuple[str, str, float]]) -> list[tuple[str, str, float]]:
    """Inner and outer brows moving the same way are one phrase ("brows raised")."""
    by = {n: (ph, s) for n, ph, s in named}
    inner, outer = by.get("inner_brow_raise"), by.get("outer_brow_raise")
    if not inner or not outer or (inner[1] > 0) != (outer[1] > 0):
        return named
    merged = ("brows", "brows raised" if inner[1] > 0 else "brows lowered", max(abs(inner[1]), abs(outer[1])))
    out, done = [], False
    for n, ph, s in named:
        if n in ("inner_brow_raise", "outer_brow_raise"):
            if not done:
                out.append(merged)
                done = True
        else:
            out.append((n, ph, s))
    return out


def sentence(scores: dict[str, float]) -> str:
    """Clip-level action strengths (name -> oriented median strength) -> a description: the
    actions reaching ``MIN_STRENGTH`` (at most ``MAX_ACTIONS``, strongest first; when none does, the
    strongest one reaching ``FAINT``) and a strength word for the strongest."""
    ranked = []
    for name, s in sorted(scores.items(), key=lambda kv: -abs(kv[1])):
        a = actions.ACTION_BY_NAME[name]
        phrase = a.up if s > 0 else a.down
        if np.isfinite(s) and phrase is not None and abs(s) >= FAINT:
            ranked.append((name, phrase, s))
    named = [r for r in ranked if abs(r[2]) >= MIN_STRENGTH]
    named = _merge_brows(named)[:MAX_ACTIONS] if named else ranked[:1]
    if not named:
        return "relaxed face, no clear facial action; neutral"
    return ", ".join(ph for _, ph, _ in named) + "; " + _strength_word(max(abs(s) for _, _, s in named))


def clip_scores(series: dict[str, np.ndarray], baseline: dict[str, float]) -> dict[str, float]:
    """Median over frames of each action's oriented strength against ``baseline``."""
    out = {}
    for name, z in actions.action_scores(series, baseline).items():
        out[name] = float(np.nanmedian(z)) if np.isfinite(z).any() else float("nan")
    return out


class FaceDescriber(Describer):
    """Measured facial actions against a neutral baseline (see the module docstring)."""

    name = "face"

    def __init__(self, weights_dir: str | None = None, extra_neutral: list[Clip] | None = None):
        self.weights_dir = weights_dir
        self.extra_neutral = extra_neutral or []
        self._series: dict[Path, dict[str, np.ndarray]] = {}
        self._hash: dict[Path, str] = {}
        self.neutral_by_speaker: dict[str, list[Clip]] = {}
        self.population: list[Clip] = []
        self._mesh_sha: str | None = None

    def mesh_sha(self) -> str:
        if self._mesh_sha is None:
            from eadbench.weights import file_sha256, locate

            self._mesh_sha = file_sha256(locate("face-mesh", self.weights_dir).path)
        return self._mesh_sha

    def _crop_hash(self, clip: Clip) -> str:
        if clip.dir not in self._hash:
            self._hash[clip.dir] = clip.crop_hash()
        return self._hash[clip.dir]

    def plan(self, clips):
        usable = [c for c in [*clips, *self.extra_neutral] if c.emotion == "neutral" and c.crop is not None
                  and c.crop.exists()]
        seen = set()
        for c in usable:
            if c.dir in seen:
                continue
            seen.add(c.dir)
            self.neutral_by_speaker.setdefault(c.speaker, []).append(c)
            self.population.append(c)

    def series(self, clip: Clip) -> dict[str, np.ndarray]:
        if clip.dir not in self._series:
            clip.crop_hash()  # a missing crop: one clear line
            crops = media.read_frames(clip.crop)
            s = actions.measure_crops(crops, self.weights_dir)
            found = np.isfinite(s["mouth_opening"]).sum()
            if found < MIN_FACE_SHARE * len(crops):
                raise FaceNotFoundError(f"{clip.clip_id}: the face mesh found a face in only {found} of "
                                        f"{len(crops)} frames")
            self._series[clip.dir] = s
        return self._series[clip.dir]

    def baseline_sources(self, clip: Clip) -> tuple[str, list[Clip]]:
        own = self.neutral_by_speaker.get(clip.speaker, []) if clip.speaker else []
        if own:
            return "speaker-neutral", own
        others = [c for c in self.population if not (clip.speaker and c.speaker == clip.speaker)]
        if others:
            return "population-neutral", others
        return "builtin-neutral", []

    def key(self, clip):
        kind, refs = self.baseline_sources(clip)
        return _digest(self.name, FACE_VERSION, self.mesh_sha(), self._crop_hash(clip), kind,
                       sorted(self._crop_hash(c) for c in refs), BUILTIN_NEUTRAL if not refs else None)

    def baseline(self, clip: Clip) -> tuple[dict[str, float], dict]:
        kind, refs = self.baseline_sources(clip)
        medians = []
        for c in refs:
            try:
                medians.append(actions.summarise(self.series(c)))
            except EadbenchError:
                continue  # an unusable neutral clip: the others (or the next fallback) serve
        if not medians and kind != "builtin-neutral":
            kind = "builtin-neutral"
        if kind == "builtin-neutral":
            return dict(BUILTIN_NEUTRAL), {"baseline": kind}
        if kind == "speaker-neutral":  # one face: pool its neutral frames
            pooled = {k: np.concatenate([self.series(c)[k] for c in refs if c.dir in self._series])
                      for k in actions.MEASURES}
            base = actions.summarise(pooled)
        else:  # several faces: mean of their clip medians
            base = {k: float(np.nanmean([m[k] for m in medians])) for k in actions.MEASURES}
        return base, {"baseline": kind, "baseline_clips": [c.clip_id for c in refs if c.dir in self._series]}

    def describe(self, clip):
        s = self.series(clip)
        base, info = self.baseline(clip)
        scores = clip_scores(s, base)
        frames = int(np.isfinite(s["mouth_opening"]).sum())
        info.update({"scores": {k: round(v, 3) for k, v in scores.items()}, "frames_with_face": frames,
                     "frames": len(s["mouth_opening"]), "measures": {k: round(v, 4) for k, v in
                                                                     actions.summarise(s).items()}})
        return sentence(scores), info


# ------------------------------------------------------------------------------ vlm


def _resolve_model(name_or_path: str) -> tuple[Path, str]:
    """Local folder of the model and its identity (hub commit, or a hash of its files)."""
    p = Path(name_or_path).expanduser()
    if p.exists():
        if not (p / "config.json").exists():
            raise WeightsMissingError(f"vlm describer: {p} has no config.json (expected a transformers model "
                                      "folder: config.json, weights, processor and tokenizer files)")
        h = hashlib.sha256()
        for f in sorted(p.iterdir()):
            if f.is_file() and f.suffix in (".json", ".safetensors", ".bin", ".jinja", ".model", ".txt"):
                h.update(f.name.encode())
                with open(f, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
        return p, f"{p.name}@sha256:{h.hexdigest()[:16]}"
    try:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(name_or_path, local_files_only=True))
    except Exception:  # noqa: BLE001 - any miss (not cached, bad name, offline) has the same fix
        raise WeightsMissingError(
            f"vlm describer: model {name_or_path!r} is not in the Hugging Face cache; download it where "
            f"there is network (`hf download {name_or_path}`) and copy the cache (~/.cache/huggingface/hub) "
            "here, or put the model's files in a folder and pass --model FOLDER") from None
    return folder, f"{name_or_path}@{folder.name}"


def sample_frames(frames: np.ndarray, n: int = VLM_FRAMES) -> list[np.ndarray]:
    """``n`` frames spread over the clip, leaving out its first and last tenth."""
    t = len(frames)
    idx = np.unique(np.linspace(0.1 * (t - 1), 0.9 * (t - 1), n).round().astype(int))
    return [np.ascontiguousarray(frames[i]) for i in idx]


def clean_reply(text: str) -> str:
    line = " ".join(text.strip().split())
    return line[:300].strip()


class VLMDescriber(Describer):
    name = "vlm"

    def __init__(self, model: str | None = None, device: str = "auto"):
        self.model_name = model or DEFAULT_VLM
        self.device = device
        self.folder, self.identity = _resolve_model(self.model_name)
        self._loaded = None

    def load(self):
        if self._loaded is None:
            import torch
            from transformers import AutoModelForImageTextToText, AutoProcessor

            dev = auto_device() if self.device == "auto" else self.device
            dtype = torch.bfloat16 if dev.startswith("cuda") else torch.float32
            try:
                proc = AutoProcessor.from_pretrained(str(self.folder), local_files_only=True)
                model = AutoModelForImageTextToText.from_pretrained(str(self.folder), local_files_only=True,
                                                                    dtype=dtype)
            except (OSError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise WeightsMissingError(f"vlm describer: cannot load {self.model_name!r} from "
                                          f"{self.folder} ({first})") from None
            self._loaded = (proc, model.to(dev).eval(), dev)
        return self._loaded

    def key(self, clip):
        return _digest(self.name, self.identity, PROMPT_VERSION, VLM_FRAMES, VLM_MAX_NEW_TOKENS,
                       clip.crop_hash())

    def describe(self, clip):
        import torch

        if clip.crop is None or not clip.crop.exists():
            raise EadbenchError(f"{clip.clip_id}: no {CROP} crop (run `eadbench prepare --protocols {CROP}`)")
        images = sample_frames(media.read_frames(clip.crop))
        proc, model, dev = self.load()
        messages = [{"role": "user", "content": [*({"type": "image"} for _ in images),
                                                 {"type": "text", "text": PROMPT.format(n=len(images))}]}]
        prompt = proc.apply_chat_template(messages, add_generation_prompt=True)
        inputs = proc(text=[prompt], images=images, return_tensors="pt").to(dev)
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=VLM_MAX_NEW_TOKENS, do_sample=False)
        reply = proc.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]
        text = clean_reply(reply)
        if not text:
            raise EadbenchError(f"{clip.clip_id}: the model returned an empty description")
        return text, {"model": self.identity, "prompt_version": PROMPT_VERSION, "frames": len(images)}


def build(name: str, model: str | None = None, device: str = "auto", weights_dir: str | None = None,
          extra_neutral: list[Clip] | None = None) -> Describer:
    if name not in DESCRIBERS:
        raise ConfigError(f"unknown describer {name!r}; choose one of {', '.join(DESCRIBERS)}")
    if model is not None and name != "vlm":
        raise ConfigError(f"--model belongs to --describer vlm, not {name}")
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise ConfigError(f"--device must be auto, cpu or cuda, not {device!r}")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device here (use auto or cpu)")
    if name == "face":
        return FaceDescriber(weights_dir, extra_neutral)
    if name == "template":
        return TemplateDescriber()
    return VLMDescriber(model, device)


# ------------------------------------------------------------------------------ prepared folders

TEXT_FILE = "emotion.txt"
RECORD_FILE = "emotion.json"
FAILURES_FILE = "describe_failures.jsonl"


@dataclass
class DescribeReport:
    described: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)


def prepared_clips(data: str | Path) -> list[Clip]:
    from eadbench.prepare import iter_prepared

    root = Path(data)
    if not root.is_dir():
        raise EadbenchError(f"{root}: no such folder (give the output of `eadbench prepare`)")
    try:
        clips = [Clip.from_prepared(p) for p in iter_prepared(root)]
    except (json.JSONDecodeError, KeyError) as exc:
        msg = f"{root}: a meta.json cannot be read ({exc}); re-run `eadbench prepare`"
        raise EadbenchError(msg) from None
    if not clips:
        raise EadbenchError(f"{root}: no prepared clip (no */meta.json; run `eadbench prepare` first)")
    return clips


def cached(clip: Clip, key: str) -> str | None:
    rec, txt = clip.dir / RECORD_FILE, clip.dir / TEXT_FILE
    if not (rec.exists() and txt.exists()):
        return None
    try:
        r = json.loads(rec.read_text())
    except json.JSONDecodeError:
        return None
    text = txt.read_text().strip()
    return text if r.get("key") == key and r.get("text") == text else None


def describe_prepared(data: str | Path, describer: Describer, limit: int | None = None, progress: bool = True,
                      failures: str | Path | None = None) -> DescribeReport:
    """Write ``emotion.txt`` (and ``emotion.json``: describer, cache key, details) for every prepared
    clip under ``data`` (the first ``limit`` by clip id); unchanged clips are skipped; a clip that
    fails is recorded in ``describe_failures.jsonl`` and the rest go on."""
    from tqdm import tqdm

    clips = sorted(prepared_clips(data), key=lambda c: c.clip_id)
    describer.plan(clips)  # baselines see every clip, also those past --limit
    todo = clips[:limit] if limit else clips
    report = DescribeReport()
    bar = tqdm(todo, desc=f"describe ({describer.name})", unit="clip", disable=not progress)
    for clip in bar:
        try:
            key = describer.key(clip)
            hit = cached(clip, key)
            if hit is not None:
                report.cached.append(clip.clip_id)
                report.texts[clip.clip_id] = hit
                continue
            text, details = describer.describe(clip)
            atomic_write_text(clip.dir / TEXT_FILE, text + "\n")
            atomic_write_json(clip.dir / RECORD_FILE, {"describer": describer.name, "key": key, "text": text,
                                                       "details": details}, default=str)
            report.described.append(clip.clip_id)
            report.texts[clip.clip_id] = text
        except (EadbenchError, OSError, ValueError, RuntimeError) as exc:
            if isinstance(exc, WeightsMissingError):
                raise  # every clip would fail the same way
            report.failed.append((clip.clip_id, f"{type(exc).__name__}: {exc}"))
        bar.set_postfix(failed=len(report.failed))
    path = Path(failures) if failures else Path(data) / FAILURES_FILE
    lines = [json.dumps({"clip_id": c, "describer": describer.name, "reason": r}) + "\n"
             for c, r in report.failed]
    atomic_write_text(path, "".join(lines))
    return report


def prototype(emotion: str | None, intensity: float | None = None) -> str:
    """An emotion's FACS prototype in the ``face`` describer's words (its first actions in
    ``eadbench.faces.actions.EXPECTED``), with a strength word from the intensity: what a face
    description of a clear example would say. Used where a video-side text must be in the same
    vocabulary as measured descriptions (text/video filtering)."""
    if not emotion or emotion in ("neutral", "calm"):
        return "relaxed face, no clear facial action; neutral"
    expected = actions.EXPECTED.get(emotion)
    if not expected:
        return describe_emotion(emotion, intensity)
    if emotion == "contempt":
        phrases = ["one lip corner raised"]
    else:
        named = [(n, actions.ACTION_BY_NAME[n].up if s > 0 else actions.ACTION_BY_NAME[n].down, float(s))
                 for n, s in expected.items()]
        phrases = [ph for _, ph, _ in _merge_brows([x for x in named if x[1]])][:MAX_ACTIONS]
    i = 0.5 if intensity is None else intensity
    word = "slight" if i < 0.4 else "moderate" if i < 0.8 else "strong"
    return ", ".join(phrases) + "; " + word
