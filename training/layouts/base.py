"""Item types shared by every layout reader, the seeded split, and the bookkeeping of skipped input.

Every reader returns a :class:`Dataset` of :class:`Track` items (and, for the retrieval layout, :class:`Clip`
queries). Times are in seconds throughout. A reader never drops input silently: with ``strict=True``
(the default) the first problem raises :class:`~musicedge.errors.DataError` naming the file; with
``strict=False`` the item is skipped, a :class:`DataWarning` is issued, and the skip is recorded in
:attr:`Dataset.skipped`.
"""

from __future__ import annotations

import json
import math
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from musicedge.annotations import LAYOUT_AUDIO_EXTENSIONS, Section
from musicedge.errors import DataError

#: Audio file extensions the readers recognise, in order of preference when several exist for one id
#: (the runtime's, which reads SALAMI folders too).
AUDIO_EXTENSIONS: tuple[str, ...] = LAYOUT_AUDIO_EXTENSIONS

#: Split names, in the order :func:`assign_splits` fills them.
SPLIT_NAMES: tuple[str, ...] = ("train", "valid", "test")


class DataWarning(UserWarning):
    """Issued when a reader skips input (``strict=False``) or finds something incomplete (absent audio)."""


@dataclass(frozen=True)
class Track:
    """One full track of a layout.

    ``label`` is the single class (genre, station), ``tags`` the multi-label tags (moods), ``sections`` the
    segmentation in seconds (SALAMI). ``duration`` is in seconds when known without decoding (``None`` for
    mel-only layouts). ``metadata`` holds the layout's own extra fields.
    """

    id: str
    split: str
    audio_path: Path | None = None
    mel_path: Path | None = None
    duration: float | None = None
    label: str | None = None
    tags: tuple[str, ...] = ()
    sections: tuple[Section, ...] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Clip:
    """A query excerpt cut from an origin track (retrieval layout): ``[start, end)`` seconds of the origin.

    ``origin_ids`` lists the tracks the clip may come from: one when the layout makes the link unambiguous,
    several when the clip's label has several origin tracks in its split (a clip's name has no track index).
    """

    id: str
    split: str
    audio_path: Path
    label: str
    start: float
    end: float
    origin_ids: tuple[str, ...]
    duration: float | None = None

    @property
    def offset(self) -> float:
        """Where the clip starts in its origin track, in seconds."""
        return self.start

    @property
    def origin_id(self) -> str | None:
        """The origin track's id when it is unambiguous, else ``None``."""
        return self.origin_ids[0] if len(self.origin_ids) == 1 else None


@dataclass(frozen=True)
class Skipped:
    """One input a non-strict reader left out, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Dataset:
    """What a reader returns: the tracks (and retrieval clips) of one layout root, with what was skipped.

    ``missing_audio`` lists the ids of tracks whose audio is absent (they are kept, with ``audio_path=None``).
    """

    layout: str
    root: Path
    tracks: tuple[Track, ...]
    clips: tuple[Clip, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    missing_audio: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tracks)

    def __iter__(self) -> Iterator[Track]:
        return iter(self.tracks)

    def __getitem__(self, index: int) -> Track:
        return self.tracks[index]

    @property
    def n_skipped(self) -> int:
        """How many inputs were skipped (always 0 for a strict read)."""
        return len(self.skipped)

    @property
    def labels(self) -> tuple[str, ...]:
        """Sorted single labels present on the tracks."""
        return tuple(sorted({t.label for t in self.tracks if t.label is not None}))

    @property
    def tags(self) -> tuple[str, ...]:
        """Sorted multi-label tags present on the tracks."""
        return tuple(sorted({tag for t in self.tracks for tag in t.tags}))

    @property
    def splits(self) -> dict[str, int]:
        """Number of tracks per split name."""
        counts: dict[str, int] = {}
        for t in self.tracks:
            counts[t.split] = counts.get(t.split, 0) + 1
        return counts

    def track(self, track_id: str) -> Track:
        """The track with this id (``KeyError`` naming it when absent)."""
        for t in self.tracks:
            if t.id == track_id:
                return t
        raise KeyError(f"no track {track_id!r} in {self.layout} dataset at {self.root}")

    def split(self, name: str) -> Dataset:
        """The tracks and clips of one split (``KeyError`` when the split has none)."""
        tracks = tuple(t for t in self.tracks if t.split == name)
        clips = tuple(c for c in self.clips if c.split == name)
        if not tracks and not clips:
            raise KeyError(
                f"no split {name!r} in {self.layout} dataset at {self.root}; splits: {self.splits}"
            )
        return replace(self, tracks=tracks, clips=clips)


class Report:
    """Collects the problems of one read: raise at once when strict, else record, and warn once at the end."""

    def __init__(self, layout: str, root: Path, strict: bool) -> None:
        self.layout = layout
        self.root = root
        self.strict = strict
        self.skipped: list[Skipped] = []

    def problem(self, path: Path, reason: str) -> None:
        """Bad input at ``path``: raises :class:`DataError` when strict, else records it as skipped."""
        if self.strict:
            raise DataError(f"{path}: {reason}")
        self.skipped.append(Skipped(Path(path), reason))

    def failed(self, path: Path, error: DataError) -> None:
        """A :class:`DataError` about ``path``: re-raised when strict, else recorded as skipped."""
        if self.strict:
            raise error
        self.skipped.append(Skipped(Path(path), str(error).removeprefix(f"{path}: ")))

    def ignore(self, path: Path, reason: str) -> None:
        """Input that is not part of the layout (a stray file): recorded as skipped even when strict."""
        self.skipped.append(Skipped(Path(path), reason))

    def warn(self) -> None:
        """Issue one :class:`DataWarning` summarising the skips, if any."""
        if not self.skipped:
            return
        shown = "; ".join(f"{s.path}: {s.reason}" for s in self.skipped[:3])
        more = f" (and {len(self.skipped) - 3} more)" if len(self.skipped) > 3 else ""
        message = f"{self.layout} reader skipped {len(self.skipped)} item(s) under {self.root}: {shown}{more}"
        warnings.warn(message, DataWarning, stacklevel=3)


def check_root(root: str | Path, layout: str) -> Path:
    """``root`` as a :class:`Path`, or :class:`DataError` when it is not a folder."""
    path = Path(root)
    if not path.is_dir():
        raise DataError(f"{path}: {layout} dataset root is not a folder")
    return path


def visible_children(folder: Path) -> list[Path]:
    """Entries of ``folder`` sorted by name, hidden ones (``.DS_Store``, ``._x``) left out."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def audio_duration(path: Path) -> float:
    """Duration in seconds read from the file header (no decoding); :class:`DataError` if unreadable."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises RuntimeError / LibsndfileError / TypeError for bad files
        raise DataError(f"{path}: unreadable audio ({exc})") from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise DataError(f"{path}: audio file holds no samples")
    return info.frames / info.samplerate


def read_json(path: Path) -> Any:
    """Parsed JSON, or :class:`DataError` naming the file (and the line) when it is absent or malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc


def check_vocabulary(value: str, vocabulary: Iterable[str] | None) -> str | None:
    """``None`` when ``value`` is allowed, else the reason it is not."""
    if vocabulary is None:
        return None
    allowed = set(vocabulary)
    if value in allowed:
        return None
    return f"label {value!r} is not in the given vocabulary ({len(allowed)} labels: {sorted(allowed)[:8]}...)"


def assign_splits(
    tracks: Sequence[Track],
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    seed: int = 0,
    key: Callable[[Track], str | None] | None = None,
) -> tuple[Track, ...]:
    """Seeded train/valid/test split, stratified by ``key`` (e.g. the track label) when given.

    Within each stratum the tracks are sorted by id, then shuffled by a generator seeded from ``seed`` and
    the stratum's name, so the result depends neither on file-system order nor on the other strata. Each
    stratum of n tracks gets ``round(n * f)`` valid and test tracks (never leaving train empty); the rest
    are train.
    Returns the tracks in their input order with ``split`` set.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {tuple(fractions)}")
    strata: dict[str, list[int]] = {}
    for i, t in enumerate(tracks):
        name = "" if key is None else str(key(t))
        strata.setdefault(name, []).append(i)
    split_of: dict[int, str] = {}
    for name, members in strata.items():
        members.sort(key=lambda i: tracks[i].id)
        rng = np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])
        order = [members[j] for j in rng.permutation(len(members))]
        n = len(order)
        n_valid = int(math.floor(n * fractions[1] + 0.5))
        n_test = int(math.floor(n * fractions[2] + 0.5))
        while n > 0 and n_valid + n_test >= n and n_valid + n_test > 0 and fractions[0] > 0:
            if n_valid >= n_test:
                n_valid -= 1
            else:
                n_test -= 1
        for rank, i in enumerate(order):
            split_of[i] = "valid" if rank < n_valid else "test" if rank < n_valid + n_test else "train"
    return tuple(replace(t, split=split_of[i]) for i, t in enumerate(tracks))
