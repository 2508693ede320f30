"""Blur kernels shared by the blur degradations and by restorers that need the kernel (Wiener...).

Kernels are ``k×k`` float32 tensors on the CPU (``k`` odd, centre at ``k // 2``) that sum to 1;
move them with ``.to(device)``. They are *correlation* kernels, as :func:`kornia.filters.filter2d`
applies them. Coordinates: ``x`` to the right, ``y`` down; an angle θ points along
``(cos θ, −sin θ)``, counter-clockwise on screen, as in Kornia's motion kernel.

Families:

- :func:`gaussian_kernel` (isotropic) and :func:`anisotropic_gaussian_kernel` (σx, σy, angle), point
  samples of the Gaussian;
- :func:`motion_kernel`: Kornia's linear motion kernel. Its angle is quantised by the rotation of a
  pixel row, so it is piecewise constant: ``motion_kernel(9, 30)`` equals ``(9, 29)`` and ``(11, 29)``;
- :func:`line_kernel`: a straight path of any real length and angle, rasterised exactly;
- :func:`shake_kernel`: a camera-shake path, a random walk after Boracchi & Foi (2012), rasterised
  exactly (:func:`path_kernel`).

"Rasterised exactly" means every point of the path is splatted bilinearly onto its four nearest
pixels and the splats are integrated along the path in closed form (no sampling), so the kernel
changes continuously with length, angle and every point of the path, and keeps its sub-pixel
centre of mass. Size limits (:data:`MAX_KERNEL_SIZE`) are checked before
anything is allocated.
"""

from __future__ import annotations

import cmath
import math

import kornia
import torch

from ..errors import InvalidInputError
from ._params import check_int, check_number, check_odd_int

__all__ = [
    "MAX_KERNEL_SIZE",
    "MAX_GAUSSIAN_SIGMA",
    "MAX_PATH_LENGTH",
    "MAX_ANGLE",
    "gaussian_kernel",
    "anisotropic_gaussian_kernel",
    "motion_kernel",
    "line_kernel",
    "path_kernel",
    "shake_trajectory",
    "shake_kernel",
    "default_gaussian_size",
    "max_gaussian_size",
    "kernel_moments",
]

#: Largest kernel side of any family (1025² floats, 4 MB): far beyond any real blur.
MAX_KERNEL_SIZE = 1025
#: Largest Gaussian σ in pixels: its default ±3σ kernel is then at most :data:`MAX_KERNEL_SIZE` wide.
MAX_GAUSSIAN_SIGMA = (MAX_KERNEL_SIZE - 1) / 6
#: Longest line or shake path in pixels: its kernel then fits in :data:`MAX_KERNEL_SIZE`.
MAX_PATH_LENGTH = float(MAX_KERNEL_SIZE - 1)
#: Angles are given in degrees within ±this.
MAX_ANGLE = 360.0
_ANGLE_HINT = "; give the angle in degrees"


def _check_angle(angle: float) -> float:
    return check_number("angle", angle, low=-MAX_ANGLE, high=MAX_ANGLE, hint=_ANGLE_HINT)


def _check_sigma(name: str, sigma: float) -> float:
    return check_number(name, sigma, low=0.0, high=MAX_GAUSSIAN_SIGMA, low_open=True,
                        hint="; a blur width in pixels")


def _odd_at_least(value: float) -> int:
    size = max(3, math.ceil(value))
    return size if size % 2 == 1 else size + 1


def default_gaussian_size(sigma: float) -> int:
    """``ceil(6σ)`` rounded up to odd (±3σ holds 99.7 % of the mass), at least 3."""
    return _odd_at_least(6.0 * sigma)


def max_gaussian_size(sigma: float) -> int:
    """The widest kernel worth building for ``sigma``: ±10σ (beyond, every weight is below 2e-22), capped."""
    return min(MAX_KERNEL_SIZE, _odd_at_least(20.0 * sigma + 1))


def _gaussian_size(sigma: float, size: int | None) -> int:
    if size is None:
        return default_gaussian_size(sigma)
    return check_odd_int("kernel_size", size, maximum=max_gaussian_size(sigma),
                         hint=f" for sigma={sigma:g} (a kernel wider than ±10σ only adds zeros); "
                              "leave it out for ceil(6·sigma) rounded up to odd")


def gaussian_kernel(sigma: float, size: int | None = None) -> torch.Tensor:
    """Isotropic Gaussian kernel ``size×size`` (default :func:`default_gaussian_size`), sums to 1.

    >>> k = gaussian_kernel(1.0)
    >>> tuple(k.shape), round(float(k.sum()), 6)
    ((7, 7), 1.0)
    """
    sigma = _check_sigma("sigma", sigma)
    size = _gaussian_size(sigma, size)
    return kornia.filters.get_gaussian_kernel2d(size, (sigma, sigma))[0].contiguous()


def anisotropic_gaussian_kernel(sigma_x: float, sigma_y: float, angle: float = 0.0,
                                size: int | None = None) -> torch.Tensor:
    """Gaussian with std ``sigma_x`` along ``angle`` (degrees) and ``sigma_y`` across it, sums to 1.

    Point samples at pixel centres, like :func:`gaussian_kernel` (which it equals when
    ``sigma_x == sigma_y``). Default size: ``ceil(6·max(σx, σy))`` rounded up to odd.

    >>> k = anisotropic_gaussian_kernel(3.0, 1.0, 30.0)
    >>> tuple(k.shape), round(float(k.sum()), 6)
    ((19, 19), 1.0)
    """
    sx = _check_sigma("sigma_x", sigma_x)
    sy = _check_sigma("sigma_y", sigma_y)
    theta = math.radians(_check_angle(angle))
    size = _gaussian_size(max(sx, sy), size)
    r = torch.arange(size, dtype=torch.float64) - size // 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    ux, uy = math.cos(theta), -math.sin(theta)  # the σx axis, in x-right / y-down coordinates
    along = x * ux + y * uy
    across = -x * uy + y * ux
    k = torch.exp(-0.5 * ((along / sx) ** 2 + (across / sy) ** 2))
    return (k / k.sum()).float().contiguous()


def motion_kernel(length: int, angle: float, direction: float = 0.0) -> torch.Tensor:
    """Kornia's linear motion kernel ``length×length``: a line at ``angle`` degrees, sums to 1.

    ``direction`` in [-1, 1] skews the weight towards one end of the line (0: uniform), as in
    :func:`kornia.filters.get_motion_kernel2d`. The angle is effectively quantised (see the module
    notes); :func:`line_kernel` is the continuous alternative.

    >>> tuple(motion_kernel(9, 45.0).shape)
    (9, 9)
    """
    length = check_odd_int("length", length, maximum=MAX_KERNEL_SIZE,
                           hint="; motion length is the odd kernel size in pixels")
    angle = _check_angle(angle)
    direction = check_number("direction", direction, low=-1.0, high=1.0)
    return kornia.filters.get_motion_kernel2d(length, angle, direction)[0].contiguous()


# -- exact rasterisation of paths -------------------------------------------------------------------------
def _needed_half_width(points: torch.Tensor) -> int:
    # a point at x spreads onto pixels floor(x) and floor(x) + 1
    reach = float(points.abs().max()) if points.numel() else 0.0
    return max(1, math.ceil(reach - 1e-9))


def path_kernel(points: torch.Tensor, density: torch.Tensor | None = None, size: int | None = None, *,
                center: bool = False) -> torch.Tensor:
    """Rasterise the polyline through ``points`` (``N×2``, ``(x, y)`` pixels from the kernel centre).

    Pixel ``(i, j)`` gets ``∫ tent(i − x(s)) · tent(j − y(s)) · ρ(s) ds`` along the path: bilinear
    splatting of every point of the path, integrated exactly (the integrand is a cubic between grid
    lines, where Simpson's rule is exact), then normalised to sum 1. The tent keeps sub-pixel
    positions: the kernel's centre of mass and cross moment ``E[xy]`` equal the path's exactly.
    ``density`` has one value per point, linear along each segment (uniform by default).
    ``center=True`` first moves the path's centre of mass onto the centre pixel. The size is the
    smallest odd square holding the path (at least 3) unless ``size`` is given.

    >>> k = path_kernel(torch.tensor([[-2.0, 0.0], [2.0, 0.0]]))
    >>> [round(v, 4) for v in k[k.shape[0] // 2].tolist()]
    [0.125, 0.25, 0.25, 0.25, 0.125]
    """
    pts = torch.as_tensor(points, dtype=torch.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] < 2 or not bool(torch.isfinite(pts).all()):
        raise InvalidInputError(f"points must be a finite N×2 tensor with N >= 2, got shape {tuple(pts.shape)}")
    rho = torch.ones(len(pts), dtype=torch.float64) if density is None else \
        torch.as_tensor(density, dtype=torch.float64).flatten()
    if rho.shape != (len(pts),) or bool((rho < 0).any()) or not bool(torch.isfinite(rho).all()):
        raise InvalidInputError(f"density must be {len(pts)} finite values >= 0")
    seg = pts[1:] - pts[:-1]
    seg_len = seg.norm(dim=1)
    seg_mass = seg_len * (rho[1:] + rho[:-1]) / 2
    if float(seg_mass.sum()) <= 0:
        raise InvalidInputError("the path has zero length (or zero density everywhere)")
    if center:
        # centre of mass of a segment whose density runs linearly from r0 to r1
        r0, r1 = rho[:-1, None], rho[1:, None]
        first = seg_len[:, None] * (pts[:-1] * (r0 + r1) / 2 + seg * (r0 + 2 * r1) / 6)
        pts = pts - first.sum(0) / seg_mass.sum()
    half = _needed_half_width(pts)
    if size is not None:
        size = check_odd_int("kernel_size", size, maximum=MAX_KERNEL_SIZE)
        if size // 2 < half:
            raise InvalidInputError(f"kernel_size must be at least {2 * half + 1} to hold this path, got {size}")
        half = size // 2
    if 2 * half + 1 > MAX_KERNEL_SIZE:
        raise InvalidInputError(f"the path spans {2 * half + 1} pixels, more than the maximum kernel size "
                                f"{MAX_KERNEL_SIZE}; use a shorter path")

    # Pieces of at most one pixel cross at most one vertical and one horizontal grid line.
    n_pieces = seg_len.ceil().clamp_min(1).long()
    seg_of = torch.repeat_interleave(torch.arange(len(seg)), n_pieces)
    first_piece = torch.cumsum(n_pieces, 0) - n_pieces
    j = (torch.arange(int(n_pieces.sum())) - first_piece[seg_of]).double()
    m = n_pieces[seg_of].double()
    ta = j / m
    p0 = pts[:-1][seg_of] + ta[:, None] * seg[seg_of]
    d = seg[seg_of] / m[:, None]
    r0 = rho[:-1][seg_of] + ta * (rho[1:] - rho[:-1])[seg_of]
    r1 = r0 + (rho[1:] - rho[:-1])[seg_of] / m
    # split each piece where it crosses a grid line: between crossings the tents are linear
    cuts = [torch.zeros_like(ta), torch.ones_like(ta)]
    for axis in (0, 1):
        a, b = p0[:, axis], p0[:, axis] + d[:, axis]
        line = torch.floor(torch.maximum(a, b))
        crosses = (line > torch.minimum(a, b)) & (d[:, axis] != 0)
        t = (line - a) / torch.where(crosses, d[:, axis], torch.ones_like(a))
        cuts.append(torch.where(crosses, t.clamp(0, 1), torch.zeros_like(t)))
    cuts = torch.stack(cuts, 1).sort(dim=1).values              # pieces × 4
    lo, hi = cuts[:, :-1], cuts[:, 1:]                           # pieces × 3 sub-pieces
    cell = torch.floor(p0[:, None, :] + ((lo + hi) / 2)[..., None] * d[:, None, :])  # pieces × 3 × 2
    piece_len = d.norm(dim=1)[:, None]
    weights = []
    for t, simpson in ((lo, 1.0), ((lo + hi) / 2, 4.0), (hi, 1.0)):
        f = (p0[:, None, :] + t[..., None] * d[:, None, :] - cell).clamp(0, 1)
        dens = (r0[:, None] + (r1 - r0)[:, None] * t) * simpson
        fx, fy = f[..., 0], f[..., 1]
        weights.append(torch.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], -1)
                       * dens[..., None])
    mass = (weights[0] + weights[1] + weights[2]) * (piece_len * (hi - lo) / 6)[..., None]
    corner = torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=torch.float64)
    pix = cell[..., None, :] + corner                            # pieces × 3 × 4 × 2

    side = 2 * half + 3  # one spare pixel per side for corners that get no weight
    col = (pix[..., 0] + half + 1).long().clamp(0, side - 1)
    row = (pix[..., 1] + half + 1).long().clamp(0, side - 1)
    canvas = torch.zeros(side * side, dtype=torch.float64)
    canvas.index_add_(0, (row * side + col).flatten(), mass.flatten())
    k = canvas.view(side, side)[1:-1, 1:-1]
    return (k / k.sum()).float().contiguous()


def line_kernel(length: float, angle: float, direction: float = 0.0) -> torch.Tensor:
    """A straight motion path of ``length`` pixels (any real ≥ 1) at ``angle`` degrees, sums to 1.

    The segment is centred on the kernel centre and rasterised exactly with bilinear weights
    (:func:`path_kernel`), so the kernel moves continuously with length and angle and its second
    moments are the segment's (``L²/12`` along the line) plus at most 1/4 pixel² of spread. ``direction`` in [-1, 1] makes the weight fall linearly along the path
    (density ``1 − direction·s``, ``s`` from −1 at the start to 1 at the end: positive puts more
    weight where the path starts, as Kornia's does).

    >>> k = line_kernel(7.5, 30.0)
    >>> tuple(k.shape), round(float(k.sum()), 6)
    ((9, 9), 1.0)
    """
    length = check_number("length", length, low=1.0, high=MAX_PATH_LENGTH,
                          hint="; the path length in pixels")
    theta = math.radians(_check_angle(angle))
    direction = check_number("direction", direction, low=-1.0, high=1.0)
    u = torch.tensor([math.cos(theta), -math.sin(theta)], dtype=torch.float64) * (length / 2)
    return path_kernel(torch.stack([-u, u]), torch.tensor([1.0 + direction, 1.0 - direction]))


def shake_trajectory(length: float, generator: torch.Generator, *, anxiety: float = 0.005,
                     steps: int = 2000) -> torch.Tensor:
    """A camera-shake path (``steps×2``, ``(x, y)`` pixels), after Boracchi & Foi (2012).

    A random walk of ``steps`` equal steps adding up to ``length`` pixels: the velocity keeps its
    speed and takes, each step, a Gaussian kick, a pull back towards the start (inertia with a
    centripetal force) and, rarely, an abrupt reversal (a shake). ``anxiety`` in [0, 1] scales the
    kicks and how often shakes happen (0: a straight line). The walk's own constants (kick size,
    centripetal pull, shake frequency, first heading) are drawn per path, as in their generator.
    Every number comes from ``generator``: the same seed gives the same path.
    """
    length = check_number("length", length, low=1.0, high=MAX_PATH_LENGTH / 2,
                          hint="; the path length in pixels")
    anxiety = check_number("anxiety", anxiety, low=0.0, high=1.0, hint="; 0 is a straight line")
    steps = check_int("steps", steps, low=16, high=100_000)
    constants = torch.rand(4, generator=generator, dtype=torch.float64).tolist()
    centripetal, kick, shake_rate = 0.7 * constants[0], 10.0 * constants[1], 0.2 * constants[2]
    uniforms = torch.rand(steps - 1, 2, generator=generator, dtype=torch.float64).tolist()
    normals = torch.randn(steps - 1, 2, generator=generator, dtype=torch.float64).tolist()
    step = length / (steps - 1)
    v = cmath.exp(1j * 2 * math.pi * constants[3]) * step
    x = [0j] * steps
    for t in range(steps - 1):
        shake = 2 * v * cmath.exp(1j * (math.pi + uniforms[t][1] - 0.5)) \
            if uniforms[t][0] < shake_rate * anxiety else 0
        v = v + shake + anxiety * (kick * complex(*normals[t]) - centripetal * x[t]) * step
        v = v / abs(v) * step if abs(v) > 0 else step + 0j
        x[t + 1] = x[t] + v
    return torch.tensor([[z.real, z.imag] for z in x], dtype=torch.float64)


def shake_kernel(length: float, generator: torch.Generator, *, anxiety: float = 0.005,
                 steps: int = 2000) -> torch.Tensor:
    """The kernel of a :func:`shake_trajectory`, centred on its centre of mass, sums to 1.

    >>> k = shake_kernel(15.0, torch.Generator().manual_seed(0))
    >>> round(float(k.sum()), 6), k.shape[0] % 2
    (1.0, 1)
    """
    return path_kernel(shake_trajectory(length, generator, anxiety=anxiety, steps=steps), center=True)


def kernel_moments(kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre of mass ``(x, y)`` from the centre pixel and the 2×2 covariance of a kernel (float64)."""
    k = kernel.detach().to("cpu", torch.float64)
    k = k / k.sum()
    h, w = k.shape[-2:]
    y, x = torch.meshgrid(torch.arange(h, dtype=torch.float64) - h // 2,
                          torch.arange(w, dtype=torch.float64) - w // 2, indexing="ij")
    mx, my = (k * x).sum(), (k * y).sum()
    dx, dy = x - mx, y - my
    cov = torch.stack([torch.stack([(k * dx * dx).sum(), (k * dx * dy).sum()]),
                       torch.stack([(k * dx * dy).sum(), (k * dy * dy).sum()])])
    return torch.stack([mx, my]), cov
