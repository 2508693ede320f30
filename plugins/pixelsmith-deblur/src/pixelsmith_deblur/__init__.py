"""pixelsmith-deblur: a learned deblurring model (Gaussian and motion blur with noise), component ``deblur``."""

from __future__ import annotations

from pixelsmith.plugin import RestorerSpec, hookimpl

from .deblur import (COLLAPSED_SPREAD, FREE_SHAPE_BELOW, SEARCHED_SIGMA_FACTOR, SHAKE_CHECK_MAX_NOISE,
                     SHAKE_CHECK_RESIDUAL, SHAKE_CHECK_SPREAD, Deblurrer, interior_residual, is_unsure_reading)
from .kernel_estimator import KernelEstimate, blur_spectrum
from .kernel_refine import kernel_spread
from .l0_kernel import estimate_kernel_l0
from .spectral_blur import fit_anisotropic_gaussian, fit_line, gaussian_from_spectrum, spectral_misfit, welch_spectrum
from .training import train_deblur
from .wiener import wiener_deconvolve

__version__ = "0.1.0"
__all__ = ["Deblurrer", "KernelEstimate", "blur_spectrum", "wiener_deconvolve", "__version__",
           # the free-shape kernel search of blind restores, the factor on a searched kernel's prior levels, when the
           # search counts as collapsed (RMS radius, kernel_spread) and which readings it runs on
           "estimate_kernel_l0", "SEARCHED_SIGMA_FACTOR", "COLLAPSED_SPREAD", "kernel_spread", "FREE_SHAPE_BELOW",
           "is_unsure_reading",
           # the check of a confident straight line against a search: thresholds, and the residual it compares
           "SHAKE_CHECK_SPREAD", "SHAKE_CHECK_RESIDUAL", "SHAKE_CHECK_MAX_NOISE", "interior_residual",
           # blur read from the power spectrum (not used by blind restores; see the model card)
           "welch_spectrum", "fit_anisotropic_gaussian", "fit_line", "gaussian_from_spectrum", "spectral_misfit"]


@hookimpl
def pixelsmith_register_restorers() -> list[RestorerSpec]:
    return [
        RestorerSpec(
            name="deblur",
            factory=Deblurrer,
            summary=("Deblurring of any blur kernel with noise: plug-and-play with the unet-denoise prior "
                     "(or method=network, a U-Net); blind (estimates the kernel) or kernel="),
            version=__version__,
            tasks=("deblur",),
            channels=(1, 3),
            accepts=("kernel", "estimate_kernel", "sigma"),
            weights=Deblurrer.weights_file,
            train=train_deblur,
        ),
    ]
