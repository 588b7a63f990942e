"""Frontend suite: the C++ mel frontend against librosa (same settings) and against the bare FFT floor,
and streaming latency per 20 ms chunk. Everything single-threaded."""

from __future__ import annotations

import time

import numpy as np

from .harness import Record, measure, percentile
from .signals import music_like

SUITE = "frontend"
PRESETS = ("melon16k", "gtzan22k")


def _windowed_frames(y: np.ndarray, cfg) -> np.ndarray:
    """The frames the frontend transforms (centred, zero-padded, windowed), as float32 (n_frames, n_fft)."""
    padded = np.pad(y, cfg.n_fft // 2) if cfg.center else y
    frames = np.lib.stride_tricks.sliding_window_view(padded, cfg.n_fft)[:: cfg.hop_length]
    window = cfg.analysis_window().astype(np.float32)
    return np.ascontiguousarray(frames * window, dtype=np.float32)


def run(quick: bool = False) -> list[Record]:
    import librosa
    import scipy.fft
    from threadpoolctl import threadpool_limits

    from musicedge import FrontendConfig, MelFrontend

    seconds = 60.0 if quick else 600.0
    repeats = 3 if quick else 7
    records: list[Record] = []
    with threadpool_limits(1):
        for preset in PRESETS:
            cfg = FrontendConfig.preset(preset)
            y = music_like(cfg.sample_rate, seconds, seed=1)
            fe = MelFrontend(cfg)
            ours = measure(lambda fe=fe, y=y: fe.compute(y), repeats=repeats)

            def with_librosa(cfg=cfg, y=y):
                mel = librosa.feature.melspectrogram(
                    y=y,
                    sr=cfg.sample_rate,
                    n_fft=cfg.n_fft,
                    hop_length=cfg.hop_length,
                    n_mels=cfg.n_mels,
                    center=cfg.center,
                    pad_mode=cfg.pad_mode,
                    htk=cfg.htk,
                    norm=cfg.norm,
                    power=cfg.power,
                )
                return librosa.power_to_db(mel, ref=1.0, amin=cfg.amin, top_db=None)

            theirs = measure(with_librosa, repeats=repeats)
            rtf = seconds / ours.median
            records.append(
                Record.compared(
                    SUITE,
                    f"compute {preset}, {seconds:.0f} s of audio",
                    ours,
                    "librosa",
                    theirs,
                    target=">= 8x",
                    note=f"{rtf:.0f}x real time",
                    extra={"real_time_factor": rtf},
                )
            )
            frames = _windowed_frames(y, cfg)
            floor = measure(lambda frames=frames: scipy.fft.rfft(frames, axis=-1, workers=1), repeats=repeats)
            records.append(
                Record.compared(
                    SUITE,
                    f"compute {preset}, {seconds:.0f} s of audio",
                    ours,
                    "scipy.fft.rfft floor",
                    floor,
                    target=">= 0.67 (at most 1.5x the floor)",
                    note="the floor is the FFT alone of the already windowed frames, float32",
                )
            )
            records.append(_streaming(cfg, y[: int(cfg.sample_rate * min(seconds, 60.0))], preset))
    return records


def _streaming(cfg, y: np.ndarray, preset: str) -> Record:
    from musicedge import MelFrontend

    chunk = int(0.020 * cfg.sample_rate)
    fe = MelFrontend(cfg)
    latencies: list[float] = []
    for rep in range(3):
        fe.reset()
        for start in range(0, len(y), chunk):
            piece = y[start : start + chunk]
            t0 = time.perf_counter()
            fe.accept_waveform(piece)
            fe.pop_frames()
            if rep:  # the first pass warms up
                latencies.append(time.perf_counter() - t0)
        fe.input_finished()
        fe.pop_frames()
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return Record(
        SUITE,
        f"streaming {preset}, 20 ms chunks: p99 per chunk",
        p99 * 1e3,
        "ms",
        target="< 1 ms",
        note=f"p50 {p50 * 1e6:.0f} us, p99 {p99 * 1e6:.0f} us over {len(latencies)} chunks",
        extra={"p50_ms": p50 * 1e3, "p99_ms": p99 * 1e3},
    )
