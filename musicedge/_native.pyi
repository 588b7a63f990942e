"""Type stub of the C++ extension ``musicedge._native`` (csrc/python/). Use the wrappers in
``musicedge.frontend`` and ``musicedge.config``; these are their native bases."""

import numpy as np
import numpy.typing as npt

build_info: dict[str, str | int]

class MelConfig:
    def __init__(
        self,
        *,
        sample_rate: float,
        n_fft: int,
        hop_length: int,
        win_length: int,
        window: str,
        center: bool,
        pad_mode: str,
        n_mels: int,
        fmin: float,
        fmax: float,
        htk: bool,
        norm: str,
        power: float,
        log: str,
        amin: float,
    ) -> None: ...
    def validate(self) -> None: ...
    def num_frames(self, n_samples: int) -> int: ...
    def mel_filterbank(self) -> npt.NDArray[np.float64]:
        """(n_mels, 1 + n_fft // 2), as librosa.filters.mel."""
    def analysis_window(self) -> npt.NDArray[np.float64]:
        """(n_fft,), the window centred in n_fft."""

def power_spectrum(frames: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """|rfft(frames)|^2 for (n, n_fft) frames -> (n, n_fft // 2 + 1)."""

class MelFrontend:
    def __init__(self, config: MelConfig) -> None: ...
    @property
    def n_mels(self) -> int: ...
    def compute(self, y: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
        """(n,) audio -> (n_mels, n_frames) float32. Releases the GIL."""
    def accept_waveform(self, chunk: npt.NDArray[np.floating]) -> None: ...
    def input_finished(self) -> None: ...
    @property
    def is_finished(self) -> bool: ...
    @property
    def num_frames_ready(self) -> int: ...
    @property
    def num_frames_popped(self) -> int: ...
    @property
    def num_samples_accepted(self) -> int: ...
    def pop_frames(self, max_frames: int = -1) -> npt.NDArray[np.float32]:
        """(n_mels, k) float32, k <= max_frames (all ready frames when negative)."""
    def reset(self) -> None: ...

class FrameBatcher:
    def __init__(
        self,
        n_mels: int,
        window: int,
        hop: int,
        batch_size: int = 32,
        tail: str = "pad",
        pad_value: float = 0.0,
    ) -> None: ...
    @property
    def n_mels(self) -> int: ...
    @property
    def window(self) -> int: ...
    @property
    def hop(self) -> int: ...
    @property
    def batch_size(self) -> int: ...
    @property
    def tail(self) -> str: ...
    @property
    def pad_value(self) -> float: ...
    def num_windows(self, n_frames: int) -> int: ...
    def accept_frames(self, frames: npt.NDArray[np.floating]) -> None:
        """(n_mels, k) frames, any strides."""
    def input_finished(self) -> None: ...
    @property
    def is_finished(self) -> bool: ...
    @property
    def num_windows_ready(self) -> int: ...
    def pop_batch(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """(b, 1, n_mels, window) contiguous float32 and the b window start frames."""
    def reset(self) -> None: ...
