"""The real face photos behind the synthetic speakers, framed and landmarked once, as constants.

Photos ship inside installed packages: scikit-image's ``astronaut`` and ``lfw_subset`` (Labeled
Faces in the Wild, 25x25 grey) and matplotlib's ``grace_hopper``. Each entry of ``PHOTOS``
holds where the square portrait frame lies in the source photo and 38 named landmarks of the
framed face, in units of the frame. They were measured by :func:`measure` (the project's MTCNN
for the frame, then the MediaPipe face mesh on the face256 crop) and written here rounded, so
that rendering never runs a detector: frames cannot depend on torch's thread count or any other
process state (MTCNN's float landmarks feeding the warps were the suspected cause of a full
test session rendering other frames than a fresh process). ``tests/test_synth.py`` checks that
MTCNN still agrees with the table.

The entry at index i is speaker i's face. In the MEAD layout speakers 0, 1, 4, 5 are the test
actors M003, W009, M030, W015: they get the photos on which the offline classifier reads the
rendered expressions best, and every face's gender matches its actor and voice. ``rest``
brings a photo to a neutral rest before any emotion (the astronaut's smile relaxed and her lips
closed; a faint frown relaxed).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from eadbench.errors import ConfigError

#: landmark name -> MediaPipe face-mesh index. "l" and "r" are the image's left and right.
MESH_POINTS = {
    "eye_l_out": 33, "eye_l_in": 133, "lid_l_up": 159, "lid_l_lo": 145,
    "eye_r_in": 362, "eye_r_out": 263, "lid_r_up": 386, "lid_r_lo": 374,
    "brow_l_out": 70, "brow_l_mid": 105, "brow_l_in": 107, "brow_r_in": 336, "brow_r_mid": 334,
    "brow_r_out": 300, "forehead": 151, "glabella": 9, "nasion": 168, "nose_tip": 1, "subnasale": 2,
    "ala_l": 98, "ala_r": 327, "cheek_l": 205, "cheek_r": 425, "cheekbone_l": 50, "cheekbone_r": 280,
    "fold_l": 216, "fold_r": 436, "mouth_l": 61, "mouth_r": 291, "lip_up_out": 0, "lip_up_in": 13,
    "lip_lo_in": 14, "lip_lo_out": 17, "sulcus": 18, "chin_boss": 199, "chin": 152, "jaw_l": 172,
    "jaw_r": 397,
}
NAMES = tuple(MESH_POINTS)


@dataclass(frozen=True)
class Photo:
    key: str  # "astronaut", "grace_hopper" or "lfw<j>"
    gender: str
    frame: tuple[float, float, float]  # x0, y0, side of the square portrait frame, source pixels
    points: tuple[tuple[int, int], ...]  # landmarks in NAMES order, units of 1/1000 of the frame
    rest: tuple[tuple[str, float], ...] = ()  # action units that bring the photo to a neutral rest

    @property
    def upscale(self) -> float:
        """Source pixels per pixel of the original photo (LFW faces are upscaled 6x)."""
        return 6.0 if self.key.startswith("lfw") else 1.0

    @property
    def source(self) -> str:
        if self.key.startswith("lfw"):
            return f"skimage.data.lfw_subset[{int(self.key[3:])}]"
        return {"astronaut": "skimage.data.astronaut",
                "grace_hopper": "matplotlib sample_data/grace_hopper.jpg"}[self.key]


def _soft_background(img: np.ndarray, pad: int) -> np.ndarray:
    """Embed a tight face crop in a blurred, feathered surround instead of streaky edge copies."""
    big = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    bg = cv2.GaussianBlur(big, (0, 0), 18)
    mask = np.zeros(big.shape[:2], np.float32)
    mask[pad + 8:-pad - 8, pad + 8:-pad - 8] = 1
    mask = cv2.GaussianBlur(mask, (0, 0), 8)[..., None]
    return (big * mask + bg * (1 - mask)).astype(np.uint8)


@lru_cache(maxsize=16)
def load_source(key: str) -> np.ndarray:
    """The source photo as RGB uint8 (LFW faces upscaled, faintly tinted, in a soft surround);
    cached, so read-only."""
    img = _load(key)
    img.setflags(write=False)
    return img


def _load(key: str) -> np.ndarray:
    if key == "astronaut":
        import skimage.data

        return np.array(skimage.data.astronaut())
    if key == "grace_hopper":
        import matplotlib.cbook
        from PIL import Image

        with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as im:
            return np.array(im.convert("RGB"))
    if key.startswith("lfw"):
        import skimage.data

        grey = (skimage.data.lfw_subset()[int(key[3:])] * 255).astype(np.uint8)
        grey = cv2.resize(grey, (150, 150), interpolation=cv2.INTER_CUBIC)
        rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
        # a faint warm tint: LFW subset faces are grey
        rgb = np.clip(rgb.astype(np.float32) * np.array([1.06, 1.0, 0.92]), 0, 255).astype(np.uint8)
        return _soft_background(rgb, 60)
    raise ConfigError(f"unknown synthetic face photo {key!r}")


def framed(key: str, frame: tuple[float, float, float], size: int) -> np.ndarray:
    x0, y0, side = frame
    k = size / side
    m = np.array([[k, 0, -x0 * k], [0, k, -y0 * k]])
    return cv2.warpAffine(load_source(key), m, (size, size), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)


def measure(key: str, gender: str = "?") -> Photo:
    """Frame a photo around its MTCNN face (face ~55% of the frame) and landmark it with the mesh.

    Used to write ``PHOTOS``; runs the detectors at a fixed torch thread count.
    """
    import torch

    from eadbench.faces import CROP_PROTOCOLS, detect_faces
    from eadbench.nets.face_mesh import face_mesh

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        src = load_source(key)
        found = detect_faces(src)
        if not found:
            raise ConfigError(f"no face found in photo {key!r}")
        b = found[0].box
        side = 1.8 * max(b[2] - b[0], b[3] - b[1])
        x0, y0 = (b[0] + b[2]) / 2 - side / 2, (b[1] + b[3]) / 2 - side / 2 + 0.03 * side
        frame = (round(float(x0), 1), round(float(y0), 1), round(float(side), 1))
        img = framed(key, frame, 1000)
        b = detect_faces(img)[0].box
        cx, cy, s = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, max(b[2] - b[0], b[3] - b[1]) / 2
        crop = CROP_PROTOCOLS.get("face256").crop(img, cx, cy, s)
        mesh = face_mesh()(crop) * (3 * s / 256) + np.array([cx - 1.5 * s, cy - 1.5 * s])
    finally:
        torch.set_num_threads(threads)
    points = tuple((int(round(mesh[i, 0])), int(round(mesh[i, 1]))) for i in MESH_POINTS.values())
    return Photo(key, gender, frame, points)
#: measured with ``measure`` (see the module docstring); order = speaker index
PHOTOS: tuple[Photo, ...] = (
    Photo("lfw90", "male", (-18.5, -0.7, 277.2), (
        (399, 407), (484, 406), (438, 391), (443, 416), (583, 400), (658, 393), (624, 381), (623, 406),
        (360, 360), (417, 329), (498, 330), (579, 327), (647, 319), (686, 346), (537, 282), (540, 332),
        (541, 383), (558, 513), (550, 535), (497, 534), (593, 529), (423, 532), (651, 519), (393, 508),
        (672, 493), (434, 581), (640, 569), (464, 615), (609, 607), (549, 581), (546, 602), (547, 619),
        (548, 650), (546, 669), (548, 716), (545, 753), (353, 661), (679, 639),
    )),
    Photo("grace_hopper", "female", (66.2, 43.1, 397.6), (
        (333, 377), (434, 375), (377, 362), (385, 385), (565, 367), (663, 360), (619, 349), (614, 373),
        (290, 333), (346, 304), (444, 306), (550, 300), (645, 289), (700, 313), (495, 250), (498, 307),
        (500, 355), (508, 496), (506, 516), (439, 511), (572, 504), (359, 506), (648, 491), (328, 480),
        (675, 463), (372, 556), (638, 543), (412, 589), (601, 580), (508, 565), (508, 585), (509, 588),
        (510, 620), (511, 643), (513, 697), (514, 736), (308, 625), (699, 605),
    )),
    Photo("lfw98", "male", (-17.1, -4.5, 280.9), (
        (380, 405), (475, 413), (421, 390), (429, 421), (585, 412), (671, 403), (635, 389), (629, 420),
        (341, 350), (399, 326), (489, 337), (586, 337), (665, 327), (707, 350), (538, 285), (538, 341),
        (537, 398), (544, 554), (538, 569), (481, 559), (588, 557), (401, 544), (654, 541), (371, 514),
        (679, 511), (413, 593), (639, 590), (448, 625), (604, 623), (536, 613), (533, 631), (533, 632),
        (532, 661), (530, 678), (528, 725), (524, 755), (335, 641), (678, 633),
    )),
    Photo("astronaut", "female", (125.5, 24.1, 197.8), (
        (338, 384), (437, 394), (383, 372), (389, 397), (560, 400), (658, 399), (615, 384), (606, 408),
        (302, 331), (360, 304), (453, 315), (554, 320), (645, 319), (699, 350), (507, 265), (504, 321),
        (501, 376), (494, 528), (492, 544), (423, 526), (562, 531), (338, 511), (645, 524), (312, 480),
        (673, 495), (345, 553), (634, 565), (366, 579), (611, 588), (490, 580), (489, 594), (488, 633),
        (487, 662), (485, 684), (483, 733), (481, 768), (292, 639), (675, 655),
    ), rest=(("12", -0.7),)),
    Photo("lfw42", "male", (-7.5, -9.9, 284.4), (
        (321, 422), (398, 412), (352, 402), (358, 427), (501, 397), (590, 384), (545, 373), (545, 400),
        (284, 383), (319, 347), (389, 338), (471, 323), (557, 307), (624, 333), (425, 281), (429, 334),
        (436, 384), (433, 515), (444, 540), (401, 543), (501, 533), (338, 546), (579, 519), (315, 525),
        (609, 491), (353, 596), (572, 573), (389, 626), (536, 611), (447, 589), (453, 611), (454, 613),
        (457, 643), (464, 668), (470, 724), (481, 769), (328, 685), (687, 656),
    )),
    Photo("lfw46", "female", (0.1, 12.1, 252.9), (
        (343, 423), (430, 420), (376, 404), (386, 433), (540, 406), (633, 388), (590, 377), (587, 408),
        (302, 378), (342, 349), (423, 348), (518, 335), (608, 315), (668, 334), (466, 290), (470, 345),
        (477, 398), (482, 550), (488, 567), (438, 563), (545, 552), (370, 557), (620, 531), (343, 531),
        (648, 499), (387, 606), (610, 583), (424, 637), (575, 622), (491, 615), (495, 634), (496, 634),
        (499, 664), (503, 681), (508, 729), (515, 760), (351, 657), (697, 626),
    ), rest=(("4", -0.6), ("15", -0.4))),
    Photo("lfw7", "male", (-10.8, 2.0, 276.7), (
        (345, 405), (434, 409), (380, 389), (391, 419), (542, 402), (633, 387), (593, 376), (586, 407),
        (305, 356), (349, 334), (433, 340), (528, 333), (614, 316), (669, 334), (477, 284), (480, 341),
        (484, 395), (489, 557), (492, 569), (440, 560), (546, 554), (371, 546), (618, 532), (344, 516),
        (645, 499), (386, 595), (607, 584), (422, 629), (572, 621), (493, 615), (495, 632), (496, 634),
        (498, 664), (500, 680), (503, 726), (507, 756), (338, 635), (682, 619),
    )),
    Photo("lfw93", "female", (-15.0, -4.4, 276.5), (
        (365, 419), (459, 422), (405, 404), (414, 430), (576, 418), (667, 407), (627, 395), (621, 422),
        (324, 370), (377, 345), (466, 351), (564, 348), (649, 335), (701, 356), (513, 296), (516, 353),
        (518, 405), (527, 554), (526, 569), (465, 558), (584, 554), (386, 548), (658, 538), (358, 520),
        (683, 508), (399, 592), (648, 583), (432, 618), (615, 612), (527, 610), (526, 626), (527, 631),
        (528, 659), (529, 680), (532, 730), (533, 763), (344, 654), (702, 639),
    ), rest=(("12", -0.7),)),
    Photo("lfw15", "male", (1.1, 15.5, 242.0), (
        (384, 405), (480, 405), (423, 387), (436, 415), (589, 395), (675, 377), (638, 367), (632, 396),
        (335, 362), (393, 336), (486, 338), (579, 330), (660, 313), (709, 329), (528, 277), (534, 338),
        (539, 390), (564, 555), (559, 568), (496, 558), (613, 547), (414, 546), (679, 522), (382, 517),
        (700, 487), (428, 595), (672, 572), (467, 623), (639, 607), (562, 614), (561, 628), (561, 620),
        (564, 646), (564, 667), (568, 722), (568, 759), (351, 655), (725, 620),
    )),
    Photo("lfw17", "male", (30.3, 35.2, 207.5), (
        (323, 352), (427, 351), (370, 335), (377, 361), (549, 348), (643, 343), (602, 329), (598, 355),
        (273, 308), (340, 274), (441, 276), (539, 275), (625, 270), (678, 299), (486, 224), (491, 280),
        (495, 331), (517, 476), (511, 499), (443, 495), (569, 490), (351, 491), (645, 481), (315, 464),
        (670, 451), (365, 546), (637, 535), (405, 581), (604, 573), (514, 548), (513, 569), (514, 588),
        (517, 620), (516, 645), (521, 701), (520, 749), (271, 642), (699, 622),
    )),
    Photo("lfw3", "male", (-11.3, 4.0, 271.0), (
        (367, 409), (454, 409), (404, 395), (412, 417), (562, 404), (646, 398), (608, 386), (603, 409),
        (329, 367), (380, 342), (463, 344), (551, 341), (630, 332), (680, 354), (505, 291), (507, 346),
        (509, 392), (514, 530), (513, 546), (457, 538), (567, 535), (384, 531), (635, 523), (358, 506),
        (659, 496), (394, 577), (624, 570), (426, 605), (590, 601), (512, 590), (511, 607), (511, 611),
        (512, 638), (513, 661), (515, 713), (516, 750), (335, 646), (684, 634),
    )),
    Photo("lfw92", "male", (-1.9, 17.3, 242.8), (
        (372, 413), (464, 406), (410, 393), (418, 419), (578, 392), (668, 378), (626, 367), (625, 395),
        (327, 373), (376, 341), (463, 337), (557, 325), (643, 309), (701, 329), (504, 279), (511, 335),
        (518, 383), (534, 524), (536, 544), (480, 544), (592, 531), (405, 543), (664, 514), (374, 520),
        (690, 484), (423, 594), (657, 567), (463, 626), (622, 607), (541, 593), (543, 614), (544, 616),
        (548, 647), (551, 668), (557, 720), (562, 759), (365, 666), (737, 628),
    )),
    Photo("lfw24", "male", (-20.8, 0.3, 275.7), (
        (392, 404), (477, 406), (431, 390), (436, 413), (580, 405), (659, 401), (624, 388), (620, 412),
        (356, 360), (411, 333), (492, 337), (574, 338), (647, 332), (691, 358), (533, 289), (534, 341),
        (533, 388), (540, 521), (535, 541), (479, 534), (585, 533), (406, 527), (649, 525), (380, 501),
        (672, 499), (414, 574), (639, 572), (445, 604), (607, 603), (533, 584), (531, 603), (532, 609),
        (532, 637), (531, 661), (531, 713), (529, 752), (343, 652), (687, 646),
    )),
    Photo("lfw54", "male", (-24.5, -13.5, 299.9), (
        (361, 411), (441, 414), (393, 397), (402, 424), (541, 409), (625, 396), (587, 386), (582, 414),
        (325, 362), (363, 337), (438, 342), (528, 336), (608, 322), (657, 342), (480, 296), (483, 343),
        (487, 397), (492, 543), (496, 557), (448, 550), (547, 544), (385, 538), (613, 525), (360, 511),
        (638, 496), (400, 583), (605, 572), (434, 614), (576, 606), (499, 599), (501, 616), (502, 618),
        (504, 645), (506, 658), (510, 699), (514, 725), (364, 620), (672, 607),
    )),
    Photo("lfw26", "male", (-4.4, 10.5, 252.5), (
        (329, 414), (428, 408), (372, 396), (380, 421), (550, 398), (642, 389), (600, 377), (599, 403),
        (280, 368), (339, 330), (436, 326), (534, 319), (620, 309), (675, 337), (479, 270), (486, 327),
        (491, 379), (514, 522), (512, 547), (444, 546), (571, 536), (359, 547), (646, 523), (325, 522),
        (670, 494), (374, 598), (640, 576), (413, 627), (607, 611), (515, 597), (515, 618), (517, 621),
        (521, 652), (523, 679), (529, 740), (532, 786), (303, 695), (703, 661),
    )),
    Photo("lfw72", "male", (-16.0, -5.8, 283.2), (
        (351, 408), (443, 411), (390, 392), (398, 420), (556, 406), (645, 396), (606, 383), (601, 412),
        (313, 356), (364, 329), (451, 334), (547, 330), (631, 318), (681, 342), (498, 281), (499, 336),
        (500, 390), (504, 541), (503, 557), (445, 549), (559, 545), (369, 538), (631, 530), (342, 511),
        (657, 500), (381, 585), (619, 578), (415, 615), (584, 610), (502, 601), (501, 619), (502, 621),
        (502, 649), (503, 669), (504, 720), (504, 753), (325, 645), (675, 633),
    )),
)

