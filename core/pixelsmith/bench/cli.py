"""``pixelsmith bench``: run the benchmark suites, or compare two runs.

Output policy: ``-o DIR`` may be new, empty, or hold other files; a folder that already holds
bench results is refused unless ``--overwrite`` (and even then only the bench's own files are
replaced: see :func:`pixelsmith.bench.report.check_output_dir`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import PixelsmithError
from .tasks import SUITES

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pixelsmith bench",
        description="Benchmark every registered restorer and generator on fixed, seeded tasks; "
                    "write results.json/.csv/.md, index.html and plots. "
                    "`pixelsmith bench compare A/results.json B/results.json` compares two runs.")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="folder for the results")
    p.add_argument("--quick", action="store_true",
                   help="2 images at 128², σ 25, one blur, one impulse level (< 10 min on 2 CPU cores)")
    p.add_argument("--suite", action="append", choices=(*SUITES, "all"), metavar="NAME",
                   help=f"suite(s) to run: {', '.join(SUITES)} or all (default: all; repeatable)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="only these restorers / generators")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: CUDA when available)")
    p.add_argument("--data", type=Path, default=None, metavar="PATH",
                   help="a folder of your own clean images instead of the bundled test split")
    p.add_argument("--blind", action="store_true",
                   help="give restorers the true σ / kernel only when they require it, not when they merely "
                        "accept it: blind models are judged blind (default: every advantage)")
    p.add_argument("--overwrite", action="store_true", help="replace bench results already in DIR")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    return p


def _compare(argv: list[str]) -> int:
    from .compare import compare_results, format_comparison, load_results

    p = argparse.ArgumentParser(prog="pixelsmith bench compare",
                                description="What got better or worse between two bench runs, and by how much.")
    p.add_argument("a", type=Path, help="baseline results.json (or its folder)")
    p.add_argument("b", type=Path, help="new results.json (or its folder)")
    p.add_argument("--fail-on-worse", action="store_true", help="exit with status 1 when any metric got worse")
    args = p.parse_args(argv)
    diff = compare_results(load_results(args.a), load_results(args.b))
    print(format_comparison(diff, str(args.a), str(args.b)))
    return 1 if args.fail_on_worse and diff["worse"] else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "compare":
            return _compare(argv[1:])
        args = build_parser().parse_args(argv)
        from .report import check_output_dir, write_report
        from .runner import BenchOptions, run_bench

        suites = SUITES if not args.suite or "all" in args.suite else tuple(dict.fromkeys(args.suite))
        check_output_dir(args.output, overwrite=args.overwrite)  # before the run, not after minutes of work
        options = BenchOptions(quick=args.quick, suites=suites, only=tuple(args.only) if args.only else None,
                               device=args.device, data=str(args.data) if args.data else None, quiet=args.quiet,
                               blind=args.blind)
        log = (lambda msg: None) if args.quiet else (lambda msg: print(msg, file=sys.stderr))
        t0 = time.perf_counter()
        result = run_bench(options, log=log)
        written = write_report(result, args.output, overwrite=args.overwrite)
        if not args.quiet:
            failed = sum(r["status"] == "failed" for r in result.records)
            print(f"bench finished in {time.perf_counter() - t0:.0f} s: {len(result.records)} records "
                  f"({failed} failed); open {written['index.html']}")
            for note in result.notes:
                print(f"note: {note}")
        return 0
    except PixelsmithError as exc:
        print(f"pixelsmith bench: error: {exc}", file=sys.stderr)
        return 2
