"""Building blocks shared by the classification models, and the model protocol they implement.

Every model here is an ``nn.Module`` with:

* ``input_names``: the ONNX input names, in ``forward``'s argument order (``("mel",)``,
  ``("mel", "meta")`` or ``("wave",)``);
* ``output_names``: ``("logits",)``;
* ``dynamic_axes``: the ONNX dynamic axes of every input and output (batch always, time where the
  architecture allows);
* ``example_inputs(batch=2)``: valid inputs at the model's window size;
* ``model_kwargs``: its JSON-serialisable constructor arguments (so a checkpoint rebuilds it).

Inputs: ``mel`` is float32 ``(B, 1, n_mels, T)``, the raw output of ``MelFrontend`` (log-mel dB,
floor -100); ``wave`` is float32 ``(B, 1, N)`` samples; ``meta`` is int64 ``(B, L)`` token ids with 0
for padding. All normalisation happens inside the model, so the runtime feeds frontend output as it
is. The output ``logits`` is float32 ``(B, n_classes)``, raw (no softmax or sigmoid).
"""

from __future__ import annotations

import abc
import math
from typing import Any

import torch
from torch import Tensor, nn

from musicedge.errors import ParameterError

#: The floor of the frontend's dB output (``10 * log10(amin)`` with ``amin = 1e-10``), and the value the
#: runtime pads tail windows with.
DB_FLOOR = -100.0


def check_positive_int(name: str, value: Any) -> int:
    """``value`` as an int when it is a positive integer, else a ``ParameterError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a positive integer, got {value!r}")
    return value


def check_fraction(name: str, value: Any) -> float:
    """``value`` as a float in ``[0, 1)``, else a ``ParameterError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ParameterError(f"{name} must be a number in [0, 1), got {value!r}")
    return float(value)


def check_int_list(name: str, value: Any, length: int | None = None) -> list[int]:
    """A list of positive integers (from a list or tuple), else a ``ParameterError`` naming it."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
        raise ParameterError(f"{name} must be a non-empty list of positive integers, got {value!r}")
    items = [check_positive_int(f"{name}[{i}]", v) for i, v in enumerate(value)]
    if length is not None and len(items) != length:
        raise ParameterError(f"{name} must have {length} entries, got {len(items)}")
    return items


class ProtocolModel(nn.Module, metaclass=abc.ABCMeta):
    """Base of the classification models: the protocol attributes and the input checks.

    Subclasses set ``input_names``, ``dynamic_axes`` and ``model_kwargs`` and implement
    ``example_inputs``. ``input_kind`` says what the task must feed: ``"mel"``, ``"wave"`` or
    ``"mel+meta"``.
    """

    input_names: tuple[str, ...] = ("mel",)
    output_names: tuple[str, ...] = ("logits",)
    input_kind: str = "mel"
    dynamic_axes: dict[str, dict[int, str]]
    model_kwargs: dict[str, Any]
    n_classes: int

    @abc.abstractmethod
    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        """Valid inputs at the model's own window size, ``batch`` examples."""

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def check_mel(mel: Tensor, n_mels: int, min_frames: int) -> None:
    """Refuse a mel input of the wrong rank, band count or length (only when not tracing)."""
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return
    if mel.ndim != 4 or mel.shape[1] != 1 or mel.shape[2] != n_mels:
        raise ParameterError(f"mel must be (batch, 1, {n_mels}, frames), got {tuple(mel.shape)}")
    if mel.shape[3] < min_frames:
        raise ParameterError(f"mel needs at least {min_frames} frames, got {mel.shape[3]}")


class MelNorm(nn.Module):
    """Input normalisation of raw frontend dB: clamp at the floor, a fixed affine, then a BatchNorm per
    mel band.

    ``(B, 1, M, T)`` -> ``(B, 1, M, T)``. The affine ``(x + 50) / 30`` puts typical music levels near
    [-1, 1]; the per-band BatchNorm learns the rest of the scaling from the training data.
    """

    def __init__(self, n_mels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(n_mels)

    def forward(self, mel: Tensor) -> Tensor:
        x = torch.clamp(mel, min=DB_FLOOR)
        if self.training:
            return self.bn(((x + 50.0) / 30.0).transpose(1, 2)).transpose(1, 2)
        # In eval mode (and so in every exported graph) the affine and the BatchNorm are one scale and
        # shift per band: two elementwise ops instead of four and two transposes.
        bn = self.bn
        gain = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        shift = bn.bias + (50.0 / 30.0 - bn.running_mean) * gain
        return x * (gain / 30.0)[:, None] + shift[:, None]


class ConvBlock(nn.Module):
    """3x3 conv, BatchNorm, ReLU and a 2x2 max pool: ``(B, C_in, F, T)`` -> ``(B, C_out, F/2, T/2)``.

    ``stride=2`` halves the resolution in the convolution as well: a quarter of the multiply-adds and
    no full-resolution feature map, for a block whose input is large; ``pool=1`` leaves the pool out.
    """

    def __init__(self, c_in: int, c_out: int, pool: int = 2, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.pool = nn.MaxPool2d(pool) if pool > 1 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(torch.relu(self.bn(self.conv(x))))


def global_pool(x: Tensor) -> Tensor:
    """``(B, C, F, T)`` -> ``(B, 2C)``: mean over frequency, then the mean and the max over time."""
    x = x.mean(dim=2)
    return torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)


class SelfAttention(nn.Module):
    """Multi-head self-attention written with plain matmuls (exports to any ONNX opset).

    ``(B, N, D)`` -> ``(B, N, D)``.
    """

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ParameterError(f"embedding dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B, H, N, Dh)
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
        out = torch.matmul(self.drop(attn), v).transpose(1, 2).reshape(b, n, d)
        return self.proj(out)


class TransformerBlock(nn.Module):
    """Pre-norm transformer encoder layer: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``; ``(B, N, D)``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 2.0, dropout: float = 0.1) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))
