"""The class-conditional DCGAN (``dcgan-cond``): labels steer the samples, resume is exact, and the
conditional and unconditional components refuse each other's weights files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixelsmith.errors import InvalidInputError, TrainingError, WeightsError
from pixelsmith.training import TrainConfig, load_checkpoint
from pixelsmith.training.gan import GENERATOR_FILE
from pixelsmith.weights import read_metadata
from pixelsmith_dcgan.model import DCGANDiscriminator, DCGANGenerator
from pixelsmith_dcgan.plugin import DCGAN, ConditionalDCGAN, export, train, train_conditional


def _config(out: Path, data: Path, steps: int, **kw) -> TrainConfig:
    return TrainConfig(out=out, data=data, steps=steps, batch_size=16, checkpoint_every=3, sample_every=3,
                       quiet=True, seed=5, device="cpu", extra={"ngf": "8", "ndf": "8", **kw.pop("extra", {})}, **kw)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, pixelsmith_tiny_digits) -> Path:
    out = tmp_path_factory.mktemp("cond") / "run"
    train_conditional(_config(out, pixelsmith_tiny_digits, 6))
    return out


def test_networks_use_the_labels():
    torch.manual_seed(0)
    g, d = DCGANGenerator(ngf=8, num_classes=10), DCGANDiscriminator(ndf=8, num_classes=10)
    z = torch.randn(4, 100)
    a, b = g(z, torch.tensor([0, 1, 2, 3])), g(z, torch.tensor([4, 4, 4, 4]))
    assert a.shape == (4, 1, 28, 28) and not torch.allclose(a, b)
    # the projection term: D's logit moves with the label alone
    x = torch.rand(2, 1, 28, 28)
    assert not torch.allclose(d(x, torch.tensor([0, 0])), d(x, torch.tensor([7, 7])))
    with pytest.raises(ValueError, match="one label per image"):
        g(z)
    with pytest.raises(ValueError, match="not class-conditional"):
        DCGANGenerator(ngf=8)(z, torch.zeros(4, dtype=torch.long))


def test_resume_is_exact_and_metadata_says_conditional(tmp_path, trained, pixelsmith_tiny_digits):
    train_conditional(_config(tmp_path / "b", pixelsmith_tiny_digits, 3))
    resumed = train_conditional(_config(tmp_path / "b", pixelsmith_tiny_digits, 6, resume=True))
    a = load_checkpoint(trained / "checkpoint-00000006.safetensors").tensors
    b = load_checkpoint(resumed).tensors
    assert set(a) == set(b) and any(k.startswith("D.embed") for k in a)
    assert [k for k in a if not k.startswith("rng.") and not torch.equal(a[k], b[k])] == []
    cfg = read_metadata(trained / GENERATOR_FILE)["model_config"]
    assert '"conditional": true' in cfg and '"num_classes": 10' in cfg


def test_labels_choose_the_class_and_default_cycles(trained):
    gen = ConditionalDCGAN(device="cpu", weights=trained / GENERATOR_FILE)
    assert gen.num_classes == 10
    z = gen.latents(12, seed=1)
    cycled = gen.decode(z)
    explicit = gen.decode(z, labels=torch.arange(12) % 10)
    assert torch.equal(cycled, explicit)
    assert torch.equal(gen.sample(12, seed=1), cycled)
    threes = gen.sample(12, seed=1, labels=3)
    assert torch.equal(threes, gen.decode(z, labels=torch.full((12,), 3)))
    assert not torch.equal(threes, cycled)
    path = gen.interpolate(z[0], z[1], steps=4, labels=7)
    torch.testing.assert_close(path[0], gen.decode(z[:1], labels=torch.tensor([7]))[0], atol=1e-5, rtol=0)
    with pytest.raises(InvalidInputError, match="0..9"):
        gen.sample(3, seed=0, labels=torch.tensor([0, 1, 10]))
    with pytest.raises(InvalidInputError, match="one integer or 3"):
        gen.sample(3, seed=0, labels=torch.tensor([0, 1]))
    with pytest.raises(InvalidInputError, match="integers"):
        gen.sample(2, seed=0, labels=torch.tensor([0.0, 1.0]))


def test_checkpoint_export_matches_the_final_generator_file(tmp_path, trained):
    sha = export(trained / "checkpoint-00000006.safetensors", tmp_path / "g.safetensors")
    assert len(sha) == 64
    a = ConditionalDCGAN(device="cpu", weights=tmp_path / "g.safetensors").sample(20, seed=0)
    b = ConditionalDCGAN(device="cpu", weights=trained / GENERATOR_FILE).sample(20, seed=0)
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_the_two_components_refuse_each_others_files(tmp_path, trained, pixelsmith_tiny_digits):
    with pytest.raises(WeightsError, match="class-conditional model.*dcgan-cond"):
        DCGAN(device="cpu", weights=trained / GENERATOR_FILE)
    train(_config(tmp_path / "plain", pixelsmith_tiny_digits, 3))
    with pytest.raises(WeightsError, match="unconditional model"):
        ConditionalDCGAN(device="cpu", weights=tmp_path / "plain" / GENERATOR_FILE)
    plain = DCGAN(device="cpu", weights=tmp_path / "plain" / GENERATOR_FILE)
    with pytest.raises(InvalidInputError, match="not class-conditional"):
        plain.sample(2, seed=0, labels=torch.tensor([0, 1]))


def test_unlabelled_data_and_bad_class_counts_are_clear(tmp_path, pixelsmith_tiny_photos):
    with pytest.raises(TrainingError, match="num_classes"):
        train_conditional(_config(tmp_path / "x", tmp_path, 3, extra={"num_classes": "1"}))
    with pytest.raises(TrainingError, match="labelled data"):
        train_conditional(_config(tmp_path / "y", pixelsmith_tiny_photos, 3))


def test_generate_cli_label_option(tmp_path, trained, capsys):
    from pixelsmith.cli import main
    from pixelsmith.io import read_image

    weights = f"weights={trained / GENERATOR_FILE}"
    assert main(["generate", "dcgan-cond", weights, "-n", "4", "--seed", "2", "--label", "3", "--label", "8",
                 "--each", str(tmp_path / "each"), "--device", "cpu", "--quiet"]) == 0
    expected = ConditionalDCGAN(device="cpu", weights=trained / GENERATOR_FILE).sample(
        4, seed=2, labels=torch.tensor([3, 8, 3, 8]))
    for i in range(4):
        assert torch.allclose(read_image(tmp_path / "each" / f"sample_{i:04d}.png"), expected[i:i + 1], atol=1 / 255)
    assert main(["generate", "dcgan", "--label", "3", "-n", "2", "-o", str(tmp_path / "x.png"),
                 "--device", "cpu"]) == 2
    assert "not class-conditional" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_shipped_conditional_weights_pass_the_kit_and_draw_the_asked_digit():
    import pixelsmith
    from pixelsmith.testing import check_generator
    from pixelsmith_dcgan.plugin import CONDITIONAL_WEIGHTS

    assert CONDITIONAL_WEIGHTS.path.is_file(), "dcgan-cond ships its weights"
    check_generator("dcgan-cond")
    gen = pixelsmith.generator("dcgan-cond", device="cpu")
    x = gen.sample(2000, seed=0)
    assert x.shape == (2000, 1, 28, 28) and torch.equal(x, gen.sample(2000, seed=0))
    # the project's MNIST CNN (genmetrics) reads the requested class back from most samples
    extractor = pytest.importorskip("pixelsmith_genmetrics.classifier").load_feature_extractor("cpu")
    agree = (extractor.probabilities(x).argmax(1) == torch.arange(2000) % 10).float().mean()
    assert agree > 0.9
