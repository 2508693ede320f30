"""The specs the built-in plugin registers for pixelsmith's own degradations."""

from __future__ import annotations

from ..specs import DegradationSpec
from .blur import AnisotropicBlur, GaussianBlur, MotionBlur, ShakeBlur
from .masks import InpaintingMask
from .noise import GaussianNoise, PoissonNoise, SaltAndPepper

__all__ = ["builtin_degradation_specs"]

_VERSION = "1.0.0"


def builtin_degradation_specs() -> list[DegradationSpec]:
    return [
        DegradationSpec(name="gaussian-noise", factory=GaussianNoise, task="denoise", version=_VERSION,
                        summary="Additive white Gaussian noise of std sigma (in [0, 1] units); "
                                "clip=false keeps values outside [0, 1] (the literature's protocol)",
                        params={"sigma": 25 / 255, "clip": True}),
        DegradationSpec(name="poisson-noise", factory=PoissonNoise, task="poisson", version=_VERSION,
                        summary="Poisson shot noise with `peak` photons at white",
                        params={"peak": 30.0}),
        DegradationSpec(name="salt-and-pepper", factory=SaltAndPepper, task="impulse", version=_VERSION,
                        summary="Impulse noise: a fraction `amount` of pixels set to white or black",
                        params={"amount": 0.05, "salt_vs_pepper": 0.5}),
        DegradationSpec(name="gaussian-blur", factory=GaussianBlur, task="deblur", version=_VERSION,
                        summary="Gaussian blur (Kornia filter2d), optional additive noise; info has the kernel",
                        params={"sigma": 1.6, "kernel_size": None, "noise": 0.0, "border": "reflect"}),
        DegradationSpec(name="anisotropic-blur", factory=AnisotropicBlur, task="deblur", version=_VERSION,
                        summary="Anisotropic Gaussian blur (sigma_x along angle, sigma_y across), optional noise; "
                                "info has the kernel",
                        params={"sigma_x": 3.0, "sigma_y": 1.0, "angle": 0.0, "kernel_size": None, "noise": 0.0,
                                "border": "reflect"}),
        DegradationSpec(name="motion-blur", factory=MotionBlur, task="deblur", version=_VERSION,
                        summary="Linear motion blur: Kornia's kernel, or kernel_type=line for any real length and angle; "
                                "optional noise; info has the kernel",
                        params={"length": 9, "angle": 0.0, "direction": 0.0, "noise": 0.0, "border": "reflect",
                                "kernel_type": "kornia"}),
        DegradationSpec(name="shake-blur", factory=ShakeBlur, task="deblur", version=_VERSION,
                        summary="Camera-shake blur: a seeded random-walk path (Boracchi & Foi 2012) of `length` "
                                "pixels, optional noise; info has the kernel",
                        params={"length": 15.0, "anxiety": 0.005, "noise": 0.0, "border": "reflect"}),
        DegradationSpec(name="inpainting-mask", factory=InpaintingMask, task="inpaint", version=_VERSION,
                        summary="Random strokes or boxes hide a fraction of pixels; info has the mask",
                        params={"mode": "strokes", "coverage": 0.25, "fill": 0.0}),
    ]
