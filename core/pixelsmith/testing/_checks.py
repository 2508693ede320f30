"""The conformance checks behind :func:`check_restorer` and friends."""

from __future__ import annotations

import math
import random
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from .. import api
from ..components import Degradation, Degraded, Generator, Metric, Restorer, declared_fact, make_generator
from ..errors import PixelsmithError
from ..registry import build_options
from ..specs import ComponentSpec, DegradationSpec, GeneratorSpec, MetricSpec, RestorerSpec, validate_spec

__all__ = [
    "Check",
    "ConformanceError",
    "checks",
    "check",
    "check_restorer",
    "check_generator",
    "check_metric",
    "check_degradation",
    "DEFAULT_SIZES",
]

#: Image sizes (H, W) the kit tries: even, odd, tiny; small on purpose so the kit stays fast.
DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((16, 16), (13, 17), (3, 5), (1, 1))
#: seeds averaged, and the slack allowed, when telling clipped noise tails from a hidden range error
_RAW_SEEDS = 32
_RAW_TOL = 1e-3


class ConformanceError(AssertionError):
    """A component broke the pixelsmith contract; the message lists every failed check."""


@dataclass(frozen=True)
class Check:
    """One named conformance check; call it to run it (raises on failure)."""

    kind: str
    name: str
    func: Callable[[], None]

    def __call__(self) -> None:
        self.func()

    def __str__(self) -> str:
        return f"{self.kind}-{self.name}"


# -- helpers ------------------------------------------------------------------------------------------
def _fail(message: str) -> None:
    raise ConformanceError(message)


def _images(c: int, h: int, w: int, n: int = 2, seed: int = 0) -> torch.Tensor:
    """Smooth-ish test images (a gradient plus texture), more like photographs than pure noise."""
    g = torch.Generator().manual_seed(seed)
    yy = torch.linspace(0, 1, h).view(1, 1, h, 1)
    xx = torch.linspace(0, 1, w).view(1, 1, 1, w)
    base = 0.25 + 0.5 * (0.6 * yy + 0.4 * xx)
    texture = 0.2 * torch.rand(n, c, h, w, generator=g)
    return (base + texture).clamp(0, 1).to(torch.float32)


def _check_output(out: Any, shape: Sequence[int], what: str, *, allow_nonfinite: bool = False) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        _fail(f"{what} returned {type(out).__name__}, expected a torch.Tensor")
    if tuple(out.shape) != tuple(shape):
        _fail(f"{what} returned shape {tuple(out.shape)}, expected {tuple(shape)}")
    if out.dtype != torch.float32:
        _fail(f"{what} returned dtype {out.dtype}, expected torch.float32")
    if not allow_nonfinite and not bool(torch.isfinite(out).all()):
        _fail(f"{what} returned NaN or Inf values")
    return out


def _check_range(out: torch.Tensor, what: str) -> None:
    lo, hi = float(out.min()), float(out.max())
    if lo < 0 or hi > 1:
        _fail(f"{what} returned values in [{lo:.4g}, {hi:.4g}], expected [0, 1]")


def _expect_error(what: str, func: Callable[[], Any]) -> None:
    try:
        func()
    except PixelsmithError:
        return
    except Exception as exc:  # noqa: BLE001 - that is exactly what the check reports
        _fail(f"{what} raised {type(exc).__name__}: {exc} — expected a pixelsmith.PixelsmithError "
              "(check inputs with pixelsmith.as_image_batch or raise pixelsmith.InvalidInputError)")
    _fail(f"{what} did not raise; expected a pixelsmith.PixelsmithError")


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, what: str) -> None:
    diff = float((a.float().cpu() - b.float().cpu()).abs().max()) if a.numel() else 0.0
    if not diff <= atol:
        _fail(f"{what}: max difference {diff:.3g} exceeds {atol:g}")


class _Target:
    """A component given by registered name or as an instance, built lazily per device."""

    def __init__(self, kind: str, target: Any, base: type, spec_cls: type[ComponentSpec],
                 build: Callable[..., Any]) -> None:
        self.kind = kind
        self.spec_cls = spec_cls
        self._build = build
        self._cache: dict[tuple[str, bool], Any] = {}  # (device, built from the spec's defaults)
        if isinstance(target, str):
            self.name = target
            self.instance = None
        elif isinstance(target, base):
            self.instance = target
            spec = getattr(target, "spec", None)
            self.name = spec.name if spec is not None else type(target).__name__
        else:
            raise TypeError(f"expected a registered {kind} name or a pixelsmith.{base.__name__}, "
                            f"got {type(target).__name__}")

    @property
    def spec(self) -> ComponentSpec | None:
        if self.instance is not None:
            return getattr(self.instance, "spec", None)
        return api.spec(self.kind, self.name)

    def get(self, device: str = "cpu") -> Any:
        """The component on ``device``: the instance itself on the CPU, else the same component built there. An
        instance built by name (:func:`pixelsmith.restorer` and the like) is rebuilt with its own options; one
        whose class was called directly, from its spec's defaults (see :meth:`reference`)."""
        if self.instance is not None and device == "cpu":
            return self.instance
        return self._built(device, build_options(self.instance) if self.instance is not None else {})

    def reference(self) -> Any:
        """The CPU component that :meth:`get` on another device is to be compared with: the instance, unless
        its options are unknown and the other device's twin was built from the spec's defaults; then the
        default one on the CPU too (comparing a configured instance with a default twin would measure the
        options, not the device)."""
        if self.instance is None or build_options(self.instance) is not None:
            return self.get()
        return self._built("cpu", None)

    def _built(self, device: str, options: Mapping[str, Any] | None) -> Any:
        key = (device, options is None)
        if key not in self._cache:
            try:
                if self.instance is not None:
                    spec = self.spec
                    if spec is None:
                        raise ConformanceError(f"cannot rebuild {self.name} on {device} without a spec")
                    self._cache[key] = self._build(spec=spec, device=device, **dict(options or {}))
                else:
                    self._cache[key] = self._build(name=self.name, device=device)
            except Exception as exc:  # noqa: BLE001 - remembered so every check reports it in one line
                self._cache[key] = ConformanceError(
                    f"could not build {self.kind} {self.name!r} on {device}: {type(exc).__name__}: {exc}")
        found = self._cache[key]
        if isinstance(found, ConformanceError):
            raise found
        return found


def _spec_check(target: _Target) -> None:
    spec = target.spec
    if spec is None:
        _fail(f"{target.name} has no spec: set the class attribute `spec` to its "
              f"{target.spec_cls.__name__}, or check it by its registered name")
    try:
        validate_spec(spec, target.spec_cls)
    except PixelsmithError as exc:
        _fail(str(exc))


def _facts_agree(obj: Any, spec: ComponentSpec | None, facts: Sequence[str]) -> None:
    """The facts a spec states (name, higher_is_better...) are the instance's facts, and the class does
    not declare another direction. (A class may declare another *name*: one class can serve several
    specs, e.g. with different options; the instance must still report its spec's name.)"""
    if spec is None:
        return
    for fact in facts:
        want = getattr(spec, fact)
        declared = declared_fact(type(obj), fact)
        if fact != "name" and declared is not None and declared != want:
            _fail(f"class {type(obj).__name__} declares {fact} = {declared!r} but its spec says {want!r}; "
                  "drop the class attribute (the spec supplies it) or make the two agree")
        got = getattr(obj, fact, want)
        if got != want:
            _fail(f"the instance reports {fact} = {got!r} but its spec says {want!r}; the spec is the one "
                  f"source of {fact} (do not set it in __init__ or override it)")


def _check_global_rng(run: Callable[[], Any], what: str) -> None:
    states = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    run()
    if not torch.equal(states[0], torch.random.get_rng_state()):
        _fail(f"{what} used the global torch RNG; draw from the seed's torch.Generator instead")
    if not np.array_equal(states[1], np.random.get_state()[1]) or states[2] != random.getstate():
        _fail(f"{what} used the global numpy/random RNG; draw from the seed's torch.Generator instead")


def _raw_call(call: Callable[[], Any]) -> Any:
    """A private method called directly, to see its output before the base class casts it; None when
    it cannot be called that way (a plugin that prepares its input in an overridden public method):
    the public path is what the other checks test."""
    try:
        with torch.inference_mode():
            return call()
    except Exception:  # noqa: BLE001
        return None


def _check_raw_dtype(out: Any, device: torch.device, what: str) -> None:
    """What a plugin's private method returns, before the base class casts it: float32 on the CPU
    (on CUDA, autocast's float16/bfloat16 is fine). float64 doubles memory and time unnoticed."""
    if not isinstance(out, torch.Tensor):
        return  # the public method reports that
    allowed = (torch.float32,) if device.type == "cpu" else (torch.float32, torch.float16, torch.bfloat16)
    if out.dtype not in allowed:
        _fail(f"{what} returned dtype {out.dtype} on {device.type}; the base class casts it to float32, but the "
              f"work ran in {out.dtype}: compute in float32 (e.g. .float() the network, np.float32 arrays)")


def _run(found: Sequence[Check], label: str) -> None:
    failures = []
    for c in found:
        try:
            c()
        except Exception as exc:  # noqa: BLE001 - collect every failure, report them together
            detail = str(exc) if isinstance(exc, ConformanceError) else (
                f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exc(limit=-3)))
            failures.append(f"  - {c.name}: {detail}")
    if failures:
        raise ConformanceError(f"{label} failed {len(failures)} of {len(found)} conformance checks:\n"
                               + "\n".join(failures))


def _cuda() -> bool:
    return torch.cuda.is_available()


# -- restorers ------------------------------------------------------------------------------------------
def _default_params(spec: RestorerSpec | None) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key in (spec.requires if spec is not None else ()):
        if key == "sigma":
            params[key] = 0.1
        elif key == "kernel":
            ax = torch.arange(5, dtype=torch.float32) - 2
            k = torch.exp(-(ax[:, None] ** 2 + ax[None, :] ** 2) / 2)
            params[key] = k / k.sum()
    return params


def _on_device(build_by_name: Callable[..., Any]) -> Callable[..., Any]:
    """How a restorer or generator target is (re)built on a device: through the registry by name, or from its
    spec with the options it was built with (both take ``device=``; metrics and degradations do not)."""
    return lambda spec=None, name=None, device="cpu", **options: (
        build_by_name(name, device=device) if name else spec.factory(device=device, **options))


def _restorer_target(restorer: str | Restorer) -> _Target:
    return _Target("restorer", restorer, Restorer, RestorerSpec, _on_device(api.restorer))


def restorer_checks(restorer: str | Restorer, *, params: Mapping[str, Any] | None = None,
                    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES, atol: float = 1e-4) -> list[Check]:
    t = _restorer_target(restorer)

    def kwargs() -> dict[str, Any]:
        spec = t.spec
        given = dict(params or {})
        out = {**_default_params(spec), **given}
        missing = [k for k in (spec.requires if spec else ()) if k not in out]
        if missing:
            _fail(f"{t.name} requires {missing}; pass values with params={{...}}")
        return out

    def channels() -> tuple[int, ...]:
        spec = t.spec
        return tuple(spec.channels) if spec is not None else (1, 3)

    def spec_facts() -> None:
        _spec_check(t)
        _facts_agree(t.get(), t.spec, ("name",))

    def shapes_and_range() -> None:
        r = t.get()
        x = _images(channels()[-1], 16, 16)
        _check_raw_dtype(_raw_call(lambda: r._restore(x.to(r.device), **kwargs())), r.device, "_restore()")
        for c in channels():
            for h, w in sizes:
                x = _images(c, h, w)
                out = _check_output(r.restore(x, **kwargs()), x.shape, f"restore() on {tuple(x.shape)}")
                if out.device.type != "cpu":
                    _fail(f"restore() of a CPU tensor returned a tensor on {out.device}")
                _check_range(out, f"restore() on {tuple(x.shape)}")

    def input_unchanged() -> None:
        r = t.get()
        x = _images(channels()[0], 16, 16)
        before = x.clone()
        r.restore(x, **kwargs())
        if not torch.equal(x, before):
            _fail("restore() modified its input in place; work on a copy")

    def deterministic() -> None:
        r = t.get()
        x = _images(channels()[-1], 16, 16)
        _close(r.restore(x, **kwargs()), r.restore(x, **kwargs()), 1e-6, "restoring the same batch twice")

    def batch_independence() -> None:
        r = t.get()
        x = _images(channels()[-1], 16, 16, n=3, seed=1)
        together = r.restore(x, **kwargs())
        alone = torch.cat([r.restore(x[i:i + 1], **kwargs()) for i in range(3)])
        _close(together, alone, atol, "restoring a batch vs each image alone (use eval-mode layers, "
                                      "no batch statistics)")

    def numpy_input() -> None:
        r = t.get()
        c = channels()[-1]
        arr = (np.random.default_rng(0).random((9, 11, c) if c == 3 else (9, 11)) * 255).astype(np.uint8)
        _check_output(r.restore(arr, **kwargs()), (1, c, 9, 11), "restore() of an H×W(×C) uint8 array")

    def bad_inputs() -> None:
        r = t.get()
        c = channels()[0]
        nan = _images(c, 8, 8)
        nan[0, 0, 0, 0] = float("nan")
        _expect_error("restore() of an image with NaN", lambda: r.restore(nan, **kwargs()))
        _expect_error("restore() of a 2-channel image", lambda: r.restore(torch.rand(1, 2, 8, 8), **kwargs()))
        _expect_error("restore() of a 2-D tensor", lambda: r.restore(torch.rand(8, 8), **kwargs()))
        inf = _images(c, 8, 8)
        inf[0, 0, 0, 0] = float("inf")
        _expect_error("restore() of an image with Inf", lambda: r.restore(inf, **kwargs()))
        # noisy data legitimately leaves [0, 1] (unclipped noise): it must be restored, into [0, 1]
        wide = _images(c, 8, 8) * 1.6 - 0.3
        out = _check_output(r.restore(wide, **kwargs()), wide.shape, "restore() of values in [-0.3, 1.3]")
        _check_range(out, "restore() of values in [-0.3, 1.3]")
        for other in {1, 3} - set(channels()):
            _expect_error(f"restore() of {other}-channel images it does not declare",
                          lambda: r.restore(_images(other, 8, 8), **kwargs()))

    def cuda() -> None:
        if not _cuda():
            return
        rc = t.get("cuda")
        x = _images(channels()[-1], 16, 16)
        out = _check_output(rc.restore(x.cuda(), **kwargs()), x.shape, "restore() on CUDA")
        _check_range(out, "restore() on CUDA")
        # autocast (bf16/fp16) may change the last bits, not the picture
        mean_diff = float((out.cpu() - t.reference().restore(x, **kwargs())).abs().mean())
        if mean_diff > 0.02:
            _fail(f"CUDA and CPU results differ by {mean_diff:.3g} on average (limit 0.02)")

    return [
        Check("restorer", "spec", spec_facts),
        Check("restorer", "shapes_and_range", shapes_and_range),
        Check("restorer", "input_unchanged", input_unchanged),
        Check("restorer", "deterministic", deterministic),
        Check("restorer", "batch_independence", batch_independence),
        Check("restorer", "numpy_input", numpy_input),
        Check("restorer", "bad_inputs", bad_inputs),
        Check("restorer", "cuda", cuda),
    ]


# -- generators -----------------------------------------------------------------------------------------
def generator_checks(generator: str | Generator, *, atol: float = 1e-4) -> list[Check]:
    t = _Target("generator", generator, Generator, GeneratorSpec, _on_device(api.generator))

    def shape() -> tuple[int, int, int]:
        spec = t.spec
        return tuple(spec.output_shape) if spec is not None else tuple(t.get().output_shape)

    def labels_for(n: int) -> torch.Tensor | None:
        return torch.arange(n) % 2 if t.get().conditional else None

    def samples() -> None:
        g = t.get()
        _facts_agree(g, t.spec, ("name",))
        lb = labels_for(2)
        _check_raw_dtype(_raw_call(lambda: g._decode(g.latents(2, 0).to(g.device),
                                                     None if lb is None else lb.to(g.device))), g.device, "_decode()")
        if tuple(g.output_shape) != shape():
            _fail(f"instance output_shape {tuple(g.output_shape)} differs from spec {shape()}")
        out = _check_output(g.sample(3, seed=0), (3, *shape()), "sample(3, seed=0)")
        if out.device.type != "cpu":
            _fail(f"sample() returned a tensor on {out.device}, expected the CPU")
        _check_range(out, "sample(3, seed=0)")
        _check_output(g.sample(0, seed=0), (0, *shape()), "sample(0)")

    def seeds() -> None:
        g = t.get()
        a, b, c = g.sample(3, seed=7), g.sample(3, seed=7), g.sample(3, seed=8)
        if not torch.equal(a, b):
            _fail("sample(3, seed=7) twice gave different images; draw from the seed only")
        if torch.equal(a, c):
            _fail("seeds 7 and 8 gave identical samples; the seed is ignored")
        if a.shape[0] > 1 and all(torch.equal(a[0], a[i]) for i in range(1, a.shape[0])):
            _fail("the 3 samples of one seed are the same image; each sample must come from its own latent")
        given = g.sample(3, seed=torch.Generator().manual_seed(7))
        if not torch.equal(a, given):
            _fail("sample(3, seed=torch.Generator().manual_seed(7)) differs from sample(3, seed=7); a "
                  "torch.Generator passed as seed must be drawn from (use pixelsmith.make_generator(seed))")

    def global_rng_untouched() -> None:
        g = t.get()
        _check_global_rng(lambda: g.sample(2, seed=5), "sample(2, seed=5)")

    def batch_independence() -> None:
        g = t.get()
        _close(g.sample(4, seed=3), g.sample(4, seed=3, batch_size=1), atol,
               "sample(4) in one batch vs one image per batch (eval-mode layers?)")

    def bad_inputs() -> None:
        g = t.get()
        _expect_error("sample(-1)", lambda: g.sample(-1))
        _expect_error("sample(2, seed=-5)", lambda: g.sample(2, seed=-5))

    def labels() -> None:
        g = t.get()
        declared = bool(t.spec.conditional) if t.spec is not None else bool(g.conditional)
        if bool(g.conditional) != declared:
            _fail(f"spec says conditional={declared} but the instance says conditional={g.conditional}")
        if not declared:
            _expect_error("sample(2, labels=[0, 1]) on an unconditional generator",
                          lambda: g.sample(2, seed=0, labels=torch.tensor([0, 1])))
            return
        zeros = _check_output(g.sample(4, seed=0, labels=torch.zeros(4, dtype=torch.long)), (4, *shape()),
                              "sample(4, labels=[0, 0, 0, 0])")
        _check_range(zeros, "sample(4, labels=[0, 0, 0, 0])")
        ones = g.sample(4, seed=0, labels=torch.ones(4, dtype=torch.long))
        if torch.equal(zeros, ones):
            _fail("labels 0 and 1 gave identical samples for the same seed; the labels are ignored")
        _close(g.sample(4, seed=0, labels=torch.ones(4, dtype=torch.long), batch_size=1), ones, atol,
               "labelled sample(4) in one batch vs one image per batch")

    def cuda() -> None:
        if not _cuda():
            return
        gc = t.get("cuda")
        out = _check_output(gc.sample(2, seed=0), (2, *shape()), "sample() on CUDA")
        _check_range(out, "sample() on CUDA")
        if out.device.type != "cpu":
            _fail(f"sample() on CUDA returned a tensor on {out.device}, expected the CPU")

    return [
        Check("generator", "spec", lambda: _spec_check(t)),
        Check("generator", "samples", samples),
        Check("generator", "seeds", seeds),
        Check("generator", "global_rng_untouched", global_rng_untouched),
        Check("generator", "batch_independence", batch_independence),
        Check("generator", "bad_inputs", bad_inputs),
        Check("generator", "labels", labels),
        Check("generator", "cuda", cuda),
    ]


# -- metrics --------------------------------------------------------------------------------------------
def metric_checks(metric: str | Metric, *, size: tuple[int, int] = (192, 192),
                  options: Mapping[str, Any] | None = None, rtol: float = 1e-4) -> list[Check]:
    # 192 px: large enough for multi-scale metrics (MS-SSIM needs more than 160 px per side)
    t = _Target("metric", metric, Metric, MetricSpec,
                lambda spec=None, name=None, device="cpu": (
                    api.metric(name, **dict(options or {})) if name else spec.factory(**dict(options or {}))))
    h, w = size

    def spec() -> MetricSpec | None:
        return t.spec  # type: ignore[return-value]

    def distributional() -> bool:
        s = spec()
        return s is not None and s.reference == "distributional"

    def higher_is_better() -> bool:
        s = spec()
        return s.higher_is_better if s is not None else t.get().higher_is_better

    def pair(c: int, n: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
        clean = _images(c, h, w, n=n)
        noisy = (clean + 0.1 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(5))).clamp(0, 1)
        return noisy, clean

    def spec_facts() -> None:
        _spec_check(t)
        _facts_agree(t.get(), spec(), ("name", "higher_is_better"))

    def per_image() -> None:
        m = t.get()
        for c in (1, 3):
            pred, target = pair(c)
            if distributional():
                out = m(pred, target)
                if not isinstance(out, torch.Tensor) or out.numel() != 1 or not bool(torch.isfinite(out).all()):
                    _fail(f"a distributional metric must return one finite value, got {out!r:.80}")
                continue
            _check_output(m(pred, target), (pred.shape[0],), f"metric on {tuple(pred.shape)}")

    def best_value() -> None:
        m = t.get()
        for c in (1, 3):
            pred, target = pair(c)
            same = m(target, target).float()
            other = m(pred, target).float()
            better = same > other if higher_is_better() else same < other
            if not bool(better.all()):
                _fail(f"identical images ({same.tolist()}) do not score better than noisy ones "
                      f"({other.tolist()}) with higher_is_better={higher_is_better()}")

    def batch_independence() -> None:
        if distributional():
            return
        m = t.get()
        pred, target = pair(3)
        together = m(pred, target)
        alone = torch.cat([m(pred[i:i + 1], target[i:i + 1]) for i in range(pred.shape[0])])
        tol = rtol * float(alone.abs().max()) + 1e-7
        _close(together, alone, tol, "metric over a batch vs per image")

    def provenance() -> None:
        m = t.get()
        settings = m.settings
        if not isinstance(settings, dict) or not settings:
            _fail(f"settings is {settings!r}: say what changes the numbers (data range, window, channel space, "
                  "reduction...) by overriding the settings property; it is attached to every result")
        pred, target = pair(1)
        result = m.evaluate(pred, target)
        if not isinstance(result.settings, dict) or "metric" not in result.settings:
            _fail("evaluate() must return a MetricResult whose settings name the metric and its options")
        if spec() is not None and result.name != spec().name:
            _fail(f"evaluate() labels its result {result.name!r}, but the metric is {spec().name!r}")

    def bad_inputs() -> None:
        m = t.get()
        pred, target = pair(1)
        if not distributional():
            _expect_error("metric on mismatched shapes", lambda: m(pred[:, :, :-1], target))
        nan = pred.clone()
        nan[0, 0, 0, 0] = float("nan")
        _expect_error("metric on an image with NaN", lambda: m(nan, target))
        _expect_error("metric on a 2-channel image",
                      lambda: m(torch.rand(1, 2, h, w), torch.rand(1, 2, h, w)))

    def tiny_images() -> None:
        # too small for a windowed metric is fine, but then say so with a PixelsmithError
        if distributional():
            return
        m = t.get()
        x = torch.rand(1, 1, 1, 1)
        try:
            out = m(x, x.clone())
        except PixelsmithError:
            return
        _check_output(out, (1,), "metric on 1×1 images", allow_nonfinite=True)

    return [
        Check("metric", "spec", spec_facts),
        Check("metric", "per_image", per_image),
        Check("metric", "best_value", best_value),
        Check("metric", "batch_independence", batch_independence),
        Check("metric", "provenance", provenance),
        Check("metric", "bad_inputs", bad_inputs),
        Check("metric", "tiny_images", tiny_images),
    ]


# -- degradations ---------------------------------------------------------------------------------------
def degradation_checks(degradation: str | Degradation, *, params: Mapping[str, Any] | None = None,
                       sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES) -> list[Check]:
    t = _Target("degradation", degradation, Degradation, DegradationSpec,
                lambda spec=None, name=None, device="cpu": (
                    api.degradation(name, **dict(params or {})) if name else spec.factory(**dict(params or {}))))

    def spec_facts() -> None:
        _spec_check(t)
        _facts_agree(t.get(), t.spec, ("name",))

    def shapes_and_range() -> None:
        d = t.get()
        clip = bool(getattr(d, "clip", True))
        for c in (1, 3):
            for h, w in sizes:
                x = _images(c, h, w)
                try:
                    result = d.apply(x, seed=0)
                except PixelsmithError:
                    # a blur wider than a tiny image may refuse it, as long as it says so clearly
                    if min(h, w) < 8:
                        continue
                    raise
                if not isinstance(result, Degraded):
                    _fail(f"apply() returned {type(result).__name__}, expected pixelsmith.Degraded")
                out = _check_output(result.image, x.shape, f"apply() on {tuple(x.shape)}")
                if clip:  # clip = False declares that values may leave [0, 1] (unclipped noise)
                    _check_range(out, f"apply() on {tuple(x.shape)}")
                if not isinstance(result.info, dict) or "degradation" not in result.info:
                    _fail("apply() info must be a dict naming the degradation and what it did")

    def no_hidden_clamping() -> None:
        # apply() clamps when clip is True, as a camera saturates: that may cut the random tails of
        # noise, never a systematic excess (a gain or offset bug that clamping would hide). So the
        # seed-average of the raw _apply output must lie in [0, 1] up to 8 standard errors.
        d = t.get()
        if not bool(getattr(d, "clip", True)):
            return
        bright = _images(3, 16, 16)
        x = torch.cat([bright, 1 - bright])  # values near both ends: [0.05, 0.95]
        raws = []
        for seed in range(_RAW_SEEDS):
            image, _ = d._apply(x.clone(), make_generator(seed))
            raws.append(image.detach().float().cpu())
        raw = torch.stack(raws)
        mean, stderr = raw.mean(0), raw.std(0) / math.sqrt(_RAW_SEEDS)
        excess = torch.maximum(mean - 1, -mean)
        bad = excess > 8 * stderr + _RAW_TOL
        if bool(bad.any()):
            lo, hi = float(mean.min()), float(mean.max())
            _fail(f"clip=True, but the raw _apply output lies outside [0, 1] systematically (averaged over "
                  f"{_RAW_SEEDS} seeds: [{lo:.3g}, {hi:.3g}] at {int(bad.sum())} of {bad.numel()} values), which "
                  "apply()'s clamp hides (a gain or offset bug?); keep the output in [0, 1], or declare "
                  "clip = False if leaving it is the point (unclipped noise)")

    def provenance() -> None:
        d = t.get()
        params = d.params
        if not isinstance(params, dict) or not params:
            _fail(f"params is {params!r}: report the parameters this instance applies (override the params "
                  "property); they are attached to every result as its provenance")
        spec = t.spec
        missing = sorted(set(spec.params) - set(params)) if spec is not None else []
        if missing:
            _fail(f"params {sorted(params)} lack {missing}, which the spec's defaults name")
        info = d.apply(_images(1, 16, 16), seed=0).info
        if spec is not None and info.get("degradation") != spec.name:
            _fail(f"apply() info names the degradation {info.get('degradation')!r}, but it is {spec.name!r}")

    def seeded() -> None:
        d = t.get()
        x = _images(3, 16, 16)
        if not torch.equal(d(x, seed=11), d(x, seed=11)):
            _fail("the same seed gave different bytes; draw every random number from the given generator")

    def global_rng_untouched() -> None:
        d = t.get()
        x = _images(3, 16, 16)
        _check_global_rng(lambda: d(x, seed=3), "the degradation (take randomness from the rng passed to _apply)")

    def input_unchanged() -> None:
        d = t.get()
        x = _images(1, 16, 16)
        before = x.clone()
        d(x, seed=0)
        if not torch.equal(x, before):
            _fail("the degradation modified its input in place; work on a copy")

    def bad_inputs() -> None:
        d = t.get()
        nan = _images(1, 8, 8)
        nan[0, 0, 0, 0] = float("nan")
        _expect_error("degrading an image with NaN", lambda: d(nan, seed=0))
        _expect_error("degrading a 2-channel image", lambda: d(torch.rand(1, 2, 8, 8), seed=0))
        _expect_error("degrading a 2-D tensor", lambda: d(torch.rand(8, 8), seed=0))

    def cuda() -> None:
        if not _cuda():
            return
        d = t.get()
        x = _images(3, 16, 16).cuda()
        out = _check_output(d(x, seed=0), x.shape, "apply() on CUDA")
        if bool(getattr(d, "clip", True)):
            _check_range(out, "apply() on CUDA")

    return [
        Check("degradation", "spec", spec_facts),
        Check("degradation", "shapes_and_range", shapes_and_range),
        Check("degradation", "no_hidden_clamping", no_hidden_clamping),
        Check("degradation", "provenance", provenance),
        Check("degradation", "seeded", seeded),
        Check("degradation", "global_rng_untouched", global_rng_untouched),
        Check("degradation", "input_unchanged", input_unchanged),
        Check("degradation", "bad_inputs", bad_inputs),
        Check("degradation", "cuda", cuda),
    ]


_CHECKS = {
    "restorer": restorer_checks,
    "generator": generator_checks,
    "metric": metric_checks,
    "degradation": degradation_checks,
}


def checks(kind: str, target: Any, **options: Any) -> list[Check]:
    """The individual checks for one component, e.g. to parametrize a pytest test with them.

    >>> import pytest
    >>> @pytest.mark.parametrize("check", checks("restorer", "my-denoiser"), ids=str)  # doctest: +SKIP
    ... def test_conformance(check):
    ...     check()
    """
    if kind not in _CHECKS:
        raise ValueError(f"unknown component kind {kind!r}; use one of {sorted(_CHECKS)}")
    return _CHECKS[kind](target, **options)


def check(kind: str, target: Any, **options: Any) -> None:
    """Run every check for one component; raise :class:`ConformanceError` listing all failures."""
    found = checks(kind, target, **options)
    label = target if isinstance(target, str) else type(target).__name__
    _run(found, f"{kind} {label}")


def check_restorer(restorer: str | Restorer, *, params: Mapping[str, Any] | None = None,
                   sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES, atol: float = 1e-4) -> None:
    """Check a restorer (registered name or instance) against the contract.

    Spec well-formed; output shape, dtype float32, range [0, 1] and CPU device for gray and RGB
    (as ``spec.channels`` declares) at even, odd and 1×1 sizes; input untouched; deterministic;
    a batch restores like its images one by one (``atol``); numpy input accepted; NaN, wrong
    channels and wrong shapes raise :class:`~pixelsmith.PixelsmithError`; CUDA when available.
    ``params`` are passed to ``restore()`` (defaults given for a required ``sigma`` or ``kernel``).
    """
    check("restorer", restorer, params=params, sizes=sizes, atol=atol)


def check_generator(generator: str | Generator, *, atol: float = 1e-4) -> None:
    """Check a generator: spec, sample shapes/dtype/range on the CPU, ``sample(0)``, seeds
    reproducible and effective, batch independence, bad ``n``/seed raise, CUDA when available; a
    conditional generator (``spec.conditional``) changes with its ``labels=``, an unconditional one refuses them."""
    check("generator", generator, atol=atol)


def check_metric(metric: str | Metric, *, size: tuple[int, int] = (192, 192),
                 options: Mapping[str, Any] | None = None, rtol: float = 1e-4) -> None:
    """Check a metric: spec, one value per image (``Tensor[B]``) for gray and RGB, identical
    images score best, batch equals per image, settings attached, bad input raises, 1×1 handled."""
    check("metric", metric, size=size, options=options, rtol=rtol)


def check_degradation(degradation: str | Degradation, *, params: Mapping[str, Any] | None = None,
                      sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES) -> None:
    """Check a degradation: spec, shapes/dtype/range and info for gray and RGB at several sizes
    (images under 8 px per side may instead raise a PixelsmithError), same seed same bytes, global RNGs untouched, input untouched, bad input raises, CUDA."""
    check("degradation", degradation, params=params, sizes=sizes)

