"""scikit-image's bundled natural photographs, split into the project's training and test sets.

``camera``, ``moon``, ``coins`` and ``chelsea`` (also shipped as ``cat``: the same picture) are the
project's test split: no shipped model is ever trained on them.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..errors import InvalidInputError
from ..tensors import as_image_batch

__all__ = ["TRAIN_PHOTOS", "TEST_SPLIT", "load_photo", "training_photos", "test_photos"]

#: Natural photographs bundled with scikit-image, used for training restorers.
TRAIN_PHOTOS = (
    "astronaut", "brick", "cell", "clock", "coffee", "grass", "gravel", "hubble_deep_field",
    "immunohistochemistry", "page", "retina", "rocket", "text",
)
#: The project's test split (never trained on).
TEST_SPLIT = ("camera", "moon", "coins", "chelsea")
_ALIASES = {"cat": "chelsea"}


def load_photo(name: str, *, channels: int = 1) -> torch.Tensor:
    """One bundled photograph as a ``1×C×H×W`` float32 tensor in [0, 1] (C = 1 gray, 3 RGB)."""
    import skimage.color
    import skimage.data

    key = _ALIASES.get(name, name)
    if key not in TRAIN_PHOTOS + TEST_SPLIT:
        raise InvalidInputError(
            f"unknown photograph {name!r}; choose from {', '.join(TRAIN_PHOTOS + TEST_SPLIT)}"
        )
    if channels not in (1, 3):
        raise InvalidInputError(f"channels must be 1 or 3, got {channels}")
    img = getattr(skimage.data, key)()
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if channels == 1 and img.ndim == 3:
        img = (skimage.color.rgb2gray(img) * 255.0).round().astype(np.uint8)
    elif channels == 3 and img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return as_image_batch(img, name=key)


def training_photos(*, channels: int = 1) -> list[torch.Tensor]:
    """The training photographs (never the test split)."""
    return [load_photo(n, channels=channels) for n in TRAIN_PHOTOS]


def test_photos(*, channels: int = 1, size: int | None = 256) -> dict[str, torch.Tensor]:
    """The test split, each centre-cropped to ``size``×``size`` (None: full image)."""
    out = {}
    for name in TEST_SPLIT:
        img = load_photo(name, channels=channels)
        if size is not None:
            h, w = img.shape[-2:]
            s = min(size, h, w)
            top, left = (h - s) // 2, (w - s) // 2
            img = img[..., top:top + s, left:left + s].contiguous()
        out[name] = img
    return out


test_photos.__test__ = False  # a data loader, not a test: keep pytest from collecting it where imported
