"""pixelsmith-dcgan: a DCGAN generator plugin (component ``dcgan``)."""

from .model import DCGANDiscriminator, DCGANGenerator
from .plugin import DCGAN, train

__all__ = ["DCGAN", "DCGANGenerator", "DCGANDiscriminator", "train"]
