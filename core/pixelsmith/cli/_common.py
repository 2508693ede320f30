"""What every command shares: ``key=value`` parsing, output checks, progress bars, and the error
policy: every exception becomes one line on stderr and an exit code (see :func:`report_exception`).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, TypeVar

from ..errors import (
    ImageReadError,
    InvalidInputError,
    PixelsmithError,
    ResourceError,
    UnknownComponentError,
    is_out_of_memory,
)

T = TypeVar("T")

#: Exit codes: 0 success, 1 a failure while working, 2 a usage or input error (as argparse does),
#: 128 + N stopped by signal N (130 for Ctrl-C / SIGINT, 143 for SIGTERM), as shells report them.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 128 + signal.SIGINT

_DEBUG_ENV = "PIXELSMITH_DEBUG"


class Interrupted(KeyboardInterrupt):
    """A stop asked for by a signal (SIGTERM arrives as this; Ctrl-C as a plain KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def interrupted_exit_code(exc: BaseException | None = None, signum: int | None = None) -> int:
    """128 + the signal number: 130 for SIGINT (also a plain KeyboardInterrupt), 143 for SIGTERM."""
    if signum is None:
        signum = getattr(exc, "signum", signal.SIGINT)
    return 128 + int(signum)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM raises :class:`Interrupted` while inside, so a command stops as it does on Ctrl-C
    (outputs already written stay, temporary files are removed) instead of dying mid-write."""
    def on_term(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread (an embedding application): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def debug_requested(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug``, and whether tracebacks were asked for (``--debug`` anywhere on
    the line, or ``PIXELSMITH_DEBUG=1``)."""
    debug = os.environ.get(_DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")
    rest = [a for a in argv if a != "--debug"]
    return rest, debug or len(rest) != len(argv)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def describe_exception(exc: BaseException, command: str | None = None) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that ended a command."""
    where = f"`pixelsmith {command}`" if command else "pixelsmith"
    if isinstance(exc, (InvalidInputError, ImageReadError, UnknownComponentError)):
        return EXIT_USAGE, str(exc)
    if isinstance(exc, PixelsmithError):
        return EXIT_FAILURE, str(exc)
    if is_out_of_memory(exc):
        return EXIT_FAILURE, (f"{where} ran out of memory ({type(exc).__name__}: {_first_line(exc)}); use a "
                              "smaller input, batch or -n, or a machine or device with more memory")
    if isinstance(exc, OSError):
        target = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        reason = exc.strerror or _first_line(exc) or type(exc).__name__
        hint = {errno.ENOSPC: "free some space or write elsewhere",
                errno.EACCES: "check the permissions, or write elsewhere",
                errno.EPERM: "check the permissions, or write elsewhere",
                errno.EROFS: "the file system is read-only: write elsewhere",
                errno.ENAMETOOLONG: "use a shorter name"}.get(exc.errno or 0, "check the path")
        return EXIT_FAILURE, f"{target + ': ' if target else ''}{reason}; {hint}"
    return EXIT_FAILURE, (f"unexpected {type(exc).__name__} in {where}: {_first_line(exc)}; this is a bug: "
                          f"rerun with --debug (or {_DEBUG_ENV}=1) for the traceback and report it")


def report_exception(exc: BaseException, *, command: str | None = None, debug: bool = False) -> int:
    """Print ``error: ...`` (one line; the traceback first when ``debug``) and return the exit code."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    code, message = describe_exception(exc, command)
    error(message)
    return code


def add_max_pixels(parser: argparse.ArgumentParser) -> None:
    """``--max-pixels N``: the pixel budget of the images this command reads."""
    parser.add_argument("--max-pixels", metavar="N", default=None,
                        help="refuse images of more than N pixels, read from the file header before "
                             "decoding (default 100000000, or $PIXELSMITH_MAX_PIXELS; 2e8 is accepted)")


def check_output_folder(folder: Path, *, what: str = "output folder") -> None:
    """Refuse, before any work, an output folder that is a file or cannot be created or written."""
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"{what} {folder} is an existing file, not a folder; give a folder path")
    _check_creatable(folder, what)
    _probe_write(folder, f"{what} {folder}")


def check_output_file(path: Path, *, overwrite: bool, what: str = "output") -> None:
    """Refuse, before any work, an output file that is a folder, exists (unless ``overwrite``) or
    whose folder cannot be created or written."""
    if path.is_dir():
        raise InvalidInputError(f"{what} {path} is a folder; give a file name, e.g. {path / 'out.png'}")
    if path.exists() and not overwrite:
        raise InvalidInputError(f"{path} already exists; pass --overwrite to replace it")
    if len(path.name.encode()) > 255:
        raise InvalidInputError(f"{what} name {path.name[:40]}... is longer than file systems allow (255 bytes)")
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"cannot write {path}: {folder} is a file, not a folder")
    _check_creatable(folder, f"folder of {what} {path}")
    _probe_write(folder, f"cannot write {path}: its folder")


def _probe_write(folder: Path, what: str) -> None:
    """Create and remove a hidden file: the one test of writability that permissions, read-only
    mounts and pseudo file systems (/proc, /sys) cannot fool."""
    import tempfile

    try:
        fd, probe = tempfile.mkstemp(prefix=".pixelsmith-probe-", dir=folder)
    except OSError as exc:
        raise InvalidInputError(f"{what} is not writable ({exc.strerror or exc}); choose another place") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)


def _check_creatable(folder: Path, what: str) -> None:
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing != folder:
        if not existing.is_dir():
            raise InvalidInputError(f"{what} {folder} cannot be created: {existing} is a file")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise InvalidInputError(f"{what} {folder} cannot be created: {existing} is not writable")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(f"{what} {folder} cannot be created: {exc.strerror or exc}") from None


def parse_value(text: str) -> Any:
    """``"3"`` → 3, ``"0.1"`` → 0.1, ``"true"`` → True, ``"[1, 2]"`` → [1, 2], else the string itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    if lowered in ("none", "null"):
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.strip()[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"cannot parse {text!r} as JSON ({exc.msg}); quote it like '[1, 2]'") from exc
    return text


def parse_params(items: Sequence[str] | None) -> dict[str, Any]:
    """Parse ``key=value`` words; keys keep their spelling with ``-`` turned into ``_``."""
    params: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"expected key=value, got {item!r}; e.g. sigma=0.1")
        params[key.strip().replace("-", "_")] = parse_value(value)
    return params


def error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def info(message: str, *, quiet: bool = False) -> None:
    if not quiet:
        print(message, file=sys.stderr)


def progress(items: Iterable[T], *, total: int | None, desc: str, quiet: bool) -> Iterator[T]:
    """A tqdm bar on a terminal; nothing when ``quiet`` or when stderr is not a terminal (logs, pipes)."""
    if quiet or not sys.stderr.isatty():
        yield from items
        return
    from tqdm import tqdm

    with tqdm(items, total=total, desc=desc, unit="img", file=sys.stderr) as bar:
        yield from bar
