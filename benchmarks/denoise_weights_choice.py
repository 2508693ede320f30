"""Compare ``unet-denoise`` weights files on the choice set only, under both noise protocols.

    OMP_NUM_THREADS=1 python benchmarks/denoise_weights_choice.py A.safetensors B.safetensors ...
    OMP_NUM_THREADS=1 python benchmarks/denoise_weights_choice.py --colour A-rgb.safetensors B-rgb.safetensors

The choice set is the one of ``denoise_ensemble_choice.py``: the trainer's validation photographs (clock,
rocket; 256² centre crops) and 8 dead-leaves images of seed 1, never the test split or the procedural
evaluation set. For σ 15/25/50, Gaussian noise clipped to [0, 1] and unclipped (the literature's
protocol), seed 0, it prints the mean PSNR of the default restorer (blind, 4-view ensemble) with each
file, on the photographs and on the leaves, and each file's difference from the first. For choosing
between fine-tunes (e.g. more unclipped noise in training) without looking at the evaluation sets.
``--colour`` compares colour network files (``colour_weights=``) on the same set in RGB.
"""

from __future__ import annotations

import argparse

import torch

import pixelsmith
from denoise_ensemble_choice import SIGMAS, choice_set, psnr
from pixelsmith.plugin import gaussian_noise_like


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", nargs="+", help="unet-denoise weights files (the first is the reference)")
    parser.add_argument("--colour", action="store_true",
                        help="the files are colour networks (colour_weights=): judge them on the RGB choice set")
    parser.add_argument("--clip-input", action="store_true",
                        help="judge each file twice: given the raw noisy values (clip_input=False) and with them "
                             "clipped to [0, 1] before the network (clip_input=True, the restorer's default)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = choice_set(channels=3 if args.colour else 1)
    variants = {"": {}} if not args.clip_input else {"": {"clip_input": False}, " + input clipped": {"clip_input": True}}
    key = "colour_weights" if args.colour else "weights"
    restorers = {f"{w}{label}": pixelsmith.restorer("unet-denoise", device="cpu", **{key: w}, **options)
                 for w in args.weights for label, options in variants.items()}
    args.weights = list(restorers)
    for clip in (True, False):
        for sigma in SIGMAS:
            rows: dict[str, dict[str, list[float]]] = {w: {"photos": [], "leaves": []} for w in args.weights}
            for i, (name, clean) in enumerate(images.items()):
                noisy = clean + gaussian_noise_like(clean, sigma / 255, torch.Generator().manual_seed(i))
                if clip:
                    noisy = noisy.clamp(0, 1)
                group = "leaves" if name.startswith("leaves") else "photos"
                with torch.inference_mode():
                    for w, restorer in restorers.items():
                        rows[w][group].append(psnr(restorer.restore(noisy), clean))
            ref = {g: sum(v) / len(v) for g, v in rows[args.weights[0]].items()}
            for w in args.weights:
                mean = {g: sum(v) / len(v) for g, v in rows[w].items()}
                print(f"{'clipped' if clip else 'unclipped':9s} σ {sigma:2d} {w}: photos {mean['photos']:.2f} "
                      f"({mean['photos'] - ref['photos']:+.2f}), leaves {mean['leaves']:.2f} "
                      f"({mean['leaves'] - ref['leaves']:+.2f})", flush=True)


if __name__ == "__main__":
    main()
