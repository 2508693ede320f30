"""Image sizes from file headers, without decoding: what the pixel budget is checked against.

A few hundred kilobytes of compressed data can describe gigapixels (a "decompression bomb"), and a
decoder allocates the whole image before it looks at the data. So the size is read from the
header first, by format, from the file's first bytes (not its extension): PNG (IHDR), JPEG (the
first SOFn frame header), TIFF and BigTIFF (the first page, the one pixelsmith decodes), BMP,
GIF (logical screen and first frame) and WebP (VP8, VP8L, VP8X). Other formats fall back to
Pillow's lazy ``Image.open``, which also reads only the header.

>>> import tempfile, pathlib, torch
>>> from pixelsmith.io import write_image
>>> path = write_image(pathlib.Path(tempfile.mkdtemp()) / "x.png", torch.zeros(1, 3, 4, 6))
>>> read_image_header(path)
ImageHeader(format='PNG', width=6, height=4, channels=3, bits=8)
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import ImageReadError

__all__ = ["ImageHeader", "read_image_header"]

_MAX_SEGMENTS = 100_000  # JPEG segments / GIF blocks walked before giving up on a header


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says: format, size in pixels, channels and bits per channel when known.

    For TIFF the values are those of the first page, the one pixelsmith reads; for GIF the first
    frame's canvas."""

    format: str
    width: int
    height: int
    channels: int | None = None
    bits: int | None = None

    @property
    def pixels(self) -> int:
        return self.width * self.height


class _Bad(Exception):
    """A header that cannot be parsed; turned into an ImageReadError naming the file."""


def read_image_header(path: str | os.PathLike[str]) -> ImageHeader:
    """The header of an image file; :class:`ImageReadError` when it is not an image pixelsmith can size."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            magic = fh.read(16)
            fh.seek(0)
            for test, parse in _PARSERS:
                if test(magic):
                    header = parse(fh)
                    break
            else:
                header = _pillow(path)
    except _Bad as exc:
        raise ImageReadError(f"cannot read image {path}: {exc}; the file is corrupt, truncated or not an image") from None
    except struct.error:
        raise ImageReadError(f"cannot read image {path}: its header is cut short; the file is truncated") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read image {path}: {exc.strerror or exc}") from exc
    if header.width < 1 or header.height < 1:
        raise ImageReadError(f"cannot read image {path}: its header gives a size of "
                             f"{header.width} × {header.height} pixels; the file is corrupt")
    return header


def _read(fh: BinaryIO, n: int) -> bytes:
    data = fh.read(n)
    if len(data) < n:
        raise _Bad("the header is cut short")
    return data


# -- PNG ---------------------------------------------------------------------------------------------

def _png(fh: BinaryIO) -> ImageHeader:
    head = _read(fh, 29)
    if head[12:16] != b"IHDR":
        raise _Bad("a PNG must start with its IHDR chunk")
    width, height, bits, colour = struct.unpack(">IIBB", head[16:26])
    channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(colour)
    if channels is None:
        raise _Bad(f"PNG colour type {colour} does not exist")
    return ImageHeader("PNG", width, height, channels, bits)


# -- JPEG --------------------------------------------------------------------------------------------

_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(fh: BinaryIO) -> ImageHeader:
    fh.seek(2)
    for _ in range(_MAX_SEGMENTS):
        byte = fh.read(1)
        while byte and byte != b"\xff":  # bytes between segments: decoders skip them, so do we
            byte = fh.read(1)
        marker = fh.read(1)
        while marker == b"\xff":  # fill bytes
            marker = fh.read(1)
        if not byte or not marker:
            break
        code = marker[0]
        if code == 0x01 or 0xD0 <= code <= 0xD7:  # markers without a length
            continue
        if code in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            break
        (length,) = struct.unpack(">H", _read(fh, 2))
        if length < 2:
            raise _Bad(f"JPEG segment of length {length}")
        if code in _SOF:
            bits, height, width, channels = struct.unpack(">BHHB", _read(fh, 6))
            if height == 0:
                raise _Bad("a JPEG frame whose height is given later (DNL marker) is not supported")
            return ImageHeader("JPEG", width, height, channels, bits)
        fh.seek(length - 2, 1)
    raise _Bad("no JPEG frame header (SOF) found")


# -- TIFF --------------------------------------------------------------------------------------------

_TIFF_TYPES = {1: "B", 3: "H", 4: "I", 16: "Q", 6: "b", 8: "h", 9: "i", 17: "q"}


def _tiff(fh: BinaryIO) -> ImageHeader:
    head = _read(fh, 16)
    order = "<" if head[:2] == b"II" else ">"
    (magic,) = struct.unpack(order + "H", head[2:4])
    if magic == 42:
        big, (offset,) = False, struct.unpack(order + "I", head[4:8])
    elif magic == 43:
        big, (offset,) = True, struct.unpack(order + "Q", head[8:16])
    else:
        raise _Bad(f"TIFF version {magic} does not exist")
    fh.seek(offset)
    count_fmt, entry_size = ("Q", 20) if big else ("H", 12)
    (count,) = struct.unpack(order + count_fmt, _read(fh, 8 if big else 2))
    if not 0 < count <= 4096:
        raise _Bad(f"the first TIFF page has {count} tags")
    entries = _read(fh, count * entry_size)
    tags: dict[int, int] = {}
    for i in range(count):
        entry = entries[i * entry_size:(i + 1) * entry_size]
        if big:
            tag, kind, n = struct.unpack(order + "HHQ", entry[:12])
            inline, value_size = entry[12:20], 8
        else:
            tag, kind, n = struct.unpack(order + "HHI", entry[:8])
            inline, value_size = entry[8:12], 4
        if tag not in (256, 257, 258, 277, 32997) or kind not in _TIFF_TYPES or n < 1:
            continue
        fmt = order + _TIFF_TYPES[kind]
        size = struct.calcsize(fmt)
        if size * n <= value_size:
            (tags[tag],) = struct.unpack(fmt, inline[:size])
        else:  # the first of several values (BitsPerSample of RGB), stored elsewhere
            (where,) = struct.unpack(order + ("Q" if big else "I"), inline)
            here = fh.tell()
            fh.seek(where)
            (tags[tag],) = struct.unpack(fmt, _read(fh, size))
            fh.seek(here)
    if 256 not in tags or 257 not in tags:
        raise _Bad("the first TIFF page has no ImageWidth or ImageLength")
    depth = tags.get(32997, 1)
    if depth != 1:
        raise _Bad(f"the first TIFF page is a volume of depth {depth}, not a 2-D image")
    return ImageHeader("TIFF", tags[256], tags[257], tags.get(277, 1), tags.get(258, 1))


# -- BMP ---------------------------------------------------------------------------------------------

def _bmp(fh: BinaryIO) -> ImageHeader:
    head = _read(fh, 30)
    (dib,) = struct.unpack("<I", head[14:18])
    if dib == 12:
        width, height, _, bits = struct.unpack("<HHHH", head[18:26])
    elif dib >= 40:
        width, height, _, bits = struct.unpack("<iiHH", head[18:30])
    else:
        raise _Bad(f"BMP info header of {dib} bytes")
    return ImageHeader("BMP", width, abs(height), 1 if bits <= 8 else 3, bits)


# -- GIF ---------------------------------------------------------------------------------------------

def _gif(fh: BinaryIO) -> ImageHeader:
    head = _read(fh, 13)
    width, height, flags = struct.unpack("<HHB", head[6:11])
    if flags & 0x80:
        fh.seek(3 << ((flags & 7) + 1), 1)
    for _ in range(_MAX_SEGMENTS):  # the first frame may reach beyond the screen: Pillow then grows it
        kind = fh.read(1)
        if kind == b"\x2c":
            left, top, w, h = struct.unpack("<HHHH", _read(fh, 8))
            return ImageHeader("GIF", max(width, left + w), max(height, top + h), 3, 8)
        if kind != b"\x21":
            break
        fh.seek(1, 1)  # extension label
        for _ in range(_MAX_SEGMENTS):
            size = fh.read(1)
            if not size or size == b"\0":
                break
            fh.seek(size[0], 1)
    return ImageHeader("GIF", width, height, 3, 8)


# -- WebP --------------------------------------------------------------------------------------------

def _webp(fh: BinaryIO) -> ImageHeader:
    head = _read(fh, 30)
    chunk = head[12:16]
    data = head[20:30]
    if chunk == b"VP8 ":
        if data[3:6] != b"\x9d\x01\x2a":
            raise _Bad("a VP8 frame without its start code")
        width, height = struct.unpack("<HH", data[6:10])
        return ImageHeader("WEBP", width & 0x3FFF, height & 0x3FFF, 3, 8)
    if chunk == b"VP8L":
        if data[0] != 0x2F:
            raise _Bad("a VP8L bitstream without its signature")
        (bits,) = struct.unpack("<I", data[1:5])
        return ImageHeader("WEBP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4, 8)
    if chunk == b"VP8X":
        width = int.from_bytes(data[4:7], "little") + 1
        height = int.from_bytes(data[7:10], "little") + 1
        return ImageHeader("WEBP", width, height, 4, 8)
    raise _Bad(f"unknown WebP chunk {chunk!r}")


def _pillow(path: Path) -> ImageHeader:
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        limit = Image.MAX_IMAGE_PIXELS
        try:
            Image.MAX_IMAGE_PIXELS = None  # the size is what we are asking; pixelsmith's budget judges it
            with Image.open(path) as im:
                width, height = im.size
                fmt = im.format or "image"
                channels = len(im.getbands())
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for foreign files
            raise _Bad(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")) from None
        finally:
            Image.MAX_IMAGE_PIXELS = limit
    return ImageHeader(fmt, width, height, channels, None)


_PARSERS = (
    (lambda m: m.startswith(b"\x89PNG\r\n\x1a\n"), _png),
    (lambda m: m.startswith(b"\xff\xd8"), _jpeg),
    (lambda m: m[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"), _tiff),
    (lambda m: m.startswith(b"BM"), _bmp),
    (lambda m: m[:6] in (b"GIF87a", b"GIF89a"), _gif),
    (lambda m: m[:4] == b"RIFF" and m[8:12] == b"WEBP", _webp),
)
