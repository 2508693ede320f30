"""``pixelsmith train unet-denoise|unet-impulse``: recipes for the core restoration trainer."""

from __future__ import annotations

from pathlib import Path

from pixelsmith.plugin import RESTORATION_OPTIONS, Option, TrainConfig, TrainingError, declare_options

from .denoise import prepare_impulse_input, prepare_level_input
from .model import DEFAULT_UNSHUFFLE, DEFAULT_WIDTHS, UNet

__all__ = ["denoise_recipe", "impulse_recipe", "train_denoise", "train_impulse"]


def _widths(config: TrainConfig) -> tuple[int, ...]:
    raw = (config.extra or {}).get("widths")
    if raw is None:
        return DEFAULT_WIDTHS
    return tuple(int(w) for w in str(raw).replace(",", " ").split())


def _recipe(component: str, task: str, config: TrainConfig, prepare=prepare_level_input):
    from pixelsmith.plugin import RestorationRecipe

    extra = config.extra or {}
    widths = _widths(config)
    # channels=3 trains a joint colour model (RGB in, RGB residual out) instead of the gray one
    channels = int(extra.get("channels", 1))
    if channels not in (1, 3):
        raise TrainingError(f"channels must be 1 (gray model) or 3 (colour model), got {channels}")
    if task != "denoise" and channels != 1:
        raise TrainingError(f"only unet-denoise has a colour model; {component} is trained on gray images")
    return RestorationRecipe(
        component=component,
        task=task,
        make_model=lambda: UNet(in_channels=channels + 2, out_channels=channels, widths=widths,
                                blocks=int(extra.get("blocks", 1)),
                                unshuffle=int(extra.get("unshuffle", DEFAULT_UNSHUFFLE))),
        prepare=prepare,
        channels=channels,
        patch=int((config.extra or {}).get("patch", 64)),
        known_prob=float((config.extra or {}).get("known_prob", 0.5)),
        metadata={"widths": ",".join(map(str, widths))},
    )


def denoise_recipe(config: TrainConfig):
    return _recipe("unet-denoise", "denoise", config)


def impulse_recipe(config: TrainConfig):
    return _recipe("unet-impulse", "impulse", config, prepare_impulse_input)


def train_denoise(config: TrainConfig) -> Path:
    """Train the blind Gaussian denoiser; writes ``<out>/restorer.safetensors``."""
    from pixelsmith.plugin import train_restorer

    return train_restorer(config, denoise_recipe(config))


#: The ``key=value`` options of ``pixelsmith train unet-denoise`` (checked before any work).
OPTIONS = {
    **RESTORATION_OPTIONS,
    "widths": Option("ints", "channels per U-Net scale, e.g. 32,64,128,256", low=1, high=4096),
    "channels": Option("int", "1: gray network, 3: joint colour network", choices=(1, 3)),
    "blocks": Option("int", "residual blocks per scale", low=1, high=64),
    "unshuffle": Option("int", "pixel-unshuffle factor", low=1, high=16),
}
declare_options(train_denoise, OPTIONS)


def train_impulse(config: TrainConfig) -> Path:
    """Train the salt-and-pepper denoiser; writes ``<out>/restorer.safetensors``."""
    from pixelsmith.plugin import train_restorer

    return train_restorer(config, impulse_recipe(config))


declare_options(train_impulse, OPTIONS)
