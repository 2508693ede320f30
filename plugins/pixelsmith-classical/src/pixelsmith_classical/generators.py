"""A trivial generator so the generative table has a floor: independent per-pixel Gaussians.

It knows the mean and standard deviation of every pixel over the real digits and nothing about
how pixels go together, so any generator worth its training time must beat it on every metric.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from pixelsmith import Generator

__all__ = ["PixelMeanGenerator"]

_cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
_lock = threading.Lock()


def _pixel_stats() -> tuple[torch.Tensor, torch.Tensor]:
    # computed once per process from the default MNIST subset (no weights file to ship or trust)
    with _lock:
        if "mnist" not in _cache:
            from pixelsmith.plugin import load_mnist

            images, _ = load_mnist()
            _cache["mnist"] = (images.mean(0), images.std(0))
        return _cache["mnist"]


class PixelMeanGenerator(Generator):
    """Samples ``clamp(mean + std · z)`` per pixel, with ``z`` the 784-dim latent."""

    output_shape = (1, 28, 28)
    latent_dim = 28 * 28

    def __init__(self, device: Any = None) -> None:
        super().__init__(device)
        mean, std = _pixel_stats()
        self.mean = mean.to(self.device)
        self.std = std.to(self.device)

    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return (self.mean + self.std * z.view(-1, *self.output_shape)).clamp(0, 1)
