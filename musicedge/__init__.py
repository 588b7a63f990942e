"""musicedge: music analysis at the edge.

A C++ streaming mel frontend, small models exported to self-describing ONNX files, and a light
runtime (numpy + ONNX Runtime; never torch) with a command line and a Python API.
"""

from .config import FrontendConfig
from .errors import AudioError, DataError, ModelError, MusicEdgeError, ParameterError
from .frontend import FrameBatcher, MelFrontend

__version__ = "0.1.0"

__all__ = [
    "AudioError",
    "DataError",
    "FrameBatcher",
    "FrontendConfig",
    "MelFrontend",
    "ModelError",
    "MusicEdgeError",
    "ParameterError",
    "__version__",
]
