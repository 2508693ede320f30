"""The component contract where it bites (issue 13, item 4): a degradation's truth in the restorers'
vocabulary, one build path, spec facts checked at construction, the registry's public surface."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.plugin import TRUTH_KEYS, combine_truth, degradation_truth, noise_levels

X = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(0))


# -- Degraded.truth: one function, used by the pipeline, the bench and the trainers ----------------------

def test_degraded_keeps_its_own_params_apart_from_the_truth():
    blurred = pixelsmith.degradation("gaussian-blur", sigma=2.0, noise=0.01).apply(X, seed=0)
    assert blurred.params["sigma"] == 2.0 and blurred.params["noise"] == 0.01  # its own vocabulary
    assert blurred.truth["sigma"] == 0.01  # the noise σ, not the blur width
    assert torch.equal(blurred.truth["kernel"], blurred.info["kernel"])
    noisy = pixelsmith.degradation("gaussian-noise", sigma=0.1).apply(X, seed=0)
    assert noisy.truth == {"sigma": 0.1}
    sp = pixelsmith.degradation("salt-and-pepper", amount=0.2).apply(X, seed=0)
    assert sp.truth["amount"] == 0.2 and sp.truth["mask"].shape == (1, 1, 24, 24)
    hidden = pixelsmith.degradation("inpainting-mask").apply(X, seed=0)
    assert set(hidden.truth) == {"mask"}
    assert pixelsmith.degradation("poisson-noise").apply(X, seed=0).truth == {}
    # the report keeps everything together, as before
    assert blurred.info["degradation"] == "gaussian-blur" and blurred.info["noise_sigma"] == 0.01


def test_truth_rules():
    # a denoising degradation that reports nothing: its sigma parameter is the noise σ
    assert degradation_truth("denoise", {"sigma": 0.2}, {}) == {"sigma": 0.2}
    # any other task: a parameter named sigma is never taken for the noise σ
    assert degradation_truth("deblur", {"sigma": 2.0}, {}) == {}
    assert degradation_truth("impulse", {"amount": 0.1}, {}) == {"amount": 0.1}
    # two degradations in a row: independent noises add in quadrature, the later kernel wins
    k1, k2 = torch.ones(3, 3) / 9, torch.ones(5, 5) / 25
    both = combine_truth({"sigma": 0.03, "kernel": k1}, {"sigma": 0.04, "kernel": k2})
    assert both["sigma"] == pytest.approx(0.05) and both["kernel"] is k2


def test_truth_keys_are_what_restorers_may_be_told():
    truth = pixelsmith.degradation("gaussian-blur", sigma=1.0, noise=0.02).apply(X, seed=0).truth
    assert set(truth) <= set(TRUTH_KEYS) == {"sigma", "kernel", "mask", "amount"}


# -- noise_levels: the per-image sigma a restorer is given, checked once for every plugin -----------------

@pytest.mark.parametrize("sigma, expected", [
    (0.1, [0.1, 0.1, 0.1]),
    (0, [0.0, 0.0, 0.0]),
    (torch.tensor(0.2), [0.2, 0.2, 0.2]),
    (torch.tensor([0.05]), [0.05, 0.05, 0.05]),
    (torch.tensor([0.0, 0.1, 0.3]), [0.0, 0.1, 0.3]),
    ([0.0, 0.1, 0.3], [0.0, 0.1, 0.3]),
    ((1, 0.5, 0.25), [1.0, 0.5, 0.25]),
])
def test_noise_levels_gives_one_checked_level_per_image(sigma, expected):
    levels = noise_levels(sigma, 3)
    assert levels.shape == (3,) and levels.dtype == torch.float32 and levels.device.type == "cpu"
    assert levels.tolist() == pytest.approx(expected)


def test_noise_levels_keeps_the_precision_asked_for():
    levels = noise_levels(0.1, 2, dtype=torch.float64)
    assert levels.dtype == torch.float64 and levels.tolist() == [0.1, 0.1]   # exactly the float given
    assert noise_levels(torch.tensor([0.1, 0.2]), 2, dtype=torch.float64).tolist() == \
        torch.tensor([0.1, 0.2]).double().tolist()


@pytest.mark.parametrize("sigma, message", [
    (torch.tensor([0.1, 0.2]), r"one noise level or one per image \(3\), got 2 values"),
    ([0.1] * 4, r"one per image \(3\), got 4 values"),
    (-0.1, r"finite and >= 0"),
    (float("nan"), r"finite and >= 0"),
    (torch.tensor([0.1, float("inf"), 0.1]), r"finite and >= 0"),
    (25, r"sigma=25 looks like an 8-bit noise level.*\(25/255\)"),
    ("0.1", r"must be a number"),
    (True, r"must be a number"),
    ([0.1, "a", 0.1], r"must be a number"),
    (torch.tensor([True, False, True]), r"real tensor"),
    (torch.tensor([]), r"got 0 values"),
])
def test_noise_levels_refuses_what_cannot_be_a_noise_level(sigma, message):
    with pytest.raises(pixelsmith.InvalidInputError, match=message):
        noise_levels(sigma, 3)


def test_noise_levels_names_the_parameter_and_checks_the_batch():
    with pytest.raises(pixelsmith.InvalidInputError, match="noise_sigma must be finite"):
        noise_levels(-1.0, 2, name="noise_sigma")
    with pytest.raises(pixelsmith.InvalidInputError, match="batch must be a positive int"):
        noise_levels(0.1, 0)


class _Spy(pixelsmith.Restorer):
    seen: list[dict] = []

    def _restore(self, x, **params):
        _Spy.seen.append(params)
        return x


_SPY_SPEC = pixelsmith.RestorerSpec(name="spy-deblur", factory=_Spy, summary="records its parameters",
                                    tasks=("deblur",), accepts=("sigma", "kernel"), channels=(1,))


def test_the_pipeline_gives_the_restorer_the_truth():
    spy = _Spy(device="cpu")
    spy.spec = _SPY_SPEC
    _Spy.seen.clear()
    pipe = pixelsmith.Pipeline(["gaussian-noise", "gaussian-blur"], restorer=spy, pass_true_params=True,
                               device="cpu")
    pipe.degradations[0] = pixelsmith.degradation("gaussian-noise", sigma=0.05)
    pipe.degradations[1] = pixelsmith.degradation("gaussian-blur", sigma=3.0)  # no noise of its own
    [record] = list(pipe.run(X))
    [params] = _Spy.seen
    assert params["sigma"] == pytest.approx(0.05)  # not the blur's width (3.0), not its noise (0)
    assert params["kernel"].shape == record.truth["kernel"].shape
    assert record.truth["sigma"] == pytest.approx(0.05)


# -- one build path; spec facts bound and checked at construction ---------------------------------------

class _Shift(pixelsmith.Degradation):
    """Takes options named like the build path's own arguments (kind, name, expected)."""

    def __init__(self, kind="add", name="shift", expected=0.1):
        self.kind, self.label, self.expected = kind, name, expected

    @property
    def params(self):
        return {"kind": self.kind, "name": self.label, "expected": self.expected}

    def _apply(self, x, rng):
        return x.add(self.expected).clamp(0, 1), {}


class _LowerIsBetter(pixelsmith.Metric):
    higher_is_better = False  # contradicts the spec below

    @property
    def settings(self):
        return {"reduction": "mean"}

    def _compute(self, pred, target):
        return (pred - target).abs().flatten(1).mean(1)


class _Plugin:
    @pixelsmith.hookimpl
    def pixelsmith_register_degradations(self):
        return [pixelsmith.DegradationSpec(name="shift", factory=_Shift, summary="adds", task="generic")]

    @pixelsmith.hookimpl
    def pixelsmith_register_metrics(self):
        return [pixelsmith.MetricSpec(name="says-higher", factory=_LowerIsBetter, summary="x", higher_is_better=True)]

    @pixelsmith.hookimpl
    def pixelsmith_register_restorers(self):
        return [_SPY_SPEC]


def test_options_named_like_the_build_arguments_reach_the_factory():
    from pixelsmith.testing import registered

    with registered(_Plugin()) as registry:
        d = pixelsmith.degradation("shift", kind="mul", name="n", expected=0.2)
        assert (d.kind, d.label, d.expected) == ("mul", "n", 0.2) and d.name == "shift"
        assert registry.build("degradation", "shift", kind="k").kind == "k"


def test_the_spec_is_bound_and_checked_at_construction():
    from pixelsmith.testing import registered

    with registered(_Plugin()) as registry:
        spy = pixelsmith.restorer("spy-deblur", device="cpu")
        assert spy.spec is _SPY_SPEC and spy.name == "spy-deblur"
        with pytest.raises(pixelsmith.InvalidInputError, match="restores images with"):
            spy.restore(torch.rand(1, 3, 8, 8))  # the spec's channels hold for an instance built by name
        with pytest.raises(pixelsmith.PluginError, match="declares higher_is_better = False but its spec says True"):
            pixelsmith.metric("says-higher")
        with pytest.raises(pixelsmith.PluginError, match="declares higher_is_better"):
            registry.build("metric", "says-higher")  # the bench builds the same way


def test_the_bench_builds_through_the_registry():
    from pixelsmith.bench import runner

    assert not hasattr(runner, "_build")
    import pixelsmith.api as api

    assert not hasattr(api, "_build")


# -- the registry: one plugin manager, and what the rest need ------------------------------------------------

def test_one_plugin_manager_and_the_public_lookups():
    from pixelsmith.registry import Registry

    registry = Registry.discover(entry_points=[])
    plugin = _Plugin()
    info = registry.add_plugin(plugin, name="contract", distribution="contract", version="1")
    assert registry.pm.is_registered(plugin) and len(registry.pm.list_name_plugin()) == 2  # built-in + this one
    assert ("degradation", "shift") in info.components and ("metric", "says-higher") in info.components
    # the same object twice: reported, not registered twice
    assert registry.add_plugin(plugin, name="again") is None and registry.failures[-1].stage == "register"
    names = [name for name, _ in registry.items("degradation")]
    assert names == sorted(names) and "shift" in names and "gaussian-noise" in names
    assert registry.find("degradation", "Shift").plugin.name == "contract"
    assert registry.find("degradation", "nope") is None
    before = pixelsmith.list_components("degradation")
    with registry.activate():
        assert "shift" in pixelsmith.list_components("degradation")
    assert pixelsmith.list_components("degradation") == before


def test_a_class_carrying_the_wrong_kind_of_spec_is_refused_when_defined():
    wrong = pixelsmith.MetricSpec(name="m", factory=object, summary="m", higher_is_better=True)
    for base in (pixelsmith.Restorer, pixelsmith.Generator, pixelsmith.Degradation):
        with pytest.raises(pixelsmith.PluginError, match=r"\.spec must be a pixelsmith\."):
            type("Wrong", (base,), {"spec": wrong})


def test_plugin_objects_need_not_be_hashable():
    import types

    from pixelsmith.registry import Registry

    registry = Registry.discover(entry_points=[])
    plugin = types.SimpleNamespace(pixelsmith_register_degradations=pixelsmith.hookimpl(lambda: [
        pixelsmith.DegradationSpec(name="shift", factory=_Shift, summary="adds", task="generic")]))
    registry.add_plugin(plugin, name="ns", distribution="ns", version="1")
    assert registry.find("degradation", "shift").plugin.name == "ns" and not registry.failures
