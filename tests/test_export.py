"""Export (issue 15): every exportable shipped component, run by onnxruntime and TorchScript on real
photographs, equals PyTorch within 1e-4; files carry their facts; what cannot be exported says so."""

from __future__ import annotations

import json
import types

import onnx
import pytest
import torch
from torch import nn

import pixelsmith
from pixelsmith import InvalidInputError, UnknownComponentError
from pixelsmith.cli import main
from pixelsmith.export import (
    FORMATS,
    ChannelsRequired,
    ONNX_OPSET,
    ExportGraph,
    Exporter,
    GraphInput,
    export,
    export_graph,
    export_inputs,
    exportable,
    exportable_components,
    read_export_metadata,
)
from pixelsmith.testing import check_export, registered
from pixelsmith.testing._export import run_onnx

#: The shipped components the issue names: restorers with their parameter inputs, generators with labels.
SHIPPED_EXPORTABLE = {"unet-denoise": ("sigma",), "deblur": ("kernel",), "dcgan": (), "dcgan-cond": (),
                      "mlp-gan": ()}


def _shipped(kind: str, name: str) -> bool:
    spec = pixelsmith.spec(kind, name)
    return spec.weights is None or spec.weights.path.is_file()


EXPORTABLE = [name for kind, name in exportable_components() if _shipped(kind, name)]


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def test_the_shipped_models_opt_in_with_their_parameter_inputs():
    assert set(SHIPPED_EXPORTABLE) <= set(EXPORTABLE)
    for name, inputs in SHIPPED_EXPORTABLE.items():
        kind = "restorer" if name in ("unet-denoise", "deblur") else "generator"
        assert export_inputs(pixelsmith.spec(kind, name)) == inputs
    # spec facts (plugins --json) say so too
    facts = {c["name"]: c for p in pixelsmith.list_plugins()["plugins"] for c in p["components"]}
    assert facts["unet-denoise"]["exportable"] is True and facts["median"]["exportable"] is False


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``exported(name)`` -> (check_export's comparisons, folder of the files): each component exported
    once per module, blind and with every parameter input, as ONNX and TorchScript."""
    done = {}

    def get(name):
        if name not in done:
            folder = tmp_path_factory.mktemp(name)
            done[name] = (check_export(name, directory=folder), folder)
        return done[name]

    return get


@pytest.mark.parametrize("name", EXPORTABLE)
def test_onnxruntime_and_torchscript_equal_pytorch_on_photographs(name, exported, capsys):
    checks, folder = exported(name)
    kind = next(k for k, n in exportable_components() if n == name)
    offered = export_inputs(pixelsmith.spec(kind, name))
    first = "image" if kind == "restorer" else "z"
    variants = {first} | ({"+".join((first, *offered))} if offered else set())
    assert {(c.variant, c.format) for c in checks} == {(v, f) for v in variants for f in FORMATS}
    assert all(c.max_abs_diff <= 1e-4 for c in checks)
    if kind == "restorer":  # one graph serves gray and RGB photographs
        assert {c.input_shape[1] for c in checks} == {1, 3}
    with capsys.disabled():
        for c in checks:
            print(f"\n    {c}", end="")


def test_onnx_files_have_named_dynamic_axes_opset_and_metadata(exported):
    _, folder = exported("unet-denoise")
    path = folder / "unet-denoise-image+sigma-c1.onnx"  # gray and colour are separate networks
    model = onnx.load(str(path))
    assert any(o.domain in ("", "ai.onnx") and o.version == ONNX_OPSET for o in model.opset_import)
    image, sigma = model.graph.input
    assert [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim] == \
        ["batch", 1, "height", "width"]  # the gray network; channels is fixed per file
    assert [d.dim_param for d in sigma.type.tensor_type.shape.dim] == ["batch"]
    props = {p.key: p.value for p in model.metadata_props}
    spec = pixelsmith.spec("restorer", "unet-denoise")
    assert props["component"] == "unet-denoise" and props["weights_sha256"] == spec.weights.sha256
    meta = read_export_metadata(path)
    assert json.loads(props["pixelsmith.json"]) == meta
    assert meta["opset"] == ONNX_OPSET and meta["size_multiple"] == 16 and meta["version"] == spec.version
    assert meta["plugin"] == "pixelsmith-unet" and [i["name"] for i in meta["inputs"]] == ["image", "sigma"]
    assert meta["notes"] and meta["bounds"]["height"] == [16, None]


def test_torchscript_files_carry_the_same_metadata(tmp_path):
    path = tmp_path / "g.pt"
    export("dcgan-cond", path, format="torchscript")
    meta = read_export_metadata(path)
    assert meta["component"] == "dcgan-cond" and meta["export_format"] == "torchscript"
    assert [i["name"] for i in meta["inputs"]] == ["z", "labels"] and meta["conditional"] is True
    assert meta["weights"][0]["sha256"] == pixelsmith.spec("generator", "dcgan-cond").weights.sha256


def test_exported_conditional_generator_draws_the_requested_classes(exported):
    path = exported("dcgan-cond")[1] / "dcgan-cond-z.onnx"
    gen = pixelsmith.generator("dcgan-cond", device="cpu")
    z = gen.latents(5, seed=3)
    labels = torch.tensor([7, 7, 1, 0, 9])
    out = run_onnx(path, {"z": z, "labels": labels})
    assert out.shape == (5, 1, 28, 28)
    assert float((out - gen.decode(z, labels=labels)).abs().max()) <= 1e-4
    assert float((out[0] - gen.decode(z[:1], labels=torch.tensor([3]))[0]).abs().max()) > 0.05  # labels matter


def test_components_that_cannot_be_exported_say_so_in_one_line(tmp_path, capsys):
    with pytest.raises(InvalidInputError, match=r"restorer 'median' cannot be exported: .*exportable components: "
                                                r".*unet-denoise"):
        export("median", tmp_path / "m.onnx")
    assert main(["export", "median", "-o", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: restorer 'median' cannot be exported") and "\n" not in err
    assert not (tmp_path / "m.onnx").exists()


def test_bad_requests_raise_and_say_what_to_do(tmp_path):
    with pytest.raises(UnknownComponentError, match="no restorer or generator named 'nope'"):
        export("nope", tmp_path / "x.onnx")
    with pytest.raises(InvalidInputError, match=r"cannot take \['kernel'\] as graph inputs; it offers \['sigma'\]"):
        export("unet-denoise", tmp_path / "x.onnx", inputs=("kernel",))
    with pytest.raises(InvalidInputError, match="format must be one of onnx, torchscript"):
        export("dcgan", tmp_path / "x.onnx", format="tflite")
    with pytest.raises(InvalidInputError, match="channels must be 1 or 3"):
        export("unet-denoise", tmp_path / "x.onnx", channels=2)
    with pytest.raises(InvalidInputError, match="makes 1-channel images, not 3"):
        export("dcgan", tmp_path / "x.onnx", channels=3)
    with pytest.raises(InvalidInputError, match="opset must be at least 17"):
        export("dcgan", tmp_path / "x.onnx", opset=13)
    not_export = tmp_path / "w.onnx"
    not_export.write_bytes(b"\x08\x07")
    with pytest.raises(InvalidInputError):
        read_export_metadata(not_export)
    assert not (tmp_path / "x.onnx").exists()


def test_cli_export_writes_checks_and_reports(tmp_path, capsys):
    out = tmp_path / "dcgan.pt"
    assert main(["export", "dcgan", "--format", "torchscript", "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert out.is_file() and report["bytes"] == out.stat().st_size
    assert report["metadata"]["component"] == "dcgan"
    assert report["check"]["runtime"] == "torch.jit.load" and report["check"]["max_abs_diff"] <= 1e-4
    # an existing file is kept unless --overwrite
    assert main(["export", "dcgan", "--format", "torchscript", "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_deblur_exports_its_network_method_and_says_so(exported, tmp_path, capsys):
    # restore()'s default is plug-and-play (no graph): the file is method='network' and equals that, not the default
    path = exported("deblur")[1] / "deblur-image+kernel.onnx"
    meta = read_export_metadata(path)
    assert meta["method"] == "network" and "method='network'" in meta["reproduces"]
    assert any("default method='pnp'" in n and "not exportable" in n for n in meta["notes"])
    from pixelsmith.testing._inputs import degraded_photo, params_from_truth

    spec = pixelsmith.spec("restorer", "deblur")
    _, degraded, _ = degraded_photo(spec, 1, 48, 56, seed=0)
    kernel = torch.as_tensor(params_from_truth(spec, degraded.truth)["kernel"], dtype=torch.float32)
    got = run_onnx(path, {"image": degraded.image, "kernel": kernel[None]})
    network = pixelsmith.restorer("deblur", device="cpu", method="network").restore(degraded.image, kernel=kernel)
    default = pixelsmith.restorer("deblur", device="cpu").restore(degraded.image, kernel=kernel)
    assert float((got - network).abs().max()) <= 1e-4 < float((got - default).abs().max())
    # the command's report names the call it was checked against
    assert main(["export", "deblur", "--input", "kernel", "-o", str(tmp_path / "d.onnx")]) == 0
    err = capsys.readouterr().err
    assert "vs PyTorch's pixelsmith.restorer('deblur', method='network').restore()" in err
    assert "restore()'s default method='pnp'" in err and "is not exportable" in err


def test_graphs_follow_model_config_and_a_separate_colour_network():
    # new weights (e.g. unshuffle=1) or a separate colour model need no export code: a restorer that
    # sends RGB to its own colour network is exported once per channel count
    from pixelsmith.plugin import UNet

    restorer = pixelsmith.restorer("unet-denoise", device="cpu")
    colour = types.SimpleNamespace(model=UNet(in_channels=5, out_channels=3, widths=(8, 16), unshuffle=1).eval())
    restorer._colour_network = lambda: colour
    with pytest.raises(ChannelsRequired, match="--channels 1.*--channels 3"):
        export_graph("unet-denoise", component=restorer)
    rgb = export_graph("unet-denoise", channels=3, inputs=("sigma",), component=restorer)
    assert rgb.facts["channels"] == [3] and rgb.facts["size_multiple"] == 2
    assert rgb.facts["model_config"]["unshuffle"] == 1 and "channels" not in rgb.inputs[0].axes.values()
    x = torch.rand(2, 3, 20, 18)
    with torch.no_grad():
        out = rgb.module(x, torch.tensor([0.1, float("nan")]))
        expected = (x + colour.model(torch.cat([x, torch.tensor([0.1, 0.0]).reshape(2, 1, 1, 1).expand(2, 1, 20, 18),
                                                torch.tensor([1.0, 0.0]).reshape(2, 1, 1, 1).expand(2, 1, 20, 18)],
                                               dim=1))).clamp(0, 1)
    assert torch.allclose(out, expected, atol=1e-6)  # joint RGB: image, σ map and flag in one network
    gray = export_graph("unet-denoise", channels=1, component=restorer)
    assert gray.facts["channels"] == [1] and gray.module.net.config["out_channels"] == 1


# -- the opt-in, as a third-party plugin uses it ---------------------------------------------------------
class _Box(pixelsmith.Restorer):
    """A 3×3 box filter, exported through its spec."""

    def _restore(self, x, **params):
        return nn.functional.avg_pool2d(nn.functional.pad(x, (1, 1, 1, 1), mode="replicate"), 3, 1)


class _BoxGraph(nn.Module):
    def forward(self, image):
        return nn.functional.avg_pool2d(nn.functional.pad(image, (1, 1, 1, 1), mode="replicate"), 3, 1).clamp(0, 1)


def _box_graph(component, *, inputs, channels):
    example = torch.rand(2, 1, 20, 24)
    return ExportGraph(_BoxGraph(), (GraphInput("image", example, {0: "batch", 1: "channels", 2: "height",
                                                                    3: "width"}),),
                       reference=component.restore, output="restored", facts={"channels": [1, 3]})


class _Broken(pixelsmith.Restorer):
    def _restore(self, x, **params):
        return x

    def export_graph(self, *, inputs=(), channels=None):  # a module whose output differs from restore()
        return ExportGraph(_BoxGraph(), (GraphInput("image", torch.rand(2, 1, 20, 24),
                                                    {0: "batch", 2: "height", 3: "width"}),),
                           reference=self.restore, facts={"channels": [1]})


def _plugin():
    return types.SimpleNamespace(pixelsmith_register_restorers=pixelsmith.hookimpl(lambda: [
        pixelsmith.RestorerSpec(name="box3", factory=_Box, summary="box", tasks=("denoise",),
                                export=Exporter(_box_graph)),
        pixelsmith.RestorerSpec(name="broken-export", factory=_Broken, summary="x", tasks=("denoise",),
                                channels=(1,)),
    ]))


def test_a_third_party_restorer_opts_in_and_the_kit_catches_a_wrong_graph(tmp_path):
    with registered(_plugin()):
        assert exportable(pixelsmith.spec("restorer", "box3"))
        assert exportable(pixelsmith.spec("restorer", "broken-export"))  # by its export_graph method
        checks = check_export("box3", directory=tmp_path)
        assert {c.format for c in checks} == set(FORMATS) and max(c.max_abs_diff for c in checks) < 1e-6
        with pytest.raises(AssertionError, match=r"broken-export \[image\] onnx .* exceeds 0.0001"):
            check_export("broken-export", directory=tmp_path)


def test_a_malformed_export_field_is_refused():
    with pytest.raises(pixelsmith.PluginError, match="export must be a pixelsmith.export.Exporter"):
        from pixelsmith.specs import validate_spec

        validate_spec(pixelsmith.RestorerSpec(name="x", factory=_Box, summary="x", tasks=("denoise",),
                                              export=lambda c: None), pixelsmith.RestorerSpec)
