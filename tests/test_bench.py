"""The bench harness: task construction, seeds, failing plugins, report files, compare, CLI.

Everything runs against an in-process registry of tiny fake components on 32² crops, so the
file takes seconds and does not depend on which plugins happen to be installed.
"""

from __future__ import annotations

import csv
import json
import zlib

import pytest
import torch

import pixelsmith
from pixelsmith import (
    Degradation,
    DegradationSpec,
    Generator,
    GeneratorSpec,
    Metric,
    MetricSpec,
    Restorer,
    RestorerSpec,
    hookimpl,
)
from pixelsmith.bench import (
    DEGRADED,
    BenchOptions,
    BenchPlan,
    Task,
    compare_results,
    format_comparison,
    image_seed,
    load_results,
    make_plan,
    restorer_params,
    run_bench,
    write_report,
)
from pixelsmith.bench import cli as bench_cli
from pixelsmith.registry import Registry


# -- fake components -----------------------------------------------------------------------------------------
class MSEPSNR(Metric):
    name = "psnr"
    higher_is_better = True

    @property
    def settings(self):
        return {"data_range": 1.0, "channel_space": "as given"}

    def _compute(self, pred, target):
        mse = ((pred - target) ** 2).flatten(1).mean(1).clamp_min(1e-12)
        return 10 * torch.log10(1 / mse)


class AddNoise(Degradation):
    name = "gaussian-noise"

    def __init__(self, sigma=0.1):
        self.sigma = sigma

    @property
    def params(self):
        return {"sigma": self.sigma}

    def _apply(self, x, rng):
        return x + self.sigma * torch.randn(x.shape, generator=rng), {}


class BoxBlur(Degradation):
    """Calls its blur width ``sigma`` like the real gaussian-blur does, and adds ``noise``."""

    name = "gaussian-blur"

    def __init__(self, sigma=1.0, noise=0.0):
        self.sigma, self.noise = sigma, noise

    @property
    def params(self):
        return {"sigma": self.sigma, "noise": self.noise}

    def _apply(self, x, rng):
        k = torch.full((1, 1, 3, 3), 1 / 9)
        out = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), k)
        # as the contract says: the noise σ it added is info["noise_sigma"] (its truth's sigma)
        return out + self.noise * torch.randn(x.shape, generator=rng), {"kernel": k[0, 0], "noise_sigma": self.noise}


class MeanFilter(Restorer):
    """A denoiser that needs the true σ, and checks it got the noise σ, not a blur width."""

    seen: list = []

    def _restore(self, x, sigma=None):
        MeanFilter.seen.append(float(sigma))
        k = torch.full((1, 1, 3, 3), 1 / 9)
        out = torch.nn.functional.conv2d(torch.nn.functional.pad(x.reshape(-1, 1, *x.shape[-2:]),
                                                                 (1, 1, 1, 1), mode="reflect"), k)
        return out.reshape(x.shape)


class Identity(Restorer):
    def _restore(self, x, kernel=None, sigma=None):
        assert kernel is not None
        return x.clone()


class Raises(Restorer):
    def _restore(self, x, **_):
        raise RuntimeError("boom from a broken plugin")


class WrongShape(Restorer):
    def _restore(self, x, **_):
        return x[..., :-1, :]


class ImpulseOnly(Restorer):
    def _restore(self, x, **_):  # pragma: no cover - must never run on a denoising task
        raise AssertionError("ran on a task it did not declare")


def _unbuildable(device=None):
    raise pixelsmith.WeightsError("weights file missing (fake)")


class Noise(Generator):
    latent_dim = 4
    output_shape = (1, 28, 28)

    def _decode(self, z, labels):
        g = torch.Generator().manual_seed(int(z[0, 0].abs() * 1000))
        return torch.rand(z.shape[0], 1, 28, 28, generator=g)


class MeanGap(Metric):
    """A stand-in distributional metric: gap between the sets' mean brightness."""

    name = "mean-gap"
    higher_is_better = False

    def _check_pair(self, pred, target):
        pass

    def _compute(self, pred, target):
        return (pred.mean() - target.mean()).abs().reshape(1)


class FakePlugin:
    @hookimpl
    def pixelsmith_register_metrics(self):
        return [MetricSpec(name="psnr", factory=MSEPSNR, summary="psnr", higher_is_better=True),
                MetricSpec(name="mean-gap", factory=MeanGap, summary="gap", higher_is_better=False,
                           reference="distributional")]

    @hookimpl
    def pixelsmith_register_degradations(self):
        return [DegradationSpec(name="gaussian-noise", factory=AddNoise, summary="noise", task="denoise"),
                DegradationSpec(name="gaussian-blur", factory=BoxBlur, summary="blur", task="deblur")]

    @hookimpl
    def pixelsmith_register_restorers(self):
        return [
            RestorerSpec(name="mean", factory=MeanFilter, summary="mean", tasks=("denoise",), requires=("sigma",)),
            RestorerSpec(name="identity-deblur", factory=Identity, summary="id", tasks=("deblur",),
                         requires=("kernel",), accepts=("sigma",)),
            RestorerSpec(name="raises", factory=Raises, summary="raises", tasks=("denoise",)),
            RestorerSpec(name="wrong-shape", factory=WrongShape, summary="wrong", tasks=("denoise",)),
            RestorerSpec(name="unbuildable", factory=_unbuildable, summary="no weights", tasks=("denoise",)),
            RestorerSpec(name="impulse-only", factory=ImpulseOnly, summary="impulse", tasks=("impulse",)),
            RestorerSpec(name="gray-only", factory=MeanFilter, summary="gray", tasks=("denoise",),
                         channels=(1,), requires=("sigma",)),
        ]

    @hookimpl
    def pixelsmith_register_generators(self):
        return [GeneratorSpec(name="noise-gen", factory=Noise, summary="noise", output_shape=(1, 28, 28))]


@pytest.fixture
def fake_registry() -> Registry:
    reg = Registry()
    reg.add_plugin(FakePlugin(), name="fake", distribution="pixelsmith-fake", version="9.9")
    MeanFilter.seen = []
    with reg.activate():
        yield reg


def _plan(**kw) -> BenchPlan:
    tasks = [
        Task(name="denoise-gray-s25", suite="restoration", task="denoise", degradation="gaussian-noise",
             params={"sigma": 25 / 255}, channels=1, images=("camera", "coins"), level_name="sigma", level=25.0,
             family="gaussian-noise-gray"),
        Task(name="denoise-rgb-s25", suite="restoration", task="denoise", degradation="gaussian-noise",
             params={"sigma": 25 / 255}, channels=3, images=("chelsea",), level_name="sigma", level=25.0,
             family="gaussian-noise-rgb"),
        Task(name="deblur-gray", suite="restoration", task="deblur", degradation="gaussian-blur",
             params={"sigma": 2.0, "noise": 0.01}, channels=1, images=("camera",)),
        Task(name="robust-noise-s50", suite="robustness", task="denoise", degradation="gaussian-noise",
             params={"sigma": 50 / 255}, channels=1, images=("camera",), level_name="sigma", level=50.0,
             family="gaussian-noise"),
        Task(name="needs-missing-degradation", suite="restoration", task="impulse", degradation="no-such-thing",
             params={}, channels=1, images=("camera",)),
    ]
    return BenchPlan(tasks=tasks, size=32, generation=kw.get("generation", False), quick=True,
                     n_samples=kw.get("n_samples", 16), grid_samples=9)


def _records(result, **match):
    return [r for r in result.records if all(r.get(k) == v for k, v in match.items())]


# -- tasks -------------------------------------------------------------------------------------------------------
def test_quick_plan_has_the_promised_tasks():
    plan = make_plan(quick=True, suites=("restoration", "robustness"))
    names = [t.name for t in plan.tasks]
    assert {"denoise-gray-s25", "denoise-rgb-s25", "impulse-gray-sp30", "deblur-gray-gauss2"} <= set(names)
    assert plan.size == 128 and all(len(t.images) <= 2 for t in plan.tasks)
    assert any(t.suite == "robustness" and t.task != "denoise" for t in plan.tasks)
    full = make_plan(quick=False, suites=("restoration",))
    assert {t.level for t in full.tasks if t.family == "gaussian-noise-gray"} == {15.0, 25.0, 50.0}
    assert {t.degradation for t in full.tasks} >= {"gaussian-noise", "salt-and-pepper", "gaussian-blur",
                                                   "motion-blur"}
    assert any(t.channels == 3 for t in full.tasks)


def test_unknown_suite_is_a_clear_error():
    with pytest.raises(pixelsmith.InvalidInputError, match="unknown suite 'nope'"):
        make_plan(quick=True, suites=("nope",))


def test_seeds_are_stable_per_task_and_image():
    assert image_seed("denoise-gray-s25", "camera") == zlib.crc32(b"denoise-gray-s25/camera") & 0x7FFFFFFF
    plan = make_plan(quick=False, suites=("restoration",))
    seeds = [t.seed(img) for t in plan.tasks for img in t.images]
    assert len(set(seeds)) == len(seeds)
    assert plan.tasks[0].to_dict()["seeds"]["camera"] == plan.tasks[0].seed("camera")


def test_restorer_params_give_the_noise_sigma_not_the_blur_width():
    x = torch.rand(1, 1, 16, 16)
    blurred = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=0.01).apply(x, seed=0)
    got = restorer_params(blurred.truth, ("kernel", "sigma"))
    assert got["sigma"] == 0.01 and got["kernel"] is blurred.truth["kernel"]
    noisy = pixelsmith.degradation("gaussian-noise", sigma=0.1).apply(x, seed=0)
    assert restorer_params(noisy.truth, ("sigma",)) == {"sigma": 0.1}
    assert restorer_params(noisy.truth, ()) == {}


# -- runner ------------------------------------------------------------------------------------------------------
def test_run_records_failures_and_goes_on(fake_registry):
    result = run_bench(BenchOptions(quick=True, quiet=True, metrics=("psnr",), device="cpu"),
                       registry=fake_registry, plan=_plan())
    ok = _records(result, task="denoise-gray-s25", component="mean")
    assert [r["status"] for r in ok] == ["ok", "ok"]
    base = _records(result, task="denoise-gray-s25", component=DEGRADED)
    assert all(r["metrics"]["psnr"] > b["metrics"]["psnr"] for r, b in zip(ok, base))
    assert ok[0]["params_given"] == ["sigma"] and ok[0]["plugin"] == "pixelsmith-fake"
    assert ok[0]["seconds"] is not None and ok[0]["seed"] == image_seed("denoise-gray-s25", "camera")

    raised = _records(result, task="denoise-gray-s25", component="raises")
    assert raised and all(r["status"] == "failed" and "boom from a broken plugin" in r["error"] for r in raised)
    wrong = _records(result, task="denoise-gray-s25", component="wrong-shape")
    assert wrong and all(r["status"] == "failed" and "expected (1, 1, 32, 32)" in r["error"] for r in wrong)
    unbuilt = _records(result, component="unbuildable")
    assert unbuilt and all("could not be built" in r["error"] for r in unbuilt)

    # declared task and channels decide who runs where; the robustness suite runs everyone
    assert not _records(result, suite="restoration", component="impulse-only")
    assert not _records(result, task="denoise-rgb-s25", component="gray-only")
    assert _records(result, task="denoise-rgb-s25", component="mean")[0]["status"] == "ok"
    robust = _records(result, task="robust-noise-s50", component="impulse-only")
    assert robust and robust[0]["in_domain"] is False
    skipped = _records(result, task="robust-noise-s50", component="identity-deblur")
    assert skipped[0]["status"] == "skipped" and "needs kernel" in skipped[0]["error"]

    # deblur: the kernel and the NOISE sigma (0.01) are handed over, not the blur width (2.0)
    deblur = _records(result, task="deblur-gray", component="identity-deblur")
    assert deblur[0]["status"] == "ok" and deblur[0]["params_given"] == ["kernel", "sigma"]
    assert all(s in (25 / 255, 50 / 255) for s in MeanFilter.seen)
    assert any("no-such-thing" in n for n in result.notes)
    assert result.provenance["versions"]["torch"] and result.provenance["plugins"][0]["version"] == "9.9"
    assert result.provenance["device"] == "cpu" and result.provenance["torch_threads"] >= 1
    assert result.metric_settings["psnr"]["data_range"] == 1.0


def test_same_run_twice_gives_the_same_values(fake_registry):
    opts = BenchOptions(quick=True, quiet=True, metrics=("psnr",), device="cpu")
    a = run_bench(opts, registry=fake_registry, plan=_plan())
    b = run_bench(opts, registry=fake_registry, plan=_plan())
    key = lambda r: (r["task"], r["component"], r["image"])  # noqa: E731
    va = {key(r): r["metrics"] for r in a.records}
    vb = {key(r): r["metrics"] for r in b.records}
    assert va == vb and any(v for v in va.values())


def test_only_restricts_components(fake_registry):
    result = run_bench(BenchOptions(quick=True, quiet=True, metrics=("psnr",), only=("mean", "nope")),
                       registry=fake_registry, plan=_plan())
    assert {r["component"] for r in result.records} == {"mean", DEGRADED}
    assert any("nope" in n for n in result.notes)


def test_generation_suite_scores_every_generator(fake_registry):
    result = run_bench(BenchOptions(quick=True, quiet=True, metrics=("psnr",), suites=("generation",)),
                       registry=fake_registry, plan=BenchPlan(tasks=[], size=32, generation=True, quick=True,
                                                              n_samples=16, grid_samples=9))
    gen = _records(result, suite="generation", component="noise-gen")
    assert gen[0]["status"] == "ok" and "mean-gap" in gen[0]["metrics"]
    real = _records(result, suite="generation", component="(real data)")
    assert real[0]["metrics"]["mean-gap"] < gen[0]["metrics"]["mean-gap"]
    assert result.grids["noise-gen"].shape == (9, 1, 28, 28)


# -- report and compare -------------------------------------------------------------------------------------------
@pytest.fixture
def report_dir(fake_registry, tmp_path):
    result = run_bench(BenchOptions(quick=True, quiet=True, metrics=("psnr",)), registry=fake_registry,
                       plan=_plan(generation=True))
    out = tmp_path / "run"
    write_report(result, out)
    return out


def test_report_files_exist_and_parse(report_dir):
    data = json.loads((report_dir / "results.json").read_text())
    assert data["schema"] == 1 and data["records"] and data["tasks"]
    assert data["provenance"]["plugins"][0]["distribution"] == "pixelsmith-fake"
    rows = list(csv.DictReader((report_dir / "results.csv").open()))
    assert len(rows) == len(data["records"]) and "psnr" in rows[0]
    assert {r["status"] for r in rows} >= {"ok", "failed"}
    md = (report_dir / "results.md").read_text()
    assert "| # | method |" in md and "**" in md and "denoise-gray-s25" in md
    page = (report_dir / "index.html").read_text()
    assert page.count("<table") >= 3 and "data:image/png;base64," in page
    assert "boom from a broken plugin" in page
    assert 'src="http' not in page and "src='http" not in page  # self-contained
    assert (report_dir / "plots" / "psnr_vs_sigma.png").stat().st_size > 1000
    assert (report_dir / "samples" / "noise-gen.png").exists()


def test_previous_results_are_not_overwritten(report_dir, fake_registry):
    from pixelsmith.bench import check_output_dir

    (report_dir / "mine.txt").write_text("user data")
    before = (report_dir / "results.json").read_text()
    with pytest.raises(pixelsmith.InvalidInputError, match="--overwrite"):
        check_output_dir(report_dir, overwrite=False)
    assert bench_cli.main(["--quiet", "--suite", "restoration", "-o", str(report_dir)]) == 2
    assert (report_dir / "results.json").read_text() == before
    check_output_dir(report_dir, overwrite=True)
    check_output_dir(report_dir / "new", overwrite=False)
    assert (report_dir / "mine.txt").read_text() == "user data"


def test_compare_reports_better_and_worse(report_dir, tmp_path, capsys):
    a = load_results(report_dir / "results.json")
    b = json.loads(json.dumps(a))
    for r in b["records"]:
        if r["component"] == "mean" and r["task"] == "denoise-gray-s25":
            r["metrics"]["psnr"] += 1.5
        if r["component"] == "identity-deblur" and r["task"] == "deblur-gray":
            r["metrics"]["psnr"] -= 0.5
    diff = compare_results(a, b)
    assert [(d["task"], d["component"]) for d in diff["better"]] == [("denoise-gray-s25", "mean")]
    assert diff["better"][0]["delta"] == pytest.approx(1.5)
    assert [(d["task"], d["component"]) for d in diff["worse"]] == [("deblur-gray", "identity-deblur")]
    text = format_comparison(diff)
    assert "1 better, 1 worse" in text and "+1.5000" in text and "-0.5000" in text
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "results.json").write_text(json.dumps(b))
    assert bench_cli.main(["compare", str(report_dir), str(tmp_path / "b" / "results.json")]) == 0
    assert "denoise-gray-s25" in capsys.readouterr().out
    assert bench_cli.main(["compare", str(report_dir), str(tmp_path / "b"), "--fail-on-worse"]) == 1


def test_cli_runs_with_whatever_is_registered(fake_registry, tmp_path, monkeypatch):
    import pixelsmith.bench.runner as runner

    monkeypatch.setattr(runner, "make_plan", lambda **kw: _plan())
    out = tmp_path / "cli"
    assert bench_cli.main(["--quick", "--quiet", "--suite", "restoration", "--device", "cpu", "-o", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["provenance"]["quick"] is True
    assert {r["component"] for r in data["records"]} >= {"mean", "raises"}
    assert bench_cli.main(["compare", str(out / "nope.json"), str(out)]) == 2


def test_blind_run_withholds_what_a_restorer_merely_accepts(fake_registry, tmp_path):
    from pixelsmith.bench.report import write_report

    opts = BenchOptions(quick=True, quiet=True, metrics=("psnr",), device="cpu", blind=True)
    result = run_bench(opts, registry=fake_registry, plan=_plan())
    # identity-deblur requires the kernel and accepts sigma: blind, it gets the kernel only
    deblur = _records(result, task="deblur-gray", component="identity-deblur")
    assert deblur[0]["status"] == "ok" and deblur[0]["params_given"] == ["kernel"]
    # mean requires sigma, so it still gets it
    assert _records(result, task="denoise-gray-s25", component="mean")[0]["params_given"] == ["sigma"]
    assert result.provenance["blind"] is True
    written = write_report(result, tmp_path / "out")
    assert "only when they require it (`--blind`)" in written["results.md"].read_text()


# -- third-party metrics and degradations (--metric, --task) ----------------------------------------------------
class AbsError(Metric):
    """A third-party full-reference metric the bench knows nothing about."""

    @property
    def settings(self):
        return {"reduction": "mean absolute difference per image"}

    def _compute(self, pred, target):
        return (pred - target).abs().flatten(1).mean(1)


class Speckle(Degradation):
    """A third-party denoising task: multiplicative noise that reports its level as noise_sigma."""

    def __init__(self, sigma=0.1):
        self.sigma = sigma

    @property
    def params(self):
        return {"sigma": self.sigma}

    def _apply(self, x, rng):
        return x * (1 + self.sigma * torch.randn(x.shape, generator=rng)), {"noise_sigma": self.sigma}


class WideBox(Degradation):
    """A third-party deblurring task whose blur width is called sigma (no noise_sigma in its info)."""

    def __init__(self, sigma=1):
        self.sigma = int(sigma)

    @property
    def params(self):
        return {"sigma": self.sigma}

    def _apply(self, x, rng):
        k = 2 * self.sigma + 1
        kernel = torch.full((k, k), 1 / k**2)
        pad = torch.nn.functional.pad(x, (self.sigma,) * 4, mode="replicate")
        out = torch.nn.functional.conv2d(pad.reshape(-1, 1, *pad.shape[-2:]), kernel[None, None])
        return out.reshape(x.shape), {"kernel": kernel}


class ThirdParty:
    @hookimpl
    def pixelsmith_register_metrics(self):
        return [MetricSpec(name="abs-error", factory=AbsError, summary="MAE", higher_is_better=False)]

    @hookimpl
    def pixelsmith_register_degradations(self):
        return [DegradationSpec(name="speckle", factory=Speckle, summary="speckle", task="denoise",
                                params={"sigma": 0.1}),
                DegradationSpec(name="wide-box", factory=WideBox, summary="box blur", task="deblur",
                                params={"sigma": 1})]


@pytest.fixture
def third_party(fake_registry):
    fake_registry.add_plugin(ThirdParty(), name="third", distribution="pixelsmith-third", version="0.1")
    return fake_registry


def test_parse_task_reads_values_like_the_cli():
    from pixelsmith.bench.tasks import parse_task

    assert parse_task("speckle") == ("speckle", {}, 1)
    assert parse_task("my-blur:sigma=2,noise=0.01,wrap=true,taps=[1, 2],channels=3") == (
        "my-blur", {"sigma": 2, "noise": 0.01, "wrap": True, "taps": [1, 2]}, 3)
    for bad in ("speckle:sigma", ":sigma=1", "speckle:channels=2"):
        with pytest.raises(pixelsmith.InvalidInputError, match="--task"):
            parse_task(bad)


def test_metric_and_task_flags_bench_third_party_components(third_party, tmp_path):
    out = tmp_path / "third"
    assert bench_cli.main(["--quick", "--quiet", "--suite", "none", "--metric", "abs-error", "--device", "cpu",
                           "--task", "speckle:sigma=0.05", "--task", "wide-box:sigma=2",
                           "--task", "speckle:sigma=0.05,channels=3", "-o", str(out)]) == 0
    data = json.loads((out / "results.json").read_text())
    assert {t["name"] for t in data["tasks"]} == {"speckle-sigma0.05", "wide-box-sigma2", "speckle-sigma0.05-rgb"}
    assert {r["suite"] for r in data["records"]} == {"custom"}
    assert data["provenance"]["metrics"] == ["psnr", "ssim", "abs-error"]

    mean = [r for r in data["records"] if r["task"] == "speckle-sigma0.05" and r["component"] == "mean"]
    assert [r["status"] for r in mean] == ["ok", "ok"] and mean[0]["params_given"] == ["sigma"]
    base = [r for r in data["records"] if r["task"] == "speckle-sigma0.05" and r["component"] == DEGRADED]
    # the third-party metric is a column of every record, and it ranks the restorer as psnr does
    assert all(r["metrics"]["abs-error"] > 0 and (r["metrics"]["abs-error"] < b["metrics"]["abs-error"])
               == (r["metrics"]["psnr"] > b["metrics"]["psnr"]) for r, b in zip(mean, base))
    assert MeanFilter.seen and set(MeanFilter.seen) == {0.05}  # the noise level from info["noise_sigma"]

    # the blur's width (its "sigma") is not handed over as a noise level: only the kernel
    deblur = [r for r in data["records"] if r["task"] == "wide-box-sigma2" and r["component"] == "identity-deblur"]
    assert deblur and all(r["status"] == "ok" and r["params_given"] == ["kernel"] for r in deblur)
    assert not [r for r in data["records"] if r["task"] == "wide-box-sigma2" and r["component"] == "mean"]

    rgb = {r["component"] for r in data["records"] if r["task"] == "speckle-sigma0.05-rgb"}
    assert "mean" in rgb and "gray-only" not in rgb
    md = (out / "results.md").read_text()
    assert "abs-error ↓" in md and "speckle-sigma0.05: speckle(sigma=0.05), gray" in md
    assert "**abs-error**" in md  # its settings are in the report


@pytest.mark.parametrize("argv, message", [
    (["--metric", "mean-gap"], "distributional metric"),
    (["--metric", "abs-eror"], "did you mean 'abs-error'"),
    (["--task", "speckel"], "did you mean 'speckle'"),
    (["--task", "speckle:sigmaa=0.1"], "--task speckle:sigmaa=0.1"),
    (["--suite", "none"], "--suite none runs only the --task tasks"),
])
def test_bad_metric_and_task_flags_fail_before_the_run(third_party, tmp_path, capsys, argv, message):
    assert bench_cli.main(["--quick", "--quiet", "-o", str(tmp_path / "x"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_bench_help_documents_metric_and_task(capsys):
    with pytest.raises(SystemExit):
        bench_cli.main(["--help"])
    text = capsys.readouterr().out
    assert "--metric NAME" in text and "--task DEGRADATION[:k=v,...]" in text and "channels=3" in text
