"""The runtime Classifier and ``musicedge classify``, on a tiny exported model (no bundled weights)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
import soundfile as sf

from conftest import seeded_signal

torch = pytest.importorskip("torch")
export = pytest.importorskip("export")

from export.onnx_export import export_model  # noqa: E402
from musicedge import FrontendConfig  # noqa: E402
from musicedge.classify import Classifier  # noqa: E402
from musicedge.cli import main  # noqa: E402
from musicedge.spec import ModelSpec  # noqa: E402

CONFIG = FrontendConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=32, log="db")
LABELS = ("low", "mid", "high")


class TinyClassifier(torch.nn.Module):
    """Mean log-mel energy in three bands -> three logits: deterministic, no training needed."""

    input_names = ("mel",)
    output_names = ("logits",)
    dynamic_axes = {"mel": {0: "batch", 3: "time"}, "logits": {0: "batch"}}

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(0.5))

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        bands = mel.mean(dim=(1, 3)).reshape(mel.shape[0], 3, -1)[:, :, :10].mean(dim=2)
        return self.scale * (bands - bands.mean(dim=1, keepdim=True))

    def example_inputs(self, batch: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch, 1, 30, 40) * 10 - 40,)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> str:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("model")
    spec = ModelSpec(
        task="classify",
        frontend=CONFIG.replace(n_mels=30),
        window_frames=40,
        hop_frames=20,
        model_name="tiny-bands",
        model_version="0.1",
        labels=LABELS,
        training={"data": "none: fixed weights for tests", "epochs": 0, "metrics": {}},
    )
    path = folder / "tiny.onnx"
    export_model(TinyClassifier(), spec, path, verify=True)
    return str(path)


def tone(freq: float, seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_predict_follows_the_band_with_the_energy(tiny_model):
    clf = Classifier.load(tiny_model)
    assert clf.predict(tone(150.0, 3.0), sr=16000).label == "low"
    assert clf.predict(tone(6000.0, 3.0), sr=16000).label == "high"
    result = clf.predict(tone(6000.0, 3.0, sr=44100), sr=44100)  # resampled to the model's rate
    assert result.label == "high" and abs(result.duration_s - 3.0) < 1e-3
    assert sum(result.scores.values()) == pytest.approx(1.0)
    assert [p[1] for p in result.predictions] == sorted(result.scores.values(), reverse=True)


def test_short_silent_and_long_clips_give_valid_predictions(tiny_model):
    clf = Classifier.load(tiny_model)
    for y in (np.zeros(100, np.float32), np.zeros(16000, np.float32), seeded_signal(16000, 20.0)):
        result = clf.predict(y, sr=16000)
        assert len(result.predictions) == 3
        assert all(np.isfinite(s) for _, s in result.predictions)


def test_batching_across_files_equals_one_by_one(tiny_model, tmp_path):
    clf = Classifier.load(tiny_model, batch_size=5)
    paths = []
    for i, seconds in enumerate([0.2, 3.0, 7.5, 1.0, 12.0]):
        path = tmp_path / f"clip{i}.wav"
        sf.write(path, seeded_signal(22050, seconds, seed=i), 22050)
        paths.append(path)
    (tmp_path / "broken.wav").write_text("not audio")
    paths.insert(2, tmp_path / "broken.wav")
    results = list(clf.predict_files(paths, workers=2))
    assert len(results) == len(paths)
    assert isinstance(results[2], tuple) and "broken.wav" in str(results[2][1])
    for path, result in zip(paths, results, strict=True):
        if isinstance(result, tuple):
            continue
        one = clf.predict(path)
        assert result.path == str(path)
        for (label_a, score_a), (label_b, score_b) in zip(result.predictions, one.predictions, strict=True):
            assert label_a == label_b and score_a == pytest.approx(score_b, abs=1e-6)


def test_cli_formats_folders_and_exit_status(tiny_model, tmp_path, capsys):
    library = tmp_path / "library"
    (library / "sub").mkdir(parents=True)
    sf.write(library / "a.wav", tone(150.0, 2.0), 16000)
    sf.write(library / "sub" / "b.flac", tone(6000.0, 2.0), 16000)
    assert main(["classify", str(library), "-m", tiny_model, "-f", "jsonl", "--top-k", "2"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["path"].split("/")[-1] for r in records] == ["a.wav", "b.flac"]
    assert records[0]["predictions"][0]["label"] == "low" and len(records[0]["predictions"]) == 2
    assert set(records[0]) == {"path", "duration_s", "model", "predictions"}

    (library / "bad.ogg").write_bytes(b"OggS" + bytes(100))
    out_csv = tmp_path / "out.csv"
    assert main(["classify", str(library), "-m", tiny_model, "-f", "csv", "-o", str(out_csv)]) == 1
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert {r["path"].split("/")[-1] for r in rows} == {"a.wav", "bad.ogg", "b.flac"}
    bad = [r for r in rows if r["path"].endswith("bad.ogg")]
    assert len(bad) == 1 and bad[0]["error_type"] == "AudioError"
    assert "bad.ogg" in capsys.readouterr().err

    assert main(["classify", str(library / "a.wav"), "-m", tiny_model]) == 0
    assert "a.wav" in capsys.readouterr().out
    assert main(["classify", str(library), "-m", str(tmp_path / "missing.onnx")]) == 2
    assert main(["classify", str(tmp_path / "no-such-file.wav"), "-m", tiny_model, "-f", "jsonl"]) == 1
    assert "no such file" in capsys.readouterr().out
