"""Which kernel a blind restore should take when the estimator names a straight line with confidence.

    OMP_NUM_THREADS=1 python benchmarks/deblur_line_policy.py        # about 8 min on one thread

Choice data only: the 13 bundled training photographs (256² centre crops, gray) and 4 dead-leaves images of
seed 1, each blurred by 11 kernels (Kornia's lines, continuous lines, anisotropic Gaussians, camera shake),
noise 0.01. Where the kernel estimator names a straight line with probability ≥ 0.99 (the case
``kernel_shape="auto"`` refines), four candidate kernels are scored by TV deconvolution with them minus TV
with the true kernel (dB; the fast proxy of ``deblur_blind_choice.py``):

- ``estimator``: the estimator's own rasterised line (``kernel_shape="family"``);
- ``refined``: one round of the L0 search started from it (what ``"auto"`` ships);
- ``spectral line``: the continuous line that best explains the power spectrum
  (:func:`pixelsmith_deblur.fit_line`);
- ``spectral Gaussian``: the anisotropic Gaussian fitted to the spectrum;

and three rules that choose among them by the spectral misfit. Printed: the mean per kernel family for each.
"""

from __future__ import annotations

import itertools
import math
from typing import Iterator

import torch

import pixelsmith
from _common import centre_crop
from pixelsmith.data import TRAIN_PHOTOS, load_photo
from pixelsmith.plugin import (anisotropic_gaussian_kernel, blur_with_kernel, dead_leaves, estimate_noise_sigma,
                               gaussian_noise_like, line_kernel, motion_kernel, shake_kernel)
from pixelsmith_deblur import fit_line, gaussian_from_spectrum, spectral_misfit, welch_spectrum

NOISE = 0.01
#: a spectral line "agrees" with the estimator when their lengths differ by at most this (px)
AGREEMENT = 1.0


def kernels() -> dict[str, torch.Tensor]:
    return {"kornia 9 px at 30°": motion_kernel(9, 30.0), "kornia 7 px at 75°": motion_kernel(7, 75.0),
            "kornia 13 px at 140°": motion_kernel(13, 140.0), "line 12 px at 100°": line_kernel(12.0, 100.0),
            "line 8.3 px at 20°": line_kernel(8.3, 20.0), "line 5.6 px at 150°": line_kernel(5.6, 150.0),
            "anisotropic 2.5×0.7 at 130°": anisotropic_gaussian_kernel(2.5, 0.7, 130.0),
            "anisotropic 1.8×0.6 at 40°": anisotropic_gaussian_kernel(1.8, 0.6, 40.0),
            "anisotropic 3×1.2 at 85°": anisotropic_gaussian_kernel(3.0, 1.2, 85.0),
            "shake 14 px": shake_kernel(14.0, torch.Generator().manual_seed(3)),
            "shake 20 px": shake_kernel(20.0, torch.Generator().manual_seed(7))}


def images() -> dict[str, torch.Tensor]:
    out = {}
    for name in TRAIN_PHOTOS:
        x = centre_crop(load_photo(name))
        out[name] = x.mean(1, keepdim=True) if x.shape[1] == 3 else x
    leaves = dead_leaves(4, seed=1, size=256, channels=1)
    out.update({f"leaves{i}": leaves[i:i + 1] for i in range(len(leaves))})
    return out


def line_policy_cases(imgs: dict[str, torch.Tensor], noise_sigma: float = NOISE
                      ) -> Iterator[tuple[str, str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(kernel name, image name, clean, kernel, blurred + noise) for every kernel of :func:`kernels` × ``imgs``,
    the noise seeded by the case's index (the cases of this script, scored by the other choice scripts too)."""
    for j, ((kname, kernel), (name, clean)) in enumerate(itertools.product(kernels().items(), imgs.items())):
        noise = gaussian_noise_like(clean, noise_sigma, torch.Generator().manual_seed(j))
        yield kname, name, clean, kernel, (blur_with_kernel(clean, kernel, "reflect") + noise).clamp(0, 1)


def rules(c: dict[str, float], misfit: dict[str, float], agree: bool) -> dict[str, float]:
    """The three misfit rules' picks (gains) for one case."""
    gaussian_better = lambda other: misfit.get("spectral Gaussian", math.inf) < misfit[other]  # noqa: E731
    line_or = "spectral line" if agree else None
    return {
        "Gaussian if it fits the spectrum better than refined": c["spectral Gaussian"]
        if gaussian_better("refined") else c["refined"],
        "spectral line if it agrees, else refined": c[line_or or "refined"],
        "both (Gaussian, else agreeing line, else estimator)": c["spectral Gaussian"]
        if gaussian_better(line_or or "refined") else c[line_or or "estimator"],
    }


def main() -> None:
    torch.set_num_threads(1)
    tv = pixelsmith.restorer("tv-deconv")
    deb = pixelsmith.restorer("deblur", device="cpu", estimator="standard")  # the two-family policy studied
    psnr = pixelsmith.metric("psnr")
    pictures = images()
    table: dict[str, dict[str, list[float]]] = {}
    seen = confident = 0
    for kname, name, clean, kernel, blurred in line_policy_cases(pictures):
        seen += 1
        estimate = deb.estimate_kernels(blurred)[0]
        if estimate.family != "motion" or estimate.confidence < 0.99:
            continue
        confident += 1
        y = blurred[0, 0]
        spectrum = welch_spectrum(y, float(estimate_noise_sigma(blurred)[0]))
        length, angle, _ = fit_line(spectrum, estimate.expected_length, estimate.angle)
        candidates = {"estimator": estimate.kernel,
                      "refined": deb.blind_kernels(blurred)[0],  # "auto" refines a confident line
                      "spectral line": line_kernel(length, angle),
                      "spectral Gaussian": gaussian_from_spectrum(spectrum)}
        candidates = {k: v for k, v in candidates.items() if v is not None}
        with torch.inference_mode():
            base = float(psnr(tv.restore(blurred, kernel=kernel, sigma=NOISE).clamp(0, 1), clean)[0])
            gains = {k: float(psnr(tv.restore(blurred, kernel=v, sigma=NOISE).clamp(0, 1), clean)[0]) - base
                     for k, v in candidates.items()}
        misfit = {k: spectral_misfit(spectrum, v) if max(v.shape) <= spectrum.power.shape[0] else math.inf
                  for k, v in candidates.items()}
        gains.setdefault("spectral Gaussian", math.nan)
        picks = rules(gains, misfit, abs(length - estimate.expected_length) <= AGREEMENT)  # no Gaussian: never picked
        family = kname.split()[0]
        for k, g in {**gains, **picks}.items():
            table.setdefault(k, {}).setdefault(family, []).append(g)
        print(f"[{seen}] {kname} / {name}: " + ", ".join(f"{k} {g:+.2f}" for k, g in gains.items()), flush=True)
    families = sorted({f for d in table.values() for f in d})
    print(f"\n{confident} of {seen} cases named a straight line with probability ≥ 0.99.\n")
    print("| kernel taken | " + " | ".join(families) + " | all |")
    print("|---" * (len(families) + 2) + "|")
    for k, d in table.items():
        every = [g for f in families for g in d.get(f, []) if not math.isnan(g)]
        cells = [f"{sum(v) / len(v):+.2f}" if (v := [g for g in d.get(f, []) if not math.isnan(g)]) else "–"
                 for f in families]
        print(f"| {k} | " + " | ".join(cells) + f" | {sum(every) / len(every):+.2f} |")


if __name__ == "__main__":
    main()
