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

from ..errors import InvalidInputError, PixelsmithError
from .tasks import DEFAULT_METRICS, SUITES, CustomTask, parse_task

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pixelsmith bench",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Benchmark every registered restorer and generator on fixed, seeded tasks; "
                    "write results.json/.csv/.md, index.html and plots.\n"
                    "`pixelsmith bench compare A/results.json B/results.json` compares two runs.\n\n"
                    "Third-party components: every registered restorer and generator runs with no flag; "
                    "a metric or a\ndegradation joins with --metric NAME and --task DEGRADATION[:k=v,...].",
        epilog="examples:\n"
               "  pixelsmith bench --quick -o out/\n"
               "  pixelsmith bench --quick --metric ms-ssim --metric my-metric -o out/\n"
               "  pixelsmith bench --quick --suite none --task my-blur:sigma=2,noise=0.01 --only wiener -o out/\n"
               "  pixelsmith bench --task gaussian-noise:sigma=0.1,channels=3 -o out/   (on colour images)")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="DIR", help="folder for the results")
    p.add_argument("--quick", action="store_true",
                   help="2 images at 128², σ 25, one blur, one impulse level (< 10 min on 2 CPU cores)")
    p.add_argument("--suite", action="append", choices=(*SUITES, "all", "none"), metavar="NAME",
                   help=f"suite(s) to run: {', '.join(SUITES)}, all, or none (only the --task tasks) "
                        "(default: all; repeatable)")
    p.add_argument("--metric", action="append", default=[], metavar="NAME",
                   help=f"add a registered full-reference metric, beside {' and '.join(DEFAULT_METRICS)}, to "
                        "every task that restores images (restoration, robustness, --task) (repeatable; "
                        "`pixelsmith plugins` lists the metrics)")
    p.add_argument("--task", action="append", default=[], metavar="DEGRADATION[:k=v,...]",
                   help="add a task from any registered degradation with these parameters, e.g. "
                        "gaussian-blur:sigma=2,noise=0.01; it runs every restorer made for the task its spec "
                        "poses, on the run's images (channels=3: the colour ones) (repeatable)")
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


def _suites(chosen: list[str] | None) -> tuple[str, ...]:
    if not chosen or "all" in chosen:
        return SUITES
    return tuple(s for s in dict.fromkeys(chosen) if s != "none")


def _metrics(extra: list[str]) -> tuple[str, ...]:
    """The default metrics plus each ``--metric``, checked now rather than after minutes of work."""
    from ..registry import get_registry
    from ..specs import normalize_name

    registry = get_registry()
    names = list(DEFAULT_METRICS)
    for name in extra:
        spec = registry.spec("metric", name)  # UnknownComponentError lists the metrics there are
        if spec.reference != "full-reference":
            raise InvalidInputError(
                f"--metric {name}: {spec.name!r} is a {spec.reference} metric; --metric adds full-reference "
                "metrics (one value per restored image against its clean original) to the restoration tasks, "
                "and the generation suite already runs every distributional and no-reference metric")
        key = normalize_name(spec.name)
        if key not in names:
            names.append(key)
    return tuple(names)


def _tasks(texts: list[str]) -> tuple[CustomTask, ...]:
    """Each ``--task`` resolved against the registry and built once, so a typo fails before the run."""
    from ..api import degradation
    from ..registry import get_registry
    from ..specs import normalize_name

    registry = get_registry()
    found = []
    for text in texts:
        name, params, channels = parse_task(text)
        spec = registry.spec("degradation", name)
        try:
            degradation(name, **params)
        except PixelsmithError as exc:
            raise InvalidInputError(f"--task {text}: {exc}") from exc
        found.append(CustomTask(degradation=normalize_name(spec.name), params=params, kind=spec.task,
                                channels=channels))
    return tuple(found)


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

        suites = _suites(args.suite)
        metrics = _metrics(args.metric)
        tasks = _tasks(args.task)
        if not suites and not tasks:
            raise InvalidInputError("--suite none runs only the --task tasks, and none was given; add "
                                    "--task DEGRADATION[:k=v,...] or choose a suite")
        check_output_dir(args.output, overwrite=args.overwrite)  # before the run, not after minutes of work
        options = BenchOptions(quick=args.quick, suites=suites, only=tuple(args.only) if args.only else None,
                               device=args.device, data=str(args.data) if args.data else None, quiet=args.quiet,
                               blind=args.blind, metrics=metrics, tasks=tasks)
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
