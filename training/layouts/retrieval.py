"""Retrieval layout (seed 001): full tracks and the query clips cut from them, per split.

``<root>/<split>/origin/<label>/<label>_<k>.wav`` are the full tracks and
``<root>/<split>/sample/<label>/<label>_<start_ms>_<end_ms>.wav`` the clips, ``start_ms`` being the clip's
offset in its origin track. ``<label>`` may itself contain underscores, so names are parsed from the right,
and the label in a name must equal its folder's. A clip is linked to the origin tracks of its label in the
same split.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from musicedge.errors import DataError

from .base import (
    AUDIO_EXTENSIONS,
    Clip,
    Dataset,
    Report,
    Track,
    audio_duration,
    check_root,
    visible_children,
)

RETRIEVAL_SPLITS: tuple[str, ...] = ("train", "valid", "test")

#: Largest accepted gap, in seconds, between a clip's duration and the span its name states, and by which a
#: clip may run past the end of its origin (files are cut at whole samples, names rounded to milliseconds).
DURATION_TOLERANCE_S = 0.05


def _parse_int_fields(stem: str, n: int) -> tuple[str, list[int]] | None:
    """Split ``<label>_<i1>_..._<in>`` from the right; ``None`` if the last n fields are not integers."""
    parts = stem.rsplit("_", n)
    if len(parts) != n + 1 or not parts[0] or not all(p.isdigit() for p in parts[1:]):
        return None
    return parts[0], [int(p) for p in parts[1:]]


def _audio_files(folder: Path, report: Report) -> list[Path]:
    files = []
    for path in visible_children(folder):
        if path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS:
            files.append(path)
        else:
            report.ignore(path, "not an audio file")
    return files


def _label_folders(folder: Path, report: Report) -> list[Path]:
    folders = []
    for path in visible_children(folder):
        if path.is_dir():
            folders.append(path)
        else:
            report.ignore(path, "not a label folder")
    if not folders:
        report.problem(folder, "no label folders")
    return folders


def _labelled_audio(folder: Path, report: Report) -> Iterator[tuple[str, Path]]:
    """``(label, path)`` for every audio file in ``folder/<label>/``; an empty label folder is reported."""
    for label_dir in _label_folders(folder, report):
        files = _audio_files(label_dir, report)
        if not files:
            report.problem(label_dir, "label folder holds no audio files")
        for path in files:
            yield label_dir.name, path


def _read_origins(split: str, origin_dir: Path, report: Report, probe_audio: bool) -> list[Track]:
    tracks = []
    for label, path in _labelled_audio(origin_dir, report):
        parsed = _parse_int_fields(path.stem, 1)
        if parsed is None or parsed[0] != label:
            report.problem(path, f"origin name must be '{label}_<k>{path.suffix}' (its folder's label)")
            continue
        duration = None
        if probe_audio:
            try:
                duration = audio_duration(path)
            except DataError as exc:
                report.failed(path, exc)
                continue
        tracks.append(
            Track(
                id=f"{split}/{path.stem}",
                split=split,
                audio_path=path,
                duration=duration,
                label=label,
                metadata={"index": parsed[1][0]},
            )
        )
    return tracks


def _read_clips(
    split: str, sample_dir: Path, origins: dict[str, list[Track]], report: Report, probe_audio: bool
) -> list[Clip]:
    clips = []
    for label, path in _labelled_audio(sample_dir, report):
        parsed = _parse_int_fields(path.stem, 2)
        if parsed is None or parsed[0] != label:
            report.problem(path, f"clip name must be '{label}_<start_ms>_<end_ms>{path.suffix}'")
            continue
        start_ms, end_ms = parsed[1]
        if end_ms <= start_ms:
            report.problem(path, f"clip end {end_ms} ms is not after its start {start_ms} ms")
            continue
        candidates = origins.get(label, [])
        if not candidates:
            report.problem(path, f"no origin track for label {label!r} in split {split!r}")
            continue
        start, end = start_ms / 1000.0, end_ms / 1000.0
        duration = None
        if probe_audio:
            try:
                duration = audio_duration(path)
            except DataError as exc:
                report.failed(path, exc)
                continue
            if abs(duration - (end - start)) > DURATION_TOLERANCE_S:
                report.problem(path, f"clip lasts {duration:.3f} s but its name says {end - start:.3f} s")
                continue
        if len(candidates) == 1 and candidates[0].duration is not None:
            if end > candidates[0].duration + DURATION_TOLERANCE_S:
                report.problem(
                    path,
                    f"clip ends at {end:.3f} s, after the end of its origin "
                    f"{candidates[0].audio_path} ({candidates[0].duration:.3f} s)",
                )
                continue
        clips.append(
            Clip(
                id=f"{split}/{path.stem}",
                split=split,
                audio_path=path,
                label=label,
                start=start,
                end=end,
                origin_ids=tuple(t.id for t in candidates),
                duration=duration,
            )
        )
    return clips


def load_retrieval(
    root: str | Path,
    *,
    splits: Sequence[str] | None = None,
    strict: bool = True,
    probe_audio: bool = True,
) -> Dataset:
    """Read a retrieval-style folder.

    ``splits``: the split folders to read (default: those of train/valid/test present; a named split that is
    absent is a :class:`DataError`). Track ids are ``<split>/<label>_<k>``, clip ids
    ``<split>/<label>_<start_ms>_<end_ms>``;
    ``Clip.start`` is ``start_ms / 1000`` seconds. ``probe_audio`` reads each header for durations and checks
    that each clip lasts what its name says and ends within its origin.
    """
    root = check_root(root, "retrieval")
    if splits is None:
        splits = [s for s in RETRIEVAL_SPLITS if (root / s).is_dir()]
        if not splits:
            raise DataError(f"{root}: no split folder ({'/'.join(RETRIEVAL_SPLITS)}) of a retrieval layout")
    report = Report("retrieval", root, strict)
    tracks: list[Track] = []
    clips: list[Clip] = []
    for split in splits:
        origin_dir, sample_dir = root / split / "origin", root / split / "sample"
        if not origin_dir.is_dir():
            raise DataError(f"{origin_dir}: missing; a retrieval split holds origin/<label>/<label>_<k>.wav")
        split_tracks = _read_origins(split, origin_dir, report, probe_audio)
        by_label: dict[str, list[Track]] = {}
        for t in split_tracks:
            by_label.setdefault(t.label, []).append(t)
        tracks.extend(split_tracks)
        if sample_dir.is_dir():
            clips.extend(_read_clips(split, sample_dir, by_label, report, probe_audio))
    if not tracks:
        raise DataError(f"{root}: no readable origin track in splits {list(splits)}")
    report.warn()
    return Dataset(
        layout="retrieval", root=root, tracks=tuple(tracks), clips=tuple(clips), skipped=tuple(report.skipped)
    )
