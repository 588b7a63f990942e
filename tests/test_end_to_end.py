"""The whole chain with a tiny model trained in seconds: corpus -> training -> export -> ONNX Runtime ->
``musicedge classify``; and the bundled models on generated and real audio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REAL

pytest.importorskip("torch")

from musicedge.classify import Classifier  # noqa: E402
from musicedge.errors import ParameterError  # noqa: E402
from musicedge.models import available  # noqa: E402


def run(*args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_train_export_and_classify_from_the_command_line(tmp_path):
    from training.corpus import write_layout

    data = tmp_path / "gtzan"
    write_layout(
        "gtzan", str(data), tracks=6, seconds=4.0, seed=3, synth="numpy", styles=["metal", "classical"]
    )
    run_dir = tmp_path / "run"
    run("-m", "training", "classify", "--layout", "gtzan", "--data", str(data), "--model", "cnn5",
        "--epochs", "1", "--out", str(run_dir), "--window-frames", "32",
        "--model-arg", "channels=[4,4,8,8,8]", "--split", "0.34,0.33,0.33")  # fmt: skip
    model = tmp_path / "tiny.onnx"
    run("-m", "export", str(run_dir / "best.pt"), "-o", str(model))
    out = run("-m", "musicedge", "classify", str(data / "genres"), "-m", str(model), "-f", "jsonl")
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(records) == 6
    clf = Classifier.load(model)
    for record in records:
        assert {p["label"] for p in record["predictions"]} == {"classical", "metal"}
        expected = clf.predict(record["path"]).predictions
        assert [p["label"] for p in record["predictions"]] == [label for label, _ in expected]


@pytest.mark.skipif(
    "genre" not in available(), reason="no bundled genre model (python -m training.bundle genre)"
)
def test_bundled_genre_model_on_generated_and_real_audio():
    from training.corpus import generate_song

    clf = Classifier.load("genre")
    styles = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
    assert clf.labels == styles
    song = generate_song("metal", seconds=20, seed=12345, sample_rate=44100)
    assert clf.predict(song.audio, sr=song.sample_rate).label == "metal"
    int8 = Classifier.load("genre.int8")
    assert int8.predict(song.audio, sr=song.sample_rate).label == "metal"
    files = sorted(p for p in (REAL / "nonmusic").glob("*.ogg")) if (REAL / "nonmusic").exists() else []
    for path in files + [Path("silence")]:
        result = (
            clf.predict(np.zeros(22050, np.float32), sr=22050)
            if path.name == "silence"
            else clf.predict(path)
        )
        assert len(result.predictions) == 10 and abs(sum(result.scores.values()) - 1) < 1e-6


@pytest.mark.skipif(
    "mood" not in available(), reason="no bundled mood model (python -m training.bundle mood)"
)
def test_bundled_mood_tagger_returns_tags_over_their_thresholds():
    clf = Classifier.load("mood")
    assert clf.spec.multilabel and clf.thresholds is not None
    y = np.random.default_rng(0).standard_normal(16000 * 8).astype(np.float32) * 0.1
    result = clf.predict(y, sr=16000)
    for label, score in result.predictions:
        assert score >= clf.thresholds[clf.labels.index(label)]
    with_meta = clf.predict(y, sr=16000, metadata={"artists": ["nobody"], "words": ["love", "night"]})
    assert set(with_meta.scores) == set(clf.labels)
    titled = clf.predict(y, sr=16000, metadata={"title": "Nocturne No. 3 in A minor"})
    assert set(titled.scores) == set(clf.labels)
    with pytest.raises(ParameterError, match="use artists, album, words, title"):
        clf.predict(y, sr=16000, metadata={"year": 1999})
