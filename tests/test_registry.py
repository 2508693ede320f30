"""Discovery through real installed distributions: broken plugins, strict mode, filters, clashes, names."""

from __future__ import annotations

import importlib.metadata as md

import pytest

import pixelsmith
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


def test_a_name_clash_names_both_distributions(tmp_path, monkeypatch):
    make_dist(tmp_path, "ps-first", GOOD_PLUGIN.format(name="same-name"))
    make_dist(tmp_path, "ps-second", GOOD_PLUGIN.format(name="SAME_NAME"))
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [ep for ep in md.entry_points(group="pixelsmith") if ep.dist and ep.dist.name in ("ps-first", "ps-second")]
    with pytest.raises(PluginConflictError) as info:
        Registry.discover(entry_points=eps)
    assert "ps-first" in str(info.value) and "ps-second" in str(info.value)
    assert "'same-name'" in str(info.value)


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
