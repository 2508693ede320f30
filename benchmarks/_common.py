"""Shared helpers of the benchmarks: interleaved timing so ratios compare like with like, the centre
crop every quality benchmark judges images at, the record keeping of the choice scripts, and ``KEY=VALUE`` options
given on their command lines."""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import time
from typing import Any, Callable, Iterable, Iterator

import torch


def timeit(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1) -> float:
    """Median wall seconds of ``fn()``."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved(fns: dict[str, Callable[[], object]], *, rounds: int = 7, warmup: int = 1,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds per function by ``clock`` (wall time by default; ``time.process_time`` for the
    CPU time of this process), alternating them round by round.

    On a shared machine the load drifts; alternating A, B, A, B... puts both under the same drift,
    so their ratio means something even when the absolute times wander.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            samples[name].append(clock() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def centre_crop(image: torch.Tensor, size: int = 256) -> torch.Tensor:
    """The central ``size``×``size`` of a ``…×H×W`` image (smaller when the image is), contiguous."""
    h, w = image.shape[-2:]
    s = min(size, h, w)
    return image[..., (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s].contiguous()


def key_value(text: str, flag: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (given to ``flag``) → (key, value): the value as a Python literal (True, 0.5, "x"), else the
    string itself."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"{flag} takes KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def collect(records: Iterable[dict], save: str | None) -> list[dict]:
    """Every record of a choice script's cases, the whole list rewritten to ``save`` (JSON) after each one, so a
    stopped run keeps what it measured (``--scores`` re-scores it)."""
    kept: list[dict] = []
    for record in records:
        kept.append(record)
        if save:
            with open(save, "w") as fh:
                json.dump(kept, fh)
    return kept


def add_record_options(parser: argparse.ArgumentParser) -> None:
    """A choice script's ``--save JSON`` (write every case's record as it is measured) and ``--scores JSON...``
    (report saved records instead of measuring)."""
    parser.add_argument("--save", metavar="JSON", help="write every case's record here")
    parser.add_argument("--scores", metavar="JSON", nargs="+", help="score saved records instead of measuring")


def saved_records(paths: Iterable[str]) -> list[dict]:
    """The records of every ``--save`` file in ``paths``, in order."""
    records: list[dict] = []
    for path in paths:
        with open(path) as fh:
            records.extend(json.load(fh))
    return records


def run_choice(parser: argparse.ArgumentParser, measure: Callable[[argparse.Namespace], Iterator[dict]],
               report: Callable[[list[dict]], None]) -> None:
    """A choice script's main: with ``--scores``, ``report`` the saved records; else ``report`` what
    ``measure(args)`` yields, each record saved as it comes (``--save``)."""
    add_record_options(parser)
    args = parser.parse_args()
    report(saved_records(args.scores) if args.scores else collect(measure(args), args.save))
