"""Golden outputs: what a component with shipped weights gives for a tiny fixed input, pinned in a file.

Each weights file ``NAME.safetensors`` may have ``NAME.golden.json`` beside it, recording for every
registered component that loads that file: the sha256 of the weights it holds (the spec's, and any
other :class:`~pixelsmith.WeightsFile` the component class names, such as a kernel estimator or a
colour network), a few fixed inputs (stored, so the check does not depend on degradation code) and
the exact outputs. :func:`check_golden` rebuilds the component, reruns the inputs and fails when the
weights or the outputs differ: any change in code or weights that changes what users get.

Inputs per kind: restorers get crops of the bundled test photographs (gray and RGB, as the spec
allows) degraded by their task's degradation with a fixed seed, restored blind and with the true
parameters (``sigma``, ``kernel``) they take; generators decode 4 seeded latents (classes 0–3 when
conditional); metrics compare two sets of 16 MNIST digits.

A component class whose default path does not run every weights file it ships (``deblur``'s default
plug-and-play method never calls its own U-Net) names the other paths in ``golden_variants``
(label -> constructor options, e.g. ``{"network": {"method": "network"}}``): the same cases are
recorded again for a component built with those options, labelled ``LABEL-CASE``.

Regenerate after a deliberate change (new weights, a fix): ``python -m pixelsmith.testing.golden
--update NAME`` (or ``--update`` for every component).
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from .. import api
from ..errors import PixelsmithError
from ..specs import ComponentSpec, WeightsFile
from ..weights import atomic_write_bytes, sha256_of
from ._checks import ConformanceError
from ._inputs import degraded_photo, params_from_truth

__all__ = ["GOLDEN_FORMAT", "UPDATE_COMMAND", "DEFAULT_ATOL", "golden_path", "golden_components",
           "golden_weights_files", "golden_variants", "golden_atol", "check_golden", "write_golden", "make_golden",
           "pinned_weights"]

GOLDEN_FORMAT = "pixelsmith-golden-1"
#: The command that regenerates golden files (``NAME`` optional).
UPDATE_COMMAND = "python -m pixelsmith.testing.golden --update"
#: Outputs are in [0, 1] (restorers, generators); metric values are compared relatively.
DEFAULT_ATOL = 1e-4
_RESTORER_SIZE = (32, 24)   # small, and not a multiple of the U-Nets' 16: padding is exercised
_GENERATOR_SAMPLES = 4
_METRIC_SET = 16
_KINDS = ("restorer", "generator", "metric")


def golden_path(weights: WeightsFile | str | Path) -> Path:
    """``NAME.golden.json`` beside the weights file ``NAME.safetensors``."""
    path = weights.path if isinstance(weights, WeightsFile) else Path(weights)
    return path.with_name(path.name.split(".")[0] + ".golden.json")


def _component(kind: str, name: str, options: dict[str, Any] | None = None) -> Any:
    build = {"restorer": api.restorer, "generator": api.generator}.get(kind)
    return build(name, device="cpu", **(options or {})) if build else api.metric(name, **(options or {}))


def golden_atol(spec: ComponentSpec) -> float:
    """The tolerance a component's golden outputs are written with: the class attribute ``golden_atol``, for
    outputs that go through long iterative float work (``deblur``'s plug-and-play: 8 iterations of a U-Net
    over 4 views, conjugate gradients between) and so differ across CPUs by more than :data:`DEFAULT_ATOL`;
    else :data:`DEFAULT_ATOL`."""
    atol = getattr(spec.factory, "golden_atol", None)
    return DEFAULT_ATOL if atol is None else float(atol)


def golden_variants(spec: ComponentSpec) -> dict[str, dict[str, Any]]:
    """Label -> constructor options of the component's other paths that golden outputs also pin (the
    class attribute ``golden_variants``; ``{}`` for most components)."""
    variants = getattr(spec.factory, "golden_variants", None) or {}
    return {str(label): dict(options) for label, options in variants.items()}


def pinned_weights(spec: ComponentSpec, component: Any = None) -> list[WeightsFile]:
    """The weights files a component holds: its spec's, then every other :class:`WeightsFile` its class
    or instance names (e.g. a kernel estimator, a colour network), as the instance resolves the names."""
    found: dict[Path, WeightsFile] = {}
    if spec.weights is not None:
        found[spec.weights.path] = spec.weights
    owner = component if component is not None else spec.factory
    cls = type(owner) if component is not None else owner
    names = {k for c in getattr(cls, "__mro__", ()) for k, v in vars(c).items() if isinstance(v, WeightsFile)}
    names |= {k for k, v in getattr(owner, "__dict__", {}).items() if isinstance(v, WeightsFile)}
    for attr in sorted(names):
        value = getattr(owner, attr, None)
        if isinstance(value, WeightsFile) and value.path not in found:
            found[value.path] = value
    return list(found.values())


def golden_components() -> list[tuple[str, str]]:
    """``(kind, name)`` of registered restorers, generators and metrics with a weights file that exists."""
    out = []
    for kind in _KINDS:
        for name in api.list_components(kind):
            spec = api.spec(kind, name)
            if spec.weights is not None and spec.weights.path.is_file():
                out.append((kind, name))
    return out


def golden_weights_files() -> dict[Path, list[tuple[str, str]]]:
    """Each weights file with golden outputs -> the components that load it."""
    files: dict[Path, list[tuple[str, str]]] = {}
    for kind, name in golden_components():
        files.setdefault(api.spec(kind, name).weights.path, []).append((kind, name))
    return files


# -- tensors in JSON -----------------------------------------------------------------------------------
def _encode(t: torch.Tensor) -> dict[str, Any]:
    """A tensor as JSON: shape, dtype, summary statistics and little-endian bytes in base64.

    Float tensors holding 8-bit values (``k / 255``, e.g. digits) are stored as ``uint8/255`` when
    that decodes to the very same float32 values: a quarter of the size.
    """
    t = t.detach().cpu().contiguous()
    arr = t.numpy()
    stats: dict[str, float] = {}
    if t.dtype == torch.float32:
        if arr.size:
            stats = {"mean": float(arr.mean()), "std": float(arr.std()), "min": float(arr.min()),
                     "max": float(arr.max())}
        dtype = "float32"
        as_u8 = np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
        if arr.size and np.array_equal(torch.from_numpy(as_u8).float().div(255).numpy(), arr):
            arr, dtype = as_u8, "uint8/255"
    elif t.dtype == torch.int64:
        dtype = "int64"
    else:
        raise PixelsmithError(f"golden files store float32 or int64 tensors, got {t.dtype}")
    raw = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
    return {"shape": list(t.shape), "dtype": dtype, **({"stats": stats} if stats else {}),
            "data": base64.b64encode(raw).decode("ascii")}


def _decode(d: dict[str, Any]) -> torch.Tensor:
    if d["dtype"] == "uint8/255":
        arr = np.frombuffer(base64.b64decode(d["data"]), dtype=np.uint8).reshape(d["shape"])
        return torch.from_numpy(arr.copy()).float().div(255)
    arr = np.frombuffer(base64.b64decode(d["data"]), dtype=np.dtype(d["dtype"]).newbyteorder("<"))
    return torch.from_numpy(arr.astype(d["dtype"]).reshape(d["shape"]).copy())


def _tensor_id(t: torch.Tensor) -> str:
    import hashlib

    t = t.detach().cpu().contiguous()
    return hashlib.sha256(str((tuple(t.shape), t.dtype)).encode() + t.numpy().tobytes()).hexdigest()[:16]


def _encode_value(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return {"tensor": _encode(v.float() if v.is_floating_point() else v)}
    if isinstance(v, (list, tuple)) and v and isinstance(v[0], torch.Tensor):
        return [_encode_value(x) for x in v]
    return float(v) if isinstance(v, (float, np.floating)) else v


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict) and "tensor" in v:
        return _decode(v["tensor"])
    if isinstance(v, list):
        return [_decode_value(x) for x in v]
    return v


# -- cases ---------------------------------------------------------------------------------------------
@dataclass
class _Case:
    component: str
    kind: str
    case: str
    call: str                   # what is run, in words
    inputs: dict[str, Any]      # name -> tensor or JSON value
    source: str                 # where the inputs come from
    clean: torch.Tensor | None = None
    options: dict[str, Any] = field(default_factory=dict)  # constructor options (a golden variant)

    def run(self, component: Any) -> torch.Tensor:
        args = {k: _decode_value(v) if not isinstance(v, torch.Tensor) else v for k, v in self.inputs.items()}
        if self.kind == "restorer":
            x = args.pop("x")
            return component.restore(x, **args)
        if self.kind == "generator":
            return component.decode(args["z"], labels=args.get("labels"))
        if "target" in args:
            return component(args["pred"], args["target"])
        return component(args["pred"])


def _restorer_cases(spec: Any) -> list[_Case]:
    cases = []
    h, w = _RESTORER_SIZE
    for c in spec.channels:
        clean, degraded, source = degraded_photo(spec, c, h, w, seed=0)
        colour = "gray" if c == 1 else "rgb"
        given = params_from_truth(spec, degraded.truth)
        if not spec.requires:
            cases.append(_Case(spec.name, "restorer", f"{colour}-blind", "restore(x)", {"x": degraded.image},
                               source, clean))
        if given and all(p in given for p in spec.requires):
            call = "restore(x, " + ", ".join(f"{k}=..." for k in given) + ")"
            cases.append(_Case(spec.name, "restorer", f"{colour}-given", call,
                               {"x": degraded.image, **{k: _encode_value(torch.as_tensor(v) if k == "kernel" else v)
                                                        for k, v in given.items()}}, source, clean))
    return cases


def _generator_cases(spec: Any, component: Any) -> list[_Case]:
    z = component.latents(_GENERATOR_SAMPLES, seed=0)
    inputs: dict[str, Any] = {"z": z}
    call = "decode(z)"
    if component.conditional:
        inputs["labels"] = _encode_value(torch.arange(_GENERATOR_SAMPLES, dtype=torch.int64)
                                         % max(1, int(getattr(component, "num_classes", 10) or 10)))
        call = "decode(z, labels=labels)"
    return [_Case(spec.name, "generator", "latents-seed-0", call, inputs, f"latents({_GENERATOR_SAMPLES}, seed=0)")]


def _metric_cases(spec: Any) -> list[_Case]:
    from ..data import load_mnist

    images, _ = load_mnist()
    pick = torch.arange(2 * _METRIC_SET) * (images.shape[0] // (2 * _METRIC_SET))  # every class, in order
    images = images[pick]
    pred, target = images[0::2].contiguous(), images[1::2].contiguous()
    inputs = {"pred": pred} if spec.reference == "no-reference" else {"pred": pred, "target": target}
    call = "metric(pred)" if spec.reference == "no-reference" else "metric(pred, target)"
    return [_Case(spec.name, "metric", "mnist-16", call, inputs, f"load_mnist(): {2 * _METRIC_SET} digits evenly spread over the "
                  "set, alternately pred and target")]


def _cases(spec: ComponentSpec, component: Any, variant: str | None = None,
           options: dict[str, Any] | None = None) -> list[_Case]:
    if spec.kind == "restorer":
        cases = _restorer_cases(spec)
    elif spec.kind == "generator":
        cases = _generator_cases(spec, component)
    else:
        cases = _metric_cases(spec)
    if variant is not None:
        built = f"{spec.name}({', '.join(f'{k}={v!r}' for k, v in (options or {}).items())})"
        for case in cases:
            case.case, case.call, case.options = f"{variant}-{case.case}", f"{built}.{case.call}", dict(options or {})
    return cases


def _case_record(case: _Case, out: torch.Tensor, table: dict[str, Any]) -> dict[str, Any]:
    """The JSON record of a case; its input tensors go to the file's shared ``table`` (by content)."""
    inputs = {}
    for k, v in case.inputs.items():
        if isinstance(v, torch.Tensor):
            key = _tensor_id(v)
            table.setdefault(key, _encode(v))
            inputs[k] = {"input": key}
        else:
            inputs[k] = v
    rec: dict[str, Any] = {
        "component": case.component, "kind": case.kind, "case": case.case, "call": case.call,
        "source": case.source, "inputs": inputs, "expected": _encode(out.float()),
    }
    if case.options:
        rec["options"] = case.options
    if case.clean is not None and out.shape == case.clean.shape:
        mse = float(((out.float() - case.clean) ** 2).mean())
        rec["psnr_vs_clean_db"] = round(10 * math.log10(1 / mse), 3) if mse > 0 else None
    return rec


def _record_case(rec: dict[str, Any], table: dict[str, Any]) -> _Case:
    inputs = {k: _decode(table[v["input"]]) if isinstance(v, dict) and "input" in v else v
              for k, v in rec["inputs"].items()}
    return _Case(rec["component"], rec["kind"], rec["case"], rec["call"], inputs, rec["source"],
                 options=dict(rec.get("options", {})))


# -- writing and checking ------------------------------------------------------------------------------
def make_golden(weights_path: Path, components: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The golden record of one weights file for the components that load it (runs them)."""
    from .. import __version__
    from ..registry import get_registry

    records, pins, made_by, table, atol = [], {}, {}, {}, DEFAULT_ATOL
    for kind, name in components:
        spec = api.spec(kind, name)
        atol = max(atol, golden_atol(spec))  # one tolerance per file: the loosest its components need
        component = _component(kind, name)
        for wf in pinned_weights(spec, component):
            if wf.path.is_file():
                pins[wf.path.name] = sha256_of(wf.path)
        plugin = get_registry().get(kind, name).plugin
        made_by[plugin.distribution] = plugin.version
        runs = [(None, {}, component)] + [(label, options, _component(kind, name, options))
                                          for label, options in golden_variants(spec).items()]
        with torch.no_grad():
            for label, options, built in runs:
                for case in _cases(spec, built, label, options):
                    records.append(_case_record(case, case.run(built), table))
    return {
        "format": GOLDEN_FORMAT,
        "weights": {"file": weights_path.name, "sha256": sha256_of(weights_path)},
        "pins": pins,
        "atol": atol,
        "update": f"{UPDATE_COMMAND} {' '.join(n for _, n in components)}",
        "made_with": {"pixelsmith": __version__, "torch": torch.__version__.split("+")[0], **made_by},
        "cases": records,
        "inputs": table,
    }


def write_golden(names: Iterable[str] | None = None, *, directory: Path | None = None) -> list[Path]:
    """(Re)write the golden files of the weights files the named components load (all when None).

    Every component sharing a weights file is rerun, so a file never mixes old and new outputs.
    ``directory`` writes there instead of beside the weights (for a look before replacing).
    """
    files = golden_weights_files()
    if names is not None:
        wanted = {n for n in names}
        known = {n for comps in files.values() for _, n in comps}
        unknown = sorted(wanted - known)
        if unknown:
            raise ConformanceError(f"no component with shipped weights named {unknown}; choose from {sorted(known)}")
        files = {p: comps for p, comps in files.items() if wanted & {n for _, n in comps}}
    written = []
    for path, comps in files.items():
        record = make_golden(path, comps)
        target = golden_path(path) if directory is None else Path(directory) / golden_path(path).name
        atomic_write_bytes(target, (json.dumps(record, indent=1) + "\n").encode())
        written.append(target)
    return written


def _compare(expected: torch.Tensor, got: torch.Tensor, kind: str, atol: float) -> tuple[float, bool]:
    if tuple(got.shape) != tuple(expected.shape):
        return math.inf, False
    diff = float((got.float() - expected.float()).abs().max()) if got.numel() else 0.0
    if kind == "metric":  # values of any scale: relative to the value
        scale = float(expected.abs().max()) if expected.numel() else 0.0
        return diff, diff <= atol * max(1.0, scale)
    return diff, diff <= atol


def check_golden(name: str, *, kind: str | None = None, golden: str | Path | None = None,
                 component: Any = None, on_case: Callable[[str, float], None] | None = None) -> None:
    """Rerun a component's golden cases; raise :class:`ConformanceError` when its weights or outputs changed.

    ``golden``: the file (default ``NAME.golden.json`` beside the spec's weights file); ``component``:
    an already built instance to check instead of a fresh one (cases of a golden variant are run by a
    component built with the variant's options); ``on_case(label, max_abs_diff)`` is told every comparison.
    """
    spec = _find(name, kind)
    if spec.weights is None:
        raise ConformanceError(f"{spec.kind} {spec.name!r} has no weights file, so no golden outputs")
    path = Path(golden) if golden is not None else golden_path(spec.weights)
    how = f"regenerate with `{UPDATE_COMMAND} {spec.name}` if the change is intended"
    if not path.is_file():
        raise ConformanceError(f"{spec.name} has no golden file {path}; write it with `{UPDATE_COMMAND} {spec.name}`")
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("format") != GOLDEN_FORMAT:
        raise ConformanceError(f"{path} is not a {GOLDEN_FORMAT} file; {how}")
    component = component if component is not None else _component(spec.kind, spec.name)
    problems = []
    if record["weights"]["sha256"] != spec.weights.sha256:
        problems.append(f"the golden outputs were recorded for weights sha256 {record['weights']['sha256'][:12]}…, "
                        f"the spec now says {spec.weights.sha256[:12]}…")
    for wf in pinned_weights(spec, component):
        pinned = record.get("pins", {}).get(wf.path.name)
        if pinned is not None and wf.path.is_file() and pinned != wf.sha256:
            problems.append(f"{wf.path.name}: recorded with sha256 {pinned[:12]}…, now {wf.sha256[:12]}…")
        elif pinned is None and wf.path.is_file():
            problems.append(f"{wf.path.name} is loaded by {spec.name} but not pinned in {path.name}")
    cases = [c for c in record["cases"] if c["component"] == spec.name]
    if not cases:
        problems.append(f"{path.name} has no cases for {spec.name}")
    recorded = {c["case"] for c in cases}
    for variant in golden_variants(spec):
        if not any(c.startswith(f"{variant}-") for c in recorded):
            problems.append(f"{path.name} has no cases of {spec.name}'s golden variant {variant!r}")
    atol = float(record.get("atol", DEFAULT_ATOL))
    built: dict[str, Any] = {}
    with torch.no_grad():
        for rec in cases:
            label = f"{spec.name} {rec['case']} ({rec['call']})"
            try:
                case = _record_case(rec, record.get("inputs", {}))
                if case.options:
                    key = json.dumps(case.options, sort_keys=True)
                    if key not in built:
                        built[key] = _component(spec.kind, spec.name, case.options)
                    got = case.run(built[key])
                else:
                    got = case.run(component)
            except Exception as exc:  # noqa: BLE001  (a case that no longer runs is a change too)
                problems.append(f"{label} raised {type(exc).__name__}: {exc}")
                continue
            diff, ok = _compare(_decode(rec["expected"]), got, spec.kind, atol)
            if on_case is not None:
                on_case(label, diff)
            if not ok:
                problems.append(f"{label}: max |Δ| {diff:.3g} exceeds {atol:g}")
    if problems:
        raise ConformanceError(f"{spec.name} no longer gives its golden outputs ({path}):\n  - "
                               + "\n  - ".join(problems) + f"\n{how}")


def _find(name: str, kind: str | None) -> ComponentSpec:
    from ..errors import UnknownComponentError

    for k in ((kind,) if kind else _KINDS):
        try:
            return api.spec(k, name)
        except UnknownComponentError:
            continue
    raise ConformanceError(f"no restorer, generator or metric named {name!r}")
