"""Moved to core: the restorer around a residual U-Net is :class:`pixelsmith.nn.ResidualUNetRestorer`
(``from pixelsmith.plugin import ResidualUNetRestorer, packaged_weights, per_image``), shared with
pixelsmith-deblur. The names stay importable from here for code written against this module."""

from typing import Callable

import torch

from pixelsmith.plugin import ResidualUNetRestorer, packaged_weights, per_image

__all__ = ["ResidualUNetRestorer", "packaged_weights", "per_image"]

Prepare = Callable[[torch.Tensor, torch.Tensor, list], torch.Tensor]
