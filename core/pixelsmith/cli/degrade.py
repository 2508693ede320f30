"""``pixelsmith degrade NAME INPUT -o OUTPUT``: apply a seeded degradation to one image."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import api
from ..errors import InvalidInputError
from ..io import read_image_data, write_image
from ._common import info, parse_params


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "degrade", help="apply a seeded degradation (noise, blur, mask...) to an image",
        description="Degrade INPUT with the degradation NAME and write OUTPUT (format from its "
                    "extension; 16-bit input stays 16-bit in PNG/TIFF). The same seed gives the same bytes.",
        epilog="example: pixelsmith degrade gaussian-noise clean.png -o noisy.png sigma=0.1 --seed 3")
    p.add_argument("name", help="degradation name, e.g. gaussian-noise")
    p.add_argument("input", type=Path, help="image file to degrade (left untouched)")
    p.add_argument("params", nargs="*", metavar="param=value", help="degradation parameters, e.g. sigma=0.1")
    p.add_argument("-o", "--output", type=Path, required=True, help="image file to write")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run, kv_dest="params")


def run(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise InvalidInputError(f"--seed must be non-negative, got {args.seed}")
    degradation = api.degradation(args.name, **parse_params(args.params))
    data = read_image_data(args.input)
    if args.output.exists() and args.output.resolve() == args.input.resolve():
        raise InvalidInputError(f"output {args.output} is the input file; write to another file")
    if args.output.exists() and not args.overwrite:
        raise InvalidInputError(f"{args.output} already exists; pass --overwrite to replace it")
    result = degradation.apply(data.image, seed=args.seed)
    sixteen = data.bit_depth > 8 and args.output.suffix.lower() in (".png", ".tif", ".tiff")
    write_image(args.output, result.image, bit_depth=16 if sixteen else 8)
    facts = ", ".join(f"{k}={v}" for k, v in result.info.items()
                      if isinstance(v, (int, float, str, bool)) and k != "degradation")
    info(f"wrote {args.output} ({args.name}{': ' + facts if facts else ''}; seed {args.seed})", quiet=args.quiet)
    return 0
