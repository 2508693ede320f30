import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def tiny_photos(tmp_path):
    """Two tiny gray photographs (crops of scikit-image's astronaut and coffee) as PNG files."""
    import imageio.v3 as iio
    import skimage.color
    import skimage.data

    folder = tmp_path / "photos"
    folder.mkdir()
    a = (skimage.color.rgb2gray(skimage.data.astronaut())[100:148, 200:248] * 255).astype(np.uint8)
    b = (skimage.color.rgb2gray(skimage.data.coffee())[150:190, 250:300] * 255).astype(np.uint8)
    iio.imwrite(folder / "a.png", a)
    iio.imwrite(folder / "b.png", b)
    return folder
