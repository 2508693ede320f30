"""``pixelsmith bench ...``: hands its arguments to the bench harness (:mod:`pixelsmith.bench.cli`)."""

from __future__ import annotations

import argparse
import importlib
from typing import Sequence

from ._common import EXIT_FAILURE, error


def add_parser(sub: argparse._SubParsersAction) -> None:
    # listed for `pixelsmith --help`; the arguments themselves are parsed by the harness (see main)
    sub.add_parser("bench", help="run the benchmark harness (pixelsmith bench --help for its options)",
                   add_help=False)


def run(argv: Sequence[str]) -> int:
    try:
        module = importlib.import_module("pixelsmith.bench.cli")
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == "pixelsmith.bench" or exc.name.startswith("pixelsmith.bench.")):
            error("the bench harness (pixelsmith.bench) is not part of this installation; "
                  "update pixelsmith or reinstall it with its extras")
            return EXIT_FAILURE
        raise
    main = getattr(module, "main", None)
    if main is None:
        error("pixelsmith.bench.cli has no main(argv); the bench harness is incomplete")
        return EXIT_FAILURE
    code = main(list(argv))
    return int(code or 0)
