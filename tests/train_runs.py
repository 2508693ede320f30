"""Helpers for tests that run ``pixelsmith train`` in subprocesses (torchrun, kills, signals).

Every child runs with ``OMP_NUM_THREADS=1`` (deterministic and light on a shared CI box) and a
timeout, without torchrun variables inherited from the parent.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

#: A U-Net small enough for a few CPU steps per second (the trainer's ``key=value`` options).
TINY_UNET = ["widths=4,8", "patch=16"]
#: A DCGAN of the same spirit; ``log_every=1`` logs every step's losses.
TINY_DCGAN = ["ngf=8", "ndf=8", "log_every=1"]
TIMEOUT = 240


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    return env


def pixelsmith_cmd(*args: str, nproc: int = 1) -> list[str]:
    if nproc == 1:
        return [sys.executable, "-m", "pixelsmith", *args]
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "pixelsmith", *args]


def run_pixelsmith(*args: str, nproc: int = 1, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    proc = subprocess.run(pixelsmith_cmd(*args, nproc=nproc), env=child_env(), capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    return proc


def log_records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]


def write_tiny_mnist(folder: Path, n: int = 64, seed: int = 0) -> Path:
    """An IDX image file of ``n`` 28×28 blob "digits" (the default 5,000-digit set takes seconds to load)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(9, 19), rng.uniform(9, 19), rng.uniform(3, 7)
        images[i] = (255 * (np.hypot(yy - cy, xx - cx) < r)).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + images.tobytes())
    return path
