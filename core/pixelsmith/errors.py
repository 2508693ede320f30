"""The one exception hierarchy of pixelsmith.

Every error a user can cause derives from :class:`PixelsmithError`, so callers catch one
type. Each message says what was wrong, with which value, and what to do about it.
"""

from __future__ import annotations

__all__ = [
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
    "is_out_of_memory",
]


class PixelsmithError(Exception):
    """Base class of every error pixelsmith raises on purpose."""


class InvalidInputError(PixelsmithError, ValueError):
    """An argument (tensor, array, parameter) has the wrong shape, dtype, range or value."""


class UnknownComponentError(PixelsmithError, KeyError):
    """No component of that kind is registered under the requested name."""

    def __str__(self) -> str:  # KeyError would repr() the message and add quotes
        return str(self.args[0]) if self.args else ""


class PluginError(PixelsmithError):
    """A plugin failed to load, its hook raised, or it returned a malformed spec."""


class PluginConflictError(PluginError):
    """Two plugins registered a component of the same kind under the same name."""


class WeightsError(PixelsmithError):
    """A weights or checkpoint file is missing, truncated, has the wrong sha256 or wrong shapes."""


class ImageReadError(PixelsmithError, OSError):
    """An image file could not be read or decoded."""


class ImageTooLargeError(ImageReadError):
    """An image file's header describes more pixels than the pixel budget allows (nothing was decoded)."""


class ResourceError(PixelsmithError, MemoryError):
    """The work needs more memory than there is (or than a configured budget allows)."""


class TrainingError(PixelsmithError):
    """A training run cannot start or continue (bad data path, incompatible checkpoint, ...)."""


_OOM_MESSAGES = ("can't allocate memory", "cannot allocate memory", "out of memory", "not enough memory",
                 "failed to allocate")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says an allocation failed: ``MemoryError`` (numpy's too), ``torch.OutOfMemoryError``,
    or the ``RuntimeError`` torch's CPU allocator raises ("DefaultCPUAllocator: can't allocate memory")."""
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return any(m in text for m in _OOM_MESSAGES)
    return False
