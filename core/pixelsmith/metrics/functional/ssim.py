"""Structural similarity (Wang et al. 2004), per image.

Settings by default are the paper's: an 11×11 Gaussian window with σ = 1.5, K1 = 0.01,
K2 = 0.03, population (biased) covariance, statistics only where the whole window lies inside
the image. This equals ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=...)``, and for RGB the mean of the per-channel SSIMs,
as scikit-image computes with ``channel_axis``.
"""

from __future__ import annotations

import math

import torch

from ...errors import InvalidInputError
from .._common import check_channel_space, check_data_range, check_pair, compute_dtype, to_channel_space
from .._filter import batch_chunks, gaussian_window_1d, map_chunks, valid_filter

__all__ = ["ssim", "ssim_unchecked", "ssim_settings", "check_ssim_options", "check_min_size", "ssim_and_cs"]


def check_ssim_options(window_size: int, sigma: float, k1: float, k2: float) -> None:
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 3 or window_size % 2 == 0:
        raise InvalidInputError(f"window_size must be an odd int >= 3 (11 in Wang et al.), got {window_size!r}")
    for label, value in (("sigma", sigma), ("k1", k1), ("k2", k2)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise InvalidInputError(f"{label} must be a positive finite number, got {value!r}")


def check_min_size(shape: torch.Size, min_side: int, what: str) -> None:
    h, w = shape[-2], shape[-1]
    if min(h, w) < min_side:
        raise InvalidInputError(
            f"{what} needs images of at least {min_side}×{min_side} pixels, got {h}×{w}; "
            "use larger images, or a smaller window_size (the result then differs from Wang et al.)"
        )


def ssim_settings(data_range: float, window_size: int, sigma: float, k1: float, k2: float,
                  channel_space: str) -> dict[str, object]:
    """The settings attached to every SSIM result (its provenance)."""
    return {
        "window": "gaussian",
        "window_size": window_size,
        "sigma": sigma,
        "k1": k1,
        "k2": k2,
        "data_range": data_range,
        "channel_space": channel_space,
        "covariance": "population",
        "border": "valid (window-radius border excluded, as scikit-image crops it)",
        "reduction": "mean over pixels, then over channels, per image",
    }


def _ssim_cs_maps(xs: torch.Tensor, ys: torch.Tensor, window: list[float], c1: float, c2: float,
                  inplace: bool) -> tuple[torch.Tensor, torch.Tensor]:
    # One filtering pass over four stacked maps; x²+y² together because SSIM only ever uses
    # the sum of the two variances.
    stacked = torch.stack((xs, ys, xs * xs + ys * ys, xs * ys), dim=1)
    mu_x, mu_y, e_sq, e_xy = valid_filter(stacked, window).unbind(1)
    if not inplace:  # autograd needs the intermediates intact
        mu_xy = mu_x * mu_y
        mu_sq = mu_x * mu_x + mu_y * mu_y
        cs_map = (2 * (e_xy - mu_xy) + c2) / (e_sq - mu_sq + c2)
        return (2 * mu_xy + c1) / (mu_sq + c1) * cs_map, cs_map
    mu_xy = mu_x * mu_y
    mu_sq = mu_x.square_().add_(mu_y.square_())
    cs_map = e_xy.sub_(mu_xy).mul_(2).add_(c2).div_(e_sq.sub_(mu_sq).add_(c2))
    ssim_map = mu_xy.mul_(2).add_(c1).div_(mu_sq.add_(c1)).mul_(cs_map)
    return ssim_map, cs_map


def ssim_and_cs(x: torch.Tensor, y: torch.Tensor, window: list[float], c1: float, c2: float,
                *, want_cs: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-channel mean SSIM (and contrast-structure term) of checked ``B×C×H×W`` tensors: ``B×C``.

    Runs batch chunk by batch chunk so that on the CPU the stacked maps stay in cache.
    """
    b, c, h, w = x.shape
    inplace = not (torch.is_grad_enabled() and (x.requires_grad or y.requires_grad))
    chunks = batch_chunks(b, 4 * c * h * w, x.device)

    def one(part: slice) -> tuple[torch.Tensor, torch.Tensor | None]:
        ssim_map, cs_map = _ssim_cs_maps(x[part], y[part], window, c1, c2, inplace)
        return ssim_map.mean(dim=(-2, -1)), (cs_map.mean(dim=(-2, -1)) if want_cs else None)

    # Autograd stays on the calling thread; gradients through worker threads gain nothing here.
    results = map_chunks(one, chunks, x.device) if inplace else [one(part) for part in chunks]
    ssim_values = torch.cat([r[0] for r in results])
    cs_values = torch.cat([r[1] for r in results if r[1] is not None]) if want_cs else None
    return ssim_values, cs_values


def ssim(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float = 1.0,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    channel_space: str = "rgb",
) -> torch.Tensor:
    """SSIM of each image in the batch: ``B×C×H×W`` pair -> ``Tensor[B]``.

    Inputs are float tensors with values in ``[0, data_range]``; images must be at least
    ``window_size`` pixels on each side (there is no fallback: a smaller window gives numbers
    that are not comparable with published SSIM). RGB gives the mean of the per-channel SSIMs
    (``channel_space="rgb"``) or the SSIM of the BT.601 luma (``channel_space="y"``). float64
    input is measured in float64, anything else in float32.

    >>> x = torch.linspace(0, 1, 32 * 32).reshape(1, 1, 32, 32)
    >>> ssim(x, x)
    tensor([1.])
    """
    data_range = check_data_range(data_range)
    check_channel_space(channel_space)
    check_ssim_options(window_size, sigma, k1, k2)
    check_pair(pred, target, data_range)
    check_min_size(pred.shape, window_size, "SSIM")
    return ssim_unchecked(pred, target, data_range=data_range, window_size=window_size, sigma=sigma,
                          k1=k1, k2=k2, channel_space=channel_space)


def ssim_unchecked(pred: torch.Tensor, target: torch.Tensor, *, data_range: float, window_size: int,
                   sigma: float, k1: float, k2: float, channel_space: str) -> torch.Tensor:
    dtype = compute_dtype(pred)
    x = to_channel_space(pred.to(dtype), channel_space, data_range)
    y = to_channel_space(target.to(dtype), channel_space, data_range)
    window = gaussian_window_1d(window_size, sigma, torch.float64).tolist()
    values, _ = ssim_and_cs(x, y, window, (k1 * data_range) ** 2, (k2 * data_range) ** 2)
    return values.mean(dim=1)
