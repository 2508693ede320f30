"""The ``pixelsmith`` command line; one module per command.

Exit codes: 0 success; 1 a failure while working (a file that could not be restored, a plugin
error); 2 a usage or input error; 130 stopped by Ctrl-C (SIGINT), 143 by SIGTERM. Every error,
whatever raised it, is one line on stderr, ``error: ...``; ``--debug`` (anywhere on the command
line) or ``PIXELSMITH_DEBUG=1`` also prints the traceback. See ``_common.describe_exception``.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Sequence

from .. import __version__
from . import bench, degrade, export, generate, info, measure, new_plugin, plugins_cmd, restore, train
from ._common import EXIT_USAGE, debug_requested, error, interrupted_exit_code, report_exception, sigterm_interrupts

__all__ = ["main", "build_parser"]

_COMMANDS = (plugins_cmd, info, measure, degrade, generate, restore, train, export, bench, new_plugin)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelsmith",
        description="Image generation and restoration with pluggable generators, restorers, metrics "
                    "and degradations.",
        epilog="Run `pixelsmith COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"pixelsmith {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an error (accepted anywhere; or PIXELSMITH_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in _COMMANDS:
        command.add_parser(sub)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args_list, debug = debug_requested(list(sys.argv[1:] if argv is None else argv))
    command = next((a for a in args_list if not a.startswith("-")), None)
    with warnings.catch_warnings(), sigterm_interrupts():
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
            if getattr(args, "max_pixels", None) is None:
                return int(args.run(args) or 0)
            from ..io import set_max_pixels

            previous = set_max_pixels(args.max_pixels)
            try:
                return int(args.run(args) or 0)
            finally:
                set_max_pixels(previous)
        except KeyboardInterrupt as exc:
            error("interrupted")
            return interrupted_exit_code(exc)
        except BrokenPipeError:  # `pixelsmith plugins | head`
            _silence_stdout()
            return 0
        except Exception as exc:  # noqa: BLE001 - the error policy: one line and an exit code, never a traceback
            return report_exception(exc, command=command, debug=debug)


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at /dev/null so that the interpreter's final flush is quiet."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
