"""Peak memory of ``pixelsmith restore`` over folders of 10 and 2,000 small images.

The folder restore streams one image at a time through the Pipeline, so its peak RSS should not
grow with the number of files. Each measurement runs the real CLI in a fresh child process and reads
that child's own peak RSS (``os.wait4`` rusage), so the numbers include Python, torch and the plugins.

    OMP_NUM_THREADS=1 python benchmarks/restore_memory.py            # 10 and 2000 files, restorer median
    python benchmarks/restore_memory.py --counts 10 500 2000 --restorer tv --size 48
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_folder(folder: Path, count: int, size: int, seed: int = 0) -> None:
    import imageio.v3 as iio

    rng = np.random.default_rng(seed)
    for i in range(count):
        sub = folder / f"part{i // 500:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        iio.imwrite(sub / f"img{i:05d}.png", rng.integers(0, 256, (size, size), dtype=np.uint8))


def peak_rss_of_restore(restorer: str, src: Path, out: Path) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one ``pixelsmith restore`` child."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pixelsmith", "restore", restorer, str(src), "-o", str(out),
                             "--quiet", "--device", "cpu"], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"pixelsmith restore failed with exit status {os.waitstatus_to_exitcode(status)}")
    return usage.ru_maxrss / 1024.0, seconds  # ru_maxrss is KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 2000])
    parser.add_argument("--restorer", default="median")
    parser.add_argument("--size", type=int, default=32, help="side of the square gray test images")
    args = parser.parse_args(argv)
    print(f"restorer {args.restorer}, {args.size}×{args.size} gray PNGs, OMP_NUM_THREADS="
          f"{os.environ.get('OMP_NUM_THREADS', '1')}")
    print(f"{'files':>7}  {'peak RSS MiB':>12}  {'seconds':>8}  {'outputs':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in args.counts:
            src, out = Path(tmp, f"in{count}"), Path(tmp, f"out{count}")
            make_folder(src, count, args.size)
            rss, seconds = peak_rss_of_restore(args.restorer, src, out)
            written = sum(1 for _ in out.rglob("*.png"))
            print(f"{count:>7}  {rss:>12.1f}  {seconds:>8.1f}  {written:>7}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
