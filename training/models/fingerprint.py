"""Neural audio fingerprint models (after Chang et al. 2021, "Neural Audio Fingerprint for High-specific
Audio Retrieval based on Contrastive Learning"), sized for the edge.

:class:`FingerprintNet`: a window of log-mel frames ``(B, 1, n_mels, T)`` -> an L2-normalised embedding
``(B, dim)``. Strided 3x3 convolutions halve frequency and time five times, then a split projection
head (Chang's "divide and encode": each of ``dim / group`` groups of outputs sees its own slice of the
flattened features through a small two-layer MLP) gives the embedding, normalised to unit length so
that inner products are cosine similarities.

:class:`Reranker`: the seed project's cross-attention idea, on fingerprints instead of raw waveforms.
The query's sequence of window embeddings attends to the candidate's aligned excerpt (its sequence of
library fingerprints at the voted offset); a pooled score says whether they are the same recording.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from .common import MelNorm, ProtocolModel, check_int_list, check_mel, check_positive_int

__all__ = ["FingerprintNet", "Reranker", "info_nce"]


class _ConvBNReLU(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class FingerprintNet(ProtocolModel):
    """``mel`` ``(B, 1, n_mels, window)`` raw frontend dB -> ``embedding`` ``(B, dim)``, unit L2 norm.

    Args:
        n_mels, window: the input size (``window`` frames, fixed: the head sees every position).
        dim: embedding size (at most 128).
        channels: output channels of the strided conv blocks (each halves frequency and time).
        group: outputs per projection group of the split head.
    """

    output_names = ("embedding",)

    def __init__(
        self,
        n_mels: int = 64,
        window: int = 64,
        dim: int = 64,
        channels: list[int] | tuple[int, ...] = (8, 16, 32, 64, 128),
        group: int = 4,
        hidden: int = 32,
    ) -> None:
        super().__init__()
        n_mels, window = check_positive_int("n_mels", n_mels), check_positive_int("window", window)
        dim, group = check_positive_int("dim", dim), check_positive_int("group", group)
        hidden = check_positive_int("hidden", hidden)
        channels = check_int_list("channels", list(channels))
        if dim > 128 or dim % group:
            raise ValueError(f"dim must be at most 128 and a multiple of group={group}, got {dim}")
        self.n_mels, self.window, self.dim, self.group = n_mels, window, dim, group
        self.model_kwargs: dict[str, Any] = {
            "n_mels": n_mels,
            "window": window,
            "dim": dim,
            "channels": channels,
            "group": group,
            "hidden": hidden,
        }
        self.dynamic_axes = {"mel": {0: "batch"}, "embedding": {0: "batch"}}
        self.norm = MelNorm(n_mels)
        blocks, c_in, f, t = [], 1, n_mels, window
        for c_out in channels:
            blocks.append(_ConvBNReLU(c_in, c_out, 2))
            c_in, f, t = c_out, (f + 1) // 2, (t + 1) // 2
        self.features = nn.Sequential(*blocks)
        flat = c_in * f * t
        n_groups = dim // group
        if flat % n_groups:
            raise ValueError(f"{flat} features do not split into {n_groups} groups; change channels or dim")
        self.n_groups = n_groups
        # Grouped 1x1 convolutions are the split head: group g sees features [g*k, (g+1)*k).
        self.head = nn.Sequential(
            nn.Conv1d(flat, n_groups * hidden, 1, groups=n_groups),
            nn.ELU(),
            nn.Conv1d(n_groups * hidden, dim, 1, groups=n_groups),
        )

    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        return (torch.randn(batch, 1, self.n_mels, self.window) * 20.0 - 40.0,)

    def forward(self, mel: Tensor) -> Tensor:
        check_mel(mel, self.n_mels, self.window)
        x = self.features(self.norm(mel))
        x = self.head(x.flatten(1).unsqueeze(-1)).squeeze(-1)
        return F.normalize(x, dim=1, eps=1e-8)


def info_nce(anchor: Tensor, positive: Tensor, temperature: float = 0.05) -> Tensor:
    """NT-Xent over ``2B`` unit embeddings: each one's partner is its positive, the other ``2B - 2`` are
    in-batch negatives. ``anchor``, ``positive``: ``(B, D)``."""
    z = torch.cat([anchor, positive])
    n = anchor.shape[0]
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(anchor.device)
    return F.cross_entropy(sim, target)


class Reranker(ProtocolModel):
    """Cross-attention verifier: ``query`` ``(B, L, D)`` and ``candidate`` ``(B, L, D)`` fingerprint
    sequences (the candidate's library fingerprints at the voted offset, aligned to the query's
    windows) -> ``score`` ``(B,)`` logit that they are the same recording.

    Tokens are the fingerprints plus their aligned cosine similarity (``q_i . c_i``) and a learned
    position; one cross-attention block (query tokens attend to candidate tokens), mean-pooled, then
    a linear score.
    """

    input_names = ("query", "candidate")
    output_names = ("score",)

    def __init__(self, dim: int = 64, width: int = 64, heads: int = 4, max_len: int = 64) -> None:
        super().__init__()
        self.dim, self.width, self.max_len = dim, width, max_len
        self.model_kwargs = {"dim": dim, "width": width, "heads": heads, "max_len": max_len}
        self.dynamic_axes = {"query": {0: "batch", 1: "length"}, "candidate": {0: "batch", 1: "length"}}
        self.dynamic_axes["score"] = {0: "batch"}
        self.q_in = nn.Linear(dim + 1, width)
        self.c_in = nn.Linear(dim + 1, width)
        self.position = nn.Parameter(torch.zeros(max_len, width))
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj = (nn.Linear(width, width) for _ in range(3))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU())
        self.score = nn.Linear(width + 2, 1)

    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        q = F.normalize(torch.randn(batch, 8, self.dim), dim=-1)
        c = F.normalize(torch.randn(batch, 8, self.dim), dim=-1)
        return q, c

    def forward(self, query: Tensor, candidate: Tensor) -> Tensor:
        b, n, _ = query.shape
        aligned = (query * candidate).sum(-1, keepdim=True)  # (B, L, 1)
        pos = self.position[:n].unsqueeze(0)
        q = self.q_in(torch.cat([query, aligned], -1)) + pos
        c = self.c_in(torch.cat([candidate, aligned], -1)) + pos
        h, dh = self.heads, self.width // self.heads
        qh = self.q_proj(q).reshape(b, n, h, dh).transpose(1, 2)
        kh = self.k_proj(c).reshape(b, n, h, dh).transpose(1, 2)
        vh = self.v_proj(c).reshape(b, n, h, dh).transpose(1, 2)
        attn = torch.softmax(qh @ kh.transpose(-2, -1) / dh**0.5, dim=-1)
        x = (attn @ vh).transpose(1, 2).reshape(b, n, self.width)
        pooled = self.out(x + q).mean(dim=1)
        stats = torch.cat([aligned.mean(dim=1), aligned.amax(dim=1)], dim=-1)
        return self.score(torch.cat([pooled, stats], -1)).squeeze(-1)
