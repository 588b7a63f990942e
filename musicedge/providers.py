"""Which ONNX Runtime execution providers really work on this machine.

``onnxruntime.get_available_providers()`` lists what the wheel was built with, not what can run: the
GPU wheel lists CUDA even where no CUDA libraries are installed, and asking for it then logs errors.
Here CUDA is asked for only when its libraries load, and every candidate is proven by running a tiny
model (``models/probe.onnx``) and reading back which provider the session really uses.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path

import numpy as np

PROBE_MODEL = Path(__file__).resolve().parent / "models" / "probe.onnx"

# Shared libraries each GPU provider needs before ONNX Runtime can load it.
_REQUIRED_LIBRARIES = {
    "CUDAExecutionProvider": (
        ("libcudart.so.12", "libcudart.so.13"),
        ("libcublas.so.12", "libcublas.so.13"),
        ("libcudnn.so.9",),
    ),
    "TensorrtExecutionProvider": (("libnvinfer.so.10",),),
}


def _libraries_load(provider: str) -> bool:
    for alternatives in _REQUIRED_LIBRARIES.get(provider, ()):
        for name in alternatives:
            try:
                ctypes.CDLL(name)
                break
            except OSError:
                continue
        else:
            return False
    return True


@functools.lru_cache(maxsize=1)
def usable_providers() -> tuple[str, ...]:
    """Providers that ran the probe model here, best first; CPUExecutionProvider always last."""
    import onnxruntime as ort

    from .model import session_options

    usable = []
    for provider in ort.get_available_providers():
        if provider == "CPUExecutionProvider" or not _libraries_load(provider):
            continue
        try:
            session = ort.InferenceSession(
                str(PROBE_MODEL),
                sess_options=session_options(),
                providers=[provider, "CPUExecutionProvider"],
            )
            session.run(None, {"x": np.zeros(1, np.float32)})
        except Exception:  # noqa: BLE001 - any failure means "not usable here"
            continue
        if session.get_providers()[0] == provider:
            usable.append(provider)
    return (*usable, "CPUExecutionProvider")


def choose_providers(device: str = "auto") -> list[str]:
    """Providers for a session: ``auto`` (the best usable), ``cpu``, or ``cuda`` (an error if unusable)."""
    from .errors import ParameterError

    usable = usable_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device == "cuda":
        if "CUDAExecutionProvider" not in usable:
            raise ParameterError(
                "device='cuda' asked for, but the CUDA provider does not run here; "
                f"usable: {', '.join(usable)}"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device != "auto":
        raise ParameterError(f"device must be auto, cpu or cuda, got {device!r}")
    return list(usable)
