"""Audio + metadata fusion (seed 004): the 5-block CNN's pooled audio features joined with an
embedding of the track's metadata tokens (artist, album, lyric words, title words).

``meta`` is int64 ``(B, L)`` token ids, 0 for padding (ids outside ``1..vocab_size`` count as padding
too). Two paths read the tokens, in the manner of wide & deep models:

* deep: token embeddings averaged over the non-padding tokens, concatenated with the audio features
  and a has-metadata flag, then an MLP;
* wide: every token has its own vector of per-class logits, summed over the tokens and added to the
  MLP's output (a bag-of-words linear model, which learns "this lyric word means this mood" from few
  examples).

An example without any token gets a zero embedding, no wide logits and the "no metadata" flag, so
all-zero ``meta`` of shape ``(B, 1)`` (the runtime's default when no metadata is given) is a valid,
audio-only input. Training hides each example's metadata with probability ``meta_dropout`` (and single
tokens with ``token_dropout``) so that this case is learned.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .cnn import CNN5
from .common import ProtocolModel, check_fraction, check_int_list, check_positive_int

__all__ = ["Fusion"]


class Fusion(ProtocolModel):
    """``(mel (B, 1, n_mels, T), meta (B, L))`` -> ``logits`` ``(B, n_classes)``.

    Args:
        n_classes: outputs.
        vocab_size: number of metadata tokens (ids ``1..vocab_size``; 0 is padding).
        n_mels, window_frames, channels: the CNN5 audio trunk (see :class:`~training.models.cnn.CNN5`).
        meta_dim: size of the token embeddings.
        hidden: width of the fusion MLP.
        dropout: in the fusion MLP.
        meta_dropout: training only: the probability of hiding all of an example's metadata.
        token_dropout: training only: the probability of hiding one token.
        example_tokens: ``L`` of :meth:`example_inputs`.
    """

    input_names = ("mel", "meta")
    input_kind = "mel+meta"

    def __init__(
        self,
        n_classes: int,
        vocab_size: int,
        n_mels: int = 128,
        window_frames: int = 128,
        channels: tuple[int, ...] | list[int] = (16, 32, 64, 128, 128),
        meta_dim: int = 64,
        hidden: int = 128,
        dropout: float = 0.3,
        meta_dropout: float = 0.5,
        token_dropout: float = 0.1,
        example_tokens: int = 16,
    ) -> None:
        super().__init__()
        self.n_classes = check_positive_int("n_classes", n_classes)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        channels = check_int_list("channels", channels, length=5)
        check_positive_int("meta_dim", meta_dim)
        check_positive_int("hidden", hidden)
        self.example_tokens = check_positive_int("example_tokens", example_tokens)
        self.meta_dropout = check_fraction("meta_dropout", meta_dropout)
        self.token_dropout = check_fraction("token_dropout", token_dropout)
        dropout = check_fraction("dropout", dropout)
        self.model_kwargs = {
            "n_classes": n_classes,
            "vocab_size": vocab_size,
            "n_mels": n_mels,
            "window_frames": window_frames,
            "channels": channels,
            "meta_dim": meta_dim,
            "hidden": hidden,
            "dropout": dropout,
            "meta_dropout": self.meta_dropout,
            "token_dropout": self.token_dropout,
            "example_tokens": example_tokens,
        }
        self.dynamic_axes = {
            "mel": {0: "batch", 3: "time"},
            "meta": {0: "batch", 1: "tokens"},
            "logits": {0: "batch"},
        }
        # The trunk's own head is unused: only CNN5.embed is called.
        self.audio = CNN5(1, n_mels=n_mels, window_frames=window_frames, channels=channels, dropout=0.0)
        del self.audio.head
        self.tokens = nn.Embedding(vocab_size + 1, meta_dim, padding_idx=0)
        self.wide = nn.Embedding(vocab_size + 1, n_classes, padding_idx=0)
        nn.init.zeros_(self.wide.weight)
        self.embedding_dim = self.audio.embedding_dim + meta_dim + 1
        self.head = nn.Sequential(
            nn.Linear(self.embedding_dim, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_classes),
        )

    def _token_mask(self, meta: Tensor) -> tuple[Tensor, Tensor]:
        """Valid ids (others set to 0) and the ``(B, L)`` float mask of the tokens used (metadata and
        token dropout applied in training)."""
        meta = torch.where((meta > 0) & (meta <= self.vocab_size), meta, torch.zeros_like(meta))
        mask = (meta > 0).to(torch.float32)
        if self.training and (self.meta_dropout > 0 or self.token_dropout > 0):
            keep_example = (torch.rand(meta.shape[0], 1, device=meta.device) >= self.meta_dropout).float()
            keep_token = (torch.rand(meta.shape, device=meta.device) >= self.token_dropout).float()
            mask = mask * keep_example * keep_token
        return meta, mask

    def embed_meta(self, meta: Tensor, mask: Tensor | None = None) -> Tensor:
        """``(B, L)`` token ids -> ``(B, meta_dim + 1)``: mean token embedding and a has-metadata flag.

        ``mask``: the tokens to use (from :meth:`_token_mask`; drawn here when not given)."""
        if mask is None:
            meta, mask = self._token_mask(meta)
        count = mask.sum(dim=1, keepdim=True)
        pooled = (self.tokens(meta) * mask.unsqueeze(-1)).sum(dim=1) / torch.clamp(count, min=1.0)
        return torch.cat([pooled, (count > 0).to(torch.float32)], dim=1)

    def forward(self, mel: Tensor | tuple[Tensor, Tensor], meta: Tensor | None = None) -> Tensor:
        """``mel`` ``(B, 1, n_mels, T)`` and ``meta`` ``(B, L)`` -> ``(B, n_classes)``.

        ``meta=None`` means no metadata (all-zero ``(B, 1)``); ``forward((mel, meta))`` (one pair, as the
        training loop passes its inputs) is the same as ``forward(mel, meta)``.
        """
        if meta is None and isinstance(mel, (tuple, list)):
            mel, meta = mel
        if meta is None:
            meta = torch.zeros(mel.shape[0], 1, dtype=torch.int64, device=mel.device)
        meta, mask = self._token_mask(meta)
        deep = self.head(torch.cat([self.audio.embed(mel), self.embed_meta(meta, mask)], dim=1))
        wide = (self.wide(meta) * mask.unsqueeze(-1)).sum(dim=1)
        return deep + wide

    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]:
        mel = self.audio.example_inputs(batch)[0]
        meta = torch.randint(0, self.vocab_size + 1, (batch, self.example_tokens), dtype=torch.int64)
        return mel, meta
