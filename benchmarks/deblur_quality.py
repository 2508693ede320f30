"""Deblurring across kernel families: is `deblur` better than TV deconvolution given the true kernel?

Data: the project's test split (camera, moon, coins, chelsea as 256×256 gray centre crops, from
:func:`pixelsmith.data.photos.test_photos`) and a fixed-seed set of procedural dead-leaves images
(:func:`pixelsmith.data.dead_leaves.dead_leaves`, the same seed as ``restoration_quality.py``).
Photographs from other libraries are never used here: they are kept as an independent check.

Kernels, all from the core's kernel functions (what the blur degradations apply), drawn with a fixed
seed; the ``deblur`` model was trained on Kornia's motion kernels and isotropic Gaussians only:

- ``gaussian``: isotropic σ = 2 (``gaussian-blur``);
- ``kornia-motion``: Kornia's motion kernel, 9 px at 30° (``motion-blur``);
- ``line``: continuous line kernels, length uniform in [5, 19] px, angle uniform (``motion-blur kernel_type=line``);
- ``anisotropic``: σx uniform in [1, 3.5], σy in [0.4, 1.2], angle uniform (``anisotropic-blur``);
- ``shake``: camera-shake paths (Boracchi & Foi 2012), length uniform in [10, 30] px (``shake-blur``).

``--levin-like`` measures instead 8 kernels comparable to Levin et al.'s (CVPR 2009) recorded camera
shakes, whose files this project cannot ship or download: camera-shake paths of the same core model,
drawn (seed 2009) until their supports have the sides of Levin's 8 kernels, 13 to 27 px
(:func:`levin_like_kernels`). They are larger than the ``shake`` family's typical draw and, unlike
Levin's, synthetic; treat the table as "Levin-sized shakes", not as Levin's benchmark.

Every image is blurred with reflect borders, then Gaussian noise σ = 0.01 is added and the result
clipped to [0, 1] (what the blur degradations do; checked below against ``gaussian-blur``), with a
seed per (kernel, image). Methods: Wiener (the ``wiener`` restorer: Wiener–Hunt, reflect-padded,
balance 5σ) and TV deconvolution (``tv-deconv``) get the true kernel and the true σ; ``tv-deconv``
also runs with σ estimated; ``deblur`` runs blind (its kernel estimator) and with the
true kernel (never σ), by its default plug-and-play method and by its network (``method="network"``). PSNR in dB (core ``psnr``), mean over the images.

    OMP_NUM_THREADS=1 nice -n 2 python benchmarks/deblur_quality.py [--levin-like] [--out table.md] [--json cases.json]
        [--denoiser-weights CANDIDATE.safetensors]   # a candidate prior instead of the shipped one
        [--estimator-weights CANDIDATE.safetensors]  # a candidate kernel estimator (both methods' blind rows)
        [--deblur-option exact_kernel_fit=False]     # an option of the default restore (repeatable)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import torch

import pixelsmith
from pixelsmith.data import test_photos
from pixelsmith.plugin import (
    anisotropic_gaussian_kernel,
    blur_with_kernel,
    dead_leaves,
    gaussian_kernel,
    gaussian_noise_like,
    line_kernel,
    motion_kernel,
    sha256_of,
    shake_kernel,
)

#: The dead-leaves seed of restoration_quality.py, so both benchmarks judge the same images.
PROCEDURAL_SEED = 20261130
KERNEL_SEED = 11
NOISE = 0.01
PSNR = pixelsmith.metric("psnr")

METHODS = (
    ("blurred", "blurred + noise"),
    ("wiener", "Wiener (true kernel, true σ)"),
    ("tv", "TV deconv (true kernel, true σ)"),
    ("tv-est", "TV deconv (true kernel, σ estimated)"),
    ("blind-net", "deblur network blind (estimated kernel)"),
    ("given-net", "deblur network (true kernel)"),
    ("blind", "deblur pnp blind (default)"),
    ("given", "deblur pnp (true kernel)"),
)


def draw_kernels(per_family: int) -> dict[str, list[tuple[str, torch.Tensor]]]:
    """{family: [(description, kernel)]}, from one seeded generator."""
    g = torch.Generator().manual_seed(KERNEL_SEED)

    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=g, dtype=torch.float64))

    families: dict[str, list[tuple[str, torch.Tensor]]] = {
        "gaussian": [("σ 2", gaussian_kernel(2.0))],
        "kornia-motion": [("9 px at 30°", motion_kernel(9, 30.0))],
        "line": [], "anisotropic": [], "shake": [],
    }
    for _ in range(per_family):
        length, angle = u(5, 19), u(0, 180)
        families["line"].append((f"{length:.1f} px at {angle:.0f}°", line_kernel(length, angle)))
    for _ in range(per_family):
        sx, sy, angle = u(1, 3.5), u(0.4, 1.2), u(0, 180)
        families["anisotropic"].append((f"σ {sx:.2f} × {sy:.2f} at {angle:.0f}°",
                                        anisotropic_gaussian_kernel(sx, sy, angle)))
    for _ in range(per_family):
        length, seed = u(10, 30), int(torch.randint(0, 2**31, (), generator=g))
        k = shake_kernel(length, torch.Generator().manual_seed(seed))
        families["shake"].append((f"{length:.1f} px path (seed {seed}, {k.shape[0]}×{k.shape[0]})", k))
    return families


#: Supports (px a side) of Levin et al.'s 8 kernels, in their order (13×13 to 27×27).
LEVIN_SIDES = (19, 17, 15, 27, 13, 21, 23, 23)
LEVIN_LIKE_SEED = 2009


def levin_like_kernels() -> dict[str, list[tuple[str, torch.Tensor]]]:
    """{"levin-like": [(description, kernel)]}: a camera-shake path per side of :data:`LEVIN_SIDES`,
    path length uniform in [0.8, 1.6] × the side, redrawn until the kernel's support has that side."""
    g = torch.Generator().manual_seed(LEVIN_LIKE_SEED)
    out = []
    for side in LEVIN_SIDES:
        while True:
            length = side * (0.8 + 0.8 * float(torch.rand((), generator=g, dtype=torch.float64)))
            seed = int(torch.randint(0, 2**31, (), generator=g))
            k = shake_kernel(length, torch.Generator().manual_seed(seed))
            if k.shape[0] == side:
                break
        out.append((f"{side}×{side}, {length:.1f} px path (seed {seed})", k))
    return {"levin-like": out}


def draw_kernel_figure(families: dict[str, list[tuple[str, torch.Tensor]]], path: str) -> None:
    """Every kernel in one row per family, each on a canvas of the largest kernel's side (so sizes compare),
    brightest tap white."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = max(k.shape[0] for kernels in families.values() for _, k in kernels)
    cols = max(len(kernels) for kernels in families.values())
    fig, axes = plt.subplots(len(families), cols, figsize=(1.6 * cols, 1.9 * len(families)), squeeze=False)
    for row, (family, kernels) in enumerate(families.items()):
        for col in range(cols):
            ax = axes[row][col]
            ax.axis("off")
            if col < len(kernels):
                desc, k = kernels[col]
                pad = (side - k.shape[0]) // 2
                canvas = torch.nn.functional.pad(k / k.max(), [pad] * 4)
                ax.imshow(canvas.numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
                ax.set_title(f"{family}\n{desc.split(',')[0].split(' (')[0]}", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def images(n_leaves: int) -> dict[str, torch.Tensor]:
    out = dict(test_photos(channels=1, size=256))
    leaves = dead_leaves(n_leaves, seed=PROCEDURAL_SEED, size=256, channels=1)
    out.update({f"leaves{i}": leaves[i:i + 1] for i in range(n_leaves)})
    return out


def degrade(clean: torch.Tensor, kernel: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    blurred = blur_with_kernel(clean, kernel, "reflect")
    return (blurred + gaussian_noise_like(blurred, NOISE, g)).clamp(0, 1)


def psnr(x: torch.Tensor, clean: torch.Tensor) -> float:
    return float(PSNR(x.clamp(0, 1), clean)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=4, help="random kernels per drawn family (default 4)")
    parser.add_argument("--leaves", type=int, default=8, help="dead-leaves images (default 8)")
    parser.add_argument("--levin-like", action="store_true",
                        help="measure the 8 Levin-sized camera shakes of levin_like_kernels() instead of the drawn families")
    parser.add_argument("--kernel-figure", metavar="PNG",
                        help="only draw the kernels this run would measure, side by side at the same scale, and exit")
    parser.add_argument("--out", help="also write the Markdown here")
    parser.add_argument("--json", help="also write every case's PSNRs here (family, kernel, image, method)")
    parser.add_argument("--denoiser-weights", metavar="PATH",
                        help="deblur's plug-and-play prior from this file instead of the shipped one (a candidate)")
    parser.add_argument("--estimator-weights", metavar="PATH",
                        help="deblur's kernel estimator from this file instead of the shipped one (a candidate)")
    parser.add_argument("--deblur-option", metavar="KEY=VALUE", action="append", default=[],
                        help="an option of deblur's default restore (repeatable; VALUE read as a Python literal, "
                             "else a string), e.g. exact_kernel_fit=False: a candidate measured outside")
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = dict(key_value(text, "--deblur-option") for text in args.deblur_option)

    # the helper above must be the blur degradation itself
    probe = test_photos(channels=1, size=64)["camera"]
    d = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=NOISE).apply(probe, seed=5)
    assert torch.equal(d.image, degrade(probe, d.info["kernel"], 5)), "degrade() differs from gaussian-blur"

    imgs = images(args.leaves)
    families = levin_like_kernels() if args.levin_like else draw_kernels(args.per_family)
    if args.kernel_figure:
        draw_kernel_figure(families, args.kernel_figure)
        return
    wiener = pixelsmith.restorer("wiener", device="cpu")
    tv = pixelsmith.restorer("tv-deconv", device="cpu")
    estimator = {} if args.estimator_weights is None else {"estimator_weights": args.estimator_weights}
    prior = {} if args.denoiser_weights is None else {"denoiser_weights": args.denoiser_weights}
    deblur = pixelsmith.restorer("deblur", device="cpu", **prior, **estimator, **options)
    network = pixelsmith.restorer("deblur", device="cpu", method="network", **estimator)
    seconds = {key: 0.0 for key, _ in METHODS}

    def timed(key: str, fn, *args, **kw) -> float:
        start = time.process_time()
        out = fn(*args, **kw)
        seconds[key] += time.process_time() - start
        return out
    # results[family][kernel index][image] = {method: psnr}
    results: dict[str, list[dict[str, dict[str, float]]]] = {}
    t0 = time.perf_counter()
    for fi, (family, kernels) in enumerate(families.items()):
        results[family] = []
        for ki, (_, k) in enumerate(kernels):
            per_image: dict[str, dict[str, float]] = {}
            for ii, (name, clean) in enumerate(imgs.items()):
                y = degrade(clean, k, seed=10_000 * fi + 100 * ki + ii)
                with torch.inference_mode():
                    per_image[name] = {
                        "blurred": psnr(y, clean),
                        "wiener": psnr(timed("wiener", wiener.restore, y, kernel=k, sigma=NOISE), clean),
                        "tv": psnr(timed("tv", tv.restore, y, kernel=k, sigma=NOISE), clean),
                        "tv-est": psnr(timed("tv-est", tv.restore, y, kernel=k), clean),
                        "blind-net": psnr(timed("blind-net", network.restore, y), clean),
                        "given-net": psnr(timed("given-net", network.restore, y, kernel=k), clean),
                        "blind": psnr(timed("blind", deblur.restore, y), clean),
                        "given": psnr(timed("given", deblur.restore, y, kernel=k), clean),
                    }
            results[family].append(per_image)
            print(f"[{time.perf_counter() - t0:6.0f} s] {family} {ki + 1}/{len(kernels)}", flush=True)
    elapsed = time.perf_counter() - t0
    n_cases = sum(len(k) for k in families.values()) * len(imgs)

    photo_names = [n for n in imgs if not n.startswith("leaves")]
    leaf_names = [n for n in imgs if n.startswith("leaves")]

    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else math.nan

    def fam_mean(family: str, method: str, names: list[str]) -> float:
        return mean([r[n][method] for r in results[family] for n in names])

    kernel_origin = (f"Levin-sized camera shakes (seed {LEVIN_LIKE_SEED}, sides {', '.join(map(str, LEVIN_SIDES))})"
                     if args.levin_like else f"kernels drawn with seed {KERNEL_SEED}")
    lines = [
        "Data: " + ", ".join(photo_names) + " (test split, 256² gray centre crops) and "
        f"{len(leaf_names)} dead-leaves images (seed {PROCEDURAL_SEED}, 256², gray); {kernel_origin}; noise σ = {NOISE}, clipped; mean PSNR (dB) over the {len(imgs)} images.",
        "",
    ]
    candidates = [f"{what} {path} (sha256 {sha256_of(path)[:16]}…)" for what, path in
                  (("plug-and-play prior", args.denoiser_weights), ("kernel estimator", args.estimator_weights)) if path]
    if candidates:  # provenance: these figures are not the shipped files'
        lines[1:1] = ["", "Candidate files instead of the shipped ones: " + "; ".join(candidates) + "."]
    if options:  # nor, with options, the default restore's
        lines[1:1] = ["", "deblur's options instead of its defaults: "
                      + ", ".join(f"{k}={v!r}" for k, v in options.items()) + "."]
    header = "| kernel | " + " | ".join(label for _, label in METHODS) + " | TV − Wiener | blind − TV | given − TV |"
    rule = "|---" * (len(METHODS) + 4) + "|"
    for family, kernels in families.items():
        lines += [f"#### {family}", "", header, rule]
        for (desc, _), res in zip(kernels, results[family]):
            m = {key: mean([res[n][key] for n in imgs]) for key, _ in METHODS}
            lines.append(f"| {desc} | " + " | ".join(f"{m[key]:.2f}" for key, _ in METHODS)
                         + f" | {m['tv'] - m['wiener']:+.2f} | {m['blind'] - m['tv']:+.2f} | {m['given'] - m['tv']:+.2f} |")
        m = {key: fam_mean(family, key, list(imgs)) for key, _ in METHODS}
        lines.append("| **mean** | " + " | ".join(f"**{m[key]:.2f}**" for key, _ in METHODS)
                     + f" | **{m['tv'] - m['wiener']:+.2f}** | **{m['blind'] - m['tv']:+.2f}** | "
                       f"**{m['given'] - m['tv']:+.2f}** |")
        lines.append("")

    lines += ["#### Means by family and data set", "",
              "| family | data | " + " | ".join(label for _, label in METHODS)
              + " | TV − Wiener | blind − TV | given − TV |",
              "|---" * (len(METHODS) + 5) + "|"]
    # an "all" row only when there is more than one family to average
    rows = list(families) + (["all"] if len(families) > 1 else [])
    for family in rows:
        fams = list(families) if family == "all" else [family]
        for label, names in (("photos", photo_names), ("dead leaves", leaf_names), ("all", list(imgs))):
            # the overall mean weighs each family equally, whatever its number of kernels
            m = {key: mean([fam_mean(f, key, names) for f in fams]) for key, _ in METHODS}
            bold = "**" if family == "all" or label == "all" else ""
            lines.append(f"| {family} | {label} | " + " | ".join(f"{bold}{m[key]:.2f}{bold}" for key, _ in METHODS)
                         + f" | {m['tv'] - m['wiener']:+.2f} | {m['blind'] - m['tv']:+.2f} | {m['given'] - m['tv']:+.2f} |")
    # Levin et al. (CVPR 2009) judge a blind method by the error ratio: its MSE over the MSE of the same
    # deconvolution given the true kernel (the kernel's share of the error), and count ratio ≤ 3 a success
    lines += ["", "#### Error ratio of the blind kernels (Levin et al. 2009)", "",
              "MSE of the blind restore over the MSE of the same method given the true kernel, per image "
              "(1 = the kernel found is as good as the true one; Levin et al. count ≤ 3 as a success):", "",
              "| family | method | median ratio | ratio ≤ 2 | ratio ≤ 3 (success) | worst |", "|---|---|---|---|---|---|"]
    for family in rows:
        fams = list(families) if family == "all" else [family]
        for label, blind_key, given_key in (("pnp (default)", "blind", "given"), ("network", "blind-net", "given-net")):
            ratios = sorted(10 ** ((r[n][given_key] - r[n][blind_key]) / 10)
                            for f in fams for r in results[f] for n in imgs)
            share = lambda bound: sum(q <= bound for q in ratios) / len(ratios)  # noqa: E731
            bold = "**" if family == "all" else ""
            lines.append(f"| {family} | {label} | {bold}{ratios[len(ratios) // 2]:.2f}{bold} | {share(2):.0%} | "
                         f"{bold}{share(3):.0%}{bold} | {ratios[-1]:.1f} |")
    lines += ["", f"{sum(len(k) for k in families.values())} kernels × {len(imgs)} images in {elapsed / 60:.1f} min "
              f"(one torch thread).", "",
              "CPU seconds per 256² image (process time, one thread, mean over all cases): "
              + ", ".join(f"{label} {seconds[key] / n_cases:.2f}" for key, label in METHODS if key != "blurred")
              + "."]
    text = "\n".join(lines)
    print(text)
    if args.json:
        cases = [{"family": f, "kernel": desc, "image": n, "psnr": res[n]}
                 for f, kernels in families.items() for (desc, _), res in zip(kernels, results[f]) for n in imgs]
        with open(args.json, "w", encoding="utf-8") as fh:
            seed = LEVIN_LIKE_SEED if args.levin_like else KERNEL_SEED
            json.dump({"noise": NOISE, "kernel_seed": seed, "leaves_seed": PROCEDURAL_SEED,
                       "deblur_options": {k: repr(v) for k, v in options.items()}, "cases": cases}, fh, indent=1)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
