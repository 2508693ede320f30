"""What every command shares: ``key=value`` parsing, one-line errors, progress bars."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Iterator, Sequence, TypeVar

from ..errors import InvalidInputError

T = TypeVar("T")

#: Exit codes: 0 success, 1 a failure while working, 2 a usage or input error (as argparse does).
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


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
