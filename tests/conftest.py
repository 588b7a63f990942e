"""Shared fixtures: the real data folder beside the project, seeded signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "real"


def real_path(*parts: str) -> Path:
    """A path under ../shared/data/real, or a skip naming what is missing."""
    path = REAL.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not present: {path} (it lives in ../shared beside the project)")
    return path


def real_music_files() -> list[Path]:
    folder = REAL / "music"
    return (
        sorted(p for p in folder.glob("*") if p.suffix in {".ogg", ".mp3", ".wav", ".flac"})
        if folder.exists()
        else []
    )


def feed_in_random_chunks(stream, y: np.ndarray, seed: int, max_chunk: int) -> list:
    """Feed ``y`` to a stream (``accept_waveform``) in seeded random chunks of 1 to ``max_chunk - 1``
    samples, as an audio callback would; returns every update."""
    rng = np.random.default_rng(seed)
    updates, pos = [], 0
    while pos < len(y):
        n = int(rng.integers(1, max_chunk))
        updates += stream.accept_waveform(y[pos : pos + n])
        pos += n
    return updates


def seeded_signal(sr: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Float32: tones, noise and a click train: energy in every band, with 60+ dB of dynamic range."""
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    y = 0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.1 * np.sin(2 * np.pi * 3130.0 * t + 0.3)
    y += 0.02 * rng.standard_normal(n)
    y[:: sr // 4] += 0.8
    y[: n // 10] *= 1e-3  # a quiet start
    return y.astype(np.float32)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def librosa_mel_power(y: np.ndarray, cfg) -> np.ndarray:
    """The reference: librosa.feature.melspectrogram in float64 on the same samples, with the config's
    settings (mel power or magnitude; no log)."""
    import warnings

    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "n_fft is too large for input signal"
        return librosa.feature.melspectrogram(
            y=np.asarray(y, dtype=np.float64), sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
            win_length=cfg.win_length, window="boxcar" if cfg.window == "rectangular" else cfg.window,
            center=cfg.center, pad_mode=cfg.pad_mode, power=cfg.power, n_mels=cfg.n_mels, fmin=cfg.fmin,
            fmax=cfg.fmax, htk=cfg.htk, norm=cfg.norm, dtype=np.float64,
        )  # fmt: skip
