"""Degradations for audio fingerprinting: what a query recorded in the world does to a track.

:class:`Degrader` turns a batch of clean waveforms into the degraded copies a fingerprint model is
trained to match to their originals (contrastive pairs): a small time shift, a synthetic room impulse
response, a random EQ, a low-pass, a gain change and background noise at 0-20 dB SNR. The pieces are
those of :mod:`training.augment` (``random_reverb``, ``random_eq``, ``random_lowpass``, ``random_gain``,
``mix_at_snr``); this module adds the backgrounds (coloured noise, babble-like modulated noise, gliding
tones, other music) and draws everything from one ``torch.Generator`` so a seed gives the same batch.

:func:`degrade_query` is the evaluation side: one clip, one background at an exact SNR, nothing random
but the excerpt of the background, so an accuracy table (query length x SNR) is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from musicedge.errors import ParameterError

from .augment import eq_magnitude, mix_at_snr, random_gain, synthetic_rir, uniform

NOISE_KINDS = ("white", "pink", "brown", "babble", "tonal", "music")  # tonal: only with Degrader(tonal=True)

__all__ = ["NOISE_KINDS", "Degrader", "coloured_noise", "degrade_query"]


def coloured_noise(
    n_examples: int, n_samples: int, exponent: Tensor | float, generator: torch.Generator | None = None
) -> Tensor:
    """``(n_examples, n_samples)`` Gaussian noise with power spectrum ``1 / f ** exponent`` (0 white,
    1 pink, 2 brown), unit RMS per example. ``exponent``: a number or ``(n_examples,)``."""
    if n_examples < 1 or n_samples < 2:
        raise ParameterError(f"need at least one example of two samples, got ({n_examples}, {n_samples})")
    white = torch.randn((n_examples, n_samples), generator=generator)
    spectrum = torch.fft.rfft(white)
    freqs = torch.fft.rfftfreq(n_samples).clamp_min(1.0 / n_samples)
    exps = torch.as_tensor(exponent, dtype=torch.float32).reshape(-1, 1)
    shaped = torch.fft.irfft(spectrum * freqs.pow(-exps / 2.0), n=n_samples)
    return shaped / shaped.square().mean(dim=1, keepdim=True).sqrt().clamp_min(1e-12)


def _babble(n_examples: int, n_samples: int, sample_rate: int, generator: torch.Generator | None) -> Tensor:
    """Speech-like interference: pink noise under a few syllable-rate (2-8 Hz) amplitude envelopes, each
    in its own formant-like band, summed (a crowd of talkers heard through a wall)."""
    out = torch.zeros((n_examples, n_samples))
    t = torch.arange(n_samples, dtype=torch.float32) / sample_rate
    spectrum_freqs = torch.fft.rfftfreq(n_samples, d=1.0 / sample_rate)
    for _ in range(3):
        noise = coloured_noise(n_examples, n_samples, 1.0, generator)
        centre = 300.0 + 2000.0 * torch.rand((n_examples, 1), generator=generator)
        band = torch.exp(-0.5 * ((spectrum_freqs - centre) / (0.4 * centre)) ** 2)
        voiced = torch.fft.irfft(torch.fft.rfft(noise) * band, n=n_samples)
        rate = 2.0 + 6.0 * torch.rand((n_examples, 1), generator=generator)
        phase = 2 * math.pi * torch.rand((n_examples, 1), generator=generator)
        envelope = torch.relu(torch.sin(2 * math.pi * rate * t + phase)) ** 2
        out += voiced * envelope
    return out / out.square().mean(dim=1, keepdim=True).sqrt().clamp_min(1e-12)


def _tonal(n_examples: int, n_samples: int, sample_rate: int, generator: torch.Generator | None) -> Tensor:
    """Tonal, non-stationary interference (animal calls, whistles, sirens, feedback): three voices,
    each a few harmonics on a pitch that glides up and down (0.1-2 Hz, up to half an octave either way,
    centred anywhere from 150 Hz to 3 kHz) and swells in and out (0.1-1 Hz), summed."""
    out = torch.zeros((n_examples, n_samples))
    t = torch.arange(n_samples, dtype=torch.float32) / sample_rate

    def uniform_(low: float, high: float) -> Tensor:  # one value per example
        return uniform(low, high, (n_examples, 1), generator)

    for _ in range(3):
        log2_pitch = math.log2(150.0) + uniform_(0.0, math.log2(20.0))
        glide_phase = 2 * math.pi * uniform_(0.1, 2.0) * t + uniform_(0.0, 2 * math.pi)
        pitch = torch.pow(2.0, log2_pitch + uniform_(0.0, 0.5) * torch.sin(glide_phase))
        cycles = torch.cumsum(pitch.double(), dim=1) / sample_rate  # float64: 20 s of phase stays exact
        phase = (2 * math.pi * torch.frac(cycles)).float()
        tilt = uniform_(0.5, 2.0)
        voice = sum(torch.sin(h * phase) * (pitch * h < 0.45 * sample_rate) / h**tilt for h in range(1, 5))
        swell = torch.relu(torch.sin(2 * math.pi * uniform_(0.1, 1.0) * t + uniform_(0.0, 2 * math.pi)))
        out += voice * swell**1.5
    return out / out.square().mean(dim=1, keepdim=True).sqrt().clamp_min(1e-12)


@dataclass
class Degrader:
    """Random degradations of a batch of waveforms ``(B, N)`` at ``sample_rate``.

    Each example gets, in this order: a room impulse response (probability ``p_reverb``, RT60 in
    ``rt60_range``), a random EQ (``p_eq``: low and high shelves and two peaks, +-12 dB), a low-pass
    (``p_lowpass``, cutoff in ``cutoff_range_hz``) - the three multiplied into one filter, applied in
    one FFT pass, the level restored - then background noise (``p_noise``, SNR uniform in
    ``snr_range_db``; the kind drawn among :data:`NOISE_KINDS`, ``music`` being another example of the
    same batch) and a gain (``gain_range_db``). Time shifts are the caller's: it cuts the degraded copy
    at a shifted start.
    """

    sample_rate: int
    snr_range_db: tuple[float, float] = (0.0, 20.0)
    p_noise: float = 0.9
    p_reverb: float = 0.6
    rt60_range: tuple[float, float] = (0.15, 0.9)
    p_eq: float = 0.7
    p_lowpass: float = 0.4
    cutoff_range_hz: tuple[float, float] = (1200.0, 3800.0)
    gain_range_db: tuple[float, float] = (-12.0, 6.0)
    bank_seed: int = 0
    tonal: bool = False  # gliding-tone backgrounds in the bank too (off: the bundled model's recipe)

    def __post_init__(self) -> None:
        for name in ("p_noise", "p_reverb", "p_eq", "p_lowpass"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"{name} must lie in [0, 1], got {value}")
        if self.cutoff_range_hz[1] >= self.sample_rate / 2:
            raise ParameterError(
                f"cutoff_range_hz {self.cutoff_range_hz} must stay below Nyquist ({self.sample_rate / 2} Hz)"
            )
        self._bank: Tensor | None = None

    def noise_bank(
        self, generator: torch.Generator | None = None, n: int = 12, seconds: float = 20.0
    ) -> Tensor:
        """``(4 n, seconds * sample_rate)`` backgrounds, drawn once: white, pink, brown and babble, and
        with ``tonal`` ``n`` more of gliding tones."""
        if self._bank is None:
            length = int(seconds * self.sample_rate)
            kinds = [coloured_noise(n, length, e, generator) for e in (0.0, 1.0, 2.0)]
            kinds.append(_babble(n, length, self.sample_rate, generator))
            if self.tonal:
                kinds.append(_tonal(n, length, self.sample_rate, generator))
            self._bank = torch.cat(kinds)
        return self._bank

    def background(self, wave: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One background per example, ``wave``'s shape: an excerpt of the noise bank, or (one time in
        five) another example of the batch (music over music)."""
        b, n = wave.shape
        bank = self.noise_bank()
        rows = torch.randint(len(bank), (b,), generator=generator)
        starts = torch.randint(bank.shape[1] - n, (b,), generator=generator)
        noise = bank[rows[:, None], starts[:, None] + torch.arange(n)]
        if b > 1:
            other = wave.roll(int(torch.randint(1, b, (1,), generator=generator)), dims=0)
            music = torch.rand((b, 1), generator=generator) < 0.2
            noise = torch.where(music & (other.abs().amax(dim=1, keepdim=True) > 0), other, noise)
        return noise

    def filters(self, n_examples: int, n_fft: int, generator: torch.Generator | None = None) -> Tensor:
        """``(B, n_fft // 2 + 1)`` complex64 responses: reverb (a synthetic RIR), EQ and low-pass, each
        applied with its probability, multiplied into one filter for a single FFT pass. The EQ and
        low-pass magnitudes are smooth: computed on 257 frequencies and interpolated."""
        sr = self.sample_rate
        n_bins = n_fft // 2 + 1
        use = torch.rand((3, n_examples, 1), generator=generator) < torch.tensor(
            [self.p_reverb, self.p_eq, self.p_lowpass]
        ).reshape(3, 1, 1)
        coarse = torch.linspace(0.0, sr / 2, 257, dtype=torch.float64)
        magnitude = torch.ones((n_examples, len(coarse)), dtype=torch.float64)
        draws = torch.rand((3, 4, n_examples, 1), generator=generator, dtype=torch.float64)
        f_low, f_high = 60.0, 0.45 * sr
        for i, kind in enumerate(("low_shelf", "high_shelf", "peaking", "peaking")):
            f0 = f_low * (f_high / f_low) ** draws[0, i]
            gain, q = -12.0 + 24.0 * draws[1, i], 0.5 + 1.5 * draws[2, i]
            magnitude = magnitude * eq_magnitude(coarse, sr, kind, f0, gain, q)
        magnitude = torch.where(use[1], magnitude, 1.0)
        low, high = self.cutoff_range_hz
        cutoff = low * (high / low) ** torch.rand((n_examples, 1), generator=generator, dtype=torch.float64)
        magnitude = torch.where(use[2], magnitude * torch.rsqrt(1.0 + (coarse / cutoff) ** 16), magnitude)
        fine = torch.nn.functional.interpolate(
            magnitude.float()[:, None], size=n_bins, mode="linear", align_corners=True
        )[:, 0]
        rt60 = uniform(*self.rt60_range, n_examples, generator, dtype=torch.float64)
        drr = uniform(0.0, 10.0, n_examples, generator, dtype=torch.float64)
        length = min(n_fft // 2, int(self.rt60_range[1] * sr))
        rir = synthetic_rir(rt60, sr, generator, drr_db=drr, length=length)
        rir = torch.where(use[0], rir, torch.nn.functional.one_hot(torch.tensor(0), length).float())
        return torch.fft.rfft(rir, n=n_fft) * fine

    def __call__(self, wave: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if wave.ndim != 2:
            raise ParameterError(f"wave must be (batch, samples), got {tuple(wave.shape)}")
        b, n = wave.shape
        n_fft = 1 << (2 * n - 1).bit_length()
        spectrum = torch.fft.rfft(wave, n=n_fft) * self.filters(b, n_fft, generator)
        out = torch.fft.irfft(spectrum, n=n_fft)[:, :n]
        rms_in = wave.square().mean(dim=1, keepdim=True).sqrt()
        rms_out = out.square().mean(dim=1, keepdim=True).sqrt()
        out = out * torch.where(rms_out > 0, rms_in / rms_out.clamp_min(1e-12), 1.0)
        low, high = self.snr_range_db
        snr = uniform(low, high, b, generator, wave.device)
        noisy = mix_at_snr(out, self.background(wave, generator), snr)
        keep = torch.rand((b, 1), generator=generator) >= self.p_noise
        out = torch.where(keep, out, noisy)
        return random_gain(out, generator, self.gain_range_db)


def degrade_query(
    y: np.ndarray, snr_db: float | None, noise: np.ndarray | None, rng: np.random.Generator
) -> np.ndarray:
    """``y`` with a background excerpt mixed in at exactly ``snr_db`` (``None``: returned as it is).

    ``noise`` is a 1-D background (looped when shorter than ``y``) read from a random offset drawn
    from ``rng``; ``None`` means pink noise drawn from ``rng``. Returns float32 ``(len(y),)``.
    """
    y = np.asarray(y, dtype=np.float32)
    if snr_db is None:
        return y
    if noise is None:
        seed = int(rng.integers(2**31))
        noise_t = coloured_noise(1, len(y), 1.0, torch.Generator().manual_seed(seed))[0]
    else:
        noise = np.asarray(noise, dtype=np.float32)
        if noise.ndim != 1 or noise.size == 0:
            raise ParameterError("noise must be a non-empty 1-D array")
        start = int(rng.integers(noise.size))
        noise_t = torch.from_numpy(noise[(np.arange(len(y)) + start) % noise.size])
    mixed = mix_at_snr(torch.from_numpy(y)[None], noise_t[None], float(snr_db))
    return mixed[0].numpy().astype(np.float32)
