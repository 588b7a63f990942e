"""Melon layout (seed 004): mel spectrograms and JSON labels, per split.

* ``<root>/<split>/<split>_data/mel_spectrogram/<track_id>.npy``: float32, shape ``(1, n_mels, n_frames)``;
* ``<root>/<split>/<split>_label``: JSON ``{"track_index": {idx: track_id}, "station_name": {idx: label},
  "mood_tag": {idx: [tags]}, "genre": {idx: label}, ...}`` with string keys, any subset of the label fields
  present (other fields, such as Q3's ``track_title``, go to ``Track.metadata``);
* ``<root>/<split>/<split>_data/meta/``: ``{track,artist,album,lyric}_meta.json`` when present, and for test
  splits without labels ``q<N>_test.json`` files holding only ``track_index``.

Every ``.npy`` file is a track; the label and index files add labels. A file listed in an index but absent is
bad input; a spectrogram no index lists is kept unlabelled and counted in ``Dataset.metadata["n_unindexed"]``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicedge.errors import DataError

from .base import (
    Dataset,
    DataWarning,
    Report,
    Track,
    check_root,
    check_vocabulary,
    read_json,
    visible_children,
)

MELON_SPLITS: tuple[str, ...] = ("train", "test")
#: Label fields holding one label per track, and the multi-label one.
SINGLE_LABEL_FIELDS: tuple[str, ...] = ("station_name", "genre")
TAG_FIELD = "mood_tag"
META_FILES: tuple[str, ...] = ("track_meta", "artist_meta", "album_meta", "lyric_meta")


def _index_files(split_dir: Path, split: str) -> list[Path]:
    """Label file first (``<split>_label`` or ``.json``), then ``q<N>_test.json`` index files."""
    files = [p for p in (split_dir / f"{split}_label", split_dir / f"{split}_label.json") if p.is_file()]
    meta_dir = split_dir / f"{split}_data" / "meta"
    if meta_dir.is_dir():
        files += sorted(meta_dir.glob("q*_test.json"))
    return files


def _read_index(path: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``{idx: track_id}`` and ``{field: {idx: value}}`` of a label or index file (DataError if malformed)."""
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("track_index"), dict):
        raise DataError(f"{path}: expected a JSON object with a 'track_index' object {{idx: track_id}}")
    index = {}
    for idx, track_id in data["track_index"].items():
        if not isinstance(track_id, (str, int)) or isinstance(track_id, bool) or str(track_id) == "":
            raise DataError(f"{path}: track_index[{idx!r}] = {track_id!r} is not a track id")
        index[str(idx)] = str(track_id)
    fields = {}
    for name, column in data.items():
        if name == "track_index":
            continue
        if not isinstance(column, dict):
            kind = type(column).__name__
            raise DataError(f"{path}: field {name!r} must be an object {{idx: value}}, got {kind}")
        unknown = sorted(set(map(str, column)) - set(index))[:3]
        if unknown:
            raise DataError(f"{path}: field {name!r} has indices {unknown} that track_index lacks")
        fields[name] = {str(k): v for k, v in column.items()}
    return index, fields


def _label_value(field: str, value: Any) -> str | tuple[str, ...] | None:
    """The checked value of a label field, ``None`` when it is of the wrong type."""
    if field == TAG_FIELD:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        return None
    return value if isinstance(value, str) else None


def _mel_frames(path: Path, n_mels: int) -> int:
    """``n_frames`` of a ``(1, n_mels, n_frames)`` float32 .npy, read from its header; DataError otherwise."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy array ({exc})") from exc
    shape = array.shape
    if array.dtype != np.float32 or len(shape) != 3 or shape[:2] != (1, n_mels) or shape[2] < 1:
        raise DataError(f"{path}: expected float32 (1, {n_mels}, n_frames >= 1), got {array.dtype} {shape}")
    return int(array.shape[2])


def _join_meta(meta: dict[str, Any], track_ids: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per-track rows of the column-oriented meta files (those with a ``track_index`` column)."""
    rows: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in track_ids}
    for name, data in meta.items():
        if not (isinstance(data, dict) and isinstance(data.get("track_index"), dict)):
            continue
        for idx, track_id in data["track_index"].items():
            if str(track_id) in rows:
                rows[str(track_id)][name] = {
                    col: values.get(idx)
                    for col, values in data.items()
                    if col != "track_index" and isinstance(values, dict)
                }
    return rows


@dataclass
class _SplitIndex:
    """The merged index and label files of one split."""

    idx_of: dict[str, str] = field(default_factory=dict)  # track id -> idx
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # field -> {idx: value}
    source: dict[str, Path] = field(default_factory=dict)  # idx -> the file that lists it

    def values(self, track_id: str) -> tuple[dict[str, Any], str | None]:
        """The fields of a track (label fields type-checked), and why they are bad if they are."""
        idx = self.idx_of.get(track_id)
        values: dict[str, Any] = {}
        for name, column in self.fields.items():
            if idx is None or idx not in column:
                continue
            value = column[idx]
            if name in SINGLE_LABEL_FIELDS or name == TAG_FIELD:
                value = _label_value(name, value)
                if value is None:
                    return values, f"{name}[{idx}] = {column[idx]!r} has the wrong type"
            values[name] = value
        return values, None


def _read_split_index(split_dir: Path, split: str) -> _SplitIndex:
    merged = _SplitIndex()
    index: dict[str, str] = {}
    for path in _index_files(split_dir, split):
        file_index, file_fields = _read_index(path)
        for idx, track_id in file_index.items():
            if index.get(idx, track_id) != track_id:
                raise DataError(
                    f"{path}: index {idx} is {track_id!r} here but {index[idx]!r} in {merged.source[idx]}"
                )
            index[idx] = track_id
            merged.source.setdefault(idx, path)
        for name, column in file_fields.items():
            merged.fields.setdefault(name, {}).update(column)
    for idx, track_id in index.items():
        if track_id in merged.idx_of:
            raise DataError(
                f"{merged.source[idx]}: track {track_id!r} listed under indices "
                f"{merged.idx_of[track_id]} and {idx}"
            )
        merged.idx_of[track_id] = idx
    return merged


def _read_split(
    split_dir: Path, split: str, options: dict[str, Any], report: Report
) -> tuple[list[Track], dict[str, Any], int]:
    """Tracks, meta files and number of unindexed spectrograms of one split."""
    mel_dir = split_dir / f"{split}_data" / "mel_spectrogram"
    if not mel_dir.is_dir():
        raise DataError(f"{mel_dir}: missing; a melon split holds {split}_data/mel_spectrogram/<id>.npy")
    index = _read_split_index(split_dir, split)
    meta_dir = split_dir / f"{split}_data" / "meta"
    meta = {
        name: read_json(meta_dir / f"{name}.json")
        for name in META_FILES
        if (meta_dir / f"{name}.json").is_file()
    }

    files = {}
    for path in visible_children(mel_dir):
        if path.is_file() and path.suffix == ".npy":
            files[path.stem] = path
        else:
            report.ignore(path, "not a .npy file")
    if not files:
        report.problem(mel_dir, "no .npy spectrograms")
    for track_id, idx in index.idx_of.items():
        if track_id not in files:
            report.problem(
                mel_dir / f"{track_id}.npy", f"listed in {index.source[idx]} (index {idx}) but missing"
            )
    unindexed = sorted(set(files) - set(index.idx_of)) if index.idx_of else []
    if unindexed:
        warnings.warn(
            f"melon: {len(unindexed)} spectrogram(s) in {mel_dir} are in no index or label file "
            f"(e.g. {unindexed[:3]}); kept without labels",
            DataWarning,
            stacklevel=3,
        )

    label_field = options["label_field"] or next((f for f in SINGLE_LABEL_FIELDS if f in index.fields), None)
    meta_rows = _join_meta(meta, files)
    tracks = []
    for track_id, path in files.items():
        try:
            n_frames = _mel_frames(path, options["n_mels"])
        except DataError as exc:
            report.failed(path, exc)
            continue
        values, bad = index.values(track_id)
        label = values.get(label_field) if label_field else None
        tags = values.get(TAG_FIELD, ())
        if bad is None and label is not None:
            bad = check_vocabulary(label, options["vocabulary"])
        if bad is None and options["tag_vocabulary"] is not None:
            bad = next((r for t in tags if (r := check_vocabulary(t, options["tag_vocabulary"]))), None)
        if bad is not None:
            report.problem(index.source[index.idx_of[track_id]], f"track {track_id}: {bad}")
            continue
        idx = index.idx_of.get(track_id)
        extra = {"meta": meta_rows[track_id]} if meta_rows[track_id] else {}
        tracks.append(
            Track(
                id=track_id,
                split=split,
                mel_path=path,
                label=label,
                tags=tags,
                metadata={"index": idx, "n_frames": n_frames, **values, **extra},
            )
        )
    return tracks, meta, len(unindexed)


def load_melon(
    root: str | Path,
    *,
    splits: Sequence[str] | None = None,
    n_mels: int = 128,
    label_field: str | None = None,
    vocabulary: Iterable[str] | None = None,
    tag_vocabulary: Iterable[str] | None = None,
    strict: bool = True,
) -> Dataset:
    """Read a melon-style folder of mel spectrograms.

    ``label_field`` picks the single-label field for ``Track.label`` (default: ``station_name`` when a label
    file has it, else ``genre``); ``mood_tag`` fills ``Track.tags``. ``vocabulary`` / ``tag_vocabulary`` are
    the allowed labels / tags. Tracks have ``mel_path`` and no audio; ``duration`` is ``None`` (the frame
    rate is not part of the layout) and ``metadata["n_frames"]`` the spectrogram's length. The meta JSON
    files are in ``Dataset.metadata["meta"][split]`` and, when column-oriented, per track in
    ``Track.metadata["meta"]``.
    """
    root = check_root(root, "melon")
    if splits is None:
        splits = [s for s in MELON_SPLITS if (root / s).is_dir()]
        if not splits:
            raise DataError(f"{root}: no split folder ({'/'.join(MELON_SPLITS)}) of a melon layout")
    options = {
        "n_mels": n_mels,
        "label_field": label_field,
        "vocabulary": None if vocabulary is None else tuple(vocabulary),
        "tag_vocabulary": None if tag_vocabulary is None else tuple(tag_vocabulary),
    }
    report = Report("melon", root, strict)
    tracks: list[Track] = []
    meta_by_split: dict[str, dict[str, Any]] = {}
    n_unindexed = 0
    for split in splits:
        split_tracks, meta_by_split[split], n = _read_split(root / split, split, options, report)
        tracks.extend(split_tracks)
        n_unindexed += n
    if not tracks:
        raise DataError(f"{root}: no readable spectrogram in splits {list(splits)}")
    report.warn()
    return Dataset(
        layout="melon",
        root=root,
        tracks=tuple(tracks),
        skipped=tuple(report.skipped),
        metadata={"meta": meta_by_split, "n_unindexed": n_unindexed},
    )
