"""dcgan and dcgan-cond: the shared GAN plugin tests (pixelsmith.testing.gan) with tiny DCGAN networks."""

from __future__ import annotations

from pixelsmith.testing.gan import GANPluginTests
from pixelsmith_dcgan.plugin import DCGAN, ConditionalDCGAN


class TestDCGAN(GANPluginTests):
    generator = DCGAN
    conditional = ConditionalDCGAN
    tiny = {"ngf": "8", "ndf": "8"}
    invalid_architecture = ({"image_size": "48"}, "image_size")
