"""Tiled inference: tiles cover the image, blending is seamless, padding handles any size."""

import pytest
import torch
import torch.nn.functional as F

from pixelsmith.errors import InvalidInputError
from pixelsmith.tiling import pad_to_multiple, tile_starts, tiled_apply


def _local_op(x: torch.Tensor) -> torch.Tensor:
    """A 5×5 convolution (receptive field 2 px each side) that also changes the channel count."""
    w = torch.linspace(-1, 1, 2 * x.shape[1] * 25).reshape(2, x.shape[1], 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), w)


@pytest.mark.parametrize("size,tile,overlap", [(10, 4, 2), (100, 32, 8), (33, 16, 4), (5, 8, 2), (64, 64, 8)])
def test_tile_starts_cover_with_overlap(size, tile, overlap):
    starts = tile_starts(size, tile, overlap)
    covered = torch.zeros(size, dtype=torch.bool)
    for s in starts:
        assert 0 <= s and s + min(tile, size) <= size
        covered[s:s + tile] = True
    assert bool(covered.all())
    for a, b in zip(starts, starts[1:]):
        assert a + tile - b >= overlap


def test_tile_starts_align():
    starts = tile_starts(96, 32, 8, align=8)
    assert all(s % 8 == 0 for s in starts) and starts[-1] == 64
    with pytest.raises(InvalidInputError, match="multiples of align"):
        tile_starts(100, 32, 8, align=8)


def test_tiled_equals_untiled_for_local_op():
    x = torch.rand(2, 3, 97, 131, generator=torch.Generator().manual_seed(0))
    whole = _local_op(x)
    tiled = tiled_apply(_local_op, x, tile=32, overlap=8)
    assert tiled.shape == (2, 2, 97, 131)
    # each output pixel's context lies inside some tile that weights it: exact up to rounding
    assert torch.allclose(tiled, whole, atol=1e-5)


def test_identity_is_exact_and_image_smaller_than_tile_is_passed_whole():
    x = torch.rand(1, 1, 50, 70)
    assert torch.allclose(tiled_apply(lambda t: t, x, tile=16, overlap=4), x, atol=1e-6)
    calls = []
    tiled_apply(lambda t: calls.append(t.shape) or t, x, tile=128)
    assert calls == [torch.Size([1, 1, 50, 70])]


def test_tiled_calls_see_bounded_tiles():
    x = torch.rand(1, 1, 300, 200)
    shapes = []
    tiled_apply(lambda t: shapes.append(tuple(t.shape)) or t, x, tile=64, overlap=16)
    assert max(s[2] for s in shapes) <= 64 and max(s[3] for s in shapes) <= 64


@pytest.mark.parametrize("h,w", [(1, 1), (1, 7), (3, 2), (9, 9), (16, 16), (17, 33)])
def test_pad_to_multiple_any_size(h, w):
    x = torch.rand(2, 3, h, w)
    y, (oh, ow) = pad_to_multiple(x, 8)
    assert (oh, ow) == (h, w)
    assert y.shape[-2] % 8 == 0 and y.shape[-1] % 8 == 0
    assert torch.equal(y[..., :h, :w], x)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(InvalidInputError, match="B×C×H×W"):
        tiled_apply(lambda t: t, torch.rand(8, 8))
    with pytest.raises(InvalidInputError, match="overlap"):
        tiled_apply(lambda t: t, torch.rand(1, 1, 64, 64), tile=16, overlap=16)
    with pytest.raises(InvalidInputError, match="multiple of align"):
        tiled_apply(lambda t: t, torch.rand(1, 1, 64, 64), tile=20, overlap=4, align=8)


def test_pad_to_min_size_mirrors_evenly_and_repeats_edges_of_tiny_images():
    import numpy as np

    from pixelsmith.tiling import pad_to_min_size

    x = torch.arange(20, dtype=torch.float32).reshape(1, 1, 4, 5)
    assert pad_to_min_size(x, 4) is x
    out = pad_to_min_size(x, 7)
    ref = np.pad(x[0, 0].numpy(), ((1, 2), (1, 1)), mode="reflect")
    assert out.shape == (1, 1, 7, 7) and np.array_equal(out[0, 0].numpy(), ref)
    tiny = pad_to_min_size(torch.full((1, 1, 1, 1), 0.5), 3)
    assert tiny.shape == (1, 1, 3, 3) and bool((tiny == 0.5).all())
