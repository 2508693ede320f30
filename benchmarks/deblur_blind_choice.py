"""``deblur``'s blind path, measured on the choice set only (not the outside photographs).

    OMP_NUM_THREADS=1 python benchmarks/deblur_blind_choice.py [SETTING ...] [--families shake,line] [--wide] [--many-kernels]

The choice set of ``pnp_prior_choice.py`` (4 bundled training photographs and 4 dead-leaves images of seed 1,
one kernel of each of five families, noise 0.01), restored blind: the kernel estimated, then plug-and-play.
Printed per family: the mean PSNR gain over TV deconvolution given the *true* kernel of each setting of
:data:`SETTINGS` (or only those named on the command line): the estimator's kernel, a kernel of free shape
(``kernel_shape``), and ``kernel_candidates`` (a motion estimate also tried as the continuous line of its
expected length, the deconvolution that explains the blurred image better kept). The outside evaluation is
``benchmarks/deblur_quality.py``. ``--wide``: the 17 choice images of ``deblur_line_policy.py`` instead of 8
(a rule that won by 0.66 dB on the 8 lost on the 17 and on the outside cases; choose on these);
``--many-kernels``: its 11 kernels instead of one per family.
"""

from __future__ import annotations

import argparse
import itertools

import torch

import pixelsmith
from pixelsmith.plugin import blur_with_kernel, gaussian_noise_like
from deblur_line_policy import images as wide_images
from deblur_line_policy import kernels as wide_kernels
from pnp_prior_choice import NOISE, choice_set, kernels

#: name → options of the deblur restorer
SETTINGS = {
    "estimator's family kernel (until 2026-12-01)": {"kernel_shape": "family"},
    "free shape when the estimator is unsure (default)": {},
    "free shape always": {"kernel_shape": "free"},
    "kernel candidates": {"kernel_shape": "family", "kernel_candidates": True},
    "free shape when unsure, confident lines kept": {"line_refine_rounds": 0},
}


def main() -> None:
    torch.set_num_threads(1)
    psnr = pixelsmith.metric("psnr")
    tv = pixelsmith.restorer("tv-deconv")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="*", help=f"settings to run (default all): {list(SETTINGS)}")
    parser.add_argument("--families", help="comma-separated kernel families (default all)")
    parser.add_argument("--wide", action="store_true",
                        help="the 17 images of deblur_line_policy.py (13 training photographs, 4 dead leaves) "
                             "instead of the 8 of the choice set: 8 proved too few to choose a blind policy on")
    parser.add_argument("--many-kernels", action="store_true",
                        help="the 11 kernels of deblur_line_policy.py (3 Kornia lines, 3 continuous lines, "
                             "3 anisotropic Gaussians, 2 shake paths) instead of one per family")
    args = parser.parse_args()
    images = wide_images() if args.wide else choice_set()
    if args.many_kernels:  # grouped by family, the first word of each name
        families: dict[str, list[torch.Tensor]] = {}
        for name, k in wide_kernels().items():
            families.setdefault(name.split()[0], []).append(k)
    else:
        families = {family: [k] for family, k in kernels().items()}
    only = args.settings or list(SETTINGS)
    # the settings studied are the two-family estimator's (the default until 2026-12-03)
    deblurrers = {s: pixelsmith.restorer("deblur", device="cpu", estimator="standard", **SETTINGS[s]) for s in only}
    overall: dict[str, list[float]] = {s: [] for s in only}
    for family, family_kernels in families.items():
        if args.families and family not in args.families.split(","):
            continue
        gains: dict[str, list[float]] = {s: [] for s in only}
        for kernel, (i, clean) in itertools.product(family_kernels, enumerate(images.values())):
            noise = gaussian_noise_like(clean, NOISE, torch.Generator().manual_seed(i))
            blurred = (blur_with_kernel(clean, kernel, "reflect") + noise).clamp(0, 1)
            with torch.inference_mode():
                baseline = float(psnr(tv.restore(blurred, kernel=kernel, sigma=NOISE).clamp(0, 1), clean)[0])
                for setting, deblur in deblurrers.items():
                    gains[setting].append(float(psnr(deblur.restore(blurred), clean)[0]) - baseline)
        for s in only:
            overall[s] += gains[s]
        print(f"{family}: blind gain over TV (true kernel) "
              f"{ {s: round(sum(g) / len(g), 2) for s, g in gains.items()} }", flush=True)
    print(f"all: { {s: round(sum(g) / len(g), 2) for s, g in overall.items()} }")


if __name__ == "__main__":
    main()
