"""Quality and speed of the learned restorers against classical baselines, side by side, on the
project's evaluation sets: the test split (camera, moon, coins, chelsea: 256×256 centre crops; gray
unless stated), a fixed-seed set of procedural dead-leaves images, and leave-out sets (bundled
training photographs judged with weights trained without them). Photographs from other libraries are
never used here: they are kept as an independent check.

    python benchmarks/restoration_quality.py            # prints markdown tables
    python benchmarks/restoration_quality.py --quick    # σ=25 and one blur only
    python benchmarks/restoration_quality.py --only denoise --weights runs/x/restorer.safetensors
                                                        # a candidate unet-denoise file instead of the shipped one
    python benchmarks/restoration_quality.py --only deblur --deblur-weights A --estimator-weights B

Every degraded image comes from the core degradations with a fixed seed, so every method sees
the same bytes. The learned models run blind (no σ, no kernel) unless the row says otherwise;
BM3D, NL-means, Wiener and Richardson–Lucy are given the true σ / kernel. Classical parameters
that need tuning (TV weight, Wiener balance, RL iterations) are tuned on these same images and the
best is reported, which flatters the baselines, not the models. Timings are wall-clock on this
machine, with one torch thread, in the same run.
"""

from __future__ import annotations

import argparse
import os
import time

# one thread for every method (BM3D's numpy/BLAS included), so the speed ratio compares like with like; the bm3d
# package ignores these and takes every core unless its profile says otherwise (pixelsmith_classical.bm3d_profile)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from typing import Callable

import numpy as np
import torch

import pixelsmith
from _common import centre_crop
from pixelsmith.data import test_photos

PSNR, SSIM = pixelsmith.metric("psnr"), pixelsmith.metric("ssim")


def score(pred: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
    pred = pred.float().clamp(0, 1)
    return float(PSNR(pred, clean)[0]), float(SSIM(pred, clean)[0])


def np_img(x: torch.Tensor) -> np.ndarray:
    a = x[0].permute(1, 2, 0).numpy().astype(np.float64)
    return a[:, :, 0] if a.shape[2] == 1 else a


def to_t(a: np.ndarray) -> torch.Tensor:
    a = np.clip(np.asarray(a, dtype=np.float32), 0, 1)
    return torch.from_numpy(a[:, :, None] if a.ndim == 2 else a).permute(2, 0, 1)[None].contiguous()


def timed(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    """The result and the CPU seconds it took (process time: what another job on the machine does not inflate)."""
    t = time.process_time()
    out = fn()
    return out, time.process_time() - t


def table(title: str, rows: dict[str, dict[str, tuple[float, float]]], names: list[str]) -> str:
    head = f"\n### {title}\n\n| method | " + " | ".join(names) + " | mean PSNR | mean SSIM |\n"
    head += "|---" * (len(names) + 3) + "|\n"
    for method, per in rows.items():
        ps = [per[n][0] for n in names]
        ss = [per[n][1] for n in names]
        head += f"| {method} | " + " | ".join(f"{p:.2f} / {s:.3f}" for p, s in zip(ps, ss))
        head += f" | **{np.mean(ps):.2f}** | {np.mean(ss):.4f} |\n"
    return head


ENSEMBLE = "unet-denoise (blind, ×8 self-ensemble)"
BLIND = "unet-denoise (blind; default ×4 self-ensemble)"
#: a fixed-seed set of procedural test images (never a training seed: training draws its seeds per step)
PROCEDURAL_SEED = 20261130


def evaluation_sets(channels: int, sets: list[str], leave_out: dict[str, tuple[str, list[str]]] | None = None
                    ) -> dict[str, tuple[dict[str, torch.Tensor], str | None]]:
    """{set name: ({image name: 1×C×256×256}, weights file or None for the shipped one)}.

    ``test``: the project's test split (camera, moon, coins, chelsea; chelsea alone in colour).
    ``procedural``: 8 dead-leaves images from a fixed seed. ``--leave-out GROUP=WEIGHTS:photo,photo``:
    bundled training photographs that WEIGHTS was trained without, 256² centre crops.
    """
    from pixelsmith.data import load_photo
    from pixelsmith.plugin import dead_leaves

    out: dict[str, tuple[dict[str, torch.Tensor], str | None]] = {}
    if "test" in sets:
        photos = test_photos(channels=channels)
        if channels == 3:  # camera, moon and coins are gray: the colour test split is chelsea alone
            photos = {"chelsea": photos["chelsea"]}
        out["test split"] = (photos, None)
    if "validation" in sets:  # the trainer's validation photographs: for choosing settings, not evidence
        from pixelsmith.plugin import VALIDATION_PHOTOS

        imgs = {}
        for n in VALIDATION_PHOTOS:
            imgs[n] = centre_crop(load_photo(n, channels=channels))
        out["validation (used to choose settings: not evidence)"] = (imgs, None)
    if "procedural" in sets:
        leaves = dead_leaves(8, seed=PROCEDURAL_SEED, size=256, channels=channels)
        out[f"procedural (dead leaves, seed {PROCEDURAL_SEED})"] = (
            {f"leaves{i}": leaves[i:i + 1] for i in range(len(leaves))}, None)
    for group, (weights, names) in (leave_out or {}).items():
        imgs = {}
        for n in names:
            imgs[n] = centre_crop(load_photo(n, channels=channels))
        out[f"leave-out {group} ({', '.join(names)})"] = (imgs, weights)
    return out


def denoise_section(sigmas: list[int], out: list[str], weights: str | None = None, *, channels: int = 1,
                    sets: list[str] = ("test", "procedural"), clip: bool = True, ensemble: bool = True,
                    leave_out: dict[str, tuple[str, list[str]]] | None = None,
                    colour_weights: str | None = None) -> None:
    import bm3d
    from pixelsmith_classical import bm3d_profile as profile_on
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, estimate_sigma

    bm3d_profile = profile_on(1)  # the package's default ("np") profile, on one thread
    protocol = "clipped to [0, 1]" if clip else "unclipped (the literature's protocol)"
    space = "gray" if channels == 1 else "RGB"
    bm3d_row = "BM3D (true σ)" if channels == 1 else "CBM3D (true σ)"
    axis = None if channels == 1 else -1
    for set_name, (photos, set_weights) in evaluation_sets(channels, list(sets), leave_out).items():
        names = list(photos)
        w = set_weights or weights
        options: dict[str, str] = {"weights": w} if w else {}
        if colour_weights:
            options["colour_weights"] = colour_weights
        unet = pixelsmith.restorer("unet-denoise", device="cpu", **options)
        unet_net = pixelsmith.restorer("unet-denoise", device="cpu", blind="network", **options)
        unet8 = pixelsmith.restorer("unet-denoise", device="cpu", ensemble=8, **options) if ensemble else None
        per_channel = pixelsmith.restorer("unet-denoise", device="cpu", colour_weights="per-channel",
                                          **{k: v for k, v in options.items() if k != "colour_weights"})
        unet.restore(next(iter(photos.values())))  # warm-up: first-call allocations are not the model's speed
        times: dict[str, list[float]] = {BLIND: [], bm3d_row: [], "NL-means (true σ)": []}
        if unet8 is not None:
            times[ENSEMBLE] = []
        for s in sigmas:
            sigma = s / 255
            deg = pixelsmith.degradation("gaussian-noise", sigma=sigma, clip=clip)
            rows: dict[str, dict[str, tuple[float, float]]] = {k: {} for k in (
                "noisy (clipped for scoring)", BLIND, "unet-denoise (network's own blind mode)",
                *([ENSEMBLE] if unet8 is not None else []), "unet-denoise (σ given)", bm3d_row,
                "NL-means (est. σ)", "NL-means (true σ)", "TV (best weight)")}
            for i, (name, clean) in enumerate(photos.items()):
                noisy = deg(clean, seed=1000 + 10 * s + i)
                rows["noisy (clipped for scoring)"][name] = score(noisy, clean)
                pred, t = timed(lambda: unet.restore(noisy))
                rows[BLIND][name] = score(pred, clean)
                times[BLIND].append(t)
                rows["unet-denoise (network's own blind mode)"][name] = score(unet_net.restore(noisy), clean)
                if unet8 is not None:
                    pred, t = timed(lambda: unet8.restore(noisy))
                    rows[ENSEMBLE][name] = score(pred, clean)
                    times[ENSEMBLE].append(t)
                rows["unet-denoise (σ given)"][name] = score(unet.restore(noisy, sigma=sigma), clean)
                if channels == 3:
                    rows.setdefault("unet-denoise (blind, gray network per channel)", {})[name] = score(
                        per_channel.restore(noisy), clean)
                arr = np_img(noisy)
                if channels == 1:
                    pred, t = timed(lambda: to_t(bm3d.bm3d(arr, sigma_psd=sigma, profile=bm3d_profile)))
                else:
                    pred, t = timed(lambda: to_t(bm3d.bm3d_rgb(arr, sigma, bm3d_profile)))
                rows[bm3d_row][name] = score(pred, clean)
                times[bm3d_row].append(t)
                est = float(np.mean(estimate_sigma(arr, channel_axis=axis)))
                rows["NL-means (est. σ)"][name] = score(to_t(denoise_nl_means(
                    arr, h=0.8 * est, sigma=est, fast_mode=True, patch_size=5, patch_distance=6,
                    channel_axis=axis)), clean)
                pred, t = timed(lambda: to_t(denoise_nl_means(arr, h=0.8 * sigma, sigma=sigma, fast_mode=True,
                                                              patch_size=5, patch_distance=6, channel_axis=axis)))
                rows["NL-means (true σ)"][name] = score(pred, clean)
                times["NL-means (true σ)"].append(t)
                best = max((score(to_t(denoise_tv_chambolle(arr, weight=k * sigma, channel_axis=axis)), clean), k)
                           for k in (0.5, 0.8, 1.2, 1.8))
                rows["TV (best weight)"][name] = best[0]
            out.append(table(f"Gaussian denoising, {space}, σ = {s}, noise {protocol}: {set_name} "
                             f"(PSNR dB / SSIM)", rows, names))
            margin = np.mean([rows[BLIND][n][0] - rows[bm3d_row][n][0] for n in names])
            worst = min((rows[BLIND][n][0] - max(rows["NL-means (true σ)"][n][0], rows["NL-means (est. σ)"][n][0]), n)
                        for n in names)
            out.append(f"\nblind minus {bm3d_row}: **{margin:+.2f} dB** (mean); worst image against the better "
                       f"NL-means: {worst[0]:+.2f} dB ({worst[1]})\n")
        bm3d_time = np.mean(times[bm3d_row])
        out.append(f"\n### Denoising speed ({set_name}, {space}, one thread each, mean CPU seconds per image)\n\n"
                   "| method | s/image | BM3D time / this |\n|---|---|---|\n"
                   + "".join(f"| {k} | {np.mean(v):.3f} | {bm3d_time / np.mean(v):.1f}× |\n"
                             for k, v in times.items()))


def rgb_section(out: list[str], weights: str | None = None, colour_weights: str | None = None,
                clip: bool = True) -> None:
    """Colour denoising against CBM3D: the colour test split (chelsea) and procedural colour images."""
    denoise_section([15, 25, 50], out, weights, channels=3, clip=clip, ensemble=False,
                    colour_weights=colour_weights)


def deblur_section(out: list[str], quick: bool, weights: str | None = None, estimator: str | None = None) -> None:
    from skimage.restoration import richardson_lucy, wiener

    photos = test_photos(channels=1)
    names = list(photos)
    options = {k: v for k, v in (("weights", weights), ("estimator_weights", estimator)) if v}
    model = pixelsmith.restorer("deblur", device="cpu", **options)
    model8 = pixelsmith.restorer("deblur", device="cpu", ensemble=8, **options)
    cases = [("gaussian-blur", {"sigma": 2.0}, "Gaussian σ=2")]
    if not quick:
        cases.append(("motion-blur", {"length": 9, "angle": 30.0}, "motion length 9 at 30°"))
    for dname, params, label in cases:
        deg = pixelsmith.degradation(dname, noise=0.01, **params)
        rows: dict[str, dict[str, tuple[float, float]]] = {k: {} for k in (
            "blurred + noise", "deblur (blind: estimated kernel)", "deblur (blind, ×8 self-ensemble)",
            "deblur (blind, network alone: estimate_kernel=False)", "deblur (kernel given)",
            "Wiener (true kernel, best balance)", "Richardson–Lucy (true kernel, best iterations)")}
        found = []
        for i, (name, clean) in enumerate(photos.items()):
            d = deg.apply(clean, seed=3000 + i)
            k = d.info["kernel"]
            rows["blurred + noise"][name] = score(d.image, clean)
            rows["deblur (blind: estimated kernel)"][name] = score(model.restore(d.image), clean)
            rows["deblur (blind, ×8 self-ensemble)"][name] = score(model8.restore(d.image), clean)
            rows["deblur (blind, network alone: estimate_kernel=False)"][name] = score(
                model.restore(d.image, estimate_kernel=False), clean)
            rows["deblur (kernel given)"][name] = score(model.restore(d.image, kernel=k), clean)
            found.append(f"{name}: {model.estimate_kernels(d.image)[0].describe()}")
            arr, psf = np_img(d.image), k.numpy().astype(np.float64)
            rows["Wiener (true kernel, best balance)"][name] = max(
                score(to_t(wiener(arr, psf, b)), clean) for b in (0.003, 0.01, 0.03, 0.1))
            rows["Richardson–Lucy (true kernel, best iterations)"][name] = max(
                score(to_t(richardson_lucy(arr, psf, num_iter=n, clip=True)), clean) for n in (5, 10, 30))
        out.append(table(f"Deblurring, gray, {label} + noise σ=0.01 (PSNR dB / SSIM)", rows, names))
        out.append("\nEstimated kernels: " + "; ".join(found) + "\n")
    if not quick:
        rgb_deblur_table(out, model, cases)


def rgb_deblur_table(out: list[str], model, cases) -> None:
    """The same blurs on the RGB test photograph (chelsea), Wiener per channel with the true kernel."""
    from skimage.restoration import wiener

    clean = test_photos(channels=3)["chelsea"]
    labels = [label for _, _, label in cases]
    rows: dict[str, dict[str, tuple[float, float]]] = {k: {} for k in (
        "blurred + noise", "deblur (blind: estimated kernel)", "deblur (kernel given)",
        "Wiener per channel (true kernel, best balance)")}
    for dname, params, label in cases:
        d = pixelsmith.degradation(dname, noise=0.01, **params).apply(clean, seed=3100)
        k = d.info["kernel"]
        rows["blurred + noise"][label] = score(d.image, clean)
        rows["deblur (blind: estimated kernel)"][label] = score(model.restore(d.image), clean)
        rows["deblur (kernel given)"][label] = score(model.restore(d.image, kernel=k), clean)
        arr, psf = np_img(d.image), k.numpy().astype(np.float64)
        rows["Wiener per channel (true kernel, best balance)"][label] = max(
            score(to_t(np.stack([wiener(arr[..., c], psf, b) for c in range(3)], axis=-1)), clean)
            for b in (0.003, 0.01, 0.03, 0.1))
    out.append(table("Deblurring, RGB chelsea, noise σ=0.01 (PSNR dB / SSIM)", rows, labels))


def random_blur_section(out: list[str], weights: str | None = None, estimator: str | None = None,
                        n: int = 12) -> None:
    """Blind deblurring beyond the two fixed cases: n seeded blurs drawn like the training draws
    (Gaussian σ ∈ [0.5, 3] or motion 3–15 px at any angle, here with noise 0.01), on every test photo."""
    from skimage.restoration import wiener

    from pixelsmith.plugin import gaussian_kernel, motion_kernel

    photos = test_photos(channels=1)
    options = {k: v for k, v in (("weights", weights), ("estimator_weights", estimator)) if v}
    model = pixelsmith.restorer("deblur", device="cpu", **options)
    rng = np.random.default_rng(2024)
    lines = ["\n### Blind deblurring over 12 random blurs × 4 test photos (noise σ=0.01; mean PSNR dB)\n",
             "| blur | estimated (first photo) | blind: estimated kernel | blind: network alone "
             "| kernel given | Wiener (true kernel, best balance) |", "|---|---|---|---|---|---|"]
    totals = np.zeros(4)
    hits = {"family": 0, "param": 0, "all": 0}
    for j in range(n):
        if j % 2 == 0:
            sigma = float(rng.uniform(0.5, 3.0))
            deg = pixelsmith.degradation("gaussian-blur", sigma=sigma, noise=0.01)
            label, truth = f"Gaussian σ={sigma:.2f}", ("gaussian", sigma)
        else:
            length, angle = int(rng.choice([3, 5, 7, 9, 11, 13, 15])), float(rng.uniform(0, 180))
            deg = pixelsmith.degradation("motion-blur", length=length, angle=angle, noise=0.01)
            label, truth = f"motion {length} px at {angle:.1f}°", ("motion", length, angle)
        per = np.zeros(4)
        described = ""
        for i, clean in enumerate(photos.values()):
            d = deg.apply(clean, seed=5000 + 10 * j + i)
            k = d.info["kernel"]
            est = model.estimate_kernels(d.image)[0]
            described = described or est.describe()
            hits["all"] += 1
            if est.family == truth[0]:
                hits["family"] += 1
                if (truth[0] == "gaussian" and abs(est.sigma - truth[1]) < 0.25) or (
                        truth[0] == "motion" and est.length == truth[1]
                        and min(abs(est.angle - truth[2]), 180 - abs(est.angle - truth[2])) < 5):
                    hits["param"] += 1
            arr, psf = np_img(d.image), k.numpy().astype(np.float64)
            per += [score(model.restore(d.image, kernel=est.kernel), clean)[0],
                    score(model.restore(d.image, estimate_kernel=False), clean)[0],
                    score(model.restore(d.image, kernel=k), clean)[0],
                    max(score(to_t(wiener(arr, psf, b)), clean)[0] for b in (0.003, 0.01, 0.03, 0.1))]
        per /= len(photos)
        totals += per
        lines.append(f"| {label} | {described} | " + " | ".join(f"{v:.2f}" for v in per) + " |")
    totals /= n
    lines.append("| **mean** | | " + " | ".join(f"**{v:.2f}**" for v in totals) + " |")
    lines.append(f"\nKernel estimates: right family {hits['family']}/{hits['all']}; right family and parameters "
                 f"(σ within 0.25, or length exact and angle within 5°) {hits['param']}/{hits['all']}.\n")
    out.append("\n".join(lines) + "\n")


def impulse_section(out: list[str], sets: list[str] = ("test", "procedural")) -> None:
    """unet-impulse against the switching median it starts from (its bar: +0.5 dB at 10, 30 and 50 %)."""
    from scipy.ndimage import median_filter

    from pixelsmith_unet import UNetImpulse, prepare_impulse_input

    model = UNetImpulse(device="cpu")  # built directly: it is no longer registered (see the unet README)
    for set_name, (photos, _) in evaluation_sets(1, list(sets)).items():
        names = list(photos)
        for amount in (0.1, 0.3, 0.5):
            deg = pixelsmith.degradation("salt-and-pepper", amount=amount)
            rows: dict[str, dict[str, tuple[float, float]]] = {k: {} for k in (
                "corrupted", "unet-impulse (blind)", "switching median 5×5 (the model's input channel alone)",
                "median 3×3", "median 5×5")}
            for i, (name, clean) in enumerate(photos.items()):
                noisy = deg(clean, seed=4000 + i + int(amount * 100))
                rows["corrupted"][name] = score(noisy, clean)
                rows["unet-impulse (blind)"][name] = score(model.restore(noisy), clean)
                rows["switching median 5×5 (the model's input channel alone)"][name] = score(
                    prepare_impulse_input(noisy)[:, :1], clean)
                arr = np_img(noisy)
                rows["median 3×3"][name] = score(to_t(median_filter(arr, size=3, mode="reflect")), clean)
                rows["median 5×5"][name] = score(to_t(median_filter(arr, size=5, mode="reflect")), clean)
            out.append(table(f"Salt-and-pepper {int(amount * 100)} %, gray: {set_name} (PSNR dB / SSIM)", rows, names))
            gain = np.mean([rows["unet-impulse (blind)"][n][0]
                            - rows["switching median 5×5 (the model's input channel alone)"][n][0] for n in names])
            out.append(f"\nunet-impulse minus the switching median: **{gain:+.2f} dB** (bar: +0.50)\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=("denoise", "rgb", "deblur", "impulse"), action="append")
    parser.add_argument("--weights", help="unet-denoise weights file to judge instead of the shipped one")
    parser.add_argument("--colour-weights", help="unet-denoise colour weights file to judge instead of the shipped one")
    parser.add_argument("--protocol", choices=("clipped", "unclipped"), default="clipped",
                        help="Gaussian noise clipped to [0, 1] (default, as stored 8-bit images) or unclipped "
                             "(the BM3D/DnCNN/DRUNet papers' protocol)")
    parser.add_argument("--sets", default="test,procedural",
                        help="evaluation sets for denoising: test, procedural, validation (comma-separated)")
    parser.add_argument("--leave-out", action="append", default=[], metavar="GROUP=WEIGHTS:photo,photo",
                        help="also judge WEIGHTS (trained with holdout=photo,photo) on those held-out photographs")
    parser.add_argument("--deblur-weights", help="deblur network weights file to judge instead of the shipped one")
    parser.add_argument("--estimator-weights", help="deblur kernel-estimator file to judge instead of the shipped one")
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts = args.only or ["denoise", "rgb", "deblur", "impulse"]
    out: list[str] = []
    clip = args.protocol == "clipped"
    leave_out = {}
    for item in args.leave_out:
        group, _, rest = item.partition("=")
        path, _, photos = rest.rpartition(":")
        leave_out[group] = (path, [p for p in photos.split(",") if p])
    out.append(f"# Restoration quality: Gaussian noise {args.protocol}; sets {args.sets}"
               + (f"; leave-out groups {', '.join(leave_out)}" if leave_out else "") + "\n")
    if "denoise" in parts:
        denoise_section([25] if args.quick else [15, 25, 50], out, args.weights, clip=clip,
                        sets=[x for x in args.sets.split(",") if x], leave_out=leave_out)
    if "rgb" in parts:
        rgb_section(out, args.weights, args.colour_weights, clip=clip)
    if "deblur" in parts:
        deblur_section(out, args.quick, args.deblur_weights, args.estimator_weights)
        if not args.quick:
            random_blur_section(out, args.deblur_weights, args.estimator_weights)
    if "impulse" in parts:
        impulse_section(out)
    print("".join(out))


if __name__ == "__main__":
    main()
