"""The mel frontend and the frame batcher: thin Python faces over the C++ core.

Both are streaming objects in the shape kaldi-native-fbank made familiar::

    fe = MelFrontend("melon16k")
    for chunk in chunks:               # any sizes, down to one sample
        fe.accept_waveform(chunk)
        frames = fe.pop_frames()       # (n_mels, k) float32, k >= 0
    fe.input_finished()
    frames = fe.pop_frames()           # the frames that needed the right padding

and ``fe.compute(y)`` gives the same frames for a whole signal at once. Computing releases the GIL.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import _native
from .config import FrontendConfig


class MelFrontend(_native.MelFrontend):
    """Mel spectrogram, whole-signal or streaming; frames are float32 ``(n_mels, n_frames)`` as in librosa.

    ``compute(y)`` takes a 1-D floating-point array (float32 passes without a copy) and is safe to call
    from several threads at once; the streaming methods (``accept_waveform``, ``input_finished``,
    ``num_frames_ready``, ``pop_frames``/``get_frames``, ``reset``) keep state and are not.
    Empty, NaN/Inf, multi-channel or integer audio raises :class:`~musicedge.errors.AudioError`.
    """

    def __init__(self, config: FrontendConfig | str = "gtzan22k") -> None:
        if isinstance(config, str):
            config = FrontendConfig.preset(config)
        if not isinstance(config, FrontendConfig):
            raise TypeError(f"config must be a FrontendConfig or a preset name, got {type(config).__name__}")
        super().__init__(config._native)
        self.config = config

    def get_frames(self, max_frames: int = -1) -> np.ndarray:
        """Alias of ``pop_frames``."""
        return self.pop_frames(max_frames)

    def __repr__(self) -> str:
        return f"MelFrontend({self.config!r})"


class FrameBatcher(_native.FrameBatcher):
    """Windows of ``window`` frames every ``hop`` frames, in contiguous float32 ``(B, 1, n_mels, window)``
    batches of at most ``batch_size``.

    ``tail="pad"`` covers every frame: the last window may run past the end and is filled with
    ``pad_value`` (a sequence shorter than one window gives one padded window). ``tail="drop"`` keeps
    whole windows only. ``pop_batch()`` returns ``(batch, starts)``, ``starts`` being each window's first
    frame. Streaming (``accept_frames`` ... ``input_finished``) and :meth:`batches` give the same windows.
    """

    def batches(self, frames: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """All windows of a whole ``(n_mels, n_frames)`` array, batch by batch (resets the batcher first)."""
        self.reset()
        self.accept_frames(frames)
        self.input_finished()
        while self.num_windows_ready:
            yield self.pop_batch()
