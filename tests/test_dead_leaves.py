"""Dead-leaves images: seeded, batched, the size law and colour statistics they claim, the generator."""

from __future__ import annotations

import math

import pytest
import torch

import pixelsmith
from pixelsmith.data.dead_leaves import (DeadLeavesOptions, dead_leaves, natural_palette,
                                         parse_dead_leaves_options, sample_radii)
from pixelsmith.errors import InvalidInputError


def test_same_seed_same_bytes_other_seed_other_images():
    a = dead_leaves(3, seed=7, size=32, channels=3)
    b = dead_leaves(3, seed=7, size=32, channels=3)
    c = dead_leaves(3, seed=8, size=32, channels=3)
    assert a.shape == (3, 3, 32, 32) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert (a - c).abs().mean() > 0.05
    assert float(a.min()) >= 0 and float(a.max()) <= 1


def test_generator_argument_continues_the_stream():
    g = torch.Generator().manual_seed(3)
    first = dead_leaves(2, generator=g, size=24)
    second = dead_leaves(2, generator=g, size=24)
    assert not torch.equal(first, second)
    g.manual_seed(3)
    assert torch.equal(dead_leaves(2, generator=g, size=24), first)


def test_radii_follow_the_r_minus_3_law():
    rmin, rmax = 2.0, 64.0
    r = sample_radii(200_000, rmin, rmax, torch.Generator().manual_seed(0)).double()
    assert float(r.min()) >= rmin - 1e-4 and float(r.max()) <= rmax + 1e-4
    # survival function of the density ∝ r⁻³ on [rmin, rmax]
    for t in (3.0, 5.0, 10.0, 30.0):
        expected = (t ** -2 - rmax ** -2) / (rmin ** -2 - rmax ** -2)
        assert abs(float((r > t).double().mean()) - expected) < 0.005
    # log-log slope of the histogram density ≈ −3
    edges = torch.logspace(math.log10(rmin), math.log10(rmax / 2), 12, dtype=torch.float64)
    dens = torch.stack([((r >= a) & (r < b)).double().sum() / (b - a) for a, b in zip(edges[:-1], edges[1:])])
    mids = (edges[:-1] * edges[1:]).sqrt()
    slope = torch.linalg.lstsq(torch.stack([mids.log(), torch.ones_like(mids)], 1), dens.log()[:, None]).solution[0]
    assert abs(float(slope) + 3) < 0.1


def _spectrum_slope(img: torch.Tensor) -> float:
    x = img - img.mean()
    p = torch.fft.fftshift(torch.fft.fft2(x)).abs() ** 2
    n = x.shape[-1]
    yy, xx = torch.meshgrid(torch.arange(n) - n // 2, torch.arange(n) - n // 2, indexing="ij")
    r = (xx ** 2 + yy ** 2).sqrt().round().long()
    ks = torch.arange(4, n // 2)
    power = torch.stack([p[r == k].mean() for k in ks]).double()
    design = torch.stack([ks.double().log(), torch.ones(len(ks), dtype=torch.double)], 1)
    return float(torch.linalg.lstsq(design, power.log()[:, None]).solution[0])


def test_power_spectrum_falls_like_natural_images():
    # natural photographs: power ∝ 1/f^α with α ≈ 2 (camera, grass, astronaut here: 2.2–3.1)
    x = dead_leaves(3, seed=0, size=128, blur=0.0)
    slopes = [_spectrum_slope(x[i, 0]) for i in range(3)]
    assert all(-3.2 < s < -1.6 for s in slopes), slopes


def test_colours_come_from_the_training_photographs():
    palette = natural_palette()
    assert palette.shape[1] == 3 and float(palette.min()) >= 0 and float(palette.max()) <= 1
    rgb = dead_leaves(6, seed=1, size=64, channels=3)
    pixels = rgb.permute(1, 0, 2, 3).reshape(3, -1)
    assert torch.allclose(pixels.mean(1), palette.mean(0), atol=0.06)
    # natural colours: the channels are strongly correlated (not independent uniform draws)
    corr = torch.corrcoef(pixels)
    assert float(corr[0, 1]) > 0.5 and float(corr[1, 2]) > 0.5
    gray = dead_leaves(6, seed=1, size=64, channels=1)
    luma = (rgb * torch.tensor([0.299, 0.587, 0.114]).reshape(1, 3, 1, 1)).sum(1, keepdim=True)
    # gray images are the luma of the same colour images up to the (unchanged) blur and rounding
    assert (gray - luma).abs().max() < 1e-4


def test_textures_and_flat_leaves():
    flat = dead_leaves(2, seed=0, size=64, flat=1.0, gradient=0.0, stripes=0.0, noise=0.0, blur=0.0,
                       supersample=1, ellipse=0.0)
    # flat leaves without blur or supersampling: few distinct values, sharp edges
    assert len(torch.unique(flat[0])) < 400
    textured = dead_leaves(2, seed=0, size=64, flat=0.0, noise=1.0, gradient=0.0, stripes=0.0, blur=0.0,
                           supersample=1, ellipse=0.0)
    assert len(torch.unique(textured[0])) > len(torch.unique(flat[0]))


def test_options_are_checked_with_clear_errors():
    with pytest.raises(InvalidInputError, match="rmin"):
        DeadLeavesOptions(rmin=0)
    with pytest.raises(InvalidInputError, match="channels"):
        dead_leaves(1, seed=0, channels=2)
    with pytest.raises(InvalidInputError, match="unknown dead-leaves option 'radius'"):
        parse_dead_leaves_options({"radius": 3})
    with pytest.raises(InvalidInputError, match="not a number"):
        parse_dead_leaves_options({"rmin": "abc"})
    assert parse_dead_leaves_options({"rmin": "2", "size": "48"}).size == 48
    assert dead_leaves(0, seed=0, size=16).shape == (0, 1, 16, 16)


def test_registered_generator_passes_the_kit_and_is_seeded():
    from pixelsmith.testing import check_generator

    check_generator("dead-leaves")
    g = pixelsmith.generator("dead-leaves", size=32, channels=1)
    a = g.sample(3, seed=5)
    assert a.shape == (3, 1, 32, 32)
    assert torch.equal(a, g.sample(3, seed=5))
    # each image depends only on its own latent, not on the batch around it
    assert torch.equal(g.sample(2, seed=5), a[:2])
