"""pixelsmith-unet: a blind U-Net Gaussian denoiser (``unet-denoise``, gray and colour).

``UNetImpulse`` (a U-Net on a switching-median estimate for salt-and-pepper noise) is not registered:
measured on the test split and the procedural set it never beat the switching median it starts from
by the required 0.5 dB (−0.04 to +0.06 dB at 10, 30 and 50 %), so the classical ``median`` restorer
serves the impulse task. The class and its weights stay importable so that measurement can be rerun
(``python benchmarks/restoration_quality.py --only impulse``).
"""

from __future__ import annotations

from pixelsmith.plugin import Exporter, ResidualUNetRestorer, RestorerSpec, UNet, hookimpl

from .denoise import UNetDenoiser, UNetImpulse, prepare_impulse_input, prepare_level_input
from .export import export_denoise
from .training import train_denoise

__version__ = "0.1.0"
# UNet and ResidualUNetRestorer live in core (pixelsmith.nn, through pixelsmith.plugin) and stay importable here
__all__ = ["UNet", "UNetDenoiser", "UNetImpulse", "ResidualUNetRestorer", "prepare_level_input",
           "prepare_impulse_input", "__version__"]


@hookimpl
def pixelsmith_register_restorers() -> list[RestorerSpec]:
    return [
        RestorerSpec(
            name="unet-denoise",
            factory=UNetDenoiser,
            summary="U-Net Gaussian denoiser (σ 0–55/255), gray and joint colour; blind (patch-PCA σ estimate) "
                    "or with a known sigma=",
            version=__version__,
            tasks=("denoise",),
            channels=(1, 3),
            accepts=("sigma",),
            weights=UNetDenoiser.weights_file,
            train=train_denoise,
            export=Exporter(export_denoise, inputs=("sigma",)),
        ),
    ]
