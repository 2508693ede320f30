"""Discovery through real installed distributions: broken plugins, strict mode, filters, clashes, names."""

from __future__ import annotations

import importlib.metadata as md

import pytest
import torch

import pixelsmith
import pixelsmith.metrics
from pixelsmith.errors import PluginConflictError, PluginError, UnknownComponentError
from pixelsmith.registry import Registry
from pixelsmith.testing import registered

from fake_components import FakePlugin
from fake_dists import GOOD_PLUGIN, HOOK_RAISES, IMPORT_FAILS, MALFORMED_SPEC, make_dist

OURS = {"ps-good", "ps-import-fails", "ps-hook-raises", "ps-malformed"}


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Four installed distributions: one good, three broken in different ways."""
    monkeypatch.delenv("PIXELSMITH_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("PIXELSMITH_LOAD_PLUGINS", raising=False)
    make_dist(tmp_path, "ps-good", GOOD_PLUGIN.format(name="Good_Identity"), version="2.0")
    make_dist(tmp_path, "ps-import-fails", IMPORT_FAILS, version="0.1")
    make_dist(tmp_path, "ps-hook-raises", HOOK_RAISES, version="0.2")
    make_dist(tmp_path, "ps-malformed", MALFORMED_SPEC, version="0.3")
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _ours():
    return [ep for ep in md.entry_points(group="pixelsmith") if ep.dist and ep.dist.name in OURS]


def test_broken_plugins_are_recorded_and_the_rest_keeps_working(installed):
    assert {ep.dist.name for ep in _ours()} == OURS  # found by importlib.metadata like any install
    reg = Registry.discover(entry_points=_ours())
    assert reg.get("restorer", "good-identity").plugin.distribution == "ps-good"
    assert "psnr" in reg.names("metric")  # the built-in plugin is unaffected
    failures = {f.distribution: f for f in reg.failures}
    assert set(failures) == {"ps-import-fails", "ps-hook-raises", "ps-malformed"}
    assert failures["ps-import-fails"].stage == "import"
    assert failures["ps-import-fails"].version == "0.1"
    assert "needs a library" in failures["ps-import-fails"].error
    assert failures["ps-hook-raises"].stage == "hook pixelsmith_register_metrics"
    assert "exploded" in failures["ps-hook-raises"].error
    malformed = [f for f in reg.failures if f.distribution == "ps-malformed"]
    assert {f.stage for f in malformed} == {"spec"} and len(malformed) == 2
    assert any("factory None is not callable" in f.error for f in malformed)
    assert any("expected a GeneratorSpec" in f.error for f in malformed)


def test_failures_show_up_in_list_plugins(installed, monkeypatch):
    from pixelsmith import registry

    monkeypatch.setattr(registry, "_registry", Registry.discover(entry_points=_ours()))
    listing = pixelsmith.list_plugins()
    assert {f["distribution"] for f in listing["failures"]} == OURS - {"ps-good"}
    good = next(p for p in listing["plugins"] if p["distribution"] == "ps-good")
    assert good["version"] == "2.0" and good["components"][0]["name"] == "good-identity"


def test_strict_mode_raises(installed, monkeypatch):
    monkeypatch.setenv("PIXELSMITH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginError, match=r"ps-hook-raises 0.2 failed at hook .*STRICT"):
        Registry.discover(entry_points=_ours())  # entry points load in name order: hook-raises first


@pytest.mark.parametrize("value, expected", [
    ("ps-good", {"good-identity"}),
    ("PS_Good, ps-hook-raises", {"good-identity"}),  # names are normalised
    ("", set()),
])
def test_load_plugins_filter(installed, monkeypatch, value, expected):
    monkeypatch.setenv("PIXELSMITH_LOAD_PLUGINS", value)
    reg = Registry.discover(entry_points=_ours())
    assert set(reg.names("restorer")) == expected
    assert "psnr" in reg.names("metric")  # built-ins always load
    assert {f.distribution for f in reg.failures} <= {"ps-hook-raises"}
    if value == "":
        assert [p.name for p in reg.plugins] == ["pixelsmith.builtin"]


CLASHES_WITH_BUILTIN = '''
import torch
import pixelsmith

class MyMSE(pixelsmith.Metric):
    higher_is_better = False
    settings = {"reduction": "mean"}
    def _compute(self, pred, target):
        return ((pred - target) ** 2).flatten(1).mean(1)

class Identity(pixelsmith.Restorer):
    def _restore(self, x, **params):
        return x.clone()

@pixelsmith.hookimpl
def pixelsmith_register_metrics():
    return [pixelsmith.MetricSpec(name="MSE", factory=MyMSE, summary="my mse", higher_is_better=False)]

@pixelsmith.hookimpl
def pixelsmith_register_restorers():
    return [pixelsmith.RestorerSpec(name="clash-identity", factory=Identity, summary="identity", tasks=("generic",))]
'''


def _eps(*dists):
    return [ep for ep in md.entry_points(group="pixelsmith") if ep.dist and ep.dist.name in dists]


def test_a_name_clash_skips_the_later_component_and_names_both_distributions(tmp_path, monkeypatch):
    monkeypatch.delenv("PIXELSMITH_STRICT_PLUGINS", raising=False)
    make_dist(tmp_path, "ps-first", GOOD_PLUGIN.format(name="same-name"))
    make_dist(tmp_path, "ps-second", GOOD_PLUGIN.format(name="SAME_NAME"))
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry.discover(entry_points=_eps("ps-first", "ps-second"))
    assert reg.get("restorer", "same-name").plugin.distribution == "ps-first"  # first loaded keeps it
    [failure] = reg.failures
    assert failure.distribution == "ps-second" and failure.stage == "name clash (restorer 'same-name')"
    assert "ps-first" in failure.error and "ps-second" in failure.error and "'same-name'" in failure.error
    second = next(p for p in reg.plugins if p.distribution == "ps-second")
    assert second.components == ()  # not listed as providing what it does not provide


def test_a_name_clash_raises_in_strict_mode(tmp_path, monkeypatch):
    make_dist(tmp_path, "ps-first", GOOD_PLUGIN.format(name="same-name"))
    make_dist(tmp_path, "ps-second", GOOD_PLUGIN.format(name="SAME_NAME"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PIXELSMITH_STRICT_PLUGINS", "1")
    with pytest.raises(PluginConflictError) as info:
        Registry.discover(entry_points=_eps("ps-first", "ps-second"))
    assert "ps-first" in str(info.value) and "ps-second" in str(info.value)
    assert "'same-name'" in str(info.value) and "STRICT" in str(info.value)


def test_a_plugin_clashing_with_a_builtin_breaks_no_command(tmp_path, monkeypatch, capsys):
    """The built-in mse keeps its name; the plugin's other component works; `pixelsmith plugins` runs."""
    from pixelsmith import registry
    from pixelsmith.cli import main

    monkeypatch.delenv("PIXELSMITH_STRICT_PLUGINS", raising=False)
    make_dist(tmp_path, "ps-clash", CLASHES_WITH_BUILTIN, version="0.5")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_registry", Registry.discover(entry_points=_eps("ps-clash")))
    assert pixelsmith.spec("metric", "mse").factory is pixelsmith.metrics.MSE
    assert type(pixelsmith.metric("mse")).__name__ == "MSE"
    x = torch.rand(1, 1, 8, 8)
    assert torch.equal(pixelsmith.restorer("clash-identity", device="cpu").restore(x), x)
    [failure] = pixelsmith.list_plugins()["failures"]
    assert failure["distribution"] == "ps-clash" and "metric 'mse'" in failure["stage"]
    assert "pixelsmith (the built-in plugin)" in failure["error"] and "ps-clash" in failure["error"]
    assert main(["plugins"]) == 0
    out = capsys.readouterr()
    assert "ps-clash" in out.out + out.err and "clash-identity" in out.out


def test_names_are_case_insensitive_and_normalised():
    with registered(FakePlugin()):
        assert pixelsmith.spec("restorer", "Tiny_Box").name == "tiny-box"
        assert pixelsmith.spec("restorer", "  TINY box ").name == "tiny-box"
        assert pixelsmith.restorer("TINY-BOX", device="cpu").name == "tiny-box"


def test_unknown_names_list_what_exists_and_near_matches():
    with registered(FakePlugin()):
        with pytest.raises(UnknownComponentError) as info:
            pixelsmith.restorer("tiny-bx")
    message = str(info.value)
    assert "did you mean 'tiny-box'" in message
    assert "Available restorers: tiny-box" in message


def test_hooks_of_an_in_process_plugin_object_are_all_called():
    # pixelsmith_register_generators, pixelsmith_register_restorers, pixelsmith_register_metrics
    # and pixelsmith_register_degradations, each through FakePlugin
    with registered(FakePlugin()) as reg:
        assert "tiny-gen" in reg.names("generator") and "dead-leaves" in reg.names("generator")  # built-in too
        assert reg.names("restorer") == ["tiny-box"]
        assert "tiny-mae" in reg.names("metric")
        assert "tiny-noise" in reg.names("degradation")
