"""pixelsmith-unet: a blind U-Net denoiser (``unet-denoise``) and salt-and-pepper remover (``unet-impulse``)."""

from __future__ import annotations

import pixelsmith
from pixelsmith import RestorerSpec

from .denoise import UNetDenoiser, UNetImpulse
from .model import UNet
from .restorer import ResidualUNetRestorer
from .training import train_denoise, train_impulse

__version__ = "0.1.0"
__all__ = ["UNet", "UNetDenoiser", "UNetImpulse", "ResidualUNetRestorer", "__version__"]


@pixelsmith.hookimpl
def pixelsmith_register_restorers() -> list[RestorerSpec]:
    return [
        RestorerSpec(
            name="unet-denoise",
            factory=UNetDenoiser,
            summary="Blind U-Net Gaussian denoiser (σ 0–55/255), better still with a known sigma=",
            version=__version__,
            tasks=("denoise",),
            channels=(1, 3),
            accepts=("sigma",),
            weights=UNetDenoiser.weights_file,
            train=train_denoise,
        ),
        RestorerSpec(
            name="unet-impulse",
            factory=UNetImpulse,
            summary="U-Net salt-and-pepper (impulse) noise remover on a switching-median estimate, blind",
            version=__version__,
            tasks=("impulse",),
            channels=(1, 3),
            accepts=(),
            weights=UNetImpulse.weights_file,
            train=train_impulse,
        ),
    ]
