"""Settings of ``deblur``'s plug-and-play method, measured on the choice set only (not the outside photographs).

    OMP_NUM_THREADS=1 python benchmarks/pnp_prior_choice.py [--only SETTING ...] [--prior PATH ...] [--held-out]
        [--blind] [--noise SIGMA]

The choice set: 4 bundled training photographs (astronaut, coffee, grass, page; 256² centre crops) and 4
dead-leaves images of seed 1, blurred by one kernel of each of five families (Gaussian σ 2, Kornia's motion
kernel, an anti-aliased 12 px line, an anisotropic Gaussian, a camera-shake trajectory), noise 0.01, the
true kernel given. Printed per family and per group: the mean PSNR gain over TV deconvolution (``tv-deconv``,
true kernel) of each setting of the denoiser prior (iterations, self-ensemble, which of the two pinned priors or
both averaged), and the CPU seconds per image.
``--noise`` sets another noise level (given to every method, as the true kernel is), e.g. to compare priors
around the level where ``deblur`` hands over from one to the other (``PRIOR_MAX_NOISE``).
The outside evaluation of the shipped setting is ``benchmarks/deblur_quality.py``.
"""

from __future__ import annotations

import argparse
import time

import torch

import pixelsmith
from _common import centre_crop
from pixelsmith.data import load_photo
from pixelsmith.plugin import VALIDATION_PHOTOS
from pixelsmith.plugin import (anisotropic_gaussian_kernel, blur_with_kernel, dead_leaves, gaussian_kernel,
                               gaussian_noise_like, line_kernel, motion_kernel, shake_kernel)

#: setting -> deblur options (views of the prior's self-ensemble, outer iterations, λ, prior weights)
SETTINGS: dict[str, dict] = {
    "one pass, 8 iterations": {"pnp_ensemble": 1, "pnp_iterations": 8},
    "one pass, 16 iterations": {"pnp_ensemble": 1, "pnp_iterations": 16},
    "one pass, 24 iterations": {"pnp_ensemble": 1, "pnp_iterations": 24},
    "4-view prior, 6 iterations": {"pnp_ensemble": 4, "pnp_iterations": 6},
    "4-view prior, 8 iterations": {"pnp_ensemble": 4, "pnp_iterations": 8},
    "4-view prior, 12 iterations": {"pnp_ensemble": 4, "pnp_iterations": 12},
    "8-view prior, 8 iterations": {"pnp_ensemble": 8, "pnp_iterations": 8},
    "4-view prior, λ 0.7": {"pnp_ensemble": 4, "pnp_regularisation": 0.7},
    "4-view prior, λ 1.4": {"pnp_ensemble": 4, "pnp_regularisation": 1.4},
    "4-view prior, unet-denoise's own weights": {"pnp_ensemble": 4, "denoiser_weights": "shipped"},
    "4-view priors, both averaged": {"pnp_ensemble": 4, "given_prior": "both"},
    "4-view blocked prior": {"pnp_ensemble": 4, "given_prior": "blocked"},
}
NOISE = 0.01


def choice_set() -> dict[str, torch.Tensor]:
    images = {n: centre_crop(load_photo(n)) for n in ("astronaut", "coffee", "grass", "page")}
    leaves = dead_leaves(4, seed=1, size=256, channels=1)
    images.update({f"leaves{i}": leaves[i:i + 1] for i in range(len(leaves))})
    return images


def kernels() -> dict[str, torch.Tensor]:
    return {"gaussian": gaussian_kernel(2.0), "kornia": motion_kernel(9, 30.0), "line": line_kernel(12.0, 100.0),
            "anisotropic": anisotropic_gaussian_kernel(2.5, 0.7, 130.0),
            "shake": shake_kernel(20.0, torch.Generator().manual_seed(7))}


def held_out_set() -> dict[str, torch.Tensor]:
    """The validation photographs (never trained on) and 8 dead leaves of seed 1."""
    images = {n: centre_crop(load_photo(n, channels=1)) for n in VALIDATION_PHOTOS}
    leaves = dead_leaves(8, seed=1, size=256, channels=1)
    images.update({f"leaves{i}": leaves[i:i + 1] for i in range(len(leaves))})
    return images


def held_out_kernels() -> dict[str, torch.Tensor]:
    from deblur_line_policy import kernels as line_policy_kernels

    return {"gaussian σ 2": gaussian_kernel(2.0), **line_policy_kernels()}


def _deblurrer(options: dict):
    options = dict(options)
    if options.get("denoiser_weights") == "shipped":  # the file unet-denoise itself ships, not deblur's pinned one
        options["denoiser_weights"] = pixelsmith.restorer("unet-denoise").weights_file.path
    return pixelsmith.restorer("deblur", device="cpu", **options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=list(SETTINGS), help="measure only these settings")
    parser.add_argument("--prior", action="append", default=[], metavar="PATH",
                        help="also measure the 4-view prior with these unet-denoise weights files (e.g. a "
                             "`pixelsmith train deblur part=pnp-prior` fine-tune or one of its checkpoints' exports)")
    parser.add_argument("--held-out", action="store_true",
                        help="images no training run sees: the 2 validation photographs (clock, rocket) and 8 "
                             "dead leaves of seed 1, with the 11 kernels of deblur_line_policy.py and the Gaussian "
                             "σ 2 (the choice set's photographs train the fine-tuned priors of --prior)")
    parser.add_argument("--blind", action="store_true",
                        help="blind restores (kernel and σ found on the image) instead of the true kernel")
    parser.add_argument("--noise", type=float, default=NOISE, metavar="SIGMA",
                        help=f"noise σ of the blurred images, images in [0, 1] (default {NOISE})")
    args = parser.parse_args()
    if not 0 <= args.noise <= 0.5:
        parser.error(f"--noise must be in [0, 0.5], got {args.noise}")
    print(f"noise σ {args.noise:g}, {'blind' if args.blind else 'true kernel and σ given'}", flush=True)
    # with --prior and no --only, only the given priors run (their cases are the same as any earlier run's)
    settings = {k: v for k, v in SETTINGS.items() if (args.only and k in args.only) or not (args.only or args.prior)}
    settings.update({f"4-view prior, {path}": {"pnp_ensemble": 4, "denoiser_weights": path} for path in args.prior})
    torch.set_num_threads(1)
    psnr = pixelsmith.metric("psnr")
    images, family_kernels = (held_out_set(), held_out_kernels()) if args.held_out else (choice_set(), kernels())
    deblurrers = {setting: _deblurrer(options) for setting, options in settings.items()}
    tv = pixelsmith.restorer("tv-deconv")
    gains: dict[tuple[str, str], dict[str, float]] = {}
    seconds = dict.fromkeys(settings, 0.0)
    for family, kernel in family_kernels.items():
        for i, (name, clean) in enumerate(images.items()):
            noise = gaussian_noise_like(clean, args.noise, torch.Generator().manual_seed(i))
            blurred = (blur_with_kernel(clean, kernel, "reflect") + noise).clamp(0, 1)
            with torch.inference_mode():
                baseline = float(psnr(tv.restore(blurred, kernel=kernel, sigma=args.noise).clamp(0, 1), clean)[0])
                row = {}
                for setting, deblur in deblurrers.items():
                    start = time.process_time()
                    out = (deblur.restore(blurred) if args.blind
                           else deblur.restore(blurred, kernel=kernel, sigma=args.noise))
                    seconds[setting] += time.process_time() - start
                    row[setting] = float(psnr(out.clamp(0, 1), clean)[0]) - baseline
            gains[(family, name)] = row
        means = {s: round(sum(gains[(family, n)][s] for n in images) / len(images), 2) for s in settings}
        print(f"{family}: gain over TV {means}", flush=True)
    for group in ("photos", "leaves"):
        names = [n for n in images if n.startswith("leaves") == (group == "leaves")]
        keys = [(f, n) for f in family_kernels for n in names]
        print(f"{group}: gain over TV {({s: round(sum(gains[k][s] for k in keys) / len(keys), 2) for s in settings})}")
    print("CPU s per image:", {s: round(t / len(gains), 2) for s, t in seconds.items()})


if __name__ == "__main__":
    main()
