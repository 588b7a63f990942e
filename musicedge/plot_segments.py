"""Pictures of a segmentation (``musicedge segment --plot DIR``): one PNG per track.

Left, on one time axis: the log-mel spectrogram (averaged per model frame) with the predicted
boundaries, the boundary activation with the peak-picking threshold and the picked peaks (reference
boundaries dashed when given), the predicted sections coloured by label with their confidence, and the
reference sections when given. Right: the self-similarity matrix of the song (cosine similarity of
time-delay-embedded mel frames) with the predicted boundaries.

matplotlib is imported inside the functions only (``pip install matplotlib``); ``import musicedge``
never needs it.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from .errors import MusicEdgeError, ParameterError
from .segment import Segment, SegmentResult, unique_stems

__all__ = [
    "LABEL_COLOURS",
    "check_matplotlib",
    "find_reference",
    "plot_results",
    "plot_segmentation",
    "read_reference",
    "self_similarity",
]

#: A fixed colour per taxonomy label, so every plot reads the same way.
LABEL_COLOURS = {
    "intro": "#8dd3c7",
    "verse": "#80b1d3",
    "chorus": "#fb8072",
    "bridge": "#bebada",
    "instrumental": "#fdb462",
    "outro": "#b3de69",
    "silence": "#d9d9d9",
}
_OTHER_COLOURS = ("#fccde5", "#ffffb3", "#bc80bd", "#ccebc5", "#ffed6f", "#e5c494", "#a6cee3", "#b2df8a")


def check_matplotlib() -> None:
    """A :class:`ParameterError` when matplotlib is missing (plots need it)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ParameterError("plots need matplotlib: pip install matplotlib") from None


def self_similarity(features: np.ndarray, *, context: int = 2) -> np.ndarray:
    """``(T', T')`` cosine self-similarity (0..1) of ``(n_features, T')`` frames, each frame stacked with
    its ``context`` neighbours on either side (a time-delay embedding) after removing each feature's mean."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] == 0:
        raise ParameterError(f"features must be (n_features, T') with T' > 0, got shape {x.shape}")
    x = x - x.mean(axis=1, keepdims=True)
    n = x.shape[1]
    padded = np.pad(x, ((0, 0), (context, context)), mode="edge")
    stacked = np.concatenate([padded[:, k : k + n] for k in range(2 * context + 1)], axis=0)
    norm = np.linalg.norm(stacked, axis=0)
    stacked = stacked / np.where(norm > 0, norm, 1.0)
    return np.clip(stacked.T @ stacked, 0.0, 1.0)


def read_reference(path: str | os.PathLike) -> list[Segment]:
    """Reference sections from a MIREX ``.lab`` (``start end label``, whitespace) or a CSV
    (``start,end,label`` or ``;``-separated, an optional header line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read reference sections ({exc})") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if path.suffix.lower() == ".csv":
        delimiter = ";" if lines and lines[0].count(";") > lines[0].count(",") else ","
        rows = list(csv.reader(lines, delimiter=delimiter))
    else:
        rows = [line.split(None, 2) for line in lines]
    segments = []
    for row in rows:
        if len(row) < 3:
            continue
        try:
            start, end = float(row[0]), float(row[1])
        except ValueError:
            continue  # a header line
        if end > start:
            segments.append(Segment(start, end, row[2].strip().strip('"'), 1.0))
    if not segments:
        raise ParameterError(f"{path}: no reference section (start end label) in it")
    return segments


def find_reference(audio: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path | None:
    """``<stem>.lab``, ``<stem>.segments.csv`` or ``<stem>.csv`` in ``folder`` or beside ``audio``."""
    audio = Path(audio)
    places = ([Path(folder)] if folder is not None else []) + [audio.parent]
    for place in places:
        for suffix in (".lab", ".segments.csv"):
            candidate = place / (audio.stem + suffix)
            if candidate.is_file():
                return candidate
    return None


def _colours(labels: Iterable[str]) -> dict[str, str]:
    colours, k = dict(LABEL_COLOURS), 0
    for label in labels:
        if label not in colours:
            colours[label] = _OTHER_COLOURS[k % len(_OTHER_COLOURS)]
            k += 1
    return colours


def _section_bar(ax, segments: Sequence[Segment], colours: dict[str, str], title: str, scores: bool) -> None:
    for s in segments:
        ax.axvspan(s.start, s.end, color=colours[s.label], ec="k", lw=0.6)
        text = f"{s.label}\n{s.confidence:.2f}" if scores else s.label
        if s.end - s.start > 0:
            ax.text((s.start + s.end) / 2, 0.5, text, ha="center", va="center", fontsize=7, clip_on=True)
    ax.set_yticks([])
    ax.set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)


def plot_segmentation(
    result: SegmentResult,
    out: str | os.PathLike,
    *,
    reference: Sequence[Segment] | None = None,
    threshold: float | None = None,
    title: str | None = None,
    dpi: int = 80,
) -> Path:
    """Draw ``result`` (from :meth:`Segmenter.analyze`) into the PNG ``out``; returns its path."""
    check_matplotlib()
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if result.features is None:
        raise ParameterError("the result carries no features to draw (use Segmenter.analyze)")
    out = Path(out)
    times, duration = result.times, result.duration_s
    step = float(times[1] - times[0]) if len(times) > 1 else duration
    extent = (times[0] - step / 2, times[-1] + step / 2)
    colours = _colours([s.label for s in result.segments] + [s.label for s in reference or ()])
    edges = [s.start for s in result.segments[1:]]
    ref_edges = [s.start for s in (reference or [])[1:]]

    fig = plt.figure(figsize=(14, 6.2))
    rows = [3.0, 1.6, 0.55] + ([0.55] if reference else [])
    grid = fig.add_gridspec(
        len(rows), 2, height_ratios=rows, width_ratios=[2.6, 1.0], hspace=0.12, wspace=0.08
    )
    ax_mel = fig.add_subplot(grid[0, 0])
    ax_mel.imshow(
        result.features,
        origin="lower",
        aspect="auto",
        cmap="magma",
        extent=(extent[0], extent[1], 0, result.features.shape[0]),
        vmin=max(float(result.features.max()) - 80.0, -100.0),
    )
    for t in edges:
        ax_mel.axvline(t, color="w", lw=1.0)
    ax_mel.set_ylabel("mel band")
    ax_mel.set_title(title or (os.path.basename(result.path) if result.path else "segmentation"), fontsize=10)

    ax_act = fig.add_subplot(grid[1, 0], sharex=ax_mel)
    ax_act.plot(times, result.activation, color="k", lw=1.0, label="boundary activation")
    if threshold is not None:
        ax_act.axhline(threshold, color="tab:red", lw=0.8, ls=":", label=f"threshold {threshold:.2f}")
    if len(result.boundaries):
        ax_act.plot(
            result.boundaries, np.interp(result.boundaries, times, result.activation), "v", color="tab:red"
        )
    for t in ref_edges:
        ax_act.axvline(t, color="tab:blue", lw=0.9, ls="--")
    ax_act.set_ylim(0, 1.05)
    ax_act.set_ylabel("activation")
    ax_act.legend(loc="upper right", fontsize=7)

    ax_pred = fig.add_subplot(grid[2, 0], sharex=ax_mel)
    _section_bar(ax_pred, result.segments, colours, "predicted", scores=True)
    if reference:
        ax_ref = fig.add_subplot(grid[3, 0], sharex=ax_mel)
        _section_bar(ax_ref, reference, colours, "reference", scores=False)
        ax_ref.set_xlabel("time (s)")
    else:
        ax_pred.set_xlabel("time (s)")
    ax_mel.set_xlim(0, duration)
    for ax in fig.axes[:-1]:
        ax.tick_params(labelbottom=False)

    ax_ssm = fig.add_subplot(grid[:, 1])
    ax_ssm.imshow(
        self_similarity(result.features),
        origin="lower",
        cmap="gray_r",
        extent=(extent[0], extent[1], extent[0], extent[1]),
        vmin=0,
        vmax=1,
    )
    for t in edges:
        ax_ssm.axvline(t, color="tab:red", lw=0.7)
        ax_ssm.axhline(t, color="tab:red", lw=0.7)
    ax_ssm.set_title("self-similarity (predicted boundaries)", fontsize=9)
    ax_ssm.set_xlabel("time (s)")
    ax_ssm.yaxis.tick_right()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(out, dpi=dpi, bbox_inches="tight")
    except OSError as exc:
        raise ParameterError(f"{out}: cannot write the plot ({exc.strerror})") from None
    finally:
        plt.close(fig)
    return out


def plot_results(
    results: Iterable[SegmentResult | tuple[str, MusicEdgeError]],
    paths: Sequence[str | os.PathLike],
    folder: str | os.PathLike,
    reference_folder: str | os.PathLike | None = None,
    *,
    threshold: float | None = None,
) -> Iterator[SegmentResult | tuple[str, MusicEdgeError]]:
    """Pass ``results`` through, drawing ``<folder>/<stem>.png`` for each success (a reference found by
    :func:`find_reference` is drawn too); a track whose plot fails becomes ``(path, error)``."""
    names = unique_stems(paths)
    for result in results:
        if isinstance(result, tuple) or result.path is None:
            yield result
            continue
        try:
            found = find_reference(result.path, reference_folder)
            reference = read_reference(found) if found is not None else None
            plot_segmentation(
                result,
                Path(folder) / f"{names.get(result.path, Path(result.path).stem)}.png",
                reference=reference,
                threshold=threshold,
            )
        except MusicEdgeError as exc:
            yield result.path, exc
            continue
        yield result
