"""How many views the ``unet-denoise`` self-ensemble averages by default: measured on the choice set only.

    OMP_NUM_THREADS=1 python benchmarks/denoise_ensemble_choice.py

The choice set is the trainer's validation photographs (clock, rocket; 256² centre crops) and 8 dead-leaves
images of seed 1, never the test split or the procedural evaluation set (seed 20261130). For σ 15/25/50
(clipped Gaussian noise) it prints the mean PSNR gain of ``ensemble`` 2, 4 and 8 over one pass, on the
photographs / on the leaves, and the CPU seconds per image of each (one thread). The default (4) is the
largest that keeps ``unet-denoise`` at ≥ 10× BM3D's speed (issue 11's budget).
"""

from __future__ import annotations

import time

import numpy as np
import torch

import pixelsmith
from _common import centre_crop
from pixelsmith.data import load_photo
from pixelsmith.plugin import VALIDATION_PHOTOS, dead_leaves

VIEWS = (1, 2, 4, 8)
SIGMAS = (15, 25, 50)


def choice_set(channels: int = 1) -> dict[str, torch.Tensor]:
    """The validation photographs' 256² centre crops and 8 dead leaves of seed 1, gray (1) or RGB (3: a gray
    photograph repeated, as the trainer's colour validation sees it)."""
    images = {}
    for name in VALIDATION_PHOTOS:
        images[name] = centre_crop(load_photo(name, channels=channels))
    leaves = dead_leaves(8, seed=1, size=256, channels=channels)
    images.update({f"leaves{i}": leaves[i:i + 1] for i in range(len(leaves))})
    return images


def psnr(x: torch.Tensor, clean: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / (x.clamp(0, 1) - clean).square().mean()))


def main() -> None:
    torch.set_num_threads(1)
    images = choice_set()
    restorers = {v: pixelsmith.restorer("unet-denoise", device="cpu", ensemble=v) for v in VIEWS}
    seconds: dict[int, list[float]] = {v: [] for v in VIEWS}
    for sigma in SIGMAS:
        noise = pixelsmith.degradation("gaussian-noise", sigma=sigma / 255)
        scores = {v: {"photos": [], "leaves": []} for v in VIEWS}
        for i, (name, clean) in enumerate(images.items()):
            group = "leaves" if name.startswith("leaves") else "photos"
            noisy = noise(clean, seed=7000 + 10 * sigma + i)
            for v, restorer in restorers.items():
                start = time.process_time()
                out = restorer.restore(noisy)
                seconds[v].append(time.process_time() - start)
                scores[v][group].append(psnr(out, clean))
        gains = " ".join(f"×{v}: {np.mean(scores[v]['photos']) - np.mean(scores[1]['photos']):+.3f} / "
                         f"{np.mean(scores[v]['leaves']) - np.mean(scores[1]['leaves']):+.3f}" for v in VIEWS[1:])
        print(f"σ {sigma}: gain over one pass (photos / leaves) {gains}", flush=True)
    print("CPU s per 256² image:", {v: round(float(np.mean(t)), 3) for v, t in seconds.items()})


if __name__ == "__main__":
    main()
