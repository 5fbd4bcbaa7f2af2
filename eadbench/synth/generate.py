"""Write a small synthetic dataset in a real layout (MEAD, HDTF or RAVDESS).

Every clip: an animated real face photo whose mouth opening follows its own speech audio frame
by frame (lip-synced by construction, audio offset 0), with the facial action units of the
clip's emotion at its intensity. Every speaker's first clip is neutral; the others deal every
emotion at every level across the speakers of a split (``_emotions``). Ground truth per clip
(mouth opening per frame, action units, source photo, ...) goes to
``_groundtruth/<clip_id>.json`` (a folder the loaders skip); ``eadbench-synth.json`` at the
root names the layout.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from eadbench import __version__, media
from eadbench.atomic import atomic_path, atomic_write_text
from eadbench.errors import ChoiceError, ConfigError
from eadbench.jsonio import dumps
from eadbench.labels import EMOTIONS, RAVDESS_CODE_TO_CANONICAL, describe_emotion
from eadbench.synth import speech
from eadbench.synth.face import FaceAnimator, action_units, portrait

FPS = 25
#: bumped whenever the same settings render different frames (the FACS expression model: 2)
RENDER_VERSION = 2
MEAD_ACTORS = ("M003", "W009", "M012", "W021", "M030", "W015", "M005", "W011")
HDTF_NAMES = ("WDA_AliceMoore", "WRA_BenOkafor", "RD_Radio07", "WDA_CarmenDiaz", "WRA_DavidLee",
              "WDA_EvaNowak", "RD_Radio12", "WRA_FrankOsei")
RAVDESS_CODES = {v: k for k, v in RAVDESS_CODE_TO_CANONICAL.items()}
RAVDESS_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fear", "disgusted", "surprised")


def describe(emotion: str, intensity: float, gender: str) -> str:
    return describe_emotion(emotion, intensity, "a woman" if gender == "female" else "a man")


def _test_group(layout: str, s: int) -> bool:
    """Whether speaker ``s`` lands in the layout's test split (MEAD: the shipped actor list)."""
    if layout == "mead":
        from eadbench.datasets.mead import test_actors

        return _mead_actor(s) in test_actors()
    return layout == "hdtf" and s % 2 == 0


def _mead_actor(s: int) -> str:
    return MEAD_ACTORS[s % len(MEAD_ACTORS)] if s < len(MEAD_ACTORS) else f"M{100 + s:03d}"


def _emotions(layout: str, speakers: int, clips: int) -> dict[tuple[int, int], tuple[str, int]]:
    """(speaker, clip) -> (emotion, level).

    Every speaker's first clip is neutral (methods are driven from a speaker's neutral clip).
    The other clips of the speakers of one split are dealt from a deck in which each non-neutral
    emotion appears at every intensity level, consecutively: once a split holds 7 x levels such
    clips it has every emotion at every level (each level then averages over the same
    emotions). Card (emotion k, level l) goes to speaker (k + l) mod n (the next one with room
    when full), so an emotion's levels fall on different speakers and each speaker gets
    every level about equally often (a level is not confounded with one face).
    """
    levels = 2 if layout == "ravdess" else 3
    emotions = [e for e in (RAVDESS_EMOTIONS if layout == "ravdess" else EMOTIONS) if e != "neutral"]
    out = {}
    for group in (True, False):
        members = [s for s in range(speakers) if _test_group(layout, s) == group]
        for s in members:
            out[(s, 0)] = ("neutral", 1)
        n, quota = len(members), clips - 1
        taken = [0] * n
        for t in range(n * quota):
            k, lev = divmod(t, levels)  # card t: emotion k at level lev + 1
            j = (k + lev) % n  # a card's levels go to different speakers, each gets every level
            while taken[j] >= quota:
                j = (j + 1) % n
            taken[j] += 1
            out[(members[j], taken[j])] = (emotions[k % len(emotions)], lev + 1)
    return out


def _plan(layout: str, speakers: int, clips: int) -> list[dict]:
    """Which speaker says what, with which emotion and level, under which path."""
    if layout not in ("mead", "hdtf", "ravdess"):
        raise ConfigError(f"unknown layout {layout!r}; choose mead, hdtf or ravdess")
    plan = []
    deal = _emotions(layout, speakers, clips)
    seen: dict[tuple[int, str, int], int] = {}
    levels = 2 if layout == "ravdess" else 3
    for s in range(speakers):
        for c in range(clips):
            emotion, level = deal[(s, c)]
            gender = "female" if s % 2 else "male"
            if layout == "mead":
                actor = _mead_actor(s)
                gender = "male" if actor[0] == "M" else "female"
                vid = f"{c + 1:03d}"
                rel = Path(actor) / "video" / "front" / emotion / f"level_{level}" / f"{vid}.mp4"
                audio_rel = Path(actor) / "audio" / emotion / f"level_{level}" / f"{vid}.m4a"
                clip_id = f"{actor}_front_{emotion}_level_{level}_{vid}"
                speaker = actor
            elif layout == "hdtf":
                speaker = HDTF_NAMES[s % len(HDTF_NAMES)] + ("" if s < len(HDTF_NAMES) else str(s))
                clip_id = f"{speaker}_{c:03d}"
                rel, audio_rel = Path(f"{clip_id}.mp4"), None
            else:
                actor = s + 1
                gender = "male" if actor % 2 else "female"
                k = seen[(s, emotion, level)] = seen.get((s, emotion, level), -1) + 1
                if k >= 4:
                    raise ConfigError(f"RAVDESS names allow 4 clips per actor, emotion and level; "
                                      f"{clips} clips per speaker need more (use fewer clips)")
                clip_id = (f"01-01-{RAVDESS_CODES[emotion]}-{level:02d}-{1 + k % 2:02d}-"
                           f"{1 + k // 2:02d}-{actor:02d}")
                rel, audio_rel = Path(f"Actor_{actor:02d}") / f"{clip_id}.mp4", None
                speaker = f"Actor_{actor:02d}"
            plan.append(dict(speaker_index=s, speaker=speaker, gender=gender, emotion=emotion, level=level,
                             levels=levels, clip_id=clip_id, video=rel, audio=audio_rel,
                             sentence=speech.SENTENCES[(s * 5 + c * 3) % len(speech.SENTENCES)]))
    return plan


def render_clip(item: dict, seconds: float, size: int, seed: int, emotion: str | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frames (T,S,S,3) uint8, audio float32 16 kHz, mouth opening per frame).

    ``emotion`` renders the same clip (same speech, mouth opening and head motion) with another
    facial expression, e.g. "neutral" for a clip's expressionless twin.
    """
    intensity = item["level"] / item["levels"]
    raw = speech.speak(item["sentence"], item["speaker_index"], item["emotion"], intensity, seed=seed)
    audio = speech.fit_length(raw, seconds)
    n = int(round(seconds * FPS))
    opening = speech.mouth_envelope(audio, n, FPS)
    anim = FaceAnimator(portrait(item["speaker_index"], size), emotion or item["emotion"], intensity,
                        seed=seed * 1000 + item["speaker_index"])
    frames = np.stack([anim.render(float(o), i / FPS) for i, o in enumerate(opening)])
    return frames, audio, opening


def validate(layout: str, speakers: int, clips: int, seconds: float, size: int) -> None:
    """One-line errors (exit 2) for settings the renderer cannot honour, before anything is written."""
    if layout not in ("mead", "hdtf", "ravdess"):
        raise ChoiceError(f"unknown layout {layout!r}; choose mead, hdtf or ravdess")
    if size % 2 or size < 96:
        raise ChoiceError(f"--size must be an even number of pixels, at least 96 (got {size})")
    if speakers < 1 or clips < 1:
        raise ChoiceError("--speakers and --clips must be at least 1")
    if not seconds > 0.5:
        raise ChoiceError(f"--seconds must be above 0.5 (got {seconds:g})")


def every_expression(plan: list[dict], split: str = "train") -> list[dict]:
    """Counterfactual renders (MEAD layout): each clip of ``split``'s speakers once per emotion,
    with that emotion's expression at the clip's level over the clip's own speech, mouth opening
    and head motion (``render_clip(item, emotion=...)``). The renders of one clip share its
    utterance id (the file stem, as one MEAD sentence id across emotions) and are aligned frame
    by frame, so a model can learn an expression change with everything else held fixed (the
    built-in EAD-Net's emotion recipe, ``ref_clip: twin``). Each item keeps the clip it renders
    in ``render_of`` and the speech's emotion in ``speech_emotion``."""
    from eadbench.datasets.mead import test_actors

    tests = test_actors()
    out = []
    for item in plan:
        if (item["speaker"] in tests) != (split == "test"):
            continue
        for emotion in EMOTIONS:
            vid = Path(item["video"]).stem
            level = f"level_{item['level'] if emotion != 'neutral' else 1}"  # MEAD's neutral has level 1 only
            actor = item["speaker"]
            out.append({**item, "emotion": emotion, "speech_emotion": item["emotion"], "render_of": item["clip_id"],
                        "clip_id": f"{actor}_front_{emotion}_{level}_{vid}",
                        "video": Path(actor) / "video" / "front" / emotion / level / f"{vid}.mp4",
                        "audio": Path(actor) / "audio" / emotion / level / f"{vid}.m4a"})
    return out


def write_dataset(out: str | Path, layout: str = "mead", speakers: int = 2, clips: int = 2, seed: int = 0,
                  seconds: float = 3.0, size: int = 256, progress: bool = False,
                  renders: str | None = None) -> Path:
    """Write the dataset into ``out`` (created); clips = clips per speaker. ``renders="train"``
    writes instead every training clip in every emotion (``every_expression``; MEAD layout only)."""
    out = Path(out)
    validate(layout, speakers, clips, seconds, size)
    plan = _plan(layout, speakers, clips)
    if renders is not None:
        if layout != "mead" or renders not in ("train", "test"):
            raise ConfigError("counterfactual renders are written in the MEAD layout for split train or test")
        plan = every_expression(plan, renders)
    out.mkdir(parents=True, exist_ok=True)
    from tqdm import tqdm

    written: list[Path] = []
    for item in tqdm(plan, desc=f"synth {layout}", unit="clip", disable=not progress):
        speech_item = {**item, "emotion": item.get("speech_emotion", item["emotion"])}
        frames, audio, opening = render_clip(speech_item, seconds, size, seed, emotion=item["emotion"])
        written.append(media.write_video(out / item["video"], frames, fps=FPS, audio=audio))
        if item["audio"] is not None:
            written.append(media.write_audio(out / item["audio"], audio))
        intensity = item["level"] / item["levels"]
        gt = {
            "clip_id": item["clip_id"], "speaker": item["speaker"], "gender": item["gender"],
            "emotion": item["emotion"], "intensity_level": item["level"], "intensity": intensity,
            "text_spoken": item["sentence"],
            "emotion_text": describe(item["emotion"], intensity, item["gender"]),
            "mouth_opening": [round(float(o), 5) for o in opening], "audio_offset_frames": 0, "fps": FPS,
            "sample_rate": speech.SR, "source_photo": portrait(item["speaker_index"], size).source,
            "action_units": action_units(item["emotion"], intensity),
            "speech_engine": "espeak-ng" if speech.have_espeak() else "builtin",
            **{k: item[k] for k in ("render_of", "speech_emotion") if k in item},
        }
        written.append(_write_json(out / "_groundtruth" / f"{item['clip_id']}.json", gt))
    if layout == "hdtf":  # half of the speakers are test, written as a named split list
        test = sorted({i["speaker"] for i in plan if i["speaker_index"] % 2 == 0})
        written.append(out / "_splits" / "hdtf.txt")
        atomic_write_text(written[-1], "".join(f"{s} test\n" for s in test))
    _write_json(out / "eadbench-synth.json", {
        "layout": layout, "seed": seed, "speakers": speakers, "clips": clips, "seconds": seconds,
        "size": size, "render_version": RENDER_VERSION, **({"renders": renders} if renders else {}),
        "eadbench_version": __version__, "speech_engine": "espeak-ng" if speech.have_espeak() else "builtin",
        "files": sorted(p.relative_to(out).as_posix() for p in written),
    })
    return out


def ground_truth(root: str | Path, clip_id: str) -> dict:
    return json.loads((Path(root) / "_groundtruth" / f"{clip_id}.json").read_text())


def _write_json(path: Path, obj) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w") as fh:
        fh.write(dumps(obj, indent=1, sort_keys=False))
    return path


def write_dataset_atomic(out: str | Path, force: bool = False, note=None, **kwargs) -> Path:
    """Write the dataset into ``out`` safely (what `eadbench synth` and the built-in data use).

    Under the folder's lock (``out/.eadbench.lock``, as for every command), the data is written
    into a hidden partial folder beside ``out`` and swapped in whole, so a crash never leaves a
    half-written dataset. ``out`` is replaced only
    when it is absent, empty, or an earlier `eadbench synth` output holding nothing else;
    any other non-empty folder is refused (exit 2). ``force`` writes into such a folder in
    place instead, replacing only the files this command writes and deleting nothing.
    """
    from eadbench.atomic import check_replaceable, clean_partials, ensure_folder, partial_dir, replace_folder
    from eadbench.datasets.synth import MARKER
    from eadbench.errors import OutputFolderError
    from eadbench.locking import folder_lock

    validate(kwargs.get("layout", "mead"), kwargs.get("speakers", 2), kwargs.get("clips", 2),
             kwargs.get("seconds", 3.0), kwargs.get("size", 256))
    out = Path(out).resolve()

    def replaceable() -> bool:
        try:
            check_replaceable(out, MARKER, _owned_files(out / MARKER), "eadbench synth")
        except OutputFolderError:
            if not force or not out.is_dir():
                raise
            return False
        return True

    replaceable()  # a refused folder: one line, and nothing written in it or beside it
    ensure_folder(out, "synth output")
    with folder_lock(out, "eadbench synth", note=note):  # the same lock as every command's, inside
        if not replaceable():  # checked again: another command may have written it meanwhile
            return write_dataset(out, **kwargs)
        clean_partials(out.parent, out.name)
        tmp = partial_dir(out.parent, out.name)
        try:
            write_dataset(tmp, **kwargs)
            replace_folder(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out


def _owned_files(marker: Path) -> set[str] | None:
    """The files an earlier `eadbench synth` wrote, from its marker (an unreadable marker owns
    nothing, so every file counts as foreign)."""
    if not marker.is_file():
        return None
    try:
        files = json.loads(marker.read_text()).get("files", None)
    except (OSError, ValueError, AttributeError):
        return set()
    if files is None:  # written before eadbench listed its files: the marker alone vouches
        return None
    return set(files) if isinstance(files, list) else set()
