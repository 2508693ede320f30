"""The plugin-author API (``pixelsmith.plugin``) and the public/internal split that import-linter enforces.

``.importlinter`` names core's internal modules (what plugins and ``benchmarks/`` must not import); a
module of core that is neither public nor named there would escape the rule, so every module must be
classified, here or there.
"""

from __future__ import annotations

import configparser
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest
import torch

import pixelsmith
import pixelsmith.nn
import pixelsmith.plugin
from pixelsmith.testing import requires_component

ROOT = Path(__file__).resolve().parents[1]

#: What a plugin may import (besides its own package and third-party ones).
PLUGIN_PUBLIC = {"pixelsmith", "pixelsmith.plugin", "pixelsmith.testing", "pixelsmith.testing.golden",
                 "pixelsmith.testing.gan"}


def _config() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter")
    return config


def _listed(section: str, key: str) -> list[str]:
    return [line.strip() for line in _config()[section][key].splitlines()
            if line.strip() and not line.strip().startswith("#")]


def _core_modules() -> list[str]:
    names = ["pixelsmith"]
    for info in pkgutil.walk_packages(pixelsmith.__path__, "pixelsmith."):
        if ".templates" not in info.name:
            names.append(info.name)
    return names


def _covered(module: str, forbidden: list[str]) -> bool:
    for entry in forbidden:
        if entry.endswith(".*"):
            if module.startswith(entry[:-1]):
                return True
        elif module == entry or module.startswith(entry + "."):
            return True
    return False


def test_every_core_module_is_public_or_named_internal():
    forbidden = _listed("importlinter:contract:plugins-public-only", "forbidden_modules")
    unclassified = [m for m in _core_modules() if m not in PLUGIN_PUBLIC and not _covered(m, forbidden)]
    assert not unclassified, (f"modules neither public for plugins nor internal in .importlinter: {unclassified}; "
                              "add them to the plugins-public-only forbidden_modules (internal) or to PLUGIN_PUBLIC "
                              "here and to the plugin guide (public)")
    public_named_internal = [m for m in PLUGIN_PUBLIC if _covered(m, forbidden)]
    assert not public_named_internal


def test_every_plugin_and_benchmarks_are_checked():
    roots = set(_listed("importlinter", "root_packages"))
    plugins = {p.name.replace("-", "_") for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()}
    assert plugins | {"pixelsmith", "benchmarks"} <= roots
    assert plugins <= set(_listed("importlinter:contract:plugins-public-only", "source_modules"))
    assert plugins <= set(_listed("importlinter:contract:plugins-independent", "modules"))


def test_plugin_module_names_resolve_once_and_are_documented():
    names = pixelsmith.plugin.__all__
    assert len(names) == len(set(names))
    for name in names:
        obj = getattr(pixelsmith.plugin, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__module__.startswith("pixelsmith"), name
            assert inspect.getdoc(obj), f"pixelsmith.plugin.{name} has no docstring"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pixelsmith.plugin.nope  # noqa: B018


def test_plugin_module_offers_the_user_api_of_the_contract():
    # a plugin needs nothing from `pixelsmith` that `pixelsmith.plugin` lacks for writing a component
    for name in ("hookimpl", "Restorer", "Metric", "Generator", "Degradation", "RestorerSpec", "MetricSpec",
                 "GeneratorSpec", "DegradationSpec", "WeightsFile", "InvalidInputError", "PluginError",
                 "as_image_batch", "make_generator"):
        assert getattr(pixelsmith.plugin, name) is getattr(pixelsmith, name)


def test_heavy_names_load_on_first_use():
    # paired_augment pulls in Kornia's augmentation module (most of a second): not at plugin import
    from pixelsmith.augment import paired_augment
    from pixelsmith.plugin import paired_augment as lazy

    assert lazy is paired_augment


def test_nn_is_the_shared_unet_and_keeps_its_state_dict_keys():
    net = pixelsmith.nn.UNet(in_channels=3, out_channels=1, widths=(8, 16), unshuffle=2)
    keys = set(net.state_dict())
    assert {"head.weight", "enc.0.0.conv1.weight", "down.0.weight", "mid.0.conv2.bias", "up.0.weight",
            "dec.0.0.conv1.weight", "tail.bias"} <= keys
    assert pixelsmith.plugin.UNet is pixelsmith.nn.UNet
    assert pixelsmith.plugin.ResidualUNetRestorer is pixelsmith.nn.ResidualUNetRestorer


def test_unet_deepened_computes_the_same_function_and_then_trains_its_new_blocks():
    torch.manual_seed(0)
    net = pixelsmith.nn.UNet(in_channels=3, out_channels=1, widths=(8, 16), unshuffle=2)
    deep = net.deepened(3)
    assert deep.config == {**net.config, "blocks": 3} and net.config["blocks"] == 1
    x = torch.rand(2, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(net(x), deep(x))  # the added blocks are identities: exactly the same output
    assert torch.equal(deep.enc[0][0].conv1.weight, net.enc[0][0].conv1.weight)  # old blocks in their place
    assert not deep.mid[1].conv2.weight.any() and deep.mid[1].conv1.weight.any()
    deep(x).square().mean().backward()
    assert deep.dec[0][2].conv2.weight.grad.abs().sum() > 0  # trainable: not a dead branch
    with pytest.raises(ValueError, match="blocks must be an int"):
        deep.deepened(2)


@pytest.mark.parametrize("module", ["pixelsmith.nn", "pixelsmith.plugin", "pixelsmith.testing"])
def test_public_modules_import_on_their_own(module):
    importlib.import_module(module)


def test_requires_component_marks_and_says_what_is_missing():
    from pixelsmith.testing._skips import missing_component

    mark = requires_component("restorer", "no-such-restorer").mark
    assert (mark.name, mark.args) == ("pixelsmith_requires", ("restorer", "no-such-restorer"))
    assert missing_component("metric", "psnr") is None     # built in: always there
    assert missing_component("restorer", "no-such-restorer") == \
        "needs the restorer 'no-such-restorer', whose plugin is not installed"


@requires_component("restorer", "no-such-restorer")
def test_a_marked_test_is_skipped_when_the_component_is_missing():
    raise AssertionError("pixelsmith's pytest plugin should have skipped this test")
