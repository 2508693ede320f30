"""Registers the ``dcgan`` and ``dcgan-cond`` generators: shipped MNIST weights, and
``pixelsmith train dcgan|dcgan-cond``.

The networks are this plugin's (:mod:`.model`); loading weights, training, export and registration
come from pixelsmith's GAN scaffolding (:class:`pixelsmith.plugin.TrainedGANGenerator`).
Every weights file written by the trainer stores its architecture (``model_config`` metadata), so
``pixelsmith.generator("dcgan", weights="runs/x/generator.safetensors")`` rebuilds whatever was
trained (28/32/64 px, 1 or 3 channels, any width).
"""

from __future__ import annotations

from pathlib import Path

from pixelsmith.plugin import GeneratorSpec, TrainedGANGenerator, WeightsFile, hookimpl

from .model import DCGANDiscriminator, DCGANGenerator

__all__ = ["DCGAN", "ConditionalDCGAN", "train", "train_conditional", "export", "SHIPPED_WEIGHTS",
           "CONDITIONAL_WEIGHTS", "MODEL_DEFAULTS"]

__version__ = "0.1.0"

#: Architecture options (``key=value`` of ``pixelsmith train dcgan``; ``dcgan-cond`` adds ``num_classes``).
MODEL_DEFAULTS: dict[str, int] = {"latent_dim": 100, "image_size": 28, "channels": 1, "ngf": 32, "ndf": 32}

_WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED_WEIGHTS = WeightsFile(
    _WEIGHTS_DIR / "dcgan-mnist.safetensors",
    "fd46bfd60db56585f2152cfcf26e9bedc65303acd2be9d5408641169b5defda6",
)
CONDITIONAL_WEIGHTS = WeightsFile(
    _WEIGHTS_DIR / "dcgan-cond-mnist.safetensors",
    "747019636b8d054dfe27de5d8c5b936314cf1f13dda0baa5b825e494d826849e",
)


class DCGAN(TrainedGANGenerator):
    """A trained DCGAN generator; ``weights`` None loads the shipped MNIST weights (sha256-checked).

    ``weights`` may also be a ``generator.safetensors`` or a training checkpoint (its EMA generator).
    """

    component = "dcgan"
    model_name = "a DCGAN"
    summary = ("DCGAN (Radford et al. 2016) on the 5,000-digit MNIST subset, self-conditioned on 50 unlabelled "
               "clusters (Liu et al. 2020); retrain on any image folder")
    version = __version__
    shipped_weights = SHIPPED_WEIGHTS
    network = DCGANGenerator
    discriminator = DCGANDiscriminator
    model_defaults = MODEL_DEFAULTS


class ConditionalDCGAN(DCGAN):
    """The class-conditional DCGAN: ``sample(n, seed, labels=...)``; without labels, image ``i`` is
    of class ``i % 10``."""

    component = "dcgan-cond"
    model_name = "a class-conditional DCGAN"
    summary = "class-conditional DCGAN (projection discriminator) on the 5,000-digit MNIST subset; sample(n, labels=...)"
    shipped_weights = CONDITIONAL_WEIGHTS
    class_conditional = True


#: ``pixelsmith train dcgan`` / ``dcgan-cond`` (architecture via ``key=value``: image_size 28/32/64,
#: channels 1/3, ngf, ndf, latent_dim; num_classes for dcgan-cond), and the checkpoint export.
train, train_conditional = DCGAN.train_function(), ConditionalDCGAN.train_function()
export = DCGAN.export_checkpoint


@hookimpl
def pixelsmith_register_generators() -> list[GeneratorSpec]:
    return [DCGAN.generator_spec(), ConditionalDCGAN.generator_spec()]
