"""``pixelsmith measure METRIC PRED TARGET``: a metric between two images or two folders of images."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from .. import api
from ..errors import InvalidInputError
from ..io import iter_image_files, read_image
from ._common import add_max_pixels, parse_params


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "measure", help="measure a metric between a prediction and a target image (or folders)",
        description="Compute a full-reference metric between PRED and TARGET. Both are image files, "
                    "or both folders whose images are paired by relative name (the mean is reported too).",
        epilog="example: pixelsmith measure psnr restored.png clean.png --json")
    p.add_argument("metric", help="metric name, e.g. psnr, ssim")
    p.add_argument("pred", type=Path, help="predicted image file or folder")
    p.add_argument("target", type=Path, help="reference image file or folder")
    p.add_argument("options", nargs="*", metavar="option=value", help="metric options, e.g. data_range=1.0")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON with the metric's settings")
    add_max_pixels(p)
    p.set_defaults(run=run, kv_dest="options")


def _pairs(pred: Path, target: Path) -> list[tuple[str, Path, Path]]:
    if pred.is_dir() != target.is_dir():
        raise InvalidInputError(f"{pred} and {target} must both be files or both be folders")
    if not pred.is_dir():
        list(iter_image_files([pred, target]))  # raises, naming the file, when one does not exist
        return [(pred.name, pred, target)]
    targets = {rel.as_posix(): path for path, rel in iter_image_files(target)}
    pairs = [(rel.as_posix(), path, targets[rel.as_posix()])
             for path, rel in iter_image_files(pred) if rel.as_posix() in targets]
    if not pairs:
        raise InvalidInputError(f"no image in {pred} has a namesake in {target}; pair images by relative name")
    return pairs


def run(args: argparse.Namespace) -> int:
    metric = api.metric(args.metric, **parse_params(args.options))
    values: dict[str, float] = {}
    settings: dict = {}
    for name, pred, target in _pairs(args.pred, args.target):
        result = metric.evaluate(read_image(pred), read_image(target))
        values[name] = float(result.values[0])
        settings = result.settings
    mean = sum(values.values()) / len(values)
    if args.json:
        print(json.dumps({"metric": args.metric, "mean": _json_float(mean),
                          "values": {k: _json_float(v) for k, v in values.items()},
                          "higher_is_better": metric.higher_is_better, "settings": settings},
                         indent=2, default=str))
    elif len(values) == 1:
        print(f"{args.metric}: {mean:.6g}")
    else:
        for name, value in values.items():
            print(f"{name}\t{value:.6g}")
        print(f"mean {args.metric} over {len(values)} images: {mean:.6g}")
    return 0


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)  # JSON has no inf (identical images give PSNR inf)
