"""pytorch-fid's InceptionV3 (the FID network) with the FID weights from the weight store.

pytorch-fid builds the network and downloads ``pt_inception-2015-12-05-6726825d.pth`` itself;
here its download call is pointed at the located, verified file for the duration of the build,
so nothing is ever downloaded and a missing file is one clear message. Output: the 2048-d pool3
features; inputs in [0, 1], resized to 299 bilinearly inside the network (pytorch-fid's resize).
"""

from __future__ import annotations

import torch

from eadbench.weights import WeightStore


def _build(store: WeightStore) -> torch.nn.Module:
    import pytorch_fid.inception as pi

    state = store.state_dict("inception-fid")
    original = pi.load_state_dict_from_url
    pi.load_state_dict_from_url = lambda *a, **k: state  # never download: use the located file
    try:
        return pi.InceptionV3([pi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    finally:
        pi.load_state_dict_from_url = original


def fid_inception(store: WeightStore | None = None) -> torch.nn.Module:
    """The FID InceptionV3, once per process and device."""
    store = store or WeightStore()
    return store.network("inception-fid", ("inception-fid",), _build)
