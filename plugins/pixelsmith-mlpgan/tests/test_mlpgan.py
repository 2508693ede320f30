"""Train a tiny MLP-GAN for a few steps; checkpoints round-trip, resume is exact, sampling is deterministic."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import pixelsmith
from pixelsmith.errors import TrainingError, WeightsError
from pixelsmith.training import TrainConfig, load_checkpoint
from pixelsmith.training.gan import GENERATOR_FILE
from pixelsmith.weights import read_metadata, sha256_of
from pixelsmith_mlpgan.plugin import MLPGAN, SHIPPED_WEIGHTS, train

TINY = {"hidden": "16"}


def _config(out: Path, data: Path, steps: int, **kw) -> TrainConfig:
    return TrainConfig(out=out, data=data, steps=steps, batch_size=16, checkpoint_every=3, sample_every=3,
                       quiet=True, seed=7, device="cpu", extra={**TINY, **kw.pop("extra", {})}, **kw)


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).tensors


def test_resume_matches_uninterrupted_run_exactly(tmp_path, pixelsmith_tiny_digits):
    straight = train(_config(tmp_path / "a", pixelsmith_tiny_digits, 6))
    train(_config(tmp_path / "b", pixelsmith_tiny_digits, 3))
    resumed = train(_config(tmp_path / "b", pixelsmith_tiny_digits, 6, resume=True))
    a, b = _tensors(straight), _tensors(resumed)
    assert load_checkpoint(resumed).step == 6
    assert set(a) == set(b)
    assert any(k.startswith("optim.D.state") for k in a) and any(k.startswith("G_ema.") for k in a)
    for key in a:
        if key.startswith("rng."):
            continue
        assert torch.equal(a[key], b[key]), key
    ga = load_file(tmp_path / "a" / GENERATOR_FILE)
    gb = load_file(tmp_path / "b" / GENERATOR_FILE)
    assert [k for k in ga if not torch.equal(ga[k], gb[k])] == []
    assert read_metadata(tmp_path / "a" / GENERATOR_FILE) == read_metadata(tmp_path / "b" / GENERATOR_FILE)
    assert (tmp_path / "a" / "samples-00000006.png").is_file()
    assert (tmp_path / "a" / "log.jsonl").read_text().strip()


def test_weights_rebuild_architecture_and_sample_deterministically(tmp_path, pixelsmith_tiny_digits):
    train(_config(tmp_path / "run", pixelsmith_tiny_digits, 3, extra={"image_size": "32", "channels": "3"}))
    weights = tmp_path / "run" / GENERATOR_FILE
    assert '"image_size": 32' in read_metadata(weights)["model_config"]
    assert read_metadata(weights)["augment"] == "true"  # RGB data: DiffAugment on by default
    gen = MLPGAN(device="cpu", weights=weights)
    assert gen.output_shape == (3, 32, 32)
    x = gen.sample(40, seed=3, batch_size=16)
    assert x.shape == (40, 3, 32, 32) and x.dtype == torch.float32
    assert torch.equal(x, gen.sample(40, seed=3, batch_size=16))
    # another batch size may change the BLAS kernel, so only rounding may differ
    torch.testing.assert_close(x, gen.sample(40, seed=3, batch_size=7), atol=1e-5, rtol=0)
    assert not torch.equal(x, gen.sample(40, seed=4))
    steps = gen.interpolate(gen.latents(1, 0), gen.latents(1, 1), steps=5)
    assert steps.shape == (5, 3, 32, 32)
    torch.testing.assert_close(steps[0], gen.decode(gen.latents(1, 0))[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(steps[-1], gen.decode(gen.latents(1, 1))[0], atol=1e-5, rtol=0)


def test_existing_run_needs_resume_and_bad_options_are_clear(tmp_path, pixelsmith_tiny_digits):
    train(_config(tmp_path / "run", pixelsmith_tiny_digits, 3))
    with pytest.raises(TrainingError, match="--resume"):
        train(_config(tmp_path / "run", pixelsmith_tiny_digits, 6))
    with pytest.raises(TrainingError, match="hidden"):
        train(_config(tmp_path / "x", pixelsmith_tiny_digits, 3, extra={"hidden": "lots"}))
    with pytest.raises(TrainingError, match="unknown training option"):
        train(_config(tmp_path / "y", pixelsmith_tiny_digits, 3, extra={"nfg": "8"}))


def test_sigint_writes_a_checkpoint_and_stops(tmp_path, pixelsmith_tiny_digits, monkeypatch):
    from pixelsmith.training import session as session_mod

    real_iterate = session_mod.TrainingSession.iterate

    def iterate(self, start):
        for step in real_iterate(self, start):
            if step == 2:
                os.kill(os.getpid(), signal.SIGINT)
            yield step

    monkeypatch.setattr(session_mod.TrainingSession, "iterate", iterate)
    path = train(_config(tmp_path / "run", pixelsmith_tiny_digits, 1000))
    assert load_checkpoint(path).step == 2
    assert not (tmp_path / "run" / GENERATOR_FILE).exists()


def test_wrong_sha256_is_refused(tmp_path, pixelsmith_tiny_digits):
    train(_config(tmp_path / "run", pixelsmith_tiny_digits, 3))
    with pytest.raises(WeightsError, match="sha256"):
        MLPGAN(device="cpu", weights=tmp_path / "run" / GENERATOR_FILE, sha256="0" * 64)


shipped = pytest.mark.skipif(not SHIPPED_WEIGHTS.path.is_file(), reason="weights not trained yet")


@shipped
def test_shipped_weights_sample_2000_digits_deterministically():
    gen = pixelsmith.generator("mlp-gan", device="cpu")
    x = gen.sample(2000, seed=0)
    assert x.shape == (2000, 1, 28, 28)
    assert float(x.min()) >= 0 and float(x.max()) <= 1
    assert torch.equal(x, pixelsmith.generator("mlp-gan", device="cpu").sample(2000, seed=0))
    assert sha256_of(SHIPPED_WEIGHTS.path) == SHIPPED_WEIGHTS.sha256
    assert 0.05 < float(x.mean()) < 0.35  # digit-like ink coverage, not blank or saturated


@shipped
def test_conformance_kit():
    testing = pytest.importorskip("pixelsmith.testing")
    if not hasattr(testing, "check_generator"):
        pytest.skip("pixelsmith.testing.check_generator not available")
    testing.check_generator("mlp-gan")


def test_r1_penalty_option_trains_and_is_recorded(tmp_path, pixelsmith_tiny_digits):
    import json

    path = train(_config(tmp_path / "r1", pixelsmith_tiny_digits, 3, extra={"r1": "10", "log_every": "1"}))
    assert json.loads(load_checkpoint(path).metadata["r1"]) == 10.0
    losses = [json.loads(line)["loss_d"] for line in (tmp_path / "r1" / "log.jsonl").read_text().splitlines()]
    assert len(losses) == 3 and all(l == l and abs(l) < 1e3 for l in losses)  # finite
    with pytest.raises(TrainingError, match="r1"):
        train(_config(tmp_path / "bad", pixelsmith_tiny_digits, 3, extra={"r1": "-1"}))


def _augment_record(path: Path) -> tuple[bool, str]:
    meta = load_checkpoint(path).metadata
    return meta["augment"] == "true", meta["augment_policy"]


def test_augmentation_is_off_by_default_for_gray_digits_and_on_when_asked(tmp_path, pixelsmith_tiny_digits):
    # the measured default for gray digits (see GAN_DEFAULTS): no DiffAugment
    assert _augment_record(train(_config(tmp_path / "plain", pixelsmith_tiny_digits, 2))) == (False, "")
    asked = train(_config(tmp_path / "aug", pixelsmith_tiny_digits, 2, extra={"augment_policy": "translation,cutout"}))
    assert _augment_record(asked) == (True, "translation,cutout")
    off = train(_config(tmp_path / "off", pixelsmith_tiny_digits, 2, extra={"augment_policy": "none"}))
    assert _augment_record(off) == (False, "")
    # augmentation changes what D sees, so the two runs part ways from the first step
    a, b = _tensors(asked), _tensors(tmp_path / "plain" / "checkpoint-00000002.safetensors")
    assert not torch.equal(a["D.net.0.weight"], b["D.net.0.weight"])


def test_resume_keeps_the_augmentation_the_run_folder_recorded(tmp_path, pixelsmith_tiny_digits):
    aug = {"augment_policy": "translation,cutout"}
    straight = train(_config(tmp_path / "a", pixelsmith_tiny_digits, 6, extra=aug))
    train(_config(tmp_path / "b", pixelsmith_tiny_digits, 3, extra=aug))
    # resumed without any augmentation option: the folder's DiffAugment stays on, not today's default
    resumed = train(_config(tmp_path / "b", pixelsmith_tiny_digits, 6, resume=True))
    assert _augment_record(resumed) == (True, "translation,cutout")
    a, b = _tensors(straight), _tensors(resumed)
    assert [k for k in a if not k.startswith("rng.") and not torch.equal(a[k], b[k])] == []
    # an explicit --no-augment on resume is obeyed and recorded
    stopped = train(_config(tmp_path / "b", pixelsmith_tiny_digits, 9, resume=True, augment=False))
    assert _augment_record(stopped) == (False, "")
