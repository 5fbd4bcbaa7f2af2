"""HSEmotion (Savchenko) EfficientNet-B0, 8 emotions (AffectNet order), as the hsemotion package
runs it: PIL resize to 224x224, ToTensor, ImageNet mean/std; logits from the model's own
classifier, softmax. The file is a whole pickled model: it is loaded only when its sha256 is
a known one or with --trust-weights (eadbench.weights.files.load_pickled_model)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from eadbench.labels import HSEMOTION8_LABELS, HSEMOTION8_TO_CANONICAL
from eadbench.weights import WeightStore

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def preprocess(faces_rgb: np.ndarray, size: int = 224) -> torch.Tensor:
    imgs = [np.asarray(Image.fromarray(np.ascontiguousarray(f)).resize((size, size), Image.BILINEAR))
            for f in faces_rgb]
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float() / 255.0
    return (x - MEAN) / STD


class HSEmotionClassifier:
    name = "hsemotion-enet-b0-8"
    labels = HSEMOTION8_LABELS
    to_canonical = HSEMOTION8_TO_CANONICAL
    weight_name = "hsemotion-enet-b0-8"

    def __init__(self, store: WeightStore | None = None):
        store = store or WeightStore()
        self.device = store.device
        self.model = store.network(self.name, (self.weight_name,), lambda s: s.pickled_model(self.weight_name))

    def logits(self, faces_rgb: np.ndarray, batch: int = 32) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for i in range(0, len(faces_rgb), batch):
                out.append(self.model(preprocess(faces_rgb[i:i + batch]).to(self.device)).double().cpu().numpy())
        return np.concatenate(out)

    def probs(self, faces_rgb: np.ndarray) -> np.ndarray:
        z = self.logits(faces_rgb)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
