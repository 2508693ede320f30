"""Blind ``deblur`` under noise beyond the six-family estimator's training (≤ 0.02): its reading or the standard one?

    OMP_NUM_THREADS=1 python benchmarks/deblur_noise_reader_choice.py [--save cases.json]   # about 5 min
    python benchmarks/deblur_noise_reader_choice.py --scores cases.json                   # the tables again, seconds

Choice data only: every other choice image of ``deblur_line_policy.py`` (7 training photographs, 2 dead leaves of
seed 1), sharp at noise 0.03 / 0.06 / 0.1 / 0.2, and blurred by a Gaussian σ 2, Kornia's 9 px line at 30° and a
continuous 8.3 px line at 20° at noise 0.03 / 0.05. Per case: the estimated noise, the six-family reading, the PSNR of
the blind restore with ``estimator="constructions"`` read regardless of noise and with ``estimator="standard"``.
Printed: each case, the mean per case group, and the mean over groups of the rule "six-family at estimated noise ≤ t,
else standard" for several t (``CONSTRUCTIONS_MAX_NOISE`` in ``deblur.py``).
"""

from __future__ import annotations

import argparse
import time
from typing import Iterator

import torch

import pixelsmith
from _common import run_choice
from deblur_line_policy import images
from pixelsmith.plugin import (blur_with_kernel, estimate_noise_sigma, gaussian_kernel, gaussian_noise_like,
                               line_kernel, motion_kernel)

CASES = [("sharp", None, s) for s in (0.03, 0.06, 0.1, 0.2)] + [
    (name, k, s) for name, k in (("gaussian 2", gaussian_kernel(2.0)), ("kornia 9/30", motion_kernel(9, 30.0)),
                                 ("line 8.3/20", line_kernel(8.3, 20.0))) for s in (0.03, 0.05)]


def measure() -> Iterator[dict]:
    """One record per case: estimated noise, six-family reading, PSNR of each reader's blind restore."""
    torch.set_num_threads(1)
    psnr = pixelsmith.metric("psnr")
    six = pixelsmith.restorer("deblur", device="cpu")
    six.constructions_max_noise = float("inf")  # the six-family reading at any noise: the rule is scored below
    std = pixelsmith.restorer("deblur", device="cpu", estimator="standard")
    imgs = dict(list(images().items())[::2])
    t0 = time.time()
    for j, (kname, k, s) in enumerate(CASES):
        for i, (name, clean) in enumerate(imgs.items()):
            b = clean if k is None else blur_with_kernel(clean, k, "reflect")
            y = (b + gaussian_noise_like(clean, s, torch.Generator().manual_seed(100 * j + i))).clamp(0, 1)
            with torch.inference_mode():
                e6 = six.estimate_kernels(y)[0]
                r = {"case": kname, "noise": s, "image": name, "est": float(estimate_noise_sigma(y)[0]),
                     "read": e6.family,
                     "six": float(psnr(six.restore(y).clamp(0, 1), clean)[0]),
                     "std": float(psnr(std.restore(y).clamp(0, 1), clean)[0])}
            print(f"{kname} σ{s} {name}: est {r['est']:.3f} read {r['read']} six {r['six']:.2f} std {r['std']:.2f} "
                  f"[{time.time() - t0:.0f} s]", flush=True)
            yield r


def report(recs: list[dict]) -> None:
    for kname, _, s in CASES:
        rs = [r for r in recs if r["case"] == kname and r["noise"] == s]
        if rs:
            six_mean, std_mean = (sum(r[m] for r in rs) / len(rs) for m in ("six", "std"))
            print(f"{kname} σ{s}: six-family {six_mean:.2f}, standard {std_mean:.2f}")
    for t in (0.02, 0.04, 0.06, 0.08, 0.1, 0.15, float("inf")):
        groups: dict = {}
        for r in recs:
            groups.setdefault((r["case"], r["noise"]), []).append(r["six"] if r["est"] <= t else r["std"])
        print(f"six-family at estimated noise <= {t:g}: mean over groups "
              f"{sum(sum(v) / len(v) for v in groups.values()) / max(1, len(groups)):.3f} dB")


def main() -> None:
    run_choice(argparse.ArgumentParser(description=__doc__.splitlines()[0]), lambda args: measure(), report)


if __name__ == "__main__":
    main()
