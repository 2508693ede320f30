"""Blind kernel estimation: which blur (Gaussian σ, or motion length and angle) made this image, if any.

A blur multiplies the image's spectrum by the kernel's transfer function, whatever the image shows:
a Gaussian blur darkens the high frequencies evenly in every direction, a linear motion blur
leaves dark stripes (the zeros of a sinc) across the direction of motion, spaced by 1/length.
So the estimator does not look at the picture but at its power spectrum, averaged over every
overlapping 64×64 window of the image (Welch's method: the more windows, the cleaner the
estimate). A small CNN reads that spectrum and predicts the blur's family and parameters; the
kernel is then built by the same functions the blur degradations use. Estimators trained with
``no_blur=`` (see :mod:`.kernel_training`) have a third family, "none": the image is not blurred, and
its kernel is the 1×1 identity.

The deblurring restorer calls it when no ``kernel=`` is given, and hands the estimated kernel to
its kernel-aware network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from pixelsmith.plugin import (
    Field,
    InvalidInputError,
    WeightsError,
    WeightsFile,
    build_checked,
    anisotropic_gaussian_kernel,
    gaussian_kernel,
    line_kernel,
    load_into,
    load_weights,
    motion_kernel,
    pad_to_min_size,
    read_metadata,
    validate_metadata,
)

__all__ = [
    "KernelEstimate",
    "KernelEstimatorNet",
    "FAMILIES",
    "FAMILY_COUNTS",
    "blur_spectrum",
    "MOTION_LENGTHS",
    "SPECTRUM_WINDOW",
    "load_kernel_estimator",
]

#: Side of the Welch windows (and of the spectrum the network reads).
SPECTRUM_WINDOW = 64
#: The motion lengths the estimator chooses between (the training range of the deblurring model).
MOTION_LENGTHS = (3, 5, 7, 9, 11, 13, 15)
#: Gaussian σ is predicted within this range (the training range).
SIGMA_RANGE = (0.5, 3.0)
#: The blur families, in the order of the network's family logits. Networks of two families (every
#: estimator before 2026-12-02) cannot answer "none": they read a sharp image as their mildest Gaussian.
#: Six-family networks (``part=kernel-estimator constructions=all``) also name the other constructions of
#: the benchmarks: continuous straight lines, anisotropic Gaussians and camera-shake paths.
FAMILIES = ("gaussian", "motion", "none", "line", "anisotropic", "shake")
#: How many families a network may have: the first 2, 3 or 6 of :data:`FAMILIES`.
FAMILY_COUNTS = (2, 3, 6)
#: Six-family networks: anisotropic σ (both axes) predicted within this range, continuous line lengths within
#: LINE_RANGE (both normalised to [0, 1]).
ANISO_SIGMA_RANGE = (0.3, 3.5)
LINE_RANGE = (3.0, 21.0)
#: Outputs beyond the two-family layout that six-family networks have: σ along, σ across, line length.
EXTRA_OUTPUTS = 3


@dataclass(frozen=True)
class KernelEstimate:
    """One image's estimated blur: ``family`` "gaussian", "motion" or "none", its parameters and kernel."""

    family: str
    kernel: torch.Tensor                 # k×k, sums to 1 ("none": the 1×1 identity)
    sigma: float = float("nan")          # Gaussian σ in pixels
    length: int = 0                      # motion length (odd)
    angle: float = float("nan")          # motion angle in degrees, [0, 180)
    confidence: float = float("nan")     # the network's probability for ``family``
    sigma_minor: float = float("nan")    # anisotropic: σ across ``angle`` (``sigma`` is σ along it)
    #: motion: the length the network's length probabilities average to (continuous, in pixels)
    expected_length: float = float("nan")
    #: the network's probability for "no blur" (0 for two-family networks, which cannot answer it)
    p_none: float = 0.0
    #: "shake" readings (six-family networks): the reading of the most likely other family, whose kernel stands in
    #: where a camera shake's path cannot be searched
    runner_up: "KernelEstimate | None" = None

    def candidates(self) -> list[torch.Tensor]:
        """Kernels this estimate may stand for: its own; for motion also the anti-aliased straight line of
        :attr:`expected_length` at :attr:`angle` (the estimator learnt Kornia's rasterised lines of odd
        lengths; a blur by a continuous line is often better explained by the continuous kernel)."""
        if self.family != "motion" or not math.isfinite(self.expected_length):
            return [self.kernel]
        return [self.kernel, line_kernel(self.expected_length, self.angle)]

    def describe(self) -> str:
        if self.family == "gaussian":
            return f"Gaussian σ={self.sigma:.2f} (p={self.confidence:.2f})"
        if self.family == "none":
            return f"no blur (p={self.confidence:.2f})"
        if self.family == "anisotropic":
            return f"anisotropic Gaussian σ={self.sigma:.2f}×{self.sigma_minor:.2f} at {self.angle:.1f}° " \
                   f"(p={self.confidence:.2f})"
        if self.family == "line":
            return f"line {self.expected_length:.1f} px at {self.angle:.1f}° (p={self.confidence:.2f})"
        if self.family == "shake":
            return f"camera shake (p={self.confidence:.2f})"
        return f"motion length {self.length} at {self.angle:.1f}° (p={self.confidence:.2f})"


def _hann2d(n: int, device: torch.device, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    w = torch.hann_window(n, periodic=False, device=device, dtype=dtype)
    return w[:, None] * w[None, :]


def welch_power(x: torch.Tensor, window: int, stride: int | None = None, max_windows: int = 1024) -> torch.Tensor:
    """Welch's power spectrum of each gray image in ``x`` (B×1×H×W, at least ``window`` a side) →
    B×window×window, unshifted, in ``x``'s dtype: windows of ``window``² every ``stride`` pixels (default
    half a window; spread out so at most ``max_windows`` are used on huge images), mean removed,
    Hann-tapered, |FFT|² averaged."""
    b, _, h, w = x.shape
    stride = stride or window // 2
    # spread the windows over big images instead of taking thousands of them
    n_windows = ((h - window) // stride + 1) * ((w - window) // stride + 1)
    if n_windows > max_windows:
        stride = int(math.ceil(stride * math.sqrt(n_windows / max_windows)))
    ys = list(range(0, h - window + 1, stride))
    xs = list(range(0, w - window + 1, stride))
    hann = _hann2d(window, x.device, x.dtype)
    power = torch.zeros(b, window, window, device=x.device, dtype=x.dtype)
    count = 0
    for y0 in ys:  # a row of windows at a time: bounded memory on any image size
        row = x[:, 0, y0:y0 + window].unfold(-1, window, stride)[..., :len(xs), :]
        row = row.permute(0, 2, 1, 3)                                   # b × n × window × window
        row = (row - row.mean(dim=(-2, -1), keepdim=True)) * hann
        power += torch.fft.fft2(row).abs().pow(2).sum(dim=1)
        count += row.shape[1]
    return power / count


def blur_spectrum(x: torch.Tensor, window: int = SPECTRUM_WINDOW, stride: int | None = None,
                  max_windows: int = 1024) -> torch.Tensor:
    """Welch log power spectrum of each gray image in ``x`` (B×1×H×W) → B×1×window×window.

    :func:`welch_power` (windows of ``window``² every ``stride`` pixels, at most ``max_windows``),
    centred, log taken, and the mean log level subtracted so the result does not depend on contrast.
    Images smaller than a window are reflect- (or replicate-) padded up to it.
    """
    c = x.shape[1]
    if c != 1:
        raise InvalidInputError(f"blur_spectrum takes gray images (B×1×H×W), got {c} channels; "
                                "average the channels first")
    x = pad_to_min_size(x.float(), window)
    logp = torch.log(welch_power(x, window, stride, max_windows) + 1e-8)
    logp = torch.fft.fftshift(logp, dim=(-2, -1))
    logp = logp - logp.mean(dim=(-2, -1), keepdim=True)
    return logp[:, None]


#: What a weights file's ``model_config`` metadata must hold to describe a :class:`KernelEstimatorNet`
#: (the spectrum window is fixed: :func:`blur_spectrum` computes 64² spectra).
CONFIG_SCHEMA = {"model_config": Field(dict, fields={
    "width": Field(int, required=False, low=8, high=1024),
    "window": Field(int, required=False, choices=(SPECTRUM_WINDOW,)),
    "families": Field(int, required=False, choices=FAMILY_COUNTS),
})}


class KernelEstimatorNet(nn.Module):
    """Spectrum (B×1×64×64) → blur family logits, Gaussian σ, motion length logits, motion angle.

    Outputs a B×(F + 1 + len(MOTION_LENGTHS) + E + 2) tensor: [family logits (the first F of :data:`FAMILIES`),
    σ (normalised to [0, 1] over SIGMA_RANGE), length logits, extras, cos 2θ, sin 2θ] (the motion kernel
    is the same at θ and θ + 180°, so the angle is predicted doubled; the angle is shared by every oriented
    family). Six-family networks have E = 3 extras (anisotropic σ along and across over ANISO_SIGMA_RANGE,
    line length over LINE_RANGE, each normalised to [0, 1]); others none. Two frequency-coordinate
    channels are appended to the input, because where a feature sits in the spectrum is its meaning.
    """

    def __init__(self, width: int = 32, window: int = SPECTRUM_WINDOW, families: int = 2) -> None:
        super().__init__()
        if families not in FAMILY_COUNTS:
            raise InvalidInputError(f"families must be 2 (gaussian, motion), 3 (and none) or 6 (and line, "
                                    f"anisotropic, shake), got {families!r}")
        self.config = {"width": width, "window": window, "families": families}
        w = width

        def block(cin: int, cout: int, stride: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.GroupNorm(8, cout), nn.SiLU())

        self.features = nn.Sequential(
            block(3, w, 1), block(w, w, 2),              # 32²
            block(w, 2 * w, 1), block(2 * w, 2 * w, 2),  # 16²
            block(2 * w, 4 * w, 1), block(4 * w, 4 * w, 2),  # 8²
            block(4 * w, 4 * w, 2),                      # 4²
        )
        side = window // 16
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * w * side * side, 256), nn.SiLU(),
                                  nn.Linear(256, families + 1 + len(MOTION_LENGTHS) + _extras(families) + 2))
        coords = torch.linspace(-1, 1, window)
        self.register_buffer("coords", torch.stack(torch.meshgrid(coords, coords, indexing="ij"))[None],
                             persistent=False)

    @classmethod
    def from_config(cls, config: dict) -> "KernelEstimatorNet":
        return cls(**config)

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        x = torch.cat([spectrum, self.coords.expand(spectrum.shape[0], -1, -1, -1)], dim=1)
        return self.head(self.features(x))


def _extras(families: int) -> int:
    return EXTRA_OUTPUTS if families == 6 else 0


def _family_count(width: int) -> int:
    """F from the width of a network's outputs (the layouts of 2, 3 and 6 families differ in width)."""
    for f in FAMILY_COUNTS:
        if f + 1 + len(MOTION_LENGTHS) + _extras(f) + 2 == width:
            return f
    raise InvalidInputError(f"{width} outputs match no kernel-estimator layout")


def split_outputs(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(family logits B×F, σ in [0, 1] B, length logits B×7, (cos 2θ, sin 2θ) B×2); F (2, 3 or 6) follows
    from the width of ``out``."""
    n = len(MOTION_LENGTHS)
    f = _family_count(out.shape[1])
    return out[:, :f], out[:, f], out[:, f + 1:f + 1 + n], out[:, -2:]


def split_extras(out: torch.Tensor) -> torch.Tensor | None:
    """Six-family outputs: B×3 (anisotropic σ along, across, line length; each normalised to [0, 1]);
    None for networks without them."""
    f = _family_count(out.shape[1])
    e = _extras(f)
    return out[:, -2 - e:-2] if e else None


# The regressed widths and lengths are learnt as a fraction of their range: one pair of maps both ways.
def _normalise(v: float, lo_hi: tuple[float, float]) -> float:
    return (v - lo_hi[0]) / (lo_hi[1] - lo_hi[0])


def _denormalise(v: torch.Tensor, lo_hi: tuple[float, float]) -> float:
    return lo_hi[0] + (lo_hi[1] - lo_hi[0]) * float(v.clamp(0, 1))


def decode(out: torch.Tensor) -> list[KernelEstimate]:
    """Network outputs → one :class:`KernelEstimate` (with its kernel) per image."""
    out = out.detach().float().cpu()
    fam, sig, lens, ang = split_outputs(out)
    extras = split_extras(out)
    probs = fam.softmax(-1)
    estimates = []
    for i in range(out.shape[0]):
        family = FAMILIES[int(probs[i].argmax())]
        p_none = float(probs[i, 2]) if probs.shape[1] > 2 else 0.0
        p = float(probs[i].max())
        angle = (math.degrees(math.atan2(float(ang[i, 1]), float(ang[i, 0]))) / 2.0) % 180.0
        if family == "anisotropic":
            along, across = _denormalise(extras[i, 0], ANISO_SIGMA_RANGE), _denormalise(extras[i, 1], ANISO_SIGMA_RANGE)
            if across > along:  # the network's σ along is the larger one; turn the axes if it says otherwise
                along, across, angle = across, along, (angle + 90.0) % 180.0
            estimates.append(KernelEstimate("anisotropic", anisotropic_gaussian_kernel(along, across, angle),
                                            sigma=along, sigma_minor=across, angle=angle, confidence=p, p_none=p_none))
            continue
        if family == "line":
            length = _denormalise(extras[i, 2], LINE_RANGE)
            estimates.append(KernelEstimate("line", line_kernel(length, angle), length=int(round(length)),
                                            angle=angle, confidence=p, expected_length=length, p_none=p_none))
            continue
        if family == "shake":  # no parametric kernel: the most likely other family's stands in for it
            others = out[i:i + 1].clone()
            others[0, FAMILIES.index("shake")] = -math.inf
            runner_up = decode(others)[0]
            estimates.append(KernelEstimate("shake", runner_up.kernel, confidence=p, p_none=p_none,
                                            runner_up=runner_up))
            continue
        if family == "none":
            estimates.append(KernelEstimate("none", torch.ones(1, 1), sigma=0.0, confidence=p_none, p_none=p_none))
        elif family == "gaussian":
            s = _denormalise(sig[i], SIGMA_RANGE)
            estimates.append(KernelEstimate("gaussian", gaussian_kernel(s), sigma=s, confidence=float(probs[i, 0]),
                                            p_none=p_none))
        else:
            length = MOTION_LENGTHS[int(lens[i].argmax())]
            expected = float((lens[i].softmax(-1) * torch.tensor(MOTION_LENGTHS, dtype=lens.dtype)).sum())
            estimates.append(KernelEstimate("motion", motion_kernel(length, angle), length=length, angle=angle,
                                            confidence=float(probs[i, 1]), expected_length=expected, p_none=p_none))
    return estimates


#: Test-time views of the image and what each does to the doubled motion angle (cos 2θ, sin 2θ):
#: a flip turns θ into −θ, a transpose into 90° − θ, both into θ + 90° (signs to undo per component).
_VIEWS = (
    (lambda t: t, (1.0, 1.0)),
    (lambda t: t.flip(-1), (1.0, -1.0)),
    (lambda t: t.transpose(-2, -1), (-1.0, 1.0)),
    (lambda t: t.transpose(-2, -1).flip(-1), (-1.0, -1.0)),
)


class KernelEstimator:
    """The trained estimator: ``estimator(x)`` → one :class:`KernelEstimate` per image of ``x``.

    Colour images are judged on their channel mean (the blur degradations blur every channel alike).
    ``views=4`` (default) averages the network over the image, its mirror, its transpose and its
    quarter turn, each prediction turned back (a cheap test-time ensemble: the network is tiny).
    """

    def __init__(self, net: KernelEstimatorNet, device: torch.device | str = "cpu", views: int = 4) -> None:
        if views not in (1, 2, 4):
            raise InvalidInputError(f"views must be 1, 2 or 4, got {views}")
        self.net = net.eval().requires_grad_(False).to(device)
        self.device = torch.device(device)
        self.views = views

    @torch.no_grad()  # not inference mode: callers may edit the outputs in place
    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The network's outputs for ``x`` (B×C×H×W), averaged over the views."""
        gray = x.float().mean(dim=1, keepdim=True).to(self.device)
        total = None
        for view, (cs, ss) in _VIEWS[:self.views]:
            out = self.net(blur_spectrum(view(gray))).float()
            out[:, -2] *= cs
            out[:, -1] *= ss
            total = out if total is None else total + out
        return total / self.views

    def __call__(self, x: torch.Tensor) -> list[KernelEstimate]:
        return decode(self.raw(x))


def load_kernel_estimator(source, device: torch.device | str = "cpu") -> KernelEstimator:
    """A :class:`KernelEstimator` from a weights file (a path or a checked ``WeightsFile``)."""
    path = source.path if isinstance(source, WeightsFile) else Path(source)
    meta = read_metadata(path)
    if meta.get("task") != "kernel-estimation":
        raise WeightsError(f"weights file {path} is not a kernel-estimator weights file (its metadata field "
                           "'task' is not 'kernel-estimation'; made by `pixelsmith train deblur part=kernel-estimator`)")
    # the metadata describes the network: checked, then built on the meta device against a parameter
    # budget and the file's tensors before any memory is taken
    config = validate_metadata(path, meta, CONFIG_SCHEMA)["model_config"]
    state = load_weights(source)
    net = build_checked(lambda: KernelEstimatorNet.from_config(config), path=path, state=state)
    load_into(net, {k: v.float() for k, v in state.items()}, source=str(path))
    return KernelEstimator(net, device)


def targets_from_blurs(blurs: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Training targets from :class:`~pixelsmith.plugin.DegradationDraw` ``blur`` records
    (``{"name": "none"}`` for a sample left sharp; "line", "anisotropic" and "shake" records for the
    other constructions, see :mod:`.kernel_training`)."""
    family, sigma, length, angle, extras = [], [], [], [], []
    for b in blurs:
        extra = (0.0, 0.0, 0.0)
        if b["name"] in ("line", "anisotropic", "shake"):
            family.append(FAMILIES.index(b["name"]))
            sigma.append(0.0)
            length.append(0)
            a = math.radians(2.0 * float(b.get("angle", 0.0)))
            angle.append((math.cos(a), math.sin(a)))
            if b["name"] == "anisotropic":
                extra = (_normalise(b["sigma_x"], ANISO_SIGMA_RANGE), _normalise(b["sigma_y"], ANISO_SIGMA_RANGE), 0.0)
            elif b["name"] == "line":
                extra = (0.0, 0.0, _normalise(b["length"], LINE_RANGE))
            extras.append(extra)
            continue
        extras.append(extra)
        if b["name"] == "none":  # a sharp sample: only the family is learnt
            family.append(2)
            sigma.append(0.0)
            length.append(0)
            angle.append((1.0, 0.0))
        elif b["name"] == "gaussian-blur":
            family.append(0)
            sigma.append(_normalise(b["sigma"], SIGMA_RANGE))
            length.append(0)
            angle.append((1.0, 0.0))
        else:
            family.append(1)
            sigma.append(0.0)
            length.append(MOTION_LENGTHS.index(int(b["length"])))
            a = math.radians(2.0 * float(b["angle"]))
            angle.append((math.cos(a), math.sin(a)))
    return {"family": torch.tensor(family), "sigma": torch.tensor(sigma, dtype=torch.float32),
            "length": torch.tensor(length), "angle": torch.tensor(angle, dtype=torch.float32),
            "extras": torch.tensor(extras, dtype=torch.float32)}
