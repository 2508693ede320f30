"""Which six-family estimator file ``deblur``'s default blind restore should read with: the shipped one or a candidate.

    OMP_NUM_THREADS=1 python benchmarks/deblur_estimator_choice.py --save shipped.json          # about 17 min
    OMP_NUM_THREADS=1 python benchmarks/deblur_estimator_choice.py --weights runs/X/kernel-estimator.safetensors \
        --save candidate.json                                                   # the same per candidate file
    python benchmarks/deblur_estimator_choice.py --scores shipped.json candidate.json   # compared, seconds
    OMP_NUM_THREADS=1 python benchmarks/deblur_estimator_choice.py --weights standard --save standard.json
    python benchmarks/deblur_estimator_choice.py --scores shipped.json standard.json    # + the confidence rule

Choice data only: the cases of ``deblur_constructions_choice.py`` (every other of the 17 choice images of
``deblur_line_policy.py`` × 11 line, anisotropic and shake kernels, the 3 shakes of seed 500 and 3 isotropic
Gaussians) and the 3 large shakes of ``deblur_search_choice.py --big`` (seed 900, 19–27 px a side) on the same
images, noise 0.01; ``--wide N`` adds N shakes of 27–31 px a side (seed 800: beyond the 19–27 px the
estimators were drawn on, as the 27×27 of ``deblur_quality.py --levin-like``). Per case and estimator file: the
reading (family, probability) and the blind restore's gain over TV deconvolution given the true kernel (dB), the
restore exactly as shipped but for ``estimator_weights``.
Printed: each case; per file, the mean gain per true family ("big shake" apart) and what each family is read as;
``--scores`` merges the files' records of the same case, so each estimator can be measured in its own run.
``standard`` in ``--weights`` is the restore with ``estimator="standard"`` (the two-family reader's policy for every
image); with it and the shipped records, the report also scores the rule "a six-family reading less confident
than P goes the standard way" for several P. ``pixel-prior`` is the restore with ``blind_prior="pixel"`` (blind
kernels deconvolved with the pixel-level prior, as in sessions 24–25: ``--weights shipped pixel-prior`` compares the
two priors of blind restores). ``exact-fit`` is the restore with ``exact_kernel_fit=True`` (the kernel searches'
full-scale fits solved exactly; the default since session 28, so now the same as ``shipped``: the label
``exact_kernel_fit=False`` is the restore of sessions 19–27). A label ``KEY=VALUE[,KEY=VALUE…]`` is the restore with
those options (``kernel_support=31,exact_kernel_fit=False``). ``--half 1`` measures the other half of the choice images
(a check of a rule chosen on the first).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable, Iterator

import torch

import pixelsmith
from _common import key_value, run_choice
from deblur_constructions_choice import FAMILIES, cases
from deblur_search_choice import NOISE, blurred_cases, choice_images, scorers, shaken_cases
from deblur_wide_check_choice import big_shakes

SHIPPED = "shipped"
STANDARD = "standard"
#: the restore with blind_prior="pixel": blind kernels deconvolved with the pixel-level prior (sessions 24–25)
PIXEL_PRIOR = "pixel-prior"
#: the restore with exact_kernel_fit=True: the kernel searches' full-scale fits solved exactly (session 27)
EXACT_FIT = "exact-fit"
#: confidence thresholds of the rule scored when both the shipped and the standard restores were measured
HAND_OVER_BELOW = (0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7)


def _options(label: str) -> dict:
    """deblur's options for a --weights label: a name above, ``KEY=VALUE[,KEY=VALUE…]`` (options of the default
    restore, each VALUE read as a Python literal, else a string), else an estimator file."""
    if "=" in label and not Path(label).exists():
        return dict(key_value(item.strip(), "--weights") for item in label.split(","))
    if label == SHIPPED:
        return {}
    if label == PIXEL_PRIOR:
        return {"blind_prior": "pixel"}
    if label == EXACT_FIT:
        return {"exact_kernel_fit": True}
    return {"estimator": "standard"} if label == STANDARD else {"estimator_weights": label}


def wide_shakes(n: int) -> list[torch.Tensor]:
    """``n`` camera-shake kernels of 27–31 px a side (paths of 28–48 px, seed 800)."""
    return big_shakes(torch.Generator().manual_seed(800), n, sides=(27, 31), paths=(28.0, 48.0))


def all_cases(imgs: dict[str, torch.Tensor], subset: set[str], wide: int = 0
              ) -> Iterator[tuple[str, str, str, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(true family, kernel name, image name, clean, kernel, blurred + noise) of the images in ``subset``;
    ``wide``: that many shakes of :func:`wide_shakes` as well (family "wide")."""
    for kname, name, clean, k, y in cases(imgs):
        if name in subset:
            yield kname.split()[0], kname, name, clean, k, y
    for si, name, clean, k, y in shaken_cases(3, True, imgs):
        if name in subset:
            yield "big", f"big shake {si}", name, clean, k, y
    for si, name, clean, k, y in blurred_cases(wide_shakes(wide), imgs, seed_offset=800_000):
        if name in subset:
            yield "wide", f"wide shake {si} ({k.shape[0]}×{k.shape[0]})", name, clean, k, y


def measure(imgs: dict[str, torch.Tensor], subset: set[str], weights: list[str], wide: int = 0) -> Iterator[dict]:
    torch.set_num_threads(1)
    _, tv, psnr = scorers()
    readers = {w: pixelsmith.restorer("deblur", device="cpu", **_options(w)) for w in weights}
    t0 = time.perf_counter()
    for family, kname, name, clean, k, y in all_cases(imgs, subset, wide):
        with torch.inference_mode():
            base = psnr(tv.restore(y, kernel=k, sigma=NOISE), clean)
            rec = {"family": family, "kernel": kname, "image": name, "by": {}}
            for label, r in readers.items():
                e = r.estimate_kernels(y)[0]
                rec["by"][label] = {"read": e.family, "p": e.confidence, "gain": psnr(r.restore(y), clean) - base}
        print(f"{kname} / {name}: " + "; ".join(f"{Path(label).parent.name or label} read {v['read']} "
                                                 f"(p {v['p']:.2f}) {v['gain']:+.2f}" for label, v in rec["by"].items())
              + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
        yield rec


def merged(records: list[dict]) -> list[dict]:
    """Records of the same case (kernel, image) made into one, their estimators side by side; only cases every
    file measured are kept."""
    by_case: dict[tuple[str, str], dict] = {}
    for r in records:
        kept = by_case.setdefault((r["kernel"], r["image"]), {**r, "by": {}, "files": 0})
        kept["by"].update(r["by"])
        kept["files"] += 1
    most = max((r["files"] for r in by_case.values()), default=0)
    return [r for r in by_case.values() if r["files"] == most]


def _means_row(records: list[dict], families: tuple[str, ...], gain: Callable[[dict], float]) -> str:
    """A table row: the mean ``gain`` of the records of each true family, then the mean of the five families."""
    means = {f: sum(gain(r) for r in records if r["family"] == f)
             / max(1, sum(r["family"] == f for r in records)) for f in families}
    return "".join(f"{means[f]:+12.2f}" for f in families) + f"{sum(means[f] for f in FAMILIES) / len(FAMILIES):+9.2f}"


def report(records: list[dict]) -> None:
    records = merged(records)  # the records of several --save files, one per case
    labels = list(records[0]["by"]) if records else []
    families = (*FAMILIES, "big") + (("wide",) if any(r["family"] == "wide" for r in records) else ())
    print(f"\n{len(records)} cases; blind gain over TV given the true kernel (dB), mean per true family "
          "(big: shakes of 19–27 px; wide: 27–31 px; mean: the five families):")
    print(f"{'estimator file':60s}" + "".join(f"{f:>12s}" for f in families) + f"{'mean':>9s}")
    for label in labels:
        print(f"{label[-60:]:60s}" + _means_row(records, families, lambda r, label=label: r["by"][label]["gain"]))
    for label in labels:
        print(f"\nread by {label}, per true family:")
        for f in families:
            named: dict[str, int] = {}
            for r in records:
                if r["family"] == f:
                    named[r["by"][label]["read"]] = named.get(r["by"][label]["read"], 0) + 1
            print(f"  {f}: {named}")
    if SHIPPED in labels:
        for label in (x for x in labels if x != SHIPPED):
            diff = [r["by"][label]["gain"] - r["by"][SHIPPED]["gain"] for r in records]
            print(f"\n{label} against {SHIPPED}: better in {sum(d > 0.05 for d in diff)} cases, worse in "
                  f"{sum(d < -0.05 for d in diff)}, total {sum(diff):+.1f} dB, worst {min(diff):+.2f}")
    if SHIPPED in labels and STANDARD in labels:
        print("\nthe rule: a six-family reading (the shipped file's) below probability P goes the standard way:")
        print(f"{'P':>6s} {'handed':>7s}" + "".join(f"{f:>12s}" for f in families) + f"{'mean':>9s}")
        for p in HAND_OVER_BELOW:
            handed = sum(r["by"][SHIPPED]["p"] < p and r["by"][SHIPPED]["read"] != "shake" for r in records)
            print(f"{p:6.2f} {handed:7d}" + _means_row(
                records, families, lambda r, p=p: r["by"][STANDARD if r["by"][SHIPPED]["p"] < p else SHIPPED]["gain"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", nargs="+", default=[SHIPPED],
                        help=f"six-family kernel-estimator files to compare ('{SHIPPED}': the packaged one; "
                             f"'{STANDARD}': the restore with estimator=\"standard\"; '{PIXEL_PRIOR}': with "
                             f"blind_prior=\"pixel\"; '{EXACT_FIT}': with exact_kernel_fit=True; "
                             "KEY=VALUE[,KEY=VALUE]: with those options, e.g. kernel_support=31)")
    parser.add_argument("--half", type=int, choices=(0, 1), default=0,
                        help="which half of the choice images (every other one, from the first or the second)")
    parser.add_argument("--images", type=int, default=None, help="only the first N images of the subset")
    parser.add_argument("--wide", type=int, default=0, metavar="N",
                        help="also N camera shakes of 27–31 px a side (seed 800), beyond the estimators' draws")

    def measured(args: argparse.Namespace) -> Iterator[dict]:
        imgs = choice_images()
        yield from measure(imgs, set(list(imgs)[args.half::2][:args.images]), args.weights, args.wide)

    run_choice(parser, measured, report)


if __name__ == "__main__":
    main()
