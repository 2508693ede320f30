"""Whether a confident straight-line reading should be projected onto a family of line kernels.

    OMP_NUM_THREADS=1 python benchmarks/deblur_line_projection.py      # about 8 min on one thread

Choice data only, the cases of ``deblur_line_policy.py`` (the 13 training photographs and 4 dead leaves of seed 1
× its 11 kernels, noise 0.01) where the kernel estimator names a straight line with probability ≥ 0.99. Blind
``deblur`` (``kernel_shape="auto"``) then refines the estimator's Kornia line by one round of the L0 search, which
moves a continuous line towards its true shape but an exact Kornia line off it. Candidates, scored by TV
deconvolution with them minus TV with the true kernel (dB; the fast proxy of ``deblur_line_policy.py``):

- ``shipped``: the refined kernel (what a blind restore uses);
- ``estimator``: the estimator's own Kornia line;
- ``continuous``: the anti-aliased line (``line_kernel``: any length and angle) nearest in L2 to the refined kernel;
- ``kornia``: Kornia's line (``motion_kernel``: odd lengths) nearest in L2 to the refined kernel;
- ``nearer family (ratio R)``: ``continuous`` where it is R× nearer the refined kernel than ``kornia`` is (and
  within 0.01 in squared L2), the estimator's line where ``kornia`` is R× nearer, else the refined kernel.

Printed: the mean per kernel family for each.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

import pixelsmith
from deblur_line_policy import NOISE, images, kernels
from pixelsmith.plugin import blur_with_kernel, gaussian_noise_like, line_kernel, motion_kernel

#: the common canvas kernels are compared on (odd, wider than any candidate)
SIDE = 31
#: a continuous line must be this close (squared L2) to the refined kernel to be taken
NEAR = 0.01


def _on_canvas(k: torch.Tensor) -> torch.Tensor:
    p = (SIDE - k.shape[0]) // 2
    return F.pad(k, (p, p, p, p))


def nearest(target: torch.Tensor, render, lengths, angles) -> tuple[float, float, float]:
    """(squared L2 distance, length, angle) of the rendered kernel nearest ``target`` on the grid."""
    t = _on_canvas(target)
    best = (float("inf"), 0.0, 0.0)
    for length, angle in itertools.product(lengths, angles):
        k = render(length, angle % 180)
        if k.shape[0] <= SIDE and (d := float((_on_canvas(k) - t).square().sum())) < best[0]:
            best = (d, length, angle)
    return best


def nearest_continuous(k: torch.Tensor, length: float, angle: float) -> tuple[float, torch.Tensor]:
    """The anti-aliased line nearest ``k``: a coarse grid about the estimator's reading, then a finer one."""
    _, length, angle = nearest(k, line_kernel, [length + 0.25 * i for i in range(-20, 21) if length + 0.25 * i >= 1],
                               [angle + d for d in range(-12, 13)])
    d, length, angle = nearest(k, line_kernel, [length + 0.05 * i for i in range(-5, 6) if length + 0.05 * i >= 1],
                               [angle + 0.25 * i for i in range(-4, 5)])
    return d, line_kernel(length, angle % 180)


def nearest_kornia(k: torch.Tensor, length: float, angle: float) -> tuple[float, torch.Tensor]:
    """Kornia's line nearest ``k``: odd lengths within 6 px of the reading, angles as above."""
    _, n, angle = nearest(k, motion_kernel, [n for n in range(3, 30, 2) if abs(n - length) <= 6],
                          [angle + d for d in range(-12, 13)])
    d, n, angle = nearest(k, motion_kernel, [n], [angle + 0.25 * i for i in range(-4, 5)])
    return d, motion_kernel(n, angle % 180)


def main() -> None:
    torch.set_num_threads(1)
    tv = pixelsmith.restorer("tv-deconv")
    deb = pixelsmith.restorer("deblur", device="cpu", estimator="standard")  # the two-family policy studied
    psnr = pixelsmith.metric("psnr")
    table: dict[str, dict[str, list[float]]] = {}
    for j, ((kname, kernel), (name, clean)) in enumerate(itertools.product(kernels().items(), images().items())):
        blurred = (blur_with_kernel(clean, kernel, "reflect")
                   + gaussian_noise_like(clean, NOISE, torch.Generator().manual_seed(j))).clamp(0, 1)
        estimate = deb.estimate_kernels(blurred)[0]
        if estimate.family != "motion" or estimate.confidence < 0.99:
            continue
        refined = deb.blind_kernels(blurred)[0]
        d_cont, cont = nearest_continuous(refined, estimate.expected_length, estimate.angle)
        d_korn, korn = nearest_kornia(refined, estimate.expected_length, estimate.angle)
        candidates = {"shipped": refined, "estimator": estimate.kernel, "continuous": cont, "kornia": korn}
        with torch.inference_mode():
            base = float(psnr(tv.restore(blurred, kernel=kernel, sigma=NOISE).clamp(0, 1), clean)[0])
            gains = {k: float(psnr(tv.restore(blurred, kernel=v, sigma=NOISE).clamp(0, 1), clean)[0]) - base
                     for k, v in candidates.items()}
        for ratio in (1.0, 2.0):
            pick = "estimator" if d_korn * ratio < d_cont else \
                "continuous" if d_cont * ratio < d_korn and d_cont < NEAR else "shipped"
            gains[f"nearer family (ratio {ratio:g})"] = gains[pick]
        family = kname.split()[0]
        for k, g in gains.items():
            table.setdefault(k, {}).setdefault(family, []).append(g)
        print(f"[{j}] {kname} / {name}: distance continuous {d_cont:.4f}, kornia {d_korn:.4f}; "
              + ", ".join(f"{k} {g:+.2f}" for k, g in gains.items()), flush=True)
    families = sorted({f for d in table.values() for f in d})
    counts = [len(table["shipped"].get(f, [])) for f in families]
    print("\n| kernel taken | " + " | ".join(f"{f} ({n})" for f, n in zip(families, counts)) + " | all |")
    print("|---" * (len(families) + 2) + "|")
    for k, d in table.items():
        every = [g for f in families for g in d.get(f, [])]
        cells = [f"{sum(v) / len(v):+.2f}" if (v := d.get(f, [])) else "–" for f in families]
        print(f"| {k} | " + " | ".join(cells) + f" | {sum(every) / len(every):+.2f} |")


if __name__ == "__main__":
    main()
