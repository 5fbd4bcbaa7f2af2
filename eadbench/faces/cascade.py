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
Everything else (P-Net, R-Net, O-Net, their thresholds, NMS, box regression) follows
facenet-pytorch's code step for step, with the same torch operations on tensors of the same values
and memory layout (the networks are ``eadbench.nets.mtcnn``'s, layer for layer facenet-pytorch's;
NMS is torchvision's ``batched_nms`` rule over eadbench's NMS kernel, which is what serves
torchvision's on this project's CPU torch). Each frame's integral image is made
once (a few ms) and every pyramid level and every candidate window is then a handful of lookups.
"""

from __future__ import annotations

import numpy as np

from eadbench._torchvision import greedy_keep

#: integral images of a group of frames held at once (int32, 3 channels; one buffer, kept for the
#: next group); a group is at most BATCH frames, as facenet-pytorch's callers batch them, and
#: fewer for large frames (15 of 590², 2 of 1080x1920)
GROUP_BYTES = 64 * 1024 * 1024
BATCH = 32


class Unsupported(ValueError):
    """A case this re-implementation leaves to facenet-pytorch (callers fall back to it)."""




def _integrals(imgs: np.ndarray) -> np.ndarray:
    """The integral images of a group of frames, in this thread's buffer reused from call to call (a
    fresh 64 MB array per group costs more in page faults than the sums themselves)."""
    n, (h, w) = len(imgs), imgs[0].shape[:2]
    buf = _buffer("integral", (n, h + 1, w + 1, 3), np.int32)
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
                 c1: np.ndarray, oh: int, ow: int, scratch: bool = False) -> np.ndarray:
    """Area resampling (``interpolate(mode="area")``, bit for bit) of K regions to (K, oh, ow, 3)
    float32: region k is rows ``r0[k]:r1[k]``, columns ``c0[k]:c1[k]`` of frame ``frame[k]`` of the
    stacked integral images ``ii`` (G, H+1, W+1, 3). ``scratch``: the result lives in this
    thread's reusable buffer (valid until the next call; no fresh pages for every window)."""
    rs, re = _windows(r0, r1 - r0, oh)
    cs, ce = _windows(c0, c1 - c0, ow)
    g, h1, w1 = ii.shape[:3]
    k = len(frame)
    flat = ii.reshape(g * h1 * w1, 3)  # a pixel's three sums are one row: one lookup fetches them
    base = (frame.astype(np.int64) * h1)[:, None]
    re_, rs_ = ((base + re) * w1)[:, :, None], ((base + rs) * w1)[:, :, None]
    ce_, cs_ = ce[:, None, :], cs[:, None, :]
    idx = _buffer("index", (k, oh, ow), np.int64)
    part = _buffer("part", (k, oh, ow, 3), np.int32)
    total = _buffer("sum", (k, oh, ow, 3), np.int32)
    # int32 throughout: every partial result lies in (-2**31, 2**31)
    np.take(flat, np.add(re_, ce_, out=idx), axis=0, out=total, mode="clip")  # indices are in range
    total -= np.take(flat, np.add(rs_, ce_, out=idx), axis=0, out=part, mode="clip")
    total -= np.take(flat, np.add(re_, cs_, out=idx), axis=0, out=part, mode="clip")
    total += np.take(flat, np.add(rs_, cs_, out=idx), axis=0, out=part, mode="clip")
    out = _buffer("area", (k, oh, ow, 3), np.float32) if scratch else np.empty((k, oh, ow, 3), np.float32)
    np.copyto(out, total)  # exact: window sums are below 2**24
    out /= (re - rs).astype(np.float32)[:, :, None, None]  # torch's sum / kh / kw, the same two roundings
    out /= (ce - cs).astype(np.float32)[:, None, :, None]
    return out


def area_frames(ii: np.ndarray, oh: int, ow: int, scratch: bool = False) -> np.ndarray:
    """Area resampling of every whole frame of ``ii`` (G, H+1, W+1, 3) to (G, oh, ow, 3) float32,
    bit for bit as ``interpolate(mode="area")`` (one pyramid level)."""
    g, h, w = ii.shape[0], ii.shape[1] - 1, ii.shape[2] - 1
    zero = np.zeros(g, np.int64)
    return area_windows(ii, np.arange(g), zero, np.full(g, h), zero, np.full(g, w), oh, ow, scratch)


def _normalised(windows: np.ndarray):
    """facenet-pytorch's input scaling ``(x - 127.5) * 0.0078125`` in float32 (in place: the same
    two float32 operations torch does), on an NCHW view of the NHWC data (its pyramid levels'
    layout: channels-last strides, which the convolutions' rounding depends on)."""
    import torch

    windows -= np.float32(127.5)
    windows *= np.float32(0.0078125)
    return torch.from_numpy(windows).permute(0, 3, 1, 2)


def _buffer(name: str, shape: tuple, dtype) -> np.ndarray:
    """This thread's reusable buffer ``name`` (``threads.scratch``) viewed as ``shape``."""
    from eadbench.threads import scratch

    return scratch(f"cascade-{name}", int(np.prod(shape)), dtype).reshape(shape)


def detect_face(imgs, minsize: float, pnet, rnet, onet, threshold, factor):
    """facenet-pytorch's ``detect_face`` (on the CPU; uint8 RGB frames of one size, an (N, H, W, 3)
    array or a list): the same boxes and landmarks (lists with one array per frame), from
    integral images."""
    import torch

    n, (h, w) = len(imgs), imgs[0].shape[:2]
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
        level = area_frames(ii, int(h * scale + 1), int(w * scale + 1), scratch=True)
        reg, probs = pnet(_normalised(level))
        boxes_scale, image_inds_scale = _candidates(reg, probs[:, 1], scale, threshold[0])
        boxes.append(boxes_scale)
        image_inds.append(image_inds_scale)
        pick = _batched_nms(boxes_scale[:, :4], boxes_scale[:, 4], image_inds_scale, 0.5)
        scale_picks.append(pick + offset)
        offset += boxes_scale.shape[0]
    boxes, image_inds = torch.cat(boxes, dim=0), torch.cat(image_inds, dim=0)
    scale_picks = torch.cat(scale_picks, dim=0)
    boxes, image_inds = boxes[scale_picks], image_inds[scale_picks]
    pick = _batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
    boxes, image_inds = boxes[pick], image_inds[pick]
    regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack([boxes[:, 0] + boxes[:, 5] * regw, boxes[:, 1] + boxes[:, 6] * regh,
                         boxes[:, 2] + boxes[:, 7] * regw, boxes[:, 3] + boxes[:, 8] * regh,
                         boxes[:, 4]]).permute(1, 0)
    boxes = _square(boxes)

    def windows(boxes, image_inds, size):
        y, ey, x, ex = _clip_windows(boxes, w, h)
        ok = (ey > y - 1) & (ex > x - 1)
        if not ok.all():  # upstream skips an empty window (its batch then no longer lines up)
            raise Unsupported("an empty MTCNN candidate window")
        f = image_inds.numpy().astype(np.int64)
        crops = area_windows(ii, f, (y - 1).astype(np.int64), ey.astype(np.int64),
                             (x - 1).astype(np.int64), ex.astype(np.int64), size, size, scratch=True)
        return _normalised(crops)

    # Second stage: R-Net on each candidate's 24x24 window
    if len(boxes) > 0:
        out = _in_batches(windows(boxes, image_inds, 24), rnet)
        out0, out1 = out[0].permute(1, 0), out[1].permute(1, 0)
        score = out1[1, :]
        ipass = score > threshold[1]
        boxes = torch.cat((boxes[ipass, :4], score[ipass].unsqueeze(1)), dim=1)
        image_inds = image_inds[ipass]
        mv = out0[:, ipass].permute(1, 0)
        pick = _batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes, image_inds, mv = boxes[pick], image_inds[pick], mv[pick]
        boxes = _regress(boxes, mv)
        boxes = _square(boxes)

    # Third stage: O-Net on 48x48 windows, landmarks, "Min" NMS
    points = torch.zeros(0, 5, 2)
    if len(boxes) > 0:
        out = _in_batches(windows(boxes, image_inds, 48), onet)
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
        boxes = _regress(boxes, mv)
        pick = _nms_min(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes, image_inds, points = boxes[pick], image_inds[pick], points[pick]

    boxes, points, image_inds = boxes.numpy(), points.numpy(), image_inds.numpy()
    per_boxes, per_points = [], []
    for b_i in range(n):
        sel = np.where(image_inds == b_i)
        per_boxes.append(boxes[sel].copy())
        per_points.append(points[sel].copy())
    return per_boxes, per_points


# -- facenet-pytorch's helper steps, the same torch operations ------------------------------------
def _candidates(reg, probs, scale: float, thresh: float):
    """P-Net cells scoring at least ``thresh`` as (k, 9) boxes (x1, y1, x2, y2, score, 4 offsets) in
    the frame's pixels, and their frames (facenet-pytorch's ``generateBoundingBox``)."""
    import torch

    stride, cellsize = 2, 12
    reg = reg.permute(1, 0, 2, 3)
    mask = probs >= thresh
    mask_inds = mask.nonzero()
    image_inds = mask_inds[:, 0]
    score = probs[mask]
    reg = reg[:, mask].permute(1, 0)
    bb = mask_inds[:, 1:].type(reg.dtype).flip(1)
    q1 = ((stride * bb + 1) / scale).floor()
    q2 = ((stride * bb + cellsize - 1 + 1) / scale).floor()
    return torch.cat([q1, q2, score.unsqueeze(1), reg], dim=1), image_inds


def _regress(boxes, reg):
    """Boxes moved by the network's offsets (facenet-pytorch's ``bbreg``), in place."""
    import torch

    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    b1 = boxes[:, 0] + reg[:, 0] * w
    b2 = boxes[:, 1] + reg[:, 1] * h
    b3 = boxes[:, 2] + reg[:, 2] * w
    b4 = boxes[:, 3] + reg[:, 3] * h
    boxes[:, :4] = torch.stack([b1, b2, b3, b4]).permute(1, 0)
    return boxes


def _square(boxes):
    """Boxes made square around their centres, side the longer one (``rerec``), in place."""
    import torch

    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2:4] = boxes[:, :2] + side.repeat(2, 1).permute(1, 0)
    return boxes


def _clip_windows(boxes, w: int, h: int):
    """Integer windows (1-based starts) clipped to the frame (``pad``): y, ey, x, ex."""
    b = boxes.trunc().int().cpu().numpy()
    x, y, ex, ey = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    x[x < 1] = 1
    y[y < 1] = 1
    ex[ex > w] = w
    ey[ey > h] = h
    return y, ey, x, ex


def _in_batches(windows, net, size: int = 512):
    """``net`` over ``windows`` in batches of 512, outputs concatenated (``fixed_batch_process``)."""
    import torch

    out = [net(windows[i:i + size]) for i in range(0, len(windows), size)]
    return tuple(torch.cat(v, dim=0) for v in zip(*out))


def _batched_nms(boxes, scores, idxs, threshold: float):
    """torchvision's ``batched_nms`` (kept indices by decreasing score; no box suppresses a box of
    another frame) as it runs on this project's CPU torch: up to 4000 coordinates, one NMS over
    boxes offset apart by frame; above, one NMS per frame on the raw boxes; the kernel is
    ``eadbench._torchvision.greedy_keep``. Computed frame by frame either way (the offsets keep
    frames apart, so the kept set is the same; each frame's greedy pass reads the same IoU values
    in the same order), so the cost grows with the boxes per frame, not with the batch. (The
    offsets could let a box partly at negative coordinates touch one of the previous frame's
    near the largest coordinate, a cross-frame suppression per-frame NMS does not make; no
    frame of the real clips measured has one, ``benchmarks/cascade_compare.py``.)"""
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    if boxes.numel() <= 4000:
        boxes = boxes + (idxs.to(boxes) * (boxes.max() + 1))[:, None]
    b = boxes.double().numpy()
    frames = idxs.numpy()
    order = np.argsort(-scores.double().numpy(), kind="stable")
    kept = np.zeros(len(order), dtype=bool)
    for f in np.unique(frames):
        mine = order[frames[order] == f]  # this frame's boxes, best first (ties: lower index first)
        kept[mine[greedy_keep(b[mine], threshold)]] = True
    return torch.as_tensor(order[kept[order]], dtype=torch.int64)


def _nms_min(boxes, scores, idxs, threshold: float):
    """facenet-pytorch's last NMS (``batched_nms_numpy`` with the "Min" overlap: intersection over
    the smaller box), per frame by the same coordinate offsets."""
    import torch

    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    b = (boxes + (idxs.to(boxes) * (boxes.max() + 1))[:, None]).numpy()
    s = scores.numpy()
    x1, y1, x2, y2 = (b[:, i].copy() for i in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s)
    pick = []
    while order.size > 0:
        i = order[-1]
        pick.append(i)
        rest = order[:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        overlap = w * h / np.minimum(area[i], area[rest])
        order = rest[np.where(overlap <= threshold)]
    return torch.as_tensor(np.asarray(pick, dtype=np.int64), dtype=torch.long)
