"""Head rotation per frame from the 3-D face mesh, and the frame-to-frame head velocity.

Why: a talking head that keeps its head still (or shakes it) is wrong in a way no lip or image
metric sees; the head-motion metrics (``eadbench.metrics.headmotion``, ``headvel``) read the
series made here.

Rotation. Each frame's mesh (``eadbench.nets.face_mesh``, x, y, z in crop pixels) is reduced to
the rigid points of ``eadbench.faces.actions`` (``RIGID``: eye corners, nasal dorsum, temples,
cheek edges, which expressions barely move), centred and scaled by the inter-ocular distance,
and rotated onto the frontal ``TEMPLATE`` by the same Kabsch alignment ``frontalise`` uses. The
head's rotation ``Q`` is the inverse of that alignment: the rotation that takes the frontal
template to the pose seen in the frame. Axes are the camera's (x right, y down, z away from the
camera), so ``Q``'s angles read as pitch (about x), yaw (about y) and roll (about z), degrees.
Roll is signed like ``cv2.getRotationMatrix2D``'s angle (positive: the face turns
counter-clockwise on screen); yaw and pitch are the mesh's (their sign does not enter any metric).

Velocity. The head's angular velocity between frames t-1 and t is the rotation vector of
``Q_t Q_{t-1}^T`` in degrees per frame, (pitch, yaw, roll) components; NaN where either frame
has no face. Its length is the geodesic angle the head turned between the two frames, which does
not depend on where the template's frontal pose lies (the template's own tilt cancels).

Translation is not measured: the metrics read ``face256`` crops, which follow the face track, so
the head's position in the crop is tracking residue rather than head motion (the crop box would be
needed to recover it). Rotation, by contrast, does not depend on where the crop is cut or how big
it is (the points are centred and scaled before the alignment).
"""

from __future__ import annotations

import numpy as np

from eadbench.faces.actions import EYE_CORNERS, RIGID, TEMPLATE, _kabsch

#: the order of the angle and velocity components
AXES = ("pitch", "yaw", "roll")


def head_rotations(landmarks: np.ndarray) -> np.ndarray:
    """(T, 468, 3) mesh landmarks -> (T, 3, 3) head rotations (template -> frame); NaN where no face."""
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim != 3 or lm.shape[1] != 468 or lm.shape[2] != 3:
        raise ValueError(f"expected (T, 468, 3) face-mesh landmarks with depth, got {lm.shape}")
    out = np.full((len(lm), 3, 3), np.nan)
    a = lm[:, [EYE_CORNERS[0], EYE_CORNERS[1]]].mean(1)
    b = lm[:, [EYE_CORNERS[2], EYE_CORNERS[3]]].mean(1)
    iod = np.linalg.norm(b - a, axis=1)
    ok = np.isfinite(lm).all(axis=(1, 2)) & (iod > 0)
    q = TEMPLATE - TEMPLATE.mean(0)
    for t in np.flatnonzero(ok):
        rig = lm[t, list(RIGID)] / iod[t]
        r = _kabsch(rig - rig.mean(0), q)  # frame -> template
        out[t] = r.T
    return out


def _rotvec(m: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations -> (N, 3) rotation vectors in degrees; NaN rows stay NaN."""
    from scipy.spatial.transform import Rotation

    out = np.full((len(m), 3), np.nan)
    ok = np.isfinite(m).all(axis=(1, 2))
    if ok.any():
        out[ok] = np.degrees(Rotation.from_matrix(m[ok]).as_rotvec())
    return out


def head_angles(rotations: np.ndarray) -> np.ndarray:
    """(T, 3, 3) head rotations -> (T, 3) pitch, yaw, roll in degrees (rotation vector components:
    for the small angles of a talking head they are the three angles; NaN where no face)."""
    v = _rotvec(np.asarray(rotations, dtype=np.float64))
    v[:, 2] = -v[:, 2]  # z points into the screen with y down: a counter-clockwise turn on screen is -z
    return v


def angular_velocity(rotations: np.ndarray) -> np.ndarray:
    """(T, 3, 3) head rotations -> (T - 1, 3) angular velocity (pitch, yaw, roll), degrees per frame,
    the rotation vector of Q_t Q_{t-1}^T; NaN rows where either frame has no face."""
    q = np.asarray(rotations, dtype=np.float64)
    if len(q) < 2:
        return np.zeros((0, 3))
    rel = q[1:] @ np.transpose(q[:-1], (0, 2, 1))
    v = _rotvec(rel)
    v[:, 2] = -v[:, 2]
    return v
