"""Paired Kornia presets and DiffAugment: identical on pairs, seeded, global RNG left alone, differentiable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data

from pixelsmith.augment import PAIRED_PRESETS, diff_augment, paired_augment, paired_preset
from pixelsmith.errors import InvalidInputError


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    """Eight 24×24 RGB crops of a real photo."""
    img = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 255
    return torch.stack([img[:, 40 * i:40 * i + 24, 60 * i:60 * i + 24] for i in range(8)])


def _dihedral(x: torch.Tensor) -> list[torch.Tensor]:
    """The eight flips/quarter turns of one C×H×W image."""
    return [torch.rot90(t, k, (1, 2)) for t in (x, x.flip(-1)) for k in range(4)]


@pytest.mark.parametrize("preset", PAIRED_PRESETS)
def test_pair_gets_identical_transform(preset, clean):
    # degraded = clean (a copy): any mismatch in parameters would make the outputs differ.
    a, b = paired_augment(clean, clean.clone(), preset=preset, seed=11)
    assert torch.equal(a, b)
    assert a.shape == clean.shape and a.device == clean.device


def test_geometric_pair_stays_aligned_pixel_for_pixel(clean):
    degraded = clean * 0.5  # exact in float32, so alignment is checked exactly
    a, b = paired_augment(clean, degraded, preset="geometric", seed=3)
    assert torch.equal(b, a * 0.5)


def test_degraded_values_outside_the_unit_range_survive_the_augmentation(clean):
    # unclipped noise (the literature's protocol) leaves [0, 1]; the augmented pair must keep it, or a
    # denoiser trained with unclipped=... silently sees clipped noise only
    degraded = (clean - 0.5) * 3.0
    a, b = paired_augment(clean, degraded, preset="geometric", seed=3)
    assert float(b.min()) < -1.0 and float(b.max()) > 1.2
    assert torch.equal(b, (a - 0.5) * 3.0)
    for out, src in zip(b, degraded):
        assert any(torch.equal(out, t) for t in _dihedral(src))
    _, in_range = paired_augment(clean, clean, preset="photometric", seed=1)
    assert 0.0 <= float(in_range.min()) and float(in_range.max()) <= 1.0   # data in [0, 1] stays there


def test_geometric_is_an_exact_flip_or_quarter_turn(clean):
    a, _ = paired_augment(clean, clean, preset="geometric", seed=5)
    for out, src in zip(a, clean):
        assert any(torch.equal(out, t) for t in _dihedral(src))
    # Over eight images with random parameters, more than one transform shows up.
    kinds = {next(i for i, t in enumerate(_dihedral(src)) if torch.equal(out, t)) for out, src in zip(a, clean)}
    assert len(kinds) > 1


def test_crop_is_a_window_of_a_transformed_image(clean):
    a, b = paired_augment(clean, clean * 0.5, preset="geometric", seed=2, crop_size=16)
    assert a.shape == (8, 3, 16, 16) and torch.equal(b, a * 0.5)
    for out, src in zip(a, clean):
        windows = [t[:, i:i + 16, j:j + 16] for t in _dihedral(src) for i in range(9) for j in range(9)]
        assert any(torch.equal(out, w) for w in windows)


def test_photometric_changes_values_within_bounds(clean):
    a, _ = paired_augment(clean, clean, preset="photometric", seed=1)
    assert not torch.equal(a, clean)
    assert 0 <= float(a.min()) and float(a.max()) <= 1


def test_gray_and_rgb_pair_share_geometry():
    gen = torch.Generator().manual_seed(0)
    rgb = torch.rand(4, 3, 16, 16, generator=gen)
    gray = rgb[:, :1].clone()
    a, b = paired_augment(rgb, gray, seed=9)
    assert torch.equal(a[:, :1], b)


def test_seeded_reproducible_and_global_rng_untouched(clean):
    state = torch.get_rng_state()
    first = paired_augment(clean, clean, preset="geometric+photometric", seed=42)
    torch.manual_seed(1)
    torch.rand(3)
    again = paired_augment(clean, clean, preset="geometric+photometric", seed=42)
    assert torch.equal(first[0], again[0])
    other = paired_augment(clean, clean, preset="geometric+photometric", seed=43)
    assert not torch.equal(first[0], other[0])
    torch.set_rng_state(state)
    paired_augment(clean, clean, seed=1)
    paired_augment(clean, clean, seed=None)
    paired_augment(clean, clean, seed=torch.Generator().manual_seed(0))
    assert torch.equal(state, torch.get_rng_state())


def test_generator_seed_gives_a_reproducible_sequence(clean):
    g1, g2 = torch.Generator().manual_seed(0), torch.Generator().manual_seed(0)
    seq1 = [paired_augment(clean, clean, seed=g1)[0] for _ in range(3)]
    seq2 = [paired_augment(clean, clean, seed=g2)[0] for _ in range(3)]
    assert all(torch.equal(x, y) for x, y in zip(seq1, seq2))
    assert not torch.equal(seq1[0], seq1[1])


def test_paired_preset_object(clean):
    paired = paired_preset("geometric", crop_size=8)
    a, b = paired(clean, clean, seed=0)
    assert a.shape == (8, 3, 8, 8) and torch.equal(a, b)


@pytest.mark.parametrize("call, match", [
    (lambda c: paired_augment(c, c[:4]), "share batch and spatial size"),
    (lambda c: paired_augment(c, c[..., :20]), "share batch and spatial size"),
    (lambda c: paired_augment(c, c, preset="elastic"), "unknown paired preset"),
    (lambda c: paired_augment(c, c, crop_size=64), "crop_size 64 is larger"),
    (lambda c: paired_preset("geometric", crop_size=0), "crop_size must be"),
    (lambda c: paired_augment(c * 3, c), r"\[0, 1\]"),
])
def test_paired_bad_input(call, match, clean):
    with pytest.raises(InvalidInputError, match=match):
        call(clean)


# ---- DiffAugment ------------------------------------------------------------------------------


def test_diff_augment_gradients_flow(clean):
    x = clean.clone().requires_grad_(True)
    out = diff_augment(x, generator=torch.Generator().manual_seed(0))
    out.square().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_diff_augment_seeded_and_global_rng_untouched(clean):
    state = torch.get_rng_state()
    a = diff_augment(clean, generator=torch.Generator().manual_seed(4))
    b = diff_augment(clean, generator=torch.Generator().manual_seed(4))
    c = diff_augment(clean, generator=torch.Generator().manual_seed(5))
    diff_augment(clean)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(state, torch.get_rng_state())


def test_diff_augment_translation_shifts_with_zero_fill():
    x = torch.rand(6, 1, 16, 16, generator=torch.Generator().manual_seed(0)) + 1  # no zeros inside
    out = diff_augment(x, "translation", generator=torch.Generator().manual_seed(1))
    for o, src in zip(out, x):
        ok = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                shifted = torch.zeros_like(src)
                ys, yd = (slice(dy, None), slice(0, 16 - dy)) if dy >= 0 else (slice(0, 16 + dy), slice(-dy, None))
                xs, xd = (slice(dx, None), slice(0, 16 - dx)) if dx >= 0 else (slice(0, 16 + dx), slice(-dx, None))
                shifted[:, yd, xd] = src[:, ys, xs]
                ok |= torch.equal(o, shifted)
        assert ok


def test_diff_augment_cutout_zeroes_at_most_a_half_side_square():
    x = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(0)) + 1
    out = diff_augment(x, "cutout", generator=torch.Generator().manual_seed(2))
    zeroed = (out == 0).all(dim=1).flatten(1).sum(1)
    assert (zeroed > 0).all() and (zeroed <= 64).all()
    assert torch.equal(out[out != 0], x[out != 0])


def test_diff_augment_colour_and_empty_policy(clean):
    assert diff_augment(clean, "") is clean
    out = diff_augment(clean, "color", generator=torch.Generator().manual_seed(0))
    assert out.shape == clean.shape and not torch.equal(out, clean)
    gray = diff_augment(clean[:, :1], generator=torch.Generator().manual_seed(0))
    assert gray.shape == (8, 1, 24, 24)


@pytest.mark.parametrize("kwargs, match", [({"policy": "color,zoom"}, "unknown DiffAugment policy"),
                                           ({"generator": 3}, "CPU torch.Generator")])
def test_diff_augment_bad_input(kwargs, match, clean):
    with pytest.raises(InvalidInputError, match=match):
        diff_augment(clean, **kwargs)
    with pytest.raises(InvalidInputError, match="B×C×H×W"):
        diff_augment(np.zeros((2, 2)))
