"""``pixelsmith info NAME [--json]``: one component's facts (see :mod:`pixelsmith.info`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..info import INFO_KINDS, component_info


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info", help="show one component's facts: inputs, weights, training, export, golden outputs",
        description="Show everything known about the component NAME: kind, summary, plugin, version and "
                    "licence; channels, tasks and parameters; size multiple and tiling defaults; weights "
                    "files with sha256 and the facts their trainer recorded (data, steps, validation); "
                    "export formats and graph inputs; golden-output file.",
        epilog="example: pixelsmith info unet-denoise --json")
    p.add_argument("name", help="component name, e.g. unet-denoise, dcgan, ssim, gaussian-noise")
    p.add_argument("--kind", choices=INFO_KINDS, help="the kind, when a name is used by two kinds")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(run=run)


def _fmt(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "none"
    if value is None:
        return "-"
    return str(value)


def run(args: argparse.Namespace) -> int:
    data = component_info(args.name, args.kind)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0
    plugin = data["plugin"]
    lines = [f"{data['name']}  ({data['kind']}, version {data['version']})", f"  {data['summary']}",
             f"  plugin       {plugin['name']} ({plugin['distribution']} {plugin['version']}), "
             f"licence {plugin['licence'] or 'not stated'}"]
    for key, label in (("tasks", "tasks"), ("channels", "channels"), ("requires", "requires"),
                       ("accepts", "accepts"), ("output_shape", "output"), ("conditional", "conditional"),
                       ("latent_dim", "latent dim"), ("higher_is_better", "higher better"),
                       ("reference", "reference"), ("task", "task"), ("params", "parameters")):
        if key in data:
            lines.append(f"  {label:<12} {_fmt(data[key])}")
    if data.get("size_multiple") is not None:
        lines.append(f"  multiple     {data['size_multiple']} (the network's size multiple; restore() pads, "
                     "any size is accepted)")
    if data.get("tiling"):
        lines.append(f"  tiling       tile {data['tiling']['tile']}, overlap {data['tiling']['overlap']}")
    for w in data.get("weights", []):
        ok = "" if not w["present"] else (", sha256 verified" if w.get("sha256_ok") else ", SHA256 MISMATCH")
        lines.append(f"  weights      {w['file']} sha256 {w['sha256']}{ok}"
                     + ("" if w["present"] else " (missing: not shipped)"))
    training = data.get("training")
    if training:
        lines.append(f"  training     {training.get('command') or 'no trainer'}")
        for key, value in training.items():
            if key not in ("command",) and value not in (None, {}):
                lines.append(f"    {key:<16} {json.dumps(value) if isinstance(value, (dict, list)) else value}")
    export = data.get("export")
    if export:
        lines.append(f"  export       {', '.join(export['formats'])} (ONNX opset {export['onnx_opset']}); "
                     f"graph inputs besides the image: {_fmt(export['inputs'])}")
        if export.get("reproduces"):
            lines.append(f"    reproduces       {export['reproduces']}")
        lines.append(f"    command          {export['command']}")
        if export.get("error"):
            lines.append(f"    graph error      {export['error']}")
        for note in export.get("notes") or ():
            lines.append(f"    note             {note}")
    elif data["kind"] in ("restorer", "generator"):
        lines.append("  export       not exportable (its plugin offers no export graph)")
    golden = data.get("golden")
    if golden:
        lines.append(f"  golden       {golden['file']}" + (f" ({len(golden['cases'])} cases)" if golden["present"]
                                                         else " (none; python -m pixelsmith.testing.golden --update)"))
    print("\n".join(lines))
    return 0
