"""``pixelsmith generate NAME -n N -o grid.png``: samples from a generator.

Memory does not grow with ``-n``: samples are drawn :data:`CHUNK` at a time from one seeded stream
(the same images as ``generator.sample(n, seed)``) and written as they come, one PNG each
(``--each``) and/or into one ``.npy`` array (``--array``, N×C×H×W uint8, written through a
temporary file and renamed). The grid (``-o``) is for small runs: it holds at most
:data:`GRID_MAX` samples (the first ones when ``--each``/``--array`` take all of them). Whether the
outputs can hold N samples (grid size, free space and free inodes of their file systems) is checked
before the first sample is drawn.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from .. import api
from ..components import make_generator
from ..errors import InvalidInputError
from ..io import save_grid, write_image
from ..weights import _new_file_mode  # noqa: PLC2701 - same package: the mode a plain open() gives
from ._common import check_output_file, check_output_folder, info, parse_params, progress

#: samples drawn and written per step (a multiple of 16, so the latent stream equals one big draw)
CHUNK = 256
#: most samples one grid image holds (32 × 32 of them)
GRID_MAX = 1024


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="sample images from a generator into a grid PNG, one PNG each, or an array file",
        description="Draw N samples from the generator NAME, in chunks, whatever N: a grid PNG (-o, at "
                    f"most {GRID_MAX} samples), one PNG per sample (--each DIR) and/or one .npy array "
                    "(--array FILE, N×C×H×W uint8). The same seed gives the same images on any device.",
        epilog="example: pixelsmith generate dcgan -n 64 --seed 0 -o samples.png")
    p.add_argument("name", help="generator name, e.g. dcgan")
    p.add_argument("options", nargs="*", metavar="option=value", help="generator options")
    p.add_argument("-n", "--num", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-o", "--output", type=Path, help=f"grid PNG to write (of the first {GRID_MAX} at most)")
    p.add_argument("--each", type=Path, metavar="DIR", help="also write sample_0000.png... into DIR")
    p.add_argument("--array", type=Path, metavar="FILE.npy", help="also write all samples into one .npy "
                                                                   "file (N×C×H×W uint8)")
    p.add_argument("--label", type=int, action="append", metavar="K",
                   help="class-conditional generators: draw class K (repeat to cycle through several; "
                        "default: every class in turn)")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row (default ≈ √N)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run, kv_dest="options")


def sample_names(n: int) -> list[str]:
    """``sample_0000.png`` …; wider numbers when N needs them, so names sort in sample order."""
    width = max(4, len(str(n - 1)))
    return [f"sample_{i:0{width}d}.png" for i in range(n)]


def _check(args: argparse.Namespace) -> None:
    n = args.num
    if args.output is None and args.each is None and args.array is None:
        raise InvalidInputError("say where to write the samples: -o grid.png, --each DIR and/or --array FILE.npy")
    if n < 1:
        raise InvalidInputError(f"-n must be at least 1, got {n}")
    if not 0 <= args.seed < 1 << 64:
        raise InvalidInputError(f"--seed must be in [0, 2**64), got {args.seed}")
    if args.nrow is not None and args.nrow < 1:
        raise InvalidInputError(f"--nrow must be at least 1, got {args.nrow}")
    if args.output is not None:
        if n > GRID_MAX and args.each is None and args.array is None:
            raise InvalidInputError(
                f"a grid holds at most {GRID_MAX} samples, -n asks for {n}: write them with --each DIR (one "
                f"PNG each) or --array FILE.npy, and keep -o for a grid of the first {GRID_MAX}")
        check_output_file(args.output, overwrite=args.overwrite, what="grid (-o)")
    if args.array is not None:
        if args.array.suffix.lower() != ".npy":
            raise InvalidInputError(f"--array {args.array}: the array file must end in .npy")
        check_output_file(args.array, overwrite=args.overwrite, what="array (--array)")
    if args.each is not None:
        check_output_folder(args.each, what="--each folder")
        if not args.overwrite:
            wanted = set(sample_names(n))
            with os.scandir(args.each) as entries:
                clash = sorted(e.name for e in entries if e.name in wanted)
            if clash:
                raise InvalidInputError(f"{args.each / clash[0]} already exists ({len(clash)} such files); "
                                        "pass --overwrite or choose another --each folder")
        _check_room(args.each, files=n, nbytes=n * 70, what=f"--each {args.each}")  # 70 B: an empty PNG


def _check_room(folder: Path, *, files: int, nbytes: int, what: str) -> None:
    """Refuse outputs that the file system holding ``folder`` cannot take (free inodes, free bytes)."""
    try:
        st = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs (Windows) or an odd mount: let the writes tell
        return
    free_files = st.f_favail if st.f_files else None  # 0 total inodes: the file system does not count them
    if free_files is not None and files > free_files:
        raise InvalidInputError(f"{what}: its file system has room for {free_files:,} more files, "
                                f"-n asks for {files:,}; write elsewhere, or use --array FILE.npy (one file)")
    free_bytes = st.f_bavail * st.f_frsize
    if nbytes > free_bytes:
        raise InvalidInputError(f"{what}: needs at least {nbytes:,} bytes, its file system has {free_bytes:,} "
                                "free; write elsewhere or ask for fewer samples")


class _ArrayWriter:
    """An ``.npy`` file of N×C×H×W uint8, appended chunk by chunk (no memory map: the address space
    stays small), through a hidden temporary file renamed when complete."""

    def __init__(self, path: Path, shape: tuple[int, ...]) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.expected = int(np.prod(shape))
        self.written = 0
        self.fh = open(self.tmp, "wb")
        os.fchmod(self.fh.fileno(), _new_file_mode(path))
        np.lib.format.write_array_header_1_0(self.fh, {"descr": "|u1", "fortran_order": False, "shape": shape})

    def write(self, block: np.ndarray) -> None:
        self.fh.write(np.ascontiguousarray(block, dtype=np.uint8).tobytes())
        self.written += block.size

    def close(self, ok: bool) -> None:
        self.fh.close()
        if ok and self.written == self.expected:
            os.replace(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    import torch

    _check(args)
    n = args.num
    generator = api.generator(args.name, device=args.device, **parse_params(args.options))
    labels = None
    if args.label:
        if not generator.conditional:
            raise InvalidInputError(f"{args.name} is not class-conditional; drop --label")
        labels = torch.tensor(args.label)
    elif generator.conditional and isinstance(getattr(generator, "num_classes", None), int):
        # every class in turn across the whole run, not afresh in every chunk
        labels = torch.arange(generator.num_classes)
    shape = (n, *generator.output_shape)
    writer = None
    if args.array is not None:
        _check_room(args.array.parent, files=1, nbytes=int(np.prod(shape)) + 128, what=f"--array {args.array}")
        writer = _ArrayWriter(args.array, shape)
    names = sample_names(n)
    grid: list = []
    rng = make_generator(args.seed)  # one stream for every chunk: the images of sample(n, seed)
    starts = list(range(0, n, CHUNK))
    if len(starts) > 1 and n - starts[-1] < 16:
        starts.pop()  # a last draw of < 16 values would come from torch's scalar path: keep it in the previous chunk
    ok = False
    try:
        for i, start in enumerate(progress(starts, total=len(starts), desc=f"generate {args.name}",
                                           quiet=args.quiet)):
            stop = starts[i + 1] if i + 1 < len(starts) else n
            chunk_labels = None if labels is None else labels[torch.arange(start, stop) % len(labels)]
            images = generator.sample(stop - start, seed=rng, labels=chunk_labels)
            if tuple(images.shape[1:]) != tuple(generator.output_shape):
                raise InvalidInputError(f"{args.name} made samples of shape {tuple(images.shape[1:])}, its "
                                        f"output_shape says {tuple(generator.output_shape)}")
            if args.output is not None and len(grid) < GRID_MAX:
                grid.extend(images[:GRID_MAX - len(grid)])
            if args.each is not None:
                for name, image in zip(names[start:stop], images):
                    write_image(args.each / name, image.unsqueeze(0))
            if writer is not None:
                writer.write((images.clamp(0, 1) * 255).round().to(torch.uint8).numpy())
        ok = True
    finally:
        if writer is not None:
            writer.close(ok)
    if args.output is not None:
        save_grid(torch.stack(grid), args.output, nrow=args.nrow)
        shown = f"{len(grid)} of {n}" if len(grid) < n else str(n)
        info(f"wrote {args.output} ({shown} samples of {args.name}, seed {args.seed})", quiet=args.quiet)
    if args.each is not None:
        info(f"wrote {n} images into {args.each}", quiet=args.quiet)
    if args.array is not None:
        info(f"wrote {args.array} ({' × '.join(map(str, shape))} uint8)", quiet=args.quiet)
    return 0
