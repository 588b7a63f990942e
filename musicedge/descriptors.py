"""Descriptors of a log-mel excerpt, in numpy: what a listener would name when an excerpt changes.

All functions take log-mel frames in dB, float ``(n_mels, n_frames)`` or a batch ``(N, n_mels,
n_frames)``, as :class:`~musicedge.MelFrontend` gives them (``log="db"``), and the
:class:`~musicedge.config.FrontendConfig` that made them (for the bands' frequencies and the frame rate).

* ``loudness_db``: the mean power over frames of the mel bands' summed power, in dB;
* ``centroid_hz``: the power-weighted mean of the bands' centre frequencies (spectral centroid);
* ``onset_density``: onsets per second: peaks of the spectral flux (the mean over bands of the rise
  in dB from one frame to the next, each band floored 80 dB below the excerpt's loudest bin) that
  stand out from their surroundings (a local maximum over +-3 frames, above the flux's mean plus
  one standard deviation and above 1 dB);
* ``bass_ratio``: the fraction of the power in bands centred below 250 Hz.
"""

from __future__ import annotations

import numpy as np

from .config import FrontendConfig
from .errors import ParameterError

__all__ = ["BASS_HZ", "DESCRIPTORS", "UNITS", "band_frequencies", "describe", "describe_batch"]

DESCRIPTORS = ("loudness_db", "centroid_hz", "onset_density", "bass_ratio")
"""The descriptor names, in the column order of :func:`describe_batch`."""

UNITS = {"loudness_db": "dB", "centroid_hz": "Hz", "onset_density": "onsets/s", "bass_ratio": "fraction"}

BASS_HZ = 250.0
"""Bands centred below this frequency count as bass."""

_DYNAMIC_RANGE_DB = 80.0
_PEAK_RADIUS = 3
_MIN_FLUX_DB = 1.0


def band_frequencies(config: FrontendConfig) -> np.ndarray:
    """Centre frequency (Hz) of each mel band: the mean FFT-bin frequency weighted by its filter."""
    fb = np.asarray(config.mel_filterbank(), dtype=np.float64)  # (n_mels, n_freqs)
    freqs = np.linspace(0.0, config.sample_rate / 2.0, fb.shape[1])
    return (fb @ freqs) / np.maximum(fb.sum(axis=1), 1e-12)


def _as_batch(mel: np.ndarray, config: FrontendConfig) -> np.ndarray:
    array = np.asarray(mel, dtype=np.float64)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1] != config.n_mels or array.shape[2] < 2:
        raise ParameterError(
            f"mel must be (n_mels={config.n_mels}, frames >= 2) or (N, {config.n_mels}, frames), "
            f"got shape {np.shape(mel)}"
        )
    if not np.isfinite(array).all():
        raise ParameterError("mel holds NaN or Inf")
    return array


def describe_batch(mel: np.ndarray, config: FrontendConfig) -> np.ndarray:
    """``(N, len(DESCRIPTORS))`` float64: the descriptors of each excerpt of ``mel`` ``(N, M, T)``
    (or ``(M, T)``, giving ``(1, 4)``), columns in :data:`DESCRIPTORS` order."""
    db = _as_batch(mel, config)
    freqs = band_frequencies(config)
    power = np.power(10.0, db / 10.0)  # (N, M, T)
    band_power = power.sum(axis=2)  # (N, M)
    total = np.maximum(band_power.sum(axis=1), 1e-30)
    loudness = 10.0 * np.log10(np.maximum(power.sum(axis=1).mean(axis=1), 1e-10))
    centroid = (band_power @ freqs) / total
    bass = band_power[:, freqs < BASS_HZ].sum(axis=1) / total

    floor = db.max(axis=(1, 2), keepdims=True) - _DYNAMIC_RANGE_DB
    clipped = np.maximum(db, floor)
    flux = np.maximum(np.diff(clipped, axis=2), 0.0).mean(axis=1)  # (N, T - 1)
    n, length = flux.shape
    padded = np.pad(flux, ((0, 0), (_PEAK_RADIUS, _PEAK_RADIUS)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * _PEAK_RADIUS + 1, axis=1)
    is_max = flux >= windows.max(axis=2)
    threshold = np.maximum(flux.mean(axis=1) + flux.std(axis=1), _MIN_FLUX_DB)[:, None]
    onsets = (is_max & (flux > threshold)).sum(axis=1)
    seconds = db.shape[2] / config.frame_rate
    return np.stack([loudness, centroid, onsets / seconds, bass], axis=1)


def describe(mel: np.ndarray, config: FrontendConfig) -> dict[str, float]:
    """The descriptors of one excerpt ``(n_mels, n_frames)`` dB, ``{name: value}``."""
    row = describe_batch(mel, config)
    if row.shape[0] != 1:
        raise ParameterError(f"describe takes one excerpt (n_mels, frames); got {row.shape[0]}")
    return {name: float(v) for name, v in zip(DESCRIPTORS, row[0], strict=True)}
