"""MTCNN's cascade (facenet-pytorch 2.6.0's ``detect_face``) computed from integral images: the
same arithmetic, bit for bit, at a fraction of the cost.

facenet-pytorch turns a whole batch of frames into float32 (a 590² batch of 32 is 134 MB), then
for every pyramid level area-resamples the whole full-resolution batch again, and cuts and
resamples every R-Net and O-Net candidate with its own ``interpolate`` call (about 45 per frame).
That resampling was half of the detector's time, and the large temporaries its system time.

Area resampling is ``adaptive_avg_pool2d``: each output pixel is the mean of an integer-bounded
window ``[floor(i*H/h), ceil((i+1)*H/h))``, computed by torch as ``sum / kh / kw`` in float32.
On uint8 frames every window sum is an integer below 2^24, so it is exact in float32, and the
same sum read from an integral image (``cv2.integral``, int32, exact up to 4K frames) divided the
same way gives the same float32 value, bit for bit (``tests/test_cascade.py`` checks the
resampling against ``interpolate`` and the detections against ``detect_face`` on real frames).
Everything else (P-Net, R-Net, O-Net, their thresholds, NMS, box regression) is facenet-pytorch's
own code, fed tensors of the same values and memory layout. Each frame's integral image is made
once (a few ms) and every pyramid level and every candidate window is then a handful of lookups.
"""

from __future__ import annotations

import numpy as np

#: integral images of a group of frames held at once (int32, 3 channels); a group is at most
#: BATCH frames, as facenet-pytorch's callers batch them, and fewer for very large frames
GROUP_BYTES = 160 * 1024 * 1024
BATCH = 32


class Unsupported(ValueError):
    """A case this re-implementation leaves to facenet-pytorch (callers fall back to it)."""


_BUFFER: dict[tuple, np.ndarray] = {}


def _integrals(imgs: np.ndarray) -> np.ndarray:
    """The integral images of a group of frames, in one buffer reused from call to call (a fresh
    134 MB array per group of 590² frames costs more in page faults than the sums themselves)."""
    n, h, w = imgs.shape[:3]
    key = (h, w)
    buf = _BUFFER.get(key)
    if buf is None or len(buf) < n:
        _BUFFER.clear()
        buf = _BUFFER[key] = np.empty((max(n, min(BATCH, GROUP_BYTES // ((h + 1) * (w + 1) * 12))), h + 1, w + 1, 3),
                                      np.int32)
    for i, im in enumerate(imgs):
        integral(im, buf[i])
    return buf[:n]


def integral(frame: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(H+1, W+1, 3) int32 integral image of an RGB uint8 frame (exact for frames up to 8.4 MP)."""
    import cv2

    if frame.shape[0] * frame.shape[1] * 255 >= 2 ** 31:
        raise Unsupported(f"frame of {frame.shape[1]}x{frame.shape[0]} is too large for an int32 integral image")
    if out is None:
        return cv2.integral(np.ascontiguousarray(frame), sdepth=cv2.CV_32S)
    res = cv2.integral(np.ascontiguousarray(frame), out, sdepth=cv2.CV_32S)
    assert res is out or np.shares_memory(res, out), "cv2.integral did not write in place"
    return out


def _windows(start: np.ndarray, length: np.ndarray, out: int) -> tuple[np.ndarray, np.ndarray]:
    """adaptive_avg_pool's window bounds: (K, out) starts and ends for regions ``start`` + [0, length)."""
    i = np.arange(out, dtype=np.int64)[None]
    length = length.astype(np.int64)[:, None]
    return start[:, None] + (i * length) // out, start[:, None] + ((i + 1) * length + out - 1) // out


def area_windows(ii: np.ndarray, frame: np.ndarray, r0: np.ndarray, r1: np.ndarray, c0: np.ndarray,
                 c1: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """Area resampling (``interpolate(mode="area")``, bit for bit) of K regions to (K, oh, ow, 3)
    float32: region k is rows ``r0[k]:r1[k]``, columns ``c0[k]:c1[k]`` of frame ``frame[k]`` of the
    stacked integral images ``ii`` (G, H+1, W+1, 3)."""
    rs, re = _windows(r0, r1 - r0, oh)
    cs, ce = _windows(c0, c1 - c0, ow)
    g, h1, w1 = ii.shape[:3]
    flat = ii.reshape(g * h1 * w1, 3)  # a pixel's three sums are one row: one lookup fetches them
    base = (frame.astype(np.int64) * h1)[:, None]
    re_, rs_ = ((base + re) * w1)[:, :, None], ((base + rs) * w1)[:, :, None]
    ce_, cs_ = ce[:, None, :], cs[:, None, :]
    s = np.take(flat, re_ + ce_, axis=0)  # int32 throughout: every partial result lies in (-2**31, 2**31)
    s -= np.take(flat, rs_ + ce_, axis=0)
    s -= np.take(flat, re_ + cs_, axis=0)
    s += np.take(flat, rs_ + cs_, axis=0)
    return _divide(s, re - rs, ce - cs)


def area_frames(ii: np.ndarray, oh: int, ow: int) -> np.ndarray:
    """Area resampling of every whole frame of ``ii`` (G, H+1, W+1, 3) to (G, oh, ow, 3) float32,
    bit for bit as ``interpolate(mode="area")`` (one pyramid level)."""
    g, h, w = ii.shape[0], ii.shape[1] - 1, ii.shape[2] - 1
    zero = np.zeros(g, np.int64)
    return area_windows(ii, np.arange(g), zero, np.full(g, h), zero, np.full(g, w), oh, ow)


def _divide(s: np.ndarray, kh: np.ndarray, kw: np.ndarray) -> np.ndarray:
    """Window sums (K, oh, ow, 3) over window heights (K, oh) and widths (K, ow), as torch's
    ``sum / kh / kw`` in float32 (exact sums, then the same two roundings)."""
    return s.astype(np.float32) / kh.astype(np.float32)[:, :, None, None] / kw.astype(np.float32)[:, None, :, None]


def _normalised(windows: np.ndarray):
    """facenet-pytorch's input scaling, on an NCHW view of NHWC data (its pyramid levels' layout:
    channels-last strides, which the convolutions' rounding depends on)."""
    import torch

    return (torch.from_numpy(windows).permute(0, 3, 1, 2) - 127.5) * 0.0078125


def detect_face(imgs: np.ndarray, minsize: float, pnet, rnet, onet, threshold, factor):
    """facenet-pytorch's ``detect_face`` (on the CPU, uint8 NHWC frames of one size): the same
    boxes and landmarks (lists with one array per frame), from integral images."""
    import torch
    from facenet_pytorch.models.utils.detect_face import (
        batched_nms_numpy,
        bbreg,
        fixed_batch_process,
        generateBoundingBox,
        pad,
        rerec,
    )
    from torchvision.ops.boxes import batched_nms

    n, h, w = imgs.shape[:3]
    per_frame = (h + 1) * (w + 1) * 3 * 4
    group = max(1, min(BATCH, GROUP_BYTES // per_frame))
    if n > group:
        parts = [detect_face(imgs[i:i + group], minsize, pnet, rnet, onet, threshold, factor)
                 for i in range(0, n, group)]
        return [b for p in parts for b in p[0]], [q for p in parts for q in p[1]]
    ii = _integrals(imgs)

    m = 12.0 / minsize
    minl = min(h, w) * m
    scales = []
    scale_i = m
    while minl >= 12:
        scales.append(scale_i)
        scale_i = scale_i * factor
        minl = minl * factor

    # First stage: P-Net on every level, NMS per level and frame
    boxes, image_inds, scale_picks, offset = [], [], [], 0
    for scale in scales:
        level = area_frames(ii, int(h * scale + 1), int(w * scale + 1))
        reg, probs = pnet(_normalised(level))
        boxes_scale, image_inds_scale = generateBoundingBox(reg, probs[:, 1], scale, threshold[0])
        boxes.append(boxes_scale)
        image_inds.append(image_inds_scale)
        pick = batched_nms(boxes_scale[:, :4], boxes_scale[:, 4], image_inds_scale, 0.5)
        scale_picks.append(pick + offset)
        offset += boxes_scale.shape[0]
    boxes, image_inds = torch.cat(boxes, dim=0), torch.cat(image_inds, dim=0)
    scale_picks = torch.cat(scale_picks, dim=0)
    boxes, image_inds = boxes[scale_picks], image_inds[scale_picks]
    pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
    boxes, image_inds = boxes[pick], image_inds[pick]
    regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack([boxes[:, 0] + boxes[:, 5] * regw, boxes[:, 1] + boxes[:, 6] * regh,
                         boxes[:, 2] + boxes[:, 7] * regw, boxes[:, 3] + boxes[:, 8] * regh,
                         boxes[:, 4]]).permute(1, 0)
    boxes = rerec(boxes)

    def windows(boxes, image_inds, size):
        y, ey, x, ex = pad(boxes, w, h)
        ok = (ey > y - 1) & (ex > x - 1)
        if not ok.all():  # upstream skips an empty window (its batch then no longer lines up)
            raise Unsupported("an empty MTCNN candidate window")
        f = image_inds.numpy().astype(np.int64)
        crops = area_windows(ii, f, (y - 1).astype(np.int64), ey.astype(np.int64),
                             (x - 1).astype(np.int64), ex.astype(np.int64), size, size)
        return _normalised(crops)

    # Second stage: R-Net on each candidate's 24x24 window
    if len(boxes) > 0:
        out = fixed_batch_process(windows(boxes, image_inds, 24), rnet)
        out0, out1 = out[0].permute(1, 0), out[1].permute(1, 0)
        score = out1[1, :]
        ipass = score > threshold[1]
        boxes = torch.cat((boxes[ipass, :4], score[ipass].unsqueeze(1)), dim=1)
        image_inds = image_inds[ipass]
        mv = out0[:, ipass].permute(1, 0)
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes, image_inds, mv = boxes[pick], image_inds[pick], mv[pick]
        boxes = bbreg(boxes, mv)
        boxes = rerec(boxes)

    # Third stage: O-Net on 48x48 windows, landmarks, "Min" NMS
    points = torch.zeros(0, 5, 2)
    if len(boxes) > 0:
        out = fixed_batch_process(windows(boxes, image_inds, 48), onet)
        out0, out1, out2 = out[0].permute(1, 0), out[1].permute(1, 0), out[2].permute(1, 0)
        score = out2[1, :]
        points = out1
        ipass = score > threshold[2]
        points = points[:, ipass]
        boxes = torch.cat((boxes[ipass, :4], score[ipass].unsqueeze(1)), dim=1)
        image_inds = image_inds[ipass]
        mv = out0[:, ipass].permute(1, 0)
        w_i = boxes[:, 2] - boxes[:, 0] + 1
        h_i = boxes[:, 3] - boxes[:, 1] + 1
        points_x = w_i.repeat(5, 1) * points[:5, :] + boxes[:, 0].repeat(5, 1) - 1
        points_y = h_i.repeat(5, 1) * points[5:10, :] + boxes[:, 1].repeat(5, 1) - 1
        points = torch.stack((points_x, points_y)).permute(2, 1, 0)
        boxes = bbreg(boxes, mv)
        pick = batched_nms_numpy(boxes[:, :4], boxes[:, 4], image_inds, 0.7, "Min")
        boxes, image_inds, points = boxes[pick], image_inds[pick], points[pick]

    boxes, points, image_inds = boxes.numpy(), points.numpy(), image_inds.numpy()
    per_boxes, per_points = [], []
    for b_i in range(n):
        sel = np.where(image_inds == b_i)
        per_boxes.append(boxes[sel].copy())
        per_points.append(points[sel].copy())
    return per_boxes, per_points
