"""Networks shared by plugins, public (re-exported by :mod:`pixelsmith.plugin`).

The residual U-Net and the restorer around it serve ``unet-denoise`` (pixelsmith-unet) and ``deblur``
(pixelsmith-deblur), so neither plugin needs the other:

- :class:`UNet`: the network (``UNet(in_channels, out_channels, widths, blocks, unshuffle)``,
  ``UNet.from_config(model_config)``); ``UNET_CONFIG_SCHEMA`` checks a weights file's ``model_config``.
- :class:`ResidualUNetRestorer`: a :class:`~pixelsmith.Restorer` running ``x + unet(prepare(x))``
  with padding, gray/colour handling, tiling, autocast and self-ensemble; subclasses set
  ``weights_file`` and implement ``prepare`` (or ``conditioning`` + ``stack``).
- :class:`ResidualUNetGraph`, :func:`network_for`, :func:`image_input`, :func:`residual_unet_graph`:
  the pieces of such a restorer's export graph (:mod:`pixelsmith.export`).
"""

from .graph import ResidualUNetGraph, image_input, network_for, residual_unet_graph
from .restorer import ResidualUNetRestorer, per_image
from .unet import CONFIG_SCHEMA as UNET_CONFIG_SCHEMA
from .unet import DEFAULT_UNSHUFFLE, DEFAULT_WIDTHS, UNet

__all__ = ["UNet", "DEFAULT_WIDTHS", "DEFAULT_UNSHUFFLE", "UNET_CONFIG_SCHEMA", "ResidualUNetRestorer", "per_image",
           "ResidualUNetGraph", "network_for", "image_input", "residual_unet_graph"]
