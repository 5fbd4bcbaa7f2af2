"""LPIPS (lpips 0.1.4) with the AlexNet backbone from the weight store.

lpips would download torchvision's ``alexnet-owt-7be5be79.pth``; instead the network is built
with a random backbone and the located, verified AlexNet state dict is loaded into its slices
(lpips keeps torchvision's ``features`` layer indices). The v0.1 linear layers ship in the
lpips wheel and are loaded by lpips itself.
"""

from __future__ import annotations

import torch

from eadbench.weights import WeightStore


def _build(store: WeightStore) -> torch.nn.Module:
    import lpips

    alex = store.state_dict("alexnet")
    net = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
    own = net.net.state_dict()
    net.net.load_state_dict({k: alex["features." + k.split(".", 1)[1]] for k in own})
    return net


def lpips_alex(store: WeightStore | None = None) -> torch.nn.Module:
    """LPIPS-Alex v0.1, once per process and device: ``net(x, y)`` on (N, 3, H, W) in [-1, 1]."""
    store = store or WeightStore()
    return store.network("lpips-alex-v0.1", ("alexnet",), _build)
