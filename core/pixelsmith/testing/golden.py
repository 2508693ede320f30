"""``python -m pixelsmith.testing.golden``: check or regenerate the golden outputs of shipped weights.

    python -m pixelsmith.testing.golden                   # check every component with shipped weights
    python -m pixelsmith.testing.golden --update NAME     # rewrite NAME's golden file (after new weights)
    python -m pixelsmith.testing.golden --update          # rewrite them all

Exit code 0 when everything matches (or was written), 1 when a check failed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ._checks import ConformanceError
from ._golden import UPDATE_COMMAND, check_golden, golden_components, write_golden

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pixelsmith.testing.golden",
                                     description="Check (default) or rewrite the golden outputs of components "
                                                 "with shipped weights.")
    parser.add_argument("names", nargs="*", metavar="NAME", help="components (default: all with shipped weights)")
    parser.add_argument("--update", action="store_true", help="rewrite the golden files instead of checking")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(min(torch.get_num_threads(), 4))
    if args.update:
        try:
            for path in write_golden(args.names or None):
                print(f"wrote {path}")
        except ConformanceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    targets = [(k, n) for k, n in golden_components() if not args.names or n in args.names]
    missing = sorted(set(args.names) - {n for _, n in targets})
    if missing:
        print(f"error: no component with shipped weights named {missing}", file=sys.stderr)
        return 2
    failed = 0
    for kind, name in targets:
        try:
            check_golden(name, kind=kind, on_case=lambda label, d: print(f"  {label}: max |Δ| {d:.2e}"))
            print(f"ok    {kind} {name}")
        except ConformanceError as exc:
            failed += 1
            print(f"FAIL  {kind} {name}: {exc}")
    if failed:
        print(f"{failed} component(s) changed; if intended: {UPDATE_COMMAND} NAME", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
