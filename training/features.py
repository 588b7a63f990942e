"""The torch twin of the C++ mel frontend: the same frames, batched, on any device.

:class:`TorchMelFrontend` computes what ``musicedge.frontend.MelFrontend(config).compute(y)`` and
``librosa.feature.melspectrogram`` (followed by ``librosa.power_to_db(S, ref=1.0, amin=amin,
top_db=None)`` when ``config.log == "db"``) compute with the same settings. The window and the mel
filter bank are the C++ frontend's own tables (``FrontendConfig.analysis_window`` and
``mel_filterbank``), and the STFT is ``torch.stft``, so training can compute features on the GPU.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from musicedge.config import FrontendConfig
from musicedge.errors import ParameterError

__all__ = ["TorchMelFrontend"]


def _reflect_indices(n_samples: int, pad: int, device: torch.device) -> Tensor:
    """Indices that pad ``[0, n_samples)`` by ``pad`` on both sides as ``numpy.pad(mode="reflect")``.

    Unlike ``torch.nn.functional.pad(mode="reflect")`` this works for any ``pad``, also one longer
    than the signal (numpy reflects again and again, period ``2 * (n - 1)``).
    """
    idx = torch.arange(-pad, n_samples + pad, device=device)
    if n_samples == 1:
        return torch.zeros_like(idx)
    period = 2 * (n_samples - 1)
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n_samples, period - idx, idx)


class TorchMelFrontend(nn.Module):
    """Mel spectrogram frames equal to the C++ ``MelFrontend`` and to librosa for the same config.

    The window and the mel bank are buffers, so ``.to(device)`` moves them and ``.to(dtype)`` sets the
    precision (float32 by default; pass ``dtype=torch.float64`` for a reference-grade twin).

    ``forward(wave)``:
        wave: ``(..., N)`` float tensor of samples at ``config.sample_rate``, typically ``(N,)`` or
            ``(B, N)``; converted to the module's dtype.

        Returns ``(..., n_mels, n_frames)`` with the leading dimensions kept (``(N,)`` gives
        ``(n_mels, n_frames)``, ``(B, N)`` gives ``(B, n_mels, n_frames)``), where ``n_frames`` is
        ``config.num_frames(N)``: ``1 + N // hop_length`` with ``center=True``, else
        ``1 + (N - n_fft) // hop_length`` (a signal shorter than ``n_fft`` is then refused).
        Values are mel power (``|STFT| ** power`` through the mel bank), or ``10 * log10(max(S, amin))``
        when ``config.log == "db"``.
    """

    window: Tensor
    mel_basis: Tensor

    def __init__(self, config: FrontendConfig, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        if not isinstance(config, FrontendConfig):
            raise ParameterError(f"config must be a FrontendConfig, got {type(config).__name__}")
        if not dtype.is_floating_point:
            raise ParameterError(f"dtype must be a floating-point dtype, got {dtype}")
        self.config = config
        self.register_buffer("window", torch.from_numpy(config.analysis_window()).to(dtype), persistent=False)
        self.register_buffer(
            "mel_basis", torch.from_numpy(config.mel_filterbank()).to(dtype), persistent=False
        )

    def _pad(self, wave: Tensor) -> Tensor:
        """Centre padding by ``n_fft // 2`` on both sides (``numpy.pad`` constant or reflect)."""
        pad = self.config.n_fft // 2
        if self.config.pad_mode == "reflect":
            return wave[:, _reflect_indices(wave.shape[-1], pad, wave.device)]
        return nn.functional.pad(wave, (pad, pad))  # "constant", zeros

    def power_spectrogram(self, wave: Tensor) -> Tensor:
        """``|STFT(wave)| ** power``: ``(..., N)`` to ``(..., 1 + n_fft // 2, n_frames)``."""
        cfg = self.config
        if not torch.is_tensor(wave):
            raise ParameterError(f"wave must be a torch.Tensor, got {type(wave).__name__}")
        if wave.ndim == 0:
            raise ParameterError("wave must have a time axis, got a scalar")
        if wave.is_complex():
            raise ParameterError("wave must be real, got a complex tensor")
        n_samples = wave.shape[-1]
        if n_samples == 0:
            raise ParameterError("wave is empty (0 samples)")
        if not cfg.center and n_samples < cfg.n_fft:
            raise ParameterError(
                f"with center=False a signal needs at least n_fft={cfg.n_fft} samples, got {n_samples}"
            )
        lead = wave.shape[:-1]
        flat = wave.reshape(-1, n_samples).to(self.window.dtype)
        if cfg.center:
            flat = self._pad(flat)
        spec = torch.stft(
            flat,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            window=self.window,
            center=False,
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()
        if cfg.power != 2.0:
            power = power.pow(cfg.power / 2.0)
        return power.reshape(*lead, *power.shape[-2:])

    def forward(self, wave: Tensor) -> Tensor:
        mel = torch.matmul(self.mel_basis, self.power_spectrogram(wave))
        if self.config.log == "db":
            mel = 10.0 * torch.log10(torch.clamp(mel, min=self.config.amin))
        return mel

    def extra_repr(self) -> str:
        cfg = self.config
        return (
            f"sample_rate={cfg.sample_rate}, n_fft={cfg.n_fft}, hop_length={cfg.hop_length}, "
            f"n_mels={cfg.n_mels}, log={cfg.log!r}, dtype={self.window.dtype}"
        )
