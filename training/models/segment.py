"""``StructureNet``: the structure model (boundary activation and section-function logits in one graph).

One network, one ONNX file with two outputs, so ``Segmenter.load("structure")`` loads a single file:

* ``boundary``: float32 ``(B, T')`` logits, one per output frame: is a section boundary here? (the
  sigmoid is the boundary activation the runtime peak-picks);
* ``labels``: float32 ``(B, T', C)`` logits over the section taxonomy at every output frame; the runtime
  averages their log-softmax over each predicted section (the section labeller).

``T' = T // pool``: the raw log-mel frames (gtzan22k, about 43 per second) are pooled ``pool`` at a
time (8: about 5.4 output frames per second, 0.19 s each). The layers:

1. fixed pooling of the raw dB frames (clamped at the floor): the mean over ``pool`` frames and 2 mel
   bands (64 timbre features) and the mean positive frame-to-frame rise over ``pool`` frames and 8 bands
   (16 onset features: drum fills, crashes, density), then a BatchNorm per feature;
2. a 1-D convolution to ``dim`` features and residual dilated temporal convolutions (kernel 5,
   dilations 1, 2, 4, 8: a receptive field of about +-5.6 s), the local context that finds boundaries;
3. the song's time axis: the relative position ``(t + 0.5) / T'`` of each frame through a small MLP
   (an intro sits at the start, an outro at the end), added to the frame features;
4. global context: ``layers`` pre-norm transformer blocks with self-attention over the whole song, so a
   frame sees every other frame (a chorus that returns looks like the other choruses);
5. two linear heads.

The time axis is dynamic in ONNX (any song length; at least ``pool`` frames). Repetition enters
through attention: the attention weights of a frame are its row of a learnt self-similarity matrix.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from musicedge.errors import ParameterError

from .common import DB_FLOOR, ProtocolModel, TransformerBlock, check_mel, check_positive_int

__all__ = ["StructureNet"]


class _TemporalBlock(nn.Module):
    """Residual dilated 1-D convolution over time: ``(B, D, T) -> (B, D, T)``."""

    def __init__(self, dim: int, dilation: int, kernel: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=dilation * (kernel // 2), dilation=dilation)
        self.norm = nn.BatchNorm1d(dim)

    def forward(self, x: Tensor) -> Tensor:
        return x + F.gelu(self.norm(self.conv(x)))


class StructureNet(ProtocolModel):
    """Boundary activation and section-label logits for a whole song (see the module docstring).

    Args:
        n_labels: number of section labels (the taxonomy).
        n_mels: mel bands of the input (a multiple of 8).
        pool: raw frames per output frame.
        dim: width of the per-frame features.
        layers: transformer blocks.
        heads: attention heads.
        dilations: the temporal convolutions' dilations.
        dropout: dropout in the transformer blocks.
    """

    input_names = ("mel",)
    output_names = ("boundary", "labels")
    dynamic_axes = {
        "mel": {0: "batch", 3: "time"},
        "boundary": {0: "batch", 1: "frames"},
        "labels": {0: "batch", 1: "frames"},
    }

    def __init__(
        self,
        n_labels: int = 7,
        n_mels: int = 128,
        pool: int = 8,
        dim: int = 64,
        layers: int = 2,
        heads: int = 4,
        dilations: tuple[int, ...] | list[int] = (1, 2, 4, 8),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        check_positive_int("n_labels", n_labels)
        check_positive_int("n_mels", n_mels)
        check_positive_int("pool", pool)
        check_positive_int("dim", dim)
        check_positive_int("layers", layers)
        check_positive_int("heads", heads)
        if n_mels % 8:
            raise ParameterError(f"n_mels must be a multiple of 8, got {n_mels}")
        dilations = [check_positive_int(f"dilations[{i}]", d) for i, d in enumerate(dilations)]
        self.model_kwargs: dict[str, Any] = {
            "n_labels": n_labels,
            "n_mels": n_mels,
            "pool": pool,
            "dim": dim,
            "layers": layers,
            "heads": heads,
            "dilations": dilations,
            "dropout": dropout,
        }
        self.n_classes = n_labels
        self.n_mels = n_mels
        self.pool = pool
        n_in = n_mels // 2 + n_mels // 8
        self.in_norm = nn.BatchNorm1d(n_in)
        self.embed = nn.Conv1d(n_in, dim, 3, padding=1)
        self.temporal = nn.Sequential(*(_TemporalBlock(dim, d) for d in dilations))
        self.position = nn.Sequential(nn.Linear(1, 16), nn.GELU(), nn.Linear(16, dim))
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, 2.0, dropout) for _ in range(layers))
        self.out_norm = nn.LayerNorm(dim)
        self.boundary_head = nn.Linear(dim, 1)
        self.label_head = nn.Linear(dim, n_labels)

    def example_inputs(self, batch: int = 2) -> tuple[Tensor]:
        frames = self.pool * 48
        return (torch.randn(batch, 1, self.n_mels, frames) * 15.0 - 45.0,)

    def pooled(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, T)`` raw dB -> ``(B, n_mels / 2 + n_mels / 8, T // pool)`` fixed features:
        band-pair means and onset strength (see the module docstring), in dB / 30."""
        x = (torch.clamp(mel, min=DB_FLOOR) + 50.0) / 30.0
        timbre = F.avg_pool2d(x, (2, self.pool))
        rise = torch.relu(x[..., 1:] - x[..., :-1])
        rise = torch.cat([rise[..., :1], rise], dim=-1)  # the first frame repeats the first rise
        onset = F.avg_pool2d(rise, (8, self.pool)) * 4.0
        return torch.cat([timbre, onset], dim=2).squeeze(1)

    def features(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, T)`` raw dB -> ``(B, T // pool, dim)`` per-frame features before the heads."""
        check_mel(mel, self.n_mels, self.pool)
        x = self.in_norm(self.pooled(mel))
        x = self.temporal(F.gelu(self.embed(x))).transpose(1, 2)  # (B, T', dim)
        n = x.shape[1]
        position = (torch.arange(n, device=x.device, dtype=x.dtype) + 0.5) / n
        x = x + self.position(position[:, None])[None]
        for block in self.blocks:
            x = block(x)
        return self.out_norm(x)

    def forward(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        x = self.features(mel)
        return self.boundary_head(x).squeeze(-1), self.label_head(x)
