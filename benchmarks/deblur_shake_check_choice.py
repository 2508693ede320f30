"""Straight lines read with confidence: camera shake or a true line? How ``deblur``'s shake check was chosen.

    OMP_NUM_THREADS=1 python benchmarks/deblur_shake_check_choice.py [--cases lines,shakes,big] [--images N]
        [--save cases.json]      # about 18 s a case read as a line; all three sets: 173 cases, 55 min
    python benchmarks/deblur_shake_check_choice.py --scores cases.json [more.json ...]   # re-score, seconds

Choice data only, noise 0.01 (``--noise``): ``lines``, the 17 choice images × the 11 kernels of ``deblur_line_policy.py``
(Kornia's lines, continuous lines, anisotropic Gaussians, two camera shakes); ``shakes`` and ``big``, the same
images × the 3 camera shakes of ``deblur_search_choice.py`` (seed 500, or seed 900 with supports of 19–27 px).
Where the kernel estimator names a straight line with probability ≥ ``FREE_SHAPE_BELOW``, three kernels are
scored by plug-and-play deconvolution (``deblur.restore(y, kernel=...)``) minus TV deconvolution given the true
kernel (dB): the line refined one round (what ``"auto"`` took before the check), a search from scratch (levels
× ``SEARCHED_SIGMA_FACTOR``) and the estimator's own line. The deconvolutions' interior residuals and the
kernels' RMS radii are kept, so the shake check (``SHAKE_CHECK_SPREAD``, ``SHAKE_CHECK_RESIDUAL``, with
``COLLAPSED_SPREAD``; not asked above an estimated noise of ``SHAKE_CHECK_MAX_NOISE``, so ``--noise 0.025``
scores its thresholds as if it were, the shipped row then being the refined line) and its neighbours are scored from
them: per kernel family, the refined line, the search,
the better of the two per case (a perfect rule), and the check at a grid of its two thresholds.
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Iterator

import torch

from _common import run_choice
from deblur_line_policy import line_policy_cases
from deblur_search_choice import NOISE, choice_images, scorers, shaken_cases
from pixelsmith.plugin import estimate_noise_sigma
from pixelsmith_deblur import (COLLAPSED_SPREAD, SEARCHED_SIGMA_FACTOR, SHAKE_CHECK_MAX_NOISE, SHAKE_CHECK_RESIDUAL,
                               SHAKE_CHECK_SPREAD, estimate_kernel_l0, interior_residual, is_unsure_reading, kernel_spread)

CASE_SETS = ("lines", "shakes", "big")


def cases(which: str, imgs: dict[str, torch.Tensor], noise_sigma: float = NOISE
          ) -> Iterator[tuple[str, str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(kernel name, image name, clean, kernel, blurred + noise) of one case set, seeded as its source script."""
    if which == "lines":  # the cases of deblur_line_policy.py
        yield from line_policy_cases(imgs, noise_sigma)
    else:
        for si, name, clean, k, y in shaken_cases(3, which == "big", imgs, noise_sigma):
            yield f"shake{' big' if which == 'big' else ''} {si}", name, clean, k, y


def measure(which: str, imgs: dict[str, torch.Tensor], noise_sigma: float = NOISE) -> Iterator[dict]:
    """One record per case read as a straight line with confidence."""
    deblur, tv, psnr = scorers()
    t0 = time.perf_counter()
    for kname, name, clean, k, y in cases(which, imgs, noise_sigma):
        estimate = deblur.estimate_kernels(y)[0]
        if estimate.family != "motion" or is_unsure_reading(estimate):
            continue
        with torch.inference_mode():
            level = float(estimate_noise_sigma(y)[0])
            base = psnr(tv.restore(y, kernel=k, sigma=noise_sigma), clean)
            line = estimate_kernel_l0(y[0].mean(0), init=estimate.kernel, rounds=1)
            found = estimate_kernel_l0(y[0].mean(0))
            rec = {"family": "shake" if kname.startswith("shake") else kname.split()[0], "kernel": kname,
                   "image": name, "read_length": estimate.expected_length, "level": level}
            for tag, kernel, lv in (("line", line, level), ("searched", found, SEARCHED_SIGMA_FACTOR * level),
                                    ("named", estimate.kernel, level)):
                out = deblur.restore(y, kernel=kernel, sigma=lv)
                rec[tag] = psnr(out, clean) - base
                rec[f"{tag}_residual"] = interior_residual(out, kernel, y)
                rec[f"{tag}_spread"] = kernel_spread(kernel)
        print(f"{which} {kname} / {name}: refined line {rec['line']:+.2f}, searched {rec['searched']:+.2f}, "
              f"the estimator's line {rec['named']:+.2f}  [{time.perf_counter() - t0:.0f} s]", flush=True)
        yield rec


def takes_search(r: dict, spread: float = SHAKE_CHECK_SPREAD, residual: float = SHAKE_CHECK_RESIDUAL) -> bool:
    """The shake check of ``deblur`` on one record (its thresholds by default; not asked above its noise)."""
    return r["level"] <= SHAKE_CHECK_MAX_NOISE and r["searched_spread"] >= COLLAPSED_SPREAD and abs(r["searched_spread"] - r["line_spread"]) < spread \
        and r["searched_residual"] <= residual * r["line_residual"]


def report(records: list[dict]) -> None:
    families = sorted({r["family"] for r in records})
    print(f"\n{len(records)} cases read as a straight line with confidence: "
          + ", ".join(f"{f} {sum(r['family'] == f for r in records)}" for f in families))
    print("blind gain over TV given the true kernel (dB), mean per family (cases where the search is taken):\n")
    print("| kernel taken | " + " | ".join(families) + " | mean of the families |")
    print("|---" * (len(families) + 2) + "|")

    def row(name: str, pick) -> None:
        cells, means = [], []
        for f in families:
            mine = [r for r in records if r["family"] == f]
            means.append(sum(r["searched"] if pick(r) else r["line"] for r in mine) / len(mine))
            cells.append(f"{means[-1]:+.2f} ({sum(map(pick, mine))})")
        print(f"| {name} | " + " | ".join(cells) + f" | {sum(means) / len(means):+.2f} |")

    row("refined line (before the check)", lambda r: False)
    row("search from scratch", lambda r: True)
    row("the better per case", lambda r: r["searched"] > r["line"])
    row(f"**shake check (spread < {SHAKE_CHECK_SPREAD:g} px, residual ≤ ×{SHAKE_CHECK_RESIDUAL:g})**", takes_search)
    for spread, residual in itertools.product((0.3, 0.5, 1.0), (1.0, 1.05, 1.1, 1.13)):
        row(f"spread < {spread:g} px, residual ≤ ×{residual:g} (at any noise)",
            lambda r, s=spread, q=residual: takes_search({**r, "level": 0.0}, s, q))
    named = {f: [r["named"] for r in records if r["family"] == f] for f in families}
    print("\nThe estimator's own line, for reference: "
          + ", ".join(f"{f} {sum(v) / len(v):+.2f}" for f, v in named.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASE_SETS), help=f"case sets, of {CASE_SETS}")
    parser.add_argument("--images", type=int, default=None, help="only the first N images (a quick look)")
    parser.add_argument("--noise", type=float, default=NOISE, help=f"noise σ of every case (default {NOISE})")

    def measured(args: argparse.Namespace) -> Iterator[dict]:
        torch.set_num_threads(1)
        sets = args.cases.split(",")
        if unknown := set(sets) - set(CASE_SETS):
            parser.error(f"unknown case sets {sorted(unknown)}; choose from {CASE_SETS}")
        imgs = choice_images(args.images)
        for which in sets:
            yield from measure(which, imgs, args.noise)

    def reported(records: list[dict]) -> None:
        if not records:
            raise SystemExit("no case was read as a straight line with confidence")
        report(records)

    run_choice(parser, measured, reported)


if __name__ == "__main__":
    main()
