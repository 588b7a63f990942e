"""GTZAN layout: ``<root>/genres/<genre>/<name>.wav`` (real names look like ``blues.00000.wav``).

The genre is the folder name. GTZAN has no official split, so the reader assigns a seeded train/valid/test
split stratified by genre (:func:`~training.layouts.base.assign_splits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from musicedge.errors import DataError

from .base import (
    AUDIO_EXTENSIONS,
    Dataset,
    Report,
    Track,
    assign_splits,
    audio_duration,
    check_root,
    check_vocabulary,
    visible_children,
)


def load_gtzan(
    root: str | Path,
    *,
    genres: Iterable[str] | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    strict: bool = True,
    probe_audio: bool = True,
) -> Dataset:
    """Read a GTZAN-style folder.

    ``genres`` is the allowed vocabulary (a genre folder outside it is bad input); ``fractions`` the
    train/valid/test shares of each genre; ``probe_audio`` reads each file's header for its duration in
    seconds (and so catches unreadable files such as the real GTZAN's ``jazz.00054.wav``). Track ids are the
    file stems, which must be unique. Files other than audio are recorded in :attr:`Dataset.skipped`.
    """
    root = check_root(root, "gtzan")
    genres_dir = root / "genres"
    if not genres_dir.is_dir():
        raise DataError(f"{genres_dir}: missing; a gtzan root holds genres/<genre>/<name>.wav")
    report = Report("gtzan", root, strict)
    vocabulary = None if genres is None else tuple(genres)
    tracks: list[Track] = []
    seen: dict[str, Path] = {}
    genre_dirs = [p for p in visible_children(genres_dir) if p.is_dir()]
    if not genre_dirs:
        raise DataError(f"{genres_dir}: no genre folders")
    for genre_dir in genre_dirs:
        genre = genre_dir.name
        reason = check_vocabulary(genre, vocabulary)
        if reason is not None:
            report.problem(genre_dir, f"genre folder: {reason}")
            continue
        n_audio = 0
        for path in visible_children(genre_dir):
            if path.is_dir() or path.suffix.lower() not in AUDIO_EXTENSIONS:
                report.ignore(path, "not an audio file")
                continue
            n_audio += 1
            if path.stem in seen:
                raise DataError(f"{path}: track id {path.stem!r} also used by {seen[path.stem]}")
            duration = None
            if probe_audio:
                try:
                    duration = audio_duration(path)
                except DataError as exc:
                    report.failed(path, exc)
                    continue
            seen[path.stem] = path
            tracks.append(
                Track(
                    id=path.stem,
                    split="train",
                    audio_path=path,
                    duration=duration,
                    label=genre,
                    metadata={"genre": genre},
                )
            )
        if n_audio == 0:
            report.problem(genre_dir, "genre folder holds no audio files")
    if not tracks:
        raise DataError(f"{genres_dir}: no readable audio files in any genre folder")
    report.warn()
    split_tracks = assign_splits(tracks, fractions, seed=seed, key=lambda t: t.label)
    return Dataset(
        layout="gtzan",
        root=root,
        tracks=split_tracks,
        skipped=tuple(report.skipped),
        metadata={"fractions": tuple(fractions), "seed": seed},
    )
