"""A model's input windows, cut the one way training, export checks and the runtime all use.

Mel models see ``spec.window_frames`` frames every ``spec.hop_frames`` (``FrameBatcher``, tail
``pad``: the last window, or a clip shorter than one window, is filled with the frontend's silence
floor). Waveform models (``spec.extra["input"] == "wave"``) see the same spans in samples.
"""

from __future__ import annotations

import numpy as np

from .frontend import FrameBatcher
from .spec import ModelSpec


def silence_floor(spec: ModelSpec) -> float:
    """What silence looks like in the frontend's output: ``10 log10(amin)`` dB, or 0 for power."""
    return 10.0 * float(np.log10(spec.frontend.amin)) if spec.frontend.log == "db" else 0.0


def window_batcher(spec: ModelSpec, batch_size: int) -> FrameBatcher:
    """A :class:`FrameBatcher` cutting the model's windows (tail padded with the silence floor), offline
    or streaming: every task that feeds a mel model windows goes through it."""
    return FrameBatcher(
        spec.frontend.n_mels,
        spec.window_frames,
        spec.hop_frames,
        batch_size=batch_size,
        tail="pad",
        pad_value=silence_floor(spec),
    )


def mel_windows(frames: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """``(n_windows, 1, n_mels, window_frames)`` float32 from ``(n_mels, n_frames)`` frames."""
    batcher = window_batcher(spec, max(1, frames.shape[1]))
    return np.concatenate([batch for batch, _ in batcher.batches(frames)])


def wave_windows(y: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """``(n_windows, 1, window_frames * hop_length)`` float32 from ``(n,)`` samples, zero-padded."""
    hop = spec.frontend.hop_length
    size, step = spec.window_frames * hop, spec.hop_frames * hop
    n = max(1, 1 + -(-max(0, len(y) - size) // step))
    out = np.zeros((n, 1, size), np.float32)
    for i in range(n):
        piece = y[i * step : i * step + size]
        out[i, 0, : len(piece)] = piece
    return out
