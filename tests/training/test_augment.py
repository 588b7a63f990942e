"""Augmentations: each one's stated property, shapes and dtypes, determinism under a seeded generator."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from musicedge.errors import ParameterError  # noqa: E402
from training import augment as A  # noqa: E402

torch.set_num_threads(1)

SR = 16000


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def snr_db(clean: torch.Tensor, mixed: torch.Tensor) -> torch.Tensor:
    """Per-example SNR over the last axis, in float64."""
    clean, noise = clean.double(), (mixed.double() - clean.double())
    return 10 * torch.log10(clean.square().mean(-1) / noise.square().mean(-1))


def sine(freq: float, seconds: float = 1.0, sr: int = SR) -> torch.Tensor:
    t = torch.arange(int(seconds * sr), dtype=torch.float64) / sr
    return torch.sin(2 * math.pi * freq * t)


def middle_rms_db(x: torch.Tensor) -> float:
    n = x.shape[-1]
    return float(10 * torch.log10(x[..., n // 4 : 3 * n // 4].double().square().mean()))


# -- gain and noise --------------------------------------------------------------------------------


def test_white_noise_reaches_the_exact_snr() -> None:
    x = torch.randn(5, 8000, generator=gen(1)) * torch.tensor([[0.01], [0.1], [1.0], [3.0], [0.5]])
    target = torch.tensor([-5.0, 0.0, 7.5, 20.0, 40.0])
    y = A.add_white_noise(x, target, gen(2))
    assert (snr_db(x, y) - target).abs().max() < 0.1
    assert (snr_db(x, y) - target).abs().max() < 1e-3  # exact up to float32 rounding
    y = A.add_white_noise(x, 12.0, gen(2))  # one SNR for all
    assert (snr_db(x, y) - 12.0).abs().max() < 1e-3
    # a drawn SNR per example, and a silent example stays silent
    x[0] = 0
    snrs = A.uniform(0.0, 20.0, 5, gen(3))
    y = A.add_white_noise(x, snrs, gen(4))
    assert torch.equal(y[0], x[0])
    assert (snr_db(x[1:], y[1:]) - snrs[1:]).abs().max() < 1e-3


def test_white_noise_is_white_and_gaussian() -> None:
    x = sine(440.0, 2.0).float()
    noise = (A.add_white_noise(x, 0.0, gen(0)) - x).double()
    assert abs(float(noise.mean())) < 0.01
    spectrum = torch.fft.rfft(noise).abs().square()
    low, high = spectrum[1:8000].mean(), spectrum[8000:].mean()
    assert 0.9 < float(low / high) < 1.1


def test_gain() -> None:
    x = torch.randn(3, 100, generator=gen())
    y = A.apply_gain(x, torch.tensor([0.0, 6.0, -20.0]))
    torch.testing.assert_close(y[1], x[1] * 10 ** (6 / 20))
    torch.testing.assert_close(y[2], x[2] * 0.1)
    assert torch.equal(y[0], x[0])
    gains = 20 * torch.log10(A.random_gain(x, gen(5), (-3.0, 3.0)).norm(dim=-1) / x.norm(dim=-1))
    assert ((gains >= -3.0 - 1e-4) & (gains <= 3.0 + 1e-4)).all()


def test_mix_at_snr_with_given_noise() -> None:
    x = torch.randn(2, 2, 4000, generator=gen())  # (B, C, N): SNR per example over both channels
    noise = torch.randn(2, 2, 4000, generator=gen(1))
    y = A.mix_at_snr(x, noise, torch.tensor([3.0, 15.0]))
    assert (snr_db(x.reshape(2, -1), y.reshape(2, -1)) - torch.tensor([3.0, 15.0])).abs().max() < 1e-3
    with pytest.raises(ParameterError, match="shape"):
        A.mix_at_snr(x, noise[:, :1], 3.0)
    with pytest.raises(ParameterError, match=r"shape \(2,\)"):
        A.mix_at_snr(x, noise, torch.tensor([1.0, 2.0, 3.0]))


def test_background_mix_loops_the_chosen_excerpt() -> None:
    """With one positive ramp as the only background, the added signal is a looped ramp excerpt."""
    length, n = 1000, 3500
    ramp = torch.arange(1, length + 1, dtype=torch.float32)
    x = torch.randn(4, n, generator=gen())
    y = A.mix_background(x, ramp, gen(1), snr_range_db=(0.0, 20.0))
    snrs = snr_db(x, y)
    assert ((snrs > -1e-3) & (snrs < 20.0 + 1e-3)).all()
    for added in (y - x).double():
        scaled = added / added.max() * length  # the ramp's values, up to a common gain
        first = int(torch.round(scaled[0])) - 1
        expected = (first + torch.arange(n)) % length + 1
        assert (scaled - expected).abs().max() < 1e-2


def test_background_mix_draws_snr_and_source() -> None:
    x = torch.randn(64, 2000, generator=gen())
    bank = torch.stack([torch.randn(5000, generator=gen(7)), torch.ones(5000)])  # (K, L)
    y = A.mix_background(x, bank, gen(2), snr_range_db=(5.0, 10.0))
    snrs = snr_db(x, y)
    assert ((snrs > 5.0 - 1e-3) & (snrs < 10.0 + 1e-3)).all() and snrs.std() > 0.5
    constant = ((y - x).std(dim=-1) < 1e-6).sum()
    assert 10 < int(constant) < 54  # both backgrounds are chosen
    assert torch.equal(y, A.mix_background(x, bank, gen(2), snr_range_db=(5.0, 10.0)))
    with pytest.raises(ParameterError, match="empty"):
        A.mix_background(x, [], gen())
    with pytest.raises(ParameterError, match=r"noises\[0\]"):
        A.mix_background(x, [torch.zeros(0)], gen())


# -- time shift ------------------------------------------------------------------------------------


def test_time_shift_circular_and_pad() -> None:
    x = torch.arange(10, dtype=torch.float32).repeat(3, 1)
    shifts = torch.tensor([2, -3, 0])
    circular = A.time_shift(x, shifts, mode="circular")
    for i, s in enumerate(shifts.tolist()):
        assert torch.equal(circular[i], torch.roll(x[i], s))
    padded = A.time_shift(x, shifts, mode="pad", pad_value=-1.0)
    assert padded[0].tolist() == [-1, -1, 0, 1, 2, 3, 4, 5, 6, 7]
    assert padded[1].tolist() == [3, 4, 5, 6, 7, 8, 9, -1, -1, -1]
    assert torch.equal(padded[2], x[2])
    spec = torch.randn(2, 5, 8, generator=gen())  # spectrograms shift along time (last axis)
    assert torch.equal(A.time_shift(spec, 3), torch.roll(spec, 3, dims=-1))
    shifted = A.random_time_shift(spec, 4, gen(3), mode="pad")
    assert shifted.shape == spec.shape
    with pytest.raises(ParameterError, match="mode"):
        A.time_shift(x, 1, mode="wrap")


# -- masks -----------------------------------------------------------------------------------------


def nonzero_spec(*shape: int, seed: int = 0) -> torch.Tensor:
    """Random values bounded away from zero, so a zero marks a masked bin."""
    return torch.rand(*shape, generator=gen(seed)) + 0.5


def test_erase_boxes_zeroes_exactly_the_stated_region() -> None:
    spec = nonzero_spec(2, 3, 20, 30)  # (B, C, M, T)
    top, height = torch.tensor([[2, 15], [0, 0]]), torch.tensor([[3, 10], [20, 0]])
    left, width = torch.tensor([[5, 0], [28, 3]]), torch.tensor([[4, 2], [5, 7]])
    out = A.erase_boxes(spec, top, height, left, width)
    expected = torch.zeros(2, 20, 30, dtype=torch.bool)
    expected[0, 2:5, 5:9] = True
    expected[0, 15:20, 0:2] = True  # clipped at the last band
    expected[1, :, 28:30] = True  # clipped at the last frame; the zero-height box erases nothing
    assert torch.equal(out == 0, expected[:, None].expand_as(spec))
    assert torch.equal(out[~(out == 0)], spec[~(out == 0)])
    mean_filled = A.erase_boxes(spec[0, 0], top[0], height[0], left[0], width[0], value="mean")
    assert torch.allclose(mean_filled[2:5, 5:9], spec[0, 0].mean().expand(3, 4))


@pytest.mark.parametrize("axis", ["time", "freq"])
def test_spec_augment_masks_whole_spans(axis: str) -> None:
    spec = nonzero_spec(16, 40, 60)
    mask_fn = A.time_mask if axis == "time" else A.freq_mask
    out = mask_fn(spec, max_width=7, n_masks=2, generator=gen(3))
    masked = out == 0
    lines = masked.all(dim=1) if axis == "time" else masked.all(dim=2)  # masked frames / bands
    # every masked bin belongs to a fully masked frame (time) or band (freq) ...
    expected = lines[:, None, :] if axis == "time" else lines[:, :, None]
    assert torch.equal(masked, expected.expand_as(masked))
    assert torch.equal(out[~masked], spec[~masked])
    # ... and there are at most two spans of at most 7 each
    assert (lines.sum(dim=1) <= 14).all() and lines.any()
    for row in lines.int():
        starts = (torch.diff(row, prepend=torch.zeros(1, dtype=row.dtype)) == 1).sum()
        assert starts <= 2
    again = mask_fn(spec, max_width=7, n_masks=2, generator=gen(3))
    assert torch.equal(out, again)


def test_spec_augment_module() -> None:
    spec = nonzero_spec(4, 2, 32, 50)  # (B, C, M, T): the channels share the masks
    module = A.SpecAugment(freq_width=5, freq_masks=1, time_width=8, time_masks=2)
    out = module(spec, gen(9))
    assert out.shape == spec.shape and torch.equal(out[:, 0] == 0, out[:, 1] == 0)
    assert torch.equal(out, module(spec, gen(9)))
    assert not torch.equal(out, module(spec, gen(10)))
    assert torch.equal(A.SpecAugment(0, 0, 0, 0)(spec, gen()), spec)
    with pytest.raises(ParameterError, match="time_masks"):
        A.SpecAugment(time_masks=-1)


def test_random_erasing_one_rectangle_per_chosen_example() -> None:
    spec = nonzero_spec(32, 40, 80)
    out = A.random_erasing(spec, gen(4), p=1.0, area=(0.05, 0.2), aspect=(0.5, 2.0))
    for example in out == 0:
        rows, cols = example.any(dim=1).nonzero(), example.any(dim=0).nonzero()
        box = example[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert box.all()  # one solid rectangle
        assert int(example.sum()) == box.numel()
        assert 0.03 <= box.numel() / example.numel() <= 0.25  # the area range, up to rounding
    assert torch.equal(A.random_erasing(spec, gen(4), p=0.0), spec)
    partly = A.random_erasing(spec, gen(5), p=0.5)
    erased = (partly == 0).flatten(1).any(dim=1).sum()
    assert 5 < int(erased) < 27
    with pytest.raises(ParameterError, match="probability"):
        A.random_erasing(spec, gen(), p=1.5)


# -- image-style jitter ----------------------------------------------------------------------------


def test_gaussian_blur() -> None:
    impulse = torch.zeros(3, 21, 31)
    impulse[:, 10, 15] = 1.0
    sigmas = torch.tensor([0.0, 1.0, 2.0])
    out = A.gaussian_blur(impulse, sigmas)
    assert torch.equal(out[0], impulse[0])  # sigma 0: unchanged
    for i in (1, 2):
        radius = math.ceil(3 * 2.0)  # the kernel of the largest sigma in the batch
        offsets = np.arange(-radius, radius + 1)
        g = np.exp(-0.5 * (offsets / float(sigmas[i])) ** 2)
        g /= g.sum()
        expected = np.zeros((21, 31))
        expected[10 - radius : 10 + radius + 1, 15 - radius : 15 + radius + 1] = np.outer(g, g)
        np.testing.assert_allclose(out[i].numpy(), expected, atol=1e-6)
    constant = torch.full((2, 10, 12), -40.0, dtype=torch.float64)
    torch.testing.assert_close(A.gaussian_blur(constant, 1.5), constant)  # replicated edges
    noisy = torch.randn(4, 32, 64, generator=gen())
    blurred = A.random_gaussian_blur(noisy, gen(1), sigma_range=(1.0, 2.0), p=1.0)
    assert (blurred.std(dim=(1, 2)) < noisy.std(dim=(1, 2))).all()
    with pytest.raises(ParameterError, match="sigma"):
        A.gaussian_blur(noisy, -1.0)


def test_brightness_contrast() -> None:
    spec = torch.randn(3, 16, 20, generator=gen()) * 10 - 50  # log-mel in dB
    out = A.brightness_contrast(spec, torch.tensor([0.0, 5.0, -3.0]), torch.tensor([1.0, 1.0, 0.5]))
    assert torch.allclose(out[0], spec[0])
    assert torch.allclose(out[1], spec[1] + 5.0)
    mean = spec[2].mean()
    assert torch.allclose(out[2], (spec[2] - mean) * 0.5 + mean - 3.0)
    jittered = A.random_brightness_contrast(spec, gen(2), brightness_db=6.0, contrast=0.2)
    shift = (jittered.mean(dim=(1, 2)) - spec.mean(dim=(1, 2))).abs()
    ratio = jittered.std(dim=(1, 2)) / spec.std(dim=(1, 2))
    assert (shift <= 6.0 + 1e-4).all() and ((ratio > 0.8 - 1e-5) & (ratio < 1.2 + 1e-5)).all()


# -- reverberation ---------------------------------------------------------------------------------


def measured_rt60(rir: torch.Tensor, sr: int) -> float:
    """RT60 from Schroeder's backward integral of the tail, fitted from -5 dB to -35 dB."""
    tail = rir[1:].double().numpy()
    edc = np.cumsum((tail**2)[::-1])[::-1]
    edc_db = 10 * np.log10(edc / edc[0])
    fit = (edc_db <= -5) & (edc_db >= -35)
    slope = np.polyfit(np.nonzero(fit)[0] / sr, edc_db[fit], 1)[0]  # dB per second
    return -60.0 / slope


@pytest.mark.parametrize("rt60", [0.2, 0.5, 1.2])
def test_synthetic_rir_decays_at_its_rt60(rt60: float) -> None:
    rir = A.synthetic_rir(rt60, SR, gen(3), drr_db=4.0, length=int(1.5 * rt60 * SR))
    assert rir[0] == 1.0
    assert abs(measured_rt60(rir, SR) / rt60 - 1) < 0.1
    drr = 10 * math.log10(1.0 / float(rir[1:].double().square().sum()))
    assert abs(drr - 4.0) < 1e-3
    batch = A.synthetic_rir(torch.tensor([0.3, 0.6]), SR, gen(4), drr_db=torch.tensor([0.0, 10.0]))
    assert batch.shape == (2, round(0.6 * SR) + 1) and batch.dtype == torch.float32


def test_apply_rir_is_linear_convolution() -> None:
    x = torch.randn(2, 3000, generator=gen(), dtype=torch.float64)
    rir = A.synthetic_rir(0.05, SR, gen(1), dtype=torch.float64)
    out = A.apply_rir(x, rir, normalize=False)
    for i in range(2):
        np.testing.assert_allclose(out[i].numpy(), np.convolve(x[i].numpy(), rir.numpy())[:3000], atol=1e-9)
    torch.testing.assert_close(A.apply_rir(x, torch.tensor([1.0], dtype=torch.float64)), x)
    normalized = A.apply_rir(x, rir)
    torch.testing.assert_close(normalized.square().mean(-1), x.square().mean(-1))
    per_example = A.synthetic_rir(torch.tensor([0.1, 0.4]), SR, gen(2), dtype=torch.float64)
    assert A.apply_rir(x, per_example).shape == x.shape
    with pytest.raises(ParameterError, match="examples"):
        A.apply_rir(x, per_example[:1].expand(3, -1))


# -- filters ---------------------------------------------------------------------------------------


def test_lowpass_attenuates_above_cutoff() -> None:
    cutoff = 2000.0
    for freq, expect_db, tol in ((1000.0, 0.0, 0.1), (4000.0, -48.2, 1.0), (8000.0 * 0.9, -90, 30)):
        x = sine(freq).float()
        y = A.lowpass(x, SR, cutoff, order=8)
        change = middle_rms_db(y) - middle_rms_db(x)
        assert abs(change - expect_db) < tol, (freq, change)
    x = sine(4000.0).float()
    assert middle_rms_db(A.lowpass(x, SR, cutoff)) - middle_rms_db(x) < -40
    batch = torch.stack([sine(3000.0), sine(3000.0)]).float()
    y = A.lowpass(batch, SR, torch.tensor([1500.0, 6000.0]))
    assert (
        middle_rms_db(y[0]) - middle_rms_db(batch[0]) < -40
        and abs(middle_rms_db(y[1]) - middle_rms_db(batch[1])) < 0.1
    )
    with pytest.raises(ParameterError, match="Nyquist"):
        A.lowpass(x, SR, 9000.0)


def cookbook_peaking(f0: float, gain_db: float, q: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * f0 / sr
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a])
    return b, den


def test_eq_bands() -> None:
    scipy_signal = pytest.importorskip("scipy.signal")
    freqs = torch.linspace(10.0, SR / 2 - 10, 300, dtype=torch.float64)
    f0, gain, q = torch.tensor(1200.0, dtype=torch.float64), torch.tensor(9.0, dtype=torch.float64), 1.4
    magnitude = A.eq_magnitude(freqs, SR, "peaking", f0, gain, torch.tensor(q, dtype=torch.float64))
    b, den = cookbook_peaking(1200.0, 9.0, q, SR)
    _, h = scipy_signal.freqz(b, den, worN=freqs.numpy(), fs=SR)
    np.testing.assert_allclose(magnitude.numpy(), np.abs(h), rtol=1e-10)
    # applied: a sine at the centre gets the gain, one far away is untouched
    x = torch.stack([sine(1200.0), sine(60.0)]).float()
    y = A.equalize(x, SR, "peaking", 1200.0, 9.0, q=q)
    assert abs(middle_rms_db(y[0]) - middle_rms_db(x[0]) - 9.0) < 0.1
    assert abs(middle_rms_db(y[1]) - middle_rms_db(x[1])) < 0.1
    edges = torch.tensor([1.0, SR / 2 - 1.0], dtype=torch.float64)
    for kind, low_gain, high_gain in (("low_shelf", -6.0, 0.0), ("high_shelf", 0.0, -6.0)):
        m = A.eq_magnitude(edges, SR, kind, f0, torch.tensor(-6.0, dtype=torch.float64), torch.tensor(0.7))
        np.testing.assert_allclose(20 * np.log10(m.numpy()), [low_gain, high_gain], atol=0.01)
    with pytest.raises(ParameterError, match="kind"):
        A.equalize(x, SR, "notch", 1000.0, 3.0)


def test_random_eq_stays_within_its_gain_range() -> None:
    x = torch.stack([sine(f) for f in (100.0, 500.0, 1500.0, 4000.0)]).float()
    y = A.random_eq(x, SR, gen(6), n_peaks=1, gain_range_db=(-6.0, 6.0))
    change = torch.tensor([middle_rms_db(y[i]) - middle_rms_db(x[i]) for i in range(4)])
    assert (change.abs() <= 3 * 6.0 + 0.1).all() and change.abs().max() > 0.1


# -- common properties -----------------------------------------------------------------------------

WAVE_AUGMENTS = {
    "white_noise": lambda x, g: A.add_white_noise(x, 10.0, g),
    "gain": lambda x, g: A.random_gain(x, g),
    "shift": lambda x, g: A.random_time_shift(x, 100, g, mode="pad"),
    "background": lambda x, g: A.mix_background(x, [torch.randn(700, generator=gen(11))], g),
    "reverb": lambda x, g: A.random_reverb(x, SR, g, rt60_range=(0.05, 0.2)),
    "eq": lambda x, g: A.random_eq(x, SR, g),
    "lowpass": lambda x, g: A.random_lowpass(x, SR, g),
}
SPEC_AUGMENTS = {
    "spec_augment": lambda s, g: A.SpecAugment(4, 2, 6, 2, value="mean")(s, g),
    "erasing": lambda s, g: A.random_erasing(s, g, p=1.0),
    "blur": lambda s, g: A.random_gaussian_blur(s, g, p=1.0),
    "jitter": lambda s, g: A.random_brightness_contrast(s, g),
    "shift": lambda s, g: A.random_time_shift(s, 5, g),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(2000,), (3, 2000), (2, 2, 2000)])
@pytest.mark.parametrize("name", WAVE_AUGMENTS)
def test_wave_augment_shape_dtype_determinism(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    fn = WAVE_AUGMENTS[name]
    x = (torch.randn(*shape, generator=gen(1)) * 0.3).to(dtype)
    out = fn(x, gen(5))
    assert out.shape == x.shape and out.dtype == dtype and torch.isfinite(out).all()
    assert torch.equal(out, fn(x, gen(5)))
    assert not torch.equal(out, fn(x, gen(6)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(24, 40), (3, 24, 40), (2, 3, 24, 40)])
@pytest.mark.parametrize("name", SPEC_AUGMENTS)
def test_spec_augment_shape_dtype_determinism(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    fn = SPEC_AUGMENTS[name]
    x = (torch.randn(*shape, generator=gen(1)) * 10 - 40).to(dtype)
    out = fn(x, gen(5))
    assert out.shape == x.shape and out.dtype == dtype and torch.isfinite(out).all()
    assert torch.equal(out, fn(x, gen(5)))
    assert not torch.equal(out, fn(x, gen(6)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_generator_gives_the_same_augmentation_on_cuda() -> None:
    x = torch.randn(3, 4000, generator=gen(1))
    for fn in WAVE_AUGMENTS.values():
        torch.testing.assert_close(fn(x.cuda(), gen(5)).cpu(), fn(x, gen(5)), rtol=1e-4, atol=1e-5)
    s = torch.randn(3, 24, 40, generator=gen(1))
    for fn in SPEC_AUGMENTS.values():
        torch.testing.assert_close(fn(s.cuda(), gen(5)).cpu(), fn(s, gen(5)), rtol=1e-4, atol=1e-4)


BAD_CALLS = [
    (lambda: A.add_white_noise(torch.zeros(3, 0), 10.0), "empty"),
    (lambda: A.add_white_noise(torch.zeros(10, dtype=torch.int64), 10.0), "floating"),
    (lambda: A.add_white_noise([0.0, 1.0], 10.0), "Tensor"),  # type: ignore[arg-type]
    (lambda: A.apply_gain(torch.zeros(2, 10), torch.zeros(3)), r"shape \(2,\)"),
    (lambda: A.random_gain(torch.zeros(10), gen(), (3.0, -3.0)), "gain_range_db"),
    (lambda: A.random_time_shift(torch.zeros(10), -1), "max_shift"),
    (lambda: A.time_mask(torch.zeros(10), 3), "2 dimension"),
    (lambda: A.time_mask(torch.zeros(4, 10), -3), "max_width"),
    (lambda: A.erase_boxes(torch.zeros(2, 4, 10), *[torch.zeros(3, 1, dtype=torch.long)] * 4), "shape"),
    (lambda: A.erase_boxes(torch.zeros(4, 10), *[torch.zeros(1)] * 4), "integer"),
    (lambda: A.time_mask(torch.zeros(4, 10), 3, value="median"), "mean"),
    (lambda: A.random_erasing(torch.zeros(4, 10), area=(0.1, 2.0)), "at most 1"),
    (lambda: A.random_brightness_contrast(torch.zeros(4, 10), contrast=1.5), "contrast"),
    (lambda: A.synthetic_rir(0.0, SR), "rt60"),
    (lambda: A.synthetic_rir(0.5, 0), "sample_rate"),
    (lambda: A.synthetic_rir(torch.tensor([0.3, 0.4]), SR, drr_db=torch.tensor([1.0, 2.0, 3.0])), "shapes"),
    (lambda: A.apply_rir(torch.zeros(10), torch.zeros(2, 2, 2)), "rir"),
    (lambda: A.equalize(torch.zeros(100), SR, "peaking", 1000.0, 3.0, q=0.0), "q must"),
    (lambda: A.lowpass(torch.zeros(100), SR, 1000.0, order=0), "order"),
    (lambda: A.random_eq(torch.zeros(100), 8000, freq_range_hz=(5000.0, 6000.0)), "Nyquist|0.45"),
    (lambda: A.uniform(1.0, 0.0, 3), "low <= high"),
]


@pytest.mark.parametrize(("call", "message"), BAD_CALLS)
def test_bad_arguments(call, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        call()
