"""pixelsmith: image generation and restoration behind one plugin contract.

>>> import pixelsmith
>>> pixelsmith.metric("ssim")          # doctest: +SKIP
>>> pixelsmith.restorer("unet-denoise").restore(x)  # doctest: +SKIP
"""

from ._version import __version__
from .api import degradation, generator, list_components, list_plugins, metric, restorer, spec
from .components import Degradation, Degraded, Generator, Metric, MetricResult, Restorer, make_generator
from .errors import (
    ImageReadError,
    ImageTooLargeError,
    InvalidInputError,
    PixelsmithError,
    PluginConflictError,
    PluginError,
    ResourceError,
    TrainingError,
    UnknownComponentError,
    WeightsError,
)
from .hookspecs import hookimpl
from .io import read_image, save_grid, write_image
from .pipeline import Pipeline, PipelineRecord, PipelineSummary
from .specs import DegradationSpec, GeneratorSpec, MetricSpec, RestorerSpec, WeightsFile
from .tensors import as_image_batch


__all__ = [
    "__version__",
    # lookup
    "metric",
    "restorer",
    "generator",
    "degradation",
    "spec",
    "list_plugins",
    "list_components",
    # plugin contract
    "hookimpl",
    "MetricSpec",
    "RestorerSpec",
    "GeneratorSpec",
    "DegradationSpec",
    "WeightsFile",
    # component base classes
    "Metric",
    "MetricResult",
    "Restorer",
    "Generator",
    "Degradation",
    "Degraded",
    "make_generator",
    "as_image_batch",
    # images in and out, and the degrade → restore → measure pipeline
    "read_image",
    "write_image",
    "save_grid",
    "Pipeline",
    "PipelineRecord",
    "PipelineSummary",
    # errors
    "PixelsmithError",
    "InvalidInputError",
    "UnknownComponentError",
    "PluginError",
    "PluginConflictError",
    "WeightsError",
    "ImageReadError",
    "ImageTooLargeError",
    "ResourceError",
    "TrainingError",
]
