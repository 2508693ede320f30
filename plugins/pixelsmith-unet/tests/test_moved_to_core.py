"""The residual U-Net and its restorer base moved to core (pixelsmith.nn, through pixelsmith.plugin);
the old import paths of this plugin still give the same objects (run folders, third-party code)."""

from __future__ import annotations

import pixelsmith.plugin as plugin


def test_old_import_paths_are_core_objects():
    from pixelsmith_unet import ResidualUNetRestorer, UNet
    from pixelsmith_unet.export import ResidualUNetGraph, _graph, _image_input, network_for
    from pixelsmith_unet.model import CONFIG_SCHEMA, DEFAULT_UNSHUFFLE, DEFAULT_WIDTHS
    from pixelsmith_unet.model import UNet as ModelUNet
    from pixelsmith_unet.restorer import ResidualUNetRestorer as OldRestorer
    from pixelsmith_unet.restorer import packaged_weights, per_image

    assert UNet is ModelUNet is plugin.UNet
    assert ResidualUNetRestorer is OldRestorer is plugin.ResidualUNetRestorer
    assert ResidualUNetGraph is plugin.ResidualUNetGraph and network_for is plugin.network_for
    assert _graph is plugin.residual_unet_graph and _image_input is plugin.image_input
    assert packaged_weights is plugin.packaged_weights and per_image is plugin.per_image
    assert CONFIG_SCHEMA is plugin.UNET_CONFIG_SCHEMA
    assert (DEFAULT_WIDTHS, DEFAULT_UNSHUFFLE) == (plugin.DEFAULT_WIDTHS, plugin.DEFAULT_UNSHUFFLE)


def test_the_shipped_network_loads_into_the_core_class():
    from pixelsmith_unet.denoise import UNetDenoiser

    restorer = UNetDenoiser(device="cpu", colour_weights="per-channel")
    assert type(restorer.model) is plugin.UNet
    assert isinstance(restorer, plugin.ResidualUNetRestorer)
