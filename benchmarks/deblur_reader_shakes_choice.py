"""Where the six-family reader (``deblur``'s default) loses to the standard one: large shakes and unsure Kornia lines.

    OMP_NUM_THREADS=1 python benchmarks/deblur_reader_shakes_choice.py [--save cases.json]   # about 13 min

Choice data only. Two sets of cases, noise 0.01, blind gain over TV deconvolution given the true kernel (dB):

- ``big``: the 3 large shakes of ``deblur_search_choice.py --big`` (seed 900, 19–27 px supports) × the 17 choice
  images of ``deblur_line_policy.py``: the six-family reading, the blind restore as shipped (``six``) and with
  ``estimator="standard"`` (``std``; equal by construction where the reading is a shake, so not run again);
- ``kornia``: the 17 choice images × the 11 kernels of ``deblur_line_policy.py`` and the 3 shakes of seed 500, where
  the six-family estimator reads a Kornia line below p 0.99: ``six`` and ``std`` as above.

Printed: each case; the mean of ``big`` both ways and per reading; and the total change of handing the Kornia
readings below p = 0.5 … 0.99 to the standard policy, on each set.
"""

from __future__ import annotations

import argparse
import time
from typing import Iterator

import torch

import pixelsmith
from _common import run_choice
from deblur_constructions_choice import line_and_shake_cases
from deblur_line_policy import images
from deblur_search_choice import NOISE, scorers, shaken_cases

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.99)


def measure() -> Iterator[dict]:
    torch.set_num_threads(1)
    _, tv, psnr = scorers()
    six = pixelsmith.restorer("deblur", device="cpu")
    std = pixelsmith.restorer("deblur", device="cpu", estimator="standard")
    imgs = images()
    t0 = time.perf_counter()

    def record(kind: str, kname: str, name: str, clean: torch.Tensor, k: torch.Tensor, y: torch.Tensor,
               read: str, p: float) -> dict:
        base = psnr(tv.restore(y, kernel=k, sigma=NOISE), clean)
        r = {"set": kind, "kernel": kname, "image": name, "read": read, "p": p,
             "six": psnr(six.restore(y), clean) - base}
        r["std"] = r["six"] if read == "shake" else psnr(std.restore(y), clean) - base
        print(f"{kind} {kname} / {name}: read {read} (p {p:.2f}) six {r['six']:+.2f} std {r['std']:+.2f}  "
              f"[{time.perf_counter() - t0:.0f} s]", flush=True)
        return r

    with torch.inference_mode():
        for si, name, clean, k, y in shaken_cases(3, True, imgs):
            e = six.estimate_kernels(y)[0]
            yield record("big", f"big shake {si}", name, clean, k, y, e.family, e.confidence)
        for kname, name, clean, k, y in line_and_shake_cases(imgs):
            e = six.estimate_kernels(y)[0]
            if e.family == "motion" and e.confidence < 0.99:
                yield record("kornia", kname, name, clean, k, y, e.family, e.confidence)


def report(records: list[dict]) -> None:
    big = [r for r in records if r["set"] == "big"]
    if big:
        print(f"\nlarge shakes ({len(big)}): six-family {sum(r['six'] for r in big) / len(big):+.2f}, "
              f"standard {sum(r['std'] for r in big) / len(big):+.2f}")
        for read in sorted({r["read"] for r in big}):
            rs = [r for r in big if r["read"] == read]
            print(f"  read {read} ({len(rs)}): six-family {sum(r['six'] for r in rs):+.1f}, "
                  f"standard {sum(r['std'] for r in rs):+.1f} dB in total")
    print("\nKornia readings below p handed to the standard policy: total change, dB (cases)")
    for p in THRESHOLDS:
        cells = []
        for kind in ("big", "kornia"):
            rs = [r for r in records if r["set"] == kind and r["read"] == "motion" and r["p"] < p]
            cells.append(f"{kind} {sum(r['std'] - r['six'] for r in rs):+.1f} ({len(rs)})")
        print(f"  p < {p}: " + ", ".join(cells))


def main() -> None:
    run_choice(argparse.ArgumentParser(description=__doc__.splitlines()[0]), lambda args: measure(), report)


if __name__ == "__main__":
    main()
