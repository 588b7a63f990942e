"""Window datasets for classification and tagging: features computed once per run, cut into the windows
the runtime uses.

A :class:`TrackSet` holds, per track, its whole feature array (mel ``(n_mels, n_frames)`` float32, or a
waveform ``(n_samples,)`` float32), its target (a class index, or a ``(C,)`` 0/1 vector for tags) and,
for metadata models, its token ids. Two torch datasets read windows from it:

* :class:`RandomWindows` (training): ``crops`` windows per track and epoch, each at a random start
  drawn from the runtime's window starts' range (so tail windows, padded as the runtime pads them, are
  seen too);
* :class:`AllWindows` (evaluation): every window the runtime cuts (``FrameBatcher`` with
  ``tail="pad"``: starts ``0, H, 2H, ...`` until every frame is covered, the last window filled with
  the pad value), each tagged with its track's index so scores can be averaged per track.

Both yield ``(inputs, (target, track_index))``: ``inputs`` is the mel window ``(1, n_mels, W)``, the
waveform window ``(1, W * hop_length)``, or the pair ``(mel window, tokens (L,))``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from musicedge.errors import DataError, ParameterError
from musicedge.metadata import encode_tokens, metadata_tokens

from ..models.common import DB_FLOOR

__all__ = [
    "AllWindows",
    "MetaVocabulary",
    "RandomWindows",
    "TrackSet",
    "WindowGeometry",
    "aggregate_by_track",
    "meta_tokens",
    "num_windows",
    "window_starts",
]


def num_windows(length: int, window: int, hop: int) -> int:
    """Windows that cover ``length`` frames (or samples) with ``tail="pad"``: 1 when ``length <= window``,
    else ``1 + ceil((length - window) / hop)``."""
    if length <= window:
        return 1
    return 1 + math.ceil((length - window) / hop)


def window_starts(length: int, window: int, hop: int) -> np.ndarray:
    """The first frame of each window the runtime cuts (``FrameBatcher(tail="pad")``), int64 ``(n,)``."""
    return np.arange(num_windows(length, window, hop), dtype=np.int64) * hop


@dataclass(frozen=True)
class WindowGeometry:
    """How windows are cut: ``window``/``hop`` in frames; ``unit`` samples per frame for waveform input
    (the frontend's ``hop_length``) or 1 for mel input; ``pad`` is the value past the end."""

    window: int
    hop: int
    unit: int = 1
    pad: float = DB_FLOOR

    @property
    def window_len(self) -> int:
        """Window length in the feature array's own steps (frames, or samples for waveforms)."""
        return self.window * self.unit

    @property
    def hop_len(self) -> int:
        return self.hop * self.unit

    def starts(self, length: int) -> np.ndarray:
        return window_starts(length, self.window_len, self.hop_len)

    def cut(self, features: np.ndarray, start: int) -> np.ndarray:
        """``features[..., start:start + window_len]``, padded with :attr:`pad` past the end (float32)."""
        stop = start + self.window_len
        piece = features[..., start:stop]
        if piece.shape[-1] == self.window_len:
            return np.ascontiguousarray(piece, dtype=np.float32)
        out = np.full((*features.shape[:-1], self.window_len), self.pad, dtype=np.float32)
        out[..., : piece.shape[-1]] = piece
        return out


@dataclass
class TrackSet:
    """Features and targets of the tracks of one split.

    ``features[i]``: ``(n_mels, n_frames)`` or ``(n_samples,)`` float32; ``targets``: ``(n,)`` int64
    class indices or ``(n, C)`` float32 0/1 tags; ``tokens``: ``(n, L)`` int64 metadata token ids (0 =
    padding) or ``None``.
    """

    ids: list[str]
    features: list[np.ndarray]
    targets: np.ndarray
    tokens: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (len(self.ids) == len(self.features) == len(self.targets)):
            raise ParameterError(
                f"TrackSet needs one id, feature array and target per track, got "
                f"{len(self.ids)}, {len(self.features)}, {len(self.targets)}"
            )
        if self.tokens is not None and len(self.tokens) != len(self.ids):
            raise ParameterError(f"TrackSet has {len(self.ids)} tracks but {len(self.tokens)} token rows")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def multilabel(self) -> bool:
        return self.targets.ndim == 2

    def concat(self, other: TrackSet) -> TrackSet:
        """This set followed by ``other`` (same target kind and token width)."""
        if self.targets.ndim != other.targets.ndim or self.targets.shape[1:] != other.targets.shape[1:]:
            raise ParameterError("cannot join track sets with different target shapes")
        if (self.tokens is None) != (other.tokens is None):
            raise ParameterError("cannot join a track set with metadata tokens and one without")
        tokens = None
        if self.tokens is not None and other.tokens is not None:
            width = max(self.tokens.shape[1], other.tokens.shape[1])
            tokens = np.zeros((len(self) + len(other), width), dtype=np.int64)
            tokens[: len(self), : self.tokens.shape[1]] = self.tokens
            tokens[len(self) :, : other.tokens.shape[1]] = other.tokens
        return TrackSet(
            ids=self.ids + other.ids,
            features=self.features + other.features,
            targets=np.concatenate([self.targets, other.targets]),
            tokens=tokens,
            info={**self.info, **other.info},
        )


def _target_tensor(targets: np.ndarray, i: int) -> torch.Tensor:
    value = targets[i]
    if targets.ndim == 2:
        return torch.from_numpy(np.asarray(value, dtype=np.float32))
    return torch.tensor(int(value), dtype=torch.int64)


class _Windows(Dataset):
    def __init__(self, tracks: TrackSet, geometry: WindowGeometry) -> None:
        if len(tracks) == 0:
            raise DataError("no tracks to cut windows from")
        self.tracks = tracks
        self.geometry = geometry
        self.n_starts = [len(geometry.starts(f.shape[-1])) for f in tracks.features]

    def _item(self, track: int, start: int) -> tuple[Any, tuple[torch.Tensor, torch.Tensor]]:
        window = torch.from_numpy(self.geometry.cut(self.tracks.features[track], start)).unsqueeze(0)
        inputs: Any = window
        if self.tracks.tokens is not None:
            inputs = (window, torch.from_numpy(self.tracks.tokens[track]))
        return inputs, (_target_tensor(self.tracks.targets, track), torch.tensor(track, dtype=torch.int64))


class RandomWindows(_Windows):
    """Training windows: ``crops`` per track and epoch, each at a start drawn uniformly (torch's global
    generator, so seeding torch makes epochs reproducible) from ``[0, last runtime start]``.

    ``transform`` (optional) maps each window tensor (``(1, n_mels, W)`` or ``(1, N)``) to an augmented
    one of the same shape, e.g. SpecAugment.
    """

    def __init__(
        self,
        tracks: TrackSet,
        geometry: WindowGeometry,
        crops: int = 4,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__(tracks, geometry)
        if isinstance(crops, bool) or not isinstance(crops, int) or crops < 1:
            raise ParameterError(f"crops must be a positive integer, got {crops!r}")
        self.crops = crops
        self.transform = transform

    def __len__(self) -> int:
        return len(self.tracks) * self.crops

    def __getitem__(self, index: int) -> tuple[Any, tuple[torch.Tensor, torch.Tensor]]:
        track = index % len(self.tracks)
        last = (self.n_starts[track] - 1) * self.geometry.hop_len
        start = int(torch.randint(0, last + 1, ()).item()) if last > 0 else 0
        inputs, targets = self._item(track, start)
        if self.transform is not None:
            if isinstance(inputs, tuple):
                return (self.transform(inputs[0]), inputs[1]), targets
            return self.transform(inputs), targets
        return inputs, targets


class AllWindows(_Windows):
    """Every runtime window of every track, in track order."""

    def __init__(self, tracks: TrackSet, geometry: WindowGeometry) -> None:
        super().__init__(tracks, geometry)
        self.index = [(t, s * geometry.hop_len) for t, n in enumerate(self.n_starts) for s in range(n)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, index: int) -> tuple[Any, tuple[torch.Tensor, torch.Tensor]]:
        return self._item(*self.index[index])

    def batches(self, batch_size: int) -> Iterator[tuple[list[np.ndarray], np.ndarray]]:
        """Numpy batches for inference outside torch: ``(inputs, track_indices)`` with ``inputs`` a list of
        arrays in the model's input order (``[(B, 1, ...)]`` or ``[(B, 1, ...), tokens (B, L)]``)."""
        for first in range(0, len(self.index), batch_size):
            chunk = self.index[first : first + batch_size]
            windows = np.stack([self.geometry.cut(self.tracks.features[t], s) for t, s in chunk])[:, None]
            inputs = [windows]
            if self.tracks.tokens is not None:
                inputs.append(np.stack([self.tracks.tokens[t] for t, _ in chunk]))
            yield inputs, np.array([t for t, _ in chunk], dtype=np.int64)


def aggregate_by_track(
    scores: np.ndarray, track_index: np.ndarray, n_tracks: int | None = None
) -> np.ndarray:
    """Mean of per-window ``scores`` ``(n_windows, C)`` over each track's windows -> ``(n_tracks, C)``.

    Tracks are numbered ``0..n_tracks-1`` (default: ``track_index.max() + 1``); every one needs a window.
    """
    scores = np.asarray(scores, dtype=np.float64)
    track_index = np.asarray(track_index, dtype=np.int64)
    n = int(track_index.max()) + 1 if n_tracks is None else n_tracks
    sums = np.zeros((n, scores.shape[1]))
    np.add.at(sums, track_index, scores)
    counts = np.bincount(track_index, minlength=n)
    if (counts == 0).any():
        raise ParameterError(f"{int((counts == 0).sum())} track(s) have no window")
    return sums / counts[:, None]


# -- metadata tokens --------------------------------------------------------------------------------------

#: The token kinds read from a melon track's metadata.
TOKEN_KINDS = ("artist", "album", "word", "title")


def meta_tokens(metadata: dict[str, Any]) -> list[str]:
    """Metadata tokens of one melon track (its ``Track.metadata``): ``artist:<name>`` for each artist,
    ``album:<name>``, ``word:<w>`` for each lyric word and ``title:<w>`` for each word of the track's
    title, in that order; names are stripped and lower-cased. A track without metadata has none."""
    meta = metadata.get("meta") or {}
    track = meta.get("track_meta") or {}
    lyric = meta.get("lyric_meta") or {}
    artists = track.get("artist_name_list") or []
    if isinstance(artists, str):
        artists = [artists]
    words = lyric.get("lyric_words")
    if words is None and isinstance(lyric.get("lyrics"), str):
        words = lyric["lyrics"].split()
    return metadata_tokens(artists, track.get("album_name"), words or [], track.get("track_title"))


@dataclass(frozen=True)
class MetaVocabulary:
    """Token strings -> ids ``1..len(tokens)`` (0 is padding; unknown tokens are dropped).

    Stored with a model in ``spec.extra["meta_vocab"]`` (a JSON list, id = position + 1) so the runtime
    can encode metadata the same way (:func:`meta_tokens`, then :meth:`encode`).
    """

    tokens: tuple[str, ...]
    max_tokens: int = 64

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], min_count: int = 1, max_tokens: int = 64
    ) -> MetaVocabulary:
        """The tokens seen at least ``min_count`` times, sorted (deterministic)."""
        counts: dict[str, int] = {}
        for tokens in token_lists:
            for t in tokens:
                counts[t] = counts.get(t, 0) + 1
        return cls(tuple(sorted(t for t, c in counts.items() if c >= min_count)), max_tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: Sequence[str]) -> np.ndarray:
        """``(max_tokens,)`` int64 ids, known tokens in order, zero-padded (at least one slot)."""
        return encode_tokens(tokens, self.tokens, self.max_tokens)

    def encode_all(self, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        return np.stack([self.encode(t) for t in token_lists]) if token_lists else np.zeros((0, 1), np.int64)


def seeded_generator(seed: int, key: str) -> torch.Generator:
    """A CPU torch generator seeded from ``seed`` and a string key (e.g. a track id)."""
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + zlib.crc32(key.encode("utf-8"))) % 2**63)


def map_progress(fn: Callable[[Any], Any], items: Sequence[Any], what: str, log: Any = None) -> list[Any]:
    """``[fn(x) for x in items]`` with a progress line on ``log`` every tenth of the way (if given)."""
    out = []
    step = max(1, len(items) // 10)
    for i, item in enumerate(items, 1):
        out.append(fn(item))
        if log is not None and (i % step == 0 or i == len(items)):
            print(f"{what}: {i}/{len(items)}", file=log, flush=True)
    return out
