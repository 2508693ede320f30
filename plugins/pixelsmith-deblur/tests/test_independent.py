"""pixelsmith-deblur needs no other plugin's code: its network and restorer base are core's
(pixelsmith.plugin). A component of another plugin (the plug-and-play denoiser) is looked up
through the registry at run time, never imported."""

from __future__ import annotations

import subprocess
import sys


def test_imports_without_pixelsmith_unet():
    code = ("import sys; sys.modules['pixelsmith_unet'] = None\n"  # any import of it raises ImportError
            "import pixelsmith_deblur, pixelsmith_deblur.deblur, pixelsmith_deblur.training, "
            "pixelsmith_deblur.kernel_training, pixelsmith_deblur.kernel_estimator\n"
            "from pixelsmith_deblur.training import deblur_recipe\n"
            "from pixelsmith.plugin import TrainConfig, UNet\n"
            "assert type(deblur_recipe(TrainConfig(out='x')).make_model()) is UNet\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
