"""A pure-numpy synthesiser for the General MIDI programs and drums, used when fluidsynth is not there.

Each GM program maps to a family of additive, FM or plucked-string models (piano, electric piano,
mallets, organ, reeds, plucked strings, bass, bowed strings, voices, brass, flutes, synth leads, pads);
drums are synthesised from noise and swept sines. Notes with the same sound are computed once and
reused. Distorted guitars are driven through a soft clipper on their own bus, and the mix goes
through a convolution reverb (exponentially decaying noise). Deterministic for a given seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arrange import PART_VOLUME, Score

_TWO_PI = 2 * np.pi


@dataclass(frozen=True)
class Voice:
    """How one family of instruments sounds."""

    kind: str  # "additive", "fm", "noise"
    ratios: tuple[float, ...] | None  # partial frequency ratios; None: harmonic series
    tilt: float  # partial amplitude ~ 1 / h ** tilt
    odd_only: bool
    pluck: float  # pluck position (0: none); shapes partial amplitudes like a plucked string
    decay: float  # base decay rate (1/s) of the fundamental; 0: sustained
    decay_per_partial: float  # extra decay rate per partial number
    attack: float
    release: float
    sustain: float
    vibrato: float  # depth as a frequency ratio
    ensemble: int  # detuned copies
    formants: tuple[tuple[float, float], ...] = ()
    max_partials: int = 24
    bright_env: float = 0.0  # brass: higher partials grow with the envelope


_PIANO = Voice("additive", None, 1.3, False, 0.12, 0.9, 0.35, 0.003, 0.18, 0.0, 0.0, 1)
_EPIANO = Voice("fm", None, 1.0, False, 0.0, 1.2, 0.0, 0.003, 0.2, 0.0, 0.0, 1)
_MALLET = Voice("additive", (1.0, 3.93, 9.54), 0.9, False, 0.0, 1.4, 2.0, 0.002, 0.35, 0.0, 0.0, 1)
_ORGAN = Voice("additive", (0.5, 1, 2, 3, 4, 6, 8), 0.9, False, 0.0, 0.0, 0.0, 0.01, 0.06, 1.0, 0.0, 1)
_REED = Voice(
    "additive",
    None,
    1.0,
    False,
    0.0,
    0.0,
    0.0,
    0.04,
    0.08,
    0.9,
    0.004,
    1,
    formants=((900, 500), (2400, 900)),
    max_partials=18,
)
_CLARINET = Voice("additive", None, 1.0, True, 0.0, 0.0, 0.0, 0.04, 0.08, 0.9, 0.004, 1, max_partials=15)
_GUITAR = Voice("additive", None, 1.0, False, 0.2, 1.3, 0.55, 0.002, 0.08, 0.0, 0.0, 1, max_partials=20)
_NYLON = Voice("additive", None, 1.2, False, 0.25, 1.6, 0.7, 0.003, 0.1, 0.0, 0.0, 1, max_partials=14)
_DIST_GUITAR = Voice("additive", None, 1.0, False, 0.22, 0.35, 0.2, 0.002, 0.06, 0.0, 0.0, 1, max_partials=14)
_BANJO = Voice("additive", None, 0.9, False, 0.1, 4.0, 1.0, 0.001, 0.05, 0.0, 0.0, 1, max_partials=22)
_BASS = Voice("additive", None, 1.6, False, 0.25, 0.9, 0.5, 0.004, 0.06, 0.0, 0.0, 1, max_partials=12)
_SYNTH_BASS = Voice("additive", None, 1.0, False, 0.0, 0.4, 1.1, 0.003, 0.05, 0.0, 0.0, 1, max_partials=16)
_BOWED = Voice("additive", None, 1.1, False, 0.0, 0.0, 0.0, 0.12, 0.25, 0.9, 0.005, 3, max_partials=18)
_PIZZ = Voice("additive", None, 1.3, False, 0.3, 4.0, 1.0, 0.002, 0.05, 0.0, 0.0, 1, max_partials=12)
_HARP = Voice("additive", None, 1.4, False, 0.3, 1.2, 0.5, 0.002, 0.4, 0.0, 0.0, 1, max_partials=12)
_VOICE = Voice(
    "additive",
    None,
    0.6,
    False,
    0.0,
    0.0,
    0.0,
    0.08,
    0.2,
    0.9,
    0.006,
    2,
    formants=((730, 90), (1090, 110), (2440, 160)),
    max_partials=30,
)
_BRASS = Voice(
    "additive", None, 1.0, False, 0.0, 0.0, 0.0, 0.04, 0.1, 0.85, 0.003, 1, max_partials=20, bright_env=1.0
)
_FLUTE = Voice("additive", (1, 2, 3, 4), 2.2, False, 0.0, 0.0, 0.0, 0.06, 0.1, 0.9, 0.005, 1)
_SQUARE = Voice("additive", None, 1.0, True, 0.0, 0.0, 0.0, 0.01, 0.06, 0.95, 0.003, 1, max_partials=16)
_SAW = Voice("additive", None, 1.0, False, 0.0, 0.0, 0.0, 0.01, 0.06, 0.95, 0.003, 2, max_partials=16)
_PAD = Voice("additive", None, 1.5, False, 0.0, 0.0, 0.0, 0.35, 0.6, 1.0, 0.002, 3, max_partials=10)
_TIMPANI = Voice("additive", (1, 1.5, 1.99, 2.44), 1.2, False, 0.0, 2.5, 1.0, 0.005, 0.3, 0.0, 0.0, 1)


def voice_for(program: int) -> Voice:
    """The synth voice that stands in for General MIDI ``program`` (0-127)."""
    p = int(program)
    table = [
        (range(0, 4), _PIANO),
        (range(4, 6), _EPIANO),
        (range(6, 8), _GUITAR),
        (range(8, 16), _MALLET),
        (range(16, 21), _ORGAN),
        (range(21, 24), _REED),
        (range(24, 25), _NYLON),
        (range(25, 28), _GUITAR),
        (range(28, 29), _PIZZ),
        (range(29, 31), _DIST_GUITAR),
        (range(31, 32), _GUITAR),
        (range(32, 38), _BASS),
        (range(38, 40), _SYNTH_BASS),
        (range(40, 45), _BOWED),
        (range(45, 46), _PIZZ),
        (range(46, 47), _HARP),
        (range(47, 48), _TIMPANI),
        (range(48, 52), _BOWED),
        (range(52, 55), _VOICE),
        (range(55, 64), _BRASS),
        (range(64, 68), _REED),
        (range(68, 71), _REED),
        (range(71, 72), _CLARINET),
        (range(72, 80), _FLUTE),
        (range(80, 81), _SQUARE),
        (range(81, 88), _SAW),
        (range(88, 104), _PAD),
        (range(104, 105), _GUITAR),
        (range(105, 106), _BANJO),
        (range(106, 108), _GUITAR),
        (range(108, 110), _MALLET),
        (range(110, 111), _BOWED),
        (range(111, 112), _REED),
        (range(112, 120), _MALLET),
    ]
    for rng_, voice in table:
        if p in rng_:
            return voice
    return _PAD


def _envelope(n: int, sr: int, dur: float, voice: Voice) -> np.ndarray:
    t = np.arange(n) / sr
    env = np.minimum(1.0, t / max(voice.attack, 1e-4))
    if voice.sustain > 0:
        env *= voice.sustain + (1 - voice.sustain) * np.exp(-t * 4.0)
    off = t >= dur
    if off.any():
        level = env[np.argmax(off)] if off.any() else 0.0
        env[off] = level * np.exp(-(t[off] - dur) / max(voice.release / 4.6, 1e-3))
    return env


def _tone(f0: float, dur: float, vel: int, bend: float, voice: Voice, sr: int) -> np.ndarray:
    """One note of ``voice``: ``dur`` seconds held, then its release."""
    n = int((dur + voice.release) * sr) + 1
    t = np.arange(n) / sr
    ratio = np.ones(n)
    if bend > 0:
        slide = min(0.12, dur)
        ratio *= 2.0 ** (-bend * np.clip(1 - t / max(slide, 1e-3), 0, 1) / 12)
    if voice.vibrato > 0:
        ratio *= 1 + voice.vibrato * np.sin(_TWO_PI * 5.5 * t) * np.clip((t - 0.15) / 0.3, 0, 1)
    phase = _TWO_PI * f0 * np.cumsum(ratio) / sr
    env = _envelope(n, sr, dur, voice)
    brightness = 0.55 + 0.45 * vel / 127
    if voice.kind == "fm":
        index = (1.5 * brightness) * np.exp(-t * 2.5) + 0.2
        y = np.sin(phase + index * np.sin(phase)) * np.exp(-t * voice.decay)
        y += 0.15 * np.sin(14 * phase) * np.exp(-t * 30)  # the tine's strike
        return (y * env).astype(np.float32)
    if voice.ratios is not None:
        ratios = np.array(voice.ratios, dtype=float)
    else:
        h = np.arange(1, voice.max_partials + 1, dtype=float)
        ratios = h[::2] if voice.odd_only else h
    ratios = ratios[ratios * f0 < 0.45 * sr]
    if len(ratios) == 0:
        return np.zeros(n, dtype=np.float32)
    order = np.arange(1, len(ratios) + 1, dtype=float)
    amps = 1.0 / order**voice.tilt
    if voice.pluck > 0:
        amps *= np.abs(np.sin(np.pi * order * voice.pluck)) + 0.05
    if voice.formants:
        freqs = ratios * f0
        shape = sum(1.0 / (1 + ((freqs - fc) / bw) ** 2) for fc, bw in voice.formants)
        amps *= 0.15 + shape
    amps *= brightness ** (order - 1) ** 0.5
    detunes = (
        (1.0,) if voice.ensemble == 1 else tuple(2 ** (c / 1200) for c in np.linspace(-7, 7, voice.ensemble))
    )
    # per-partial amplitude envelopes as a running product: exp(-t (a + b k)) = exp(-t a) * exp(-t b) ** k
    scale = (f0 / 262) ** 0.3
    env_k = np.exp(-t * voice.decay * scale) if voice.decay > 0 else np.ones(n)
    env_step = np.exp(-t * voice.decay_per_partial * scale) if voice.decay > 0 else None
    harmonic = voice.ratios is None
    y = np.zeros(n)
    partials = []
    for k, a in enumerate(amps):
        if voice.bright_env > 0:
            partials.append(a * np.clip(t / (voice.attack * (1 + 0.5 * k)), 0, 1))
        else:
            partials.append(a * env_k)
            if env_step is not None:
                env_k = env_k * env_step
    if harmonic:  # float32 is plenty for the recurrence below, and twice as fast
        partials = [p.astype(np.float32) for p in partials]
        y = y.astype(np.float32)
    for d in detunes:
        ph = phase * d
        if harmonic:
            # sin((h + step) x) = 2 cos(step x) sin(h x) - sin((h - step) x): one multiply-add per partial;
            # only integer multiples of the phase are needed, so it may be wrapped to [0, 2 pi)
            step = 2 if voice.odd_only else 1
            ph = np.mod(ph, _TWO_PI).astype(np.float32)
            twice_cos = 2 * np.cos(step * ph)
            s_prev, s_cur = np.sin((1 - step) * ph), np.sin(ph)
            for weight in partials:
                y += weight * s_cur
                s_prev, s_cur = s_cur, twice_cos * s_cur - s_prev
        else:
            for r, weight in zip(ratios, partials, strict=True):
                y += weight * np.sin(r * ph)
    y /= len(detunes)
    return (y * env / max(1.0, np.abs(amps).sum() ** 0.5)).astype(np.float32)


# -- drums -------------------------------------------------------------------------------------------


def _band(x: np.ndarray, sr: int, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1 / sr)
    spec *= 1 / (1 + (lo / np.maximum(f, 1.0)) ** 4) / (1 + (f / hi) ** 4)
    return np.fft.irfft(spec, len(x))


def _drum(note: int, kit: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A one-shot drum sound for GM drum ``note`` in drum ``kit``."""
    electronic = kit in (24, 25)
    length = {36: 0.9 if electronic else 0.45, 49: 2.0, 51: 1.2, 53: 1.0, 46: 0.5}.get(note, 0.4)
    n = int(length * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    if note in (35, 36):
        f = (45 + 70 * np.exp(-t * 18)) if electronic else (52 + 110 * np.exp(-t * 35))
        y = np.sin(_TWO_PI * np.cumsum(f) / sr) * np.exp(-t * (3.5 if electronic else 9))
        y += 0.3 * _band(noise, sr, 1000, 6000) * np.exp(-t * 250)
    elif note in (38, 40):
        tone = np.sin(_TWO_PI * 190 * t) * np.exp(-t * 25)
        snare = _band(noise, sr, 1200, 9000) * np.exp(-t * (10 if kit == 40 else 16))
        y = (0.2 if kit == 40 else 0.5) * tone + snare * (0.5 if kit == 40 else 1.0)
    elif note == 37:
        y = np.sin(_TWO_PI * 900 * t) * np.exp(-t * 80) + 0.4 * _band(noise, sr, 2000, 8000) * np.exp(
            -t * 120
        )
    elif note == 39:
        env = sum(np.exp(-np.clip(t - d, 0, None) * 60) * (t >= d) for d in (0, 0.011, 0.022))
        y = _band(noise, sr, 900, 3500) * (env + np.exp(-t * 12) * (t > 0.03))
    elif note in (42, 44):
        y = (
            _band(noise, sr, 7000, 16000)
            * np.exp(-t * (70 if note == 42 else 90))
            * (1 if note == 42 else 0.6)
        )
    elif note == 46:
        y = _band(noise, sr, 6000, 16000) * np.exp(-t * 7)
    elif note in (49, 57, 52, 55):
        y = _band(noise, sr, 3000, 14000) * np.exp(-t * 2.2) * 0.8
    elif note in (51, 53, 59):
        ring = sum(np.sin(_TWO_PI * f * t) for f in (3150.0, 4470.0, 5230.0)) / 3
        y = 0.35 * _band(noise, sr, 5000, 14000) * np.exp(-t * 4) + 0.25 * ring * np.exp(-t * 3)
        if note == 53:
            y += 0.3 * np.sin(_TWO_PI * 2200 * t) * np.exp(-t * 5)
    elif note in (41, 43, 45, 47, 48, 50):
        f0 = {41: 82, 43: 92, 45: 104, 47: 128, 48: 150, 50: 175}[note]
        f = f0 * (1 + 0.5 * np.exp(-t * 18))
        y = np.sin(_TWO_PI * np.cumsum(f) / sr) * np.exp(-t * 7) + 0.2 * _band(noise, sr, 300, 3000) * np.exp(
            -t * 40
        )
    elif note == 54:
        jingle = sum(np.sin(_TWO_PI * f * t) for f in (5200.0, 6400.0, 7600.0))
        y = (0.4 * _band(noise, sr, 5000, 12000) + 0.1 * jingle) * np.exp(-t * 14)
    elif note == 56:
        y = np.sign(np.sin(_TWO_PI * 540 * t) + np.sin(_TWO_PI * 800 * t)) * np.exp(-t * 14) * 0.3
        y = _band(y, sr, 400, 4000)
    elif note in (69, 70):
        y = _band(noise, sr, 4000, 11000) * np.minimum(1, t / 0.02) * np.exp(-t * 30)
    else:
        y = _band(noise, sr, 500, 8000) * np.exp(-t * 20)
    y[: min(n, 32)] *= np.linspace(0, 1, min(n, 32))  # no click at the onset
    return (y / max(1e-9, np.abs(y).max())).astype(np.float32)


def _distort(x: np.ndarray, drive: float, sr: int) -> np.ndarray:
    level = np.abs(x).max()
    if level <= 0:
        return x
    y = np.tanh(drive * x / level) / np.tanh(drive)
    return (_band(y, sr, 80, 5500) * level * 0.8).astype(np.float32)


def _reverb(x: np.ndarray, amount: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    t60 = 0.4 + 1.6 * amount / 127
    n_ir = int(min(2.5, t60) * sr)
    t = np.arange(n_ir) / sr
    ir = rng.standard_normal(n_ir) * np.exp(-6.9 * t / t60)
    ir = _band(ir, sr, 150, 6000)
    ir /= np.sqrt((ir**2).sum())
    size = 1 << int(math.ceil(math.log2(len(x) + n_ir)))
    wet = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(ir, size), size)[: len(x)]
    mix = 0.05 + 0.3 * amount / 127
    return (x + mix * wet * 0.5).astype(np.float32)


def render(
    score: Score, start_s: float, seconds: float, sample_rate: int, seed: int = 0, preroll_s: float = 0.0
) -> np.ndarray:
    """Mono float32 audio of ``score`` from ``start_s`` for ``seconds`` (exactly that many samples)."""
    sr = int(sample_rate)
    rng = np.random.default_rng(seed)
    spb = score.us_per_beat / 1e6
    begin = max(0.0, start_s - preroll_s)
    end = start_s + seconds
    n_total = int(round((end - begin) * sr)) + 1
    buses: dict[str, np.ndarray] = {}
    cache: dict[tuple, np.ndarray] = {}
    kit = score.programs.get("drums", 0)
    drum_cache: dict[int, np.ndarray] = {}
    for note in score.notes:
        if note.part not in score.programs:
            continue
        t_on, length = note.start * spb, note.dur * spb
        if t_on >= end or t_on + length + 2.0 < begin:
            continue
        if note.part == "drums":
            if note.pitch not in drum_cache:
                drum_cache[note.pitch] = _drum(note.pitch, kit, sr, rng)
            wave = drum_cache[note.pitch]
            gain = (note.vel / 127) ** 1.6
        else:
            voice = voice_for(score.programs[note.part])
            key = (note.part, note.pitch, round(length, 2), note.vel // 16, note.bend)
            if key not in cache:
                f0 = 440.0 * 2 ** ((note.pitch - 69) / 12)
                cache[key] = _tone(f0, round(length, 2), note.vel // 16 * 16 + 8, note.bend, voice, sr)
            wave = cache[key]
            gain = (note.vel / 127) ** 1.5
        at = int(round((t_on - begin) * sr))
        lo = max(0, -at)
        hi = min(len(wave), n_total - at)
        if hi <= lo:
            continue
        bus = buses.setdefault(note.part, np.zeros(n_total, dtype=np.float32))
        bus[at + lo : at + hi] += gain * wave[lo:hi]
    mix = np.zeros(n_total, dtype=np.float32)
    for part, bus in buses.items():
        program = score.programs[part]
        if part != "drums" and program in (29, 30):
            bus = _distort(bus, 3.0 if program == 29 else 8.0, sr)
        mix += bus * (PART_VOLUME[part] / 127) ** 2 * (0.7 if part == "drums" else 1.0)
    mix = _reverb(mix, score.reverb, sr, rng)
    skip = int(round((start_s - begin) * sr))
    return mix[skip : skip + int(round(seconds * sr))].astype(np.float32)
