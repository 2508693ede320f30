"""Non-parametric refinement of a blur kernel from a sharp estimate of the image.

The kernel estimator (:mod:`.kernel_estimator`) names a Gaussian or a straight motion blur; real
blur (camera shake, anisotropic defocus, curved paths) is neither. Given a sharp estimate ``x`` of
the blurred image ``y`` (from deconvolving with the current kernel), the kernel that best explains
``y`` is the least-squares fit on image gradients, as in the kernel step of Cho & Lee, *Fast motion
deblurring* (SIGGRAPH Asia 2009):

    k = argmin_k  Σ_d ‖∂_d x ⋆ k − ∂_d y‖² + γ ‖k‖²,      d ∈ {horizontal, vertical}

solved in one FFT division, then cut to a support, cleaned (negative and faint taps removed, as a
kernel is a non-negative path) and normalised to sum 1. Gradients are used because a blur acts on
them as on the image while they are sparse, which keeps the fit well posed. Alternating this with the
deconvolution moves a wrong initial family towards the true kernel.
"""

from __future__ import annotations

import torch

__all__ = ["fit_kernel", "support_for"]

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
    k = k.clamp_min(0)
    if float(k.max()) <= 0:
        return torch.zeros(side, side, dtype=torch.float32).index_put_((torch.tensor(c), torch.tensor(c)),
                                                                      torch.tensor(1.0))
    k = torch.where(k >= faint * k.max(), k, torch.zeros_like(k))
    k = k * _connected_to_peak(k)
    return (k / k.sum()).float()


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
