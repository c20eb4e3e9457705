"""Certline core: devices, EST enrollment, the batch journal. Never imports Qt."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("certline")
except _metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
