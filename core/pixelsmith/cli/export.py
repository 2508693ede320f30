"""``pixelsmith export NAME --format onnx|torchscript -o FILE``: a restorer or generator as a deployable graph.

The file is checked before the command returns: the ONNX file is run by onnxruntime (when installed),
the TorchScript file by ``torch.jit.load``, on a degraded crop of a bundled photograph (restorers)
or seeded latents (generators), against the component's own PyTorch call.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import api
from ..errors import PluginError
from ..export import FORMATS, ONNX_OPSET, export, export_inputs, find_exportable, load_torchscript, suffix_for
from ._common import check_output_file, info

#: An export that differs from PyTorch by more than this is reported as a failure.
TOLERANCE = 1e-4


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a restorer or generator to ONNX or TorchScript, checked against PyTorch",
        description="Write the component NAME as an ONNX (opset %d) or TorchScript file with its facts "
                    "embedded (component, version, weights sha256, inputs, limits), then run the file on "
                    "a real photograph and compare with PyTorch. Batch and image size stay dynamic; "
                    "padding to the network's size multiple happens inside the graph. Restorers export "
                    "blind by default; --input adds a parameter (e.g. sigma, kernel) as a graph input. "
                    "See docs/deployment.md." % ONNX_OPSET,
        epilog="example: pixelsmith export unet-denoise --format onnx --input sigma -o unet-denoise.onnx")
    p.add_argument("name", help="restorer or generator name, e.g. unet-denoise, deblur, dcgan")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="file format (default onnx)")
    p.add_argument("-o", "--output", type=Path, help="file to write (default NAME.onnx or NAME.pt)")
    p.add_argument("--input", dest="inputs", action="append", default=[], metavar="PARAM",
                   help="make a restore() parameter a graph input (repeatable; see `pixelsmith info NAME`)")
    p.add_argument("--channels", type=int, choices=(1, 3), help="fix the image channels (default: what the "
                                                                  "network takes, 1 or 3 when it can)")
    p.add_argument("--opset", type=int, default=ONNX_OPSET, help=f"ONNX opset (default {ONNX_OPSET})")
    p.add_argument("--no-verify", action="store_true", help="skip running the written file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.add_argument("--json", action="store_true", help="print the embedded metadata and the check as JSON")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    spec = find_exportable(args.name)
    output = args.output or Path(f"{spec.name}{suffix_for(args.format)}")
    check_output_file(output, overwrite=args.overwrite, what="export")
    component = (api.restorer if spec.kind == "restorer" else api.generator)(spec.name, device="cpu")
    result = export(spec.name, output, format=args.format, inputs=args.inputs, channels=args.channels,
                    kind=spec.kind, opset=args.opset, component=component)
    check = None if args.no_verify else _verify(spec, result, component)
    size = output.stat().st_size / 1e6
    if args.json:
        print(json.dumps({"path": str(output), "bytes": output.stat().st_size, "metadata": result.metadata,
                          "check": check}, indent=2))
    else:
        opset = f" opset {args.opset}" if args.format == "onnx" else ""
        info(f"wrote {output} ({args.format}{opset}, {size:.1f} MB)", quiet=args.quiet)
        for i in result.metadata["inputs"]:
            info(f"  input  {i['name']:<8} {i['shape']} {i['dtype']}: {i['description']}", quiet=args.quiet)
        info(f"  output {result.graph.output:<8} same layout as the image, float32 in [0, 1]"
             if spec.kind == "restorer" else f"  output {result.graph.output:<8} B×C×H×W float32 in [0, 1]",
             quiet=args.quiet)
        for note in result.graph.notes:
            info(f"  note: {note}", quiet=args.quiet)
        if check is not None:
            info(f"  checked: {check['runtime']} on {check['input']}: max |Δ| {check['max_abs_diff']:.2e} "
                 f"vs PyTorch's {check['reference']}" if check["runtime"] else f"  not checked: {check['skipped']}",
                 quiet=args.quiet)
        offered = [p for p in export_inputs(spec) if p not in args.inputs]
        if offered and not args.quiet:
            info(f"  (also available as graph inputs: {', '.join(offered)}; pass --input)")
    if check is not None and check["runtime"] and not check["max_abs_diff"] <= TOLERANCE:
        raise PluginError(f"the exported {spec.name} differs from PyTorch by {check['max_abs_diff']:.3g} "
                          f"(more than {TOLERANCE:g}); the file is kept at {output} for inspection")
    return 0


def _verify(spec, result, component) -> dict:  # noqa: ANN001
    import torch

    from ..testing._export import export_feeds, run_onnx

    graph = result.graph
    batch = export_feeds(spec, graph, component)[-1]
    if result.format == "onnx":
        try:
            got = run_onnx(result.path, {i.name: t for i, t in zip(graph.inputs, batch)})
        except AssertionError as exc:  # onnxruntime missing
            return {"runtime": None, "skipped": str(exc)}
        runtime = "onnxruntime"
    else:
        with torch.no_grad():
            got = load_torchscript(result.path)(*batch)
        runtime = "torch.jit.load"
    ref = graph.reference(*batch) if graph.reference is not None else graph.module(*batch)
    what = "a degraded crop of a bundled test photograph" if spec.kind == "restorer" else "seeded latents"
    # the call the graph reproduces (e.g. deblur's graph is its method='network', not its default)
    reference = graph.facts.get("reproduces") or (f"{spec.name} restore()" if spec.kind == "restorer"
                                                  else f"{spec.name} decode()")
    return {"runtime": runtime, "input": f"{'×'.join(map(str, batch[0].shape))} ({what})",
            "reference": reference, "max_abs_diff": float((got.float() - ref.float()).abs().max())}
