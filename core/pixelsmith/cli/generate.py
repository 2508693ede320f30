"""``pixelsmith generate NAME -n N -o grid.png``: samples from a generator."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import api
from ..errors import InvalidInputError
from ..io import save_grid, write_image
from ._common import info, parse_params


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate", help="sample images from a generator into a grid PNG or one PNG each",
        description="Draw N samples from the generator NAME. Writes a grid PNG (-o) and/or one PNG per "
                    "sample (--each DIR). The same seed gives the same images on any device.",
        epilog="example: pixelsmith generate dcgan -n 64 --seed 0 -o samples.png")
    p.add_argument("name", help="generator name, e.g. dcgan")
    p.add_argument("options", nargs="*", metavar="option=value", help="generator options")
    p.add_argument("-n", "--num", type=int, default=64, help="number of samples (default 64)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-o", "--output", type=Path, help="grid PNG to write")
    p.add_argument("--each", type=Path, metavar="DIR", help="also write sample_0000.png... into DIR")
    p.add_argument("--label", type=int, action="append", metavar="K",
                   help="class-conditional generators: draw class K (repeat to cycle through several; "
                        "default: every class in turn)")
    p.add_argument("--nrow", type=int, default=None, help="images per grid row (default ≈ √N)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run, kv_dest="options")


def run(args: argparse.Namespace) -> int:
    if args.output is None and args.each is None:
        raise InvalidInputError("say where to write the samples: -o grid.png and/or --each DIR")
    if args.num < 1:
        raise InvalidInputError(f"-n must be at least 1, got {args.num}")
    if args.seed < 0:
        raise InvalidInputError(f"--seed must be non-negative, got {args.seed}")
    if args.output is not None and args.output.exists() and not args.overwrite:
        raise InvalidInputError(f"{args.output} already exists; pass --overwrite to replace it")
    names = [f"sample_{i:04d}.png" for i in range(args.num)]
    if args.each is not None and not args.overwrite:
        clash = [n for n in names if (args.each / n).exists()]
        if clash:
            raise InvalidInputError(f"{args.each / clash[0]} already exists ({len(clash)} such files); "
                                    "pass --overwrite or choose another --each folder")
    generator = api.generator(args.name, device=args.device, **parse_params(args.options))
    labels = None
    if args.label:
        if not generator.conditional:
            raise InvalidInputError(f"{args.name} is not class-conditional; drop --label")
        import torch

        labels = torch.tensor(args.label)[torch.arange(args.num) % len(args.label)]
    images = generator.sample(args.num, seed=args.seed, labels=labels)
    if args.output is not None:
        save_grid(images, args.output, nrow=args.nrow)
        info(f"wrote {args.output} ({args.num} samples of {args.name}, seed {args.seed})", quiet=args.quiet)
    if args.each is not None:
        for name, image in zip(names, images):
            write_image(args.each / name, image.unsqueeze(0))
        info(f"wrote {args.num} images into {args.each}", quiet=args.quiet)
    return 0
