"""The choice data behind ``deblur``'s wide-blur check (``wide_check``, default on): what changes when it runs.

    OMP_NUM_THREADS=1 python benchmarks/deblur_wide_check_choice.py [--images N]

The kernel estimator reads camera shakes far beyond its training range as a mild Gaussian, confidently,
as it reads sharp images; the check compares such a reading with a free-shape kernel search. This script
runs blind restores with the check on and off over choice data only (the 13 training photographs and 4
dead leaves of seed 1 of ``deblur_line_policy.py``, 256² gray; never the test split or the evaluation's dead
leaves):

- each image sharp, with noise 0, 0.01 and 0.02 (the check must leave these alone);
- each image blurred by 5 camera shakes of 19–27 px a side (drawn with seeds 600 and 700), noise 0.01.

A case is restored only where the two settings pick different kernels (``Deblurrer.blind_kernels``);
printed: each changed case's PSNR gain (sharp: over the input; shake: over TV deconvolution given the
true kernel) with the check off and on, and the counts. About 25 minutes on one thread for all images.
"""

from __future__ import annotations

import argparse
import time

import torch

import pixelsmith
from deblur_line_policy import images
from pixelsmith.plugin import blur_with_kernel, gaussian_noise_like, shake_kernel

NOISE = 0.01


def big_shakes(generator: torch.Generator, n: int, sides: tuple[int, int] = (19, 27),
               paths: tuple[float, float] = (20.0, 42.0)) -> list[torch.Tensor]:
    """``n`` camera-shake kernels whose sides are in ``sides`` (px), paths uniform in ``paths``, drawn from
    ``generator``."""
    out = []
    while len(out) < n:
        length = paths[0] + (paths[1] - paths[0]) * float(torch.rand((), generator=generator))
        k = shake_kernel(length, torch.Generator().manual_seed(int(torch.randint(0, 2**31, (), generator=generator))))
        if sides[0] <= k.shape[0] <= sides[1]:
            out.append(k)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=None, help="only the first N images (a quick look)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    imgs = dict(list(images().items())[: args.images])
    on = pixelsmith.restorer("deblur", device="cpu", estimator="standard")  # the two-family policy studied
    off = pixelsmith.restorer("deblur", device="cpu", estimator="standard", wide_check=False)
    tv = pixelsmith.restorer("tv-deconv", device="cpu")
    psnr = pixelsmith.metric("psnr")

    def score(x: torch.Tensor, clean: torch.Tensor) -> float:
        return float(psnr(x.clamp(0, 1), clean)[0])

    shakes = {seed: torch.Generator().manual_seed(seed) for seed in (600, 700)}
    counts = {"sharp": [0, 0], "shake": [0, 0]}  # cases, changed
    changes: dict[str, list[float]] = {"sharp": [], "shake": []}
    t0 = time.perf_counter()
    for i, (name, clean) in enumerate(imgs.items()):
        cases = [(f"sharp, noise {s}", "sharp", None,
                  (clean + gaussian_noise_like(clean, s, torch.Generator().manual_seed(i))).clamp(0, 1) if s else clean)
                 for s in (0.0, 0.01, 0.02)]
        kernels = big_shakes(shakes[600], 1) + big_shakes(shakes[700], 4)
        for j, k in enumerate(kernels):
            b = blur_with_kernel(clean, k, "reflect")
            y = (b + gaussian_noise_like(b, NOISE, torch.Generator().manual_seed(100 * i + j))).clamp(0, 1)
            cases.append((f"shake {k.shape[0]}×{k.shape[0]}", "shake", k, y))
        for label, group, k, y in cases:
            counts[group][0] += 1
            with torch.inference_mode():
                k_on, k_off = on.blind_kernels(y)[0], off.blind_kernels(y)[0]
                if k_on.shape == k_off.shape and torch.equal(k_on, k_off):
                    continue
                base = score(y, clean) if k is None else score(tv.restore(y, kernel=k, sigma=NOISE), clean)
                gain_on, gain_off = score(on.restore(y), clean) - base, score(off.restore(y), clean) - base
            counts[group][1] += 1
            changes[group].append(gain_on - gain_off)
            print(f"[{time.perf_counter() - t0:5.0f} s] {name:22s} {label:18s} check off {gain_off:+.2f}, on {gain_on:+.2f} dB",
                  flush=True)
    for group, (n, changed) in counts.items():
        deltas = changes[group]
        print(f"{group}: {changed} of {n} cases changed"
              + (f", by {', '.join(f'{d:+.2f}' for d in sorted(deltas))} dB" if deltas else ""))


if __name__ == "__main__":
    main()
