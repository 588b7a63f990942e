"""A variational autoencoder over fixed-length log-mel excerpts (seed 002's plan).

Shapes (``C`` input channels, ``M`` mel bands, ``T`` frames, ``D`` latent dimensions):

* :class:`VaeEncoder`: ``mel`` float32 ``(B, C, M, T)`` raw frontend dB -> ``mu`` and ``logvar``
  ``(B, D)``. A ResNet-style CNN (a strided 3x3 stem, then one strided basic residual block per further
  width) halves both axes at each of its ``len(widths)`` stages; the remaining ``T / 2**stages`` time
  steps, each a vector of every channel and band, run through a bidirectional GRU whose outputs are
  averaged over time and mapped to ``mu`` and ``log sigma^2``.
* :class:`VaeDecoder`: ``z`` ``(B, D)`` -> ``mel`` ``(B, 1, M, T)`` dB: the inverse path (a linear map to
  the time steps, a bidirectional GRU, a linear map to the CNN's last feature map, then one x2 nearest
  upsampling and residual block per stage but the last, whose x2 is a transposed convolution to one
  channel).

Both halves also have a linear path (encoder: the standardised first channel, flattened, to ``mu``;
decoder: ``z`` to the standardised output), added to the deep one: with it the model holds
probabilistic PCA as a special case, and the CNN and GRU learn what a linear map cannot.

With ``level="linear"`` the decoder's output is shifted, as a whole, so that its loudness (the
descriptor ``loudness_db``: the mean over frames of the bands' summed power, in dB) is a linear function
of ``z`` (``gain``): along a straight line in the latent space the decoded loudness then moves
linearly, so monotonically, from one end to the other. Without it a decoder close to linear in dB
gives half way the geometric mean of the two ends' power in every bin, whose loudness dips below both
ends where they differ more in spectral shape than in level. Any output is its own shape re-levelled,
but the level that fits an excerpt best is not linear in a free model's ``z`` (3.1 dB residual for the
bundled one), so the latent has to be laid out for it (docs/latent.md has the measured runs).

Channel 0 of the input is the frontend's own log-mel (the one the decoder reconstructs); with
``channels=3`` channels 1 and 2 are the same mel bands computed with shorter analysis windows (seed
002's three stacked spectrograms). Both halves hold the per-band mean and standard deviation of the
training excerpts (dB) as buffers: the encoder standardises with them, the decoder's output is
``mean + std * net(z)``, so the networks work in standard units and the files take and give dB.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from musicedge.errors import ParameterError

from .cnn import BasicBlock
from .common import DB_FLOOR, check_positive_int

__all__ = ["LEVELS", "LatentVAE", "VaeDecoder", "VaeEncoder", "kl_per_dim", "loudness_db"]

LEVELS = ("free", "linear")
"""The decoder's loudness: whatever the network gives (``free``) or a linear function of ``z``."""


def _check_geometry(n_mels: int, frames: int, widths: list[int]) -> None:
    factor = 2 ** len(widths)
    if n_mels % factor or frames % factor:
        raise ParameterError(
            f"n_mels ({n_mels}) and frames ({frames}) must be multiples of 2**stages = {factor}"
        )


def loudness_db(mel: Tensor) -> Tensor:
    """``(B, C, M, T)`` dB -> ``(B,)``: the mean over frames of the summed power of the bands, in dB
    (channel 0), as :mod:`musicedge.descriptors` measures ``loudness_db``."""
    k = math.log(10.0) / 10.0
    return (torch.logsumexp(mel[:, 0].flatten(1) * k, dim=1) - math.log(mel.shape[-1])) / k


class _Half(nn.Module):
    """What both halves share: the geometry, the band statistics and the export protocol bits."""

    def __init__(
        self,
        n_mels: int,
        frames: int,
        latent_dim: int,
        widths: list[int] | tuple[int, ...],
        rnn: int,
        channels: int,
        level: str,
    ) -> None:
        super().__init__()
        if level not in LEVELS:
            raise ParameterError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
        self.level = level
        self.n_mels = check_positive_int("n_mels", n_mels)
        self.frames = check_positive_int("frames", frames)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.widths = [check_positive_int("widths[i]", w) for w in widths]
        self.rnn = check_positive_int("rnn", rnn)
        self.channels = check_positive_int("channels", channels)
        _check_geometry(n_mels, frames, self.widths)
        self.steps = frames // 2 ** len(self.widths)
        self.bands = n_mels // 2 ** len(self.widths)
        self.register_buffer("band_mean", torch.full((channels, n_mels, 1), -50.0))
        self.register_buffer("band_std", torch.full((channels, n_mels, 1), 20.0))
        self.model_kwargs: dict[str, Any] = {
            "n_mels": n_mels,
            "frames": frames,
            "latent_dim": latent_dim,
            "widths": list(self.widths),
            "rnn": rnn,
            "channels": channels,
            "level": level,
        }

    def set_band_stats(self, mean: Tensor, std: Tensor) -> None:
        """Per-band statistics of the training excerpts, ``(C, M)`` each (dB)."""
        self.band_mean.copy_(mean.reshape(self.band_mean.shape))
        self.band_std.copy_(std.clamp_min(1.0).reshape(self.band_std.shape))

    def num_parameters(self) -> int:
        """Every weight (frozen ones included: ``--pca-init`` fixes the linear paths)."""
        return sum(p.numel() for p in self.parameters())


class VaeEncoder(_Half):
    """``mel`` ``(B, C, M, T)`` dB -> ``(mu, logvar)``, each ``(B, D)`` (see the module doc).

    The ONNX input is ``mel`` for one channel (the exporter then checks it on real windows) and
    ``mels`` for three."""

    output_names = ("mu", "logvar")

    def __init__(
        self, n_mels=64, frames=128, latent_dim=16, widths=(16, 32, 48, 64), rnn=64, channels=1, level="free"
    ):
        super().__init__(n_mels, frames, latent_dim, widths, rnn, channels, level)
        name = "mel" if channels == 1 else "mels"
        self.input_names = (name,)
        self.dynamic_axes = {name: {0: "batch"}, "mu": {0: "batch"}, "logvar": {0: "batch"}}
        w = self.widths
        self.stem = nn.Sequential(
            nn.Conv2d(channels, w[0], 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(w[0]), nn.ReLU()
        )
        self.stages = nn.Sequential(
            *[BasicBlock(c_in, c_out, 2) for c_in, c_out in zip(w[:-1], w[1:], strict=True)]
        )
        self.proj = nn.Linear(w[-1] * self.bands, 2 * rnn)
        self.gru = nn.GRU(2 * rnn, rnn, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * rnn, 2 * latent_dim)
        self.linear = nn.Linear(n_mels * frames, latent_dim, bias=False)  # the linear path to mu
        nn.init.normal_(self.linear.weight, std=0.1 / (n_mels * frames) ** 0.5)

    def example_inputs(self, batch: int = 2) -> tuple[Tensor]:
        return (DB_FLOOR / 2 + 20.0 * torch.randn(batch, self.channels, self.n_mels, self.frames),)

    def forward(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            want = (self.channels, self.n_mels, self.frames)
            if mel.ndim != 4 or tuple(mel.shape[1:]) != want:
                raise ParameterError(
                    f"mel must be (batch, {', '.join(map(str, want))}), got {tuple(mel.shape)}"
                )
        x = (torch.clamp(mel, min=DB_FLOOR) - self.band_mean) / self.band_std
        linear = self.linear(x[:, 0].flatten(1))
        x = self.stages(self.stem(x))  # (B, W, bands, steps)
        x = x.permute(0, 3, 1, 2).flatten(2)  # (B, steps, W * bands)
        x, _ = self.gru(torch.relu(self.proj(x)))
        mu, logvar = self.head(x.mean(dim=1)).chunk(2, dim=1)
        return mu + linear, logvar.clamp(-12.0, 6.0)


class VaeDecoder(_Half):
    """``z`` ``(B, D)`` -> ``mel`` ``(B, 1, M, T)`` dB (see the module doc)."""

    input_names = ("z",)
    output_names = ("mel",)
    dynamic_axes = {"z": {0: "batch"}, "mel": {0: "batch"}}

    def __init__(
        self, n_mels=64, frames=128, latent_dim=16, widths=(16, 32, 48, 64), rnn=64, channels=1, level="free"
    ):
        super().__init__(n_mels, frames, latent_dim, widths, rnn, channels, level)
        w = self.widths
        # level="linear": the output's loudness, dB (set from PCA by --pca-init)
        self.gain = nn.Linear(latent_dim, 1) if level == "linear" else None
        self.expand = nn.Linear(latent_dim, self.steps * 2 * rnn)
        self.gru = nn.GRU(2 * rnn, rnn, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * rnn, w[-1] * self.bands)
        ups = []
        for c_in, c_out in zip(w[::-1], w[::-1][1:], strict=False):
            ups += [nn.Upsample(scale_factor=2, mode="nearest"), BasicBlock(c_in, c_out)]
        self.ups = nn.Sequential(*ups)
        self.out = nn.ConvTranspose2d(w[0], 1, 4, stride=2, padding=1)  # the last x2, to one channel
        self.linear = nn.Linear(latent_dim, n_mels * frames, bias=False)  # the linear path from z
        nn.init.normal_(self.linear.weight, std=0.1 / latent_dim**0.5)

    def example_inputs(self, batch: int = 2) -> tuple[Tensor]:
        return (torch.randn(batch, self.latent_dim),)

    def forward(self, z: Tensor) -> Tensor:
        if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            if z.ndim != 2 or z.shape[1] != self.latent_dim:
                raise ParameterError(f"z must be (batch, {self.latent_dim}), got {tuple(z.shape)}")
        mel = self.unlevelled(z)
        if self.gain is None:
            return mel
        return mel + (self.gain(z)[:, 0] - loudness_db(mel))[:, None, None, None]

    def unlevelled(self, z: Tensor) -> Tensor:
        """The network's own output ``(B, 1, M, T)`` dB, before ``level="linear"`` re-levels it."""
        x = torch.relu(self.expand(z)).reshape(z.shape[0], self.steps, 2 * self.rnn)
        x, _ = self.gru(x)
        x = torch.relu(self.proj(x))  # (B, steps, W * bands)
        x = x.reshape(z.shape[0], self.steps, self.widths[-1], self.bands).permute(0, 2, 3, 1)
        x = self.out(self.ups(x)) + self.linear(z).reshape(z.shape[0], 1, self.n_mels, self.frames)
        return x * self.band_std[:1] + self.band_mean[:1]  # (B, 1, M, T) dB


def kl_per_dim(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(q(z|x) || N(0, I)) per latent dimension, averaged over the batch: ``(D,)`` nats."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).mean(dim=0)


class LatentVAE(nn.Module):
    """Encoder and decoder together, for training: ``forward(mel)`` -> ``(recon, mu, logvar)``; the
    reparameterised sample is decoded in training mode, ``mu`` in eval mode."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self.encoder = VaeEncoder(**kwargs)
        self.decoder = VaeDecoder(**kwargs)
        self.model_kwargs = dict(self.encoder.model_kwargs)

    def forward(self, mel: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.encoder(mel)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        return self.decoder(z), mu, logvar

    def set_band_stats(self, mean: Tensor, std: Tensor) -> None:
        self.encoder.set_band_stats(mean, std)
        self.decoder.set_band_stats(mean, std)
