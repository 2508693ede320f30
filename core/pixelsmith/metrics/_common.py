"""Checks and channel-space conversion shared by every metric.

The functional forms take tensors straight from the user, so they check everything here, once,
before any arithmetic: a wrong shape deep inside ``conv2d`` would surface as a torch traceback
that names none of the user's arguments.
"""

from __future__ import annotations

import math

import torch

from ..errors import InvalidInputError

__all__ = ["CHANNEL_SPACES", "check_pair", "check_data_range", "check_channel_space", "rgb_to_y", "to_channel_space"]

#: ``"rgb"`` measures every channel as given (one channel for gray input); ``"y"`` measures the
#: ITU-R BT.601 luma of RGB input (gray input is already luma and is measured as given).
CHANNEL_SPACES = ("rgb", "y")

# ITU-R BT.601 studio-swing luma, as MATLAB's and scikit-image's rgb2ycbcr compute it (divided by
# 255 to stay in [0, 1] units): the Y channel that restoration papers report PSNR-Y and SSIM-Y on.
_Y_WEIGHTS = (65.481 / 255.0, 128.553 / 255.0, 24.966 / 255.0)
_Y_OFFSET = 16.0 / 255.0


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def check_data_range(data_range: float) -> float:
    """``data_range`` as a positive finite float, else :class:`InvalidInputError`."""
    try:
        value = float(data_range)
    except (TypeError, ValueError):
        raise InvalidInputError(f"data_range must be a positive number, got {data_range!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InvalidInputError(
            f"data_range must be a positive finite number (1.0 for images in [0, 1]), got {data_range!r}"
        )
    return value


def check_channel_space(channel_space: str) -> str:
    if channel_space not in CHANNEL_SPACES:
        raise InvalidInputError(
            f"channel_space must be one of {CHANNEL_SPACES}, got {channel_space!r}"
        )
    return channel_space


def check_pair(pred: object, target: object, data_range: float, *, check_range: bool = True) -> None:
    """Raise :class:`InvalidInputError` unless ``pred``/``target`` are a usable pair of batches.

    Both must be floating ``B×C×H×W`` tensors with C in (1, 3), equal shapes, one device, finite
    values in ``[0, data_range]``.
    """
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise InvalidInputError(
                f"{name}: expected a torch.Tensor, got {type(t).__name__}; "
                "use pixelsmith.as_image_batch() to convert arrays"
            )
        if t.ndim != 4 or t.shape[1] not in (1, 3):
            raise InvalidInputError(f"{name}: expected B×C×H×W with C in (1, 3), got {_shape(t)}")
        if t.numel() == 0:
            raise InvalidInputError(f"{name}: empty batch or image, got {_shape(t)}")
        if not t.is_floating_point():
            raise InvalidInputError(
                f"{name}: expected a float tensor in [0, {data_range:g}], got dtype {t.dtype}; "
                "convert with pixelsmith.as_image_batch()"
            )
    if pred.shape != target.shape:
        raise InvalidInputError(
            f"pred and target must have the same shape, got {_shape(pred)} and {_shape(target)}"
        )
    if pred.device != target.device:
        raise InvalidInputError(
            f"pred and target must be on one device, got {pred.device} and {target.device}; move one with .to()"
        )
    for name, t in (("pred", pred), ("target", target)):
        if not bool(torch.isfinite(t).all()):
            raise InvalidInputError(f"{name}: contains NaN or Inf values; clean the input first")
        if check_range:
            lo, hi = float(t.min()), float(t.max())
            tol = 1e-6 * data_range
            if lo < -tol or hi > data_range + tol:
                raise InvalidInputError(
                    f"{name}: values must lie in [0, data_range={data_range:g}], got [{lo:.4g}, {hi:.4g}]; "
                    "rescale the images or pass the matching data_range"
                )


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """BT.601 studio-swing luma of an RGB batch in [0, 1]: ``B×3×H×W`` -> ``B×1×H×W`` in [16/255, 235/255].

    Equals ``skimage.color.rgb2ycbcr(img)[..., 0] / 255``.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise InvalidInputError(f"rgb_to_y expects B×3×H×W, got {_shape(x)}")
    w = torch.tensor(_Y_WEIGHTS, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True) + _Y_OFFSET


def to_channel_space(x: torch.Tensor, channel_space: str, data_range: float = 1.0) -> torch.Tensor:
    """``x`` in the measured channel space; luma is scaled to ``data_range`` like the input."""
    if channel_space == "y" and x.shape[1] == 3:
        if data_range == 1.0:
            return rgb_to_y(x)
        return rgb_to_y(x / data_range) * data_range
    return x


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 input is measured in float64; everything else in float32 (half precision loses SSIM digits)."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32
