"""Base classes of the four component kinds.

Plugins subclass these and implement one private method each (``_compute``, ``_restore``,
``_decode``, ``_apply``); the public methods convert and check input the same way for every
plugin, so users get the same errors whichever component they call.

Whatever a plugin's private method raises reaches the caller as a
:class:`~pixelsmith.errors.PixelsmithError`: an allocation failure as
:class:`~pixelsmith.errors.ResourceError`, a ``TypeError``/``ValueError`` caused by the parameters
the caller passed as :class:`~pixelsmith.errors.InvalidInputError`, anything else as
:class:`~pixelsmith.errors.PluginError` naming the component (the original is its ``__cause__``).
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Iterable, Iterator, Mapping

import torch

from .errors import InvalidInputError, PixelsmithError, PluginError, ResourceError, is_out_of_memory
from .specs import DegradationSpec, GeneratorSpec, MetricSpec, RestorerSpec
from .tensors import as_image_batch, check_same_shape, default_device, value_range

__all__ = [
    "Metric",
    "MetricResult",
    "Restorer",
    "Generator",
    "Degradation",
    "Degraded",
    "degradation_truth",
    "combine_truth",
    "TRUTH_KEYS",
    "noise_levels",
    "make_generator",
    "check_parameter_names",
]

#: ``torch.Generator.manual_seed`` takes 64-bit seeds
_SEED_LIMIT = 1 << 64


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def check_parameter_names(given: Iterable[str], known: Iterable[str], *, what: str, required: Iterable[str] = ()
                          ) -> None:
    """Raise :class:`InvalidInputError` for names in ``given`` that ``what`` does not declare (with the
    near matches: a typo is the usual cause), or for ``required`` names missing from ``given``."""
    given, known = list(given), sorted(set(known))
    unknown = [name for name in given if name not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise InvalidInputError(
            f"{what} does not take {', '.join(hints)}; "
            + (f"it takes {', '.join(known)}" if known else "it takes no parameters"))
    missing = [name for name in required if name not in given]
    if missing:
        raise InvalidInputError(f"{what} needs {', '.join(missing)}; pass e.g. {missing[0]}=...")


def _check_tensor_storage(x: Any, name: str) -> None:
    """Refuse tensors whose values cannot be read (meta), or that are not dense real arrays."""
    if not isinstance(x, torch.Tensor):
        return
    if x.is_meta:
        raise InvalidInputError(f"{name}: a tensor on the 'meta' device has no values; pass a CPU or CUDA tensor")
    if x.layout != torch.strided:
        raise InvalidInputError(f"{name}: a {x.layout} tensor is not supported; pass a dense tensor (x.to_dense())")
    if x.is_complex() or x.is_quantized:
        raise InvalidInputError(f"{name}: dtype {x.dtype} is not supported; pass float in [0, 1], uint8 or uint16")


@contextlib.contextmanager
def _plugin_call(what: str, params: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Turn whatever a plugin's private method raises into a PixelsmithError that says what failed."""
    try:
        yield
    except PixelsmithError:
        raise
    except Exception as exc:  # noqa: BLE001 - plugin code can raise anything; the caller gets our hierarchy
        if is_out_of_memory(exc):
            raise ResourceError(
                f"{what} ran out of memory ({_first_line(exc)}); use a smaller image or batch, or a "
                "device with more memory") from exc
        if params and isinstance(exc, (TypeError, ValueError)):
            shown = ", ".join(f"{k}={v!r:.40}" for k, v in params.items())
            raise InvalidInputError(f"{what} with {shown} failed: {_first_line(exc)}; check the parameter "
                                    "values") from exc
        raise PluginError(f"{what} failed: {_first_line(exc)}; this is a bug in the plugin or an input it "
                          "cannot handle (rerun with --debug, or catch PluginError and inspect __cause__)") from exc


def make_generator(seed: int | torch.Generator | None) -> torch.Generator:
    """A CPU ``torch.Generator`` from a seed; ``None`` draws a fresh seed from the OS.

    Never touches the global RNG, so a seeded call gives the same bytes whatever ran before.
    """
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < _SEED_LIMIT:
        raise InvalidInputError(f"seed must be an int in [0, 2**64) or None, got {seed!r}")
    return torch.Generator(device="cpu").manual_seed(seed)


class _SpecFact:
    """A fact the spec states (``name``, ``higher_is_better``), read from the component's spec.

    Whichever way a component is built (by name through the registry, which attaches the spec, or
    directly from a class whose ``spec`` attribute is set), the spec is the one source: a class
    attribute of the same name only serves when there is no spec, and the conformance kit fails a
    class whose declared value contradicts its spec. On the class itself it reads the declared value.
    """

    def __init__(self, field: str, declared: Any = None) -> None:
        self.field, self.declared = field, declared

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self.declared
        spec = getattr(obj, "spec", None)
        if spec is not None and hasattr(spec, self.field):
            return getattr(spec, self.field)
        if self.declared is None and self.field == "name":
            return type(obj).__name__
        return self.declared


def _spec_facts_from_spec(cls: type, facts: tuple[str, ...]) -> None:
    """Turn the plain class attributes ``facts`` a subclass declares into :class:`_SpecFact` s."""
    for fact in facts:
        value = cls.__dict__.get(fact)
        if value is not None and not isinstance(value, (_SpecFact, property)):
            setattr(cls, fact, _SpecFact(fact, value))


def declared_fact(cls: type, fact: str) -> Any:
    """The value of ``fact`` a component class declares itself (None if it declares none; the base
    classes' defaults do not count)."""
    for klass in cls.__mro__:
        if klass.__module__ == __name__:
            break
        value = klass.__dict__.get(fact)
        if isinstance(value, _SpecFact):
            return value.declared
        if value is not None:
            return value
    return None


@dataclass(frozen=True)
class MetricResult:
    """Metric values with the settings that produced them (their provenance)."""

    name: str
    values: torch.Tensor
    settings: dict[str, Any]
    higher_is_better: bool

    def mean(self) -> float:
        return float(self.values.float().mean())


class Metric(ABC):
    """A full-reference metric: ``metric(pred, target) -> Tensor[B]``, one value per image.

    ``name`` and ``higher_is_better`` come from the spec (see :class:`~pixelsmith.MetricSpec`);
    a subclass need not repeat them. ``settings`` is the provenance attached to every result.
    """

    spec: ClassVar[MetricSpec | None] = None
    name: str = _SpecFact("name")  # type: ignore[assignment]
    higher_is_better: bool = _SpecFact("higher_is_better", True)  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _spec_facts_from_spec(cls, ("name", "higher_is_better"))
        spec = cls.__dict__.get("spec")
        if spec is not None:  # a class that carries its spec is checked when it is defined
            if not isinstance(spec, MetricSpec):
                raise PluginError(f"{cls.__name__}.spec must be a pixelsmith.MetricSpec, got {type(spec).__name__}")
            declared = declared_fact(cls, "higher_is_better")
            if declared is not None and declared != spec.higher_is_better:
                raise PluginError(f"{cls.__name__} declares higher_is_better = {declared} but its spec "
                                  f"{spec.name!r} says {spec.higher_is_better}; drop the class attribute")

    @property
    def settings(self) -> dict[str, Any]:
        """Everything that changes the numbers (window, data range, channel space...): override it.

        It is attached to every :class:`MetricResult`, so a number can be traced to how it was
        computed; the conformance kit fails a metric whose settings are empty.
        """
        return {}

    def __call__(self, pred: Any, target: Any) -> torch.Tensor:
        _check_tensor_storage(pred, "pred")
        _check_tensor_storage(target, "target")
        pred_t = as_image_batch(pred, name="pred")
        target_t = as_image_batch(target, name="target", device=pred_t.device)
        self._check_pair(pred_t, target_t)
        with _plugin_call(f"metric {self.name!r} on images of shape {tuple(pred_t.shape)}"):
            return self._compute(pred_t, target_t)

    def evaluate(self, pred: Any, target: Any) -> MetricResult:
        """Like calling the metric, but returns the values together with their settings."""
        values = self(pred, target)
        return MetricResult(self.name, values, {"metric": self.name, **self.settings}, self.higher_is_better)

    def _check_pair(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Override to add input checks: ``pred``, ``target`` (``B×C×H×W`` float32, already converted)
        -> ``None``, or raise :class:`InvalidInputError` saying what was expected. The base class
        checks equal shapes; an override calls ``super()._check_pair(pred, target)`` first (a
        distributional metric, whose two sets may differ in size, does not)."""
        check_same_shape(pred, target)

    @abstractmethod
    def _compute(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Implement: ``pred``, ``target`` (``B×C×H×W`` float32, same shape and device, values in [0, 1])
        -> float32 ``Tensor[B]``, one value per image. See the plugin guide's four contracts."""


def _check_class_spec(cls: type, spec_cls: type) -> None:
    """A class that carries its spec (``spec = ...`` in its body) is checked when it is defined."""
    spec = cls.__dict__.get("spec")
    if spec is not None and not isinstance(spec, (spec_cls, property)):
        raise PluginError(f"{cls.__name__}.spec must be a pixelsmith.{spec_cls.__name__}, got {type(spec).__name__}")


class Restorer(ABC):
    """Restores degraded images: ``restorer.restore(x, **params)`` returns a tensor shaped like ``x``."""

    spec: ClassVar[RestorerSpec | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_class_spec(cls, RestorerSpec)

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = default_device(device)

    @property
    def name(self) -> str:
        return self.spec.name if self.spec else type(self).__name__

    def check_params(self, params: Mapping[str, Any]) -> None:
        """Refuse ``restore()`` parameters before any work: names the spec does not declare (in
        ``requires`` or ``accepts``), required ones missing, and values that cannot be right.

        The base class checks ``sigma`` (the noise level: a finite number >= 0 on the [0, 1] scale,
        or a tensor of them). A plugin overrides this to check its own values (calling
        ``super().check_params(params)``); the CLI calls it once before a folder restore, and
        :meth:`restore` before every call. Raises :class:`InvalidInputError`.
        """
        spec = self.spec
        if spec is not None:
            missing = [p for p in spec.requires if params.get(p) is None]
            if missing:
                raise InvalidInputError(
                    f"{spec.name} needs {', '.join(missing)}; pass e.g. restore(x, {missing[0]}=...)"
                )
            check_parameter_names(params, (*spec.requires, *spec.accepts), what=f"restorer {spec.name!r}")
        sigma = params.get("sigma")
        if sigma is not None:
            _check_noise_level(sigma, self.name)

    def restore(self, x: Any, **params: Any) -> torch.Tensor:
        """Restore ``x`` (B×C×H×W, numpy or imageio arrays accepted); the output is in [0, 1].

        Float input may leave [0, 1] (noisy data does: unclipped Gaussian noise is the literature's
        protocol); only NaN/Inf, wrong shapes and dtypes are refused.
        """
        _check_tensor_storage(x, "x")
        batch = as_image_batch(x, name="x", any_range=True)
        spec = self.spec
        if spec is not None and batch.shape[1] not in spec.channels:
            raise InvalidInputError(
                f"{spec.name} restores images with {spec.channels} channels, got {batch.shape[1]}"
            )
        self.check_params(params)
        with _plugin_call(f"restorer {self.name!r} on an input of shape {tuple(batch.shape)}", params):
            out = self._restore(batch.to(self.device), **params)
        if not isinstance(out, torch.Tensor) or out.shape != batch.shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise InvalidInputError(f"{self.name} returned {got}, expected {tuple(batch.shape)}")
        if not all(math.isfinite(v) for v in value_range(out)):
            # clamp() keeps NaN: say so here rather than write black or garbage images later
            raise PluginError(
                f"{self.name} returned NaN or Inf values for an input of shape {tuple(batch.shape)}; "
                "this is a bug in the restorer (report it to its plugin), or the input is too small for it"
            )
        # out of place: an output made under torch.inference_mode() cannot be changed in place here
        return out.to(batch.device, torch.float32).clamp(0, 1)

    @abstractmethod
    def _restore(self, x: torch.Tensor, **params: Any) -> torch.Tensor:
        """Implement: ``x`` (``B×C×H×W`` float32 on ``self.device``, finite, may leave [0, 1]) and the
        ``params`` the spec declares (``sigma``: a float, or a 0-d or per-image tensor; ``kernel``:
        ``kH×kW``; ``mask``: ``B×1×H×W``) -> a tensor shaped like ``x`` (cast to float32 and clamped
        by :meth:`restore`). See the plugin guide's four contracts."""


def _check_noise_level(sigma: Any, name: str) -> None:
    if isinstance(sigma, (list, tuple)) and sigma and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in sigma):
        sigma = torch.tensor([float(v) for v in sigma])  # one σ per image, as a list
    if isinstance(sigma, torch.Tensor):
        if sigma.is_meta or sigma.is_complex() or not (sigma.is_floating_point() or sigma.dtype in (
                torch.uint8, torch.int16, torch.int32, torch.int64)):
            raise InvalidInputError(f"{name}: sigma must be a number or a real tensor, got a {sigma.dtype} tensor")
        ok = bool(torch.isfinite(sigma).all()) and bool((sigma >= 0).all()) if sigma.numel() else False
    else:
        ok = (isinstance(sigma, (int, float)) and not isinstance(sigma, bool)
              and math.isfinite(sigma) and sigma >= 0)
    if not ok:
        raise InvalidInputError(f"{name}: sigma is the noise standard deviation on the [0, 1] scale, a finite "
                                f"number >= 0 such as 0.1 (25/255 for the usual σ=25), got {sigma!r:.60}")


def noise_levels(sigma: Any, batch: int, *, name: str = "sigma", dtype: torch.dtype = torch.float32
                 ) -> torch.Tensor:
    """Each image's noise level: ``sigma`` as ``restore()`` passes it on, checked, as a CPU tensor of
    ``batch`` values.

    ``sigma`` is the noise standard deviation on the [0, 1] scale, one for the whole batch (a
    ``float``, an ``int``, a 0-d or one-element tensor) or one per image (a ``Tensor[B]`` or a list
    of numbers). Each value must be finite and in [0, 1]; a value above 1 is taken for an 8-bit
    level and refused with the division to make. Raises :class:`InvalidInputError` naming ``name``.
    For a restorer whose ``_restore`` handles one level per image (a loop, or a per-image weight):

    >>> noise_levels(0.1, 3)
    tensor([0.1000, 0.1000, 0.1000])
    >>> noise_levels(torch.tensor([0.0, 0.2]), 2, dtype=torch.float64)
    tensor([0.0000, 0.2000], dtype=torch.float64)
    """
    if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
        raise InvalidInputError(f"batch must be a positive int, got {batch!r}")
    values: Any = sigma
    if isinstance(sigma, torch.Tensor):
        if sigma.is_meta or sigma.is_complex() or sigma.dtype == torch.bool:
            raise InvalidInputError(f"{name} must be a number or a real tensor, got a {sigma.dtype} tensor")
        values = sigma.detach().cpu()
    elif isinstance(sigma, (list, tuple)):
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in sigma):
            values = None
    elif not isinstance(sigma, (int, float)) or isinstance(sigma, bool):
        values = None
    try:
        levels = None if values is None else torch.as_tensor(values, dtype=dtype).flatten()
    except (TypeError, ValueError, RuntimeError):
        levels = None
    if levels is None:
        raise InvalidInputError(f"{name} must be a number (the noise standard deviation on the [0, 1] scale) "
                                f"or one per image, got {sigma!r:.60}")
    if levels.numel() not in (1, batch):
        raise InvalidInputError(f"{name} must be one noise level or one per image ({batch}), "
                                f"got {levels.numel()} values")
    if not bool(torch.isfinite(levels).all()) or bool((levels < 0).any()):
        raise InvalidInputError(f"{name} must be finite and >= 0 (the noise standard deviation on the [0, 1] "
                                f"scale), got {levels.tolist()}")
    if bool((levels > 1).any()):
        high = float(levels.max())
        raise InvalidInputError(f"{name}={high:g} looks like an 8-bit noise level; pass it on the [0, 1] scale "
                                f"({high:g}/255)")
    return levels.expand(batch)


class Generator(ABC):
    """Generates images from latent vectors: ``sample(n, seed)`` -> ``Tensor[n, C, H, W]`` in [0, 1]."""

    spec: ClassVar[GeneratorSpec | None] = None
    latent_dim: int = 100
    output_shape: tuple[int, int, int] = (1, 28, 28)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _check_class_spec(cls, GeneratorSpec)

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = default_device(device)

    @property
    def conditional(self) -> bool:
        """Whether ``sample``/``decode`` take class ``labels`` (the spec says so, or a subclass does)."""
        return bool(self.spec is not None and self.spec.conditional)

    def _refuse_labels_unless_conditional(self, labels: Any) -> None:
        if labels is not None and not self.conditional:
            raise InvalidInputError(f"{type(self).__name__} is not class-conditional; drop labels=")

    def latents(self, n: int, seed: int | torch.Generator | None = None) -> torch.Tensor:
        """``n`` latent vectors, drawn on the CPU so the same seed gives the same bytes on any device."""
        return torch.randn(n, self.latent_dim, generator=make_generator(seed))

    @torch.inference_mode()
    def decode(self, z: torch.Tensor, batch_size: int = 512, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images for latent vectors ``z`` (``n × latent_dim``), in batches, returned on the CPU."""
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.latent_dim:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise InvalidInputError(f"z must be an n×{self.latent_dim} tensor, got {got}")
        _check_tensor_storage(z, "z")
        _check_batch_size(batch_size)
        chunks = []
        name = self.spec.name if self.spec else type(self).__name__
        with _plugin_call(f"generator {name!r} decoding {z.shape[0]} latents"):
            for start in range(0, z.shape[0], batch_size):
                zb = z[start:start + batch_size].to(self.device)
                lb = None if labels is None else labels[start:start + batch_size].to(self.device)
                chunks.append(self._decode(zb, lb).float().clamp_(0, 1).cpu())
        if not chunks:
            return torch.empty(0, *self.output_shape)
        return torch.cat(chunks)

    def sample(self, n: int, seed: int | torch.Generator | None = None, *, batch_size: int = 512,
               labels: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` samples in [0, 1]; the same ``seed`` gives the same bytes."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise InvalidInputError(f"n must be a non-negative int, got {n!r}")
        _check_batch_size(batch_size)
        self._refuse_labels_unless_conditional(labels)
        return self.decode(self.latents(n, seed), batch_size=batch_size, labels=labels)

    def interpolate(self, z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, *,
                    labels: Any = None) -> torch.Tensor:
        """Images along the straight line from ``z0`` to ``z1`` (``steps`` images, both ends included);
        a class-conditional generator takes ``labels`` (one class for the whole path, or one per image)."""
        if steps < 2:
            raise InvalidInputError(f"steps must be at least 2, got {steps}")
        self._refuse_labels_unless_conditional(labels)
        z0, z1 = z0.reshape(1, -1).float(), z1.reshape(1, -1).float()
        t = torch.linspace(0, 1, steps).unsqueeze(1)
        return self.decode((1 - t) * z0 + t * z1, labels=labels)

    @abstractmethod
    def _decode(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Implement: ``z`` (``b×latent_dim`` float32 on ``self.device``) and ``labels`` (``None``, or a
        ``LongTensor[b]`` for a conditional generator) -> ``b×C×H×W`` images in [0, 1]. See the plugin
        guide's four contracts."""


def _check_batch_size(batch_size: Any) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a positive int, got {batch_size!r}")


#: The ``restore()`` parameters a degradation's true values are given as: the restorers' vocabulary.
TRUTH_KEYS = ("sigma", "kernel", "mask", "amount")


def degradation_truth(task: str | None, params: Mapping[str, Any], info: Mapping[str, Any]) -> dict[str, Any]:
    """What a degradation did, in the restorers' vocabulary (:data:`TRUTH_KEYS`), from its task, its
    own ``params`` and the ``info`` its ``_apply`` returned.

    ``sigma`` is the additive noise σ on the [0, 1] scale: ``info["noise_sigma"]``, or the ``sigma``
    parameter of a degradation that poses the ``denoise`` task; a blur's own ``sigma`` (its width)
    is never it. ``kernel`` and ``mask`` are ``info``'s; ``amount`` is ``info["amount"]``, or the
    ``amount`` parameter of an ``impulse`` degradation. The pipeline, the bench and the trainers
    all read the truth from here (:attr:`Degraded.truth`).

    >>> degradation_truth("deblur", {"sigma": 2.0, "noise": 0.01}, {"noise_sigma": 0.01})
    {'sigma': 0.01}
    >>> degradation_truth("denoise", {"sigma": 0.1}, {})
    {'sigma': 0.1}
    """
    truth: dict[str, Any] = {}
    noise = info.get("noise_sigma")
    if noise is None and task == "denoise":
        noise = params.get("sigma")
    if noise is not None:
        truth["sigma"] = noise
    for key in ("kernel", "mask", "amount"):
        if info.get(key) is not None:
            truth[key] = info[key]
    if "amount" not in truth and task == "impulse" and params.get("amount") is not None:
        truth["amount"] = params["amount"]
    return truth


def combine_truth(first: Mapping[str, Any], then: Mapping[str, Any]) -> dict[str, Any]:
    """The truth of two degradations applied one after the other: independent noises add in
    quadrature (σ = √(σ₁² + σ₂²)); for the other keys the later degradation's value wins."""
    out = {**first, **then}
    if "sigma" in first and "sigma" in then:
        try:
            out["sigma"] = math.hypot(float(first["sigma"]), float(then["sigma"]))
        except (TypeError, ValueError):  # per-image tensors: the later one
            pass
    return out


@dataclass(frozen=True)
class Degraded:
    """A degraded batch and what was done to it.

    ``params`` are the degradation's own parameters (its vocabulary: a blur's ``sigma`` is its
    width); ``truth`` what a restorer may be told, in the restorers' vocabulary (noise ``sigma``,
    ``kernel``, ``mask``, ``amount``; see :func:`degradation_truth`); ``info`` everything together
    for reports: the degradation's name, its params and what its ``_apply`` returned.
    """

    image: torch.Tensor
    info: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)


class Degradation(ABC):
    """A seeded degradation: ``d(x, seed=None)`` -> degraded tensor; ``d.apply`` also says what it did."""

    spec: ClassVar[DegradationSpec | None] = None
    #: from the spec when there is one (see :class:`_SpecFact`)
    name: str = _SpecFact("name")  # type: ignore[assignment]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _spec_facts_from_spec(cls, ("name",))
        _check_class_spec(cls, DegradationSpec)

    @property
    def params(self) -> dict[str, Any]:
        """The parameters this instance applies."""
        return {}

    def __call__(self, x: Any, seed: int | torch.Generator | None = None) -> torch.Tensor:
        return self.apply(x, seed).image

    #: whether the output is clipped to [0, 1] (a degradation may let noise leave it, e.g. ``clip=False``)
    clip: bool = True

    def apply(self, x: Any, seed: int | torch.Generator | None = None) -> Degraded:
        _check_tensor_storage(x, "x")
        batch = as_image_batch(x, name="x")
        rng = make_generator(seed)
        with _plugin_call(f"degradation {self.name!r} on an input of shape {tuple(batch.shape)}"):
            image, info = self._apply(batch, rng)
        params = dict(self.params)
        task = self.spec.task if self.spec is not None else None
        return Degraded(image.clamp(0, 1) if self.clip else image,
                        {"degradation": self.name, **params, **info}, params,
                        degradation_truth(task, params, info))

    @abstractmethod
    def _apply(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        """Implement: ``x`` (``B×C×H×W`` float32 in [0, 1]) and ``rng`` (a CPU ``torch.Generator``: draw
        every random number from it on the CPU) -> ``(degraded, info)``: the degraded batch shaped like
        ``x`` and a dict of what was done (``noise_sigma``, ``kernel``, ``mask``...). See the plugin
        guide's four contracts."""
