"""Restoration training sources: photographs, dead leaves, folders, mixes, scale augmentation, holdout."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import pixelsmith
from pixelsmith.cli import main
from pixelsmith.errors import TrainingError
from pixelsmith.testing import requires_component
from pixelsmith.training import TrainConfig
from pixelsmith.training.restoration import data_sources
from pixelsmith.training.sources import (DeadLeavesPatches, MixedPatches, PhotoPatches, build_patch_source,
                                         is_keyword_source)

VALIDATION = ("clock", "rocket")


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_keywords_and_paths():
    assert is_keyword_source("dead-leaves") and is_keyword_source("photos")
    assert not is_keyword_source("./dead-leaves") and not is_keyword_source("/data/photos")
    assert data_sources(TrainConfig(out="x")) == ["photos"]
    assert data_sources(TrainConfig(out="x", data="/a")) == [Path("/a")]
    # a data Path is a folder even when it is named like a keyword
    assert data_sources(TrainConfig(out="x", data="photos")) == [Path("photos")]
    assert data_sources(TrainConfig(out="x", sources=("dead-leaves", "/a"))) == ["dead-leaves", "/a"]


def test_mix_draws_each_source_in_proportion_and_is_seeded():
    class Const:
        def __init__(self, value: float) -> None:
            self.value, self.description = value, f"const {value}"

        def __call__(self, n, rng):
            return [torch.full((1, 1, 4, 4), self.value) for _ in range(n)]

    mix = MixedPatches([Const(0.0), Const(1.0)], [0.25, 0.75])
    patches = mix(4000, _gen())
    share = sum(float(p.mean()) for p in patches) / len(patches)
    assert abs(share - 0.75) < 0.03
    again = mix(4000, _gen())
    assert all(torch.equal(a, b) for a, b in zip(patches, again))
    assert "25% const 0.0 + 75% const 1.0" == mix.description
    with pytest.raises(TrainingError, match="one weight per"):
        MixedPatches([Const(0.0)], [0.5, 0.5])


def test_dead_leaves_patches_have_the_patch_size_and_channels():
    src = DeadLeavesPatches(24, 3, {"rmin": "2"})
    patches = src(3, _gen())
    assert [tuple(p.shape) for p in patches] == [(1, 3, 24, 24)] * 3
    assert "rmin=2.0" in src.description


def test_scale_augmentation_downscales_windows_of_the_photo():
    # a photo of vertical stripes of period 2: a 1:1 crop keeps full contrast, a 1/3 downscale averages it away
    stripes = torch.zeros(1, 1, 96, 96)
    stripes[..., ::2] = 1.0
    plain = PhotoPatches([stripes], 16)(20, _gen())
    scaled = PhotoPatches([stripes], 16, scale_aug=1.0, scale_min=0.2)(20, _gen())
    assert all(float(p.std()) > 0.45 for p in plain)
    assert sum(float(p.std()) < 0.3 for p in scaled) >= 10
    assert all(p.shape == (1, 1, 16, 16) for p in scaled)


def test_build_mixes_photos_and_leaves_with_holdout():
    source, val, text = build_patch_source(["dead-leaves", "photos"], {"mix": "0.5,0.5", "holdout": "brick,gravel"},
                                           channels=1, size=32, validation=VALIDATION)
    assert "held out: brick, gravel" in text and "dead-leaves(" in text
    assert len(val) == 2
    patches = source(6, _gen())
    assert all(p.shape == (1, 1, 32, 32) for p in patches)
    with pytest.raises(TrainingError, match="not training photographs"):
        build_patch_source(["photos"], {"holdout": "camera"}, channels=1, size=32, validation=VALIDATION)
    with pytest.raises(TrainingError, match="leaves"):
        build_patch_source(["photos"], {"leaves.rmin": 2}, channels=1, size=32, validation=VALIDATION)
    with pytest.raises(TrainingError, match="mix="):
        build_patch_source(["photos", "dead-leaves"], {"mix": "a,b"}, channels=1, size=32, validation=VALIDATION)


def test_a_single_photo_source_draws_exactly_as_before_the_option_existed():
    # run folders started before sources existed must resume with the same patches: with one source
    # and no scale augmentation the mix adds no draws of its own
    from pixelsmith.data.photos import load_photo

    imgs = [load_photo("brick")[..., :64, :64], load_photo("grass")[..., :64, :64]]
    plain = PhotoPatches(imgs, 16)
    rng_a, rng_b = _gen(4), _gen(4)
    a = plain(5, rng_a)
    b = MixedPatches([plain], [1.0])(5, rng_b)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.equal(torch.rand(3, generator=rng_a), torch.rand(3, generator=rng_b))


def test_train_cli_mixes_sources(tmp_path, pixelsmith_tiny_photos):
    out = tmp_path / "run"
    code = main(["train", "unet-denoise", "--data", "dead-leaves", "--data", str(pixelsmith_tiny_photos),
                 "mix=0.5,0.5", "scale_aug=0.5", "scale_min=0.5", "unclipped=0.5", "widths=8,16", "unshuffle=1",
                 "patch=16", "--steps", "2", "--batch-size", "2", "--checkpoint-every", "2", "--sample-every", "2",
                 "--out", str(out), "--quiet", "--device", "cpu"])
    assert code == 0 and (out / "restorer.safetensors").is_file()
    from pixelsmith.weights import read_metadata

    meta = read_metadata(out / "restorer.safetensors")
    assert "50% dead-leaves(" in meta["data"] and str(pixelsmith_tiny_photos) in meta["data"]


def test_train_cli_refuses_a_missing_folder_and_gans_refuse_restoration_sources(tmp_path, capsys):
    assert main(["train", "unet-denoise", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in capsys.readouterr().err
    code = main(["train", "dcgan", "--data", "dead-leaves", "--steps", "1", "--out", str(tmp_path / "g"), "--quiet"])
    assert code != 0
    assert "restoration sources" in capsys.readouterr().err


@requires_component("restorer", "unet-denoise")
def test_colour_model_trains_on_rgb_patches(tmp_path, pixelsmith_tiny_photos):
    train_denoise = pixelsmith.spec("restorer", "unet-denoise").train

    config = TrainConfig(out=tmp_path / "rgb", sources=("dead-leaves",), steps=2, batch_size=2, checkpoint_every=2,
                         sample_every=2, device="cpu", quiet=True,
                         extra={"channels": 3, "widths": "8,16", "unshuffle": 1, "patch": 16})
    path = train_denoise(config)
    colour = pixelsmith.restorer("unet-denoise", device="cpu", weights=path)
    assert colour.model_channels == 3
    x = torch.rand(1, 3, 20, 20)
    assert colour.restore(x).shape == (1, 3, 20, 20)
    gray = pixelsmith.restorer("unet-denoise", device="cpu", colour_weights=path)
    assert gray.model_channels == 1
    # RGB goes through the colour network, gray through the gray one
    assert torch.allclose(gray.restore(x, sigma=0.1), colour.restore(x, sigma=0.1), atol=1e-6)


@requires_component("restorer", "unet-denoise")
def test_init_warm_starts_from_a_weights_file_and_refuses_another_network(tmp_path):
    from pixelsmith.weights import load_weights

    train_denoise = pixelsmith.spec("restorer", "unet-denoise").train

    tiny = {"widths": "8,16", "unshuffle": 1, "patch": 16}
    first = train_denoise(TrainConfig(out=tmp_path / "a", sources=("dead-leaves",), steps=2, batch_size=2,
                                      checkpoint_every=2, sample_every=2, device="cpu", quiet=True, extra=tiny))
    # one step at learning rate 0 after init: the exported EMA equals the initial weights
    again = train_denoise(TrainConfig(out=tmp_path / "b", sources=("dead-leaves",), steps=1, batch_size=2, lr=0.0,
                                      checkpoint_every=2, sample_every=2, device="cpu", quiet=True,
                                      extra={**tiny, "init": str(first)}))
    a, b = load_weights(first), load_weights(again)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(TrainingError, match="matching widths"):
        train_denoise(TrainConfig(out=tmp_path / "c", sources=("dead-leaves",), steps=1, batch_size=2,
                                  device="cpu", quiet=True, extra={**tiny, "widths": "8,32", "init": str(first)}))
    with pytest.raises(TrainingError, match="no such weights file"):
        train_denoise(TrainConfig(out=tmp_path / "d", sources=("dead-leaves",), steps=1, batch_size=2,
                                  device="cpu", quiet=True, extra={**tiny, "init": str(tmp_path / "nope")}))


def test_a_folder_path_named_like_a_keyword_is_read_as_a_folder(pixelsmith_tiny_photos):
    assert pixelsmith_tiny_photos.name == "photos"
    _, _, text = build_patch_source([pixelsmith_tiny_photos], {}, channels=1, size=16, validation=VALIDATION)
    assert str(pixelsmith_tiny_photos) in text and "scikit-image" not in text


def test_dead_leaves_drawn_on_the_cpu_by_default_and_leaves_on_is_checked():
    """``leaves_on=device`` with a CPU training device draws exactly what the default does (the same
    generator stream); an unknown value is refused before any data is made."""
    kwargs = dict(channels=1, size=24, validation=["clock"], device="cpu")
    default, _, text = build_patch_source(["dead-leaves"], {}, **kwargs)
    on_device, _, text_device = build_patch_source(["dead-leaves"], {"leaves_on": "device"}, **kwargs)
    a = default(4, torch.Generator().manual_seed(9))
    b = on_device(4, torch.Generator().manual_seed(9))
    assert all(torch.equal(x, y) for x, y in zip(a, b)) and len(a) == 4
    assert text == text_device and "drawn on" not in text
    with pytest.raises(TrainingError, match="leaves_on"):
        build_patch_source(["dead-leaves"], {"leaves_on": "gpu"}, **kwargs)
    from pixelsmith.plugin import RESTORATION_OPTIONS
    from pixelsmith.training.options import check_options

    assert check_options("t", RESTORATION_OPTIONS, {"leaves_on": "device"}) == {"leaves_on": "device"}
    with pytest.raises(pixelsmith.InvalidInputError, match="leaves_on"):
        check_options("t", RESTORATION_OPTIONS, {"leaves_on": "gpu"})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_dead_leaves_drawn_on_cuda_come_back_on_the_cpu_and_are_seeded():
    source = DeadLeavesPatches(32, 3, device="cuda")
    a = source(3, torch.Generator().manual_seed(2))
    b = source(3, torch.Generator().manual_seed(2))
    assert all(p.device.type == "cpu" and p.shape == (1, 3, 32, 32) for p in a)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert 0 <= float(torch.cat(a).min()) and float(torch.cat(a).max()) <= 1
    assert source.description.endswith("drawn on cuda")
