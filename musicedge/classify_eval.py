"""``musicedge eval classify``: a single-label classifier scored on a labelled folder.

The GTZAN layout (``genres/<label>/<name>.<ext>``, or the label folders straight under the root) gives
each file's true label. Every file is classified through the runtime (:meth:`Classifier.predict_files`,
the same path as ``musicedge classify``), and the scores are accuracy, top-3 accuracy, balanced
accuracy (the mean of the per-label recalls), per-label precision and recall, and the confusion matrix.

    >>> scores = evaluate_classifier("data/gtzan", Classifier.load("genre"))
    >>> print(scores.markdown())
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .classify import Classifier, Prediction
from .errors import DataError, ParameterError

__all__ = ["ClassifyScores", "evaluate_classifier", "gtzan_files"]

LAYOUTS = ("gtzan",)


def gtzan_files(root: str | os.PathLike) -> list[tuple[Path, str]]:
    """``(audio file, label)`` of a GTZAN-style folder: the label is the name of the folder under
    ``root/genres`` (or under ``root`` when it has no ``genres`` folder) that holds the file."""
    from .audio import find_audio

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    base = root / "genres" if (root / "genres").is_dir() else root
    files = [
        (path, folder.name)
        for folder in sorted(p for p in base.iterdir() if p.is_dir())
        for path in find_audio([folder])
    ]
    if not files:
        raise DataError(f"{base}: no audio in label folders (layout gtzan: genres/<label>/<name>.wav)")
    return files


@dataclass
class ClassifyScores:
    """What ``musicedge eval classify`` prints: one row per scored file in ``truth`` / ``predicted``."""

    model: str
    labels: tuple[str, ...]  # the model's labels, in its output order
    truth: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    top3_hits: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, error message)
    unknown: dict[str, int] = field(default_factory=dict)  # folder labels the model lacks: files left out

    @property
    def files(self) -> int:
        return len(self.truth)

    def confusion(self) -> np.ndarray:
        """Counts, rows the true labels and columns the predicted ones, in :attr:`labels` order."""
        index = {label: i for i, label in enumerate(self.labels)}
        matrix = np.zeros((len(self.labels), len(self.labels)), np.int64)
        for true, guess in zip(self.truth, self.predicted, strict=True):
            matrix[index[true], index[guess]] += 1
        return matrix

    def metrics(self) -> dict[str, float]:
        matrix = self.confusion()
        present = matrix.sum(axis=1) > 0  # labels with at least one file
        recall = np.diag(matrix)[present] / matrix.sum(axis=1)[present]
        return {
            "accuracy": float(np.trace(matrix) / self.files) if self.files else float("nan"),
            "top-3 accuracy": self.top3_hits / self.files if self.files else float("nan"),
            "balanced accuracy": float(recall.mean()) if recall.size else float("nan"),
        }

    def markdown(self) -> str:
        matrix = self.confusion()
        summary = [("model", self.model), ("files scored", str(self.files))]
        summary += [(name, f"{value:.4f}") for name, value in self.metrics().items()]
        summary.append(("files that failed", str(len(self.failed))))
        if self.unknown:
            left_out = ", ".join(f"{label} ({n})" for label, n in sorted(self.unknown.items()))
            summary.append(("left out: labels the model lacks", left_out))
        lines = ["| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in summary), ""]
        lines += ["| label | files | precision | recall |", "|---|---|---|---|"]
        for i, label in enumerate(self.labels):
            files, guessed = matrix[i].sum(), matrix[:, i].sum()
            precision = f"{matrix[i, i] / guessed:.3f}" if guessed else "-"
            recall = f"{matrix[i, i] / files:.3f}" if files else "-"
            lines.append(f"| {label} | {files} | {precision} | {recall} |")
        lines += ["", "Confusion (rows: true label, columns: predicted):", ""]
        lines.append("| | " + " | ".join(self.labels) + " |")
        lines.append("|---" * (len(self.labels) + 1) + "|")
        for i, label in enumerate(self.labels):
            lines.append(f"| {label} | " + " | ".join(str(n) for n in matrix[i]) + " |")
        return "\n".join(lines)


def evaluate_classifier(
    root: str | os.PathLike, classifier: Classifier, *, layout: str = "gtzan", workers: int = 2
) -> ClassifyScores:
    """Classify every file of the labelled folder ``root`` and score the best label against the
    folder's. Files under labels the model does not have are left out and counted; files that cannot
    be decoded are listed in ``failed``, the others still scored.

    Raises:
        ParameterError: an unknown layout, or a multi-label model (tags have no single best label).
        DataError: no audio in the layout, or none of its labels is one of the model's.
    """
    if layout not in LAYOUTS:
        raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    spec = classifier.spec
    if spec.multilabel:
        raise ParameterError(
            f"{spec.model_name} is a multi-label model (tags): eval classify scores single-label models"
        )
    scores = ClassifyScores(spec.model_name, classifier.labels)
    files = []
    for path, label in gtzan_files(root):
        if label in scores.labels:
            files.append((path, label))
        else:
            scores.unknown[label] = scores.unknown.get(label, 0) + 1
    if not files:
        raise DataError(
            f"{root}: none of its labels ({', '.join(sorted(scores.unknown))}) is one of the model's "
            f"({', '.join(scores.labels)})"
        )
    results = classifier.predict_files([path for path, _ in files], workers=workers)
    for (path, label), result in zip(files, results, strict=True):
        if isinstance(result, Prediction):
            scores.truth.append(label)
            scores.predicted.append(result.label)
            scores.top3_hits += label in [name for name, _ in result.top(3)]
        else:
            scores.failed.append((str(path), str(result[1])))
    return scores
