"""``pixelsmith plugins``: what is installed, and what failed to load."""

from __future__ import annotations

import argparse
import json

from .. import api


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plugins", help="list installed plugins, their components and load failures",
                       description="List the loaded plugins with their components, and the plugins "
                                   "that failed to load with the reason.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    data = api.list_plugins()
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    for plugin in data["plugins"]:
        print(f"{plugin['name']}  ({plugin['distribution']} {plugin['version']})")
        for comp in plugin["components"]:
            print(f"    {comp['kind']:<12} {comp['name']:<20} {comp.get('summary', '')}")
        if not plugin["components"]:
            print("    (no components)")
    if data["failures"]:
        print(f"\n{len(data['failures'])} plugin(s) failed to load:")
        for f in data["failures"]:
            print(f"    {f['name']} ({f['distribution']} {f['version']}) at {f['stage']}: {f['error']}")
    return 0
