"""Peak memory of tiled restoration: ``pixelsmith restore unet-denoise`` on one 9 Mpx or 36 Mpx image.

Issue 12, item 2: memory bounded by the tile, not the image. Each case runs the real command in a
fresh child process with one thread and reads that child's own peak resident memory (``os.wait4``
rusage, the ``ru_maxrss`` that ``resource.getrusage`` reports), so the figure is the whole process:
Python, torch, the plugin, the decoded image, the tiles, the output and the PNG encoder.

``--code before`` measures the code before issue 12 for comparison (the restored pixels are the
same): the network input (image, noise-level map, known flag) stacked for the whole padded image
before tiling instead of tile by tile (``UNetDenoiser.local_prepare = False``), and the blind noise
estimate unfolding every 7×7 patch of the image in float64 before sampling 60,000 of them (14 GB
at 36 Mpx) instead of gathering the sampled ones. Children run under an address-space cap
(``--cap-gib``, default 8) so that the old code cannot take the machine; a case that hits it is
reported as such.

    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/tiled_restore_memory.py --mpx 9 --channels 1
    OMP_NUM_THREADS=1 nice -n 15 python benchmarks/tiled_restore_memory.py --mpx 36 --channels 3 --code before

One case per run (they are slow on a CPU: a 36 Mpx RGB image takes minutes); the result line is
also appended to ``--log`` when given.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = """
import sys
from pixelsmith.cli import main
if {before}:
    import torch
    import torch.nn.functional as F
    import pixelsmith.noise_level
    from pixelsmith_unet.denoise import UNetDenoiser

    UNetDenoiser.local_prepare = False

    def unfold_all(img, patch, max_patches, generator):  # the estimator as it was before issue 12
        cols = F.unfold(img[None, None].double(), patch)[0]
        if cols.shape[1] > max_patches:
            cols = cols[:, torch.randperm(cols.shape[1], generator=generator)[:max_patches]]
        cols = cols - cols.mean(dim=1, keepdim=True)
        return torch.linalg.eigvalsh(cols @ cols.T / max(1, cols.shape[1] - 1)).clamp_min(0)

    pixelsmith.noise_level._patch_covariance_eigenvalues = unfold_all
sys.exit(main({argv!r}))
"""


def make_image(path: Path, side: int, channels: int, seed: int = 0) -> None:
    """A photo-like test image: a bundled photograph stretched to ``side``², plus Gaussian noise σ 0.1."""
    import imageio.v3 as iio
    import torch
    import torch.nn.functional as F

    from pixelsmith.data import load_photo

    photo = load_photo("astronaut", channels=channels)
    big = F.interpolate(photo, size=(side, side), mode="bilinear", align_corners=False)[0]
    rng = np.random.default_rng(seed)
    rows = []
    for y0 in range(0, side, 512):  # noise added in strips: no second full-size float copy
        strip = big[:, y0:y0 + 512].numpy()
        strip = strip + rng.normal(0, 0.1, strip.shape).astype(np.float32)
        rows.append((np.clip(strip, 0, 1) * 255 + 0.5).astype(np.uint8))
    del big
    pixels = np.concatenate(rows, axis=1)
    iio.imwrite(path, pixels[0] if channels == 1 else np.moveaxis(pixels, 0, -1))
    del torch


def run_case(image: Path, out: Path, *, before: bool, restorer: str, cap_gib: float) -> tuple[float, float, int]:
    """(peak RSS MiB, wall seconds, exit code) of one child restoring ``image``."""
    import resource

    def cap() -> None:
        limit = int(cap_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    argv = ["restore", restorer, str(image), "-o", str(out), "--quiet", "--device", "cpu", "--overwrite"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(before=before, argv=argv)], env=env,
                            preexec_fn=cap)
    _, status, usage = os.wait4(proc.pid, 0)
    return usage.ru_maxrss / 1024.0, time.perf_counter() - started, os.waitstatus_to_exitcode(status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mpx", type=float, default=9, help="image size in megapixels (square): 9 or 36")
    parser.add_argument("--channels", type=int, choices=(1, 3), default=1)
    parser.add_argument("--code", choices=("now", "before"), default="now",
                        help="now: the current code; before: the code before issue 12 (see the module doc)")
    parser.add_argument("--cap-gib", type=float, default=8.0, help="address-space cap of the child (GiB)")
    parser.add_argument("--restorer", default="unet-denoise")
    parser.add_argument("--log", type=Path, help="append the result line to this file")
    parser.add_argument("--keep", type=Path, help="folder to keep the test image in (made once, reused)")
    args = parser.parse_args(argv)
    side = int(round(math.sqrt(args.mpx * 1e6)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        image = folder / f"test-{side}-c{args.channels}.png"
        if not image.exists():
            make_image(image, side, args.channels)
        rss, seconds, code = run_case(image, Path(tmp) / "out", before=args.code == "before", restorer=args.restorer,
                                      cap_gib=args.cap_gib)
    image_mib = side * side * args.channels * 4 / 2**20
    line = (f"{args.restorer} {side}×{side} ({side * side / 1e6:.1f} Mpx) {'gray' if args.channels == 1 else 'RGB'}, "
            f"code {args.code}: peak RSS {rss:.0f} MiB, {seconds:.0f} s, exit {code}"
            f"{f' (out of memory under the {args.cap_gib:g} GiB cap)' if code == 1 else ''} "
            f"(the image as float32: {image_mib:.0f} MiB; OMP_NUM_THREADS=1)")
    print(line, flush=True)
    if args.log:
        with open(args.log, "a") as fh:
            fh.write(line + "\n")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
