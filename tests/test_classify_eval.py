"""``musicedge eval classify``: the scores' arithmetic, and the command on a small labelled folder."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from musicedge.classify import Classifier
from musicedge.classify_eval import ClassifyScores, gtzan_files
from musicedge.errors import DataError
from musicedge.models import available


def test_scores_count_as_a_confusion_matrix():
    scores = ClassifyScores(
        "toy",
        ("a", "b", "c"),
        truth=["a", "a", "a", "b", "b"],
        predicted=["a", "a", "b", "b", "a"],
        top3_hits=5,
    )
    np.testing.assert_array_equal(scores.confusion(), [[2, 1, 0], [1, 1, 0], [0, 0, 0]])
    metrics = scores.metrics()
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["top-3 accuracy"] == 1.0
    # the mean recall over the labels that have files: (2/3 + 1/2) / 2; "c" has none
    assert metrics["balanced accuracy"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    table = scores.markdown()
    assert "| a | 3 | 0.667 | 0.667 |" in table and "| c | 0 | - | - |" in table


def test_gtzan_files_with_and_without_the_genres_folder(tmp_path):
    for root in (tmp_path / "with" / "genres", tmp_path / "without"):
        for label in ("jazz", "rock"):
            (root / label).mkdir(parents=True)
            sf.write(root / label / f"{label}.00000.wav", np.zeros(800, np.float32), 8000)
    for root in (tmp_path / "with", tmp_path / "without"):
        assert [label for _, label in gtzan_files(root)] == ["jazz", "rock"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio in label folders"):
        gtzan_files(tmp_path / "empty")


def _eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musicedge", "eval", "classify", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.skipif(
    "genre" not in available(), reason="no bundled genre model (python -m training.bundle genre)"
)
def test_eval_classify_scores_a_folder_with_a_bad_file_and_a_foreign_label(tmp_path):
    from training.corpus import generate_song

    genres = tmp_path / "genres"
    for i, style in enumerate(("classical", "metal", "metal")):
        song = generate_song(style, seconds=12, seed=100 + i, sample_rate=22050)
        (genres / style).mkdir(parents=True, exist_ok=True)
        sf.write(genres / style / f"{style}.{i:05d}.wav", song.audio, song.sample_rate)
    (genres / "metal" / "broken.wav").write_bytes(np.random.default_rng(0).bytes(4000))
    (genres / "speech").mkdir()
    sf.write(genres / "speech" / "talk.wav", np.zeros(22050, np.float32), 22050)

    out = _eval("--data", str(tmp_path), "-m", "genre")
    assert out.returncode == 1, out.stderr  # the broken file
    assert "broken.wav" in out.stderr
    clf = Classifier.load("genre")
    songs = sorted(genres.glob("*/*.0000*.wav"))
    expected = [clf.predict(p).label == p.parent.name for p in songs]
    assert f"| files scored | {len(expected)} |" in out.stdout
    assert f"| accuracy | {sum(expected) / len(expected):.4f} |" in out.stdout
    assert "| files that failed | 1 |" in out.stdout
    assert "| left out: labels the model lacks | speech (1) |" in out.stdout


@pytest.mark.skipif(
    "mood" not in available(), reason="no bundled mood model (python -m training.bundle mood)"
)
def test_eval_classify_refuses_a_multilabel_model_and_a_folder_of_foreign_labels(tmp_path):
    (tmp_path / "speech").mkdir()
    sf.write(tmp_path / "speech" / "talk.wav", np.zeros(22050, np.float32), 22050)
    out = _eval("--data", str(tmp_path), "-m", "mood")
    assert out.returncode == 1 and "multi-label" in out.stderr
    if "genre" in available():
        out = _eval("--data", str(tmp_path), "-m", "genre")
        assert out.returncode == 1 and "none of its labels (speech)" in out.stderr
