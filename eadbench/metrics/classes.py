"""The metrics as ``torchmetrics.Metric`` classes, for anyone's training or validation loop.

Each class keeps the states torchmetrics syncs across processes (sums and counts reduced by
sum, feature lists by concatenation) and computes exactly what its evaluator and functional
twin compute (one contract test checks the three agree for every metric). Networks come from
a ``WeightStore``: pass ``weights_dir=`` (and ``device=``) or a ``store=``.

This module imports torchmetrics (a few seconds); ``eadbench.metrics`` imports it only when a
class is first asked for, so the command line and a cached run never pay for it.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics import Metric

from eadbench.faces.crop import face_box
from eadbench.metrics import action_dist as _action_dist
from eadbench.metrics import action_dist_dtw as _action_dist_dtw
from eadbench.metrics import avsync as _avsync
from eadbench.metrics import blinkbrow as _blinkbrow
from eadbench.metrics import csim as _csim
from eadbench.metrics import emotion as _emotion
from eadbench.metrics import expfid as _expfid
from eadbench.metrics import fid as _fid
from eadbench.metrics import fvd as _fvd
from eadbench.metrics import headmotion as _headmotion
from eadbench.metrics import headvel as _headvel
from eadbench.metrics import lipleak as _lipleak
from eadbench.metrics import lmd as _lmd
from eadbench.metrics import lmd_dtw as _lmd_dtw
from eadbench.metrics import lpips as _lpips
from eadbench.metrics import lse as _lse
from eadbench.metrics import psnr as _psnr
from eadbench.metrics import ssim as _ssim
from eadbench.nets import emotion as _classifiers
from eadbench.nets.face_mesh import face_mesh
from eadbench.nets.facenet import embed, facenet
from eadbench.nets.i3d import kinetics_i3d
from eadbench.nets.inception import fid_inception
from eadbench.nets.lpips import lpips_alex
from eadbench.nets.syncnet import load_syncnet, lse_from_features
from eadbench.weights import WeightStore


def _store(store: WeightStore | None, weights_dir, device) -> WeightStore:
    return store if store is not None else WeightStore(weights_dir, device=device or "cpu")


def _cat(xs) -> np.ndarray:
    return (torch.cat(xs) if isinstance(xs, list) else xs).cpu().numpy()


class _FrameMean(Metric):
    """Mean of a per-frame score over every frame pair seen: a float64 sum and a count."""

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def frame_values(self, fake, real) -> torch.Tensor:
        raise NotImplementedError

    def update(self, fake, real) -> None:
        """``fake``, ``real``: paired frames (N, H, W, 3) in [0, 255] (numpy or torch)."""
        v = self.frame_values(fake, real)
        self.total += v.sum().to(self.total)
        self.count += v.numel()

    def compute(self) -> torch.Tensor:
        return self.total / self.count


class SSIM(_FrameMean):
    """Mean per-frame SSIM (protocol ssim-gauss11@1) over every frame pair seen."""

    higher_is_better = True

    def frame_values(self, fake, real) -> torch.Tensor:
        return _ssim.ssim_frames(fake, real)


class PSNR(_FrameMean):
    """Mean per-frame PSNR (protocol psnr-frame-mean@1) over every frame pair seen."""

    higher_is_better = True

    def frame_values(self, fake, real) -> torch.Tensor:
        return _psnr.psnr_frames(fake, real)


class LPIPS(_FrameMean):
    """Mean per-frame LPIPS-Alex v0.1 over every frame pair seen."""

    higher_is_better = False

    def __init__(self, weights_dir=None, device=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.net = lpips_alex(_store(store, weights_dir, device))

    def frame_values(self, fake, real) -> torch.Tensor:
        return _lpips.lpips_frames(np.asarray(fake), np.asarray(real), self.net)


class FID(Metric):
    """FID (pytorch-fid@1): ``update(frames, real=bool)``; features gathered across processes
    (each process must have made at least one generated and one real update before ``compute``:
    torchmetrics cannot gather a list state that is empty on one process)."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, weights_dir=None, device=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.net = fid_inception(_store(store, weights_dir, device))
        self.add_state("fake_feats", default=[], dist_reduce_fx="cat")
        self.add_state("real_feats", default=[], dist_reduce_fx="cat")

    def update(self, frames, real: bool) -> None:
        f = torch.from_numpy(_fid.fid_features(np.asarray(frames), self.net))
        (self.real_feats if real else self.fake_feats).append(f)

    def compute(self) -> torch.Tensor:
        return torch.tensor(_fid.fid_from_features(_cat(self.fake_feats), _cat(self.real_feats)))


class FVD(Metric):
    """FVD (stylegan-v@1 or latentsync@1): ``update(video, real=bool)`` per (T, H, W, 3) video;
    under DDP every process needs at least one generated and one real video (as for FID)."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, protocol: str = "stylegan-v", clips_per_video: int = 1, weights_dir=None, device=None,
                 store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.protocol, self.clips_per_video = _fvd.get_protocol(protocol), clips_per_video
        self.net = kinetics_i3d(_store(store, weights_dir, device))
        self.add_state("fake_feats", default=[], dist_reduce_fx="cat")
        self.add_state("real_feats", default=[], dist_reduce_fx="cat")

    def update(self, video, real: bool) -> None:
        clips = self.protocol.clips(np.asarray(video), self.clips_per_video)
        f = torch.from_numpy(_fvd.i3d_features(clips, self.protocol, self.net))
        (self.real_feats if real else self.fake_feats).append(f)

    def compute(self) -> torch.Tensor:
        return torch.tensor(_fvd.fvd_from_features(_cat(self.fake_feats), _cat(self.real_feats)))


class LSE(Metric):
    """Mean LSE-C and LSE-D over clips (syncnet-v2@1): ``update(syncnet_crops, audio_16k)``."""

    higher_is_better = True  # of LSE-C, the first output
    full_state_update = False

    def __init__(self, weights_dir=None, syncnet_path: str | None = None, device=None,
                 store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.net = load_syncnet(_store(store, weights_dir, device), syncnet_path)
        for s in ("sum_c", "sum_d"):
            self.add_state(s, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, crops: np.ndarray, audio: np.ndarray) -> None:
        r = lse_from_features(*_lse.lse_features(self.net, crops, audio))
        self.sum_c += r["lse_c"]
        self.sum_d += r["lse_d"]
        self.count += 1

    def compute(self) -> dict[str, torch.Tensor]:
        return {"lse_c": self.sum_c / self.count, "lse_d": self.sum_d / self.count}


class EmotionAccuracy(Metric):
    """Video-level emotion accuracy (video-mean-prob@1): ``update(face256_crops, target)``;
    targets the classifier cannot output are excluded and counted."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, classifier=None, weights_dir=None, device=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        if classifier is None or isinstance(classifier, str):
            classifier = _classifiers.build(classifier, _store(store, weights_dir, device))
        self.classifier = classifier
        for s in ("correct", "judged", "excluded"):
            self.add_state(s, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, faces: np.ndarray, target: str) -> None:
        pred, _ = _classifiers.video_prediction(self.classifier.probs(face_box(np.asarray(faces))),
                                                self.classifier)
        j = _emotion.judge(target, pred, self.classifier)
        if j["acc_emo"] is None:
            self.excluded += 1
        else:
            self.judged += 1
            self.correct += int(j["acc_emo"])

    def compute(self) -> torch.Tensor:
        return self.correct.double() / self.judged


class LMD(Metric):
    """Mean M-LMD and F-LMD over clips (mesh468-face256@1): ``update(fake_face256, real_face256)``."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, weights_dir=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mesh = face_mesh(_store(store, weights_dir, "cpu"))
        for s in ("sum_lmd", "sum_flmd"):
            self.add_state(s, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, fake_crops, real_crops) -> None:
        r = _lmd.lmd_from_landmarks(self.mesh.clip(np.asarray(fake_crops)), self.mesh.clip(np.asarray(real_crops)))
        self.sum_lmd += r["lmd"]
        self.sum_flmd += r["f_lmd"]
        self.count += 1

    def compute(self) -> dict[str, torch.Tensor]:
        return {"lmd": self.sum_lmd / self.count, "f_lmd": self.sum_flmd / self.count}


class CSIM(Metric):
    """Mean identity cosine (facenet-vggface2-face256@1): ``update(fake_face256, reference_face256)``."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, weights_dir=None, device=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.net = facenet(_store(store, weights_dir, device))
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, fake_faces, reference_face) -> None:
        e = embed(self.net, _csim.face_box(np.asarray(fake_faces)))
        r = embed(self.net, _csim.face_box(np.asarray(reference_face)[None]))
        self.total += torch.nn.functional.cosine_similarity(e, r.expand_as(e)).double().sum()
        self.count += len(e)

    def compute(self) -> torch.Tensor:
        return self.total / self.count


class _ClipMean(Metric):
    """Mean of one per-clip output over the clips that have it (others counted as excluded)."""

    full_state_update = False
    output = ""

    def __init__(self, weights_dir=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.store = _store(store, weights_dir, "cpu")
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        for s in ("count", "excluded"):
            self.add_state(s, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def clip_outputs(self, crops: np.ndarray, audio: np.ndarray) -> dict:
        raise NotImplementedError

    def update(self, crops: np.ndarray, audio: np.ndarray) -> None:
        value = self.clip_outputs(np.asarray(crops), np.asarray(audio))[self.output]
        if value is None:
            self.excluded += 1
        else:
            self.total += float(value)
            self.count += 1

    def compute(self) -> torch.Tensor:
        return self.total / self.count


class AVSync(_ClipMean):
    """Mean AV-sync over clips: ``update(face256_crops, audio_16k)``. ``protocol="mouth-envelope@2"`` (the
    default): the mean ``avsync_peak``; ``"mouth-envelope@1"``: the mean ``avsync_r`` (r at offset 0)."""

    higher_is_better = True

    def __init__(self, protocol: str | None = None, weights_dir=None, store: WeightStore | None = None, **kwargs):
        super().__init__(weights_dir=weights_dir, store=store, **kwargs)
        info = _avsync.AVSyncEvaluator.info
        self.protocol = info.protocol(protocol)
        self.output = info.outputs_of(self.protocol)[0]

    def clip_outputs(self, crops, audio) -> dict:
        return _avsync.avsync(crops, audio, store=self.store, protocol=self.protocol.key)


class LipLeak(_ClipMean):
    """Mean silent-mouth leak over clips (silent-mouth@1): ``update(face256_crops, audio_16k)``."""

    higher_is_better = False
    output = "lipleak"

    def clip_outputs(self, crops, audio) -> dict:
        return _lipleak.lipleak(crops, audio, store=self.store)


class HeadMotion(Metric):
    """Mean head-motion gap and energy ratio over clips (head-pose@1): ``update(fake_face256, real_face256)``
    per clip; ``compute`` gives both means (the energy over the clips whose real head moves)."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, weights_dir=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mesh = face_mesh(_store(store, weights_dir, "cpu"))
        for s in ("sum_gap", "sum_energy"):
            self.add_state(s, default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        for s in ("count", "count_energy"):
            self.add_state(s, default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, fake_crops, real_crops) -> None:
        r = _headmotion.headmotion_from_landmarks(self.mesh.series(np.asarray(fake_crops)),
                                                  self.mesh.series(np.asarray(real_crops)))
        self.sum_gap += r["headmotion_gap"]
        self.count += 1
        if r["headmotion_energy"] is not None:
            self.sum_energy += r["headmotion_energy"]
            self.count_energy += 1

    def compute(self) -> dict[str, torch.Tensor]:
        return {"headmotion_gap": self.sum_gap / self.count, "headmotion_energy": self.sum_energy / self.count_energy}


class _SetLandmarksFrechet(Metric):
    """A Frechet distance of per-frame mesh features, generated set vs real set:
    ``update(face256_video, real=bool)`` per video; under DDP every process needs at least one
    generated and one real video (as for FID). A subclass names its module's ``features`` and
    ``from_features``."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, weights_dir=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mesh = face_mesh(_store(store, weights_dir, "cpu"))
        self.add_state("fake_feats", default=[], dist_reduce_fx="cat")
        self.add_state("real_feats", default=[], dist_reduce_fx="cat")

    def features(self, marks: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def from_features(self, fake: np.ndarray, real: np.ndarray) -> float:
        raise NotImplementedError

    def update(self, crops, real: bool) -> None:
        f = torch.from_numpy(self.features(self.mesh.series(np.asarray(crops))))
        (self.real_feats if real else self.fake_feats).append(f)

    def compute(self) -> torch.Tensor:
        return torch.tensor(self.from_features(_cat(self.fake_feats), _cat(self.real_feats)))


class HeadVel(_SetLandmarksFrechet):
    """Head-velocity Frechet distance (head-velocity-fd@1) over every video seen."""

    def features(self, marks):
        return _headvel.headvel_features(marks)

    def from_features(self, fake, real):
        return _headvel.headvel_from_features(fake, real)


class _PairedLandmarksMean(Metric):
    """Mean of per-clip outputs over clips, each clip scored from the face mesh of its generated and
    real face256 crops: ``update(fake_face256, real_face256)`` per clip."""

    higher_is_better = False
    full_state_update = False
    outputs: tuple[str, ...] = ()

    def __init__(self, weights_dir=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        self.mesh = face_mesh(_store(store, weights_dir, "cpu"))
        for s in self.outputs:
            self.add_state(f"sum_{s}", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def score(self, fake: np.ndarray, real: np.ndarray) -> dict:
        raise NotImplementedError

    def update(self, fake_crops, real_crops) -> None:
        r = self.score(self.mesh.series(np.asarray(fake_crops)), self.mesh.series(np.asarray(real_crops)))
        for s in self.outputs:
            setattr(self, f"sum_{s}", getattr(self, f"sum_{s}") + r[s])
        self.count += 1

    def compute(self) -> dict[str, torch.Tensor]:
        return {s: getattr(self, f"sum_{s}") / self.count for s in self.outputs}


class LMDDTW(_PairedLandmarksMean):
    """Mean time-warped M-LMD and F-LMD over clips (lmd-dtw-band@1): ``update(fake_face256, real_face256)``."""

    outputs = ("lmd_dtw", "f_lmd_dtw")

    def score(self, fake, real) -> dict:
        return _lmd_dtw.lmd_dtw_from_landmarks(fake, real)


class ActionDist(_PairedLandmarksMean):
    """Mean frame-by-frame action-vector distance over clips (action-vector@1):
    ``update(fake_face256, real_face256)``."""

    outputs = ("action_dist",)

    def score(self, fake, real) -> dict:
        return _action_dist.action_dist_from_landmarks(fake, real)


class ActionDistDTW(_PairedLandmarksMean):
    """Mean time-warped action-vector distance over clips (action-vector-dtw-band@1):
    ``update(fake_face256, real_face256)``."""

    outputs = ("action_dist_dtw",)

    def score(self, fake, real) -> dict:
        return _action_dist_dtw.action_dist_dtw_from_landmarks(fake, real)


class ExpFID(_SetLandmarksFrechet):
    """Expression Frechet distance (action-frechet@1) over every video seen."""

    def features(self, marks):
        return _expfid.expfid_features(marks)

    def from_features(self, fake, real):
        return _expfid.expfid_from_features(fake, real)


class BlinkBrow(Metric):
    """Mean blink/brow gap, blink rates and brow-energy ratio over clips (blink-brow@1):
    ``update(fake_face256, real_face256)`` per clip; the energy ratio's mean is over the clips whose
    real brows move."""

    higher_is_better = False
    full_state_update = False
    SUMS = ("blinkbrow_gap", "blink_gap", "blink_rate", "blink_rate_real", "brow_energy")

    def __init__(self, weights_dir=None, store: WeightStore | None = None, **kwargs):
        super().__init__(**kwargs)
        from eadbench.nets.eye_contour import eye_contour

        store = _store(store, weights_dir, "cpu")
        self.mesh, self.eyes = face_mesh(store), eye_contour(store)
        for s in self.SUMS:
            self.add_state(f"sum_{s}", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"n_{s}", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, fake_crops, real_crops) -> None:
        crops = [np.asarray(c) for c in (fake_crops, real_crops)]
        marks = [self.mesh.series(c) for c in crops]
        r = _blinkbrow.blinkbrow_from_series(*(self.eyes.series(c, m) for c, m in zip(crops, marks)), *marks)
        for s in self.SUMS:
            if r[s] is not None:
                setattr(self, f"sum_{s}", getattr(self, f"sum_{s}") + r[s])
                setattr(self, f"n_{s}", getattr(self, f"n_{s}") + 1)

    def compute(self) -> dict[str, torch.Tensor]:
        return {s: getattr(self, f"sum_{s}") / getattr(self, f"n_{s}") for s in self.SUMS}


__all__ = ["ActionDist", "ActionDistDTW", "AVSync", "BlinkBrow", "CSIM", "ExpFID", "FID", "FVD", "HeadMotion",
           "HeadVel", "LMD", "LPIPS", "LMDDTW", "LSE", "LipLeak", "PSNR", "SSIM", "EmotionAccuracy"]
