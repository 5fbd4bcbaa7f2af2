"""MTCNN face detector (facenet-pytorch 2.6.0; its P/R/O-Net weights ship inside the wheel).

facenet-pytorch calls ``torchvision.ops.batched_nms``. Where torchvision's compiled ops cannot
load (a CPU torch beside the registry's CUDA torchvision, see ``eadbench._torchvision``), that
operator is served by eadbench's plain-torch NMS and torchvision's op guard is lifted; on a
machine whose torchvision works nothing is touched.
"""

from __future__ import annotations

from eadbench.errors import WeightsMissingError
from eadbench.weights import WeightStore

NAME = "mtcnn-facenet-pytorch-2.6.0"
WEIGHTS = ("mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet")


def patch_torchvision_ops() -> None:
    """Lift torchvision's compiled-op guard when eadbench's fallback NMS serves the op."""
    import eadbench._torchvision as tvpatch

    tvpatch.ensure_torchvision_importable()
    if tvpatch.PATCHED:
        import torchvision.ops.boxes as tv_boxes

        tv_boxes._assert_has_ops = lambda: None


def _build(store: WeightStore):
    patch_torchvision_ops()
    try:
        from facenet_pytorch import MTCNN
    except ImportError as exc:
        raise WeightsMissingError(f"face detector unavailable: cannot import facenet_pytorch ({exc}); "
                                  "pip install --no-deps facenet-pytorch==2.6.0") from None
    return MTCNN(keep_all=True, device=store.device, post_process=False, select_largest=False)


def mtcnn(store: WeightStore | None = None):
    """facenet-pytorch's MTCNN (keep every face, raw boxes), once per process and device; its
    three weight files are located and hash-checked first (a clear message when missing)."""
    store = store or WeightStore()
    return store.network(NAME, WEIGHTS, _build, to_device=False)
