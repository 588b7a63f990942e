"""Convolutional mel-spectrogram classifiers: seed 004's 5-block CNN and a small ResNet.

Both take ``mel`` float32 ``(B, 1, n_mels, T)`` (raw frontend dB) and return ``logits`` ``(B, n_classes)``;
global pooling over time lets ``T`` vary (at least ``2 ** n_pools`` frames).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from musicedge.errors import ParameterError

from .common import (
    ConvBlock,
    MelNorm,
    ProtocolModel,
    check_fraction,
    check_int_list,
    check_mel,
    check_positive_int,
    global_pool,
)

__all__ = ["CNN5", "ResNet"]


class CNN5(ProtocolModel):
    """Seed 004's baseline: 5 blocks of 3x3 conv, BatchNorm, ReLU and 2x2 max pool, then global pooling
    (mean over frequency; mean and max over time), dropout and a linear head.

    Args:
        n_classes: outputs.
        n_mels: mel bands of the input (128 for both presets).
        window_frames: the training window length in frames (seed 004 used the first 1000 frames of
            melon16k); only sets ``example_inputs``: any ``T >= 32`` is accepted.
        channels: output channels of the five blocks.
        dropout: before the head.
        stem_stride: 1, the seed's first block (conv at full resolution, then the pool); 2, its
            convolution strided instead (a quarter of its work; the first block is the one whose
            cost does not shrink with ``channels``).
        stem_pool: whether the first block pools after its convolution; by default only when it is
            not strided. ``stem_stride=2, stem_pool=True`` quarters the resolution in the first block:
            every later block then works on a quarter of the positions (the windows need twice the
            frames, ``2 ** 6``).

    ``forward(mel)``: ``(B, 1, n_mels, T)`` -> ``(B, n_classes)``; :meth:`embed` gives the pooled
    ``(B, embedding_dim)`` features (``embedding_dim = 2 * channels[-1]``).
    """

    input_names = ("mel",)

    def __init__(
        self,
        n_classes: int,
        n_mels: int = 128,
        window_frames: int = 1000,
        channels: tuple[int, ...] | list[int] = (16, 32, 64, 128, 128),
        dropout: float = 0.3,
        stem_stride: int = 1,
        stem_pool: bool | None = None,
    ) -> None:
        super().__init__()
        self.n_classes = check_positive_int("n_classes", n_classes)
        self.n_mels = check_positive_int("n_mels", n_mels)
        self.window_frames = check_positive_int("window_frames", window_frames)
        channels = check_int_list("channels", channels, length=5)
        dropout = check_fraction("dropout", dropout)
        if stem_stride not in (1, 2):
            raise ParameterError(f"stem_stride must be 1 or 2, got {stem_stride!r}")
        if stem_pool is None:
            stem_pool = stem_stride == 1
        if not isinstance(stem_pool, bool):
            raise ParameterError(f"stem_pool must be true or false, got {stem_pool!r}")
        self.model_kwargs = {
            "n_classes": n_classes,
            "n_mels": n_mels,
            "window_frames": window_frames,
            "channels": channels,
            "dropout": dropout,
            "stem_stride": stem_stride,
            "stem_pool": stem_pool,
        }
        self.min_frames = 2 ** (len(channels) + (stem_stride == 2 and stem_pool))
        if n_mels < self.min_frames:
            raise ParameterError(
                f"n_mels must be at least {self.min_frames} for the blocks' halvings, got {n_mels}"
            )
        self.dynamic_axes = {"mel": {0: "batch", 3: "time"}, "logits": {0: "batch"}}
        self.norm = MelNorm(n_mels)
        self.blocks = nn.Sequential(
            *(
                ConvBlock(c_in, c_out, stride=stem_stride, pool=2 if stem_pool else 1)
                if i == 0
                else ConvBlock(c_in, c_out)
                for i, (c_in, c_out) in enumerate(zip([1, *channels[:-1]], channels, strict=True))
            )
        )
        self.embedding_dim = 2 * channels[-1]
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.embedding_dim, n_classes))

    def embed(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, T)`` -> pooled features ``(B, embedding_dim)``."""
        check_mel(mel, self.n_mels, self.min_frames)
        return global_pool(self.blocks(self.norm(mel)))

    def forward(self, mel: Tensor) -> Tensor:
        return self.head(self.embed(mel))

    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        return (torch.randn(batch, 1, self.n_mels, self.window_frames) * 20.0 - 20.0,)


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convs with BatchNorm, a shortcut (1x1 conv when the shape changes).

    ``(B, C_in, F, T)`` -> ``(B, C_out, F / stride, T / stride)`` (rounded up).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


class ResNet(ProtocolModel):
    """A small ResNet over the mel image: a 3x3 stem and a 2x2 max pool, then one stage of basic blocks
    per entry of ``channels`` (every stage after the first halves frequency and time), global pooling
    (mean over frequency; mean and max over time), dropout and a linear head.

    Args:
        n_classes: outputs.
        n_mels: mel bands of the input.
        window_frames: training window length (sets ``example_inputs`` only; any ``T >= 16`` works).
        channels: channels of each stage.
        blocks: basic blocks per stage (one number for every stage, or one per stage).
        dropout: before the head.

    ``forward(mel)``: ``(B, 1, n_mels, T)`` -> ``(B, n_classes)``.
    """

    input_names = ("mel",)

    def __init__(
        self,
        n_classes: int,
        n_mels: int = 128,
        window_frames: int = 128,
        channels: tuple[int, ...] | list[int] = (16, 32, 64, 128),
        blocks: int | tuple[int, ...] | list[int] = 1,
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        self.n_classes = check_positive_int("n_classes", n_classes)
        self.n_mels = check_positive_int("n_mels", n_mels)
        self.window_frames = check_positive_int("window_frames", window_frames)
        channels = check_int_list("channels", channels)
        if isinstance(blocks, int):
            blocks = [check_positive_int("blocks", blocks)] * len(channels)
        blocks = check_int_list("blocks", blocks, length=len(channels))
        dropout = check_fraction("dropout", dropout)
        self.model_kwargs = {
            "n_classes": n_classes,
            "n_mels": n_mels,
            "window_frames": window_frames,
            "channels": channels,
            "blocks": blocks,
            "dropout": dropout,
        }
        self.min_frames = 2 ** len(channels)
        self.dynamic_axes = {"mel": {0: "batch", 3: "time"}, "logits": {0: "batch"}}
        self.norm = MelNorm(n_mels)
        self.stem = nn.Sequential(
            nn.Conv2d(1, channels[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        stages = []
        c_in = channels[0]
        for i, (c_out, n_blocks) in enumerate(zip(channels, blocks, strict=True)):
            layers = [BasicBlock(c_in, c_out, stride=1 if i == 0 else 2)]
            layers += [BasicBlock(c_out, c_out) for _ in range(n_blocks - 1)]
            stages.append(nn.Sequential(*layers))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.embedding_dim = 2 * channels[-1]
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.embedding_dim, n_classes))

    def embed(self, mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, T)`` -> pooled features ``(B, embedding_dim)``."""
        check_mel(mel, self.n_mels, self.min_frames)
        return global_pool(self.stages(self.stem(self.norm(mel))))

    def forward(self, mel: Tensor) -> Tensor:
        return self.head(self.embed(mel))

    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        return (torch.randn(batch, 1, self.n_mels, self.window_frames) * 20.0 - 20.0,)
