"""Registers the ``mlp-gan`` and ``mlp-gan-cond`` generators: shipped MNIST weights, and
``pixelsmith train mlp-gan|mlp-gan-cond``.

The networks are this plugin's (:mod:`.model`); loading weights, training, export and registration
come from pixelsmith's GAN scaffolding (:class:`pixelsmith.plugin.TrainedGANGenerator`).
Every weights file written by the trainer stores its architecture (``model_config`` metadata), so
``pixelsmith.generator("mlp-gan", weights="runs/x/generator.safetensors")`` rebuilds whatever was
trained (any size, 1 or 3 channels, any width).
"""

from __future__ import annotations

from pathlib import Path

from pixelsmith.plugin import GeneratorSpec, TrainedGANGenerator, WeightsFile, hookimpl

from .model import MLPDiscriminator, MLPGenerator

__all__ = ["MLPGAN", "ConditionalMLPGAN", "train", "train_conditional", "export", "SHIPPED_WEIGHTS",
           "CONDITIONAL_WEIGHTS", "MODEL_DEFAULTS"]

__version__ = "0.1.0"

#: Architecture options (``key=value`` of ``pixelsmith train mlp-gan``; ``mlp-gan-cond`` adds ``num_classes``).
MODEL_DEFAULTS: dict[str, int] = {"latent_dim": 100, "image_size": 28, "channels": 1, "hidden": 256}

_WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED_WEIGHTS = WeightsFile(
    _WEIGHTS_DIR / "mlp-gan-mnist.safetensors",
    "b362e23f93adb1c7dbf083b28ee10b8e0bfd2382c422e51334d756e1b70cce67",
)
CONDITIONAL_WEIGHTS = WeightsFile(
    _WEIGHTS_DIR / "mlp-gan-cond-mnist.safetensors",
    "16c877d74850eac42adfc332ffa5d6bb642546dcbe33e6a191197adaf466154c",
)


class MLPGAN(TrainedGANGenerator):
    """A trained MLP-GAN generator; ``weights`` None loads the shipped MNIST weights (sha256-checked).

    ``weights`` may also be a ``generator.safetensors`` or a training checkpoint (its EMA generator).
    """

    component = "mlp-gan"
    model_name = "an MLP-GAN"
    summary = ("Fully connected GAN (Goodfellow et al. 2014) on the 5,000-digit MNIST subset, self-conditioned on "
               "50 unlabelled clusters (Liu et al. 2020)")
    version = __version__
    shipped_weights = SHIPPED_WEIGHTS
    network = MLPGenerator
    discriminator = MLPDiscriminator
    model_defaults = MODEL_DEFAULTS


class ConditionalMLPGAN(MLPGAN):
    """The class-conditional MLP-GAN (Mirza & Osindero 2014): ``sample(n, seed, labels=...)``; without
    labels, image ``i`` is of class ``i % 10``."""

    component = "mlp-gan-cond"
    model_name = "a class-conditional MLP-GAN"
    summary = ("class-conditional MLP GAN (Mirza & Osindero 2014; projection discriminator) on the "
               "5,000-digit MNIST subset; sample(n, labels=...)")
    shipped_weights = CONDITIONAL_WEIGHTS
    class_conditional = True


#: ``pixelsmith train mlp-gan`` / ``mlp-gan-cond`` (architecture via ``key=value``: hidden, latent_dim,
#: image_size, channels; num_classes for mlp-gan-cond), and the checkpoint export (``half=True``: float16).
train, train_conditional = MLPGAN.train_function(), ConditionalMLPGAN.train_function()
export = MLPGAN.export_checkpoint


@hookimpl
def pixelsmith_register_generators() -> list[GeneratorSpec]:
    return [MLPGAN.generator_spec(), ConditionalMLPGAN.generator_spec()]
