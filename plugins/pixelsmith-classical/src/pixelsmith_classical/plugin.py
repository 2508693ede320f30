"""Registration hooks of the classical plugin (entry point ``pixelsmith`` → ``classical``)."""

from __future__ import annotations

from pixelsmith import GeneratorSpec, RestorerSpec, hookimpl

from . import __version__
from . import generators as g
from . import restorers as r
from . import tv_deconv as tvd


@hookimpl
def pixelsmith_register_restorers() -> list[RestorerSpec]:
    common = {"version": __version__, "channels": (1, 3)}
    specs = [
        RestorerSpec(name="nlm", factory=r.NLMeansRestorer, tasks=("denoise",), requires=("sigma",),
                     summary="Non-local means (scikit-image, fast mode) with the true noise sigma", **common),
        RestorerSpec(name="tv", factory=r.TVRestorer, tasks=("denoise",), accepts=("sigma",),
                     summary="Total-variation denoising (Chambolle), weight from sigma", **common),
        RestorerSpec(name="wavelet", factory=r.WaveletRestorer, tasks=("denoise",), accepts=("sigma",),
                     summary="BayesShrink wavelet denoising (scikit-image)", **common),
        RestorerSpec(name="bilateral", factory=r.BilateralRestorer, tasks=("denoise",), accepts=("sigma",),
                     summary="Bilateral filter (scikit-image), range width from sigma", **common),
        RestorerSpec(name="median", factory=r.MedianRestorer, tasks=("impulse",),
                     summary="Switching median for salt-and-pepper noise (replaces only impulses)", **common),
        RestorerSpec(name="wiener", factory=r.WienerRestorer, tasks=("deblur",), requires=("kernel",),
                     accepts=("sigma",), summary="Wiener-Hunt deconvolution with the true kernel", **common),
        RestorerSpec(name="richardson-lucy", factory=r.RichardsonLucyRestorer, tasks=("deblur",),
                     requires=("kernel",), summary="Richardson-Lucy deconvolution (30 iterations), true kernel",
                     **common),
        RestorerSpec(name="tv-deconv", factory=tvd.TVDeconvRestorer, tasks=("deblur",), requires=("kernel",),
                     accepts=("sigma",),
                     summary="TV deconvolution by ADMM with the true kernel (unknown boundaries, weight from "
                             "sigma, estimated when not given)", **common),
    ]
    if r.bm3d_available():
        # registered only when the optional, non-commercially licensed package is installed
        specs.append(RestorerSpec(name="bm3d", factory=r.BM3DRestorer, tasks=("denoise",), requires=("sigma",),
                                  summary="BM3D / CBM3D (bm3d package, non-commercial licence), true sigma",
                                  **common))
    return specs


@hookimpl
def pixelsmith_register_generators() -> list[GeneratorSpec]:
    return [GeneratorSpec(name="pixel-mean", factory=g.PixelMeanGenerator, output_shape=(1, 28, 28),
                          version=__version__,
                          summary="Floor baseline: independent per-pixel Gaussians fitted to MNIST")]
