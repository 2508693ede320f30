"""Moved to core: the residual U-Net is :class:`pixelsmith.nn.UNet` (``from pixelsmith.plugin import UNet``),
shared with pixelsmith-deblur. The names stay importable from here for code and run folders written
against this module; the state-dict keys are unchanged."""

from pixelsmith.plugin import DEFAULT_UNSHUFFLE, DEFAULT_WIDTHS, UNet
from pixelsmith.plugin import UNET_CONFIG_SCHEMA as CONFIG_SCHEMA

__all__ = ["UNet", "DEFAULT_WIDTHS", "DEFAULT_UNSHUFFLE", "CONFIG_SCHEMA"]
