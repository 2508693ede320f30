"""Export restorers and generators to ONNX and TorchScript, with their facts embedded.

>>> from pixelsmith.export import export
>>> export("unet-denoise", "unet-denoise.onnx", inputs=("sigma",))      # doctest: +SKIP

A component opts in by handing pixelsmith an :class:`ExportGraph`: an ``nn.Module`` made of tensor
operations only (the component's padding, conditioning and network, no Python decisions on
values), its named inputs with example tensors and the axes that may vary, and the PyTorch call
it reproduces (so the export can be checked against it, see :func:`pixelsmith.testing.check_export`).
Two ways to opt in:

- in the spec: ``RestorerSpec(..., export=Exporter(build, inputs=("sigma",)))``, where
  ``build(component, *, inputs, channels)`` returns the graph;
- as methods of the component class: ``export_inputs = ("kernel",)`` and
  ``export_graph(self, *, inputs=(), channels=None) -> ExportGraph``.

``inputs`` names the ``restore()`` parameters that become graph inputs (``()`` is the blind
graph); ``channels`` fixes the image channels (``None``: whatever the network takes). Generators
take ``z`` (and ``labels`` when class-conditional) and return images.

ONNX files are written by PyTorch's ``torch.export``-based exporter (opset :data:`ONNX_OPSET`),
batch and image size dynamic where the network allows; TorchScript files by ``torch.jit.script``
(networks that cannot be scripted are traced: they are shape-generic convolutions). Both carry
the same metadata (:func:`read_export_metadata`): component, plugin and version, the sha256 of
every weights file in the graph, inputs and limits.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch
from torch import nn

from .errors import InvalidInputError, PixelsmithError, UnknownComponentError
from .specs import ComponentSpec, WeightsFile

__all__ = [
    "FORMATS",
    "ONNX_OPSET",
    "METADATA_FORMAT",
    "ExportError",
    "ChannelsRequired",
    "GraphInput",
    "ExportGraph",
    "Exporter",
    "ExportResult",
    "export",
    "export_graph",
    "export_inputs",
    "exportable",
    "exportable_components",
    "find_exportable",
    "generator_graph",
    "read_export_metadata",
    "suffix_for",
    "load_torchscript",
]

#: The formats :func:`export` writes.
FORMATS = ("onnx", "torchscript")
#: The ONNX opset the files are written with (DFT for the deblurring Wiener filter needs ≥ 17).
ONNX_OPSET = 18
#: The ``format`` entry of the embedded metadata.
METADATA_FORMAT = "pixelsmith-export-1"
#: Name of the metadata entry: an ONNX ``metadata_props`` key, a TorchScript extra file.
_METADATA_KEY = "pixelsmith.json"
_SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
_EXPORT_KINDS = ("restorer", "generator")


class ExportError(PixelsmithError):
    """Writing an export failed (the exporter's own error is attached), or a dependency is missing."""


class ChannelsRequired(InvalidInputError):
    """The component's graph depends on the channel count (e.g. separate gray and colour networks):
    export it once per count, with ``channels=1`` and ``channels=3``."""


@dataclass(frozen=True)
class GraphInput:
    """One named graph input: an example tensor, and which of its axes may vary (axis → axis name).

    Inputs that share an axis name (``batch``) must agree on its size at run time.
    """

    name: str
    example: torch.Tensor
    axes: Mapping[int, str] = field(default_factory=dict)
    description: str = ""

    def layout(self) -> list[Any]:
        """The shape with dynamic axes named, e.g. ``["batch", 1, "height", "width"]``."""
        return [self.axes.get(i, int(s)) for i, s in enumerate(self.example.shape)]


@dataclass(frozen=True)
class ExportGraph:
    """What a component hands the exporter.

    ``module(*examples)`` must give the same as ``reference(*examples)``, the component's own
    PyTorch call (e.g. ``restorer.restore`` with the parameters the inputs carry). ``bounds``
    gives (min, max) sizes of named axes (max ``None``: unbounded). ``facts`` are JSON-ready
    (``size_multiple``, ``min_size``, ``channels``...) and ``notes`` say in words what the graph
    does not do that the component does (tiling, estimation steps left out).
    """

    module: nn.Module
    inputs: tuple[GraphInput, ...]
    reference: Callable[..., torch.Tensor] | None = None
    output: str = "output"
    output_axes: Mapping[int, str] = field(default_factory=dict)
    bounds: Mapping[str, tuple[int, int | None]] = field(default_factory=dict)
    weights: tuple[WeightsFile, ...] = ()
    facts: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def examples(self) -> tuple[torch.Tensor, ...]:
        return tuple(i.example for i in self.inputs)


@dataclass(frozen=True)
class Exporter:
    """A spec's opt-in to export: ``build(component, *, inputs, channels) -> ExportGraph``.

    ``inputs`` lists the ``restore()`` parameters the graph can take as inputs (``("sigma",)``).
    """

    build: Callable[..., ExportGraph]
    inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExportResult:
    """A written export: where, which format, and the metadata embedded in it."""

    path: Path
    format: str
    metadata: dict[str, Any]
    graph: ExportGraph


# -- who can be exported ------------------------------------------------------------------------------
def exportable(spec: ComponentSpec) -> bool:
    """Whether a component opts in to export (through its spec or its class), without building it."""
    if getattr(spec, "export", None) is not None:
        return True
    return callable(getattr(spec.factory, "export_graph", None))


def export_inputs(spec: ComponentSpec) -> tuple[str, ...]:
    """The parameters that can become graph inputs (besides the image), without building the component."""
    exporter = getattr(spec, "export", None)
    if exporter is not None:
        return tuple(exporter.inputs)
    return tuple(getattr(spec.factory, "export_inputs", ()))


def exportable_components() -> list[tuple[str, str]]:
    """``(kind, name)`` of every registered component that can be exported (and built: its weights file,
    if it names one, is there)."""
    from . import api

    out = []
    for kind in _EXPORT_KINDS:
        for name in api.list_components(kind):
            spec = api.spec(kind, name)
            if exportable(spec) and (spec.weights is None or spec.weights.path.is_file()):
                out.append((kind, name))
    return out


def find_exportable(name: str, kind: str | None = None) -> ComponentSpec:
    """The spec of an exportable restorer or generator; the error lists what can be exported instead."""
    from . import api

    kinds = (kind,) if kind else _EXPORT_KINDS
    found = []
    for k in kinds:
        try:
            found.append(api.spec(k, name))
        except UnknownComponentError:
            continue
    choices = ", ".join(n for _, n in exportable_components()) or "none"
    if not found:
        raise UnknownComponentError(f"no {' or '.join(kinds)} named {name!r}; exportable components: {choices}")
    if len(found) > 1:
        raise InvalidInputError(f"{name!r} is both a restorer and a generator; pass kind=")
    spec = found[0]
    if not exportable(spec):
        raise InvalidInputError(
            f"{spec.kind} {spec.name!r} cannot be exported: its plugin offers no export graph "
            f"(it is not a fixed network of tensor operations); exportable components: {choices}")
    return spec


def export_graph(name: str, *, inputs: Sequence[str] = (), channels: int | None = None,
                 kind: str | None = None, component: Any = None) -> ExportGraph:
    """The graph of a component (built on the CPU unless ``component`` is given), with ``inputs`` as inputs."""
    from . import api

    spec = find_exportable(name, kind)
    inputs = tuple(dict.fromkeys(inputs))
    offered = export_inputs(spec)
    unknown = [p for p in inputs if p not in offered]
    if unknown:
        raise InvalidInputError(f"{spec.name} cannot take {unknown} as graph inputs; it offers "
                                f"{list(offered) or 'none besides the image'}")
    if channels is not None and channels not in (1, 3):
        raise InvalidInputError(f"channels must be 1 or 3, got {channels!r}")
    if component is None:
        component = (api.restorer if spec.kind == "restorer" else api.generator)(spec.name, device="cpu")
    exporter = getattr(spec, "export", None)
    graph = (exporter.build(component, inputs=inputs, channels=channels) if exporter is not None
             else component.export_graph(inputs=inputs, channels=channels))
    if not isinstance(graph, ExportGraph):
        raise ExportError(f"{spec.name}'s export returned {type(graph).__name__}, expected an ExportGraph")
    if not graph.weights and spec.weights is not None:
        graph = _replace(graph, weights=(spec.weights,))
    return graph


def _replace(graph: ExportGraph, **changes: Any) -> ExportGraph:
    import dataclasses

    return dataclasses.replace(graph, **changes)


# -- writing -------------------------------------------------------------------------------------------
def suffix_for(fmt: str) -> str:
    """The usual file suffix of a format: ``.onnx`` or ``.pt``."""
    _check_format(fmt)
    return _SUFFIXES[fmt]


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise InvalidInputError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def export(name: str, path: str | Path, *, format: str = "onnx", inputs: Sequence[str] = (),
           channels: int | None = None, kind: str | None = None, opset: int = ONNX_OPSET,
           component: Any = None) -> ExportResult:
    """Export a restorer or generator to ``path`` as ONNX or TorchScript; returns what was written.

    ``inputs``: ``restore()`` parameters that become graph inputs (e.g. ``("sigma",)``);
    ``channels``: fix the image channels (default: what the network takes).
    """
    _check_format(format)
    if format == "onnx" and opset < 17:
        raise InvalidInputError(f"opset must be at least 17 (DFT, reflect padding), got {opset}")
    spec = find_exportable(name, kind)
    graph = export_graph(spec.name, inputs=inputs, channels=channels, kind=spec.kind, component=component)
    metadata = _metadata(spec, graph, format, opset)
    path = Path(path)
    if format == "onnx":
        data = _onnx_bytes(graph, opset, metadata)
    else:
        data = _torchscript_bytes(graph, metadata)
    from .weights import atomic_write_bytes

    atomic_write_bytes(path, data)
    return ExportResult(path, format, metadata, graph)


def _metadata(spec: ComponentSpec, graph: ExportGraph, fmt: str, opset: int) -> dict[str, Any]:
    from ._version import __version__
    from .registry import get_registry

    plugin = get_registry().get(spec.kind, spec.name).plugin
    meta: dict[str, Any] = {
        "format": METADATA_FORMAT,
        "component": spec.name,
        "kind": spec.kind,
        "version": spec.version,
        "plugin": plugin.distribution,
        "plugin_version": plugin.version,
        "pixelsmith_version": __version__,
        "torch_version": torch.__version__.split("+")[0],
        "export_format": fmt,
        "weights": [{"file": w.path.name, "sha256": w.sha256} for w in graph.weights],
        "inputs": [{"name": i.name, "shape": i.layout(), "dtype": str(i.example.dtype).replace("torch.", ""),
                    "description": i.description} for i in graph.inputs],
        "output": {"name": graph.output, "description": "B×C×H×W float32 in [0, 1]"},
        "bounds": {k: list(v) for k, v in graph.bounds.items()},
        **{k: v for k, v in graph.facts.items()},
        "notes": list(graph.notes),
    }
    if fmt == "onnx":
        meta["opset"] = opset
    return meta


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporters report progress and harmless warnings (no torchvision, deprecations): keep them quiet."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx",
                                               "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _onnx_bytes(graph: ExportGraph, opset: int, metadata: Mapping[str, Any]) -> bytes:
    try:
        import onnx
        import onnxscript  # noqa: F401  (the torch.export-based exporter needs it)
    except ImportError as exc:
        raise ExportError(f"ONNX export needs the onnx and onnxscript packages ({exc}); "
                          "pip install 'pixelsmith[export]'") from exc
    dims = {name: torch.export.Dim(name, min=lo) if hi is None else torch.export.Dim(name, min=lo, max=hi)
            for name, (lo, hi) in _all_bounds(graph).items()}
    dynamic_shapes = tuple({axis: dims[axis_name] for axis, axis_name in i.axes.items()} or None
                           for i in graph.inputs)
    module = graph.module.eval()
    try:
        with _quiet(), torch.no_grad():
            program = torch.onnx.export(
                module, graph.examples(), dynamo=True, opset_version=opset, external_data=False,
                input_names=[i.name for i in graph.inputs], output_names=[graph.output],
                dynamic_shapes=dynamic_shapes, optimize=True, verbose=False)
    except Exception as exc:  # noqa: BLE001  (the exporter raises many types; say which component)
        raise ExportError(f"ONNX export of {metadata['component']} failed: {type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from exc
    model = program.model_proto
    _set_output_axes(model, graph)
    model.doc_string = f"pixelsmith {metadata['kind']} {metadata['component']} {metadata['version']}"
    props = {
        _METADATA_KEY: json.dumps(metadata, sort_keys=True),
        "component": str(metadata["component"]),
        "version": str(metadata["version"]),
        "weights_sha256": ",".join(w["sha256"] for w in metadata["weights"]),
    }
    del model.metadata_props[:]
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _all_bounds(graph: ExportGraph) -> dict[str, tuple[int, int | None]]:
    names = {a for i in graph.inputs for a in i.axes.values()}
    defaults = {"batch": (1, None), "channels": (1, 3)}
    return {n: tuple(graph.bounds.get(n, defaults.get(n, (1, None)))) for n in sorted(names)}


def _set_output_axes(model: Any, graph: ExportGraph) -> None:
    """Name the output's dynamic axes as the inputs name theirs (the exporter leaves expressions)."""
    if not graph.output_axes:
        return
    dims = model.graph.output[0].type.tensor_type.shape.dim
    for axis, name in graph.output_axes.items():
        if axis < len(dims) and not dims[axis].HasField("dim_value"):
            dims[axis].dim_param = name


def _torchscript_bytes(graph: ExportGraph, metadata: Mapping[str, Any]) -> bytes:
    try:
        with _quiet():
            scripted = _script(graph)
    except Exception as exc:  # noqa: BLE001
        raise ExportError(f"TorchScript export of {metadata['component']} failed: {type(exc).__name__}: "
                          f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from exc
    buffer = io.BytesIO()
    with _quiet():  # PyTorch marks TorchScript deprecated; the format still serves C++ and mobile runtimes
        torch.jit.save(scripted, buffer, _extra_files={_METADATA_KEY: json.dumps(metadata, sort_keys=True)})
    return buffer.getvalue()


def _script(graph: ExportGraph) -> torch.jit.ScriptModule:
    """``torch.jit.script`` the graph, its children first: a child that cannot be scripted is traced on the
    inputs it sees when the graph runs its examples (networks: convolutions whose code does not depend on
    sizes; the graph's own size arithmetic stays scripted, so sizes remain dynamic)."""
    module = graph.module.eval()
    children = dict(module.named_children())
    if not children:
        return torch.jit.script(module)
    seen: dict[str, tuple[Any, ...]] = {}
    hooks = [child.register_forward_pre_hook(lambda m, args, name=name: seen.setdefault(name, args))
             for name, child in children.items()]
    try:
        with torch.no_grad():
            module(*graph.examples())
    finally:
        for h in hooks:
            h.remove()
    clone = copy.copy(module)
    clone._modules = dict(module._modules)
    for name, child in children.items():
        try:
            clone._modules[name] = torch.jit.script(child)
        except Exception:  # noqa: BLE001  (TorchScript raises a variety of frontend errors)
            if name not in seen:
                raise
            with torch.no_grad():
                clone._modules[name] = torch.jit.trace(child, seen[name], check_trace=False)
    return torch.jit.script(clone)


# -- reading -------------------------------------------------------------------------------------------
def load_torchscript(path: str | Path) -> torch.jit.ScriptModule:
    """Load an exported TorchScript file on the CPU (without PyTorch's deprecation warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu")


def read_export_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata pixelsmith embedded in an exported ONNX or TorchScript file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist")
    if zipfile.is_zipfile(path):  # TorchScript archives are zip files; read the extra file without loading code
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith(f"/extra/{_METADATA_KEY}")]
            if not names:
                raise InvalidInputError(f"{path} is a TorchScript file without pixelsmith metadata")
            return json.loads(zf.read(names[0]))
    try:
        import onnx
    except ImportError as exc:
        raise ExportError("reading ONNX metadata needs the onnx package; pip install 'pixelsmith[export]'") from exc
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001  (protobuf decode errors)
        raise InvalidInputError(f"{path} is neither a TorchScript nor an ONNX file ({exc})") from exc
    props = {p.key: p.value for p in model.metadata_props}
    if _METADATA_KEY not in props:
        raise InvalidInputError(f"{path} is an ONNX file without pixelsmith metadata")
    return json.loads(props[_METADATA_KEY])


# -- the common generator graph -----------------------------------------------------------------------
class _GeneratorGraph(nn.Module):
    """``z`` (B×latent) → images in [0, 1], as ``Generator.decode`` returns."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).float().clamp(0, 1)


class _ConditionalGeneratorGraph(_GeneratorGraph):
    """``z`` (B×latent) and ``labels`` (B,) int64 → images in [0, 1]."""

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.net(z, labels).float().clamp(0, 1)


def generator_graph(component: Any, net: nn.Module, *, inputs: Sequence[str] = (),
                    channels: int | None = None) -> ExportGraph:
    """The graph of a generator whose network maps ``z`` (and ``labels`` when conditional) to images.

    For :class:`pixelsmith.Generator` subclasses whose ``_decode`` is ``net(z)`` or ``net(z, labels)``
    (the GAN plugins); the reference is ``component.decode``.
    """
    if inputs:
        raise InvalidInputError(f"a generator takes no parameters as graph inputs, got {list(inputs)}")
    c, h, w = component.output_shape
    if channels is not None and channels != c:
        raise InvalidInputError(f"{component.spec.name if component.spec else 'this generator'} makes "
                                f"{c}-channel images, not {channels}")
    conditional = bool(component.conditional)
    net = copy.deepcopy(net).cpu().eval().requires_grad_(False)
    z = component.latents(2, seed=0)
    ins = [GraphInput("z", z, {0: "batch"}, f"B×{component.latent_dim} latent vectors, N(0, 1)")]
    if conditional:
        classes = int(getattr(component, "num_classes", 0) or 0)
        ins.append(GraphInput("labels", torch.arange(2, dtype=torch.int64) % max(classes, 1), {0: "batch"},
                              f"B class labels, int64 in 0..{classes - 1}"))

    def reference(z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return component.decode(z, labels=labels)

    return ExportGraph(
        module=(_ConditionalGeneratorGraph if conditional else _GeneratorGraph)(net), inputs=tuple(ins), reference=reference, output="image",
        output_axes={0: "batch"},
        facts={"output_shape": [c, h, w], "latent_dim": int(component.latent_dim), "conditional": conditional},
        notes=("latents are inputs: draw them with Generator.latents(n, seed) to match pixelsmith's samples",),
    )
