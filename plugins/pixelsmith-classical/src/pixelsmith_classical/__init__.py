"""Classical restoration baselines and a trivial generator, registered as a pixelsmith plugin.

Learned models in the bench are always compared with what a user would pick instead, and the
classical methods get every advantage: the bench hands them the true noise level and blur kernel.
"""

from .generators import PixelMeanGenerator
from .restorers import (
    BilateralRestorer,
    BM3DRestorer,
    MedianRestorer,
    NLMeansRestorer,
    RichardsonLucyRestorer,
    TVRestorer,
    WaveletRestorer,
    WienerRestorer,
    bm3d_available,
    bm3d_profile,
)
from .tv_deconv import TVDeconvRestorer, tv_deconvolve

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "NLMeansRestorer",
    "TVRestorer",
    "WaveletRestorer",
    "BilateralRestorer",
    "MedianRestorer",
    "WienerRestorer",
    "RichardsonLucyRestorer",
    "TVDeconvRestorer",
    "tv_deconvolve",
    "BM3DRestorer",
    "PixelMeanGenerator",
    "bm3d_available",
    "bm3d_profile",
]
