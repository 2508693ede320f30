"""Procedural image generators registered by the built-in plugin (``dead-leaves``).

They need no weights and no data: they exist to make training and test images with known
statistics, and to show in ``pixelsmith plugins``, the bench's sample grids and the docs what a
restorer is trained on. The generator's latent vector is the image's seed.
"""

from __future__ import annotations

from typing import Any

import torch

from .components import Generator
from .data.dead_leaves import DeadLeavesOptions, dead_leaves, parse_dead_leaves_options

__all__ = ["DeadLeavesGenerator"]


class DeadLeavesGenerator(Generator):
    """Dead-leaves images (see :mod:`pixelsmith.data.dead_leaves`); options as keyword arguments,
    e.g. ``pixelsmith.generator("dead-leaves", size=64, channels=1, rmin=2)``."""

    latent_dim = 1

    def __init__(self, device: str | torch.device | None = None, **options: Any) -> None:
        super().__init__(device)
        self.options: DeadLeavesOptions = parse_dead_leaves_options(
            {k: v for k, v in options.items()}, **({} if "channels" in options else {"channels": 3}))
        self.output_shape = (self.options.channels, self.options.size, self.options.size)

    @property
    def settings(self) -> dict[str, Any]:
        return dict(vars(self.options))

    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        # one image per latent, seeded by the latent's bits: the same seed gives the same images,
        # and an image does not depend on the others in its batch
        seeds = (z[:, 0].double().cpu() * 2**40).round().long().remainder(2**62).tolist()
        images = [dead_leaves(1, self.options, generator=torch.Generator(device=self.device).manual_seed(int(s)),
                              device=self.device) for s in seeds]
        return torch.cat(images) if images else torch.empty(0, *self.output_shape, device=self.device)
