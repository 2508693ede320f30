"""``check_export``: an exported graph, run by onnxruntime and by TorchScript, gives what the component gives."""

from __future__ import annotations

import contextlib
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from .. import api
from ..export import (FORMATS, ChannelsRequired, ExportGraph, export, export_graph, export_inputs, find_exportable,
                      load_torchscript, read_export_metadata, suffix_for)
from ..specs import ComponentSpec, RestorerSpec
from ._checks import ConformanceError
from ._inputs import degraded_photo, params_from_truth

__all__ = ["ExportCheck", "check_export", "export_feeds", "run_onnx"]

#: (channels, height, width) of the restorer inputs: sizes that are not multiples of anything.
_RESTORER_SHAPES = ((1, 37, 52), (3, 45, 61))


@dataclass(frozen=True)
class ExportCheck:
    """One comparison: a graph variant in one format on one input, against the component's own call."""

    component: str
    variant: str          #: the graph inputs, e.g. "image+sigma"
    format: str
    input_shape: tuple[int, ...]
    max_abs_diff: float   #: exported file vs the component's PyTorch call (``ExportGraph.reference``)
    vs_module: float      #: exported file vs the graph module run by PyTorch

    def __str__(self) -> str:
        return (f"{self.component} [{self.variant}] {self.format} {'×'.join(map(str, self.input_shape))}: "
                f"max |Δ| {self.max_abs_diff:.2e} (vs module {self.vs_module:.2e})")


def run_onnx(path: str | Path, feeds: dict[str, torch.Tensor], *, threads: int = 1) -> torch.Tensor:
    """Run an ONNX file with onnxruntime on the CPU; returns the first output as a tensor."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ConformanceError("onnxruntime is not installed; pip install onnxruntime "
                               "(it is in pixelsmith's dev extra)") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    out = session.run(None, {k: v.detach().cpu().numpy() for k, v in feeds.items()})[0]
    return torch.from_numpy(out)


def export_feeds(spec: ComponentSpec, graph: ExportGraph, component: Any) -> list[tuple[torch.Tensor, ...]]:
    """Inputs to compare on: degraded crops of real photographs (restorers), seeded latents (generators).

    Restorer batches hold two images: the first with its true parameters, the second with "unknown"
    (NaN σ, all-zero kernel) where the graph takes parameters, so per-image handling is checked too.
    """
    names = [i.name for i in graph.inputs]
    if spec.kind == "generator":
        n = 3  # not the example's batch size: the batch axis must really be dynamic
        z = component.latents(n, seed=1)
        feeds = [z]
        if "labels" in names:
            classes = max(1, int(getattr(component, "num_classes", 0) or 0))
            feeds.append((torch.arange(n, dtype=torch.int64) * 3 + 1) % classes)
        return [tuple(feeds)]
    assert isinstance(spec, RestorerSpec)
    fixed = graph.facts.get("channels")
    out = []
    for c, h, w in _RESTORER_SHAPES:
        if fixed and c not in fixed:
            continue
        _, first, _ = degraded_photo(spec, c, h, w, seed=0)
        _, second, _ = degraded_photo(spec, c, h, w, seed=1, shift=40)
        feeds = [torch.cat([first.image, second.image])]
        given = params_from_truth(spec, first.truth)
        for name in names[1:]:
            if name == "sigma":
                feeds.append(torch.tensor([float(given["sigma"]), math.nan]))
            elif name == "kernel":
                k = torch.as_tensor(given["kernel"], dtype=torch.float32)
                feeds.append(torch.stack([k, torch.zeros_like(k)]))
            else:
                raise ConformanceError(f"check_export does not know how to feed the graph input {name!r} "
                                       f"of {spec.name}; pass feeds=")
        out.append(tuple(feeds))
    return out


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        raise ConformanceError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float((a.float() - b.float()).abs().max())


def _check_file(spec: ComponentSpec, component: Any, path: Path, fmt: str, inputs: tuple[str, ...],
                channels: int | None, label: str, feeds: Callable[..., list[tuple[torch.Tensor, ...]]]
                ) -> list[ExportCheck]:
    """Export one variant to ``path``, read its metadata back, run it on ``feeds`` and compare."""
    written = export(spec.name, path, format=fmt, inputs=inputs, channels=channels, kind=spec.kind,
                     component=component)
    graph = written.graph
    meta = read_export_metadata(path)
    if meta.get("component") != spec.name:
        raise ConformanceError(f"metadata names {meta.get('component')!r}, not {spec.name!r}")
    if spec.weights is not None and spec.weights.sha256 not in {w["sha256"] for w in meta["weights"]}:
        raise ConformanceError("metadata does not carry the weights' sha256")
    loaded = load_torchscript(path) if fmt == "torchscript" else None
    out = []
    for batch in feeds(spec, graph, component):
        if loaded is None:
            got = run_onnx(path, {i.name: t for i, t in zip(graph.inputs, batch)})
        else:
            with torch.no_grad():
                got = loaded(*batch)
        with torch.no_grad():
            module_out = graph.module(*batch)
        ref = graph.reference(*batch) if graph.reference is not None else module_out
        out.append(ExportCheck(spec.name, label, fmt, tuple(batch[0].shape), _diff(got, ref), _diff(got, module_out)))
    return out


def check_export(name: str, *, kind: str | None = None, formats: Sequence[str] = FORMATS,
                 variants: Sequence[Sequence[str]] | None = None, atol: float = 1e-4,
                 feeds: Callable[[ComponentSpec, ExportGraph, Any], list[tuple[torch.Tensor, ...]]] | None = None,
                 directory: str | Path | None = None) -> list[ExportCheck]:
    """Export a component in every format and check each file against the component's own PyTorch call.

    ``variants``: the graph-input sets to export (default: the image alone, and every offered
    parameter together). Each file is run by onnxruntime (ONNX) or ``torch.jit.load`` (TorchScript)
    on :func:`export_feeds` (real photographs) and must equal the component's output within
    ``atol``; its embedded metadata must name the component and its weights. Raises
    :class:`ConformanceError` listing every failure; returns the comparisons (for reports).
    ``directory``: keep the files there (``NAME-image+PARAM.onnx``...) instead of a temporary folder.
    """
    spec = find_exportable(name, kind)
    component = (api.restorer if spec.kind == "restorer" else api.generator)(spec.name, device="cpu")
    offered = export_inputs(spec)
    variants = [tuple(v) for v in variants] if variants is not None else [()] + ([offered] if offered else [])
    results: list[ExportCheck] = []
    failures: list[str] = []
    # one graph for every channel count, unless the component needs one per count (separate networks)
    try:
        export_graph(spec.name, kind=spec.kind, component=component)
        channel_runs: list[int | None] = [None]
    except ChannelsRequired:
        channel_runs = list(getattr(spec, "channels", (1, 3)))
    with contextlib.ExitStack() as stack:
        tmp = Path(directory) if directory is not None else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        tmp.mkdir(parents=True, exist_ok=True)
        for inputs, channels, fmt in [(i, c, f) for i in variants for c in channel_runs for f in formats]:
            label = "+".join(("image" if spec.kind == "restorer" else "z", *inputs))
            suffix = "" if channels is None else f"-c{channels}"
            path = tmp / f"{spec.name}-{label}{suffix}{suffix_for(fmt)}"
            try:
                found = _check_file(spec, component, path, fmt, inputs, channels, label, feeds or export_feeds)
            except Exception as exc:  # noqa: BLE001  (collect every failure, report them together)
                failures.append(f"{spec.name} [{label}] {fmt}: {type(exc).__name__}: {exc}")
                continue
            results += found
            failures += [f"{c} exceeds {atol:g}" for c in found if not c.max_abs_diff <= atol]
    if failures:
        raise ConformanceError(f"{spec.name}: {len(failures)} export check(s) failed:\n  - " + "\n  - ".join(failures))
    return results
