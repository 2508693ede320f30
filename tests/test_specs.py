"""Spec validation: malformed specs are rejected with messages that say what is wrong."""

import pytest

import pixelsmith
from pixelsmith.errors import PluginError
from pixelsmith.specs import (
    DegradationSpec,
    GeneratorSpec,
    MetricSpec,
    RestorerSpec,
    WeightsFile,
    normalize_name,
    spec_facts,
    validate_spec,
)


def _factory(**kwargs):
    return None


def test_normalize_name_is_case_and_separator_insensitive():
    assert normalize_name("UNet_Denoise") == normalize_name("unet-denoise") == "unet-denoise"
    assert normalize_name(" MS SSIM ") == "ms-ssim"


def test_valid_specs_pass():
    specs = [
        (MetricSpec(name="psnr", factory=_factory, summary="PSNR", higher_is_better=True), MetricSpec),
        (RestorerSpec(name="x", factory=_factory, summary="x", tasks=("denoise",)), RestorerSpec),
        (GeneratorSpec(name="g", factory=_factory, summary="g", output_shape=(1, 28, 28)), GeneratorSpec),
        (DegradationSpec(name="d", factory=_factory, summary="d", task="deblur"), DegradationSpec),
    ]
    for spec, cls in specs:
        assert validate_spec(spec, cls) is spec


@pytest.mark.parametrize(
    "spec, fragment",
    [
        (RestorerSpec(name="x", factory=_factory, summary="x", tasks=("sharpen",)), "tasks"),
        (RestorerSpec(name="x", factory=_factory, summary="x", tasks=("denoise",), channels=(4,)), "channels"),
        (RestorerSpec(name="bad name!", factory=_factory, summary="x", tasks=("denoise",)), "name"),
        (RestorerSpec(name="x", factory=42, summary="x", tasks=("denoise",)), "factory"),
        (RestorerSpec(name="x", factory=_factory, summary="", tasks=("denoise",)), "summary"),
        (RestorerSpec(name="x", factory=_factory, summary="two\nlines", tasks=("denoise",)), "one line"),
        (GeneratorSpec(name="g", factory=_factory, summary="g", output_shape=(2, 28, 28)), "output_shape"),
        (DegradationSpec(name="d", factory=_factory, summary="d", task="nope"), "task"),
        (RestorerSpec(name="x", factory=_factory, summary="x", tasks=("denoise",),
                      weights=WeightsFile("w.safetensors", "abc")), "sha256"),
    ],
)
def test_malformed_specs_are_rejected_with_reason(spec, fragment):
    with pytest.raises(PluginError, match=fragment):
        validate_spec(spec, type(spec))


def test_wrong_spec_type_is_rejected():
    spec = MetricSpec(name="m", factory=_factory, summary="m", higher_is_better=True)
    with pytest.raises(PluginError, match="expected a RestorerSpec, got MetricSpec"):
        validate_spec(spec, RestorerSpec)
    with pytest.raises(PluginError, match="expected a MetricSpec"):
        validate_spec({"name": "m"}, MetricSpec)


def test_specs_are_frozen():
    spec = MetricSpec(name="m", factory=_factory, summary="m", higher_is_better=True)
    with pytest.raises(AttributeError):
        spec.name = "other"


def test_spec_facts_are_plain_data():
    w = WeightsFile("w.safetensors", "0" * 64)
    spec = RestorerSpec(name="x", factory=_factory, summary="x", tasks=("denoise",), weights=w,
                        requires=("sigma",))
    facts = spec_facts(spec)
    assert facts["kind"] == "restorer"
    assert facts["weights"] == {"path": "w.safetensors", "sha256": "0" * 64}
    assert facts["requires"] == ["sigma"]
    assert "factory" not in facts and facts["trainable"] is False


def test_public_spec_classes_are_exported():
    assert pixelsmith.RestorerSpec is RestorerSpec and pixelsmith.WeightsFile is WeightsFile


def test_spec_errors_say_what_is_allowed():
    bad = RestorerSpec(name="x", factory=_factory, summary="x", tasks=("denoising",))
    with pytest.raises(PluginError) as info:
        validate_spec(bad, RestorerSpec)
    message = str(info.value)
    assert "'denoising' is not a restoration task" in message
    assert "allowed: denoise, deblur, impulse, inpaint, poisson, generic" in message
    assert "must be non-empty, from" not in message  # the old, garbled wording
    with pytest.raises(PluginError, match=r"tasks=\(\) must be a non-empty tuple .* e\.g\. tasks=\('denoise',\)"):
        validate_spec(RestorerSpec(name="x", factory=_factory, summary="x", tasks=()), RestorerSpec)
    with pytest.raises(PluginError, match=r"task='nope' is not a restoration task; allowed: denoise"):
        validate_spec(DegradationSpec(name="d", factory=_factory, summary="d", task="nope"), DegradationSpec)
    with pytest.raises(PluginError, match=r"reference='pairwise' is not a kind of metric; allowed: full-reference"):
        validate_spec(MetricSpec(name="m", factory=_factory, summary="m", higher_is_better=True,
                                 reference="pairwise"), MetricSpec)
