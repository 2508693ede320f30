"""What a blind restore should deblur with when the kernel search from scratch collapses to a point.

    OMP_NUM_THREADS=1 python benchmarks/deblur_collapse_choice.py [--big] [--shakes N] [--images N]

Choice data only: the camera shakes of ``deblur_search_choice.py`` (seed 500, or ``--big`` seed 900) × the 17
choice images of ``deblur_line_policy.py``, noise 0.01. Each case is searched from scratch as a blind restore
searches (:func:`pixelsmith_deblur.estimate_kernel_l0`, L0 weight falling). Where the kernel found has an RMS
radius below ``COLLAPSED_SPREAD`` (about a point: smooth or sparse images give the search no edge to fit), the
restore with it (prior's levels × ``SEARCHED_SIGMA_FACTOR``, as shipped until session 16) is compared with the
restore with the kernel estimator's own reading (levels × 1), as blind gain over TV deconvolution given the
true kernel (dB). Printed per case, with the estimator's reading; the summary counts only the cases a blind
restore searches (``is_unsure_reading``: the estimator unsure of the family), split by the family read.
About 10 s a case on one thread, 20 s more for each collapsed one (51 cases with the defaults).
"""

from __future__ import annotations

import time

import torch

from deblur_search_choice import NOISE, choice_images, parse_case_arguments, scorers, shaken_cases
from pixelsmith.plugin import estimate_noise_sigma
from pixelsmith_deblur import COLLAPSED_SPREAD, SEARCHED_SIGMA_FACTOR, estimate_kernel_l0, is_unsure_reading, \
    kernel_spread


def main() -> None:
    args = parse_case_arguments(__doc__)
    imgs = choice_images(args.images)
    deblur, tv, psnr = scorers()
    searched: dict[str, list[tuple[float, float]]] = {}
    n = collapsed = 0
    t0 = time.perf_counter()
    for si, name, clean, k, y in shaken_cases(args.shakes, args.big, imgs):
        n += 1
        found = estimate_kernel_l0(y[0].mean(0))
        if kernel_spread(found) >= COLLAPSED_SPREAD:
            continue
        collapsed += 1
        with torch.inference_mode():
            estimate = deblur.estimate_kernels(y)[0]
            level = float(estimate_noise_sigma(y)[0])
            base = psnr(tv.restore(y, kernel=k, sigma=NOISE), clean)
            point = psnr(deblur.restore(y, kernel=found, sigma=SEARCHED_SIGMA_FACTOR * level), clean) - base
            named = psnr(deblur.restore(y, kernel=estimate.kernel, sigma=level), clean) - base
        unsure = is_unsure_reading(estimate)
        if unsure:
            searched.setdefault(estimate.family, []).append((point, named))
        print(f"shake {si} {name:22s} spread {kernel_spread(found):.2f} (true {kernel_spread(k):.2f}); read "
              f"{estimate.family} p {estimate.confidence:.2f}{' (searched)' if unsure else ''}: collapsed kernel "
              f"{point:+.2f}, the estimator's {named:+.2f}  [{time.perf_counter() - t0:.0f} s]", flush=True)
    print(f"\n{collapsed} of {n} searches collapsed (RMS radius < {COLLAPSED_SPREAD:g} px); of those, the ones a blind "
          "restore searches (estimator unsure), blind gain over TV given the true kernel, dB:")
    for family, pairs in searched.items():
        point = sum(p for p, _ in pairs) / len(pairs)
        named = sum(q for _, q in pairs) / len(pairs)
        better = sum(q > p + 0.1 for p, q in pairs)
        worse = sum(q < p - 0.1 for p, q in pairs)
        print(f"  read {family} ({len(pairs)}): collapsed kernel {point:+.2f}, the estimator's {named:+.2f} "
              f"(better in {better}, worse in {worse}, by > 0.1 dB)")


if __name__ == "__main__":
    main()
