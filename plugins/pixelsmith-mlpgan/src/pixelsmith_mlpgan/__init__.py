"""pixelsmith-mlpgan: the fully connected GAN generator plugin (component ``mlp-gan``)."""

from .model import MLPDiscriminator, MLPGenerator
from .plugin import MLPGAN, train

__all__ = ["MLPGAN", "MLPGenerator", "MLPDiscriminator", "train"]
