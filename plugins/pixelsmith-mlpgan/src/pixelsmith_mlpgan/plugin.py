"""Registers the ``mlp-gan`` and ``mlp-gan-cond`` generators: shipped MNIST weights, and
``pixelsmith train mlp-gan|mlp-gan-cond``.

Every weights file written by the trainer stores its architecture (``model_config`` metadata), so
``pixelsmith.generator("mlp-gan", weights="runs/x/generator.safetensors")`` rebuilds whatever was
trained (any size, 1 or 3 channels, any width).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pixelsmith
from pixelsmith.errors import TrainingError
from pixelsmith.training.options import declare_options, gan_options
from pixelsmith.training.gan_weights import (TrainedGANGenerator, architecture_options,
                                             split_architecture_options)

from .model import MLPDiscriminator, MLPGenerator

__all__ = ["MLPGAN", "ConditionalMLPGAN", "train", "train_conditional", "export", "SHIPPED_WEIGHTS",
           "CONDITIONAL_WEIGHTS", "MODEL_DEFAULTS", "CONDITIONAL_DEFAULTS"]

__version__ = "0.1.0"

#: Architecture options (``extra`` keys of ``pixelsmith train mlp-gan``) and their defaults.
MODEL_DEFAULTS: dict[str, int] = {"latent_dim": 100, "image_size": 28, "channels": 1, "hidden": 256}

#: The class-conditional variant's (``mlp-gan-cond``) options: the same, and the number of classes.
CONDITIONAL_DEFAULTS: dict[str, int] = {**MODEL_DEFAULTS, "num_classes": 10}

#: The ``model_config`` keys :class:`MLPGenerator` takes.
_GENERATOR_KEYS = ("latent_dim", "image_size", "channels", "hidden", "num_classes")

_WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED_WEIGHTS = pixelsmith.WeightsFile(
    _WEIGHTS_DIR / "mlp-gan-mnist.safetensors",
    "eb971a0da92a76ab01546f1118c75523bb9a499cb36608ac622872feb1f77503",
)
CONDITIONAL_WEIGHTS = pixelsmith.WeightsFile(
    _WEIGHTS_DIR / "mlp-gan-cond-mnist.safetensors",
    "db0c0e70ebf561ea643de0a2a95e0b0e444baa861ab5a894ccd8996356dc9e05",
)


class MLPGAN(TrainedGANGenerator):
    """A trained MLP-GAN generator; ``weights`` None loads the shipped MNIST weights (sha256-checked).

    ``weights`` may also be a ``generator.safetensors`` or a training checkpoint (its EMA generator).
    """

    component = "mlp-gan"
    model_name = "an MLP-GAN"
    shipped_weights = SHIPPED_WEIGHTS
    arch_keys = _GENERATOR_KEYS
    network = MLPGenerator

    def export_graph(self, *, inputs: tuple[str, ...] = (), channels: int | None = None) -> Any:
        """The export graph (:mod:`pixelsmith.export`): ``z`` (and ``labels`` when class-conditional) → images."""
        from pixelsmith.export import generator_graph

        return generator_graph(self, self.net, inputs=inputs, channels=channels)


class ConditionalMLPGAN(MLPGAN):
    """The class-conditional MLP-GAN (Mirza & Osindero 2014): ``sample(n, seed, labels=...)``; without
    labels, image ``i`` is of class ``i % 10``."""

    component = "mlp-gan-cond"
    model_name = "a class-conditional MLP-GAN"
    shipped_weights = CONDITIONAL_WEIGHTS
    class_conditional = True


def _train(config: Any, *, conditional: bool) -> Path:
    from pixelsmith.training.gan import train_gan

    config, arch = split_architecture_options(config, CONDITIONAL_DEFAULTS if conditional else MODEL_DEFAULTS)
    num_classes = arch.get("num_classes", 0)

    def build_generator() -> MLPGenerator:
        return MLPGenerator(arch["latent_dim"], arch["image_size"], arch["channels"], arch["hidden"], num_classes)

    try:  # say what is wrong with the options before any data is loaded
        if conditional and num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        build_generator()
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    return train_gan(
        config, component="mlp-gan-cond" if conditional else "mlp-gan",
        build_generator=build_generator,
        build_discriminator=lambda: MLPDiscriminator(arch["image_size"], arch["channels"], arch["hidden"],
                                                     num_classes=num_classes),
        latent_dim=arch["latent_dim"], image_size=arch["image_size"], channels=arch["channels"],
        conditional=conditional, model_config=arch,
        defaults={"num_classes": num_classes} if conditional else None,
    )


def train(config: Any) -> Path:
    """``pixelsmith train mlp-gan``: the shared GAN trainer with fully connected networks.

    Architecture via ``extra``: ``hidden``, ``latent_dim``, ``image_size``, ``channels``.
    """
    return _train(config, conditional=False)


def train_conditional(config: Any) -> Path:
    """``pixelsmith train mlp-gan-cond``: as :func:`train`, conditioned on the labels (MNIST, IDX with
    labels); ``num_classes`` (10) in ``extra``."""
    return _train(config, conditional=True)


# the key=value options each trainer takes, checked by `pixelsmith train` before any work
declare_options(train, gan_options(MODEL_DEFAULTS))
declare_options(train_conditional, gan_options(CONDITIONAL_DEFAULTS))


def export(checkpoint: str | Path, out: str | Path, *, half: bool = False) -> str:
    """Write a checkpoint's EMA generator as a shippable weights file (float16 storage with ``half``);
    returns its sha256."""
    from pixelsmith.training.gan import export_generator

    return export_generator(checkpoint, out, lambda cfg: MLPGenerator(**architecture_options(cfg, _GENERATOR_KEYS)),
                            half=half)


@pixelsmith.hookimpl
def pixelsmith_register_generators() -> list[pixelsmith.GeneratorSpec]:
    return [pixelsmith.GeneratorSpec(
        name="mlp-gan",
        factory=MLPGAN,
        summary="Fully connected GAN (Goodfellow et al. 2014) trained on the 5,000-digit MNIST subset",
        version=__version__,
        output_shape=(1, 28, 28),
        weights=SHIPPED_WEIGHTS,
        train=train,
    ), pixelsmith.GeneratorSpec(
        name="mlp-gan-cond",
        factory=ConditionalMLPGAN,
        summary="class-conditional MLP GAN (Mirza & Osindero 2014; projection discriminator) on the "
                "5,000-digit MNIST subset; sample(n, labels=...)",
        version=__version__,
        output_shape=(1, 28, 28),
        weights=CONDITIONAL_WEIGHTS,
        train=train_conditional,
        conditional=True,
    )]
