"""Golden outputs (issue 15): every shipped weights file is pinned by recorded outputs; a change in code or
weights that changes what users get fails; regenerating is one command and reproduces the files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import pixelsmith
from pixelsmith.testing import ConformanceError, check_golden
from pixelsmith.testing._golden import (
    DEFAULT_ATOL,
    UPDATE_COMMAND,
    _decode,
    _encode,
    golden_atol,
    golden_components,
    golden_path,
    golden_weights_files,
    pinned_weights,
    write_golden,
)
from pixelsmith.testing.golden import main as golden_main

#: Shipped weights files that no registered component loads, and why (they need no golden outputs).
UNSERVED = {"unet-impulse.safetensors": "unet-impulse left the registry (4a452cd); kept to rerun the measurement"}

COMPONENTS = golden_components()


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _shipped_weights_files() -> set[Path]:
    """Every safetensors file in the weights folders of the installed plugins that ship weights."""
    folders = {pixelsmith.spec(k, n).weights.path.parent for k, n in COMPONENTS}
    return {p for folder in folders for p in folder.glob("*.safetensors")}


def test_the_shipped_models_have_golden_outputs():
    names = {n for _, n in COMPONENTS}
    assert {"unet-denoise", "deblur", "dcgan", "dcgan-cond", "mlp-gan", "fd"} <= names


def test_every_shipped_weights_file_is_pinned_by_a_golden_file():
    pinned: set[str] = set()
    for weights in golden_weights_files():
        record = json.loads(golden_path(weights).read_text(encoding="utf-8"))
        assert record["weights"]["file"] == weights.name
        pinned |= set(record["pins"])
    shipped = {p.name for p in _shipped_weights_files()}
    assert "kernel-estimator.safetensors" in pinned  # held by deblur, not by a spec of its own
    assert shipped - pinned == set(UNSERVED), f"weights without golden outputs: {sorted(shipped - pinned)}"


@pytest.mark.parametrize("kind,name", COMPONENTS, ids=[n for _, n in COMPONENTS])
def test_component_gives_its_golden_outputs(kind, name):
    seen = []
    check_golden(name, kind=kind, on_case=lambda label, diff: seen.append(diff))
    # within the component's own tolerance (deblur's plug-and-play: 1e-3; it moved 1.45e-4 between CPUs)
    assert seen and max(seen) <= golden_atol(pixelsmith.spec(kind, name))


def test_restorer_cases_cover_gray_rgb_blind_and_given_parameters():
    record = json.loads(golden_path(pixelsmith.spec("restorer", "deblur").weights).read_text(encoding="utf-8"))
    cases = {c["case"]: c for c in record["cases"]}
    # the default (plug-and-play) path, and the network method: the one that runs deblur.safetensors
    assert set(cases) == {"gray-blind", "gray-given", "rgb-blind", "rgb-given", "network-gray-blind",
                          "network-gray-given", "network-rgb-blind", "network-rgb-given"}
    assert cases["gray-given"]["call"] == "restore(x, kernel=..., sigma=...)"  # every parameter deblur accepts
    assert cases["network-gray-given"]["call"] == "deblur(method='network').restore(x, kernel=..., sigma=...)"
    assert cases["network-gray-given"]["options"] == {"method": "network"} and "options" not in cases["gray-given"]
    assert cases["gray-blind"]["inputs"]["x"]["input"] in record["inputs"]
    assert cases["network-gray-blind"]["inputs"] == cases["gray-blind"]["inputs"]  # same input, other path
    assert all(c["psnr_vs_clean_db"] > 20 for c in cases.values())  # real photographs, really restored


def test_a_changed_deblur_network_path_fails_although_the_default_path_does_not_use_it(monkeypatch):
    # deblur's default plug-and-play method never runs its U-Net; its golden variant does
    factory = pixelsmith.spec("restorer", "deblur").factory
    prepare = factory.prepare
    monkeypatch.setattr(factory, "prepare", lambda self, x, **kw: prepare(self, x, **kw) + 1e-2)
    with pytest.raises(ConformanceError) as err:
        check_golden("deblur")
    failed = [line for line in str(err.value).splitlines() if "exceeds" in line]
    assert {line.split()[2] for line in failed} == {"network-gray-blind", "network-gray-given",
                                                    "network-rgb-blind", "network-rgb-given"}


def test_a_golden_file_without_the_variant_cases_fails(tmp_path):
    spec = pixelsmith.spec("restorer", "deblur")
    record = json.loads(golden_path(spec.weights).read_text(encoding="utf-8"))
    record["cases"] = [c for c in record["cases"] if "options" not in c]
    old = tmp_path / "deblur.golden.json"
    old.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ConformanceError, match="has no cases of deblur's golden variant 'network'"):
        check_golden("deblur", golden=old)


def test_a_changed_network_fails_and_says_how_to_update():
    restorer = pixelsmith.restorer("unet-denoise", device="cpu")
    with torch.no_grad():
        restorer.model.tail.bias.add_(2e-3)
    with pytest.raises(ConformanceError, match=r"(?s)gray-blind .*exceeds 0.0001.*" + UPDATE_COMMAND + " unet-denoise"):
        check_golden("unet-denoise", component=restorer)


def test_changed_weights_fail_before_any_output_is_compared(tmp_path):
    spec = pixelsmith.spec("generator", "dcgan")
    record = json.loads(golden_path(spec.weights).read_text(encoding="utf-8"))
    record["weights"]["sha256"] = "0" * 64
    record["pins"][spec.weights.path.name] = "0" * 64
    changed = tmp_path / "dcgan.golden.json"
    changed.write_text(json.dumps(record), encoding="utf-8")
    now = spec.weights.sha256[:12]
    with pytest.raises(ConformanceError, match=f"recorded for weights sha256 000000000000…, the spec now says {now}"):
        check_golden("dcgan", golden=changed)


def test_a_changed_expected_output_fails(tmp_path):
    spec = pixelsmith.spec("restorer", "deblur")
    record = json.loads(golden_path(spec.weights).read_text(encoding="utf-8"))
    record["cases"][0]["expected"]["shape"] = [1, 1, 24, 32]  # the same bytes, transposed shape
    changed = tmp_path / "deblur.golden.json"
    changed.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ConformanceError, match=r"gray-blind .* max \|Δ\| inf"):
        check_golden("deblur", golden=changed)


def test_a_component_may_name_a_looser_tolerance_and_the_file_holds_it(tmp_path):
    # deblur's plug-and-play outputs differ across CPUs by more than the default tolerance (long float work)
    deblur, denoise = pixelsmith.spec("restorer", "deblur"), pixelsmith.spec("restorer", "unet-denoise")
    assert deblur.factory.golden_atol > DEFAULT_ATOL and not hasattr(denoise.factory, "golden_atol")
    record = json.loads(golden_path(deblur.weights).read_text(encoding="utf-8"))
    assert record["atol"] == deblur.factory.golden_atol
    assert json.loads(golden_path(denoise.weights).read_text(encoding="utf-8"))["atol"] == DEFAULT_ATOL
    # the check compares with the file's tolerance: a shift inside it passes, one past it fails
    case = record["cases"][0]
    expected = _decode(case["expected"])
    for shift, fails in ((0.5 * record["atol"], False), (2 * record["atol"], True)):
        case["expected"] = _encode(expected + shift)
        changed = tmp_path / "deblur.golden.json"
        changed.write_text(json.dumps(record), encoding="utf-8")
        if fails:
            with pytest.raises(ConformanceError, match=r"gray-blind .* exceeds 0\.001"):
                check_golden("deblur", golden=changed)
        else:
            check_golden("deblur", golden=changed)


def test_missing_golden_file_and_components_without_weights(tmp_path):
    with pytest.raises(ConformanceError, match=f"has no golden file .*write it with `{UPDATE_COMMAND} dcgan`"):
        check_golden("dcgan", golden=tmp_path / "none.json")
    with pytest.raises(ConformanceError, match="has no weights file"):
        check_golden("ssim")
    with pytest.raises(ConformanceError, match="no restorer, generator or metric named 'nope'"):
        check_golden("nope")


def _assert_same_golden(new: dict, shipped: dict) -> None:
    """Everything equal except the recorded outputs' last bits: float32 sums are rounded differently by
    different CPU instruction sets (AVX2 against AVX-512: 1 ulp here), so outputs agree to 1e-6."""
    assert {k: v for k, v in new.items() if k != "cases"} == {k: v for k, v in shipped.items() if k != "cases"}
    assert len(new["cases"]) == len(shipped["cases"])
    for a, b in zip(new["cases"], shipped["cases"]):
        assert {k: v for k, v in a.items() if k != "expected"} == {k: v for k, v in b.items() if k != "expected"}
        got, want = _decode(a["expected"]), _decode(b["expected"])
        assert got.shape == want.shape and got.dtype == want.dtype
        assert torch.allclose(got.double(), want.double(), rtol=0, atol=1e-6), a["case"]


def test_regenerating_reproduces_the_shipped_files(tmp_path):
    written = write_golden(["dcgan-cond", "unet-denoise"], directory=tmp_path)
    assert sorted(p.name for p in written) == ["dcgan-cond-mnist.golden.json", "unet-denoise.golden.json"]
    for path in written:
        spec = pixelsmith.spec("generator" if "dcgan" in path.name else "restorer",
                               "dcgan-cond" if "dcgan" in path.name else "unet-denoise")
        _assert_same_golden(json.loads(path.read_text()), json.loads(golden_path(spec.weights).read_text()))
    with pytest.raises(ConformanceError, match="no component with shipped weights named \\['nope'\\]"):
        write_golden(["nope"], directory=tmp_path)


def test_pinned_weights_follow_the_instance():
    deblur = pixelsmith.spec("restorer", "deblur")
    # its network, its kernel estimators (standard and six-family) and no-blur detector, the denoiser prior its
    # plug-and-play method pins (its default and heavy-noise priors) and the Gaussian denoiser they started from
    assert sorted(w.path.name for w in pinned_weights(deblur)) == ["deblur.safetensors",
                                                                  "kernel-constructions.safetensors",
                                                                  "kernel-estimator.safetensors",
                                                                  "no-blur-detector.safetensors",
                                                                  "pnp-prior-full.safetensors",
                                                                  "pnp-prior-gray.safetensors",
                                                                  "pnp-prior-unfolded.safetensors"]
    cond = pixelsmith.spec("generator", "dcgan-cond")  # a subclass names its own weights, not its parent's
    assert [w.path.name for w in pinned_weights(cond)] == ["dcgan-cond-mnist.safetensors"]


def test_the_golden_command_checks_and_refuses_unknown_names(capsys):
    assert golden_main(["dcgan", "mlp-gan"]) == 0
    out = capsys.readouterr().out
    assert "ok    generator dcgan" in out and "ok    generator mlp-gan" in out
    assert golden_main(["nope"]) == 2
    assert "no component with shipped weights named ['nope']" in capsys.readouterr().err
