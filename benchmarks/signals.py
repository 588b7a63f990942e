"""Seeded test signals for the benchmarks: music-like enough to exercise every mel bin."""

from __future__ import annotations

import numpy as np


def music_like(sample_rate: int, seconds: float, seed: int = 0) -> np.ndarray:
    """Float32 mono: a chord progression of harmonic tones, a noise-burst beat and a little hiss, peak 0.9."""
    rng = np.random.default_rng(seed)
    n = int(sample_rate * seconds)
    t = np.arange(n) / sample_rate
    y = np.zeros(n)
    beat = int(0.5 * sample_rate)
    roots = 110.0 * 2 ** (rng.integers(0, 12, size=max(1, n // (4 * beat) + 1)) / 12)
    for bar, root in enumerate(roots):
        lo, hi = bar * 4 * beat, min(n, (bar + 1) * 4 * beat)
        if lo >= n:
            break
        seg = t[lo:hi]
        for ratio in (1.0, 1.25, 1.5):
            for h in range(1, 6):
                y[lo:hi] += 0.08 / h * np.sin(2 * np.pi * root * ratio * h * seg)
    hit = np.exp(-np.arange(beat // 4) / (0.02 * sample_rate)) * rng.standard_normal(beat // 4)
    for start in range(0, n - len(hit), beat):
        y[start : start + len(hit)] += 0.3 * hit
    y += 0.003 * rng.standard_normal(n)
    return (0.9 * y / np.abs(y).max()).astype(np.float32)
