"""Reading and writing image files: imageio in, ``1×C×H×W`` float32 tensors in [0, 1] out.

- PNG, JPEG, TIFF (8- and 16-bit) and BMP; grayscale and RGB. RGBA loses its alpha and gray+alpha
  its alpha, each with a warning, because every component works on 1 or 3 channels.
- Anything that cannot be decoded (missing, empty, truncated, not an image, unknown extension)
  raises :class:`~pixelsmith.errors.ImageReadError` naming the file.
- A pixel budget: the size is read from the file's header before anything is decoded, and an
  image of more than :func:`max_pixels` pixels (default 100 million, near Pillow's own limit;
  ``PIXELSMITH_MAX_PIXELS`` or ``--max-pixels`` change it) raises
  :class:`~pixelsmith.errors.ImageTooLargeError` instead of taking the machine's memory. Only the
  first page of a multi-page TIFF and the first frame of an animation are read.
- Writes are atomic: the encoded bytes go to a temporary file in the destination folder that is
  then renamed over the destination, so an interrupted run never leaves half a file behind.

>>> import torch, tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "gray.png"
>>> _ = write_image(path, torch.full((1, 1, 4, 6), 0.5))
>>> read_image(path).shape
torch.Size([1, 1, 4, 6])
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch

from .errors import ImageReadError, ImageTooLargeError, InvalidInputError, PixelsmithError, ResourceError
from .headers import ImageHeader, read_image_header
from .tensors import as_image_batch, check_image_batch
from .weights import atomic_write_bytes

__all__ = [
    "IMAGE_EXTENSIONS",
    "DEFAULT_MAX_PIXELS",
    "ImageData",
    "ImageHeader",
    "read_image",
    "read_image_data",
    "read_image_array",
    "read_image_header",
    "check_pixel_budget",
    "max_pixels",
    "set_max_pixels",
    "write_image",
    "encode_image",
    "iter_image_files",
    "save_grid",
]

#: Pixels (width × height) an image may have unless configured otherwise: 100 million, near Pillow's
#: 89.5 million (which it only warns about), so a 10000 × 10000 image still reads. A 100-Mpx RGB
#: image needs about 1.2 GB as a float32 tensor and two or three times that while it is decoded.
DEFAULT_MAX_PIXELS = 100_000_000
_ENV_MAX_PIXELS = "PIXELSMITH_MAX_PIXELS"
_max_pixels_override: int | None = None


def _parse_pixel_count(value: object, source: str) -> int:
    text = str(value).strip().replace("_", "").replace(",", "")
    try:
        number = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        number = float("nan")
    if not (isinstance(number, int) or number.is_integer()) or int(number) < 1:
        raise InvalidInputError(
            f"{source} must be a positive whole number of pixels, e.g. 200000000 or 2e8, got {value!r}")
    return int(number)


def max_pixels() -> int:
    """The pixel budget of every image read: :func:`set_max_pixels`, else ``$PIXELSMITH_MAX_PIXELS``,
    else :data:`DEFAULT_MAX_PIXELS`."""
    if _max_pixels_override is not None:
        return _max_pixels_override
    env = os.environ.get(_ENV_MAX_PIXELS, "").strip()
    return _parse_pixel_count(env, _ENV_MAX_PIXELS) if env else DEFAULT_MAX_PIXELS


def set_max_pixels(limit: int | str | None) -> int | None:
    """Set the pixel budget for this process (``None``: back to the environment or the default).

    Returns the previous setting, so a caller can restore it. The CLI's ``--max-pixels`` calls this.
    """
    global _max_pixels_override
    previous = _max_pixels_override
    _max_pixels_override = None if limit is None else _parse_pixel_count(limit, "max_pixels")
    return previous


def check_pixel_budget(path: str | os.PathLike[str], *, limit: int | None = None) -> ImageHeader:
    """Read ``path``'s header and raise :class:`ImageTooLargeError` when the image has more pixels than
    ``limit`` (default :func:`max_pixels`); returns the header. Nothing is decoded."""
    header = read_image_header(path)
    limit = max_pixels() if limit is None else _parse_pixel_count(limit, "max_pixels")
    if header.pixels > limit:
        raise ImageTooLargeError(
            f"cannot read image {path}: it is {header.width} × {header.height} = {header.pixels:,} pixels "
            f"({header.format}), more than the limit of {limit:,} pixels; if the image is genuine, raise the "
            f"limit with --max-pixels {_round_up(header.pixels)} (or {_ENV_MAX_PIXELS}={_round_up(header.pixels)})")
    return header


def _round_up(pixels: int) -> int:
    step = 10 ** max(0, len(str(pixels)) - 2)
    return -(-pixels // step) * step

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


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> torch.Tensor:
    """Read one image file as a ``1×C×H×W`` float32 tensor in [0, 1], C in (1, 3).

    ``max_pixels`` overrides the pixel budget (:func:`max_pixels`) for this call."""
    return read_image_data(path, max_pixels=max_pixels).image


def read_image_data(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> ImageData:
    """Like :func:`read_image`, also returning the file's bit depth (to keep 16-bit files 16-bit)."""
    arr, path = _read_array(path, max_pixels, check_extension=True)
    return _to_image_data(arr, path)


def read_image_array(path: str | os.PathLike[str], *, max_pixels: int | None = None) -> np.ndarray:
    """The decoded pixels of an image file as imageio gives them (``H×W`` or ``H×W×C``, its own
    dtype), after the pixel budget was checked on the header; any extension Pillow knows.

    Only the first page (TIFF) or frame (GIF, WebP, APNG) is decoded. For training-data loaders
    that convert pixels their own way; others want :func:`read_image`."""
    return _read_array(path, max_pixels, check_extension=False)[0]


def _read_array(path: str | os.PathLike[str], limit: int | None, *, check_extension: bool
                ) -> tuple[np.ndarray, Path]:
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"cannot read image {path}: the file does not exist")
    if not path.is_file():
        raise ImageReadError(f"cannot read image {path}: it is not a file (a folder?)")
    if check_extension and path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise ImageReadError(
            f"cannot read image {path}: extension {path.suffix or '(none)'!r} is not an image "
            f"format pixelsmith reads; use one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    try:
        if path.stat().st_size == 0:
            raise ImageReadError(f"cannot read image {path}: the file is empty")
        header = check_pixel_budget(path, limit=limit)
        arr = _decode(path, header)
    except PixelsmithError:
        raise
    except MemoryError as exc:
        raise ResourceError(
            f"cannot read image {path}: not enough memory to decode it; free memory, or lower the pixel "
            f"budget (--max-pixels, {_ENV_MAX_PIXELS}) so that such files are refused up front") from exc
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, ValueError, SyntaxError, ...
        raise ImageReadError(
            f"cannot read image {path}: {_first_line(exc)}; the file is corrupt, truncated or not a "
            f"{path.suffix.lstrip('.').upper() or 'known'} image"
        ) from exc
    return arr, path


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


_pillow_lock = threading.Lock()


@contextlib.contextmanager
def _pillow_allows(pixels: int) -> Iterator[None]:
    """Let Pillow decode an image pixelsmith's budget already accepted, without its own bomb warning
    (at 89.5 Mpx) or error (at twice that), whatever the two limits are."""
    from PIL import Image

    with _pillow_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        before = Image.MAX_IMAGE_PIXELS
        if before is not None and pixels > before:
            Image.MAX_IMAGE_PIXELS = pixels
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = before


def _decode(path: Path, checked: ImageHeader) -> np.ndarray:
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
    with _pillow_allows(checked.pixels), iio.imopen(path, "r") as fh:
        if type(fh).__name__ == "TifffilePlugin":
            # index=0 is tifffile's first *series*, which stacks every page of equal shape (a
            # thousand small pages make one huge array): read the first page, whose size was checked
            arr = np.asarray(fh.read(index=None, page=0))
        else:
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
    if bit_depth not in (8, 16, 32):
        raise InvalidInputError(f"bit_depth must be 8, 16 or 32 (float TIFF), got {bit_depth!r}")
    if isinstance(tensor, torch.Tensor) and tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    batch = check_image_batch(tensor, name="image")
    if batch.shape[0] != 1:
        raise InvalidInputError(
            f"write_image writes one image, got a batch of {batch.shape[0]}; write each image, "
            "or use save_grid for a grid"
        )
    arr = batch[0].detach().float().clamp(0, 1).cpu().permute(1, 2, 0).numpy()
    if bit_depth == 32:
        return np.ascontiguousarray(arr[:, :, 0] if arr.shape[2] == 1 else arr, dtype=np.float32)
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
    if bit_depth == 32 and ext not in (".tif", ".tiff"):
        raise InvalidInputError(f"{ext} files cannot hold 32-bit float images; write .tif, or use bit_depth=16")
    arr = _to_array(tensor, bit_depth)
    if bit_depth == 16 and ext == ".png":
        return _png16(arr)
    import imageio.v3 as iio

    kwargs = {"quality": 95} if ext in (".jpg", ".jpeg") else {}
    return bytes(iio.imwrite("<bytes>", arr, extension=ext, **kwargs))


def write_image(path: str | os.PathLike[str], tensor: torch.Tensor, bit_depth: int = 8, *,
                overwrite: bool = True) -> Path:
    """Write one ``1×C×H×W`` (or ``C×H×W``) image in [0, 1] atomically; the format follows the extension.

    ``bit_depth=16`` writes 16-bit PNG or TIFF, ``bit_depth=32`` float32 TIFF. With
    ``overwrite=False`` an existing file is an error rather than replaced. Returns the path written.
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
