"""The package version, in a module of its own so that any module can read it without importing the
whole public API (``pixelsmith/__init__.py``) and the layers above it."""

__version__ = "0.1.0"
