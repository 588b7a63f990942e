"""Metrics: classification against scikit-learn (a test-only reference), segmentation against mir_eval's own
expected values, retrieval and the markdown table on hand-worked examples."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from musicedge.errors import ParameterError
from training.layouts import Section
from training.metrics import (
    accuracy,
    apply_thresholds,
    average_precision,
    binary_average_precision,
    binary_roc_auc,
    classification_metrics,
    f1,
    frame_accuracy,
    markdown_table,
    retrieval_metrics,
    roc_auc,
    segment_metrics,
    select_thresholds,
)

sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is these tests' reference")

MIR_EVAL_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "mir_eval_segment"


def random_problem(
    seed: int, n: int = 60, n_classes: int = 4, *, ties: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Integer labels covering every class and (n, C) scores, coarsely rounded when ``ties``."""
    rng = np.random.default_rng(seed)
    y = np.r_[np.arange(n_classes), rng.integers(0, n_classes, n - n_classes)]
    scores = rng.random((n, n_classes)) + 0.5 * np.eye(n_classes)[y]
    return y, np.round(scores, 1) if ties else scores


# ---------------------------------------------------------------------------------------------------------
# Classification


def test_accuracy_and_single_label_f1_match_sklearn() -> None:
    for seed in range(10):
        y, scores = random_problem(seed, ties=False)
        pred = scores.argmax(axis=1)
        pred[:3] = 4  # a class never true: it enters macro F1 with F1 = 0, as in scikit-learn
        assert accuracy(y, pred) == pytest.approx(sklearn_metrics.accuracy_score(y, pred))
        for average in ("macro", "micro"):
            assert f1(y, pred, average=average) == pytest.approx(
                sklearn_metrics.f1_score(y, pred, average=average, zero_division=0)
            )
    assert accuracy([0, 1, 2], np.eye(3)[[0, 2, 2]]) == pytest.approx(2 / 3)  # scores: argmax


def test_multilabel_f1_matches_sklearn() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random((40, 6)) < 0.3
    truth[:, 5] = False  # a tag never true
    pred = rng.random((40, 6)) < 0.3
    pred[:, 4] = False  # a tag never predicted
    for average in ("macro", "micro"):
        assert f1(truth, pred, average=average) == pytest.approx(
            sklearn_metrics.f1_score(truth, pred, average=average, zero_division=0)
        )


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "tied"])
def test_binary_auc_and_average_precision_match_sklearn(ties: bool) -> None:
    rng = np.random.default_rng(1)
    for _ in range(30):
        n = int(rng.integers(2, 50))
        y = rng.random(n) < rng.uniform(0.1, 0.9)
        y[:2] = [True, False]
        s = rng.random(n) + 0.3 * y
        s = np.round(s, 1) if ties else s
        assert binary_roc_auc(y, s) == pytest.approx(sklearn_metrics.roc_auc_score(y, s), abs=1e-12)
        assert binary_average_precision(y, s) == pytest.approx(
            sklearn_metrics.average_precision_score(y, s), abs=1e-12
        )


def test_undefined_binary_metrics_are_nan() -> None:
    assert math.isnan(binary_roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(binary_average_precision([0, 0], [0.1, 0.2]))
    assert binary_average_precision([0, 1], [0.5, 0.5]) == 0.5  # one tie group: precision 1/2 at recall 1
    assert binary_roc_auc([0, 1], [0.5, 0.5]) == 0.5


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "tied"])
def test_single_label_one_vs_rest_matches_sklearn(ties: bool) -> None:
    for seed in range(5):
        y, scores = random_problem(seed, ties=ties)
        # scikit-learn's one-vs-rest wants probabilities
        probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        assert roc_auc(y, probabilities) == pytest.approx(
            sklearn_metrics.roc_auc_score(y, probabilities, multi_class="ovr", average="macro")
        )
        one_hot = np.eye(scores.shape[1])[y]
        assert average_precision(y, scores) == pytest.approx(
            sklearn_metrics.average_precision_score(one_hot, scores, average="macro")
        )
        per_class = roc_auc(y, scores, average=None)
        assert per_class.shape == (4,)
        assert per_class == pytest.approx(sklearn_metrics.roc_auc_score(one_hot, scores, average=None))


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_multilabel_auc_and_average_precision_match_sklearn(average: str) -> None:
    rng = np.random.default_rng(2)
    truth = rng.random((50, 5)) < 0.4
    truth[0], truth[1] = True, False  # every tag has both classes
    scores = np.round(rng.random((50, 5)) + 0.4 * truth, 2)
    assert roc_auc(truth, scores, average=average) == pytest.approx(
        sklearn_metrics.roc_auc_score(truth, scores, average=average)
    )
    assert average_precision(truth, scores, average=average) == pytest.approx(
        sklearn_metrics.average_precision_score(truth, scores, average=average)
    )


def test_macro_averages_skip_undefined_classes() -> None:
    truth = np.array([[1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.1], [0.2, 0.5], [0.8, 0.3]])
    assert roc_auc(truth, scores) == 1.0  # tag 1 has no positive: left out of the mean
    assert np.isnan(roc_auc(truth, scores, average=None)[1])
    with pytest.raises(ParameterError, match="average must be"):
        roc_auc(truth, scores, average="weighted")


def micro_f1_at(truth: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> float:
    return f1(truth, apply_thresholds(scores, thresholds), average="micro")


def test_select_thresholds_is_a_coordinate_optimum_of_micro_f1() -> None:
    rng = np.random.default_rng(3)
    truth = rng.random((80, 6)) < np.array([0.05, 0.1, 0.3, 0.5, 0.2, 0.0])
    scores = np.clip(rng.normal(0.35 + 0.3 * truth * np.arange(1, 7) / 6, 0.2), 0, 1).round(2)
    thresholds = select_thresholds(truth, scores)
    assert thresholds.shape == (6,) and np.isfinite(thresholds).all()
    best = micro_f1_at(truth, scores, thresholds)
    assert best > micro_f1_at(truth, scores, np.full(6, 0.5))
    assert scores[:, 5].max() < thresholds[5]  # a tag never true is never predicted
    for c in range(6):  # no single tag's threshold can be moved to do better
        for candidate in np.r_[np.unique(scores[:, c]), 2.0]:
            moved = thresholds.copy()
            moved[c] = candidate
            assert micro_f1_at(truth, scores, moved) <= best + 1e-12


def test_select_thresholds_separable_data() -> None:
    truth = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    scores = np.array([[0.9, 0.2], [0.6, 0.7], [0.4, 0.65], [0.1, 0.6]])
    thresholds = select_thresholds(truth, scores)
    assert thresholds == pytest.approx([0.5, 0.625])  # midway between the classes
    assert micro_f1_at(truth, scores, thresholds) == 1.0


def test_classification_metrics_keys() -> None:
    y, scores = random_problem(0, ties=False)
    single = classification_metrics(y, scores)
    assert set(single) == {"accuracy", "macro_f1", "micro_f1", "roc_auc", "pr_auc"}
    assert single["micro_f1"] == pytest.approx(single["accuracy"])
    truth = np.eye(4, dtype=int)[y]
    multi = classification_metrics(truth, scores, thresholds=select_thresholds(truth, scores))
    assert set(multi) == {
        "micro_f1",
        "macro_f1",
        "roc_auc_micro",
        "roc_auc_macro",
        "pr_auc_micro",
        "pr_auc_macro",
    }


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy([0, 1], [0, 1, 1]), "differ in length"),
        (lambda: accuracy([0.0, 1.0], [0, 1]), "integer class labels"),
        (lambda: roc_auc([0, 5], np.zeros((2, 3))), r"class labels must lie in \[0, 3\)"),
        (lambda: roc_auc([0, 1], np.array([[0.1, np.nan], [0.2, 0.3]])), "NaN or infinite"),
        (lambda: f1(np.array([[0, 2]]), np.array([[0, 1]])), "0/1 matrix"),
        (lambda: select_thresholds(np.zeros((3, 2)), np.zeros((3, 3))), "differ in shape"),
    ],
    ids=["length", "float-labels", "label-range", "nan-score", "not-binary", "shape"],
)
def test_classification_bad_input(call, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        call()


# ---------------------------------------------------------------------------------------------------------
# Segmentation


def read_lab(path: Path) -> list[tuple[float, float, str]]:
    """A .lab file: ``start end label`` per line (tabs or spaces), '#' comments."""
    segments = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            start, end, label = line.split(None, 2)
            segments.append((float(start), float(end), label.strip()))
    return segments


@pytest.mark.skipif(not MIR_EVAL_DATA.is_dir(), reason=f"mir_eval reference data absent: {MIR_EVAL_DATA}")
@pytest.mark.parametrize("case", range(10), ids=lambda i: f"pair{i:02d}")
def test_segment_metrics_reproduce_mir_eval_expected_values(case: int) -> None:
    expected = json.loads((MIR_EVAL_DATA / f"output{case:02d}.json").read_text())
    ours = segment_metrics(
        read_lab(MIR_EVAL_DATA / f"ref{case:02d}.lab"), read_lab(MIR_EVAL_DATA / f"est{case:02d}.lab")
    )
    assert set(expected) <= set(ours)  # every key mir_eval reports, under mir_eval's name
    for key in ("F-measure@0.5", "F-measure@3.0", "Pairwise F-measure", "NCE Over", "NCE Under"):
        assert key in expected
    for key, value in expected.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key
    assert set(ours) - set(expected) == {"Frame accuracy"}


def test_frame_accuracy_hand_example() -> None:
    reference = [Section(0, 10, "verse"), Section(10, 20, "chorus")]
    estimate = [(0, 12, "verse"), (12, 20, "chorus")]
    # frames at k / 10 s for k = 0..199; the 20 frames in [10, 12) are wrong
    assert frame_accuracy(reference, estimate, frame_rate=10) == pytest.approx(180 / 200)
    # frames the estimate does not cover are wrong
    assert frame_accuracy(reference, [(0, 15, "verse")], frame_rate=1) == pytest.approx(10 / 20)
    gapped = [(0, 5, "intro"), (10, 20, "chorus")]  # reference gaps are not counted
    assert frame_accuracy(gapped, [(0, 20, "chorus")], frame_rate=2) == pytest.approx(20 / 30)
    metrics = segment_metrics(reference, estimate, frame_rate=10)
    assert metrics["Frame accuracy"] == pytest.approx(0.9)
    assert metrics["F-measure@3.0"] == 1.0 and metrics["F-measure@0.5"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ([], "reference segments are empty"),
        ([(0, 5, "a"), (4, 8, "b")], "reference segments overlap"),
        ([(0, 5, "a"), (5, 5, "b")], "need end > start"),
        ([(0, float("nan"), "a")], "finite"),
    ],
    ids=["empty", "overlap", "zero-length", "nan"],
)
def test_segmentation_bad_input(reference, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        segment_metrics(reference, [(0, 5, "a")])
    with pytest.raises(ParameterError, match="frame_rate must be positive"):
        frame_accuracy([(0, 5, "a")], [(0, 5, "a")], frame_rate=0)


# ---------------------------------------------------------------------------------------------------------
# Retrieval and reports


def test_retrieval_metrics_hand_example() -> None:
    truth = [("a", 10.0), ("b", 0.0), ("c", 5.0), ("d", 1.0)]
    predictions = [
        [("a", 10.5), ("x", 0.0)],  # top-1 right, offset error 0.5
        [("x", 0.0), ("y", 0.0), ("b", 3.0)],  # rank 3
        [("c", 3.0)],  # top-1 right, offset error 2.0
        [],  # nothing matched
    ]
    m = retrieval_metrics(predictions, truth)
    assert m["top1"] == 0.5 and m["top5"] == 0.75
    assert m["mrr"] == pytest.approx((1 + 1 / 3 + 1) / 4)
    assert (m["offset_error_median_s"], m["offset_error_mean_s"]) == (1.25, 1.25)
    assert m["offset_error_p90_s"] == pytest.approx(0.5 + 0.9 * 1.5)
    assert (m["n_queries"], m["n_offsets"]) == (4, 2)
    none_right = retrieval_metrics([[("x", 0.0)]], [("a", 0.0)], ks=(1,))
    assert none_right["top1"] == 0.0 and math.isnan(none_right["offset_error_median_s"])
    with pytest.raises(ParameterError, match="1 prediction lists for 2 queries"):
        retrieval_metrics([[]], truth[:2])


def test_markdown_table() -> None:
    rows = {
        "song|1": {"F-measure@3.0": 0.5, "Frame accuracy": 0.25, "n": 3},
        "song2": {"F-measure@3.0": 1.0, "Frame accuracy": float("nan")},
    }
    assert markdown_table(rows, digits=2) == (
        "| track | F-measure@3.0 | Frame accuracy | n |\n"
        "|---|---:|---:|---:|\n"
        "| song\\|1 | 0.50 | 0.25 | 3 |\n"
        "| song2 | 1.00 | nan |  |\n"
        "| **mean** | 0.75 | 0.25 | 3.00 |\n"
    )
    assert markdown_table(rows, columns=["n"], mean=None, index="file").splitlines()[0] == "| file | n |"
