"""The shared GAN trainer and scaffolding in core, without any GAN plugin: a tiny TrainedGANGenerator
subclass gets its trainer, export and spec from core; options (R1, DiffAugment) are recorded and
kept on resume; the class-conditional path is exact on resume. (The GAN plugins run the shared
plugin tests of pixelsmith.testing.gan on their own networks.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

import pixelsmith
from pixelsmith.errors import TrainingError
from pixelsmith.testing.gan import GANPluginTests
from pixelsmith.training import TrainConfig, load_checkpoint
from pixelsmith.training.gan import GENERATOR_FILE
from pixelsmith.training.gan_weights import TrainedGANGenerator, check_labels, latent_input


class TinyG(nn.Module):
    def __init__(self, latent_dim: int = 8, image_size: int = 28, channels: int = 1, width: int = 16,
                 num_classes: int = 0) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        self.latent_dim, self.num_classes, self.shape = latent_dim, num_classes, (channels, image_size, image_size)
        self.net = nn.Sequential(nn.Linear(latent_dim + num_classes, width), nn.BatchNorm1d(width), nn.ReLU(),
                                 nn.Linear(width, channels * image_size * image_size), nn.Sigmoid())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(latent_input(z, labels, self.latent_dim, self.num_classes)).reshape(-1, *self.shape)


class TinyD(nn.Module):
    def __init__(self, image_size: int = 28, channels: int = 1, width: int = 16, num_classes: int = 0) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(nn.Linear(channels * image_size * image_size, width), nn.LeakyReLU(0.2))
        self.logit = nn.Linear(width, 1)
        self.embed = nn.Embedding(num_classes, width) if num_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        labels = check_labels(labels, x.shape[0], self.num_classes)
        h = self.features(x.flatten(1))
        out = self.logit(h).squeeze(1)
        return out if labels is None else out + (self.embed(labels) * h).sum(1)


class TinyGAN(TrainedGANGenerator):
    component = "tiny-gan"
    model_name = "a tiny GAN"
    summary = "a tiny fully connected GAN for tests"
    shipped_weights = None
    network = TinyG
    discriminator = TinyD
    model_defaults = {"latent_dim": 8, "image_size": 28, "channels": 1, "width": 16}


class ConditionalTinyGAN(TinyGAN):
    component = "tiny-gan-cond"
    model_name = "a class-conditional tiny GAN"
    class_conditional = True


class TinyPlugin:
    """Registers the two tiny components, as a GAN plugin's hook does."""

    @staticmethod
    @pixelsmith.hookimpl
    def pixelsmith_register_generators():
        return [TinyGAN.generator_spec(), ConditionalTinyGAN.generator_spec()]


class TestTinyGAN(GANPluginTests):
    """The shared plugin tests on the tiny GAN, registered for the duration of each test."""

    generator = TinyGAN
    conditional = ConditionalTinyGAN
    tiny = {"width": "8"}
    invalid_architecture = ({"channels": "2"}, "channels")

    @pytest.fixture(autouse=True)
    def _registered(self, pixelsmith_plugins):
        pixelsmith_plugins(TinyPlugin)


def _config(out: Path, data: Path, steps: int, **kw) -> TrainConfig:
    return TrainConfig(out=out, data=data, steps=steps, batch_size=16, checkpoint_every=3, sample_every=3,
                       quiet=True, seed=7, device="cpu", extra=kw.pop("extra", {}), **kw)


def _augment_record(path: Path) -> tuple[bool, str]:
    meta = load_checkpoint(path).metadata
    return meta["augment"] == "true", meta["augment_policy"]


def test_scaffolding_derives_keys_spec_and_declared_options():
    assert TinyGAN.arch_keys() == ("latent_dim", "image_size", "channels", "width", "num_classes")
    assert ConditionalTinyGAN.architecture_defaults()["num_classes"] == 10
    spec = ConditionalTinyGAN.generator_spec()
    assert (spec.name, spec.output_shape, spec.conditional) == ("tiny-gan-cond", (1, 28, 28), True)
    assert spec.train is ConditionalTinyGAN.train_function()  # one object: its options travel with it
    assert {"width", "num_classes", "r1", "augment_policy"} <= set(spec.train.options)
    assert callable(getattr(TinyGAN, "export_graph", None))


def test_r1_penalty_option_trains_and_is_recorded(tmp_path, pixelsmith_tiny_digits):
    train = TinyGAN.train_function()
    path = train(_config(tmp_path / "r1", pixelsmith_tiny_digits, 3, extra={"r1": "10", "log_every": "1"}))
    assert json.loads(load_checkpoint(path).metadata["r1"]) == 10.0
    records = [json.loads(line) for line in (tmp_path / "r1" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3]
    assert all(set(r) == {"step", "seconds", "loss_d", "loss_g", "d_real", "d_fake"} for r in records)
    assert all(r["loss_d"] == r["loss_d"] and abs(r["loss_d"]) < 1e3 for r in records)  # finite
    with pytest.raises(TrainingError, match="r1"):
        train(_config(tmp_path / "bad", pixelsmith_tiny_digits, 3, extra={"r1": "-1"}))


def test_augmentation_is_off_by_default_for_gray_digits_and_on_when_asked(tmp_path, pixelsmith_tiny_digits):
    train = TinyGAN.train_function()
    # the measured default for gray digits (see GAN_DEFAULTS): no DiffAugment
    assert _augment_record(train(_config(tmp_path / "plain", pixelsmith_tiny_digits, 2))) == (False, "")
    asked = train(_config(tmp_path / "aug", pixelsmith_tiny_digits, 2, extra={"augment_policy": "translation,cutout"}))
    assert _augment_record(asked) == (True, "translation,cutout")
    off = train(_config(tmp_path / "off", pixelsmith_tiny_digits, 2, extra={"augment_policy": "none"}))
    assert _augment_record(off) == (False, "")
    # augmentation changes what D sees, so the two runs part ways from the first step
    a = load_checkpoint(asked).tensors
    b = load_checkpoint(tmp_path / "plain" / "checkpoint-00000002.safetensors").tensors
    assert not torch.equal(a["D.features.0.weight"], b["D.features.0.weight"])


def test_resume_keeps_the_augmentation_the_run_folder_recorded(tmp_path, pixelsmith_tiny_digits):
    train = TinyGAN.train_function()
    aug = {"augment_policy": "translation,cutout"}
    straight = train(_config(tmp_path / "a", pixelsmith_tiny_digits, 6, extra=aug))
    train(_config(tmp_path / "b", pixelsmith_tiny_digits, 3, extra=aug))
    # resumed without any augmentation option: the folder's DiffAugment stays on, not today's default
    resumed = train(_config(tmp_path / "b", pixelsmith_tiny_digits, 6, resume=True))
    assert _augment_record(resumed) == (True, "translation,cutout")
    a, b = load_checkpoint(straight).tensors, load_checkpoint(resumed).tensors
    assert [k for k in a if not k.startswith("rng.") and not torch.equal(a[k], b[k])] == []
    # an explicit --no-augment on resume is obeyed and recorded
    stopped = train(_config(tmp_path / "b", pixelsmith_tiny_digits, 9, resume=True, augment=False))
    assert _augment_record(stopped) == (False, "")


def test_train_gan_takes_any_label_aware_networks(tmp_path, pixelsmith_tiny_digits):
    """train_gan directly (no scaffolding): the conditional branch with label-aware G and D, exact on resume."""
    from pixelsmith.training.gan import train_gan

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.fc = nn.Embedding(10, 8), nn.Linear(16, 784)

        def forward(self, z, y):
            return torch.sigmoid(self.fc(torch.cat([z, self.emb(y)], 1))).reshape(-1, 1, 28, 28)

    class D(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.fc = nn.Embedding(10, 784), nn.Linear(784, 1)

        def forward(self, x, y):
            return self.fc(x.flatten(1) * torch.sigmoid(self.emb(y))).squeeze(1)

    def run(out, steps, resume=False):
        cfg = TrainConfig(out=out, data=pixelsmith_tiny_digits, steps=steps, batch_size=16, checkpoint_every=2,
                          sample_every=2, quiet=True, resume=resume, device="cpu")
        return train_gan(cfg, component="cgan-test", build_generator=G, build_discriminator=D, latent_dim=8,
                         image_size=28, channels=1, conditional=True)

    a = load_checkpoint(run(tmp_path / "a", 4)).tensors
    run(tmp_path / "b", 2)
    b = load_checkpoint(run(tmp_path / "b", 4, resume=True)).tensors
    assert all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng."))
    assert (tmp_path / "a" / GENERATOR_FILE).is_file()
