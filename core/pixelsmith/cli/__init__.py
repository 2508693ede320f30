"""The ``pixelsmith`` command line; one module per command.

Exit codes: 0 success; 1 a failure while working (a file that could not be restored, a plugin
error); 2 a usage or input error. Errors are one line on stderr, ``error: ...``, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Sequence

from .. import __version__
from ..errors import ImageReadError, InvalidInputError, PixelsmithError, UnknownComponentError
from . import bench, degrade, generate, measure, new_plugin, plugins_cmd, restore, train
from ._common import EXIT_FAILURE, EXIT_USAGE, error

__all__ = ["main", "build_parser"]

_COMMANDS = (plugins_cmd, measure, degrade, generate, restore, train, bench, new_plugin)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelsmith",
        description="Image generation and restoration with pluggable generators, restorers, metrics "
                    "and degradations.",
        epilog="Run `pixelsmith COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"pixelsmith {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning  # one readable line instead of file:line noise
        try:
            if args_list[:1] == ["bench"]:
                # the harness owns its arguments (and its --help)
                return bench.run(args_list[1:])
            args, rest = build_parser().parse_known_args(args_list)
            # key=value words may follow options (`degrade x in.png -o out.png sigma=0.1`), which
            # argparse leaves over once a positional list was closed: hand them to the command
            dest = getattr(args, "kv_dest", None)
            unknown = [r for r in rest if "=" not in r or r.startswith("-") or dest is None]
            if unknown:
                error(f"unrecognized arguments: {' '.join(unknown)}; see pixelsmith {args.command} --help")
                return EXIT_USAGE
            if rest:
                setattr(args, dest, [*(getattr(args, dest) or []), *rest])
            return int(args.run(args) or 0)
        except (InvalidInputError, ImageReadError, UnknownComponentError) as exc:
            error(str(exc))
            return EXIT_USAGE
        except PixelsmithError as exc:
            error(str(exc))
            return EXIT_FAILURE
        except KeyboardInterrupt:
            error("interrupted")
            return 130
        except BrokenPipeError:  # `pixelsmith plugins | head`
            return 0
