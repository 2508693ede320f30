"""Tiny files that decode to huge images ("decompression bombs"), made on the fly, and a runner
that starts a command under a memory cap and reports its peak resident memory.

The files are valid: a decoder without a pixel budget really decodes them (which is how the peaks
of the unprotected code were measured). They stay small because their compressed data repeats:
every tile of the TIFF points at the same compressed tile, and the PNG's zlib stream is one
fully flushed deflate block of zero rows written many times over (a block that follows a full
flush never refers back, so copies can be concatenated; the Adler-32 of n zero bytes is
``(n mod 65521) << 16 | 1``).
"""

from __future__ import annotations

import gzip
import os
import resource
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

MiB = 1 << 20


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, width: int, height: int, *, bit_depth: int = 16, colour_type: int = 2,
             rows_per_block: int = 100) -> Path:
    """An all-black PNG of ``width × height`` (16-bit RGB by default) in a few hundred kB."""
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = 1 + width * channels * bit_depth // 8
    while height % rows_per_block:
        rows_per_block -= 1
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(row * rows_per_block)) + comp.flush(zlib.Z_FULL_FLUSH)
    total = row * height
    stream = (b"\x78\xda" + block * (height // rows_per_block) + b"\x03\x00"   # final empty block
              + struct.pack(">I", ((total % 65521) << 16) | 1))
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", stream)
                     + _png_chunk(b"IEND", b""))
    return path


def _ifd(entries: list[tuple[int, int, int, bytes]], base: int, next_ifd: int) -> tuple[bytes, bytes]:
    """A classic little-endian TIFF IFD placed at ``base``; values longer than 4 bytes follow it."""
    entries = sorted(entries)
    size = 2 + 12 * len(entries) + 4
    head, extra = struct.pack("<H", len(entries)), b""
    for tag, kind, count, value in entries:
        if len(value) <= 4:
            head += struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0")
        else:
            head += struct.pack("<HHII", tag, kind, count, base + size + len(extra))
            extra += value + (b"\0" if len(value) % 2 else b"")
    return head + struct.pack("<I", next_ifd), extra


SHORT, LONG = 3, 4


def _page_entries(width: int, height: int, samples: int, data_offsets: list[int], data_counts: list[int],
                  *, tile: int | None) -> list[tuple[int, int, int, bytes]]:
    entries = [
        (256, LONG, 1, struct.pack("<I", width)),
        (257, LONG, 1, struct.pack("<I", height)),
        (258, SHORT, samples, struct.pack(f"<{samples}H", *[8] * samples)),
        (259, SHORT, 1, struct.pack("<H", 8)),            # Adobe deflate (zlib)
        (262, SHORT, 1, struct.pack("<H", 2 if samples == 3 else 1)),
        (277, SHORT, 1, struct.pack("<H", samples)),
        (284, SHORT, 1, struct.pack("<H", 1)),
    ]
    n = len(data_offsets)
    if tile:
        entries += [(322, SHORT, 1, struct.pack("<H", tile)), (323, SHORT, 1, struct.pack("<H", tile)),
                    (324, LONG, n, struct.pack(f"<{n}I", *data_offsets)),
                    (325, LONG, n, struct.pack(f"<{n}I", *data_counts))]
    else:
        entries += [(273, LONG, n, struct.pack(f"<{n}I", *data_offsets)),
                    (278, LONG, 1, struct.pack("<I", height // n if n > 1 else height)),
                    (279, LONG, n, struct.pack(f"<{n}I", *data_counts))]
    return entries


def tiff_bomb(path: Path, width: int, height: int, *, samples: int = 3, tile: int = 256) -> Path:
    """A zlib-tiled 8-bit TIFF of ``width × height`` whose tiles all share one compressed tile."""
    data = zlib.compress(bytes(tile * tile * samples), 9)
    n = -(-width // tile) * -(-height // tile)
    data_at = 8
    ifd_at = data_at + len(data) + len(data) % 2
    entries = _page_entries(width, height, samples, [data_at] * n, [len(data)] * n, tile=tile)
    ifd, extra = _ifd(entries, ifd_at, 0)
    path.write_bytes(b"II*\0" + struct.pack("<I", ifd_at) + data + b"\0" * (len(data) % 2) + ifd + extra)
    return path


def multipage_tiff(path: Path, pages: list[tuple[int, int]], *, samples: int = 1) -> Path:
    """A TIFF with one page per (width, height), each a gray ramp of small strips sharing data.

    Pages of equal shape form one "series" for tifffile (imageio's TIFF reader), which reads the
    whole stack as one array: the multi-page bomb. Strips of 16 rows keep files small."""
    body = bytearray(b"II*\0\0\0\0\0")
    ifd_offsets: list[int] = []
    pieces = []
    for width, height in pages:
        rows = min(16, height)
        strip = bytes((i * 7) % 256 for i in range(width * samples)) * rows
        data = zlib.compress(strip, 9)
        at = len(body)
        body += data + b"\0" * (len(data) % 2)
        n = -(-height // rows)
        counts = [len(data)] * n
        last_rows = height - rows * (n - 1)
        if last_rows != rows:  # the last strip is shorter
            tail = zlib.compress(strip[:width * samples * last_rows], 9)
            tail_at = len(body)
            body += tail + b"\0" * (len(tail) % 2)
            offsets = [at] * (n - 1) + [tail_at]
            counts = [len(data)] * (n - 1) + [len(tail)]
        else:
            offsets = [at] * n
        entries = _page_entries(width, height, samples, offsets, counts, tile=None)
        entries = [e if e[0] != 278 else (278, LONG, 1, struct.pack("<I", rows)) for e in entries]
        pieces.append(entries)
    for entries in pieces:
        ifd_offsets.append(len(body))
        ifd, extra = _ifd(entries, len(body), 0)
        body += ifd + extra
    for i, at in enumerate(ifd_offsets):  # chain the pages
        next_at = ifd_offsets[i + 1] if i + 1 < len(ifd_offsets) else 0
        count = struct.unpack_from("<H", body, at)[0]
        struct.pack_into("<I", body, at + 2 + 12 * count, next_at)
    struct.pack_into("<I", body, 4, ifd_offsets[0])
    path.write_bytes(bytes(body))
    return path


def bmp_rle_bomb(path: Path, width: int, height: int) -> Path:
    """An 8-bit RLE BMP of ``width × height``: every row is runs of 255 black pixels (2 bytes each)."""
    palette = b"".join(struct.pack("<BBBB", i, i, i, 0) for i in range(256))
    runs, rest = divmod(width, 255)
    row = b"\xff\x00" * runs + (bytes([rest, 0]) if rest else b"") + b"\x00\x00"
    pixels = row * height + b"\x00\x01"
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    path.write_bytes(b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels)
    return path


def jpeg_bomb(path: Path, width: int, height: int) -> Path:
    """A real 16×16 JPEG whose frame header claims ``width × height``."""
    import io

    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(buf, format="JPEG")
    data = bytearray(buf.getvalue())
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack_from(">H", data, i + 2)[0]
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", data, i + 5, height, width)
            break
        i += 2 + length
    path.write_bytes(bytes(data))
    return path


def gif_frames_bomb(path: Path, width: int, height: int, frames: int) -> Path:
    """A GIF with a ``width × height`` screen and ``frames`` frames of one pixel each: a reader that
    composes every frame onto the full screen holds ``frames × width × height`` pixels."""
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    frame = (b"\x21\xf9\x04\x00\x00\x00\x00\x00"                   # graphic control extension
             + b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0)      # 1×1 image descriptor
             + b"\x02\x02\x44\x01\x00")                            # LZW data of one pixel
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    path.write_bytes(head + loop + frame * frames + b"\x3b")
    return path


def idx_gzip_bomb(path: Path, count: int, side: int = 28) -> Path:
    """A gzip'ed IDX images file of ``count`` black ``side × side`` images (compresses ~1000:1)."""
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(struct.pack(">BBBBIII", 0, 0, 8, 3, count, side, side))
        chunk = bytes(side * side * 1000)
        left = count
        while left:
            n = min(left, 1000)
            fh.write(chunk[:side * side * n])
            left -= n
    return path


# -- running a command under a memory cap --------------------------------------------------------------

@dataclass
class Capped:
    returncode: int
    stdout: str
    stderr: str
    peak_mib: float


def run_capped(args: list[str], *, cap_mib: int = 2048, cwd: Path | None = None, env: dict | None = None,
               timeout: float = 300) -> Capped:
    """Run ``args`` with its address space capped at ``cap_mib``; report its exit code, output and
    peak resident memory (from ``wait4``, for this child alone)."""
    import tempfile

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap_mib * MiB, cap_mib * MiB))

    child_env = {k: v for k, v in os.environ.items()
                 if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    child_env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", **(env or {}))
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=child_env, cwd=cwd, preexec_fn=limit)
        try:
            _, status, usage = _wait4(proc.pid, timeout)
        except BaseException:
            proc.kill()
            os.waitpid(proc.pid, 0)
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Capped(proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                      usage.ru_maxrss / 1024)


def _wait4(pid: int, timeout: float):
    import time

    deadline = time.monotonic() + timeout
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            return got, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still running after {timeout}s")
        time.sleep(0.02)


def pixelsmith_args(*args: str) -> list[str]:
    return [sys.executable, "-m", "pixelsmith", *args]
