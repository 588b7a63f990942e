"""Scoring section boundaries and labels: the mir_eval segment metrics, and ``musicedge eval segment``.

:func:`segment_metrics` is every metric of ``mir_eval.segment.evaluate`` plus a frame label accuracy;
training scores with the same functions (``training.metrics`` re-exports them). :func:`evaluate_segmenter`
runs a segment model through the runtime (:meth:`Segmenter.analyze`, as ``musicedge segment``) over a
SALAMI folder and scores each song against its annotation's function layer, mapped to the model's
taxonomy (:func:`musicedge.annotations.taxonomy_sections`). mir_eval is imported only when scoring.

    >>> scores = evaluate_segmenter("data/salami", Segmenter.load("structure"))
    >>> print(scores.markdown())
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError, MusicEdgeError, ParameterError

__all__ = [
    "COLUMNS",
    "SegmentScores",
    "TABLE_COLUMNS",
    "evaluate_segmenter",
    "frame_accuracy",
    "mean_row",
    "salami_songs",
    "score_row",
    "segment_metrics",
]

LAYOUTS = ("salami",)

#: The columns of the evaluation tables, in mir_eval's names, and their short headers.
COLUMNS = {
    "F-measure@0.5": "HR.5F",
    "F-measure@3.0": "HR3F",
    "Pairwise F-measure": "PWF",
    "NCE F-measure": "Sf",
    "Frame accuracy": "Acc",
    "Precision@0.5": "HR.5P",
    "Recall@0.5": "HR.5R",
}


#: The columns of a table of :func:`score_row` rows, in order.
TABLE_COLUMNS = ("HR.5F", "HR3F", "PWF", "Sf", "Acc", "HR.5P", "HR.5R", "n_ref", "n_est")


def _mir_eval():
    try:
        import mir_eval
    except ImportError:
        raise ParameterError(
            "scoring sections needs mir_eval: pip install mir_eval (or 'musicedge[train]')"
        ) from None
    return mir_eval


#: A segment: an object with ``start``, ``end`` (seconds) and ``label``, or a ``(start, end, label)`` tuple.
SegmentLike = Any


def _segments(segments: Iterable[SegmentLike], name: str) -> tuple[np.ndarray, list[str]]:
    """``(n, 2)`` intervals sorted by start and their labels; ParameterError for empty, overlapping or bad."""
    rows = []
    for seg in segments:
        if hasattr(seg, "start"):
            rows.append((float(seg.start), float(seg.end), str(seg.label)))
        else:
            start, end, label = seg
            rows.append((float(start), float(end), str(label)))
    if not rows:
        raise ParameterError(f"{name} segments are empty")
    rows.sort(key=lambda r: r[0])
    intervals = np.array([r[:2] for r in rows], dtype=np.float64)
    if not np.isfinite(intervals).all() or (intervals[:, 0] < 0).any():
        raise ParameterError(f"{name} segments need finite, non-negative times")
    if (intervals[:, 1] <= intervals[:, 0]).any():
        raise ParameterError(f"{name} segments need end > start")
    if (intervals[1:, 0] < intervals[:-1, 1] - 1e-9).any():
        raise ParameterError(f"{name} segments overlap")
    return intervals, [r[2] for r in rows]


def _labels_at(times: np.ndarray, intervals: np.ndarray, labels: list[str]) -> list[str | None]:
    """Label of the segment containing each time (``start <= t < end``), ``None`` in gaps."""
    index = np.searchsorted(intervals[:, 0], times, side="right") - 1
    inside = (index >= 0) & (times < intervals[np.maximum(index, 0), 1])
    return [labels[i] if ok else None for i, ok in zip(index, inside, strict=True)]


def frame_accuracy(
    reference: Iterable[SegmentLike], estimate: Iterable[SegmentLike], *, frame_rate: float = 10.0
) -> float:
    """Fraction of frames whose estimated label equals the reference label.

    Frames are the instants ``k / frame_rate`` seconds, ``k = 0, 1, ...``, that fall inside a reference
    segment (reference gaps are not counted); an estimate with no segment at a frame gets it wrong. Compare
    function labels (e.g. the taxonomy classes), not letter labels, which are arbitrary per track.
    """
    if not frame_rate > 0:
        raise ParameterError(f"frame_rate must be positive, got {frame_rate}")
    ref_intervals, ref_labels = _segments(reference, "reference")
    est_intervals, est_labels = _segments(estimate, "estimated")
    times = np.arange(int(math.ceil(ref_intervals[-1, 1] * frame_rate))) / frame_rate
    ref = _labels_at(times, ref_intervals, ref_labels)
    est = _labels_at(times, est_intervals, est_labels)
    counted = [(r, e) for r, e in zip(ref, est, strict=True) if r is not None]
    return float(np.mean([r == e for r, e in counted])) if counted else math.nan


def segment_metrics(
    reference: Iterable[SegmentLike],
    estimate: Iterable[SegmentLike],
    *,
    frame_rate: float = 10.0,
    trim: bool = False,
) -> dict[str, float]:
    """Every segmentation metric of ``mir_eval.segment.evaluate``, under its mir_eval name, and
    ``"Frame accuracy"`` (:func:`frame_accuracy` at ``frame_rate`` Hz).

    Keys include boundary hit rate ``Precision@0.5``, ``Recall@0.5``, ``F-measure@0.5`` (and ``@3.0``),
    ``Pairwise Precision`` / ``Recall`` / ``F-measure``, normalised conditional entropy ``NCE Over``,
    ``NCE Under``, ``NCE F-measure``, plus deviations, Rand, mutual information and V-measure scores.
    As in mir_eval, the estimate is clipped or padded to the reference's span; ``trim`` drops the first and
    last boundaries from the hit rates. Segments: ``(start, end, label)`` tuples or objects with those fields.
    """
    mir_eval = _mir_eval()

    reference, estimate = list(reference), list(estimate)
    ref_intervals, ref_labels = _segments(reference, "reference")
    est_intervals, est_labels = _segments(estimate, "estimated")
    scores = mir_eval.segment.evaluate(ref_intervals, ref_labels, est_intervals, est_labels, trim=trim)
    result = {name: float(value) for name, value in scores.items()}
    result["Frame accuracy"] = frame_accuracy(reference, estimate, frame_rate=frame_rate)
    return result


def score_row(
    reference: Iterable[SegmentLike], estimate: Iterable[SegmentLike], *, labelled: bool = True
) -> dict[str, float]:
    """One song's row of the evaluation tables: the :data:`COLUMNS` by their short names, and the
    reference's and estimate's segment counts; ``labelled=False`` (letter references, whose labels
    are arbitrary) leaves the frame label accuracy out (``nan``)."""
    reference, estimate = list(reference), list(estimate)
    scores = segment_metrics(reference, estimate)
    row = {short: scores[name] for name, short in COLUMNS.items()}
    if not labelled:
        row["Acc"] = math.nan
    row["n_ref"] = len(reference)
    row["n_est"] = len(estimate)
    return row


def mean_row(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    """The mean of each column of :func:`score_row` rows, ``nan`` entries left out."""
    keys = next(iter(rows.values())).keys()
    return {k: float(np.nanmean([row[k] for row in rows.values()])) for k in keys}


def salami_songs(root: str | os.PathLike) -> tuple[list[tuple[str, Path, tuple]], list[str]]:
    """``(id, audio path, reference sections)`` of every song of a SALAMI folder that has audio (the
    lowest-numbered annotator's function layer, in the taxonomy; songs whose functions are all
    unmapped are left out), and the ids whose audio is missing."""
    from .annotations import parse_salami_textfile, salami_entries, taxonomy_sections

    songs, missing = [], []
    for entry in salami_entries(root):
        if not entry.textfiles:
            continue
        if entry.audio is None:
            missing.append(entry.id)
            continue
        sections = taxonomy_sections(parse_salami_textfile(entry.textfiles[0]).layers["functions"])
        if sections:
            songs.append((entry.id, entry.audio, sections))
    if not songs:
        raise DataError(f"{root}: no annotated song with audio (layout salami: audio/<id>.wav)")
    return songs, missing


@dataclass
class SegmentScores:
    """What ``musicedge eval segment`` prints: a row per song (:func:`score_row`) and their mean."""

    model: str
    rows: dict[str, dict[str, float]] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error message)
    missing_audio: list[str] = field(default_factory=list)  # annotated ids without audio

    def mean(self) -> dict[str, float]:
        return mean_row(self.rows) if self.rows else {}

    def markdown(self) -> str:
        lines = ["| track | " + " | ".join(TABLE_COLUMNS) + " |", "|---" * (len(TABLE_COLUMNS) + 1) + "|"]
        for name, row in [*self.rows.items(), ("mean", self.mean())]:
            cells = [f"{row[c]:.1f}" if c.startswith("n_") else f"{row[c]:.3f}" for c in TABLE_COLUMNS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        notes = [f"model {self.model}: {len(self.rows)} songs scored"]
        if self.failed:
            notes.append(f"{len(self.failed)} failed")
        if self.missing_audio:
            notes.append(f"{len(self.missing_audio)} annotated without audio, left out")
        return "\n".join(lines) + "\n\n" + "; ".join(notes)


def evaluate_segmenter(root: str | os.PathLike, segmenter: Any, *, layout: str = "salami") -> SegmentScores:
    """Segment every annotated song of ``root`` with ``segmenter`` (a :class:`Segmenter`) and score it.
    Songs that fail to decode are listed in ``failed``; the others are still scored."""
    if layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    songs, missing = salami_songs(root)
    scores = SegmentScores(segmenter.spec.model_name, missing_audio=missing)
    for song_id, path, reference in songs:
        try:
            result = segmenter.analyze(path)
        except MusicEdgeError as exc:
            scores.failed.append((str(path), str(exc)))
            continue
        scores.rows[song_id] = score_row(reference, result.segments)
    return scores
