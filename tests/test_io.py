"""Image files in and out: formats, bit depths, alpha, broken files, atomic writes, folders, grids."""

from __future__ import annotations

import warnings

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pixelsmith.errors import ImageReadError, InvalidInputError
from pixelsmith.io import iter_image_files, read_image, read_image_data, save_grid, write_image


def _ramp(c: int, h: int = 5, w: int = 7) -> torch.Tensor:
    return torch.linspace(0, 1, c * h * w).reshape(1, c, h, w)


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp"])
def test_8bit_roundtrip_is_exact_on_the_8bit_grid(tmp_path, c, ext):
    x = torch.round(_ramp(c) * 255) / 255
    path = write_image(tmp_path / f"img{ext}", x)
    data = read_image_data(path)
    assert data.bit_depth == 8
    assert data.image.shape == (1, c, 5, 7) and data.image.dtype == torch.float32
    assert torch.equal(data.image, x)
    # an independent decoder sees the same pixels
    assert np.array_equal(iio.imread(path).reshape(5, 7, c), np.rint(x[0].permute(1, 2, 0).numpy() * 255))


@pytest.mark.parametrize("c", [1, 3])
@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_roundtrip_keeps_16_bits(tmp_path, c, ext):
    x = torch.round(_ramp(c) * 65535) / 65535
    path = write_image(tmp_path / f"img{ext}", x, bit_depth=16)
    data = read_image_data(path)
    assert data.bit_depth == 16
    assert torch.allclose(data.image, x, atol=1e-7)
    # levels that 8 bits cannot tell apart survive
    assert len(torch.unique(data.image)) > 256 or len(torch.unique(x)) == len(torch.unique(data.image))


def test_16bit_rgb_png_is_a_valid_png_for_other_decoders(tmp_path):
    import kornia_rs

    x = torch.round(_ramp(3, 6, 4) * 65535) / 65535
    path = write_image(tmp_path / "rgb16.png", x, bit_depth=16)
    other = np.asarray(kornia_rs.io.read_image_png_u16(str(path), "rgb"))
    assert np.array_equal(other, np.rint(x[0].permute(1, 2, 0).numpy() * 65535).astype(np.uint16))


def test_jpeg_roundtrip_is_close(tmp_path):
    x = _ramp(3, 16, 16)
    y = read_image(write_image(tmp_path / "a.jpg", x))
    assert y.shape == x.shape and float((y - x).abs().mean()) < 0.02


def test_rgba_becomes_rgb_with_a_warning(tmp_path):
    rgba = np.random.default_rng(0).integers(0, 256, (4, 5, 4), dtype=np.uint8)
    iio.imwrite(tmp_path / "a.png", rgba)
    with pytest.warns(UserWarning, match="alpha channel dropped"):
        data = read_image_data(tmp_path / "a.png")
    assert data.alpha_dropped and data.image.shape == (1, 3, 4, 5)
    assert torch.equal(data.image[0].permute(1, 2, 0), torch.from_numpy(rgba[:, :, :3]).float() / 255)


def test_gray_alpha_becomes_gray_with_a_warning(tmp_path):
    la = np.random.default_rng(1).integers(0, 256, (4, 5, 2), dtype=np.uint8)
    iio.imwrite(tmp_path / "la.png", la)
    with pytest.warns(UserWarning, match="gray\\+alpha"):
        img = read_image(tmp_path / "la.png")
    assert torch.equal(img[0, 0], torch.from_numpy(la[:, :, 0]).float() / 255)


@pytest.mark.parametrize("name, content, message", [
    ("missing.png", None, "does not exist"),
    ("empty.png", b"", "empty"),
    ("text.png", b"this is not an image at all", "cannot read image"),
    ("notes.txt", b"hello", "extension"),
])
def test_unreadable_files_raise_image_read_error_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message) as info:
        read_image(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif"])
def test_truncated_files_raise_image_read_error(tmp_path, ext):
    good = write_image(tmp_path / f"good{ext}", _ramp(3, 64, 64))
    data = good.read_bytes()
    bad = tmp_path / f"bad{ext}"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="bad"):
        read_image(bad)


def test_a_folder_is_not_an_image(tmp_path):
    (tmp_path / "x.png").mkdir()
    with pytest.raises(ImageReadError, match="not a file"):
        read_image(tmp_path / "x.png")


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    write_image(tmp_path / "a.png", _ramp(1))
    write_image(tmp_path / "a.png", _ramp(3))  # replacing is allowed by default
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    assert read_image(tmp_path / "a.png").shape[1] == 3


def test_write_refuses_to_overwrite_when_asked(tmp_path):
    (tmp_path / "a.png").write_bytes(b"precious")
    with pytest.raises(InvalidInputError, match="already exists"):
        write_image(tmp_path / "a.png", _ramp(1), overwrite=False)
    assert (tmp_path / "a.png").read_bytes() == b"precious"


def test_write_rejects_bad_requests(tmp_path):
    with pytest.raises(InvalidInputError, match="16-bit"):
        write_image(tmp_path / "a.jpg", _ramp(3), bit_depth=16)
    with pytest.raises(InvalidInputError, match="batch of 2"):
        write_image(tmp_path / "a.png", torch.rand(2, 1, 4, 4))
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        write_image(tmp_path / "a.png", torch.full((1, 1, 4, 4), 2.0))
    with pytest.raises(InvalidInputError, match="gif"):
        write_image(tmp_path / "a.gif", _ramp(1))
    assert list(tmp_path.iterdir()) == []


def test_iter_image_files_walks_folders_sorted_and_skips_non_images(tmp_path):
    for rel in ["b.png", "a.jpg", "sub/c.tif", "sub/deeper/d.PNG", "notes.txt", ".hidden.png",
                ".cache/e.png"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    single = tmp_path / "notes.txt"  # a file given by name is yielded: reading it reports the problem
    found = [(p.relative_to(tmp_path).as_posix(), r.as_posix()) for p, r in iter_image_files([tmp_path, single])]
    assert found == [("a.jpg", "a.jpg"), ("b.png", "b.png"), ("sub/c.tif", "sub/c.tif"),
                     ("sub/deeper/d.PNG", "sub/deeper/d.PNG"), ("notes.txt", "notes.txt")]
    with pytest.raises(ImageReadError, match="does not exist"):
        list(iter_image_files(tmp_path / "nope"))


def test_save_grid_layout(tmp_path):
    images = torch.stack([torch.full((1, 4, 6), i / 10) for i in range(5)])
    path = save_grid(images, tmp_path / "grid.png", nrow=3, padding=2)
    grid = read_image(path)
    assert grid.shape == (1, 1, 2 * (4 + 2) + 2, 3 * (6 + 2) + 2)
    # image 4 sits in row 1, column 1; padding is white
    assert torch.allclose(grid[0, 0, 8:12, 10:16], torch.full((4, 6), 0.4), atol=1 / 255)
    assert float(grid[0, 0, 0, 0]) == 1.0
    assert save_grid(torch.rand(9, 3, 2, 2), tmp_path / "sq.png").exists()
    assert read_image(tmp_path / "sq.png").shape == (1, 3, 3 * 4 + 2, 3 * 4 + 2)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(arr=arrays(st.sampled_from([np.uint8, np.uint16]),
                  st.tuples(st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3]))))
def test_png_roundtrip_property(tmp_path, arr):
    depth = 8 if arr.dtype == np.uint8 else 16
    x = torch.from_numpy(arr.astype(np.float32) / (255.0 if depth == 8 else 65535.0)).permute(2, 0, 1)[None]
    data = read_image_data(write_image(tmp_path / "p.png", x, bit_depth=depth))
    assert data.bit_depth == depth
    assert torch.equal(data.image, x)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(min_size=0, max_size=200), ext=st.sampled_from([".png", ".jpg", ".tif", ".bmp"]))
def test_random_bytes_never_escape_as_other_errors(tmp_path, blob, ext):
    path = tmp_path / f"blob{ext}"
    path.write_bytes(blob)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            image = read_image(path)
        except ImageReadError as exc:
            assert str(path) in str(exc)
        else:  # a few bytes can be a valid tiny image; then it must be a proper batch
            assert image.ndim == 4 and image.shape[1] in (1, 3)
