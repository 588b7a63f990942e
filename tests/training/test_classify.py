"""The classification task end to end on tiny generated corpora: ``python -m training classify``,
its windows, checkpoints and specs, multi-label thresholds, ONNX equality, and seed 003's experiment."""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from musicedge.config import FrontendConfig  # noqa: E402
from musicedge.frontend import FrameBatcher  # noqa: E402
from training.__main__ import main  # noqa: E402
from training.corpus import write_layout  # noqa: E402
from training.loop import load_checkpoint  # noqa: E402
from training.tasks.classify import (  # noqa: E402
    ClassifyConfig,
    choose_thresholds,
    prepare_data,
    window_scores,
)
from training.tasks.data import (  # noqa: E402
    AllWindows,
    MetaVocabulary,
    RandomWindows,
    TrackSet,
    WindowGeometry,
    aggregate_by_track,
    meta_tokens,
    num_windows,
)

torch.set_num_threads(1)

TINY_CNN = ["--model-arg", "channels=[4,4,8,8,8]"]
TINY_SPLIT = ["--split", "0.34,0.33,0.33"]  # 3 tracks per style: one each for train, valid and test


@pytest.fixture(scope="module")
def gtzan_root(tmp_path_factory) -> Path:
    """2 styles x 3 tracks of 4 s in the GTZAN layout."""
    root = tmp_path_factory.mktemp("gtzan")
    write_layout("gtzan", str(root), 6, 4.0, seed=0, jobs=1, styles=("blues", "metal"))
    return root


@pytest.fixture(scope="module")
def melon_root(tmp_path_factory) -> Path:
    """12 melon-layout tracks of 4 s (mel .npy, labels, metadata), 80/20 train/test."""
    root = tmp_path_factory.mktemp("melon")
    write_layout("melon", str(root), 12, 4.0, seed=0, jobs=1)
    return root


def classify(*args: str) -> int:
    return main(["classify", "--threads", "1", *map(str, args)])


# -- windows ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_frames", [1, 20, 64, 65, 100, 131, 500])
def test_windows_are_the_runtime_windows(n_frames):
    """AllWindows cuts exactly what FrameBatcher(tail="pad", pad_value=-100) gives the runtime."""
    rng = np.random.default_rng(n_frames)
    frames = (rng.standard_normal((16, n_frames)) * 10).astype(np.float32)
    batcher = FrameBatcher(n_mels=16, window=32, hop=12, batch_size=7, tail="pad", pad_value=-100.0)
    expected = np.concatenate([batch for batch, _ in batcher.batches(frames)])
    tracks = TrackSet(["a"], [frames], np.array([0]))
    windows = AllWindows(tracks, WindowGeometry(32, 12))
    got = np.concatenate([inputs[0] for inputs, _ in windows.batches(5)])
    assert len(windows) == num_windows(n_frames, 32, 12) == len(expected)
    np.testing.assert_array_equal(got, expected)
    x, (y, track) = windows[0]
    assert x.shape == (1, 16, 32) and int(y) == 0 and int(track) == 0


def test_random_windows_are_seeded_and_in_range():
    frames = np.arange(10 * 300, dtype=np.float32).reshape(10, 300)
    tracks = TrackSet(["a", "b"], [frames, frames[:, :40]], np.array([0, 1]))
    data = RandomWindows(tracks, WindowGeometry(64, 32), crops=3)
    assert len(data) == 6
    torch.manual_seed(0)
    first = [data[i][0] for i in range(6)]
    torch.manual_seed(0)
    again = [data[i][0] for i in range(6)]
    for a, b in zip(first, again, strict=True):
        torch.testing.assert_close(a, b)
    starts = {int(x[0, 0, 0]) for x, _ in (data[0] for _ in range(50))}
    assert all(0 <= s <= (num_windows(300, 64, 32) - 1) * 32 for s in starts) and len(starts) > 1
    short = data[1][0]
    assert short.shape == (1, 10, 64) and (short[0, :, 40:] == -100).all()


def test_waveform_windows_span_the_frames():
    wave = np.arange(5000, dtype=np.float32)
    geometry = WindowGeometry(4, 2, unit=512, pad=0.0)
    windows = AllWindows(TrackSet(["a"], [wave], np.array([0])), geometry)
    assert len(windows) == num_windows(5000, 2048, 1024) == 4
    x, _ = windows[3]
    assert x.shape == (1, 2048)
    assert x[0, 0] == 3072 and (x[0, 5000 - 3072 :] == 0).all()


def test_aggregate_by_track_is_the_mean():
    scores = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.2, 0.8]])
    out = aggregate_by_track(scores, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.35, 0.65]])


def test_meta_vocabulary():
    meta = {
        "meta": {
            "track_meta": {"artist_name_list": ["The Band"], "album_name": "First"},
            "lyric_meta": {"lyric_words": ["Love", "night"]},
        }
    }
    tokens = meta_tokens(meta)
    assert tokens == ["artist:the band", "album:first", "word:love", "word:night"]
    meta["meta"]["track_meta"]["track_title"] = "Nocturne No. 3 in F# minor"
    assert meta_tokens(meta)[4:] == [f"title:{w}" for w in ("nocturne", "no", "3", "in", "f#", "minor")]
    meta["meta"]["track_meta"].pop("track_title")
    assert meta_tokens({}) == []
    vocab = MetaVocabulary.build([tokens, ["word:love"]], max_tokens=6)
    ids = vocab.encode(tokens + ["word:unknown"])
    assert ids.shape == (6,) and ids.dtype == np.int64
    assert sorted(ids[:4]) == [1, 2, 3, 4] and (ids[4:] == 0).all()
    assert vocab.encode([]).tolist() == [0] * 6


def test_choose_thresholds_shrinks_rare_tags_to_the_shared_threshold():
    from training.metrics import select_thresholds

    rng = np.random.default_rng(0)
    truth = np.zeros((400, 3), dtype=np.int64)
    truth[:200, 0] = 1  # a frequent tag
    truth[100:300, 1] = 1
    truth[0, 2] = 1  # a tag with one positive
    scores = np.clip(truth * 0.5 + rng.uniform(0.0, 0.45, truth.shape), 0, 1)
    scores[:, 0] += 0.3  # the frequent tag's own best threshold lies 0.3 higher than the others'
    own = select_thresholds(truth, scores)
    thresholds = choose_thresholds(truth, scores, prior=20)
    assert thresholds.shape == (3,)
    assert abs(thresholds[0] - own[0]) < 0.1 * abs(own[0] - thresholds[2])  # mostly its own
    shared = choose_thresholds(truth, scores, prior=1e12)  # all pulled to the one shared threshold
    assert np.ptp(shared) < 1e-6 and 0.01 <= shared[0] <= 0.99
    assert abs(thresholds[2] - shared[2]) <= abs(own[2] - shared[2]) / 20  # mostly the shared one
    np.testing.assert_allclose(choose_thresholds(truth, scores, prior=1e-12), own)


# -- end to end -------------------------------------------------------------------------------------------


def test_classify_gtzan_end_to_end(gtzan_root, tmp_path, capsys):
    run = tmp_path / "run"
    code = classify(
        "--layout", "gtzan", "--data", gtzan_root, "--model", "cnn5", "--epochs", 2, "--out", run,
        "--window-frames", 64, "--hop-frames", 32, "--schedule", "constant", *TINY_CNN, *TINY_SPLIT,
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr()
    assert "genre-cnn5: best epoch" in out.out and "test" in out.out
    assert "epoch   2/2" in out.err
    model, spec, checkpoint = load_checkpoint(run / "best.pt")
    assert spec.task == "classify" and spec.labels == ("blues", "metal") and not spec.multilabel
    assert spec.frontend == FrontendConfig.preset("gtzan22k")
    assert (spec.window_frames, spec.hop_frames) == (64, 32)
    assert spec.model_name == "genre-cnn5"
    assert spec.extra["input"] == "mel" and spec.extra["architecture"] == "cnn5"
    data = spec.training["data"]
    assert data["layout"] == "gtzan" and data["root"] == str(gtzan_root) and data["split_seed"] == 0
    assert data["n_tracks"] == {"train": 2, "valid": 2, "test": 2}
    assert set(spec.training["metrics"]) == {"valid", "test"}
    assert 0.0 <= spec.training["metrics"]["test"]["accuracy"] <= 1.0
    assert spec.training["epochs"] in (1, 2)
    with torch.no_grad():
        assert model(*model.example_inputs(2)).shape == (2, 2)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] == spec.training["metrics"]["test"]["accuracy"]
    assert len(metrics["history"]) == 2 and metrics["parameters"] > 0
    assert (run / "last.pt").is_file()


def test_trained_checkpoint_scores_the_same_through_onnx_runtime(gtzan_root, tmp_path):
    """The trained model, exported with the protocol's names and axes, gives the same track scores."""
    ort = pytest.importorskip("onnxruntime")
    run = tmp_path / "run"
    assert classify(
        "--layout", "gtzan", "--data", gtzan_root, "--model", "resnet", "--epochs", 1, "--out", run,
        "--window-frames", 48, "--model-arg", "channels=[4,8]", *TINY_SPLIT,
    ) == 0  # fmt: skip
    model, spec, _ = load_checkpoint(run / "best.pt")
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, model.example_inputs(2), f, input_names=list(model.input_names),
            output_names=list(model.output_names), dynamic_axes=model.dynamic_axes, opset_version=17,
            dynamo=False,
        )  # fmt: skip
    session = ort.InferenceSession(f.getvalue(), providers=["CPUExecutionProvider"])
    cfg = ClassifyConfig(
        layout="gtzan", data=gtzan_root, out=tmp_path, model="resnet", split=(0.34, 0.33, 0.33)
    )
    prepared = prepare_data(cfg, log=io.StringIO())
    geometry = WindowGeometry(spec.window_frames, spec.hop_frames)
    test = prepared.tests["test"]

    def torch_predict(inputs):
        with torch.no_grad():
            return model(*map(torch.from_numpy, inputs)).numpy()

    def onnx_predict(inputs):
        return session.run(None, {"mel": inputs[0]})[0]

    expected = window_scores(torch_predict, test, geometry, multilabel=False)
    got = window_scores(onnx_predict, test, geometry, multilabel=False)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    accuracy = float(np.mean(got.argmax(1) == test.targets))
    assert accuracy == pytest.approx(spec.training["metrics"]["test"]["accuracy"])


def test_classify_synthetic_generates_its_corpus(tmp_path):
    data = tmp_path / "corpus"
    run = tmp_path / "run"
    code = classify(
        "--layout", "synthetic", "--data", data, "--synthetic-tracks", 6, "--synthetic-seconds", 3,
        "--synthetic-styles", "jazz,rock", "--jobs", 1, "--epochs", 1, "--out", run,
        "--window-frames", 32, *TINY_CNN, *TINY_SPLIT,
    )  # fmt: skip
    assert code == 0
    assert len(list((data / "genres").glob("*/*.wav"))) == 6
    _, spec, _ = load_checkpoint(run / "best.pt")
    assert spec.labels == ("jazz", "rock")
    assert spec.training["data"]["synthetic"]["tracks"] == 6


def test_waveform_model_spec(gtzan_root, tmp_path):
    run = tmp_path / "run"
    code = classify(
        "--layout", "gtzan", "--data", gtzan_root, "--model", "hubert", "--epochs", 1, "--out", run,
        "--window-frames", 32, "--hop-frames", 16, "--model-arg", "dim=16", "--model-arg", "depth=1",
        "--model-arg", "heads=2", "--model-arg", "conv_channels=[4,8,8,8,8,8,8]", *TINY_SPLIT,
    )  # fmt: skip
    assert code == 0
    model, spec, _ = load_checkpoint(run / "best.pt")
    assert model.input_names == ("wave",)
    assert spec.extra["input"] == "wave"
    assert int(spec.extra["window_samples"]) == 32 * 512 and int(spec.extra["hop_samples"]) == 16 * 512
    assert model.example_inputs(1)[0].shape == (1, 1, 32 * 512)


def test_noise_and_extra_data_join_training(gtzan_root, tmp_path):
    extra = tmp_path / "extra"
    write_layout("gtzan", str(extra), 2, 3.0, seed=5, jobs=1, styles=("blues", "metal"))
    cfg = ClassifyConfig(
        layout="gtzan", data=gtzan_root, out=tmp_path / "run", noise_snr=10.0, extra_data=[extra],
        split=(0.34, 0.33, 0.33),
    )  # fmt: skip
    prepared = prepare_data(cfg, log=io.StringIO())
    assert len(prepared.train) == 2 * (2 + 2)  # (train + extra) and a noisy copy of each
    assert prepared.info["n_extra"] == 2 and prepared.info["noise_snr"] == 10.0
    clean, noisy = prepared.train.features[0], prepared.train.features[len(prepared.train) // 2]
    assert prepared.train.ids[len(prepared.train) // 2].endswith("+noise")
    assert clean.shape == noisy.shape and not np.allclose(clean, noisy)


def test_mood_tagging_stores_thresholds(melon_root, tmp_path):
    run = tmp_path / "run"
    code = classify(
        "--layout", "melon", "--data", melon_root, "--target", "mood", "--epochs", 1, "--out", run,
        "--window-frames", 32, *TINY_CNN,
    )  # fmt: skip
    assert code == 0
    _, spec, _ = load_checkpoint(run / "best.pt")
    assert spec.multilabel and spec.model_name == "mood-cnn5"
    assert spec.frontend == FrontendConfig.preset("melon16k")
    thresholds = json.loads(spec.extra["thresholds"])
    assert len(thresholds) == len(spec.labels) >= 2
    assert all(isinstance(t, float) for t in thresholds)
    test = spec.training["metrics"]["test"]
    assert 0.0 <= test["micro_f1"] <= 1.0 and "roc_auc_micro" in test
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["thresholds"] == pytest.approx(thresholds, abs=1e-6)


def test_station_fusion_with_metadata(melon_root, tmp_path):
    run = tmp_path / "run"
    code = classify(
        "--layout", "melon", "--data", melon_root, "--model", "fusion", "--epochs", 1, "--out", run,
        "--window-frames", 32, "--split", "0.5,0.5,0", *TINY_CNN,
    )  # fmt: skip
    assert code == 0
    model, spec, _ = load_checkpoint(run / "best.pt")
    assert model.input_names == ("mel", "meta")
    assert spec.model_name == "station-fusion" and not spec.multilabel
    vocab = json.loads(spec.extra["meta_vocab"])
    assert len(vocab) == model.vocab_size and any(t.startswith("artist:") for t in vocab)
    assert int(spec.extra["meta_max_tokens"]) >= 1
    with torch.no_grad():
        mel = model.example_inputs(2)[0]
        assert model(mel, torch.zeros(2, 1, dtype=torch.int64)).shape == (2, len(spec.labels))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--layout", "melon", "--model", "hubert"], "takes waveforms"),
        (["--layout", "gtzan", "--target", "mood"], "not offered"),
        (["--layout", "gtzan", "--model", "fusion"], "metadata"),
        (["--layout", "melon", "--noise-snr", "10"], "no audio"),
        (["--layout", "gtzan", "--model", "vgg"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        classify(*args, "--data", tmp_path, "--out", tmp_path / "run")
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_data_errors_exit_1(gtzan_root, tmp_path, capsys):
    """Three tracks per style cannot fill valid and test with the default 80/10/10 split."""
    code = classify("--layout", "gtzan", "--data", gtzan_root, "--epochs", 1, "--out", tmp_path / "run")
    assert code == 1
    assert "split is empty" in capsys.readouterr().err
    code = classify(
        "--layout", "gtzan", "--data", tmp_path / "absent", "--epochs", 1, "--out", tmp_path / "r"
    )
    assert code == 1
    assert "not a folder" in capsys.readouterr().err


# -- seed 003 ---------------------------------------------------------------------------------------------


def test_seed003_quick_writes_the_table(tmp_path):
    from training.experiments.seed003 import main as seed003

    out = tmp_path / "out"
    assert seed003(["--data", str(tmp_path / "data"), "--out", str(out), "--quick", "--threads", "1"]) == 0
    report = (out / "seed003.md").read_text()
    assert "| Baseline data | Baseline + Noise data | Baseline + Generated data |" in report
    for row in ("CNN (`cnn5`)", "AST (`ast`)", "HuBERT (`hubert`)"):
        assert report.count(row) == 2  # the ROC-AUC table and the accuracy table
    results = json.loads((out / "seed003.json").read_text())["results"]
    assert set(results) == {"CNN", "AST", "HuBERT"}
    for by_variant in results.values():
        assert set(by_variant) == {"baseline", "noise", "generated"}
        for cell in by_variant.values():
            assert {"accuracy", "roc_auc"} <= set(cell["clean"]) and "accuracy" in cell["noisy"]
    assert (out / "runs" / "cnn-noise" / "best.pt").is_file()


def test_export_flag_scores_fp32_and_int8(gtzan_root, tmp_path):
    pytest.importorskip("onnx")
    export = pytest.importorskip("export")
    if not hasattr(export, "export_checkpoint"):
        pytest.skip("export.export_checkpoint is not available")
    run = tmp_path / "run"
    code = classify(
        "--layout", "gtzan", "--data", gtzan_root, "--epochs", 1, "--out", run, "--window-frames", 48,
        "--export", *TINY_CNN, *TINY_SPLIT,
    )  # fmt: skip
    assert code == 0
    assert (run / "model.onnx").is_file() and (run / "model.int8.onnx").is_file()
    onnx = json.loads((run / "metrics.json").read_text())["onnx"]
    for variant in ("fp32", "int8"):
        assert 0.0 <= onnx[variant]["test"]["accuracy"] <= 1.0
    from musicedge.model import OnnxModel

    spec = OnnxModel(run / "model.onnx").spec
    assert spec.labels == ("blues", "metal") and spec.window_frames == 48
