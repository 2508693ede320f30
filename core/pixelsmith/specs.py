"""Frozen records that plugins return from the registration hooks.

A spec says what a component is (name, one-line summary, version, facts per kind) and how to
build it (``factory``). Specs are cheap: nothing heavy is imported or loaded until the factory
is called. The registry validates every spec; see :func:`validate_spec`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Literal, Mapping

from .errors import PluginError

__all__ = [
    "WeightsFile",
    "ComponentSpec",
    "MetricSpec",
    "RestorerSpec",
    "GeneratorSpec",
    "DegradationSpec",
    "RESTORATION_TASKS",
    "normalize_name",
    "validate_spec",
]

#: Restoration tasks a restorer can declare and a degradation can pose.
RESTORATION_TASKS = ("denoise", "deblur", "impulse", "inpaint", "poisson", "generic")

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")


def normalize_name(name: str) -> str:
    """Return the canonical form of a component name: lower case, ``_`` and spaces as ``-``.

    >>> normalize_name("  UNet_Denoise ")
    'unet-denoise'
    """
    return re.sub(r"[\s_]+", "-", str(name).strip().lower())


@dataclass(frozen=True, slots=True)
class WeightsFile:
    """A pretrained weights file (safetensors) and the sha256 it must have."""

    path: Path
    sha256: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentSpec:
    """Fields every component kind shares."""

    name: str
    factory: Callable[..., Any]
    summary: str
    version: str = "0.0.0"
    #: Optional training entry point: ``train(config: TrainConfig) -> Path`` (checkpoint written).
    train: Callable[..., Any] | None = None
    weights: WeightsFile | None = None
    #: Optional export opt-in: a :class:`pixelsmith.export.Exporter` (the component class may
    #: instead define ``export_graph``); see :mod:`pixelsmith.export`.
    export: Any = None

    kind: str = field(default="component", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSpec(ComponentSpec):
    """A quality metric.

    ``kind_of_reference``: ``"full-reference"`` metrics compare each prediction with its target and
    return one value per image; ``"distributional"`` metrics compare two sets of images and return
    one value for the pair of sets.
    """

    higher_is_better: bool
    data_range: float | None = 1.0
    reference: Literal["full-reference", "distributional", "no-reference"] = "full-reference"
    kind: str = field(default="metric", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RestorerSpec(ComponentSpec):
    """An image restorer.

    ``tasks`` are the degradations it is made for (see :data:`RESTORATION_TASKS`); ``requires``
    are ``restore()`` parameters it cannot run without (e.g. ``("sigma",)`` for BM3D) and
    ``accepts`` those it uses when given (e.g. ``("sigma", "kernel")`` for a blind model).
    """

    tasks: tuple[str, ...]
    channels: tuple[int, ...] = (1, 3)
    requires: tuple[str, ...] = ()
    accepts: tuple[str, ...] = ()
    kind: str = field(default="restorer", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratorSpec(ComponentSpec):
    """An image generator; ``output_shape`` is ``(C, H, W)`` of one sample."""

    output_shape: tuple[int, int, int]
    conditional: bool = False
    kind: str = field(default="generator", init=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class DegradationSpec(ComponentSpec):
    """A seeded image degradation; ``task`` is the restoration task it poses, ``params`` its defaults."""

    task: str
    params: Mapping[str, Any] = field(default_factory=dict)
    kind: str = field(default="degradation", init=False, repr=False)


def _listed(values: Any) -> str:
    return ", ".join(repr(v) for v in values)


def _allowed(values: Any) -> str:
    return ", ".join(str(v) for v in values)


def validate_spec(spec: object, expected: type[ComponentSpec]) -> ComponentSpec:
    """Check a spec returned by a hook; raise :class:`PluginError` saying what is malformed."""
    if not isinstance(spec, expected):
        raise PluginError(
            f"expected a {expected.__name__}, got {type(spec).__name__}: {spec!r:.80}; "
            f"return a list of pixelsmith.{expected.__name__} from the hook"
        )
    problems: list[str] = []
    if not isinstance(spec.name, str) or not _NAME_RE.match(normalize_name(spec.name)):
        problems.append(f"name {spec.name!r} is not allowed: use letters, digits, '-' and '.', starting "
                        "with a letter or digit (e.g. 'my-denoiser'; case, '_' and spaces are normalised)")
    if not callable(spec.factory):
        problems.append(f"factory {spec.factory!r} is not callable")
    if not isinstance(spec.summary, str) or not spec.summary.strip():
        problems.append("summary must be a non-empty one-line string")
    elif "\n" in spec.summary.strip():
        problems.append("summary must be one line")
    if spec.train is not None and not callable(spec.train):
        problems.append("train must be callable or None")
    if spec.export is not None and not (callable(getattr(spec.export, "build", None))
                                        and isinstance(getattr(spec.export, "inputs", None), tuple)):
        problems.append("export must be a pixelsmith.export.Exporter (build, inputs) or None")
    if spec.weights is not None and not (
        isinstance(spec.weights, WeightsFile) and re.fullmatch(r"[0-9a-f]{64}", spec.weights.sha256)
    ):
        problems.append("weights must be a WeightsFile with a 64-hex-digit sha256")
    if isinstance(spec, RestorerSpec):
        tasks = () if isinstance(spec.tasks, str) else tuple(spec.tasks or ())
        bad = [t for t in tasks if t not in RESTORATION_TASKS]
        if not tasks:
            problems.append(f"tasks={spec.tasks!r} must be a non-empty tuple of restoration tasks, "
                            f"e.g. tasks=('denoise',); allowed: {_allowed(RESTORATION_TASKS)}")
        elif bad:
            problems.append(f"tasks={spec.tasks!r}: {_listed(bad)} {'is not a' if len(bad) == 1 else 'are not'} "
                            f"restoration task{'s' if len(bad) > 1 else ''}; allowed: {_allowed(RESTORATION_TASKS)}")
        if not spec.channels or any(c not in (1, 3) for c in spec.channels):
            problems.append(f"channels={spec.channels!r}: allowed are (1,) gray, (3,) RGB or (1, 3) both")
    if isinstance(spec, GeneratorSpec):
        shape = spec.output_shape
        if not (isinstance(shape, tuple) and len(shape) == 3 and shape[0] in (1, 3)
                and all(isinstance(s, int) and s > 0 for s in shape)):
            problems.append(f"output_shape={shape!r} must be a tuple (C, H, W) of positive ints with C 1 (gray) "
                            "or 3 (RGB), e.g. (1, 28, 28)")
    if isinstance(spec, DegradationSpec) and spec.task not in RESTORATION_TASKS:
        problems.append(f"task={spec.task!r} is not a restoration task; allowed: {_allowed(RESTORATION_TASKS)}")
    if isinstance(spec, MetricSpec) and spec.reference not in (
        "full-reference", "distributional", "no-reference"
    ):
        problems.append(f"reference={spec.reference!r} is not a kind of metric; allowed: "
                        f"{_allowed(('full-reference', 'distributional', 'no-reference'))}")
    if problems:
        raise PluginError(f"malformed {type(spec).__name__} {getattr(spec, 'name', '?')!r}: "
                          + "; ".join(problems))
    return spec


def spec_facts(spec: ComponentSpec) -> dict[str, Any]:
    """JSON-friendly facts of a spec (everything but callables), for listings and provenance."""
    out: dict[str, Any] = {"kind": spec.kind}
    for f in fields(spec):
        value = getattr(spec, f.name)
        if f.name in ("factory", "train", "kind", "export"):
            continue
        if isinstance(value, WeightsFile):
            value = {"path": str(value.path), "sha256": value.sha256}
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    out["trainable"] = spec.train is not None
    out["exportable"] = spec.export is not None or callable(getattr(spec.factory, "export_graph", None))
    return out
