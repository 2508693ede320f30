"""A component's facts in one place (``pixelsmith info NAME``): what it is, what it takes, where its
weights come from, how it was trained, and how it can be deployed.

Everything comes from the spec, the built component (size multiple, tiling defaults), the weights
files' safetensors metadata (the model card facts written by the trainers: data, steps, validation
scores), the plugin's distribution metadata (version, licence) and the export and golden kits.
"""

from __future__ import annotations

import importlib.metadata as md
import json
from typing import Any

from . import api
from .errors import UnknownComponentError
from .registry import get_registry
from .specs import ComponentSpec, spec_facts

__all__ = ["component_info", "find_component", "INFO_KINDS"]

#: Kinds looked up by ``pixelsmith info NAME``, in this order.
INFO_KINDS = ("restorer", "generator", "metric", "degradation")
#: Weights metadata that is about training (shown under "training"); the rest is listed as is.
_TRAINING_KEYS = ("data", "init", "steps", "step", "batch_size", "patch", "lr", "seed", "epochs", "augment", "r1",
                  "seconds_this_run", "threads", "exported_from", "ema_updates")


def find_component(name: str, kind: str | None = None) -> ComponentSpec:
    """The spec of ``name``, looked up in ``kind`` or in every kind; the error names near misses."""
    kinds = (kind,) if kind else INFO_KINDS
    found = []
    errors = []
    for k in kinds:
        try:
            found.append(api.spec(k, name))
        except UnknownComponentError as exc:
            errors.append(str(exc))
    if not found:
        raise UnknownComponentError(f"no component named {name!r}" + (f" ({errors[0]})" if kind else
                                    "; `pixelsmith plugins` lists them all"))
    if len(found) > 1:
        from .errors import InvalidInputError

        raise InvalidInputError(f"{name!r} is a {' and a '.join(s.kind for s in found)}; pass --kind")
    return found[0]


def _licence(distribution: str) -> str | None:
    try:
        meta = md.metadata(distribution)
    except md.PackageNotFoundError:
        return None
    text = meta.get("License-Expression") or meta.get("License")
    if not text:
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or []
                       if c.startswith("License ::")]
        text = ", ".join(classifiers) or None
    return text


def _parse(value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value


def _weights_facts(spec: ComponentSpec, component: Any) -> list[dict[str, Any]]:
    from .testing._golden import pinned_weights
    from .weights import read_metadata, sha256_of

    out = []
    for wf in pinned_weights(spec, component):
        entry: dict[str, Any] = {"file": wf.path.name, "path": str(wf.path), "sha256": wf.sha256,
                                 "present": wf.path.is_file()}
        if wf.path.is_file():
            entry["bytes"] = wf.path.stat().st_size
            entry["sha256_ok"] = sha256_of(wf.path) == wf.sha256
            entry["metadata"] = {k: _parse(v) for k, v in sorted(read_metadata(wf.path).items())}
        out.append(entry)
    return out


def _graph_facts(spec: ComponentSpec, component: Any) -> dict[str, Any]:
    """What ``pixelsmith export`` writes for this component: the command, whether it takes one file per
    channel count, what the graph reproduces and its notes (what it leaves out), from the graph with every
    offered input (needs the built component; without it, only the command)."""
    from . import export as export_mod

    offered = export_mod.export_inputs(spec)
    flags = "".join(f" --input {p}" for p in offered)
    facts: dict[str, Any] = {"per_channel_count": None, "reproduces": None, "notes": None,
                             "command": f"pixelsmith export {spec.name}{flags} -o {spec.name}.onnx"}
    if component is None:
        return facts
    try:
        try:
            graph = export_mod.export_graph(spec.name, kind=spec.kind, inputs=offered, component=component)
            facts["per_channel_count"] = False
        except export_mod.ChannelsRequired:
            graph = export_mod.export_graph(spec.name, kind=spec.kind, inputs=offered, channels=1,
                                            component=component)
            facts["per_channel_count"] = True
            facts["command"] = " && ".join(f"pixelsmith export {spec.name} --channels {c}{flags} -o {spec.name}-c{c}.onnx"
                                           for c in getattr(spec, "channels", (1, 3)))
    except Exception as exc:  # noqa: BLE001  (a plugin's broken export shows here, it does not hide the rest)
        facts["error"] = f"{type(exc).__name__}: {exc}"
        return facts
    facts["reproduces"] = graph.facts.get("reproduces") or (f"{spec.name} restore()" if spec.kind == "restorer"
                                                            else f"{spec.name} decode()")
    facts["notes"] = list(graph.notes)
    return facts


def component_info(name: str, kind: str | None = None, *, build: bool = True) -> dict[str, Any]:
    """Every fact about a component, as JSON-ready data (see :mod:`pixelsmith.info`)."""
    from . import export as export_mod
    from .testing._golden import golden_path

    spec = find_component(name, kind)
    registered = get_registry().get(spec.kind, spec.name)
    facts = spec_facts(spec)
    facts.pop("weights", None)
    out: dict[str, Any] = {
        "name": spec.name, "kind": spec.kind, "summary": spec.summary, "version": spec.version,
        "plugin": {"name": registered.plugin.name, "distribution": registered.plugin.distribution,
                   "version": registered.plugin.version, "licence": _licence(registered.plugin.distribution)},
    }
    for key in ("tasks", "channels", "requires", "accepts", "output_shape", "conditional", "higher_is_better",
                "data_range", "reference", "task", "params"):
        if key in facts:
            out[key] = facts[key]
    component = None
    if build and spec.kind != "degradation" and (spec.weights is None or spec.weights.path.is_file()):
        builder = {"restorer": api.restorer, "generator": api.generator}.get(spec.kind)
        component = builder(spec.name, device="cpu") if builder else api.metric(spec.name)
    if spec.kind == "restorer":
        multiple = getattr(component, "multiple", None)
        out["size_multiple"] = int(multiple) if multiple else (1 if component is not None else None)
        tile, overlap = getattr(component, "tile", None), getattr(component, "overlap", None)
        out["tiling"] = {"tile": tile, "overlap": overlap} if tile else None
    if spec.kind == "generator" and component is not None:
        out["latent_dim"] = int(getattr(component, "latent_dim", 0)) or None
    out["weights"] = _weights_facts(spec, component) if spec.weights is not None else []
    main = out["weights"][0].get("metadata", {}) if out["weights"] else {}
    if spec.train is not None or main:
        out["training"] = {
            "command": f"pixelsmith train {spec.name}" if spec.train is not None else None,
            **{k: main[k] for k in _TRAINING_KEYS if k in main},
            "model_config": main.get("model_config"),
            "validation": {k: v for k, v in main.items() if k.startswith("val_")} or None,
        }
    if spec.kind in ("restorer", "generator") and export_mod.exportable(spec):
        out["export"] = {"formats": list(export_mod.FORMATS), "onnx_opset": export_mod.ONNX_OPSET,
                         "inputs": list(export_mod.export_inputs(spec)),
                         **_graph_facts(spec, component)}
    else:
        out["export"] = None
    if spec.weights is not None:
        g = golden_path(spec.weights)
        cases = None
        if g.is_file():
            cases = [c["case"] for c in json.loads(g.read_text(encoding="utf-8"))["cases"]
                     if c["component"] == spec.name]
        out["golden"] = {"file": str(g), "present": g.is_file(), "cases": cases}
    return out
