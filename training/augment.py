"""Data augmentation for waveforms and (log-)mel spectrograms: batched, device-agnostic, seeded.

Conventions shared by every function here:

* **Shapes.** Waveforms are ``(N,)`` (one example) or ``(B, ..., N)``; spectrograms are ``(M, T)``
  (one example) or ``(B, ..., M, T)`` with ``M`` mel bands and ``T`` frames. The first axis is the
  example axis: random parameters are drawn once per example and shared by any further leading axes
  (stereo channels, stacked mel images). Output shape and dtype equal the input's.
* **Parameters.** Functions with explicit parameters (``apply_gain``, ``mix_at_snr``, ``lowpass`` ...)
  take a Python number or a tensor of shape ``(B,)`` (one value per example).
* **Randomness.** Every ``random_*`` function (and :func:`add_white_noise`, :func:`mix_background`,
  :func:`synthetic_rir`) takes ``generator: torch.Generator | None``. Random numbers are drawn on the
  generator's device and then moved to the data's device, so a CPU generator seeded alike gives the
  same augmentation on CPU and GPU data; pass a CUDA generator to keep large draws on the GPU. With
  ``generator=None`` torch's default generator of the data's device is used.
* **Filtering** (EQ, low-pass) is zero-phase: the magnitude response multiplies the spectrum of the
  signal zero-padded to twice its length, which is linear (not circular) filtering for impulse
  responses shorter than the signal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from musicedge.errors import ParameterError

__all__ = [
    "SpecAugment",
    "add_white_noise",
    "apply_gain",
    "apply_rir",
    "brightness_contrast",
    "eq_magnitude",
    "equalize",
    "erase_boxes",
    "freq_mask",
    "gaussian_blur",
    "lowpass",
    "mix_at_snr",
    "mix_background",
    "random_brightness_contrast",
    "random_eq",
    "random_erasing",
    "random_gain",
    "random_gaussian_blur",
    "random_lowpass",
    "random_reverb",
    "random_time_shift",
    "synthetic_rir",
    "time_mask",
    "time_shift",
    "uniform",
]

Number = float | int
Param = Number | Tensor


# -- helpers ---------------------------------------------------------------------------------------


def _check_tensor(x: Tensor, core_dims: int, what: str) -> None:
    if not torch.is_tensor(x):
        raise ParameterError(f"{what} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise ParameterError(f"{what} must be a floating-point tensor, got {x.dtype}")
    if x.ndim < core_dims:
        raise ParameterError(f"{what} needs at least {core_dims} dimension(s), got shape {tuple(x.shape)}")
    if any(size == 0 for size in x.shape[x.ndim - core_dims :]):
        raise ParameterError(f"{what} is empty: shape {tuple(x.shape)}")


def _num_examples(x: Tensor, core_dims: int) -> int:
    """Examples in ``x``: its first axis, or 1 for an unbatched ``x`` of ``core_dims`` dimensions."""
    return x.shape[0] if x.ndim > core_dims else 1


def _per_example(
    value: Param, x: Tensor, core_dims: int, name: str, dtype: torch.dtype | None = None
) -> Tensor:
    """``value`` (scalar or ``(B,)``) as a tensor that broadcasts against ``x`` one value per example."""
    dtype = dtype or x.dtype
    n = _num_examples(x, core_dims)
    t = torch.as_tensor(value, dtype=dtype, device=x.device)
    if t.ndim == 0:
        t = t.expand(n)
    if t.shape != (n,):
        raise ParameterError(
            f"{name} must be a number or a tensor of shape ({n},), got shape {tuple(t.shape)}"
        )
    return _broadcastable(t, x, core_dims)


def _broadcastable(values: Tensor, x: Tensor, core_dims: int) -> Tensor:
    """``(B,)`` to ``(B, 1, ..., 1)`` against a batched ``x``, or to a scalar against an unbatched one."""
    if x.ndim == core_dims:
        return values.reshape(())
    return values.reshape((x.shape[0],) + (1,) * (x.ndim - 1))


def _example_dims(x: Tensor, core_dims: int) -> tuple[int, ...]:
    """The dimensions of one example (all but the first, or all of an unbatched ``x``)."""
    return tuple(range(1 if x.ndim > core_dims else 0, x.ndim))


def _draw(
    kind: str,
    shape: Sequence[int],
    generator: torch.Generator | None,
    device: torch.device,
    dtype: torch.dtype,
) -> Tensor:
    """``torch.rand`` or ``torch.randn`` on the generator's device, moved to ``device``."""
    source = generator.device if generator is not None else device
    fn = torch.rand if kind == "rand" else torch.randn
    return fn(tuple(shape), generator=generator, device=source, dtype=dtype).to(device)


def uniform(
    low: float,
    high: float,
    shape: int | Sequence[int],
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Uniform samples in ``[low, high)``: per-example parameters for the explicit functions."""
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        raise ParameterError(f"need finite low <= high, got low={low}, high={high}")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return low + (high - low) * _draw("rand", shape, generator, torch.device(device), dtype)


def _check_range(name: str, value: tuple[float, float], lowest: float = -math.inf) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a (low, high) pair, got {value!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and lowest <= low <= high):
        raise ParameterError(f"{name} must satisfy {lowest} <= low <= high (finite), got {value!r}")
    return low, high


def _check_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ParameterError(f"p must be a probability in [0, 1], got {p}")


def _apply_with_probability(
    x: Tensor, augmented: Tensor, p: float, generator: torch.Generator | None, core_dims: int
) -> Tensor:
    """Per example: ``augmented`` with probability ``p``, else ``x``."""
    if p >= 1.0:
        return augmented
    chosen = _draw("rand", (_num_examples(x, core_dims),), generator, x.device, torch.float32) < p
    return torch.where(_broadcastable(chosen, x, core_dims), augmented, x)


def _work_dtype(x: Tensor) -> torch.dtype:
    """FFTs and power sums run in float32 at least (half precision FFTs are not available everywhere)."""
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


# -- gain and additive noise -----------------------------------------------------------------------


def apply_gain(wave: Tensor, gain_db: Param) -> Tensor:
    """Multiply each example by ``10 ** (gain_db / 20)``. ``wave``: ``(N,)`` or ``(B, ..., N)``."""
    _check_tensor(wave, 1, "wave")
    gain = _per_example(gain_db, wave, 1, "gain_db")
    return wave * torch.pow(10.0, gain / 20.0)


def random_gain(
    wave: Tensor, generator: torch.Generator | None = None, gain_range_db: tuple[float, float] = (-6.0, 6.0)
) -> Tensor:
    """:func:`apply_gain` with a gain drawn uniformly from ``gain_range_db`` per example."""
    _check_tensor(wave, 1, "wave")
    low, high = _check_range("gain_range_db", gain_range_db)
    return apply_gain(wave, uniform(low, high, _num_examples(wave, 1), generator, wave.device))


def mix_at_snr(wave: Tensor, noise: Tensor, snr_db: Param) -> Tensor:
    """``wave + g * noise`` with ``g`` chosen per example so that the SNR is exactly ``snr_db``.

    SNR is ``10 log10(mean(wave ** 2) / mean((g * noise) ** 2))`` over each example's samples.
    ``noise`` has ``wave``'s shape. An example whose signal or noise is silent is returned unchanged
    (no finite gain reaches the SNR).
    """
    _check_tensor(wave, 1, "wave")
    _check_tensor(noise, 1, "noise")
    if noise.shape != wave.shape:
        raise ParameterError(f"noise shape {tuple(noise.shape)} differs from wave shape {tuple(wave.shape)}")
    work = _work_dtype(wave)
    snr = _per_example(snr_db, wave, 1, "snr_db", dtype=work)
    dims = _example_dims(wave, 1)
    signal_power = wave.to(work).square().mean(dim=dims, keepdim=True)
    noise_power = noise.to(work).square().mean(dim=dims, keepdim=True)
    usable = (signal_power > 0) & (noise_power > 0)
    gain = torch.sqrt(
        signal_power / (noise_power.clamp_min(torch.finfo(work).tiny) * torch.pow(10.0, snr / 10.0))
    )
    gain = torch.where(usable, gain, torch.zeros_like(gain))
    return (wave.to(work) + gain * noise.to(work)).to(wave.dtype)


def add_white_noise(wave: Tensor, snr_db: Param, generator: torch.Generator | None = None) -> Tensor:
    """Add white Gaussian noise at exactly ``snr_db`` per example (see :func:`mix_at_snr`).

    ``wave``: ``(N,)`` or ``(B, ..., N)``; ``snr_db``: a number or ``(B,)``. Draw a per-example SNR range
    with ``add_white_noise(x, uniform(lo, hi, B, g), g)``.
    """
    _check_tensor(wave, 1, "wave")
    noise = _draw("randn", wave.shape, generator, wave.device, _work_dtype(wave))
    return mix_at_snr(wave, noise, snr_db)


def mix_background(
    wave: Tensor,
    noises: Tensor | Sequence[Tensor],
    generator: torch.Generator | None = None,
    snr_range_db: tuple[float, float] = (0.0, 20.0),
) -> Tensor:
    """Mix each example with a background excerpt at an SNR drawn uniformly from ``snr_range_db``.

    For each example one background is chosen uniformly among ``noises`` (one ``(L,)`` tensor, a
    ``(K, L)`` tensor or a sequence of 1-D tensors of any lengths) and read for ``N`` samples from a
    uniformly drawn offset, wrapping around to its start when it is shorter than needed (the
    background is looped). The same excerpt is used for every channel of an example.
    ``wave``: ``(N,)`` or ``(B, ..., N)``.
    """
    _check_tensor(wave, 1, "wave")
    if torch.is_tensor(noises):
        bank = [noises] if noises.ndim == 1 else list(noises.unbind(0))
    else:
        bank = list(noises)
    if not bank:
        raise ParameterError("noises is empty: give at least one background signal")
    for i, noise in enumerate(bank):
        if not torch.is_tensor(noise) or noise.ndim != 1 or noise.numel() == 0:
            raise ParameterError(f"noises[{i}] must be a non-empty 1-D tensor")
    low, high = _check_range("snr_range_db", snr_range_db)
    n_examples, n_samples = _num_examples(wave, 1), wave.shape[-1]
    picks = _draw("rand", (n_examples, 3), generator, torch.device("cpu"), torch.float64)
    positions = torch.arange(n_samples)
    excerpts = []
    for choice, offset_draw, _ in picks.tolist():
        noise = bank[min(int(choice * len(bank)), len(bank) - 1)]
        offset = min(int(offset_draw * noise.numel()), noise.numel() - 1)
        index = (positions + offset) % noise.numel()
        excerpts.append(noise[index.to(noise.device)].to(wave.device, _work_dtype(wave)))
    background = torch.stack(excerpts)  # (B, N)
    if wave.ndim == 1:
        background = background[0]
    else:  # shared by the channels of an example
        background = background.reshape((n_examples,) + (1,) * (wave.ndim - 2) + (n_samples,))
    snr = low + (high - low) * picks[:, 2]
    return mix_at_snr(wave, background.expand(wave.shape), snr.to(wave.device))


# -- time shift ------------------------------------------------------------------------------------


def time_shift(x: Tensor, shift: int | Tensor, mode: str = "circular", pad_value: float = 0.0) -> Tensor:
    """Delay each example by ``shift`` samples or frames along the last axis (negative: advance).

    ``mode="circular"`` rolls (what leaves one end enters the other); ``mode="pad"`` shifts in
    ``pad_value`` and drops what leaves. ``x``: ``(N,)`` or ``(B, ..., N)`` (a spectrogram shifts in time);
    ``shift``: an int or an integer ``(B,)`` tensor.
    """
    _check_tensor(x, 1, "x")
    if mode not in ("circular", "pad"):
        raise ParameterError(f"mode must be 'circular' or 'pad', got {mode!r}")
    length = x.shape[-1]
    shifts = _per_example(shift, x, 1, "shift", dtype=torch.int64)
    source = torch.arange(length, device=x.device) - shifts  # out[t] = x[t - shift]
    if mode == "circular":
        return torch.gather(x, -1, torch.remainder(source, length).expand(x.shape))
    valid = (source >= 0) & (source < length)
    gathered = torch.gather(x, -1, source.clamp(0, length - 1).expand(x.shape))
    return torch.where(valid, gathered, torch.full_like(gathered, pad_value))


def random_time_shift(
    x: Tensor, max_shift: int, generator: torch.Generator | None = None, mode: str = "circular"
) -> Tensor:
    """:func:`time_shift` by an integer drawn uniformly from ``[-max_shift, max_shift]`` per example."""
    _check_tensor(x, 1, "x")
    if max_shift < 0:
        raise ParameterError(f"max_shift must be >= 0, got {max_shift}")
    draws = _draw("rand", (_num_examples(x, 1),), generator, x.device, torch.float64)
    shifts = (draws * (2 * max_shift + 1)).floor().long().clamp(max=2 * max_shift) - max_shift
    return time_shift(x, shifts, mode=mode)


# -- spectrogram masks: SpecAugment and random erasing ---------------------------------------------


def _fill_value(spec: Tensor, value: float | str) -> Tensor:
    if value == "mean":
        return spec.mean(dim=_example_dims(spec, 2), keepdim=True)
    if isinstance(value, str):
        raise ParameterError(f"value must be a number or 'mean', got {value!r}")
    return torch.tensor(float(value), dtype=spec.dtype, device=spec.device)


def erase_boxes(
    spec: Tensor, top: Tensor, height: Tensor, left: Tensor, width: Tensor, value: float | str = 0.0
) -> Tensor:
    """Set rectangles of a spectrogram to ``value`` (a number, or ``"mean"``: the example's mean).

    ``spec``: ``(M, T)`` or ``(B, ..., M, T)``. Box ``k`` of example ``b`` covers bands
    ``top[b, k] <= m < top[b, k] + height[b, k]`` and frames ``left[b, k] <= t < left[b, k] + width[b, k]``
    (clipped to the spectrogram); the four integer tensors are ``(B, K)``, or ``(K,)`` for an unbatched
    ``spec``. A box of zero height or width erases nothing. Everything outside the boxes is unchanged.
    """
    _check_tensor(spec, 2, "spec")
    n = _num_examples(spec, 2)
    n_bands, n_frames = spec.shape[-2:]
    boxes = []
    for name, t in (("top", top), ("height", height), ("left", left), ("width", width)):
        t = torch.as_tensor(t, device=spec.device)
        if t.ndim == 1 and spec.ndim == 2:
            t = t.unsqueeze(0)
        if t.ndim != 2 or t.shape[0] != n or t.is_floating_point():
            raise ParameterError(f"{name} must be an integer tensor of shape ({n}, K), got {tuple(t.shape)}")
        boxes.append(t.long()[:, :, None, None])
    top_, height_, left_, width_ = boxes
    bands = torch.arange(n_bands, device=spec.device)[:, None]
    frames = torch.arange(n_frames, device=spec.device)[None, :]
    inside = (bands >= top_) & (bands < top_ + height_) & (frames >= left_) & (frames < left_ + width_)
    mask = inside.any(dim=1)  # (B, M, T)
    mask = (
        mask.reshape(spec.shape[-2:])
        if spec.ndim == 2
        else mask.reshape((n,) + (1,) * (spec.ndim - 3) + mask.shape[1:])
    )
    return torch.where(mask, _fill_value(spec, value).to(spec.dtype), spec)


def _draw_spans(
    n: int, n_masks: int, max_width: int, length: int, generator: torch.Generator | None, device: torch.device
) -> tuple[Tensor, Tensor]:
    """SpecAugment's spans, ``(n, n_masks)`` each: width ``w ~ U{0..min(max_width, length)}``,
    start ``~ U{0..length - w}``."""
    draws = _draw("rand", (2, n, n_masks), generator, device, torch.float64)
    max_width = min(max_width, length)
    widths = (draws[0] * (max_width + 1)).floor().long().clamp(max=max_width)
    starts = (draws[1] * (length - widths + 1)).floor().long()
    return starts, widths


def _span_mask(
    spec: Tensor,
    axis: str,
    max_width: int,
    n_masks: int,
    generator: torch.Generator | None,
    value: float | str,
) -> Tensor:
    _check_tensor(spec, 2, "spec")
    if max_width < 0 or n_masks < 0:
        raise ParameterError(f"max_width and n_masks must be >= 0, got {max_width} and {n_masks}")
    n = _num_examples(spec, 2)
    n_bands, n_frames = spec.shape[-2:]
    length = n_frames if axis == "time" else n_bands
    starts, widths = _draw_spans(n, n_masks, max_width, length, generator, spec.device)
    full_start = torch.zeros_like(starts)
    full_extent = torch.full_like(starts, n_bands if axis == "time" else n_frames)
    if axis == "time":
        return erase_boxes(spec, full_start, full_extent, starts, widths, value)
    return erase_boxes(spec, starts, widths, full_start, full_extent, value)


def time_mask(
    spec: Tensor,
    max_width: int,
    n_masks: int = 1,
    generator: torch.Generator | None = None,
    value: float | str = 0.0,
) -> Tensor:
    """SpecAugment time masks: ``n_masks`` spans of ``U{0..max_width}`` frames set to ``value``.

    ``spec``: ``(M, T)`` or ``(B, ..., M, T)``; spans are drawn per example, every band of a span is masked.
    """
    return _span_mask(spec, "time", max_width, n_masks, generator, value)


def freq_mask(
    spec: Tensor,
    max_width: int,
    n_masks: int = 1,
    generator: torch.Generator | None = None,
    value: float | str = 0.0,
) -> Tensor:
    """SpecAugment frequency masks: ``n_masks`` spans of ``U{0..max_width}`` mel bands set to ``value``.

    ``spec``: ``(M, T)`` or ``(B, ..., M, T)``; spans are drawn per example, every frame of a span is masked.
    """
    return _span_mask(spec, "freq", max_width, n_masks, generator, value)


class SpecAugment(nn.Module):
    """Frequency then time masking (Park et al., 2019) on ``(M, T)`` or ``(B, ..., M, T)`` spectrograms.

    ``value`` fills the masks: a number (0 suits normalised features) or ``"mean"`` (each example's
    mean, which suits raw dB values). ``forward(spec, generator=None)`` returns a masked copy.
    """

    def __init__(
        self,
        freq_width: int = 16,
        freq_masks: int = 2,
        time_width: int = 32,
        time_masks: int = 2,
        value: float | str = 0.0,
    ) -> None:
        super().__init__()
        for name, v in (
            ("freq_width", freq_width),
            ("freq_masks", freq_masks),
            ("time_width", time_width),
            ("time_masks", time_masks),
        ):
            if not isinstance(v, int) or v < 0:
                raise ParameterError(f"{name} must be an integer >= 0, got {v!r}")
        self.freq_width, self.freq_masks = freq_width, freq_masks
        self.time_width, self.time_masks = time_width, time_masks
        self.value = value

    def forward(self, spec: Tensor, generator: torch.Generator | None = None) -> Tensor:
        spec = freq_mask(spec, self.freq_width, self.freq_masks, generator, self.value)
        return time_mask(spec, self.time_width, self.time_masks, generator, self.value)

    def extra_repr(self) -> str:
        return (
            f"freq_width={self.freq_width}, freq_masks={self.freq_masks}, time_width={self.time_width}, "
            f"time_masks={self.time_masks}, value={self.value!r}"
        )


def random_erasing(
    spec: Tensor,
    generator: torch.Generator | None = None,
    p: float = 0.5,
    area: tuple[float, float] = (0.02, 0.33),
    aspect: tuple[float, float] = (0.3, 3.3),
    value: float | str = 0.0,
) -> Tensor:
    """Random erasing (Zhong et al., 2017): with probability ``p`` per example, one rectangle of ``value``.

    The rectangle covers a fraction of the ``M x T`` plane drawn from ``area`` with a frames-to-bands
    aspect ratio drawn log-uniformly from ``aspect``; its sides are rounded and clipped to the
    spectrogram (instead of torchvision's redraws), its position uniform. ``spec``: ``(M, T)`` or
    ``(B, ..., M, T)``.
    """
    _check_tensor(spec, 2, "spec")
    _check_probability(p)
    area_low, area_high = _check_range("area", area, lowest=0.0)
    aspect_low, aspect_high = _check_range("aspect", aspect, lowest=1e-6)
    if area_high > 1.0:
        raise ParameterError(f"area fractions must be at most 1, got {area!r}")
    n = _num_examples(spec, 2)
    n_bands, n_frames = spec.shape[-2:]
    draws = _draw("rand", (5, n), generator, spec.device, torch.float64)
    fraction = area_low + (area_high - area_low) * draws[0]
    log_aspect = math.log(aspect_low) + (math.log(aspect_high) - math.log(aspect_low)) * draws[1]
    box_area = fraction * n_bands * n_frames
    width = torch.sqrt(box_area * torch.exp(log_aspect)).round().long().clamp(1, n_frames)
    height = torch.sqrt(box_area / torch.exp(log_aspect)).round().long().clamp(1, n_bands)
    top = (draws[2] * (n_bands - height + 1)).floor().long()
    left = (draws[3] * (n_frames - width + 1)).floor().long()
    height = torch.where(draws[4] < p, height, torch.zeros_like(height))  # not chosen: an empty box
    return erase_boxes(spec, top[:, None], height[:, None], left[:, None], width[:, None], value)


# -- image-style jitter on log-mel ------------------------------------------------------------------


def gaussian_blur(spec: Tensor, sigma: Param) -> Tensor:
    """Blur each example with a 2-D Gaussian of standard deviation ``sigma`` (bands and frames).

    ``spec``: ``(M, T)`` or ``(B, ..., M, T)``; ``sigma``: a number or ``(B,)``, in bins, ``>= 0`` (0
    leaves the example unchanged). The kernel spans ``±ceil(3 sigma)`` with the largest sigma and sums
    to one; edges are extended by replication, so a constant spectrogram stays constant.
    """
    _check_tensor(spec, 2, "spec")
    sigmas = _per_example(sigma, spec, 2, "sigma").reshape(-1)
    if not torch.isfinite(sigmas).all() or (sigmas < 0).any():
        raise ParameterError("sigma must be finite and >= 0")
    radius = math.ceil(3.0 * float(sigmas.max()))
    if radius == 0:
        return spec.clone()
    n_bands, n_frames = spec.shape[-2:]
    work = _work_dtype(spec)
    flat = spec.reshape(-1, n_bands, n_frames).to(work)
    per_image = flat.shape[0] // sigmas.numel()  # images per example (channels share the sigma)
    offsets = torch.arange(-radius, radius + 1, device=spec.device, dtype=work)
    s = sigmas.to(work).repeat_interleave(per_image)[:, None].clamp_min(1e-6)
    kernel = torch.exp(-0.5 * (offsets / s) ** 2)
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (images, 2r + 1)
    images = flat.shape[0]
    padded = nn.functional.pad(flat[None], (radius, radius, radius, radius), mode="replicate")
    out = nn.functional.conv2d(padded, kernel[:, None, :, None], groups=images)
    out = nn.functional.conv2d(out, kernel[:, None, None, :], groups=images)
    return out[0].reshape(spec.shape).to(spec.dtype)


def random_gaussian_blur(
    spec: Tensor,
    generator: torch.Generator | None = None,
    sigma_range: tuple[float, float] = (0.1, 2.0),
    p: float = 0.5,
) -> Tensor:
    """:func:`gaussian_blur` with probability ``p`` per example, sigma uniform in ``sigma_range``."""
    _check_tensor(spec, 2, "spec")
    _check_probability(p)
    low, high = _check_range("sigma_range", sigma_range, lowest=0.0)
    n = _num_examples(spec, 2)
    sigma = uniform(low, high, n, generator, spec.device)
    chosen = _draw("rand", (n,), generator, spec.device, torch.float32) < p
    return gaussian_blur(spec, torch.where(chosen, sigma, torch.zeros_like(sigma)))


def brightness_contrast(spec: Tensor, brightness: Param, contrast: Param) -> Tensor:
    """Image-style jitter for log-mel: ``(spec - mean) * contrast + mean + brightness`` per example.

    On a log (dB) scale an image's multiplicative brightness is an additive offset, so ``brightness``
    is in the spectrogram's units (dB for ``log="db"`` frames); ``contrast`` scales the deviation
    from each example's mean (1 leaves it). ``spec``: ``(M, T)`` or ``(B, ..., M, T)``; parameters: numbers
    or ``(B,)``.
    """
    _check_tensor(spec, 2, "spec")
    b = _per_example(brightness, spec, 2, "brightness")
    c = _per_example(contrast, spec, 2, "contrast")
    mean = spec.mean(dim=_example_dims(spec, 2), keepdim=True)
    return (spec - mean) * c + mean + b


def random_brightness_contrast(
    spec: Tensor,
    generator: torch.Generator | None = None,
    brightness_db: float = 6.0,
    contrast: float = 0.2,
) -> Tensor:
    """:func:`brightness_contrast` with brightness ``~ U(-brightness_db, brightness_db)`` and contrast
    ``~ U(1 - contrast, 1 + contrast)`` per example."""
    _check_tensor(spec, 2, "spec")
    if brightness_db < 0 or not 0 <= contrast < 1:
        raise ParameterError(
            f"need brightness_db >= 0 and 0 <= contrast < 1, got {brightness_db}, {contrast}"
        )
    n = _num_examples(spec, 2)
    b = uniform(-brightness_db, brightness_db, n, generator, spec.device, spec.dtype)
    c = uniform(1.0 - contrast, 1.0 + contrast, n, generator, spec.device, spec.dtype)
    return brightness_contrast(spec, b, c)


# -- reverberation ---------------------------------------------------------------------------------


def synthetic_rir(
    rt60: Param,
    sample_rate: int,
    generator: torch.Generator | None = None,
    drr_db: Param = 0.0,
    length: int | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """A simple room impulse response: a unit direct path and an exponentially decaying noise tail.

    ``h[0] = 1``; for ``n >= 1`` ``h[n] = a * g[n] * 10 ** (-3 n / (rt60 * sample_rate))`` with white
    Gaussian ``g``, so the tail's energy falls by 60 dB in ``rt60`` seconds; ``a`` makes the
    direct-to-reverberant energy ratio exactly ``drr_db``. ``length`` defaults to ``rt60`` seconds
    (of the largest ``rt60``) plus one sample.

    Returns:
        ``(L,)`` for a scalar ``rt60`` and ``drr_db``, else ``(B, L)`` with one response per value.
    """
    if sample_rate <= 0:
        raise ParameterError(f"sample_rate must be positive, got {sample_rate}")
    device = torch.device(device)
    rt = torch.as_tensor(rt60, dtype=torch.float64, device=device)
    drr = torch.as_tensor(drr_db, dtype=torch.float64, device=device)
    batched = rt.ndim > 0 or drr.ndim > 0
    try:
        rt, drr = torch.broadcast_tensors(rt.reshape(-1), drr.reshape(-1))
    except RuntimeError:
        raise ParameterError(
            f"rt60 and drr_db shapes differ: {tuple(rt.shape)} and {tuple(drr.shape)}"
        ) from None
    if not torch.isfinite(rt).all() or (rt <= 0).any() or not torch.isfinite(drr).all():
        raise ParameterError("rt60 must be positive and drr_db finite")
    if length is None:
        length = round(float(rt.max()) * sample_rate) + 1
    if length < 2:
        raise ParameterError(f"length must be at least 2 samples, got {length}")
    n = torch.arange(length, device=device, dtype=torch.float64)
    envelope = torch.pow(10.0, -3.0 * n / (rt[:, None] * sample_rate))
    tail = _draw("randn", (rt.numel(), length), generator, device, torch.float64) * envelope
    tail[:, 0] = 0.0
    tail = tail * torch.sqrt(torch.pow(10.0, -drr[:, None] / 10.0) / tail.square().sum(dim=1, keepdim=True))
    tail[:, 0] = 1.0
    return (tail if batched else tail[0]).to(dtype)


def apply_rir(wave: Tensor, rir: Tensor, normalize: bool = True) -> Tensor:
    """Convolve with an impulse response (FFT, linear), keeping the first ``N`` samples.

    ``wave``: ``(N,)`` or ``(B, ..., N)``; ``rir``: ``(L,)`` shared, or ``(B, L)`` one per example.
    The direct path at ``rir[0]`` keeps the signal aligned. With ``normalize`` each example's RMS is
    restored to the input's (reverb changes the colour, not the level).
    """
    _check_tensor(wave, 1, "wave")
    _check_tensor(rir, 1, "rir")
    n_examples, n_samples = _num_examples(wave, 1), wave.shape[-1]
    if rir.ndim == 2:
        if rir.shape[0] != n_examples or wave.ndim == 1:
            raise ParameterError(f"rir of shape {tuple(rir.shape)} needs wave with {rir.shape[0]} examples")
        rir = rir.reshape((n_examples,) + (1,) * (wave.ndim - 2) + rir.shape[-1:])
    elif rir.ndim != 1:
        raise ParameterError(f"rir must be (L,) or (B, L), got shape {tuple(rir.shape)}")
    work = _work_dtype(wave)
    n_fft = 1 << (n_samples + rir.shape[-1] - 2).bit_length()
    spectrum = torch.fft.rfft(wave.to(work), n=n_fft) * torch.fft.rfft(rir.to(wave.device, work), n=n_fft)
    out = torch.fft.irfft(spectrum, n=n_fft)[..., :n_samples]
    if normalize:
        dims = _example_dims(wave, 1)
        rms_in = wave.to(work).square().mean(dim=dims, keepdim=True).sqrt()
        rms_out = out.square().mean(dim=dims, keepdim=True).sqrt()
        out = out * torch.where(rms_out > 0, rms_in / rms_out.clamp_min(torch.finfo(work).tiny), 1.0)
    return out.to(wave.dtype)


def random_reverb(
    wave: Tensor,
    sample_rate: int,
    generator: torch.Generator | None = None,
    rt60_range: tuple[float, float] = (0.2, 1.0),
    drr_range_db: tuple[float, float] = (0.0, 10.0),
    p: float = 1.0,
) -> Tensor:
    """:func:`apply_rir` with a :func:`synthetic_rir` per example (RT60 and DRR uniform in their ranges),
    applied with probability ``p`` per example. ``wave``: ``(N,)`` or ``(B, ..., N)``."""
    _check_tensor(wave, 1, "wave")
    _check_probability(p)
    rt_low, rt_high = _check_range("rt60_range", rt60_range, lowest=1e-4)
    drr_low, drr_high = _check_range("drr_range_db", drr_range_db)
    n = _num_examples(wave, 1)
    rt60 = uniform(rt_low, rt_high, n, generator, wave.device, torch.float64)
    drr = uniform(drr_low, drr_high, n, generator, wave.device, torch.float64)
    rir = synthetic_rir(rt60, sample_rate, generator, drr_db=drr, device=wave.device)
    reverberant = apply_rir(wave, rir if wave.ndim > 1 else rir[0])
    return _apply_with_probability(wave, reverberant, p, generator, 1)


# -- filters: EQ and low-pass ----------------------------------------------------------------------

EQ_KINDS = ("peaking", "low_shelf", "high_shelf")


def eq_magnitude(
    freqs_hz: Tensor, sample_rate: int, kind: str, freq_hz: Tensor, gain_db: Tensor, q: Tensor
) -> Tensor:
    """Magnitude response of an RBJ Audio-EQ-Cookbook biquad at ``freqs_hz``.

    ``kind``: ``peaking`` (gain at ``freq_hz``, bandwidth from ``q``), ``low_shelf`` or ``high_shelf``
    (gain below / above ``freq_hz``, shelf slope S=1; ``q`` unused). Parameters broadcast against each
    other and against ``freqs_hz`` (e.g. ``(B, 1)`` against ``(F,)`` gives ``(B, F)``).
    """
    if kind not in EQ_KINDS:
        raise ParameterError(f"kind must be one of {', '.join(EQ_KINDS)}, got {kind!r}")
    a = torch.pow(10.0, gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cos_w0, sin_w0 = torch.cos(w0), torch.sin(w0)
    if kind == "peaking":
        alpha = sin_w0 / (2.0 * q)
        b = (1 + alpha * a, -2 * cos_w0, 1 - alpha * a)
        den = (1 + alpha / a, -2 * cos_w0, 1 - alpha / a)
    else:
        two_sqrt_a_alpha = 2.0 * torch.sqrt(a) * sin_w0 / 2.0 * math.sqrt(2.0)
        sign = 1.0 if kind == "low_shelf" else -1.0
        b = (
            a * ((a + 1) - sign * (a - 1) * cos_w0 + two_sqrt_a_alpha),
            sign * 2 * a * ((a - 1) - sign * (a + 1) * cos_w0),
            a * ((a + 1) - sign * (a - 1) * cos_w0 - two_sqrt_a_alpha),
        )
        den = (
            (a + 1) + sign * (a - 1) * cos_w0 + two_sqrt_a_alpha,
            -sign * 2 * ((a - 1) + sign * (a + 1) * cos_w0),
            (a + 1) + sign * (a - 1) * cos_w0 - two_sqrt_a_alpha,
        )
    w = 2.0 * math.pi * freqs_hz / sample_rate

    def response(c: tuple[Tensor, ...]) -> Tensor:
        real = c[0] + c[1] * torch.cos(w) + c[2] * torch.cos(2 * w)
        imag = -(c[1] * torch.sin(w) + c[2] * torch.sin(2 * w))
        return torch.sqrt(real.square() + imag.square())

    return response(b) / response(den)


def _zero_phase_filter(wave: Tensor, magnitude: Tensor, n_fft: int) -> Tensor:
    """Multiply the spectrum of ``wave`` (zero-padded to ``n_fft``) by ``magnitude`` ``(..., n_fft//2+1)``."""
    work = _work_dtype(wave)
    spectrum = torch.fft.rfft(wave.to(work), n=n_fft) * magnitude.to(work)
    return torch.fft.irfft(spectrum, n=n_fft)[..., : wave.shape[-1]].to(wave.dtype)


def _filter_grid(wave: Tensor, sample_rate: int) -> tuple[int, Tensor]:
    n_fft = 2 * wave.shape[-1]
    freqs = torch.fft.rfftfreq(n_fft, d=1.0 / sample_rate, dtype=torch.float64, device=wave.device)
    return n_fft, freqs


def _check_frequency(freq: Tensor, sample_rate: int, name: str) -> None:
    if not torch.isfinite(freq).all() or (freq <= 0).any() or (freq >= sample_rate / 2).any():
        raise ParameterError(
            f"{name} must lie strictly between 0 and the Nyquist frequency {sample_rate / 2} Hz"
        )


def equalize(
    wave: Tensor, sample_rate: int, kind: str, freq_hz: Param, gain_db: Param, q: Param = 0.7071
) -> Tensor:
    """One zero-phase EQ band (:func:`eq_magnitude`) per example. ``wave``: ``(N,)`` or ``(B, ..., N)``;
    parameters: numbers or ``(B,)``."""
    _check_tensor(wave, 1, "wave")
    n_fft, freqs = _filter_grid(wave, sample_rate)
    f0 = _per_example(freq_hz, wave, 1, "freq_hz", torch.float64)
    _check_frequency(f0, sample_rate, "freq_hz")
    gain = _per_example(gain_db, wave, 1, "gain_db", torch.float64)
    qs = _per_example(q, wave, 1, "q", torch.float64)
    if (qs <= 0).any():
        raise ParameterError("q must be positive")
    return _zero_phase_filter(wave, eq_magnitude(freqs, sample_rate, kind, f0, gain, qs), n_fft)


def random_eq(
    wave: Tensor,
    sample_rate: int,
    generator: torch.Generator | None = None,
    n_peaks: int = 2,
    gain_range_db: tuple[float, float] = (-12.0, 12.0),
    q_range: tuple[float, float] = (0.5, 2.0),
    freq_range_hz: tuple[float, float] = (60.0, 8000.0),
) -> Tensor:
    """A random EQ per example: a low shelf, ``n_peaks`` peaking bands and a high shelf, in one pass.

    Gains are uniform in ``gain_range_db``; peak centres and shelf corners log-uniform in
    ``freq_range_hz`` (clipped below Nyquist); peak Q uniform in ``q_range``. ``wave``: ``(N,)`` or
    ``(B, ..., N)``.
    """
    _check_tensor(wave, 1, "wave")
    if n_peaks < 0:
        raise ParameterError(f"n_peaks must be >= 0, got {n_peaks}")
    g_low, g_high = _check_range("gain_range_db", gain_range_db)
    q_low, q_high = _check_range("q_range", q_range, lowest=1e-3)
    f_low, f_high = _check_range("freq_range_hz", freq_range_hz, lowest=1e-3)
    f_high = min(f_high, 0.45 * sample_rate)
    if f_low > f_high:
        raise ParameterError(f"freq_range_hz {freq_range_hz} lies above 0.45 * sample_rate")
    n_fft, freqs = _filter_grid(wave, sample_rate)
    n = _num_examples(wave, 1)
    bands = ["low_shelf", "high_shelf"] + ["peaking"] * n_peaks
    draws = _draw("rand", (3, len(bands), n), generator, wave.device, torch.float64)
    magnitude = torch.ones((), dtype=torch.float64, device=wave.device)
    for i, kind in enumerate(bands):
        f0 = f_low * (f_high / f_low) ** draws[0, i]
        gain = g_low + (g_high - g_low) * draws[1, i]
        q = q_low + (q_high - q_low) * draws[2, i]
        f0, gain, q = (_broadcastable(t, wave, 1) for t in (f0, gain, q))
        magnitude = magnitude * eq_magnitude(freqs, sample_rate, kind, f0, gain, q)
    return _zero_phase_filter(wave, magnitude, n_fft)


def lowpass(wave: Tensor, sample_rate: int, cutoff_hz: Param, order: int = 8) -> Tensor:
    """Zero-phase low-pass with a Butterworth magnitude ``1 / sqrt(1 + (f / cutoff) ** (2 order))``.

    -3 dB at ``cutoff_hz``, falling ``6 * order`` dB per octave above. ``wave``: ``(N,)`` or
    ``(B, ..., N)``; ``cutoff_hz``: a number or ``(B,)``.
    """
    _check_tensor(wave, 1, "wave")
    if not isinstance(order, int) or order < 1:
        raise ParameterError(f"order must be a positive integer, got {order!r}")
    n_fft, freqs = _filter_grid(wave, sample_rate)
    cutoff = _per_example(cutoff_hz, wave, 1, "cutoff_hz", torch.float64)
    _check_frequency(cutoff, sample_rate, "cutoff_hz")
    magnitude = torch.rsqrt(1.0 + (freqs / cutoff) ** (2 * order))
    return _zero_phase_filter(wave, magnitude, n_fft)


def random_lowpass(
    wave: Tensor,
    sample_rate: int,
    generator: torch.Generator | None = None,
    cutoff_range_hz: tuple[float, float] = (2000.0, 8000.0),
    order: int = 8,
) -> Tensor:
    """:func:`lowpass` with a cutoff drawn log-uniformly from ``cutoff_range_hz`` per example."""
    _check_tensor(wave, 1, "wave")
    low, high = _check_range("cutoff_range_hz", cutoff_range_hz, lowest=1e-3)
    u = uniform(0.0, 1.0, _num_examples(wave, 1), generator, wave.device, torch.float64)
    return lowpass(wave, sample_rate, low * (high / low) ** u, order=order)
