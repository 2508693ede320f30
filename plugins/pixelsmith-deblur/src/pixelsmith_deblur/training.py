"""``pixelsmith train deblur``: the recipe for the core restoration trainer."""

from __future__ import annotations

from pathlib import Path

from pixelsmith.plugin import (
    DEFAULT_UNSHUFFLE,
    DEFAULT_WIDTHS,
    RESTORATION_OPTIONS,
    Option,
    TrainConfig,
    UNet,
    declare_options,
)

from .deblur import prepare_deblur_input

__all__ = ["deblur_recipe", "train_deblur"]


def deblur_recipe(config: TrainConfig):
    from pixelsmith.plugin import RestorationRecipe

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


#: What ``part=`` trains: the deblurring network, the blind kernel estimator that feeds it, or the
#: plug-and-play prior fine-tuned through the unrolled deconvolution.
PARTS = ("restorer", "kernel-estimator", "pnp-prior")


def train_deblur(config: TrainConfig) -> Path:
    """Train the deblurring network (``<out>/restorer.safetensors``); with ``part=kernel-estimator``,
    the blind kernel estimator (``<out>/kernel-estimator.safetensors``); with ``part=pnp-prior``, the
    plug-and-play prior (``<out>/pnp-prior.safetensors``, :mod:`.prior_training`)."""
    from pixelsmith.plugin import TrainingError, train_restorer

    part = str((config.extra or {}).get("part", "restorer"))
    if part not in PARTS:
        raise TrainingError(f"part={part!r} is not one of {PARTS}")
    if part == "kernel-estimator":
        from .kernel_training import train_kernel_estimator

        return train_kernel_estimator(config)
    if part == "pnp-prior":
        from .prior_training import train_pnp_prior

        return train_pnp_prior(config)
    return train_restorer(config, deblur_recipe(config))


#: The ``key=value`` options of ``pixelsmith train deblur`` (checked before any work).
OPTIONS = {
    **RESTORATION_OPTIONS,
    "part": Option("str", "what to train", choices=PARTS),
    "init": Option("str", "a weights file to start from, of what part= trains (the restorer, a kernel estimator of "
                   "the same shape, or the plug-and-play prior)"),
    "widths": Option("ints", "channels per U-Net scale, e.g. 32,64,128,256", low=1, high=4096),
    "unshuffle": Option("int", "pixel-unshuffle factor", low=1, high=16),
    "width": Option("int", "kernel estimator width (part=kernel-estimator)", low=8, high=1024),
    "iterations": Option("int", "unrolled plug-and-play iterations (part=pnp-prior)", low=1, high=100),
    "blocks": Option("int", "residual blocks per U-Net scale of the plug-and-play prior (part=pnp-prior; default 1; "
                     "an init= file with fewer is deepened by identity blocks)", low=1, high=8),
    "kernel_error": Option("float", "share of samples given a slightly wrong kernel (part=pnp-prior)", low=0, high=1),
    "no_blur": Option("float", "share of samples left sharp, teaching a 'none' family (part=kernel-estimator)",
                      low=0, high=1),
    "heavy_noise": Option("float", "share of samples given noise up to 0.2 (part=kernel-estimator)", low=0, high=1),
    "constructions": Option("str", "blurs drawn: the deblurring draw, or all five kernel constructions "
                            "(part=kernel-estimator)", choices=("training", "all")),
    "shake_side": Option("int", "largest camera-shake kernel side, odd (part=kernel-estimator constructions=all; "
                         "default 25)", low=9, high=63),
    "shake_path": Option("float", "longest camera-shake path in px (part=kernel-estimator constructions=all; "
                         "default 30)", low=8, high=200),
    "noise_max": Option("float", "largest noise σ of the training blurs, above 0 (part=pnp-prior; default 0.03)",
                        low=0, high=0.5),
}
declare_options(train_deblur, OPTIONS)
