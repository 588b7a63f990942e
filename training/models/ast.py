"""A small Audio Spectrogram Transformer (AST, Gong et al. 2021) trained from scratch.

The mel image is cut into patches by a strided convolution (the patch embedding), a learned 2-D
positional embedding sized for the training window is added (bilinearly resized in the graph when the
input is longer or shorter), a pre-norm transformer encoder mixes the patches, and the mean over the
patches goes through a LayerNorm and a linear head.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from musicedge.errors import ParameterError

from .common import (
    MelNorm,
    ProtocolModel,
    TransformerBlock,
    check_fraction,
    check_mel,
    check_positive_int,
)

__all__ = ["AST"]


class AST(ProtocolModel):
    """Spectrogram transformer: ``mel`` ``(B, 1, n_mels, T)`` -> ``logits`` ``(B, n_classes)``.

    Args:
        n_classes: outputs.
        n_mels: mel bands (a multiple of ``patch_freq`` is best; the rest is dropped by the patch conv).
        window_frames: the training window; the positional embedding is sized for it. Other lengths
            (at least ``patch_time`` frames) get the embedding resized along time.
        patch_freq, patch_time: patch size in bands and frames (non-overlapping patches).
        dim: embedding size; ``heads`` must divide it.
        depth: transformer layers.
        heads: attention heads.
        mlp_ratio: hidden size of each layer's MLP, relative to ``dim``.
        dropout: in the transformer and before the head.

    The number of patches is ``(n_mels // patch_freq) * (T // patch_time)``.
    """

    input_names = ("mel",)

    def __init__(
        self,
        n_classes: int,
        n_mels: int = 128,
        window_frames: int = 128,
        patch_freq: int = 16,
        patch_time: int = 8,
        dim: int = 96,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.n_classes = check_positive_int("n_classes", n_classes)
        self.n_mels = check_positive_int("n_mels", n_mels)
        self.window_frames = check_positive_int("window_frames", window_frames)
        self.patch_freq = check_positive_int("patch_freq", patch_freq)
        self.patch_time = check_positive_int("patch_time", patch_time)
        check_positive_int("dim", dim)
        check_positive_int("depth", depth)
        check_positive_int("heads", heads)
        dropout = check_fraction("dropout", dropout)
        if not (isinstance(mlp_ratio, (int, float)) and mlp_ratio > 0):
            raise ParameterError(f"mlp_ratio must be a positive number, got {mlp_ratio!r}")
        if n_mels < patch_freq or window_frames < patch_time:
            raise ParameterError(
                f"patches of {patch_freq}x{patch_time} do not fit a {n_mels}x{window_frames} window"
            )
        self.model_kwargs = {
            "n_classes": n_classes,
            "n_mels": n_mels,
            "window_frames": window_frames,
            "patch_freq": patch_freq,
            "patch_time": patch_time,
            "dim": dim,
            "depth": depth,
            "heads": heads,
            "mlp_ratio": float(mlp_ratio),
            "dropout": dropout,
        }
        self.min_frames = patch_time
        self.dynamic_axes = {"mel": {0: "batch", 3: "time"}, "logits": {0: "batch"}}
        self.grid = (n_mels // patch_freq, window_frames // patch_time)
        self.norm = MelNorm(n_mels)
        self.patch = nn.Conv2d(1, dim, kernel_size=(patch_freq, patch_time), stride=(patch_freq, patch_time))
        self.pos = nn.Parameter(torch.zeros(1, dim, *self.grid))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(TransformerBlock(dim, heads, mlp_ratio, dropout) for _ in range(depth)))
        self.out_norm = nn.LayerNorm(dim)
        self.embedding_dim = dim
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(dim, n_classes))

    def positional(self, n_freq: int, n_time: int) -> Tensor:
        """The positional embedding ``(1, dim, n_freq, n_time)``, resized from the window's grid.

        Resizing to the same grid is the identity (half-pixel bilinear sampling at scale 1), so the
        graph always resizes: one path for every input length.
        """
        return nn.functional.interpolate(
            self.pos, size=(n_freq, n_time), mode="bilinear", align_corners=False
        )

    def embed(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, T)`` -> pooled features ``(B, dim)``."""
        check_mel(mel, self.n_mels, self.min_frames)
        x = self.patch(self.norm(mel))  # (B, D, F', T')
        x = x + self.positional(x.shape[2], x.shape[3])
        x = self.drop(x.flatten(2).transpose(1, 2))  # (B, N, D)
        x = self.blocks(x)
        return self.out_norm(x.mean(dim=1))

    def forward(self, mel: Tensor) -> Tensor:
        return self.head(self.embed(mel))

    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        return (torch.randn(batch, 1, self.n_mels, self.window_frames) * 20.0 - 20.0,)
