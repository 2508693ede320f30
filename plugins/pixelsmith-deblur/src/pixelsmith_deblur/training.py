"""``pixelsmith train deblur``: the recipe for the core restoration trainer."""

from __future__ import annotations

from pathlib import Path

from pixelsmith.training import TrainConfig
from pixelsmith_unet.model import DEFAULT_UNSHUFFLE, DEFAULT_WIDTHS, UNet

from .deblur import prepare_deblur_input

__all__ = ["deblur_recipe", "train_deblur"]


def deblur_recipe(config: TrainConfig):
    from pixelsmith.training.restoration import RestorationRecipe

    extra = config.extra or {}
    widths = tuple(int(w) for w in str(extra["widths"]).replace(",", " ").split()) if "widths" in extra \
        else DEFAULT_WIDTHS
    return RestorationRecipe(
        component="deblur",
        task="deblur",
        make_model=lambda: UNet(in_channels=3, out_channels=1, widths=widths,
                                unshuffle=int(extra.get("unshuffle", DEFAULT_UNSHUFFLE))),
        prepare=prepare_deblur_input,
        channels=1,
        patch=int(extra.get("patch", 64)),
        known_prob=float(extra.get("known_prob", 0.5)),
        metadata={"widths": ",".join(map(str, widths))},
    )


def train_deblur(config: TrainConfig) -> Path:
    """Train the deblurring model; writes ``<out>/restorer.safetensors``."""
    from pixelsmith.training.restoration import train_restorer

    return train_restorer(config, deblur_recipe(config))
