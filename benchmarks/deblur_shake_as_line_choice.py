"""Camera shakes the kernel estimator reads as a straight line with confidence: what a blind restore loses there.

    OMP_NUM_THREADS=1 python benchmarks/deblur_shake_as_line_choice.py [--big] [--shakes N] [--images N]

Choice data only: the camera shakes of ``deblur_search_choice.py`` (seed 500, or ``--big`` seed 900) × the 17
choice images of ``deblur_line_policy.py``, noise 0.01. Where the estimator names a straight line with probability
≥ ``FREE_SHAPE_BELOW``, a blind restore (``kernel_shape="auto"``) refines that line by one round of the L0
search instead of searching from scratch. Compared, as blind gain over TV deconvolution given the true kernel
(dB): the kernel a blind restore takes (``blind_kernels``), the search from scratch (levels ×
``SEARCHED_SIGMA_FACTOR``), and the estimator's own line; with the RMS radii of the kernels beside them
(``kernel_spread``). A measurement for the next policy, not of a shipped one: a rule that searches such readings
must also be measured on true lines (``deblur_line_policy.py``), which read the same way.
About 16 s a case read as a line, 2 s for the others.
"""

from __future__ import annotations

import time

import torch

from deblur_search_choice import NOISE, choice_images, parse_case_arguments, scorers, shaken_cases
from pixelsmith.plugin import estimate_noise_sigma
from pixelsmith_deblur import FREE_SHAPE_BELOW, SEARCHED_SIGMA_FACTOR, estimate_kernel_l0, is_unsure_reading, \
    kernel_spread


def main() -> None:
    args = parse_case_arguments(__doc__)
    imgs = choice_images(args.images)
    deblur, tv, psnr = scorers()
    rows: list[tuple[float, float, float]] = []
    n = 0
    t0 = time.perf_counter()
    for si, name, clean, k, y in shaken_cases(args.shakes, args.big, imgs):
        n += 1
        estimate = deblur.estimate_kernels(y)[0]
        if estimate.family != "motion" or is_unsure_reading(estimate):
            continue
        with torch.inference_mode():
            level = float(estimate_noise_sigma(y)[0])
            base = psnr(tv.restore(y, kernel=k, sigma=NOISE), clean)
            taken = deblur.blind_kernels(y)[0]
            blind = psnr(deblur.restore(y, kernel=taken, sigma=level), clean) - base
            found = estimate_kernel_l0(y[0].mean(0))
            searched = psnr(deblur.restore(y, kernel=found, sigma=SEARCHED_SIGMA_FACTOR * level), clean) - base
            named = psnr(deblur.restore(y, kernel=estimate.kernel, sigma=level), clean) - base
        rows.append((blind, searched, named))
        print(f"shake {si} {name:22s} read as a {estimate.expected_length:.1f} px line; RMS radius: true "
              f"{kernel_spread(k):.2f}, taken {kernel_spread(taken):.2f}, searched {kernel_spread(found):.2f}; gain: "
              f"blind {blind:+.2f}, searched {searched:+.2f}, the estimator's line {named:+.2f}  "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    if not rows:
        print(f"none of {n} cases read as a confident line")
        return
    mean = [sum(r[i] for r in rows) / len(rows) for i in range(3)]
    best = sum(max(r[0], r[1]) for r in rows) / len(rows)
    print(f"\n{len(rows)} of {n} cases read as a straight line with probability ≥ {FREE_SHAPE_BELOW:g}; blind gain "
          f"over TV given the true kernel, dB: blind restore (refined line) {mean[0]:+.2f}, search from scratch "
          f"{mean[1]:+.2f}, the estimator's line {mean[2]:+.2f}; the better of the first two per case {best:+.2f}")


if __name__ == "__main__":
    main()
