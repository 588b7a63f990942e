"""Log-mel back to audio, in numpy: mel inversion by non-negative least squares, then fast Griffin-Lim.

1. :func:`mel_to_power`: dB -> mel power -> linear-frequency power ``P >= 0`` with ``fb @ P ~= mel``
   (``fb`` the frontend's own filterbank): the clipped pseudo-inverse as a start, then multiplicative
   updates of the non-negative least-squares problem (Lee and Seung's rule), which keep ``P >= 0``.
2. :func:`griffin_lim`: the fast Griffin-Lim algorithm (Perraudin, Balazs and Sondergaard, 2013): the
   phase that the magnitude's STFT consistency projection converges to, with momentum ``alpha``
   (0.99) on the projected spectrogram; the STFT uses the frontend's window, hop and centring.
"""

from __future__ import annotations

import numpy as np

from .config import FrontendConfig
from .errors import ParameterError

__all__ = ["griffin_lim", "istft", "mel_to_audio", "mel_to_power", "stft"]


_CACHE: dict[FrontendConfig, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}


def _tables(config: FrontendConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The filterbank, its transpose, its pseudo-inverse (C-ordered copies, multiplied with ``np.dot``,
    which was 10 to 80 times faster than ``@`` for these shapes with this numpy's OpenBLAS on a busy
    machine) and the analysis window; all in double precision, in which numpy's FFT is fastest."""
    if config not in _CACHE:
        fb = np.ascontiguousarray(config.mel_filterbank(), dtype=np.float64)
        _CACHE[config] = (
            fb,
            np.ascontiguousarray(fb.T),
            np.ascontiguousarray(np.linalg.pinv(fb)),
            np.asarray(config.analysis_window(), dtype=np.float64),
        )
    return _CACHE[config]


def mel_to_power(mel_db: np.ndarray, config: FrontendConfig, n_iter: int = 8) -> np.ndarray:
    """``(n_mels, T)`` dB -> ``(1 + n_fft // 2, T)`` float64 power ``P >= 0`` with
    ``fb @ P ~= 10**(mel / 10)``."""
    mel_db = np.asarray(mel_db, dtype=np.float64)
    if mel_db.ndim != 2 or mel_db.shape[0] != config.n_mels:
        raise ParameterError(f"mel must be (n_mels={config.n_mels}, frames), got shape {mel_db.shape}")
    if not np.isfinite(mel_db).all():
        raise ParameterError("mel holds NaN or Inf")
    fb, fbt, pinv, _ = _tables(config)
    mel = np.power(10.0, mel_db / 10.0)
    power = np.maximum(np.dot(pinv, mel), 0.0) + 1e-12
    fbt_mel = np.dot(fbt, mel)
    for _ in range(n_iter):
        power *= fbt_mel / (np.dot(fbt, np.dot(fb, power)) + 1e-30)
    return power


def stft(y: np.ndarray, config: FrontendConfig) -> np.ndarray:
    """Complex ``(1 + n_fft // 2, T)`` STFT with the frontend's window, hop and centring (zero padding)."""
    n_fft, hop = config.n_fft, config.hop_length
    window = _tables(config)[3]
    if config.center:
        y = np.pad(y, n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft)[::hop]
    return np.fft.rfft(frames * window, axis=1).T


def istft(spec: np.ndarray, config: FrontendConfig, length: int) -> np.ndarray:
    """Least-squares inverse of :func:`stft` (windowed overlap-add over the window's summed square)."""
    n_fft, hop = config.n_fft, config.hop_length
    window = _tables(config)[3]
    frames = np.fft.irfft(spec.T, n=n_fft, axis=1) * window
    n_frames = frames.shape[0]
    parts = -(-n_fft // hop)
    padded = np.zeros((n_frames, parts * hop))
    padded[:, :n_fft] = frames
    out = np.zeros((n_frames + parts - 1) * hop)
    norm = np.zeros_like(out)
    wsq = np.zeros(parts * hop)
    wsq[:n_fft] = window**2
    for k in range(parts):
        out[k * hop : (k + n_frames) * hop] += padded[:, k * hop : (k + 1) * hop].reshape(-1)
        norm[k * hop : (k + n_frames) * hop] += np.tile(wsq[k * hop : (k + 1) * hop], n_frames)
    out /= np.maximum(norm, 1e-8)
    start = n_fft // 2 if config.center else 0
    return out[start : start + length]


class _Stft:
    """The STFT and its least-squares inverse for one frontend and one signal length, frame-major
    (``(T, F)`` spectra). Every buffer and the overlap-add normalisation are made once: fresh
    megabyte-sized temporaries in each iteration cost more in page faults than the FFTs themselves."""

    def __init__(self, config: FrontendConfig, n_frames: int) -> None:
        self.n_fft, self.hop = config.n_fft, config.hop_length
        self.window = _tables(config)[3]
        self.n_frames = n_frames
        self.offset = self.n_fft // 2 if config.center else 0
        self.length = (n_frames - 1) * self.hop + (0 if config.center else self.n_fft)
        self.parts = -(-self.n_fft // self.hop)
        self.size = (n_frames + self.parts - 1) * self.hop
        self.buffer = np.zeros(max(self.size, self.offset + self.length + self.n_fft))  # the framed signal
        self.frames = np.empty((n_frames, self.n_fft))
        self.specs = [np.empty((n_frames, config.n_freqs), np.complex128) for _ in range(2)]
        self.turn = 0
        norm = np.zeros(self.size)
        self._overlap_add(norm, np.broadcast_to(self.window**2, self.frames.shape))
        self.inv_norm = 1.0 / np.maximum(norm, 1e-8)

    def _overlap_add(self, out: np.ndarray, frames: np.ndarray) -> None:
        hop, n = self.hop, self.n_frames
        for k in range(self.parts):
            width = min(hop, self.n_fft - k * hop)
            out[k * hop : (k + n) * hop].reshape(n, hop)[:, :width] += frames[:, k * hop : k * hop + width]

    def inverse(self, spec: np.ndarray) -> None:
        """``(T, F)`` -> the overlap-added signal in ``buffer`` (zero outside what the frames see)."""
        np.fft.irfft(spec, n=self.n_fft, axis=1, out=self.frames)
        self.frames *= self.window
        out = self.buffer
        out[:] = 0.0
        self._overlap_add(out, self.frames)
        out[: self.size] *= self.inv_norm
        out[: self.offset] = 0.0
        out[self.offset + self.length :] = 0.0

    def forward(self) -> np.ndarray:
        """The ``(T, F)`` STFT of the signal in ``buffer``, in one of two buffers used in turn."""
        frames = np.lib.stride_tricks.sliding_window_view(self.buffer, self.n_fft)[:: self.hop][
            : self.n_frames
        ]
        np.multiply(frames, self.window, out=self.frames)
        self.turn ^= 1
        return np.fft.rfft(self.frames, axis=1, out=self.specs[self.turn])

    def signal(self) -> np.ndarray:
        return self.buffer[self.offset : self.offset + self.length].astype(np.float32)


def griffin_lim(
    magnitude: np.ndarray,
    config: FrontendConfig,
    n_iter: int = 32,
    momentum: float = 0.99,
    seed: int = 0,
) -> np.ndarray:
    """Fast Griffin-Lim: float32 samples whose STFT magnitude approaches ``magnitude`` ``(F, T)``."""
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1:
        raise ParameterError(f"n_iter must be a positive integer, got {n_iter!r}")
    if not 0.0 <= momentum <= 1.0:
        raise ParameterError(f"momentum must be in [0, 1], got {momentum!r}")
    magnitude = np.asarray(magnitude, dtype=np.float64)
    if magnitude.ndim != 2 or magnitude.shape[0] != config.n_freqs or magnitude.shape[1] < 1:
        raise ParameterError(f"magnitude must be ({config.n_freqs}, frames), got shape {magnitude.shape}")
    mag = np.ascontiguousarray(magnitude.T)  # (T, F)
    ola = _Stft(config, mag.shape[0])
    rng = np.random.default_rng(seed)
    spec = mag * np.exp(2j * np.pi * rng.random(mag.shape))
    previous = ola.specs[0]
    previous[:] = 0.0
    scale = np.empty(mag.shape)
    for _ in range(n_iter):
        ola.inverse(spec)
        rebuilt = ola.forward()  # the buffer that previous is not
        # accelerated = rebuilt + momentum * (rebuilt - previous), then its phase times the magnitude
        np.multiply(rebuilt, 1.0 + momentum, out=spec)
        previous *= momentum
        spec -= previous
        previous = rebuilt
        np.abs(spec, out=scale)
        np.maximum(scale, 1e-16, out=scale)
        np.divide(mag, scale, out=scale)
        spec *= scale
    ola.inverse(spec)
    return ola.signal()


def mel_to_audio(mel_db: np.ndarray, config: FrontendConfig, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """``(n_mels, T)`` dB -> float32 samples at ``config.sample_rate`` (see the module doc)."""
    power = mel_to_power(mel_db, config)
    magnitude = np.power(power, 1.0 / config.power) if config.power != 1.0 else power
    return griffin_lim(magnitude, config, n_iter=n_iter, seed=seed)
