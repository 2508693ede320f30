"""A folder of the user's own images as a tensor dataset.

Every file is read through :func:`pixelsmith.io.read_image_array`: its size is checked against the
pixel budget from its header before it is decoded, and only its first page or frame is read (a
GIF's frames or a TIFF's pages are not a dataset).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ImageReadError, TrainingError
from ..io import read_image_array

__all__ = ["IMAGE_EXTENSIONS", "list_image_files", "load_image_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")


def list_image_files(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursive), sorted for a stable order."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise TrainingError(f"data folder {root} does not exist or is not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _read(path: Path) -> np.ndarray:
    arr = read_image_array(path)  # ImageReadError (naming the file) for bad, foreign or too large files
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise ImageReadError(f"cannot read image {path}: array of shape {arr.shape} is not a gray or RGB image")
    if arr.ndim == 3 and arr.shape[2] == 2:
        arr = arr[:, :, 0]  # gray + alpha
    if arr.dtype.kind in "iu" and arr.dtype not in (np.uint8, np.uint16):
        arr = arr.astype(np.uint16) if arr.size and arr.min() >= 0 and arr.max() <= 65535 else arr
        if arr.dtype != np.uint16:
            raise ImageReadError(f"cannot read image {path}: pixel type {arr.dtype} is not supported")
    return arr


def _to_tensor(arr: np.ndarray, channels: int) -> torch.Tensor:
    if arr.dtype == np.uint16:
        t = torch.from_numpy(arr.astype(np.float32) / 65535.0)
    elif arr.dtype == np.bool_:
        t = torch.from_numpy(arr.astype(np.float32))
    elif np.issubdtype(arr.dtype, np.floating):
        t = torch.from_numpy(arr.astype(np.float32)).clamp(0, 1)
    else:
        t = torch.from_numpy(arr.astype(np.float32) / 255.0)
    if t.ndim == 2:
        t = t[:, :, None]
    t = t[:, :, :3] if t.shape[2] >= 3 else t[:, :, :1]
    t = t.permute(2, 0, 1)
    if channels == 1 and t.shape[0] == 3:
        t = (0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2]).unsqueeze(0)
    elif channels == 3 and t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return t.contiguous()


def load_image_folder(folder: str | Path, *, channels: int = 1, size: int | None = None,
                      skip_unreadable: bool = True) -> list[torch.Tensor]:
    """Every image under ``folder`` as a ``1×C×H×W`` tensor (resized to ``size``² when given).

    Unreadable files are skipped with a warning (or raise with ``skip_unreadable=False``).
    """
    files = list_image_files(folder)
    if not files:
        raise TrainingError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {folder}")
    out = []
    for path in files:
        try:
            t = _to_tensor(_read(path), channels).unsqueeze(0)
        except ImageReadError as exc:
            if not skip_unreadable:
                raise
            warnings.warn(str(exc), stacklevel=2)
            continue
        if size is not None:
            t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(t.clamp(0, 1))
    if not out:
        raise TrainingError(f"none of the {len(files)} image files under {folder} could be read")
    return out
