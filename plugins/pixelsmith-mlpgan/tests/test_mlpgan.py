"""mlp-gan and mlp-gan-cond: the shared GAN plugin tests (pixelsmith.testing.gan) with tiny MLP networks,
and the parameter names older run folders rely on."""

from __future__ import annotations

from pixelsmith.testing.gan import GANPluginTests
from pixelsmith_mlpgan.model import MLPDiscriminator, MLPGenerator
from pixelsmith_mlpgan.plugin import MLPGAN, ConditionalMLPGAN


class TestMLPGAN(GANPluginTests):
    generator = MLPGAN
    conditional = ConditionalMLPGAN
    tiny = {"hidden": "16"}
    invalid_architecture = ({"channels": "2"}, "channels")


def test_unconditional_networks_keep_their_parameter_names():
    # checkpoints and weights files of mlp-gan runs written before the conditional variant still load
    assert [k for k, _ in MLPDiscriminator(hidden=16).named_parameters()] == [
        "net.0.weight", "net.0.bias", "net.3.weight", "net.3.bias", "net.6.weight", "net.6.bias"]
    assert MLPGenerator(hidden=16).net[0].in_features == 100
    assert MLPGenerator(hidden=16, num_classes=10).net[0].in_features == 110
