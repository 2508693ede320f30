"""``deblur``'s blind path, measured on the choice set only (not the outside photographs).

    OMP_NUM_THREADS=1 python benchmarks/deblur_blind_choice.py

The choice set of ``pnp_prior_choice.py`` (4 bundled training photographs and 4 dead-leaves images of seed 1,
one kernel of each of five families, noise 0.01), restored blind: the kernel estimated, then plug-and-play.
Printed per family: the mean PSNR gain over TV deconvolution given the *true* kernel, with and without
``kernel_candidates`` (a motion estimate also tried as the continuous line of its expected length, the
deconvolution that explains the blurred image better kept). The outside evaluation is
``benchmarks/deblur_quality.py``.
"""

from __future__ import annotations

import torch

import pixelsmith
from pixelsmith.plugin import blur_with_kernel, gaussian_noise_like
from pnp_prior_choice import NOISE, choice_set, kernels

SETTINGS = {"kernel candidates": True, "estimate's own kernel only (default)": False}


def main() -> None:
    torch.set_num_threads(1)
    psnr = pixelsmith.metric("psnr")
    images = choice_set()
    tv = pixelsmith.restorer("tv-deconv")
    deblurrers = {s: pixelsmith.restorer("deblur", device="cpu", kernel_candidates=c) for s, c in SETTINGS.items()}
    overall: dict[str, list[float]] = {s: [] for s in SETTINGS}
    for family, kernel in kernels().items():
        gains: dict[str, list[float]] = {s: [] for s in SETTINGS}
        for i, clean in enumerate(images.values()):
            noise = gaussian_noise_like(clean, NOISE, torch.Generator().manual_seed(i))
            blurred = (blur_with_kernel(clean, kernel, "reflect") + noise).clamp(0, 1)
            with torch.inference_mode():
                baseline = float(psnr(tv.restore(blurred, kernel=kernel, sigma=NOISE).clamp(0, 1), clean)[0])
                for setting, deblur in deblurrers.items():
                    gains[setting].append(float(psnr(deblur.restore(blurred), clean)[0]) - baseline)
        for s in SETTINGS:
            overall[s] += gains[s]
        print(f"{family}: blind gain over TV (true kernel) "
              f"{ {s: round(sum(g) / len(g), 2) for s, g in gains.items()} }", flush=True)
    print(f"all: { {s: round(sum(g) / len(g), 2) for s, g in overall.items()} }")


if __name__ == "__main__":
    main()
