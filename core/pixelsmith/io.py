"""Reading and writing image files: imageio in, ``1×C×H×W`` float32 tensors in [0, 1] out.

- PNG, JPEG, TIFF (8- and 16-bit) and BMP; grayscale and RGB. RGBA loses its alpha and gray+alpha
  its alpha, each with a warning, because every component works on 1 or 3 channels.
- Anything that cannot be decoded (missing, empty, truncated, not an image, unknown extension)
  raises :class:`~pixelsmith.errors.ImageReadError` naming the file.
- Writes are atomic: the encoded bytes go to a temporary file in the destination folder that is
  then renamed over the destination, so an interrupted run never leaves half a file behind.

>>> import torch, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "gray.png"
>>> _ = write_image(path, torch.full((1, 1, 4, 6), 0.5))
>>> read_image(path).shape
torch.Size([1, 1, 4, 6])
"""

from __future__ import annotations

import math
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from .errors import ImageReadError, InvalidInputError, PixelsmithError
from .tensors import as_image_batch, check_image_batch
from .weights import atomic_write_bytes

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageData",
    "read_image",
    "read_image_data",
    "write_image",
    "encode_image",
    "iter_image_files",
    "save_grid",
]

#: Extensions (lower case) that :func:`iter_image_files` picks up and :func:`read_image` accepts.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_SIXTEEN_BIT_EXTENSIONS = (".png", ".tif", ".tiff")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class ImageData:
    """An image read from a file, with what is needed to write a result back the same way.

    ``bit_depth`` is 8 or 16 for integer files and 32 for float TIFFs; ``alpha_dropped`` says an
    alpha channel was discarded on reading.
    """

    image: torch.Tensor
    path: Path
    bit_depth: int
    alpha_dropped: bool = False


def read_image(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read one image file as a ``1×C×H×W`` float32 tensor in [0, 1], C in (1, 3)."""
    return read_image_data(path).image


def read_image_data(path: str | os.PathLike[str]) -> ImageData:
    """Like :func:`read_image`, also returning the file's bit depth (to keep 16-bit files 16-bit)."""
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"cannot read image {path}: the file does not exist")
    if not path.is_file():
        raise ImageReadError(f"cannot read image {path}: it is not a file (a folder?)")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ImageReadError(
            f"cannot read image {path}: extension {path.suffix or '(none)'!r} is not an image "
            f"format pixelsmith reads; use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    try:
        if path.stat().st_size == 0:
            raise ImageReadError(f"cannot read image {path}: the file is empty")
        arr = _decode(path)
    except PixelsmithError:
        raise
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, ValueError, SyntaxError, ...
        raise ImageReadError(
            f"cannot read image {path}: {_first_line(exc)}; the file is corrupt, truncated or not a "
            f"{path.suffix.lstrip('.').upper()} image"
        ) from exc
    return _to_image_data(arr, path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) of a PNG file, or None when it is not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(29)
    if len(head) < 29 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _decode(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    header = _png_header(path)
    if header is not None and header[0] == 16 and header[1] in (2, 6):
        # Pillow (imageio's PNG backend) reduces 16-bit colour PNGs to 8 bits; kornia-rs (a
        # dependency of kornia) decodes them exactly.
        try:
            import kornia_rs
        except ImportError:  # pragma: no cover - kornia always brings kornia-rs today
            warnings.warn(f"{path}: 16-bit colour PNG read with 8-bit precision (kornia-rs missing)",
                          stacklevel=3)
        else:
            mode = "rgb" if header[1] == 2 else "rgba"
            return np.asarray(kornia_rs.io.read_image_png_u16(str(path), mode))
    with iio.imopen(path, "r") as fh:
        arr = np.asarray(fh.read(index=0))
        meta = fh.metadata() if hasattr(fh, "metadata") else {}
    if meta.get("mode") == "CMYK":  # Pillow would hand CMYK over as four channels that look like RGBA
        arr = np.asarray(iio.imread(path, index=0, mode="RGB"))
    return arr


def _to_image_data(arr: np.ndarray, path: Path) -> ImageData:
    if arr.dtype == np.uint8 or arr.dtype == np.bool_:
        bit_depth = 8
    elif arr.dtype == np.uint16:
        bit_depth = 16
    elif arr.dtype.kind in "iu" and arr.size and arr.min() >= 0 and arr.max() <= 65535:
        # Pillow opens some 16-bit grayscale PNGs in its 32-bit integer mode "I"
        arr, bit_depth = arr.astype(np.uint16), 16
    elif arr.dtype.kind == "f":
        arr, bit_depth = arr.astype(np.float32), 32
    else:
        raise ImageReadError(
            f"cannot read image {path}: pixel type {arr.dtype} is not supported; "
            "save it as 8- or 16-bit unsigned integers or float in [0, 1]"
        )
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim != 2 and not (arr.ndim == 3 and arr.shape[2] in (2, 3, 4)):
        raise ImageReadError(
            f"cannot read image {path}: array of shape {arr.shape} is not a single gray or RGB image"
        )
    alpha_dropped = False
    if arr.ndim == 3 and arr.shape[2] in (2, 4):
        kind = "gray+alpha" if arr.shape[2] == 2 else "RGBA"
        warnings.warn(f"{path}: {kind} image, alpha channel dropped", stacklevel=3)
        arr = arr[:, :, 0] if arr.shape[2] == 2 else arr[:, :, :3]
        alpha_dropped = True
    try:
        image = as_image_batch(arr, name=str(path), allow_rgba=False)
    except InvalidInputError as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}") from exc
    return ImageData(image=image, path=path, bit_depth=bit_depth, alpha_dropped=alpha_dropped)


def _to_array(tensor: torch.Tensor, bit_depth: int) -> np.ndarray:
    if bit_depth not in (8, 16):
        raise InvalidInputError(f"bit_depth must be 8 or 16, got {bit_depth!r}")
    if isinstance(tensor, torch.Tensor) and tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    batch = check_image_batch(tensor, name="image")
    if batch.shape[0] != 1:
        raise InvalidInputError(
            f"write_image writes one image, got a batch of {batch.shape[0]}; write each image, "
            "or use save_grid for a grid"
        )
    arr = batch[0].detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy()
    scale = 255.0 if bit_depth == 8 else 65535.0
    out = np.rint(arr * scale).astype(np.uint8 if bit_depth == 8 else np.uint16)
    return out[:, :, 0] if out.shape[2] == 1 else out


def _png16(arr: np.ndarray) -> bytes:
    """Encode a uint16 gray or RGB array as PNG: Pillow cannot write 16-bit colour PNGs."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    height, width, channels = arr.shape
    # C order whatever the input strides (a permuted tensor, a 1-pixel-wide image): view() needs it
    rows = np.ascontiguousarray(arr, dtype=">u2").reshape(height, width * channels)
    # filter type 0 ("none") on every row: simple, lossless, readable by every decoder
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows.view(np.uint8)], axis=1).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type = 0 if channels == 1 else 2
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return _PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def encode_image(tensor: torch.Tensor, extension: str, *, bit_depth: int = 8) -> bytes:
    """The bytes of an image file (``extension`` such as ``".png"``) holding one image."""
    ext = extension.lower() if extension.startswith(".") else "." + extension.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise InvalidInputError(
            f"cannot write {ext!r} images; use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    if bit_depth == 16 and ext not in _SIXTEEN_BIT_EXTENSIONS:
        raise InvalidInputError(
            f"{ext} files cannot hold 16-bit images; write .png or .tif, or use bit_depth=8"
        )
    arr = _to_array(tensor, bit_depth)
    if bit_depth == 16 and ext == ".png":
        return _png16(arr)
    import imageio.v3 as iio

    kwargs = {"quality": 95} if ext in (".jpg", ".jpeg") else {}
    return bytes(iio.imwrite("<bytes>", arr, extension=ext, **kwargs))


def write_image(path: str | os.PathLike[str], tensor: torch.Tensor, bit_depth: int = 8, *,
                overwrite: bool = True) -> Path:
    """Write one ``1×C×H×W`` (or ``C×H×W``) image in [0, 1] atomically; the format follows the extension.

    ``bit_depth=16`` writes 16-bit PNG or TIFF. With ``overwrite=False`` an existing file is an
    error rather than replaced. Returns the path written.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise InvalidInputError(f"{path} already exists; choose another name or allow overwriting")
    data = encode_image(tensor, path.suffix, bit_depth=bit_depth)
    return atomic_write_bytes(path, data)


def iter_image_files(inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
                     ) -> Iterator[tuple[Path, Path]]:
    """Yield ``(path, relative_name)`` for image files given directly or found in folders.

    A file is yielded as given (whatever its extension, so that reading it can report a problem)
    with its own name as relative name; a folder is walked recursively, in sorted order, for files
    with a known image extension, skipping hidden files and folders (names starting with ``.``,
    which include the temporary files of interrupted atomic writes). Relative names keep the
    sub-folders. A path that does not exist raises :class:`ImageReadError` before anything is yielded
    for it.
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    for item in inputs:
        root = Path(item)
        if root.is_file():
            yield root, Path(root.name)
        elif root.is_dir():
            found: list[Path] = []
            for folder, dirs, files in os.walk(root):  # followlinks=False: no symlink loops
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                found.extend(Path(folder, f) for f in files
                             if not f.startswith(".") and Path(f).suffix.lower() in IMAGE_EXTENSIONS)
            for path in sorted(found, key=lambda p: p.relative_to(root).as_posix()):
                yield path, path.relative_to(root)
        else:
            raise ImageReadError(f"input {root} does not exist; give image files or folders of images")


def save_grid(images: torch.Tensor, path: str | os.PathLike[str], *, nrow: int | None = None,
              padding: int = 2, pad_value: float = 1.0) -> Path:
    """Write ``N×C×H×W`` images as one grid PNG (``nrow`` images per row, default ≈ √N); returns the path.

    Used for sample grids of generators, trainers and the bench.
    """
    batch = as_image_batch(images, name="images").detach().cpu()
    n, c, h, w = batch.shape
    if nrow is None:
        nrow = max(1, math.ceil(math.sqrt(n)))
    if not isinstance(nrow, int) or nrow < 1:
        raise InvalidInputError(f"nrow must be a positive int, got {nrow!r}")
    if not isinstance(padding, int) or padding < 0:
        raise InvalidInputError(f"padding must be a non-negative int, got {padding!r}")
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = torch.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding),
                      float(pad_value))
    for i in range(n):
        r, col = divmod(i, cols)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top:top + h, left:left + w] = batch[i]
    return write_image(path, grid.unsqueeze(0), bit_depth=8)
