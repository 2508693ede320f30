"""Registers the ``dcgan`` generator: shipped MNIST weights, and ``pixelsmith train dcgan``.

Every weights file written by the trainer stores its architecture (``model_config`` metadata), so
``pixelsmith.generator("dcgan", weights="runs/x/generator.safetensors")`` rebuilds whatever was
trained (28/32/64 px, 1 or 3 channels, any width).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pixelsmith
from pixelsmith.errors import TrainingError
from pixelsmith.training.options import declare_options, gan_options
from pixelsmith.training.gan_weights import (TrainedGANGenerator, architecture_options,
                                             split_architecture_options)

from .model import DCGANDiscriminator, DCGANGenerator

__all__ = ["DCGAN", "ConditionalDCGAN", "train", "train_conditional", "export", "SHIPPED_WEIGHTS",
           "CONDITIONAL_WEIGHTS", "MODEL_DEFAULTS", "CONDITIONAL_DEFAULTS"]

__version__ = "0.1.0"

#: Architecture options (``extra`` keys of ``pixelsmith train dcgan``) and their defaults.
MODEL_DEFAULTS: dict[str, int] = {"latent_dim": 100, "image_size": 28, "channels": 1, "ngf": 32, "ndf": 32}

#: The class-conditional variant's (``dcgan-cond``) options: the same, and the number of classes.
CONDITIONAL_DEFAULTS: dict[str, int] = {**MODEL_DEFAULTS, "num_classes": 10}

#: The ``model_config`` keys :class:`DCGANGenerator` takes.
_GENERATOR_KEYS = ("latent_dim", "image_size", "channels", "ngf", "num_classes")

_WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED_WEIGHTS = pixelsmith.WeightsFile(
    _WEIGHTS_DIR / "dcgan-mnist.safetensors",
    "a24aefc5489323fbd3d3c096f2110521f0038fc1f1ec487b194193150f94dd50",
)
CONDITIONAL_WEIGHTS = pixelsmith.WeightsFile(
    _WEIGHTS_DIR / "dcgan-cond-mnist.safetensors",
    "747019636b8d054dfe27de5d8c5b936314cf1f13dda0baa5b825e494d826849e",
)


class DCGAN(TrainedGANGenerator):
    """A trained DCGAN generator; ``weights`` None loads the shipped MNIST weights (sha256-checked).

    ``weights`` may also be a ``generator.safetensors`` or a training checkpoint (its EMA generator).
    """

    component = "dcgan"
    model_name = "a DCGAN"
    shipped_weights = SHIPPED_WEIGHTS
    arch_keys = _GENERATOR_KEYS
    network = DCGANGenerator

    def export_graph(self, *, inputs: tuple[str, ...] = (), channels: int | None = None) -> Any:
        """The export graph (:mod:`pixelsmith.export`): ``z`` (and ``labels`` when class-conditional) → images."""
        from pixelsmith.export import generator_graph

        return generator_graph(self, self.net, inputs=inputs, channels=channels)


class ConditionalDCGAN(DCGAN):
    """The class-conditional DCGAN: ``sample(n, seed, labels=...)``; without labels, image ``i`` is
    of class ``i % 10``."""

    component = "dcgan-cond"
    model_name = "a class-conditional DCGAN"
    shipped_weights = CONDITIONAL_WEIGHTS
    class_conditional = True


def _train(config: Any, *, conditional: bool) -> Path:
    from pixelsmith.training.gan import train_gan

    config, arch = split_architecture_options(config, CONDITIONAL_DEFAULTS if conditional else MODEL_DEFAULTS)
    num_classes = arch.get("num_classes", 0)
    try:  # say what is wrong with the options before any data is loaded
        if conditional and num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        DCGANGenerator(arch["latent_dim"], arch["image_size"], arch["channels"], arch["ngf"], num_classes)
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    return train_gan(
        config, component="dcgan-cond" if conditional else "dcgan",
        build_generator=lambda: DCGANGenerator(arch["latent_dim"], arch["image_size"], arch["channels"], arch["ngf"],
                                               num_classes),
        build_discriminator=lambda: DCGANDiscriminator(arch["image_size"], arch["channels"], arch["ndf"], num_classes),
        latent_dim=arch["latent_dim"], image_size=arch["image_size"], channels=arch["channels"],
        conditional=conditional, model_config=arch,
        defaults={"num_classes": num_classes} if conditional else None,
    )


def train(config: Any) -> Path:
    """``pixelsmith train dcgan``: the shared GAN trainer with DCGAN networks.

    Architecture via ``extra``: ``image_size`` (28/32/64), ``channels`` (1/3), ``ngf``, ``ndf``, ``latent_dim``.
    """
    return _train(config, conditional=False)


def train_conditional(config: Any) -> Path:
    """``pixelsmith train dcgan-cond``: as :func:`train`, conditioned on the labels (MNIST, IDX with labels);
    ``num_classes`` (10) in ``extra``."""
    return _train(config, conditional=True)


# the key=value options each trainer takes, checked by `pixelsmith train` before any work
declare_options(train, gan_options(MODEL_DEFAULTS))
declare_options(train_conditional, gan_options(CONDITIONAL_DEFAULTS))


def export(checkpoint: str | Path, out: str | Path) -> str:
    """Write a checkpoint's EMA generator as a shippable weights file; returns its sha256."""
    from pixelsmith.training.gan import export_generator

    return export_generator(checkpoint, out, lambda cfg: DCGANGenerator(**architecture_options(cfg, _GENERATOR_KEYS)))


@pixelsmith.hookimpl
def pixelsmith_register_generators() -> list[pixelsmith.GeneratorSpec]:
    return [pixelsmith.GeneratorSpec(
        name="dcgan",
        factory=DCGAN,
        summary="DCGAN (Radford et al. 2016) trained on the 5,000-digit MNIST subset; retrain on any image folder",
        version=__version__,
        output_shape=(1, 28, 28),
        weights=SHIPPED_WEIGHTS,
        train=train,
    ), pixelsmith.GeneratorSpec(
        name="dcgan-cond",
        factory=ConditionalDCGAN,
        summary="class-conditional DCGAN (projection discriminator) on the 5,000-digit MNIST subset; "
                "sample(n, labels=...)",
        version=__version__,
        output_shape=(1, 28, 28),
        weights=CONDITIONAL_WEIGHTS,
        train=train_conditional,
        conditional=True,
    )]
