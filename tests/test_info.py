"""``pixelsmith info`` (issue 15): one component's facts, from its spec, its build, its weights' metadata."""

from __future__ import annotations

import json

import pytest

import pixelsmith
from pixelsmith import UnknownComponentError
from pixelsmith.cli import main
from pixelsmith.info import component_info


def test_restorer_facts_in_one_place():
    info = component_info("unet-denoise")
    spec = pixelsmith.spec("restorer", "unet-denoise")
    restorer = pixelsmith.restorer("unet-denoise", device="cpu")
    assert info["kind"] == "restorer" and info["summary"] == spec.summary and info["version"] == spec.version
    assert info["plugin"]["distribution"] == "pixelsmith-unet" and info["plugin"]["licence"] == "MIT"
    assert info["channels"] == [1, 3] and info["tasks"] == ["denoise"] and info["accepts"] == ["sigma"]
    assert info["size_multiple"] == restorer.multiple == 16
    assert info["tiling"] == {"tile": restorer.tile, "overlap": restorer.overlap}
    weights = info["weights"][0]
    assert weights["file"] == "unet-denoise.safetensors" and weights["sha256"] == spec.weights.sha256
    assert weights["sha256_ok"] is True and weights["bytes"] == spec.weights.path.stat().st_size
    assert weights["metadata"]["model_config"] == restorer.model.config
    training = info["training"]
    assert training["command"] == "pixelsmith train unet-denoise"
    assert "scikit-image photographs" in training["data"] and training["steps"] > 0
    assert training["validation"]["val_psnr"] > 30
    assert info["export"]["formats"] == ["onnx", "torchscript"] and info["export"]["inputs"] == ["sigma"]
    assert info["golden"]["present"] is True and "gray-given" in info["golden"]["cases"]


def test_every_weights_file_a_component_holds_is_listed():
    files = [w["file"] for w in component_info("deblur")["weights"]]
    assert sorted(files) == ["deblur.safetensors", "kernel-constructions.safetensors", "kernel-estimator.safetensors",
                             "no-blur-detector.safetensors",
                             "pnp-prior-full.safetensors", "pnp-prior-gray.safetensors",
                             "pnp-prior-unfolded.safetensors"]
    assert component_info("deblur")["export"]["inputs"] == ["kernel"]


def test_export_facts_say_what_the_graph_is_and_how_to_write_it(capsys):
    # deblur's default is plug-and-play; what can be exported is its network method, and info says so
    deblur = component_info("deblur")["export"]
    assert deblur["reproduces"] == "pixelsmith.restorer('deblur', method='network').restore()"
    assert any("method='pnp'" in n and "not exportable" in n for n in deblur["notes"])
    assert deblur["per_channel_count"] is False and deblur["command"] == "pixelsmith export deblur --input kernel -o deblur.onnx"
    assert main(["info", "deblur"]) == 0
    text = capsys.readouterr().out
    assert "reproduces       pixelsmith.restorer('deblur', method='network')" in text and "is not exportable" in text
    # unet-denoise keeps a gray and a colour network: one file per channel count, and the command says so
    unet = component_info("unet-denoise")["export"]
    assert unet["per_channel_count"] is True
    # one network pass: restore()'s default averages 4 views, so the graph names the single-pass call
    assert unet["reproduces"] == "pixelsmith.restorer('unet-denoise', ensemble=1).restore()"
    commands = unet["command"].split(" && ")
    assert [c.split()[3:5] for c in commands] == [["--channels", "1"], ["--channels", "3"]]
    assert component_info("dcgan-cond")["export"]["command"] == "pixelsmith export dcgan-cond -o dcgan-cond.onnx"


def test_the_export_command_info_gives_runs(tmp_path):
    command = component_info("unet-denoise")["export"]["command"].split(" && ")[0].split()
    out = tmp_path / "u.onnx"
    args = command[1:command.index("-o")] + ["-o", str(out), "--no-verify", "--quiet"]
    assert main(args) == 0 and out.is_file()


def test_generator_metric_and_degradation_facts():
    gen = component_info("dcgan-cond")
    assert gen["conditional"] is True and gen["latent_dim"] == 100 and gen["output_shape"] == [1, 28, 28]
    assert gen["training"]["command"] == "pixelsmith train dcgan-cond"
    assert gen["training"]["model_config"]["num_classes"] == 10
    metric = component_info("ssim")
    assert metric["higher_is_better"] is True and metric["weights"] == [] and metric["export"] is None
    noise = component_info("gaussian-noise")
    assert noise["task"] == "denoise" and "sigma" in noise["params"]


def test_components_that_cannot_be_exported_say_so(capsys):
    assert component_info("median")["export"] is None
    assert main(["info", "median"]) == 0
    assert "not exportable" in capsys.readouterr().out


def test_cli_info_text_and_json(capsys):
    assert main(["info", "unet-denoise"]) == 0
    text = capsys.readouterr().out
    for fact in ("restorer", "licence MIT", "multiple     16", "tile 512", "sha256 verified",
                 "pixelsmith train unet-denoise", "onnx, torchscript", "golden"):
        assert fact in text, fact
    assert main(["info", "unet-denoise", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(component_info("unet-denoise"), default=str))


def test_unknown_names_fail_with_one_line(capsys):
    with pytest.raises(UnknownComponentError, match="no component named 'nope'"):
        component_info("nope")
    assert main(["info", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no component named 'nope'") and "\n" not in err
