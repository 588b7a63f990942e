"""Choosing the synthesiser and mastering its output (loudness, soft limiting, fades, silences)."""

from __future__ import annotations

import numpy as np

from . import render_fluidsynth, render_numpy
from .arrange import Score

SYNTHS = ("auto", "fluidsynth", "numpy")


def resolve_synth(synth: str = "auto", soundfont: str | None = None) -> str:
    """``"fluidsynth"`` or ``"numpy"``: what ``synth`` means on this machine.

    ``auto`` takes fluidsynth when the program and the soundfont are there, numpy otherwise; asking
    for ``fluidsynth`` where it cannot run is an error that says what is missing.
    """
    if synth not in SYNTHS:
        raise ValueError(f"synth must be one of {', '.join(SYNTHS)}, got {synth!r}")
    if synth == "numpy":
        return "numpy"
    reason = render_fluidsynth.available(soundfont)
    if reason is None:
        return "fluidsynth"
    if synth == "fluidsynth":
        raise RuntimeError(f"--synth fluidsynth was asked for, but {reason}")
    return "numpy"


def master(
    y: np.ndarray,
    energy: float,
    sample_rate: int,
    silences: list[tuple[float, float]],
    edge_fade_s: float = 0.01,
) -> np.ndarray:
    """Loudness to a target RMS (louder for more energetic songs), peaks softly limited, silences silent.

    ``silences`` are (start, end) seconds that must be silent: the audio fades out over 0.3 s from each
    start (reverb tails ring into it naturally) and is zero after. The ends get ``edge_fade_s`` fades.
    """
    y = np.asarray(y, dtype=np.float64).copy()
    n = len(y)
    t = np.arange(n) / sample_rate
    for start, end in silences:
        ramp = np.clip(1 - (t - start) / 0.3, 0, 1)
        inside = (t >= start) & (t < end)
        y[inside] *= ramp[inside]
    rms = np.sqrt(np.mean(y**2)) if n else 0.0
    if rms > 1e-9:
        target = 10 ** ((-21 + 7 * energy) / 20)
        y *= target / rms
    knee = 0.85
    over = np.abs(y) > knee
    if over.any():
        y[over] = np.sign(y[over]) * (knee + (1 - knee) * np.tanh((np.abs(y[over]) - knee) / (1 - knee)))
    k = min(n // 2, int(edge_fade_s * sample_rate))
    if k > 0:
        ramp = np.linspace(0.0, 1.0, k, endpoint=False)
        y[:k] *= ramp
        y[n - k :] *= ramp[::-1]
    return y.astype(np.float32)


def render_score(
    score: Score,
    start_s: float,
    seconds: float,
    sample_rate: int,
    synth: str,
    seed: int,
    soundfont: str | None = None,
    preroll_s: float = 0.0,
) -> np.ndarray:
    """Raw (unmastered) mono audio of ``score`` with an already resolved ``synth``."""
    if synth == "fluidsynth":
        return render_fluidsynth.render(score, start_s, seconds, sample_rate, soundfont, preroll_s)
    if synth == "numpy":
        return render_numpy.render(score, start_s, seconds, sample_rate, seed, preroll_s)
    raise ValueError(f"unresolved synth {synth!r}; call resolve_synth first")
