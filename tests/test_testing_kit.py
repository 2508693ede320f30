"""The conformance kit passes honest components and catches each kind of broken one."""

from __future__ import annotations

import copy
import dataclasses

import importlib
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pixelsmith
from pixelsmith.cli import main
from pixelsmith.testing import (
    ConformanceError,
    check_degradation,
    check_generator,
    check_metric,
    check_restorer,
    checks,
    registered,
)

import fake_components as fc
from fake_components import FakePlugin


@pytest.fixture
def fakes():
    with registered(FakePlugin()) as reg:
        yield reg


def _with_spec(obj, spec):
    obj.spec = spec
    return obj


# -- honest components pass -----------------------------------------------------------------------------
def test_honest_fakes_pass_by_name(fakes):
    check_restorer("tiny-box")
    check_generator("tiny-gen")
    check_metric("tiny-mae", size=(16, 16))
    check_degradation("tiny-noise")


def test_instances_with_specs_pass():
    check_restorer(_with_spec(fc.BoxRestorer(device="cpu"), fc.BOX_SPEC))
    check_degradation(_with_spec(fc.GaussianNoise(), fc.NOISE_SPEC))


@pytest.mark.parametrize("name", ["mse", "psnr", "ssim"])
def test_builtin_metrics_pass(name):
    check_metric(name, size=(32, 32))


@pytest.mark.parametrize("name", ["gaussian-noise", "salt-and-pepper", "poisson-noise", "gaussian-blur"])
def test_builtin_degradations_pass(name):
    check_degradation(name)


def test_checks_are_named_for_parametrization(fakes):
    found = checks("restorer", "tiny-box")
    assert [str(c) for c in found][:3] == ["restorer-spec", "restorer-shapes_and_range", "restorer-input_unchanged"]
    for c in found:
        c()


def test_pytest_fixtures_come_from_the_pytest11_entry_point(pixelsmith_check, pixelsmith_plugins):
    pixelsmith_plugins(FakePlugin())
    pixelsmith_check("restorer", "tiny-box")
    with pytest.raises(ConformanceError):
        pixelsmith_check("restorer", _with_spec(BatchDependent(device="cpu"), fc.BOX_SPEC))


# -- broken components are caught, each by the right check ----------------------------------------------
class BatchDependent(fc.BoxRestorer):
    def _restore(self, x, **params):
        return (x - x.mean() + 0.5).clamp(0, 1)  # uses the whole batch's statistics


class InPlace(fc.BoxRestorer):
    def _restore(self, x, **params):
        return x.mul_(0.5)


class SkipsChecks(fc.BoxRestorer):
    def restore(self, x, **params):  # overrides the checked entry point and leaks a ValueError
        if torch.isnan(torch.as_tensor(x)).any():
            raise ValueError("nan")
        return torch.as_tensor(x) * 2


class Flaky(fc.BoxRestorer):
    def _restore(self, x, **params):
        return (x + 0.01 * torch.rand(x.shape)).clamp(0, 1)


class GlobalRng(fc.GaussianNoise):
    def _apply(self, x, rng):
        return x + self.sigma * torch.randn(x.shape), {"sigma": self.sigma}


class IgnoresSeed(fc.GaussianNoise):
    def _apply(self, x, rng):
        g = torch.Generator().manual_seed(int.from_bytes(np.random.default_rng().bytes(4), "little"))
        return x + self.sigma * torch.randn(x.shape, generator=g), {"sigma": self.sigma}


class BatchMean(fc.MeanAbsoluteError):
    def _compute(self, pred, target):
        return (pred - target).abs().mean()  # one number for the batch, not per image


class WrongDirection(fc.MeanAbsoluteError):
    higher_is_better = True


class Unseeded(fc.LinearGenerator):
    def latents(self, n, seed=None):
        return torch.randn(n, self.latent_dim)


def _failed(exc: ConformanceError) -> set[str]:
    return {line.split(":")[0].strip(" -") for line in str(exc).splitlines()[1:] if line.startswith("  - ")}


@pytest.mark.parametrize("broken, failing", [
    (BatchDependent, {"batch_independence"}),
    (InPlace, {"input_unchanged"}),
    (SkipsChecks, {"shapes_and_range", "bad_inputs", "numpy_input"}),
    (Flaky, {"deterministic", "batch_independence"}),
])
def test_broken_restorers_are_caught(broken, failing):
    with pytest.raises(ConformanceError) as info:
        check_restorer(_with_spec(broken(device="cpu"), fc.BOX_SPEC))
    assert failing <= _failed(info.value)
    assert "spec" not in _failed(info.value)


def test_a_restorer_without_spec_is_caught():
    with pytest.raises(ConformanceError, match="has no spec"):
        check_restorer(fc.BoxRestorer(device="cpu"))


@pytest.mark.parametrize("broken, failing", [
    (GlobalRng, {"global_rng_untouched"}),
    (IgnoresSeed, {"seeded"}),
])
def test_broken_degradations_are_caught(broken, failing):
    with pytest.raises(ConformanceError) as info:
        check_degradation(_with_spec(broken(), fc.NOISE_SPEC))
    assert failing <= _failed(info.value)


@pytest.mark.parametrize("broken, spec, failing", [
    (BatchMean, fc.MAE_SPEC, {"per_image"}),
    (WrongDirection, fc.MAE_SPEC, {"spec"}),
])
def test_broken_metrics_are_caught(broken, spec, failing):
    with pytest.raises(ConformanceError) as info:
        check_metric(_with_spec(broken(), spec), size=(16, 16))
    assert failing <= _failed(info.value)


def test_a_metric_claiming_the_wrong_direction_fails_best_value():
    wrong = pixelsmith.MetricSpec(name="mae-up", factory=WrongDirection, summary="wrong", higher_is_better=True)
    with pytest.raises(ConformanceError) as info:
        check_metric(_with_spec(WrongDirection(), wrong), size=(16, 16))
    assert _failed(info.value) == {"best_value"}


def test_an_unseeded_generator_is_caught():
    with pytest.raises(ConformanceError) as info:
        check_generator(_with_spec(Unseeded(device="cpu"), fc.GEN_SPEC))
    assert {"seeds"} <= _failed(info.value)


class Conditional(fc.LinearGenerator):
    """Honest: the label shifts the latent."""

    def _decode(self, z, labels):
        shift = 0.0 if labels is None else labels.float()[:, None]
        return super()._decode(z + shift, None)


class IgnoresLabels(fc.LinearGenerator):
    """Declared conditional, accepts labels= and drops them."""


COND_SPEC = dataclasses.replace(fc.GEN_SPEC, name="tiny-cond", conditional=True)


def test_a_conditional_generator_passes_and_one_that_ignores_labels_is_caught():
    check_generator(_with_spec(Conditional(device="cpu"), COND_SPEC))
    with pytest.raises(ConformanceError) as info:
        check_generator(_with_spec(IgnoresLabels(device="cpu"), COND_SPEC))
    assert _failed(info.value) == {"labels"} and "ignored" in str(info.value)


def test_an_unconditional_generator_must_refuse_labels():
    class Silent(fc.LinearGenerator):  # overrides the base class's refusal
        def sample(self, n, seed=None, *, batch_size=512, labels=None):
            return super().sample(n, seed, batch_size=batch_size)

    with pytest.raises(ConformanceError) as info:
        check_generator(_with_spec(Silent(device="cpu"), fc.GEN_SPEC))
    assert _failed(info.value) == {"labels"}


def test_malformed_spec_is_caught():
    bad = pixelsmith.RestorerSpec(name="bad", factory=fc.BoxRestorer, summary="x", tasks=("sharpen",))
    with pytest.raises(ConformanceError) as info:
        check_restorer(_with_spec(fc.BoxRestorer(device="cpu"), bad))
    assert _failed(info.value) == {"spec"} and "tasks" in str(info.value)


# -- new-plugin: the generated package passes the kit ---------------------------------------------------
def test_new_plugin_generates_a_package_that_passes_the_kit(tmp_path, monkeypatch, capsys):
    assert main(["new-plugin", "pixelsmith-softmedian", "-o", str(tmp_path)]) == 0
    root = tmp_path / "pixelsmith-softmedian"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert files == ["README.md", "pyproject.toml", "src/pixelsmith_softmedian/__init__.py",
                     "src/pixelsmith_softmedian/plugin.py", "tests/test_conformance.py"]
    pyproject = (root / "pyproject.toml").read_text()
    assert '[project.entry-points.pixelsmith]\nsoftmedian = "pixelsmith_softmedian.plugin"' in pyproject
    assert "{{" not in "".join((root / f).read_text() for f in files)
    # a plugin author's first files import only the public modules (the guide's "What to import")
    imported = {m for f in files if f.endswith(".py")
                for m in re.findall(r"^\s*(?:from|import) (pixelsmith(?:\.[\w.]+)?)\s", (root / f).read_text(), re.M)}
    assert imported <= {"pixelsmith", "pixelsmith.plugin", "pixelsmith.testing"}, imported

    monkeypatch.syspath_prepend(str(root / "src"))
    plugin = importlib.import_module("pixelsmith_softmedian.plugin")
    with registered(plugin):
        check_restorer("softmedian")
        noisy = torch.full((1, 3, 9, 9), 0.25)
        noisy[0, :, 4, 4] = 1.0
        assert torch.allclose(pixelsmith.restorer("softmedian", device="cpu").restore(noisy),
                              torch.full_like(noisy, 0.25))
    # the generated tests themselves pass (the discovery test skips: not installed)
    monkeypatch.syspath_prepend(str(root / "tests"))
    generated = importlib.import_module("test_conformance")
    generated.test_conformance()
    generated.test_conformance_by_name()
    generated.test_removes_an_isolated_impulse()

    # never overwrites
    before = (root / "README.md").read_text()
    assert main(["new-plugin", "pixelsmith-softmedian", "-o", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (root / "README.md").read_text() == before


@pytest.mark.parametrize("name", ["Bad_Name", "9lives", "x--y", "a b"])
def test_new_plugin_rejects_bad_names(tmp_path, name, capsys):
    assert main(["new-plugin", name, "-o", str(tmp_path)]) == 2
    assert "must be lower-case" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_new_plugin_installs_with_pip_and_its_tests_pass(tmp_path):
    """Really installs it (into a --target folder, leaving this environment alone) and runs its tests."""
    assert main(["new-plugin", "pixelsmith-pipcheck", "-o", str(tmp_path), "--quiet"]) == 0
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(tmp_path / "pixelsmith-pipcheck")], check=True, timeout=600)
    env = {**__import__("os").environ, "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
                             str(tmp_path / "pixelsmith-pipcheck" / "tests")],
                            capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout  # the discovery test ran, not skipped
    assert Path(target).joinpath("pixelsmith_pipcheck").is_dir()


def _toy_trainer(restore_state: bool):
    """A trainer on the core session: one linear layer nudged by per-step seeded noise."""
    from pixelsmith.training import TrainingSession

    def train(config):
        with TrainingSession(config, "toy") as session:
            layer = torch.nn.Linear(3, 2)
            torch.nn.init.zeros_(layer.weight)
            torch.nn.init.zeros_(layer.bias)
            start = 0
            ckpt = session.resume_checkpoint()
            if ckpt is not None:
                if restore_state:
                    ckpt.load_module("layer", layer)
                start = ckpt.step
            for step in session.iterate(start):
                with torch.no_grad():
                    layer.weight += torch.rand(2, 3, generator=session.step_generator(step))
                session.save(step, modules={"layer": layer})
        return config.out
    return train


def test_check_resume_passes_an_exact_trainer_and_catches_one_that_forgets_its_state(tmp_path):
    from pixelsmith.testing import check_resume
    from pixelsmith.training import TrainConfig

    config = TrainConfig(out=tmp_path / "good", steps=4, quiet=True)
    assert check_resume(_toy_trainer(True), config) == tmp_path / "good" / "straight"
    with pytest.raises(ConformanceError, match="changed 1 of"):
        check_resume(_toy_trainer(False), dataclasses.replace(config, out=tmp_path / "bad"))
    with pytest.raises(ValueError, match="split"):
        check_resume(_toy_trainer(True), config, split=4)


# -- item 8 of issue 13: what the kit used to miss, each caught by the check that names it --------------
class GainBug(fc.GaussianNoise):
    """A ×1.5 gain that apply()'s clamp would hide (clip is True by default)."""

    def _apply(self, x, rng):
        noisy, info = super()._apply(x, rng)
        return noisy * 1.5, info


class GainBugUnclipped(GainBug):
    clip = False  # declares that values may leave [0, 1]: allowed, the kit must not object


class EmptyParams(fc.GaussianNoise):
    @property
    def params(self):
        return {}


class DropsSpecParam(fc.GaussianNoise):
    @property
    def params(self):
        return {"strength": self.sigma}  # the spec's default is called sigma


class RenamesItself(fc.GaussianNoise):
    def __init__(self, sigma=0.1):
        super().__init__(sigma)
        self.name = "noise"  # an instance attribute overrides the spec's name


class Float64Degradation(fc.GaussianNoise):
    def _apply(self, x, rng):
        noisy, info = super()._apply(x, rng)
        return noisy.double(), info


class EmptySettings(fc.MeanAbsoluteError):
    @property
    def settings(self):
        return {}


class ReportsOtherName(fc.MeanAbsoluteError):
    @property
    def name(self):
        return "metric"


class Float64Metric(fc.MeanAbsoluteError):
    def _compute(self, pred, target):
        return super()._compute(pred, target).double()


class Float64Restorer(fc.BoxRestorer):
    def _restore(self, x, **params):
        return super()._restore(x.double(), **params)  # restore() casts back, the work ran in float64


class Float64Generator(fc.LinearGenerator):
    def _decode(self, z, labels):
        return super()._decode(z, labels).double()


class SeedArgumentIgnored(fc.LinearGenerator):
    def latents(self, n, seed=None):
        return torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(0))


class GlobalSeeding(fc.LinearGenerator):
    def latents(self, n, seed=None):
        torch.manual_seed(seed)  # reproducible, but it resets the user's global RNG
        return torch.randn(n, self.latent_dim)


class GeneratorObjectIgnored(fc.LinearGenerator):
    def latents(self, n, seed=None):
        return super().latents(n, 0 if isinstance(seed, torch.Generator) else seed)


class OneImagePerBatch(fc.LinearGenerator):
    def _decode(self, z, labels):
        return super()._decode(z[:1].expand_as(z), labels)  # the seed picks one image for the whole batch


FAULTY = [
    # (what, run the kit, the check that must fail)
    ("gain hidden by clamping", lambda: check_degradation(_with_spec(GainBug(), fc.NOISE_SPEC)),
     "no_hidden_clamping"),
    ("empty degradation params", lambda: check_degradation(_with_spec(EmptyParams(), fc.NOISE_SPEC)), "provenance"),
    ("params missing a spec default", lambda: check_degradation(_with_spec(DropsSpecParam(), fc.NOISE_SPEC)),
     "provenance"),
    ("degradation name differs from spec", lambda: check_degradation(_with_spec(RenamesItself(), fc.NOISE_SPEC)),
     "spec"),
    ("float64 degradation output", lambda: check_degradation(_with_spec(Float64Degradation(), fc.NOISE_SPEC)),
     "shapes_and_range"),
    ("empty metric settings", lambda: check_metric(_with_spec(EmptySettings(), fc.MAE_SPEC), size=(16, 16)),
     "provenance"),
    ("metric name differs from spec", lambda: check_metric(_with_spec(ReportsOtherName(), fc.MAE_SPEC),
                                                           size=(16, 16)), "spec"),
    ("float64 metric values", lambda: check_metric(_with_spec(Float64Metric(), fc.MAE_SPEC), size=(16, 16)),
     "per_image"),
    ("float64 restorer work", lambda: check_restorer(_with_spec(Float64Restorer(device="cpu"), fc.BOX_SPEC)),
     "shapes_and_range"),
    ("float64 generator work", lambda: check_generator(_with_spec(Float64Generator(device="cpu"), fc.GEN_SPEC)),
     "samples"),
    ("samples ignore the seed", lambda: check_generator(_with_spec(SeedArgumentIgnored(device="cpu"), fc.GEN_SPEC)),
     "seeds"),
    ("seed through the global RNG", lambda: check_generator(_with_spec(GlobalSeeding(device="cpu"), fc.GEN_SPEC)),
     "global_rng_untouched"),
    ("torch.Generator seed ignored",
     lambda: check_generator(_with_spec(GeneratorObjectIgnored(device="cpu"), fc.GEN_SPEC)), "seeds"),
    ("one image per seed", lambda: check_generator(_with_spec(OneImagePerBatch(device="cpu"), fc.GEN_SPEC)),
     "seeds"),
]


@pytest.mark.parametrize("what, run, failing", FAULTY, ids=[f[0] for f in FAULTY])
def test_the_kit_catches_what_it_used_to_miss(what, run, failing):
    with pytest.raises(ConformanceError) as info:
        run()
    assert failing in _failed(info.value), str(info.value)


def test_the_hidden_gain_message_says_what_to_do():
    with pytest.raises(ConformanceError) as info:
        check_degradation(_with_spec(GainBug(), fc.NOISE_SPEC))
    assert "clip = False" in str(info.value) and "outside [0, 1] systematically" in str(info.value)


def test_a_degradation_declaring_clip_false_may_leave_the_unit_range():
    check_degradation("gaussian-noise", params={"clip": False, "sigma": 0.2})
    # declared unclipped, values beyond [0, 1] are the contract, not a bug the kit could tell apart
    check_degradation(_with_spec(GainBugUnclipped(), fc.NOISE_SPEC))
    assert float(GainBugUnclipped()(torch.full((1, 1, 8, 8), 0.9), seed=0).max()) > 1


@pytest.mark.parametrize("params", [{"sigma": 0.5}, {"sigma": 25 / 255}])
def test_clipped_noise_is_not_mistaken_for_a_hidden_range_error(params):
    # noise tails that the clamp cuts are what clip=True means (a saturating camera)
    check_degradation("gaussian-noise", params=params)
    check_degradation("poisson-noise", params={"peak": 5.0})
    check_degradation("gaussian-blur", params={"noise": 0.1})


def test_a_class_serving_several_specs_may_declare_another_name():
    other = dataclasses.replace(fc.MAE_SPEC, name="mae-again")
    m = _with_spec(fc.MeanAbsoluteError(), other)
    check_metric(m, size=(16, 16))
    assert m.name == "mae-again" and m.evaluate(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)).name == "mae-again"


def test_the_registry_remembers_the_options_a_component_was_built_with(fakes):
    from pixelsmith.registry import build_options

    assert dict(build_options(pixelsmith.restorer("tiny-box", device="cpu", passes=3))) == {"passes": 3}
    assert dict(build_options(pixelsmith.restorer("tiny-box"))) == {}
    assert build_options(fc.BoxRestorer(passes=3)) is None  # its class called directly: not known
    built = pixelsmith.restorer("tiny-box", device="cpu", passes=2)
    assert build_options(copy.deepcopy(built)) == {"passes": 2}  # the record travels with the component
    assert build_options(pickle.loads(pickle.dumps(built))) == {"passes": 2}


def test_a_device_twin_is_built_with_the_instance_options(fakes):
    # the kit's CUDA check compares the component on CUDA with it on the CPU; rebuilt from its spec's defaults,
    # a configured instance (deblur's method="network", a weights= file) was compared with another model
    from pixelsmith.registry import build_options
    from pixelsmith.testing._checks import _restorer_target

    x = torch.rand(1, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    by_name = pixelsmith.restorer("tiny-box", device="cpu", passes=3)
    t = _restorer_target(by_name)
    twin = t._built("cpu", build_options(by_name))  # what get("cuda") builds, made on the CPU here
    assert twin is not by_name and twin.passes == 3 and t.reference() is by_name
    torch.testing.assert_close(twin.restore(x), by_name.restore(x))
    # options unknown: the twin comes from the spec's defaults, and so does the CPU result it is compared with
    direct = _with_spec(fc.BoxRestorer(passes=3), fc.BOX_SPEC)
    t = _restorer_target(direct)
    reference = t.reference()
    assert reference is not direct and reference.passes == 1
    assert not torch.allclose(reference.restore(x), direct.restore(x))
