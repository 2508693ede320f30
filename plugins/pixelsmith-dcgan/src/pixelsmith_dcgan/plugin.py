"""Registers the ``dcgan`` generator: shipped MNIST weights, and ``pixelsmith train dcgan``.

Every weights file written by the trainer stores its architecture (``model_config`` metadata), so
``pixelsmith.generator("dcgan", weights="runs/x/generator.safetensors")`` rebuilds whatever was
trained (28/32/64 px, 1 or 3 channels, any width).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch

import pixelsmith
from pixelsmith.errors import TrainingError, WeightsError
from pixelsmith.weights import load_into, load_weights, read_metadata

from .model import DCGANDiscriminator, DCGANGenerator

__all__ = ["DCGAN", "train", "export", "SHIPPED_WEIGHTS", "MODEL_DEFAULTS"]

__version__ = "0.1.0"

#: Architecture options (``extra`` keys of ``pixelsmith train dcgan``) and their defaults.
MODEL_DEFAULTS: dict[str, int] = {"latent_dim": 100, "image_size": 28, "channels": 1, "ngf": 32, "ndf": 32}

_WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED_WEIGHTS = pixelsmith.WeightsFile(
    _WEIGHTS_DIR / "dcgan-mnist.safetensors",
    "d4b86a22630babb2d994de71c3b923c5668b732ad6121c68c12366eeb867ecfa",
)


class DCGAN(pixelsmith.Generator):
    """A trained DCGAN generator; ``weights`` None loads the shipped MNIST weights (sha256-checked).

    ``weights`` may also be a ``generator.safetensors`` or a training checkpoint (its EMA generator).
    """

    def __init__(self, device: str | torch.device | None = None, weights: str | Path | None = None,
                 sha256: str | None = None) -> None:
        super().__init__(device)
        if weights is None:
            source: Any = SHIPPED_WEIGHTS
            path = SHIPPED_WEIGHTS.path
        else:
            source, path = Path(weights), Path(weights)
        state = load_weights(source, sha256=sha256)
        meta = read_metadata(path)
        try:
            cfg = json.loads(meta["model_config"])
        except (KeyError, ValueError) as exc:
            raise WeightsError(f"{path} has no usable model_config metadata; it was not written by "
                               "`pixelsmith train dcgan`") from exc
        if cfg.get("conditional"):
            raise WeightsError(f"{path} holds a class-conditional model, which this plugin does not build")
        arch = {k: int(cfg[k]) for k in ("latent_dim", "image_size", "channels", "ngf") if k in cfg}
        try:
            net = DCGANGenerator(**arch)
        except ValueError as exc:
            raise WeightsError(f"{path}: model_config {cfg} is not a DCGAN this plugin can build: {exc}") from exc
        if meta.get("format") == "pixelsmith-checkpoint-1":  # a training checkpoint: its EMA generator
            state = {k[len("G_ema."):]: v for k, v in state.items() if k.startswith("G_ema.")}
        load_into(net, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, source=str(path))
        if meta.get("format") == "pixelsmith-checkpoint-1":
            from pixelsmith.training.gan import recalibrate_batchnorm

            recalibrate_batchnorm(net, net.latent_dim)
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.latent_dim = net.latent_dim
        self.output_shape = (arch.get("channels", 1), arch.get("image_size", 28), arch.get("image_size", 28))
        self.weights_path = path
        self.model_config = cfg

    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.net(z)


def _split_extra(config: Any) -> tuple[Any, dict[str, int]]:
    extra = dict(config.extra)
    arch = dict(MODEL_DEFAULTS)
    for key in MODEL_DEFAULTS:
        if key in extra:
            value = extra.pop(key)
            try:
                arch[key] = int(value)
            except (TypeError, ValueError) as exc:
                raise TrainingError(f"{key}={value!r}: expected an integer") from exc
    return dataclasses.replace(config, extra=extra), arch


def train(config: Any) -> Path:
    """``pixelsmith train dcgan``: the shared GAN trainer with DCGAN networks.

    Architecture via ``extra``: ``image_size`` (28/32/64), ``channels`` (1/3), ``ngf``, ``ndf``, ``latent_dim``.
    """
    from pixelsmith.training.gan import train_gan

    config, arch = _split_extra(config)
    try:  # say what is wrong with the options before any data is loaded
        DCGANGenerator(arch["latent_dim"], arch["image_size"], arch["channels"], arch["ngf"])
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    return train_gan(
        config, component="dcgan",
        build_generator=lambda: DCGANGenerator(arch["latent_dim"], arch["image_size"], arch["channels"], arch["ngf"]),
        build_discriminator=lambda: DCGANDiscriminator(arch["image_size"], arch["channels"], arch["ndf"]),
        latent_dim=arch["latent_dim"], image_size=arch["image_size"], channels=arch["channels"],
        model_config=arch,
    )


def export(checkpoint: str | Path, out: str | Path) -> str:
    """Write a checkpoint's EMA generator as a shippable weights file; returns its sha256."""
    from pixelsmith.training.gan import export_generator

    def build(cfg: dict[str, Any]) -> torch.nn.Module:
        return DCGANGenerator(**{k: int(cfg[k]) for k in ("latent_dim", "image_size", "channels", "ngf") if k in cfg})

    return export_generator(checkpoint, out, build)


def _factory(device: str | torch.device | None = None, weights: str | Path | None = None,
             sha256: str | None = None) -> DCGAN:
    return DCGAN(device=device, weights=weights, sha256=sha256)


@pixelsmith.hookimpl
def pixelsmith_register_generators() -> list[pixelsmith.GeneratorSpec]:
    return [pixelsmith.GeneratorSpec(
        name="dcgan",
        factory=_factory,
        summary="DCGAN (Radford et al. 2016) trained on the 5,000-digit MNIST subset; retrain on any image folder",
        version=__version__,
        output_shape=(1, 28, 28),
        weights=SHIPPED_WEIGHTS,
        train=train,
    )]
