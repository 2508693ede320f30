"""``pixelsmith degrade NAME INPUT -o OUTPUT``: apply a seeded degradation to one image."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import api
from ..errors import InvalidInputError
from ..io import read_image_data, write_image
from ._common import add_max_pixels, check_output_file, info, parse_params


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
    add_max_pixels(p)
    p.set_defaults(run=run, kv_dest="params")


def run(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise InvalidInputError(f"--seed must be non-negative, got {args.seed}")
    degradation = api.degradation(args.name, **parse_params(args.params))
    if args.output.exists() and args.output.resolve() == args.input.resolve():
        raise InvalidInputError(f"output {args.output} is the input file; write to another file")
    check_output_file(args.output, overwrite=args.overwrite)
    data = read_image_data(args.input)
    result = degradation.apply(data.image, seed=args.seed)
    tiff = args.output.suffix.lower() in (".tif", ".tiff")
    depth = 32 if data.bit_depth == 32 and tiff else 16 if data.bit_depth > 8 and (
        tiff or args.output.suffix.lower() == ".png") else 8
    write_image(args.output, result.image, bit_depth=depth)
    facts = ", ".join(f"{k}={v}" for k, v in result.info.items()
                      if isinstance(v, (int, float, str, bool)) and k != "degradation")
    info(f"wrote {args.output} ({args.name}{': ' + facts if facts else ''}; seed {args.seed})", quiet=args.quiet)
    return 0
