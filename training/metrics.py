"""Evaluation metrics: classification and tagging, segmentation (through mir_eval), retrieval, and a markdown
table of per-track results.

Conventions: class labels are integers ``0..C-1``; ``scores`` are ``(n, C)`` floats (higher = more likely);
multi-label truth is an ``(n, C)`` 0/1 matrix; times and offsets are seconds. A metric that is undefined for
the data (ROC-AUC of a class with no negatives, average precision of a class with no positives) is ``nan``,
and a macro average is taken over the classes where it is defined.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from musicedge.errors import ParameterError

# Segmentation metrics are the runtime's, so that `musicedge eval segment` scores as training does.
from musicedge.segment_eval import SegmentLike, frame_accuracy, segment_metrics  # noqa: F401

# ---------------------------------------------------------------------------------------------------------
# Classification and tagging


def _labels(y: Any, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        raise ParameterError(
            f"{name} must be a non-empty 1-D array of integer class labels, got {y.dtype} {y.shape}"
        )
    return y


def _scores(scores: Any, n: int | None = None) -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] == 0 or (n is not None and s.shape[0] != n):
        raise ParameterError(f"scores must be (n_items, n_classes) with n_items = {n}, got {s.shape}")
    if not np.isfinite(s).all():
        raise ParameterError("scores hold NaN or infinite values")
    return s


def _indicator(y: Any, name: str = "y_true") -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 2 or y.size == 0 or not np.isin(y, (0, 1)).all():
        raise ParameterError(f"{name} must be a non-empty (n_items, n_classes) 0/1 matrix, got {y.shape}")
    return y.astype(bool)


def _one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    if y.min() < 0 or y.max() >= n_classes:
        raise ParameterError(f"class labels must lie in [0, {n_classes}), got [{y.min()}, {y.max()}]")
    return np.eye(n_classes, dtype=bool)[y]


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of items whose predicted class equals the true one.

    ``y_true``: ``(n,)`` int; ``y_pred``: ``(n,)`` int classes, or ``(n, C)`` scores (their argmax is used).
    """
    y_true = _labels(y_true, "y_true")
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = _scores(y_pred, len(y_true)).argmax(axis=1)
    y_pred = _labels(y_pred, "y_pred")
    if y_pred.shape != y_true.shape:
        raise ParameterError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in length")
    return float(np.mean(y_true == y_pred))


def _f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """Per-class F1 = 2tp / (2tp + fp + fn), 0 where the denominator is 0 (as scikit-learn)."""
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros(np.shape(tp), dtype=np.float64), where=denominator > 0)


def f1(y_true: Any, y_pred: Any, *, average: str = "macro") -> float:
    """F1 score, ``average`` = ``"macro"`` (unweighted mean over classes) or ``"micro"`` (pooled counts).

    Single-label: ``(n,)`` int arrays; the classes are those present in either array (micro F1 then equals
    accuracy). Multi-label: ``(n, C)`` 0/1 matrices; every column is a class. A class never true nor predicted
    has F1 0, as in scikit-learn.
    """
    if average not in ("macro", "micro"):
        raise ParameterError(f"average must be 'macro' or 'micro', got {average!r}")
    if np.ndim(y_true) == 1:
        y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
        if y_true.shape != y_pred.shape:
            raise ParameterError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in length")
        classes = np.union1d(y_true, y_pred)
        truth = y_true[:, None] == classes[None, :]
        pred = y_pred[:, None] == classes[None, :]
    else:
        truth, pred = _indicator(y_true, "y_true"), _indicator(y_pred, "y_pred")
        if truth.shape != pred.shape:
            raise ParameterError(f"y_true {truth.shape} and y_pred {pred.shape} differ in shape")
    tp = (truth & pred).sum(axis=0)
    fp = (~truth & pred).sum(axis=0)
    fn = (truth & ~pred).sum(axis=0)
    if average == "micro":
        return float(_f1_from_counts(tp.sum(), fp.sum(), fn.sum()))
    return float(np.mean(_f1_from_counts(tp, fp, fn)))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x``, tied values sharing their mean rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    first = np.r_[True, sorted_x[1:] != sorted_x[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[np.cumsum(first) - 1]
    return ranks


def binary_roc_auc(y_true: Any, scores: Any) -> float:
    """Area under the ROC curve of one binary problem: ``(n,)`` 0/1 truth, ``(n,)`` scores.

    Computed from ranks (the Mann-Whitney statistic); a tie between a positive and a negative counts one
    half, which is the trapezoidal area scikit-learn reports. ``nan`` when only one class is present.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = _average_ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def binary_average_precision(y_true: Any, scores: Any) -> float:
    """Average precision (area under the step precision-recall curve) of one binary problem.

    ``sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds, highest first, tied scores entering
    together (scikit-learn's definition). ``nan`` when there is no positive.
    """
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if not y.any():
        return math.nan
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(s[1:] != s[:-1]), len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _per_class(metric, truth: np.ndarray, scores: np.ndarray, average: str | None) -> float | np.ndarray:
    if average == "micro":
        return metric(truth.ravel(), scores.ravel())
    values = np.array([metric(truth[:, c], scores[:, c]) for c in range(truth.shape[1])])
    if average is None:
        return values
    if average != "macro":
        raise ParameterError(f"average must be 'macro', 'micro' or None, got {average!r}")
    return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan


def _truth_and_scores(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    if np.ndim(y_true) == 1:
        y = _labels(y_true, "y_true")
        s = _scores(scores, len(y))
        return _one_hot(y, s.shape[1]), s
    truth = _indicator(y_true)
    s = _scores(scores, truth.shape[0])
    if s.shape != truth.shape:
        raise ParameterError(f"y_true {truth.shape} and scores {s.shape} differ in shape")
    return truth, s


def roc_auc(y_true: Any, scores: Any, *, average: str | None = "macro") -> float | np.ndarray:
    """ROC-AUC of ``(n, C)`` scores: one-vs-rest per class for ``(n,)`` int truth, per column for ``(n, C)``
    0/1 truth. ``average``: ``"macro"`` (mean over classes where defined), ``"micro"`` (all cells pooled) or
    ``None`` (the ``(C,)`` per-class values, ``nan`` where undefined)."""
    truth, s = _truth_and_scores(y_true, scores)
    return _per_class(binary_roc_auc, truth, s, average)


def average_precision(y_true: Any, scores: Any, *, average: str | None = "macro") -> float | np.ndarray:
    """Average precision (PR-AUC) of ``(n, C)`` scores, with the same arguments as :func:`roc_auc`."""
    truth, s = _truth_and_scores(y_true, scores)
    return _per_class(binary_average_precision, truth, s, average)


def apply_thresholds(scores: Any, thresholds: Any) -> np.ndarray:
    """``(n, C)`` bool predictions: ``scores >= thresholds`` (a scalar or one threshold per tag)."""
    s = _scores(scores)
    t = np.broadcast_to(np.asarray(thresholds, dtype=np.float64), (s.shape[1],))
    return s >= t[None, :]


def _cut_candidates(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one tag: candidate thresholds (predict ``s >= t``) and the true positives / predictions of each."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    n = len(s)
    k = np.r_[np.flatnonzero(s[1:] != s[:-1]) + 1, n]  # number predicted when cutting after each tie group
    below = s[np.minimum(k, n - 1)]
    middle = (s[k - 1] + below) / 2.0
    cut = np.where((k < n) & (middle > below), middle, s[k - 1])
    thresholds = np.r_[np.nextafter(s[0], np.inf), cut]
    tp = np.r_[0, np.cumsum(y)[k - 1]]
    return thresholds, tp, np.r_[0, k]


def select_thresholds(y_true: Any, scores: Any, *, max_passes: int = 10) -> np.ndarray:
    """Per-tag thresholds that maximise micro-F1 on validation data; returns ``(C,)`` floats.

    ``y_true``: ``(n, C)`` 0/1, ``scores``: ``(n, C)``. Each tag starts at the threshold maximising its own
    F1; then coordinate ascent re-chooses one tag at a time for the best pooled (micro) F1 given the others,
    until a pass changes nothing. Candidate thresholds lie midway between consecutive distinct scores, so
    they generalise; predict with :func:`apply_thresholds` (``scores >= threshold``).
    """
    truth = _indicator(y_true)
    s = _scores(scores, truth.shape[0])
    if s.shape != truth.shape:
        raise ParameterError(f"y_true {truth.shape} and scores {s.shape} differ in shape")
    candidates = [_cut_candidates(truth[:, c], s[:, c]) for c in range(s.shape[1])]
    positives = truth.sum(axis=0)
    choice = []
    for (_, tp, n_pred), p in zip(candidates, positives, strict=True):
        own_f1 = np.divide(2 * tp, n_pred + p, out=np.zeros(len(tp)), where=(n_pred + p) > 0)
        choice.append(int(np.argmax(own_f1)))
    tp_all = np.array([cand[1][i] for cand, i in zip(candidates, choice, strict=True)])
    pred_all = np.array([cand[2][i] for cand, i in zip(candidates, choice, strict=True)])
    for _ in range(max_passes):
        changed = False
        for c, (_, tp, n_pred) in enumerate(candidates):
            tp_rest = tp_all.sum() - tp_all[c]
            pred_rest = pred_all.sum() - pred_all[c]
            total_tp = tp_rest + tp
            denominator = pred_rest + n_pred + positives.sum()  # 2tp + fp + fn = predicted + positives
            micro = np.divide(2 * total_tp, denominator, out=np.zeros(len(tp)), where=denominator > 0)
            best = int(np.argmax(micro))
            if micro[best] > micro[choice[c]] + 1e-12:
                choice[c], tp_all[c], pred_all[c] = best, tp[best], n_pred[best]
                changed = True
        if not changed:
            break
    return np.array([cand[0][i] for cand, i in zip(candidates, choice, strict=True)])


def classification_metrics(y_true: Any, scores: Any, *, thresholds: Any = 0.5) -> dict[str, float]:
    """Flat dict of the usual metrics for ``(n, C)`` scores.

    Single-label (``(n,)`` int truth): ``accuracy``, ``macro_f1``, ``micro_f1`` of the argmax, and one-vs-rest
    macro ``roc_auc`` and ``pr_auc``. Multi-label (``(n, C)`` 0/1 truth): ``micro_f1`` and ``macro_f1`` at
    ``thresholds`` (scalar or per tag, e.g. from :func:`select_thresholds`), ``roc_auc_micro``,
    ``roc_auc_macro``, ``pr_auc_micro``, ``pr_auc_macro``.
    """
    if np.ndim(y_true) == 1:
        s = _scores(scores, len(y_true))
        pred = s.argmax(axis=1)
        return {
            "accuracy": accuracy(y_true, pred),
            "macro_f1": f1(y_true, pred, average="macro"),
            "micro_f1": f1(y_true, pred, average="micro"),
            "roc_auc": roc_auc(y_true, s),
            "pr_auc": average_precision(y_true, s),
        }
    pred = apply_thresholds(scores, thresholds)
    return {
        "micro_f1": f1(y_true, pred, average="micro"),
        "macro_f1": f1(y_true, pred, average="macro"),
        "roc_auc_micro": roc_auc(y_true, scores, average="micro"),
        "roc_auc_macro": roc_auc(y_true, scores, average="macro"),
        "pr_auc_micro": average_precision(y_true, scores, average="micro"),
        "pr_auc_macro": average_precision(y_true, scores, average="macro"),
    }


# ---------------------------------------------------------------------------------------------------------
# Retrieval


def retrieval_metrics(
    predictions: Sequence[Sequence[tuple[str, float]]],
    truth: Sequence[tuple[str, float]],
    *,
    ks: Sequence[int] = (1, 5),
) -> dict[str, float]:
    """Hit rates and offset errors of query-by-example retrieval.

    ``predictions[i]``: ranked ``(track_id, offset_s)`` candidates for query i, best first (may be empty);
    ``truth[i]``: its ``(track_id, offset_s)``. Returns ``top<k>`` (fraction of queries whose true track is
    among the first k), ``mrr`` (mean reciprocal rank of the true track, 0 when absent), and over the queries
    whose top-1 track is right, ``offset_error_median_s``, ``offset_error_mean_s``, ``offset_error_p90_s``
    (absolute offset error in seconds, ``nan`` when there is none), with ``n_queries`` and ``n_offsets``.
    """
    if len(predictions) != len(truth):
        raise ParameterError(f"{len(predictions)} prediction lists for {len(truth)} queries")
    if not truth:
        raise ParameterError("no queries")
    if any(int(k) < 1 for k in ks):
        raise ParameterError(f"ks must be positive, got {tuple(ks)}")
    ranks: list[int | None] = []
    errors: list[float] = []
    for ranked, (true_track, true_offset) in zip(predictions, truth, strict=True):
        rank = next((i for i, (track, _) in enumerate(ranked) if track == true_track), None)
        ranks.append(rank)
        if rank == 0:
            errors.append(abs(float(ranked[0][1]) - float(true_offset)))
    result: dict[str, float] = {
        f"top{k}": float(np.mean([r is not None and r < k for r in ranks])) for k in ks
    }
    result["mrr"] = float(np.mean([0.0 if r is None else 1.0 / (r + 1) for r in ranks]))
    e = np.asarray(errors)
    result["offset_error_median_s"] = float(np.median(e)) if e.size else math.nan
    result["offset_error_mean_s"] = float(np.mean(e)) if e.size else math.nan
    result["offset_error_p90_s"] = float(np.percentile(e, 90)) if e.size else math.nan
    result["n_queries"] = len(truth)
    result["n_offsets"] = int(e.size)
    return result


# ---------------------------------------------------------------------------------------------------------
# Reports


def _cell(value: Any, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def markdown_table(
    rows: Mapping[str, Mapping[str, Any]],
    *,
    columns: Sequence[str] | None = None,
    index: str = "track",
    mean: str | None = "mean",
    digits: int = 3,
) -> str:
    """A markdown table with one row per item (e.g. per track) and, when ``mean`` names it, a last row of
    column means.

    ``rows``: item name -> ``{metric: value}``; ``columns``: which metrics, in order (default: every key, in
    first-seen order). Missing cells are blank; the mean of a column skips blank and ``nan`` cells and
    non-numeric values.
    """
    if columns is None:
        columns = list(dict.fromkeys(key for metrics in rows.values() for key in metrics))
    header = [index, *columns]
    lines = [
        "| " + " | ".join(_cell(h, digits) for h in header) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(columns)) + "|",
    ]
    for name, metrics in rows.items():
        lines.append(
            "| " + " | ".join([_cell(name, digits)] + [_cell(metrics.get(c), digits) for c in columns]) + " |"
        )
    if mean is not None and rows:
        means = []
        for c in columns:
            values = [
                float(m[c])
                for m in rows.values()
                if isinstance(m.get(c), (int, float, np.number))
                and not isinstance(m.get(c), (bool, np.bool_))
                and not math.isnan(float(m[c]))
            ]
            means.append(_cell(float(np.mean(values)), digits) if values else "")
        lines.append("| " + " | ".join([f"**{mean}**", *means]) + " |")
    return "\n".join(lines) + "\n"
