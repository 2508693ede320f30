"""Non-parametric refinement of a blur kernel from a sharp estimate of the image.

The kernel estimator (:mod:`.kernel_estimator`) names a Gaussian or a straight motion blur; real
blur (camera shake, anisotropic defocus, curved paths) is neither. Given a sharp estimate ``x`` of
the blurred image ``y`` (from deconvolving with the current kernel), the kernel that best explains
``y`` is the least-squares fit on image gradients, as in the kernel step of Cho & Lee, *Fast motion
deblurring* (SIGGRAPH Asia 2009):

    k = argmin_k  Σ_d ‖∂_d x ⋆ k − ∂_d y‖² + γ ‖k‖²,      d ∈ {horizontal, vertical}

solved in one FFT division (:func:`fit_kernel`) or, more accurately, under the constraint k ≥ 0
(:func:`fit_kernel_nonnegative`, projected gradient on the normal equations: positivity alone makes a
path-like kernel sparse, where clipping an unconstrained fit leaves a halo of noise), then cut to a
support, cleaned (faint taps and specks apart from the path removed) and normalised to sum 1.
Gradients are used because a blur acts on them as on the image while they are sparse, which keeps
the fit well posed. Alternating this with the
deconvolution moves a wrong initial family towards the true kernel.
"""

from __future__ import annotations

import math

import torch

from pixelsmith.plugin import kernel_moments

__all__ = ["delta_kernel", "fit_kernel", "fit_kernel_nonnegative", "kernel_spread", "support_for"]

#: Taps fainter than this fraction of the largest are set to zero (noise in the fit).
FAINT = 0.1
#: γ as a fraction of the mean gradient energy per frequency.
TIKHONOV = 1.0


def support_for(kernel: torch.Tensor, *, minimum: int = 15, grow: int = 10, maximum: int = 41) -> int:
    """The (odd) side of the refined kernel: the current kernel's side plus ``grow``, within limits."""
    side = max(kernel.shape[-2:]) + grow
    side = min(max(side, minimum), maximum)
    return side if side % 2 else side + 1


def _gradients(v: torch.Tensor) -> torch.Tensor:
    """Forward differences (valid part only) of a ``H×W`` image, as ``2×(H−1)×(W−1)``."""
    return torch.stack([v[:-1, 1:] - v[:-1, :-1], v[1:, :-1] - v[:-1, :-1]])


def fit_kernel(x: torch.Tensor, y: torch.Tensor, side: int, *, tikhonov: float = TIKHONOV,
               faint: float = FAINT) -> torch.Tensor:
    """The ``side×side`` kernel ``k`` (sum 1, ≥ 0) with ``y ≈ x ⋆ k`` (correlation, centred: the blur
    degradations' convention) for a gray sharp estimate ``x`` and blurred ``y``, both ``H×W``.

    A border of ``side`` pixels is dropped from both (their blur reaches outside the image), and a
    Hann window keeps the periodic FFT from seeing the cut.
    """
    x = x.double()
    y = y.double()
    m = side
    if min(x.shape) <= 3 * m:
        m = max(0, min(x.shape) // 4)
    xc = x[m:x.shape[0] - m, m:x.shape[1] - m] if m else x
    yc = y[m:y.shape[0] - m, m:y.shape[1] - m] if m else y
    gx, gy = _gradients(xc), _gradients(yc)
    h, w = gx.shape[-2:]
    window = torch.hann_window(h, periodic=False, dtype=torch.float64)[:, None] * \
        torch.hann_window(w, periodic=False, dtype=torch.float64)[None, :]
    # zero-padding to twice the size keeps the circular correlation of the fit from wrapping
    fx = torch.fft.rfft2(gx * window, s=(2 * h, 2 * w))
    fy = torch.fft.rfft2(gy * window, s=(2 * h, 2 * w))
    energy = (fx.abs().square()).sum(0)
    gamma = tikhonov * float(energy.mean())
    # y = x ⋆ k (correlation) ⇔ Y = conj(G)·X with g the kernel centred at 0; solve for conj(G)
    h_hat = (fx.conj() * fy).sum(0) / (energy + gamma)
    g = torch.fft.irfft2(h_hat.conj(), s=(2 * h, 2 * w))
    c = side // 2
    k = torch.roll(g, shifts=(c, c), dims=(0, 1))[:side, :side]
    return _clean(k.clamp_min(0), faint)


def _connected_to_peak(k: torch.Tensor) -> torch.Tensor:
    """The non-zero taps 8-connected to the strongest one: a blur path is one piece, isolated specks
    are noise of the fit."""
    support = k > 0
    keep = torch.zeros_like(support)
    keep.view(-1)[int(torch.argmax(k))] = True
    while True:  # grow by one ring of neighbours inside the support until nothing changes
        grown = (torch.nn.functional.max_pool2d(keep[None, None].double(), 3, stride=1, padding=1)[0, 0] > 0) & support
        if torch.equal(grown, keep):
            return keep
        keep = grown


def fit_kernel_nonnegative(x: torch.Tensor, y: torch.Tensor, side: int, *, ridge: float = 0.01,
                           faint: float = FAINT, iterations: int = 300, exact: bool = False) -> torch.Tensor:
    """As :func:`fit_kernel` (``y ≈ x ⋆ k``, ``H×W`` gray images, a border of ``side`` dropped), but
    ``k ≥ 0`` is a constraint of the least-squares fit rather than a clip after it.

    The normal equations ``M k = c`` are built from the gradients' auto- and cross-correlations (FFTs),
    ``M`` (side²×side², plus ``ridge`` × its mean diagonal) is taken Toeplitz in the kernel offsets (an
    approximation: the exact ``M`` sums each offset pair over a region shifted by up to ``side // 2``), and
    FISTA with projection onto k ≥ 0 solves them (``iterations`` steps of a side⁴ product).
    ``exact``: ``M`` is the exact one instead (:func:`_exact_normal`), the least-squares problem the explicit system
    states.
    """
    x, y = x.double(), y.double()
    r = side // 2
    gx, gy = _gradients(x), _gradients(y)
    # the fitted region: inside a border of ``side`` (less on the small images of a pyramid's top)
    m = side if min(gy.shape[-2:]) > 2 * side + 4 else max(r, min(gy.shape[-2:]) // 4)
    if min(gy.shape[-2:]) <= 2 * m + 2:
        raise ValueError(f"a {tuple(x.shape)} image is too small for a {side}×{side} kernel")
    target = gy[:, m:gy.shape[1] - m, m:gy.shape[2] - m]
    h, w = target.shape[-2:]

    def correlate(wide: torch.Tensor, narrow: torch.Tensor, n: int) -> torch.Tensor:
        """``out[u] = Σ_p wide(p + u) narrow(p)`` for ``u`` in ``[0, n)²`` (linear, via zero-padded FFTs)."""
        size = (wide.shape[-2] + h, wide.shape[-1] + w)
        prod = torch.fft.rfft2(wide, s=size) * torch.fft.rfft2(narrow, s=size).conj()
        return torch.fft.irfft2(prod.sum(0), s=size)[:n, :n]

    # c(u) = Σ_p ∂x(p + u) ∂y(p), u in [−r, r]²
    around = gx[:, m - r:m + h + r, m - r:m + w + r]
    cross = correlate(around, target, side).reshape(-1)
    if exact:
        normal = _exact_normal(around, side)
    else:
        # M[u, v] = Σ_p ∂x(p + u) ∂x(p + v) ≈ R(v − u), R the autocorrelation of x's gradients over the
        # region with zeros outside it: positive semi-definite by construction (the unbiased estimate, with x
        # read around the region, is not, and made the fit unstable on the choice set)
        inner = gx[:, m:m + h, m:m + w]
        size = (2 * h + 4 * r, 2 * w + 4 * r)
        auto = torch.fft.irfft2(torch.fft.rfft2(inner, s=size).abs().square().sum(0), s=size)
        offsets = torch.arange(-2 * r, 2 * r + 1)
        table = auto[offsets[:, None] % size[0], offsets[None, :] % size[1]]
        taps = torch.stack(torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij"), -1).reshape(-1, 2)
        diff = taps[None, :, :] - taps[:, None, :] + 2 * r
        normal = table[diff[..., 0], diff[..., 1]]
    normal = normal + ridge * float(normal.diagonal().mean()) * torch.eye(side * side, dtype=normal.dtype)
    lipschitz = float(torch.linalg.eigvalsh(normal)[-1])
    k = torch.full((side * side,), 1.0 / side ** 2, dtype=torch.float64)
    z, t = k.clone(), 1.0
    for _ in range(iterations):  # FISTA: gradient step on ½kᵀMk − cᵀk, then projection onto k ≥ 0
        k_next = (z - (normal @ z - cross) / lipschitz).clamp_min(0)
        t_next = (1 + math.sqrt(1 + 4 * t * t)) / 2
        z = k_next + ((t - 1) / t_next) * (k_next - k)
        k, t = k_next, t_next
    return _clean(k.reshape(side, side), faint)


def _exact_normal(around: torch.Tensor, side: int) -> torch.Tensor:
    """The exact normal matrix ``M[u, v] = Σ_p ∂x(p + u) ∂x(p + v)`` of the fit, summed over the fitted region
    with x's gradients read around it (``around``: ``2×(h+side−1)×(w+side−1)``); ``PᵀP`` for ``P`` the matrix of
    every region pixel's ``side×side`` neighbourhood, positive semi-definite as a Gram matrix (unlike the unbiased
    correlation estimate the Toeplitz form replaced).

    Built offset by offset rather than as ``PᵀP`` (a GEMM of side⁴ × region; this is 5× faster for a 25 px
    kernel on a 256² region, 8× on 512², one thread): for ``d = v − u``, ``M[u, u + d]`` is the sum of the product
    image ``x(q)·x(q + d)`` over the region shifted by ``u``, i.e. its full sum less the rows and columns the shift
    leaves out (:func:`_window_sums`). Offsets with ``d`` after ``0`` in raster order fill the upper triangle;
    ``M`` is symmetric."""
    e = side - 1
    normal = torch.zeros(side, side, side, side, dtype=torch.float64)
    taps = torch.arange(side)
    for channel in around:
        rows, cols = channel.shape
        wide = torch.nn.functional.pad(channel, (e, e))  # zero columns: a shift by dx reads nothing outside
        for dy in range(side):
            base = channel[:rows - dy]
            # shifted[q_y, e + dx, q_x] = x(q_y + dy, q_x + dx), dx in [−e, e]: a view, no copy
            shifted = wide[dy:].unfold(1, cols, 1)
            # per row of the product image and per dx: windows of the region's width starting at u_x = 0 … e
            row_sums = _window_sums(torch.matmul(shifted, base[:, :, None]),
                                    shifted[..., :e] * base[:, None, :e],
                                    shifted[..., cols - e:] * base[:, None, cols - e:], dim=2)
            # then windows of the region's height starting at u_y = 0 … e − dy (side − dy of them)
            left = e - dy
            box = _window_sums(row_sums.sum(0, keepdim=True), row_sums[:left], row_sums[rows - dy - left:], dim=0)
            uy = taps[:side - dy, None]
            for dx in range(0 if dy == 0 else -e, side):
                lo, hi = max(0, -dx), min(side, side - dx)
                ux = taps[None, lo:hi]
                normal[uy, ux, uy + dy, ux + dx] += box[:, e + dx, lo:hi]
    normal = normal.reshape(side * side, side * side)
    return normal + normal.T - torch.diag(normal.diagonal())


def _window_sums(total: torch.Tensor, head: torch.Tensor, tail: torch.Tensor, dim: int) -> torch.Tensor:
    """Sums of the ``n + 1`` windows of a sequence, each ``n`` entries shorter than it, starting at ``0 … n``
    along ``dim``: the ``total`` (size 1 along ``dim``) less what lies before the window (prefix sums of
    ``head``, the first ``n`` entries) and after it (suffix sums of ``tail``, the last ``n``)."""
    zero = torch.zeros_like(total)
    before = torch.cat([zero, head.cumsum(dim)], dim)
    after = torch.cat([tail.flip(dim).cumsum(dim).flip(dim), zero], dim)
    return total - before - after


def delta_kernel(side: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The ``side×side`` identity kernel: 1 at the centre pixel (``side`` odd), 0 elsewhere."""
    k = torch.zeros(side, side, dtype=dtype)
    k[side // 2, side // 2] = 1.0
    return k


def kernel_spread(k: torch.Tensor) -> float:
    """RMS distance in pixels of a kernel's mass from its centre of mass: 0 for the identity, σ√2 for an
    isotropic Gaussian of σ, about L/√12 for a straight line of length L."""
    _, cov = kernel_moments(k)
    return math.sqrt(float(cov[0, 0] + cov[1, 1]))


def _clean(k: torch.Tensor, faint: float) -> torch.Tensor:
    """Faint taps and specks apart from the strongest tap's piece removed; sum 1 (a delta if nothing is left)."""
    if float(k.max()) <= 0:
        return delta_kernel(k.shape[0])
    k = torch.where(k >= faint * k.max(), k, torch.zeros_like(k))
    k = k * _connected_to_peak(k)
    return (k / k.sum()).float()
