"""``deblur``'s kernel search from scratch, measured on choice data only (not the outside photographs).

    OMP_NUM_THREADS=1 python benchmarks/deblur_search_choice.py [--big] [--shakes N] [--images N]
        [--factors 1,1.25,2] [--save cases.pt]

What a blind restore does with a blur the kernel estimator cannot name (camera shake): it searches a kernel
of free shape on the image (:func:`pixelsmith_deblur.estimate_kernel_l0`), then deconvolves by plug-and-play
with the prior's noise levels raised × a factor (``SEARCHED_SIGMA_FACTOR``, because a searched kernel is
less exact than a named one). This script measures both choices on the 17 choice images of
``deblur_line_policy.py`` (never the test split or the evaluation's dead leaves) × camera shakes drawn with
seed 500 (paths of 10–30 px), or with ``--big`` seed 900 (supports of 19–27 px a side), noise 0.01:

- two searches: the L0 weight falling through the pyramid (the default since 2026-12-02) and restarting at
  every scale (before; still the search under heavy noise and the wide-blur check's detector);
- for each, the restore with each factor of ``--factors`` (default: the shipped one).

Printed: the mean gain in dB over TV deconvolution given the *true* kernel (``tv-deconv``), per search and
factor, and the mean of the better of the two searches per case (what a perfect choice between them would
give), with the gain of the true kernel at the same levels beside them (the search's error is the
difference). ``--save PATH`` keeps every case (blurred, clean, true and searched kernels, restores, gains)
so that rules for choosing between the searches can be scored offline in minutes. About 20 s a case on one
thread (51 cases with the defaults: 17 minutes). Session 13's figures (×1.25): falling −1.41, restarting
−2.42, the better per case −0.83; ``--big``: falling −3.27.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Iterator

import torch

import pixelsmith
from deblur_line_policy import images
from pixelsmith.plugin import blur_with_kernel, estimate_noise_sigma, gaussian_noise_like, shake_kernel
from pixelsmith_deblur import SEARCHED_SIGMA_FACTOR, estimate_kernel_l0

NOISE = 0.01
#: search name → ``restart_lambda``
SEARCHES = {"falling": False, "restarting": True}


def shakes(n: int, big: bool) -> list[torch.Tensor]:
    """``n`` camera-shake kernels: paths of 10–30 px (seed 500), or ``big``: paths of 20–35 px whose supports are
    19–27 px a side (seed 900)."""
    g = torch.Generator().manual_seed(900 if big else 500)
    out: list[torch.Tensor] = []
    while len(out) < n:
        u = float(torch.rand((), generator=g))
        length = 20 + 15 * u if big else 10 + 20 * u
        k = shake_kernel(length, torch.Generator().manual_seed(int(torch.randint(0, 2**31, (), generator=g))))
        if not big or 19 <= k.shape[0] <= 27:
            out.append(k)
    return out


def blurred_cases(kernels: list[torch.Tensor], imgs: dict[str, torch.Tensor], noise_sigma: float = NOISE,
                  seed_offset: int = 0) -> Iterator[tuple[int, str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(kernel index, image name, clean, kernel, blurred + noise) for ``kernels`` × ``imgs``, noise ``noise_sigma``
    seeded per case (``seed_offset + 1000 × kernel index + image index``)."""
    for si, k in enumerate(kernels):
        for ii, (name, clean) in enumerate(imgs.items()):
            blurred = blur_with_kernel(clean, k, "reflect")
            seed = seed_offset + 1000 * si + ii
            noise = gaussian_noise_like(blurred, noise_sigma, torch.Generator().manual_seed(seed))
            yield si, name, clean, k, (blurred + noise).clamp(0, 1)


def shaken_cases(n: int, big: bool, imgs: dict[str, torch.Tensor], noise_sigma: float = NOISE
                 ) -> Iterator[tuple[int, str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(shake index, image name, clean, kernel, blurred + noise) for ``n`` shakes of :func:`shakes` × ``imgs``,
    noise ``noise_sigma`` (:data:`NOISE` by default) seeded per case (the cases every choice script of the search
    scores)."""
    yield from blurred_cases(shakes(n, big), imgs, noise_sigma)


def add_case_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that choose the cases (:func:`shaken_cases`): ``--big``, ``--shakes N``, ``--images N``."""
    parser.add_argument("--big", action="store_true", help="shakes of 19–27 px a side (seed 900)")
    parser.add_argument("--shakes", type=int, default=3, help="shakes drawn (default 3)")
    parser.add_argument("--images", type=int, default=None, help="only the first N images (a quick look)")


def parse_case_arguments(doc: str) -> argparse.Namespace:
    """The command line of a choice script that takes only the case options (``doc``: its docstring); one torch
    thread from here on, as every timing and training on this machine."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    add_case_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    return args

def choice_images(n: int | None = None) -> dict[str, torch.Tensor]:
    """The choice images of ``deblur_line_policy.py`` (the first ``n``, or all)."""
    return dict(list(images().items())[:n])


def scorers() -> tuple[Any, Any, Callable[[torch.Tensor, torch.Tensor], float]]:
    """``deblur`` and ``tv-deconv`` on the CPU, and the PSNR (dB) of a restore, clamped to [0, 1], against the
    clean image."""
    metric = pixelsmith.metric("psnr")

    def psnr(x: torch.Tensor, clean: torch.Tensor) -> float:
        return float(metric(x.clamp(0, 1), clean)[0])

    # the policy studied here is the two-family estimator's (the default until 2026-12-03)
    return (pixelsmith.restorer("deblur", device="cpu", estimator="standard"),
            pixelsmith.restorer("tv-deconv", device="cpu"), psnr)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_case_arguments(parser)
    parser.add_argument("--factors", default=f"{SEARCHED_SIGMA_FACTOR:g}", help="comma-separated factors on the "
                        f"prior's levels (default: the shipped {SEARCHED_SIGMA_FACTOR:g})")
    parser.add_argument("--save", metavar="PATH", help="save every case here (torch.save) for offline scoring")
    args = parser.parse_args()
    torch.set_num_threads(1)
    factors = [float(f) for f in args.factors.split(",")]
    imgs = choice_images(args.images)
    deblur, tv, psnr = scorers()
    cases = []
    t0 = time.perf_counter()
    for si, name, clean, k, y in shaken_cases(args.shakes, args.big, imgs):
        with torch.inference_mode():
            base = psnr(tv.restore(y, kernel=k, sigma=NOISE), clean)
            level = float(estimate_noise_sigma(y)[0])  # what a blind restore estimates
            case = {"shake": si, "image": name, "y": y, "clean": clean, "kernel": k, "tv": base,
                    "true": {f: psnr(deblur.restore(y, kernel=k, sigma=f * level), clean) - base for f in factors}}
            for search, restart in SEARCHES.items():
                found = estimate_kernel_l0(y[0].mean(0), restart_lambda=restart)
                case[f"kernel_{search}"] = found
                for f in factors:
                    x = deblur.restore(y, kernel=found, sigma=f * level)
                    case[f"x_{search}_{f:g}"] = x
                    case[f"gain_{search}_{f:g}"] = psnr(x, clean) - base
        cases.append(case)
        gains = "  ".join(f"{s} ×{f:g} {case[f'gain_{s}_{f:g}']:+.2f}" for s in SEARCHES for f in factors)
        print(f"shake {si} {name:22s} {gains}  [{time.perf_counter() - t0:.0f} s]", flush=True)

    n = len(cases)
    print(f"\n{n} cases ({'shakes of 19–27 px, seed 900' if args.big else 'shakes of 10–30 px, seed 500'}, "
          f"noise {NOISE}); blind plug-and-play minus TV given the true kernel, dB:")
    for f in factors:
        means = {s: sum(c[f"gain_{s}_{f:g}"] for c in cases) / n for s in SEARCHES}
        best = sum(max(c[f"gain_{s}_{f:g}"] for s in SEARCHES) for c in cases) / n
        true = sum(c["true"][f] for c in cases) / n
        print(f"  ×{f:g}: " + ", ".join(f"{s} search {m:+.2f}" for s, m in means.items())
              + f", the better per case {best:+.2f}; true kernel {true:+.2f}")
    if args.save:
        torch.save(cases, args.save)
        print(f"saved {n} cases to {args.save}")


if __name__ == "__main__":
    main()
