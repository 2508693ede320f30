"""Converting user input to image batches and checking it, with errors that say what was expected.

The convention everywhere: ``B×C×H×W`` float32 in [0, 1], C in (1, 3).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch

from .errors import InvalidInputError

__all__ = ["as_image_batch", "check_image_batch", "value_range", "check_same_shape", "default_device", "to_numpy_image"]

_INTEGER_RANGES = {np.uint8: 255.0, np.uint16: 65535.0}


def default_device(device: str | torch.device | None = None) -> torch.device:
    """The device to use: the one given, else CUDA when available, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidInputError(f"unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(f"device {device!r} asked for but CUDA is not available; use device='cpu'")
    return dev


def _shape_str(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def as_image_batch(
    x: Any,
    *,
    name: str = "image",
    device: str | torch.device | None = None,
    allow_rgba: bool = True,
    any_range: bool = False,
) -> torch.Tensor:
    """Convert a tensor, numpy array or imageio image to a checked ``B×C×H×W`` float32 batch.

    ``any_range=True`` accepts finite float values outside [0, 1]: noisy data legitimately leaves
    it (unclipped Gaussian noise, the protocol of the denoising literature), so restorers take it.

    Accepted: a ``B×C×H×W`` or ``C×H×W`` tensor; a numpy array ``H×W``, ``H×W×C`` (as imageio
    reads) or ``B×H×W×C``. uint8 and uint16 are scaled to [0, 1]; bool becomes {0, 1}; floats
    must already be in [0, 1]. An RGBA *array* (as imageio reads a PNG with alpha) drops its
    alpha channel with a warning; a tensor must already have C in (1, 3).

    >>> as_image_batch(np.zeros((4, 5), dtype=np.uint8)).shape
    torch.Size([1, 1, 4, 5])
    """
    if isinstance(x, torch.Tensor):
        t = x
        if t.dtype == torch.bool:
            t = t.float()
        elif t.dtype == torch.uint8:
            t = t.float() / 255.0
        elif t.dtype == getattr(torch, "uint16", None):  # as numpy uint16 (16-bit images)
            t = t.float() / 65535.0
        elif not t.is_floating_point():
            raise InvalidInputError(
                f"{name}: tensor dtype {t.dtype} is not supported; pass float in [0, 1], uint8 or uint16"
            )
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4:
            raise InvalidInputError(
                f"{name}: expected B×C×H×W with C in (1, 3), got {_shape_str(tuple(x.shape))}"
            )
    else:
        arr = np.asarray(x)
        if arr.dtype == object or arr.size == 0 and arr.ndim == 0:
            raise InvalidInputError(f"{name}: cannot convert {type(x).__name__} to an image")
        if arr.dtype == np.bool_:
            arr = arr.astype(np.float32)
        elif arr.dtype.type in _INTEGER_RANGES:
            arr = arr.astype(np.float32) / _INTEGER_RANGES[arr.dtype.type]
        elif np.issubdtype(arr.dtype, np.floating):
            arr = arr.astype(np.float32)
        else:
            raise InvalidInputError(
                f"{name}: array dtype {arr.dtype} is not supported; use uint8, uint16, bool or float in [0, 1]"
            )
        if arr.ndim == 2:
            arr = arr[None, :, :, None]
        elif arr.ndim == 3:
            arr = arr[None]
        if arr.ndim != 4:
            raise InvalidInputError(
                f"{name}: expected an H×W, H×W×C or B×H×W×C array, got {_shape_str(np.asarray(x).shape)}"
            )
        t = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)
        if t.shape[1] == 4 and allow_rgba:
            warnings.warn(f"{name}: RGBA input, alpha channel dropped", stacklevel=2)
            t = t[:, :3]
    t = t.to(dtype=torch.float32)
    if device is not None:
        t = t.to(default_device(device))
    return check_image_batch(t, name=name, any_range=any_range)


def check_image_batch(x: Any, *, name: str = "image", any_range: bool = False) -> torch.Tensor:
    """Raise :class:`InvalidInputError` unless ``x`` is a finite ``B×C×H×W`` float batch in [0, 1]
    (any finite values with ``any_range=True``)."""
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise InvalidInputError(
            f"{name}: expected B×C×H×W with C in (1, 3), got {_shape_str(tuple(x.shape))}"
        )
    if x.shape[0] < 1 or x.shape[2] < 1 or x.shape[3] < 1:
        raise InvalidInputError(f"{name}: empty batch or image, got {_shape_str(tuple(x.shape))}")
    if not x.is_floating_point():
        raise InvalidInputError(f"{name}: expected a float tensor in [0, 1], got dtype {x.dtype}")
    lo, hi = value_range(x)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise InvalidInputError(f"{name}: contains NaN or Inf values; clean the input first")
    if not any_range and (lo < -1e-6 or hi > 1 + 1e-6):
        raise InvalidInputError(
            f"{name}: values must lie in [0, 1], got [{lo:.4g}, {hi:.4g}]; divide 8-bit data by 255"
        )
    return x


def value_range(x: torch.Tensor) -> tuple[float, float]:
    """``(min, max)`` in one pass; NaN anywhere makes both NaN and ±Inf shows up in them, so this
    doubles as the finiteness check (a separate ``isfinite().all()`` costs more than the min/max)."""
    lo, hi = torch.aminmax(x.detach())
    return float(lo), float(hi)


def check_same_shape(pred: torch.Tensor, target: torch.Tensor) -> None:
    """Raise unless prediction and target have equal shapes."""
    if pred.shape != target.shape:
        raise InvalidInputError(
            f"pred and target must have the same shape, got {_shape_str(tuple(pred.shape))} "
            f"and {_shape_str(tuple(target.shape))}"
        )


def to_numpy_image(x: torch.Tensor) -> np.ndarray:
    """One ``C×H×W`` or ``1×C×H×W`` tensor in [0, 1] to an ``H×W`` or ``H×W×3`` float32 array."""
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise InvalidInputError(f"expected a single image, got a batch of {x.shape[0]}")
        x = x[0]
    arr = x.detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy()
    return arr[:, :, 0] if arr.shape[2] == 1 else arr
