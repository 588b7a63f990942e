"""The exceptions musicedge raises. Catch :class:`MusicEdgeError` to catch them all.

Errors raised by the C++ core reach Python as these classes (the binding registers the translation),
never as a crash.
"""


class MusicEdgeError(Exception):
    """Base class of every error musicedge raises on purpose."""


class ParameterError(MusicEdgeError, ValueError):
    """An argument or configuration value is out of its domain (librosa's name for the same idea)."""


class AudioError(MusicEdgeError, ValueError):
    """Audio that cannot be used: unreadable or truncated file, empty, NaN/Inf, wrong shape or dtype."""


class ModelError(MusicEdgeError):
    """A model file that cannot be used: not ONNX, or its ``musicedge.*`` metadata missing or malformed."""


class DataError(MusicEdgeError):
    """A dataset folder or annotation file that cannot be read as the layout it claims to be."""
