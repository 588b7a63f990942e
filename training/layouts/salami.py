"""SALAMI layout: ``<root>/annotations/<id>/textfile{1,2}.txt`` (raw, one per annotator) and audio by id at
``<root>/audio/<id>.<wav|flac|ogg|mp3>``, read into a :class:`Dataset`. The textfile parser and the
function-label taxonomy are the runtime's (:mod:`musicedge.annotations`, whose docstring gives the
parsing rules); they are re-exported here.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

# the parser and the taxonomy live in the runtime, which scores models on SALAMI folders too
from musicedge.annotations import (
    FUNCTION_TAXONOMY,
    LAYERS,
    TAXONOMY,
    UNMAPPED_FUNCTIONS,
    SalamiAnnotation,
    function_to_taxonomy,
    normalize_function_label,
    parse_salami_text,
    parse_salami_textfile,
    salami_entries,
    taxonomy_sections,
)
from musicedge.errors import DataError

from .base import (
    AUDIO_EXTENSIONS,
    Dataset,
    DataWarning,
    Report,
    Track,
    assign_splits,
    audio_duration,
    check_root,
)

__all__ = [
    "FUNCTION_TAXONOMY",
    "LAYERS",
    "TAXONOMY",
    "UNMAPPED_FUNCTIONS",
    "SalamiAnnotation",
    "function_to_taxonomy",
    "load_salami",
    "normalize_function_label",
    "parse_salami_text",
    "parse_salami_textfile",
    "taxonomy_sections",
]

log = logging.getLogger("training.layouts")

# ----------------------------------------------------------------------------------------------------
# Reader


def load_salami(
    root: str | Path,
    *,
    annotator: int | None = None,
    layer: str = "functions",
    require_audio: bool = False,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    strict: bool = True,
    probe_audio: bool = True,
) -> Dataset:
    """Read a SALAMI-style folder: every annotator's raw textfile of every track, and the audio where present.

    ``Track.sections`` is ``layer`` of ``annotator`` (default: the lowest-numbered textfile of each track);
    all parses are in ``Track.metadata["annotations"]`` (annotator number -> :class:`SalamiAnnotation`).
    ``duration`` is the audio's (seconds) when present, else the annotation's ``End``. Tracks without audio
    are kept with ``audio_path=None``, listed in :attr:`Dataset.missing_audio` and reported by a
    :class:`DataWarning`; ``require_audio=True`` makes absent audio a :class:`DataError` instead.
    """
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}")
    root = check_root(root, "salami")
    annotations_dir = root / "annotations"
    entries = salami_entries(root)
    audio_dir = root / "audio"
    report = Report("salami", root, strict)
    tracks: list[Track] = []
    missing_audio: list[str] = []
    n_issues = 0
    for entry in entries:
        track_dir = entry.folder
        if not entry.textfiles:
            report.problem(track_dir, "no textfile<N>.txt annotation in this folder")
            continue
        parses: dict[int, SalamiAnnotation] = {}
        for path in entry.textfiles:
            try:
                parsed = parse_salami_textfile(path)
            except DataError as exc:
                report.failed(path, exc)
                continue
            parses[parsed.annotator] = parsed
            n_issues += len(parsed.issues)
        if not parses:
            continue
        chosen = min(parses) if annotator is None else annotator
        if chosen not in parses:
            report.problem(track_dir / f"textfile{chosen}.txt", "the requested annotator's file is missing")
            continue
        audio_path = entry.audio
        duration = parses[chosen].end
        if audio_path is None:
            missing_audio.append(entry.id)
        elif probe_audio:
            try:
                duration = audio_duration(audio_path)
            except DataError as exc:
                report.failed(audio_path, exc)
                continue
        tracks.append(
            Track(
                id=entry.id,
                split="train",
                audio_path=audio_path,
                duration=duration,
                sections=parses[chosen].layers[layer],
                metadata={
                    "annotations": parses,
                    "annotator": chosen,
                    "layer": layer,
                    "annotation_end": parses[chosen].end,
                },
            )
        )
    if not entries:
        raise DataError(f"{annotations_dir}: no track folders")
    if not tracks:
        raise DataError(f"{annotations_dir}: no readable annotation in any track folder")
    if missing_audio:
        shown = ", ".join(str(audio_dir / f"{i}.*") for i in missing_audio[:3])
        message = (
            f"salami: {len(missing_audio)} of {len(tracks)} tracks have no audio "
            f"(looked for {shown}{', ...' if len(missing_audio) > 3 else ''} with extensions "
            f"{'/'.join(AUDIO_EXTENSIONS)})"
        )
        if require_audio:
            raise DataError(f"{root}: {message}")
        message += "; their annotations are loaded with audio_path=None"
        warnings.warn(message, DataWarning, stacklevel=2)
    if n_issues:
        log.info("salami: %d instrument-markup issue(s) kept; see SalamiAnnotation.issues", n_issues)
    report.warn()
    return Dataset(
        layout="salami",
        root=root,
        tracks=assign_splits(tracks, fractions, seed=seed),
        skipped=tuple(report.skipped),
        missing_audio=tuple(missing_audio),
        metadata={"fractions": tuple(fractions), "seed": seed, "n_instrument_issues": n_issues},
    )
