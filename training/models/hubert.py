"""A small raw-waveform classifier in the manner of HuBERT / wav2vec 2.0, trained from scratch.

The waveform is normalised per example (zero mean, unit variance, as wav2vec 2.0's feature extractor
does), a stack of strided 1-D convolutions (the "feature encoder"; GroupNorm after the first, GELU
after each) turns it into frames, a linear projection maps them to the transformer width, a grouped
convolution adds relative positional information (wav2vec 2.0's ``pos_conv``), a pre-norm transformer
encoder mixes the frames, and the mean over frames goes through a LayerNorm and a linear head.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from musicedge.errors import ParameterError

from .common import ProtocolModel, TransformerBlock, check_fraction, check_int_list, check_positive_int

__all__ = ["HuBERT"]


class HuBERT(ProtocolModel):
    """Waveform transformer: ``wave`` ``(B, 1, N)`` -> ``logits`` ``(B, n_classes)``.

    Args:
        n_classes: outputs.
        window_samples: samples per training window (``window_frames * hop_length`` of the frontend);
            sets ``example_inputs``. Any ``N`` of at least :attr:`min_samples` is accepted.
        conv_channels, conv_kernels, conv_strides: the feature encoder's layers (equal lengths). The
            default strides give one frame per 640 samples (29 ms at 22 050 Hz).
        dim: transformer width; ``heads`` must divide it.
        depth: transformer layers.
        heads: attention heads.
        mlp_ratio: MLP hidden size relative to ``dim``.
        pos_kernel, pos_groups: the positional convolution (odd kernel; ``pos_groups`` divides ``dim``).
        dropout: in the transformer and before the head.
    """

    input_names = ("wave",)
    input_kind = "wave"

    def __init__(
        self,
        n_classes: int,
        window_samples: int = 65536,
        conv_channels: tuple[int, ...] | list[int] = (32, 32, 64, 64, 64, 64, 64),
        conv_kernels: tuple[int, ...] | list[int] = (10, 3, 3, 3, 3, 2, 2),
        conv_strides: tuple[int, ...] | list[int] = (5, 2, 2, 2, 2, 2, 4),
        dim: int = 96,
        depth: int = 3,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        pos_kernel: int = 31,
        pos_groups: int = 8,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.n_classes = check_positive_int("n_classes", n_classes)
        self.window_samples = check_positive_int("window_samples", window_samples)
        channels = check_int_list("conv_channels", conv_channels)
        kernels = check_int_list("conv_kernels", conv_kernels, length=len(channels))
        strides = check_int_list("conv_strides", conv_strides, length=len(channels))
        for name, value in (("dim", dim), ("depth", depth), ("heads", heads), ("pos_kernel", pos_kernel)):
            check_positive_int(name, value)
        check_positive_int("pos_groups", pos_groups)
        dropout = check_fraction("dropout", dropout)
        if pos_kernel % 2 == 0:
            raise ParameterError(f"pos_kernel must be odd, got {pos_kernel}")
        if dim % pos_groups:
            raise ParameterError(f"pos_groups {pos_groups} must divide dim {dim}")
        if not (isinstance(mlp_ratio, (int, float)) and mlp_ratio > 0):
            raise ParameterError(f"mlp_ratio must be a positive number, got {mlp_ratio!r}")
        self.model_kwargs = {
            "n_classes": n_classes,
            "window_samples": window_samples,
            "conv_channels": channels,
            "conv_kernels": kernels,
            "conv_strides": strides,
            "dim": dim,
            "depth": depth,
            "heads": heads,
            "mlp_ratio": float(mlp_ratio),
            "pos_kernel": pos_kernel,
            "pos_groups": pos_groups,
            "dropout": dropout,
        }
        # The shortest input that leaves one frame: invert out = (in - k) // s + 1 from the last layer.
        need = 1
        for k, s in zip(reversed(kernels), reversed(strides), strict=True):
            need = (need - 1) * s + k
        self.min_samples = need
        if window_samples < need:
            raise ParameterError(
                f"window_samples must be at least {need} for this encoder, got {window_samples}"
            )
        self.dynamic_axes = {"wave": {0: "batch", 2: "samples"}, "logits": {0: "batch"}}
        self.hop_samples = math.prod(strides)

        layers: list[nn.Module] = []
        c_in = 1
        for i, (c, k, s) in enumerate(zip(channels, kernels, strides, strict=True)):
            layers.append(nn.Conv1d(c_in, c, k, stride=s, bias=False))
            if i == 0:
                layers.append(nn.GroupNorm(c, c))
            layers.append(nn.GELU())
            c_in = c
        self.encoder = nn.Sequential(*layers)
        self.feature_norm = nn.LayerNorm(c_in)
        self.projection = nn.Linear(c_in, dim)
        self.pos_conv = nn.Conv1d(dim, dim, pos_kernel, padding=pos_kernel // 2, groups=pos_groups)
        self.pos_norm = nn.LayerNorm(dim)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads, mlp_ratio, dropout) for _ in range(depth)))
        self.out_norm = nn.LayerNorm(dim)
        self.embedding_dim = dim
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, n_classes))

    def embed(self, wave: Tensor) -> Tensor:
        """``(B, 1, N)`` -> pooled features ``(B, dim)``."""
        if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()):
            if wave.ndim != 3 or wave.shape[1] != 1:
                raise ParameterError(f"wave must be (batch, 1, samples), got {tuple(wave.shape)}")
            if wave.shape[2] < self.min_samples:
                raise ParameterError(f"wave needs at least {self.min_samples} samples, got {wave.shape[2]}")
        mean = wave.mean(dim=-1, keepdim=True)
        var = (wave - mean).pow(2).mean(dim=-1, keepdim=True)
        x = (wave - mean) / torch.sqrt(var + 1e-5)
        x = self.encoder(x).transpose(1, 2)  # (B, frames, C)
        x = self.projection(self.feature_norm(x))  # (B, frames, D)
        x = x + nn.functional.gelu(self.pos_conv(x.transpose(1, 2))).transpose(1, 2)
        x = self.drop(self.pos_norm(x))
        x = self.blocks(x)
        return self.out_norm(x.mean(dim=1))

    def forward(self, wave: Tensor) -> Tensor:
        return self.head(self.embed(wave))

    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        return (0.1 * torch.randn(batch, 1, self.window_samples),)
