"""Dead-leaves images: procedural training and test images with natural-image statistics.

The dead-leaves model (Matheron 1968; Lee, Mumford and Huang 2001) stacks occluding shapes whose
radii follow a scale-invariant law (density ∝ r⁻³ between ``rmin`` and ``rmax``). Such images share
the power spectrum, edge and occlusion statistics of natural photographs; restoration networks
trained on them come close to ones trained on photographs (Achddou, Gousseau and Ladjal, SSVM 2021
and CVIU 2023; Madhusudana et al., IEEE SPL 2021). What this generator adds to the bare model, after
those papers:

- colours drawn from natural-image colour statistics: a palette of pixels sampled from the
  project's *training* photographs (never the test split), luma of the same for gray images;
- textured leaves: flat, linear gradients, sinusoidal stripes and 1/f^α noise, each between two
  palette colours;
- disks and ellipses (random aspect and orientation);
- depth of field: a random Gaussian blur on some images;
- rendered ``supersample``× larger and area-downscaled, so edges are anti-aliased.

Everything is batched torch (a z-buffer filled by ``scatter_reduce``, no per-leaf Python loop), so
it runs on the training device, on the fly. The same seed gives the same images on a given device.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping

import torch
import torch.nn.functional as F

from ..errors import InvalidInputError

__all__ = ["DeadLeavesOptions", "dead_leaves", "sample_radii", "natural_palette", "parse_dead_leaves_options"]

#: Training photographs with colour, for the palette (the test split is never touched).
_PALETTE_PHOTOS = ("astronaut", "coffee", "rocket", "immunohistochemistry", "retina", "hubble_deep_field")
_TEXTURES = ("flat", "gradient", "stripes", "noise")


@dataclass(frozen=True)
class DeadLeavesOptions:
    """What a dead-leaves image looks like; every length is in output pixels."""

    size: int = 128                 # output images are size×size
    channels: int = 1               # 1 gray (luma of the palette) or 3 RGB
    rmin: float = 1.0               # smallest leaf radius
    rmax: float | None = None       # largest leaf radius (None: size / 2)
    coverage: float = 5.0           # leaves per image: enough to cover the canvas this many times over
    supersample: int = 2            # rendered this many times larger, then area-downscaled
    ellipse: float = 0.5            # fraction of leaves that are ellipses rather than disks
    flat: float = 0.25              # texture mix (normalised to sum to 1)
    gradient: float = 0.25
    stripes: float = 0.15
    noise: float = 0.35
    blur: float = 0.3               # fraction of images given a depth-of-field blur
    blur_max: float = 1.5           # its largest σ
    contrast: float = 1.0           # scales every leaf's texture amplitude (0: flat leaves only)

    def __post_init__(self) -> None:
        def bad(name: str, want: str) -> InvalidInputError:
            return InvalidInputError(f"dead-leaves option {name}={getattr(self, name)!r}: must be {want}")
        if not isinstance(self.size, int) or not 8 <= self.size <= 8192:
            raise bad("size", "an int in [8, 8192]")
        if self.channels not in (1, 3):
            raise bad("channels", "1 or 3")
        if not 0.25 <= self.rmin <= self.size:
            raise bad("rmin", f"in [0.25, size={self.size}]")
        if self.rmax is not None and not self.rmin < self.rmax <= 4 * self.size:
            raise bad("rmax", f"in (rmin={self.rmin}, 4·size={4 * self.size}]")
        if not 0.5 <= self.coverage <= 50:
            raise bad("coverage", "in [0.5, 50]")
        if self.supersample not in (1, 2, 3, 4):
            raise bad("supersample", "1, 2, 3 or 4")
        for name in ("ellipse", "blur"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(name, "in [0, 1]")
        mix = [getattr(self, t) for t in _TEXTURES]
        if min(mix) < 0 or sum(mix) <= 0:
            raise bad("flat", "with gradient, stripes and noise: ≥ 0 and not all 0")
        if not 0 <= self.blur_max <= 8:
            raise bad("blur_max", "in [0, 8]")
        if not 0 <= self.contrast <= 2:
            raise bad("contrast", "in [0, 2]")

    @property
    def radius_range(self) -> tuple[float, float]:
        return float(self.rmin), float(self.rmax if self.rmax is not None else self.size / 2)


def parse_dead_leaves_options(values: Mapping[str, Any], **defaults: Any) -> DeadLeavesOptions:
    """Options from ``key=value`` strings (the CLI's), with clear errors for unknown keys and bad values."""
    known = {f.name: f for f in fields(DeadLeavesOptions)}
    out: dict[str, Any] = dict(defaults)
    for key, raw in values.items():
        if key not in known:
            raise InvalidInputError(f"unknown dead-leaves option {key!r}; options: {', '.join(known)}")
        try:
            if key in ("size", "channels", "supersample"):
                out[key] = int(raw)
            elif key == "rmax" and str(raw).lower() in ("none", ""):
                out[key] = None
            else:
                out[key] = float(raw)
        except (TypeError, ValueError):
            raise InvalidInputError(f"dead-leaves option {key}={raw!r} is not a number") from None
    return DeadLeavesOptions(**out)


def sample_radii(n: int, rmin: float, rmax: float, generator: torch.Generator, device: Any = "cpu") -> torch.Tensor:
    """``n`` radii with density ∝ r⁻³ on [rmin, rmax], by inverting the CDF."""
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    a, b = rmin ** -2, rmax ** -2
    return (a - u * (a - b)).rsqrt().float()


def _expected_r2(rmin: float, rmax: float) -> float:
    # E[r²] for density ∝ r⁻³ on [rmin, rmax]: (2 ln(rmax/rmin)) / (rmin⁻² − rmax⁻²)
    return 2.0 * math.log(rmax / rmin) / (rmin ** -2 - rmax ** -2)


@functools.lru_cache(maxsize=1)
def natural_palette(n: int = 8192) -> torch.Tensor:
    """``n×3`` RGB colours sampled (seed 0, equally per photo) from the colour training photographs.

    The photographs are lightly smoothed first so that sensor noise and JPEG blocks do not widen the
    colour distribution.
    """
    from .photos import load_photo

    g = torch.Generator().manual_seed(0)
    per = -(-n // len(_PALETTE_PHOTOS))
    picks = []
    for name in _PALETTE_PHOTOS:
        im = F.avg_pool2d(load_photo(name, channels=3), 3, stride=1)[0].reshape(3, -1)
        idx = torch.randint(0, im.shape[1], (per,), generator=g)
        picks.append(im[:, idx].T)
    return torch.cat(picks)[:n].contiguous()


def _luma(rgb: torch.Tensor) -> torch.Tensor:
    w = torch.tensor([0.299, 0.587, 0.114], dtype=rgb.dtype, device=rgb.device)
    return (rgb * w).sum(-1, keepdim=True)


def _pink_noise(b: int, s: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """``b`` fields of 1/f^α noise (α ∈ [0.5, 1.5] per field), each with zero mean and unit std."""
    white = torch.randn(b, s, s, generator=generator, device=device)
    alpha = 0.5 + torch.rand(b, 1, 1, generator=generator, device=device)
    fy = torch.fft.fftfreq(s, device=device).reshape(-1, 1)
    fx = torch.fft.rfftfreq(s, device=device).reshape(1, -1)
    f = (fx ** 2 + fy ** 2).sqrt().clamp_min(1.0 / s)
    spec = torch.fft.rfft2(white) * f.pow(-alpha)
    field = torch.fft.irfft2(spec, s=(s, s))
    field = field - field.mean(dim=(-2, -1), keepdim=True)
    return field / field.std(dim=(-2, -1), keepdim=True).clamp_min(1e-8)


def _leaf_params(b: int, n: int, s: int, rmin: float, rmax: float, opt: DeadLeavesOptions,
                 g: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    m = b * n
    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=g, device=device)
    palette = natural_palette().to(device)
    mix = torch.tensor([getattr(opt, t) for t in _TEXTURES], device=device)
    return {
        "r": sample_radii(m, rmin, rmax, g, device),
        "cx": rand(m) * s, "cy": rand(m) * s,
        # ellipses: semi-axes r and r·aspect, rotated by theta (disks: aspect 1)
        "aspect": torch.where(rand(m) < opt.ellipse, 0.25 + 0.75 * rand(m), torch.ones(m, device=device)),
        "theta": rand(m) * math.pi,
        "c1": palette[torch.randint(0, len(palette), (m,), generator=g, device=device)],
        "c2": palette[torch.randint(0, len(palette), (m,), generator=g, device=device)],
        "texture": torch.multinomial(mix / mix.sum(), m, replacement=True, generator=g),
        "phi": rand(m) * math.pi,                           # texture direction
        "period": 2.0 * opt.supersample * (1 + 7 * rand(m)),  # stripes: 2–16 output pixels
        "phase": rand(m) * 2 * math.pi,
        "amp": opt.contrast * (0.3 + 0.7 * rand(m)),
        "ox": torch.randint(0, s, (m,), generator=g, device=device),
        "oy": torch.randint(0, s, (m,), generator=g, device=device),
    }


def _zbuffer(p: dict[str, torch.Tensor], b: int, n: int, s: int, device: torch.device) -> torch.Tensor:
    """Index of the topmost leaf over every pixel (``b·s·s``, −1 where none): leaf k of an image lies
    above leaves 0…k−1. Leaves are rasterised in buckets of similar size, each over its bounding box."""
    z = torch.full((b * s * s,), -1, dtype=torch.long, device=device)
    r = p["r"]
    ids = torch.arange(b * n, device=device)
    image = ids // n
    bucket = torch.ceil(torch.log2(r.clamp_min(1.0))).long()
    ct, st = torch.cos(p["theta"]), torch.sin(p["theta"])
    for j in torch.unique(bucket).tolist():
        sel = (bucket == j).nonzero().squeeze(1)
        # bounding boxes of up to ~4M pixels at a time
        half = int(math.ceil(2.0 ** j)) + 1
        side = 2 * half + 1
        chunk = max(1, (1 << 22) // (side * side))
        d = torch.arange(-half, half + 1, device=device)
        for start in range(0, len(sel), chunk):
            k = sel[start:start + chunk]
            px = (p["cx"][k].floor().long()[:, None, None] + d[None, None, :])
            py = (p["cy"][k].floor().long()[:, None, None] + d[None, :, None])
            dx = px + 0.5 - p["cx"][k][:, None, None]
            dy = py + 0.5 - p["cy"][k][:, None, None]
            u = (dx * ct[k][:, None, None] + dy * st[k][:, None, None]) / r[k][:, None, None]
            v = (-dx * st[k][:, None, None] + dy * ct[k][:, None, None]) / (r[k] * p["aspect"][k])[:, None, None]
            inside = (u * u + v * v <= 1) & (px >= 0) & (px < s) & (py >= 0) & (py < s)
            flat = (image[k][:, None, None] * s * s + py * s + px)
            val = ids[k][:, None, None].expand_as(flat)
            z.scatter_reduce_(0, flat[inside], val[inside], reduce="amax")
    return z


def _shade(p: dict[str, torch.Tensor], z: torch.Tensor, b: int, s: int, channels: int,
           g: torch.Generator, device: torch.device) -> torch.Tensor:
    """Colour every pixel from its leaf's two colours and texture; uncovered pixels get a background."""
    palette = natural_palette().to(device)
    background = palette[torch.randint(0, len(palette), (b,), generator=g, device=device)]
    noise = _pink_noise(b, s, g, device).reshape(-1)
    pix = torch.arange(b * s * s, device=device)
    img_of, y, x = pix // (s * s), (pix // s) % s, pix % s
    covered = z >= 0
    k = z.clamp_min(0)
    proj = ((x + 0.5 - p["cx"][k]) * torch.cos(p["phi"][k]) + (y + 0.5 - p["cy"][k]) * torch.sin(p["phi"][k]))
    tex = p["texture"][k]
    t_grad = (0.5 + 0.5 * proj / p["r"][k]).clamp(0, 1)
    t_stripe = 0.5 + 0.5 * torch.sin(2 * math.pi * proj / p["period"][k] + p["phase"][k])
    nx, ny = (x + p["ox"][k]) % s, (y + p["oy"][k]) % s
    t_noise = 0.5 + 0.5 * torch.tanh(noise[img_of * s * s + ny * s + nx])
    t = torch.zeros_like(t_grad)
    t = torch.where(tex == 1, t_grad, t)
    t = torch.where(tex == 2, t_stripe, t)
    t = torch.where(tex == 3, t_noise, t)
    t = t * p["amp"][k]
    c1, c2 = p["c1"][k], p["c2"][k]
    rgb = c1 + t[:, None] * (c2 - c1)
    rgb = torch.where(covered[:, None], rgb, background[img_of])
    out = _luma(rgb) if channels == 1 else rgb
    return out.reshape(b, s, s, channels).permute(0, 3, 1, 2)


def _depth_of_field(x: torch.Tensor, opt: DeadLeavesOptions, g: torch.Generator) -> torch.Tensor:
    """Blur a random ``opt.blur`` fraction of the images with σ uniform in [0.3, blur_max]·supersample."""
    b = x.shape[0]
    which = torch.rand(b, generator=g, device=x.device) < opt.blur
    sigma = (0.3 + (opt.blur_max - 0.3) * torch.rand(b, generator=g, device=x.device)) * opt.supersample
    if opt.blur_max <= 0 or not bool(which.any()):
        return x
    from kornia.filters import gaussian_blur2d

    idx = which.nonzero().squeeze(1)
    sig = sigma[idx].clamp_min(1e-3)
    ks = 2 * int(math.ceil(3 * float(sig.max()))) + 1
    blurred = gaussian_blur2d(x[idx], (ks, ks), torch.stack([sig, sig], 1), border_type="reflect")
    x = x.clone()
    x[idx] = blurred
    return x


def dead_leaves(n: int, options: DeadLeavesOptions | None = None, *, generator: torch.Generator | None = None,
                seed: int | None = None, device: str | torch.device | None = None, **overrides: Any) -> torch.Tensor:
    """``n`` dead-leaves images, ``n×C×size×size`` float32 in [0, 1].

    Give ``generator`` (a ``torch.Generator`` on ``device``) or ``seed``; ``overrides`` change single
    options (``dead_leaves(8, seed=0, size=64, channels=3)``).

    >>> dead_leaves(2, seed=0, size=32).shape
    torch.Size([2, 1, 32, 32])
    """
    opt = replace(options or DeadLeavesOptions(), **overrides) if overrides else (options or DeadLeavesOptions())
    if not isinstance(n, int) or n < 0:
        raise InvalidInputError(f"n must be a non-negative int, got {n!r}")
    dev = torch.device(device) if device is not None else (generator.device if generator is not None
                                                             else torch.device("cpu"))
    if generator is None:
        generator = torch.Generator(device=dev).manual_seed(0 if seed is None else int(seed))
    ss = opt.supersample
    s = opt.size * ss
    if n == 0:
        return torch.empty(0, opt.channels, opt.size, opt.size, device=dev)
    rmin, rmax = opt.radius_range
    rmin, rmax = rmin * ss, rmax * ss
    leaves = int(math.ceil(opt.coverage * s * s / (math.pi * _expected_r2(rmin, rmax))))
    leaves = min(leaves, 20000)
    # at most ~64 Mpx of supersampled canvas at once
    per = max(1, (1 << 26) // (s * s))
    out = []
    for start in range(0, n, per):
        b = min(per, n - start)
        p = _leaf_params(b, leaves, s, rmin, rmax, opt, generator, dev)
        z = _zbuffer(p, b, leaves, s, dev)
        img = _shade(p, z, b, s, opt.channels, generator, dev)
        img = _depth_of_field(img, opt, generator)
        out.append(F.avg_pool2d(img, ss) if ss > 1 else img)
    return torch.cat(out).clamp_(0, 1).contiguous()


def describe(options: DeadLeavesOptions) -> str:
    """One line for provenance (model cards, run logs)."""
    d = asdict(options)
    return "dead-leaves(" + ", ".join(f"{k}={v}" for k, v in d.items()) + ")"
