"""Which kernel a blind restore takes from the six-family estimator's reading (``deblur estimator="constructions"``).

    OMP_NUM_THREADS=1 python benchmarks/deblur_constructions_choice.py --save cases.json   # about 60 min
    python benchmarks/deblur_constructions_choice.py --scores cases.json                  # the rules again, seconds

Choice data only: every other of the 17 choice images of ``deblur_line_policy.py`` (7 training photographs, 2
dead-leaves images of seed 1) × its 11 kernels (Kornia's lines, continuous lines, anisotropic Gaussians, camera
shake), the 3 shakes of ``deblur_search_choice.py`` and 3 isotropic Gaussians (σ 1.2, 2, 2.8), noise 0.01. Per case,
the blind gain over TV deconvolution given the true kernel (dB) of: the shipped blind restore (the standard
estimator's policy) and plug-and-play with each kernel a rule could take from the six-family reading: its own
parametric kernel (``param``), one L0 round from it (``refined``), a search from scratch (``searched``, the prior's
levels raised as for every searched kernel; its RMS radius kept, to apply the collapse rule) and, on a "shake"
reading, the most likely other family's kernel (``second``). Printed: what the estimator names per true family,
and the mean gain per true family of the shipped policy, the per-case best candidate and each rule.
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Callable, Iterator

import torch

from _common import run_choice
from deblur_line_policy import line_policy_cases
from deblur_search_choice import NOISE, choice_images, scorers, shaken_cases
from pixelsmith.plugin import blur_with_kernel, estimate_noise_sigma, gaussian_kernel, gaussian_noise_like
from pixelsmith_deblur import COLLAPSED_SPREAD, SEARCHED_SIGMA_FACTOR, estimate_kernel_l0, kernel_spread

FAMILIES = ("gaussian", "kornia", "line", "anisotropic", "shake")
GAUSSIANS = (1.2, 2.0, 2.8)


Case = tuple[str, str, torch.Tensor, torch.Tensor, torch.Tensor]


def line_and_shake_cases(imgs: dict[str, torch.Tensor]) -> Iterator[Case]:
    """(kernel name, image name, clean, kernel, blurred + noise) of the 11 kernels of ``deblur_line_policy.py`` and
    the 3 shakes of ``deblur_search_choice.py``, seeded over all of ``imgs`` as the source scripts."""
    yield from line_policy_cases(imgs)
    for si, name, clean, k, y in shaken_cases(3, False, imgs):
        yield f"shake {si}", name, clean, k, y


def cases(imgs: dict[str, torch.Tensor]) -> Iterator[Case]:
    """:func:`line_and_shake_cases` and 3 isotropic Gaussians, seeded over all of ``imgs`` as the source scripts."""
    yield from line_and_shake_cases(imgs)
    for j, (s, (name, clean)) in enumerate(itertools.product(GAUSSIANS, imgs.items())):
        k = gaussian_kernel(s)
        noise = gaussian_noise_like(clean, NOISE, torch.Generator().manual_seed(5000 + j))
        yield f"gaussian {s}", name, clean, k, (blur_with_kernel(clean, k, "reflect") + noise).clamp(0, 1)


def measure(imgs: dict[str, torch.Tensor], subset: set[str]) -> Iterator[dict]:
    """One record per case of an image in ``subset``."""
    import pixelsmith

    shipped, tv, psnr = scorers()
    reader = pixelsmith.restorer("deblur", device="cpu", estimator="constructions")
    t0 = time.perf_counter()
    for kname, name, clean, k, y in cases(imgs):
        if name not in subset:
            continue
        with torch.inference_mode():
            e = reader.estimate_kernels(y)[0]
            level = float(estimate_noise_sigma(y)[0])
            base = psnr(tv.restore(y, kernel=k, sigma=NOISE), clean)
            found = estimate_kernel_l0(y[0].mean(0))
            rec = {"family": kname.split()[0], "kernel": kname, "image": name, "read": e.family, "p": e.confidence,
                   "shipped": psnr(shipped.restore(y), clean) - base, "searched_spread": kernel_spread(found)}
            candidates = {"searched": (found, SEARCHED_SIGMA_FACTOR * level)}
            if e.family == "shake":
                candidates["second"] = (e.runner_up.kernel, level)
            else:
                candidates["param"] = (e.kernel, level)
                if e.kernel.shape[-1] > 1:
                    candidates["refined"] = (estimate_kernel_l0(y[0].mean(0), init=e.kernel, rounds=1), level)
            for tag, (kernel, lv) in candidates.items():
                rec[tag] = psnr(reader.restore(y, kernel=kernel, sigma=lv), clean) - base
        print(f"{kname} / {name}: read {e.describe()}; shipped {rec['shipped']:+.2f}, "
              + ", ".join(f"{t} {rec[t]:+.2f}" for t in candidates) + f"  [{time.perf_counter() - t0:.0f} s]",
              flush=True)
        yield rec


def rule(motion: str, line: str, anisotropic: str, collapse: bool = True) -> Callable[[dict], float]:
    """A rule: the candidate taken per reading (Gaussians and unknown readings: ``param``); a shake reading is
    searched, its collapsed search (``collapse``) replaced by the runner-up's kernel."""
    take = {"motion": motion, "line": line, "anisotropic": anisotropic}

    def gain(r: dict) -> float:
        if r["read"] == "shake":
            return r["second"] if collapse and r["searched_spread"] < COLLAPSED_SPREAD else r["searched"]
        return r.get(take.get(r["read"], "param"), r["param"])
    return gain


def report(records: list[dict]) -> None:
    print("\nnamed by the six-family estimator, per true family:")
    for f in FAMILIES:
        named: dict[str, int] = {}
        for r in records:
            if r["family"] == f:
                named[r["read"]] = named.get(r["read"], 0) + 1
        print(f"  {f}: {named}")
    print("\nblind gain over TV given the true kernel (dB), mean per true family:")
    print(f"{'':58s}" + "".join(f"{f:>13s}" for f in FAMILIES) + f"{'mean':>9s}")

    def row(label: str, gain: Callable[[dict], float]) -> None:
        means = [sum(gain(r) for r in records if r["family"] == f) / max(1, sum(r["family"] == f for r in records))
                 for f in FAMILIES]
        print(f"{label:58s}" + "".join(f"{m:+13.2f}" for m in means) + f"{sum(means) / len(means):+9.2f}")

    row("shipped (standard estimator)", lambda r: r["shipped"])
    row("best candidate per case", lambda r: max(r.get(t, -99.0) for t in ("param", "refined", "searched", "second")))
    for motion, line, aniso in itertools.product(("param", "refined"), repeat=3):
        row(f"Kornia {motion}, line {line}, anisotropic {aniso}", rule(motion, line, aniso))
    row("Kornia refined, line/anisotropic param, no collapse rule", rule("refined", "param", "param", collapse=False))
    chosen = rule("refined", "param", "param")
    row("as chosen, a shake reading restored by the standard policy",
        lambda r: r["shipped"] if r["read"] == "shake" else chosen(r))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=None, help="only the first N images of the subset")

    def measured(args: argparse.Namespace) -> Iterator[dict]:
        torch.set_num_threads(1)
        imgs = choice_images()
        yield from measure(imgs, set(list(imgs)[::2][:args.images]))

    run_choice(parser, measured, report)


if __name__ == "__main__":
    main()
