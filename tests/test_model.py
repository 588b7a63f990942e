"""The runtime's model layer: ``musicedge.model.OnnxModel`` and the bundled-model registry.

The ONNX files here are written with ``onnx.helper`` (no torch): a mel classifier whose logits are
``mean over time of mel`` times a weight matrix, so every output can be checked with numpy. The
export side (torch -> ONNX -> OnnxModel) is tested end to end in ``tests/export/test_export.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from musicedge import FrontendConfig, MelFrontend
from musicedge import model as model_module
from musicedge import models as registry
from musicedge.errors import ModelError, ParameterError
from musicedge.model import OnnxModel, session_threads
from musicedge.providers import usable_providers
from musicedge.spec import ModelSpec

N_MELS = 16
LABELS = ("calm", "busy", "loud")
IR_VERSION, OPSET = 9, 17  # export/__init__.py's values, repeated so these tests need no torch


def make_spec(**changes) -> ModelSpec:
    base = dict(
        task="classify",
        frontend=FrontendConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=N_MELS, log="db"),
        window_frames=24,
        hop_frames=12,
        model_name="toy",
        model_version="1.2.3",
        labels=LABELS,
        training={"data": "none", "epochs": 0, "metrics": {"accuracy": 0.5}},
        extra={"input": "mel", "thresholds": "[0.5, 0.5, 0.5]"},
    )
    base.update(changes)
    return ModelSpec(**base)


WEIGHT = np.random.default_rng(7).standard_normal((N_MELS, len(LABELS))).astype(np.float32)


def toy_graph(with_meta: bool = False) -> onnx.ModelProto:
    """``mel`` float32 (batch, 1, 16, time) [+ ``meta`` int64 (batch, tokens)] -> ``logits`` (batch, 3).

    logits = mean_time(mel[:, 0]) @ WEIGHT (+ mean(meta) on every class when ``meta`` is there).
    """
    mel = helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["batch", 1, N_MELS, "time"])
    logits = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", len(LABELS)])
    nodes = [
        helper.make_node("ReduceMean", ["mel"], ["pooled"], axes=[1, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "weight"], ["scores" if with_meta else "logits"]),
    ]
    inputs = [mel]
    if with_meta:
        inputs.append(helper.make_tensor_value_info("meta", TensorProto.INT64, ["batch", "tokens"]))
        nodes += [
            helper.make_node("Cast", ["meta"], ["meta_f"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMean", ["meta_f"], ["meta_mean"], axes=[1], keepdims=1),
            helper.make_node("Add", ["scores", "meta_mean"], ["logits"]),
        ]
    graph = helper.make_graph(
        nodes, "toy", inputs, [logits], initializer=[numpy_helper.from_array(WEIGHT, "weight")]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def write_model(path: Path, metadata: dict[str, str] | None, *, with_meta: bool = False) -> Path:
    model = toy_graph(with_meta)
    if metadata is not None:
        helper.set_model_props(model, metadata)
    onnx.save(model, path)
    return path


def expected_logits(mel: np.ndarray) -> np.ndarray:
    return mel[:, 0].astype(np.float64).mean(axis=-1) @ WEIGHT.astype(np.float64)


@pytest.fixture
def toy(tmp_path) -> Path:
    return write_model(tmp_path / "toy.onnx", make_spec().to_metadata())


# -- loading and running ---------------------------------------------------------------------------


def test_loads_the_spec_and_reports_its_provider(toy):
    with OnnxModel(toy, device="cpu", threads=1) as model:
        assert model.spec == make_spec()
        assert model.path == toy
        assert model.provider == "CPUExecutionProvider"
        assert model.input_names == ("mel",)
        assert model.output_names == ("logits",)
        assert model.inputs[0].dtype == np.float32
        assert model.inputs[0].shape == ("batch", 1, N_MELS, "time")
        assert "toy 1.2.3" in repr(model)
        assert model.session.get_providers()[0] == model.provider


def test_auto_device_runs_on_a_usable_provider(toy):
    model = OnnxModel(toy)
    assert model.provider in usable_providers()


@pytest.mark.parametrize(("batch", "frames"), [(1, 24), (5, 24), (2, 7), (3, 100)])
def test_run_matches_numpy_at_dynamic_batch_and_time(toy, batch, frames):
    mel = np.random.default_rng(batch * frames).standard_normal((batch, 1, N_MELS, frames)).astype(np.float32)
    out = OnnxModel(toy, device="cpu").run({"mel": mel})
    assert list(out) == ["logits"]
    assert out["logits"].shape == (batch, len(LABELS))
    np.testing.assert_allclose(out["logits"], expected_logits(mel), atol=1e-5)


def test_release_memory_changes_nothing_but_the_memory(toy):
    model = OnnxModel(toy, device="cpu")
    mel = np.random.default_rng(3).standard_normal((2, 1, N_MELS, 50)).astype(np.float32)
    released = model.run({"mel": mel}, release_memory=True)["logits"]
    np.testing.assert_array_equal(released, model.run({"mel": mel})["logits"])
    np.testing.assert_allclose(released, expected_logits(mel), atol=1e-5)


def test_two_inputs_and_non_contiguous_arrays(tmp_path):
    path = write_model(tmp_path / "fusion.onnx", make_spec().to_metadata(), with_meta=True)
    model = OnnxModel(path, device="cpu")
    assert model.input_names == ("mel", "meta")
    mel = np.random.default_rng(0).standard_normal((3, 1, N_MELS, 40)).astype(np.float32)[..., ::2]
    meta = np.array([[1, 2, 3], [0, 0, 0], [4, 0, 0]], np.int64)
    logits = model.run({"mel": mel, "meta": meta})["logits"]
    want = expected_logits(mel) + meta.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(logits, want, atol=1e-5)


def test_frontend_comes_from_the_metadata(toy):
    model = OnnxModel(toy, device="cpu")
    assert isinstance(model.frontend, MelFrontend)
    assert model.frontend.config == make_spec().frontend
    assert model.frontend is model.frontend  # shared, for its thread-safe compute()
    stream = model.create_frontend()
    assert stream is not model.frontend and stream.config == model.spec.frontend
    frames = model.frontend.compute(np.zeros(16000, np.float32))
    assert frames.shape == (N_MELS, model.spec.frontend.num_frames(16000))


def test_sessions_are_shared_safely_across_threads(toy):
    model = OnnxModel(toy, device="cpu", threads=1)
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((2, 1, N_MELS, 10 + i)).astype(np.float32) for i in range(32)]
    barrier = threading.Barrier(4)

    def work(mel: np.ndarray) -> np.ndarray:
        if mel.shape[-1] < 14:
            barrier.wait(timeout=10)  # the first four start together
        return model.run({"mel": mel})["logits"]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, batches))
    for mel, logits in zip(batches, results, strict=True):
        np.testing.assert_allclose(logits, expected_logits(mel), atol=1e-5)


@pytest.mark.parametrize(
    ("cores", "sessions", "expected"),
    [(2, 1, 2), (2, 2, 1), (8, 2, 4), (16, 3, 5), (1, 4, 1)],  # never below one
)
def test_session_threads_share_out_the_cores(monkeypatch, cores, sessions, expected):
    monkeypatch.setattr(model_module.os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert session_threads(sessions) == expected


def test_close_and_context_manager(toy):
    with OnnxModel(toy, device="cpu") as model:
        assert not model.closed
    assert model.closed
    model.close()  # twice is harmless
    with pytest.raises(ModelError, match="closed"):
        model.session  # noqa: B018
    with pytest.raises(ModelError, match="closed"):
        model.run({"mel": np.zeros((1, 1, N_MELS, 4), np.float32)})


# -- bad input, each with its error ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("feeds", "match"),
    [
        ({}, r"missing input\(s\) mel.*takes: mel float32 \(batch, 1, 16, time\)"),
        ({"mel": np.zeros((1, 1, N_MELS, 4), np.float32), "extra": 1}, r"unknown input\(s\) extra"),
        ({"mel": np.zeros((1, 1, N_MELS, 4), np.float64)}, r"'mel' must be float32, got float64"),
        ({"mel": np.zeros((1, N_MELS, 4), np.float32)}, r"'mel' must have rank 4"),
        ({"mel": np.zeros((1, 1, 8, 4), np.float32)}, r"'mel' axis 2 must be 16"),
        ({"mel": [[[[0.0]]]]}, r"'mel' must be a numpy array, got list"),
        ({"mel": np.zeros((0, 1, N_MELS, 4), np.float32)}, r"'mel' is empty"),
        ([np.zeros((1, 1, N_MELS, 4), np.float32)], r"feeds must be a dict"),
    ],
)
def test_run_rejects_bad_feeds(toy, feeds, match):
    with pytest.raises(ParameterError, match=match):
        OnnxModel(toy, device="cpu").run(feeds)


def test_run_wraps_onnx_runtime_failures(tmp_path):
    path = write_model(tmp_path / "fusion.onnx", make_spec().to_metadata(), with_meta=True)
    feeds = {"mel": np.zeros((2, 1, N_MELS, 4), np.float32), "meta": np.zeros((3, 1), np.int64)}
    with pytest.raises(ModelError, match=r"fusion\.onnx: ONNX Runtime failed on inputs mel \(2, 1, 16, 4\)"):
        OnnxModel(path, device="cpu").run(feeds)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threads": 0}, "threads must be a positive integer"),
        ({"threads": 1.5}, "threads must be a positive integer"),
        ({"device": "gpu"}, "device must be auto, cpu or cuda"),
    ],
)
def test_bad_settings(toy, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        OnnxModel(toy, **kwargs)


def test_cuda_asked_for_where_it_does_not_run(toy):
    if "CUDAExecutionProvider" in usable_providers():
        pytest.skip("CUDA runs here; this checks the error where it does not")
    with pytest.raises(ParameterError, match="CUDA provider does not run here"):
        OnnxModel(toy, device="cuda")


def _metadata(**changes: str | None) -> dict[str, str]:
    meta = make_spec().to_metadata()
    for key, value in changes.items():
        key = "musicedge." + key
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    return meta


BAD_FRONTEND = json.dumps({**make_spec().frontend.to_dict(), "n_fft": 1000})


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({}, r"has no 'musicedge\.schema' \(is this a musicedge model file\?\)"),
        (_metadata(task=None), r"has no 'musicedge\.task'"),
        (
            _metadata(window_frames="abc"),
            r"'musicedge\.window_frames' is malformed: expected an integer, got 'abc'",
        ),
        (_metadata(hop_frames="0"), r"'musicedge\.hop_frames' is malformed"),
        (_metadata(frontend=BAD_FRONTEND), r"'musicedge\.frontend' is malformed: .*n_fft"),
        (_metadata(frontend="{not json"), r"'musicedge\.frontend' is malformed: .*not valid JSON"),
        (_metadata(labels='"calm"'), r"'musicedge\.labels' is malformed: expected a JSON array"),
        (_metadata(multilabel="maybe"), r"'musicedge\.multilabel' is malformed"),
        (_metadata(schema="99"), r"'musicedge\.schema' is 99, newer than"),
        (_metadata(task="dance"), r"'musicedge\.task' is malformed: unknown task 'dance'"),
    ],
    ids=[
        "no-metadata",
        "no-task",
        "window-abc",
        "hop-zero",
        "frontend-nfft-1000",
        "frontend-not-json",
        "labels-not-list",
        "multilabel-maybe",
        "schema-too-new",
        "unknown-task",
    ],
)
def test_bad_metadata_names_the_file_and_the_key(tmp_path, metadata, match):
    path = write_model(tmp_path / "bad.onnx", metadata)
    with pytest.raises(ModelError, match=match) as info:
        OnnxModel(path)
    assert str(info.value).startswith(str(path))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d / "missing.onnx", "no such model file"),
        (lambda d: d, "is a folder"),
        (lambda d: (d / "empty.onnx", (d / "empty.onnx").write_bytes(b""))[0], r"empty file \(0 bytes\)"),
        (lambda d: (d / "text.onnx", (d / "text.onnx").write_text("hello"))[0], "not an ONNX model"),
        (
            lambda d: (d / "cut.onnx", (d / "cut.onnx").write_bytes(toy_graph().SerializeToString()[:100]))[
                0
            ],
            "not an ONNX model",
        ),
    ],
    ids=["missing", "folder", "empty", "text", "truncated"],
)
def test_unusable_files(tmp_path, make, match):
    path = make(tmp_path)
    with pytest.raises(ModelError, match=match) as info:
        OnnxModel(path)
    assert str(path) in str(info.value)


# -- the bundled-model registry ----------------------------------------------------------------------


@pytest.fixture
def bundle(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    write_model(folder / "toy.onnx", make_spec().to_metadata())
    write_model(folder / "other.onnx", make_spec(model_name="other").to_metadata())
    write_model(folder / "toy.int8.onnx", make_spec().to_metadata())
    write_model(folder / "toy-decoder.onnx", make_spec().to_metadata())
    (folder / "toy.md").write_text("# toy\n")
    (folder / "probe.onnx").write_bytes((registry.MODELS_DIR / "probe.onnx").read_bytes())
    monkeypatch.setattr(registry, "MODELS_DIR", folder)
    return folder


def test_available_lists_models_but_not_the_probe(bundle):
    assert registry.available() == {
        "other": bundle / "other.onnx",
        "toy": bundle / "toy.onnx",
        "toy-decoder": bundle / "toy-decoder.onnx",
        "toy.int8": bundle / "toy.int8.onnx",
    }
    assert registry.card("toy") == bundle / "toy.md"
    assert registry.card("other") is None
    # a variant (int8) or a part (decoder) of a model shares its card
    assert registry.card("toy.int8") == bundle / "toy.md"
    assert registry.card("toy-decoder") == bundle / "toy.md"


def test_resolve_names_and_paths(bundle, toy):
    assert registry.resolve("toy") == bundle / "toy.onnx"
    assert registry.resolve(toy) == toy
    assert registry.resolve(str(toy)) == toy
    assert OnnxModel(registry.resolve("other")).spec.model_name == "other"


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("nope", r"unknown model 'nope'.*bundled: other, toy"),
        ("nowhere/model.onnx", r"nowhere/model\.onnx: no such model file"),
        ("gone.onnx", r"gone\.onnx: no such model file"),
        ("probe", r"unknown model 'probe'"),
        ("", "empty model name"),
    ],
)
def test_resolve_errors(bundle, name, match):
    with pytest.raises(ModelError, match=match):
        registry.resolve(name)


def test_resolve_a_folder(bundle):
    with pytest.raises(ModelError, match="is a folder"):
        registry.resolve(bundle)


def test_resolve_with_nothing_bundled(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "MODELS_DIR", tmp_path)
    assert registry.available() == {}
    with pytest.raises(ModelError, match="none are installed"):
        registry.resolve("genre")


def test_the_probe_stays_where_providers_reads_it():
    from musicedge import providers

    assert providers.PROBE_MODEL == registry.MODELS_DIR / registry.PROBE_NAME
    assert providers.PROBE_MODEL.is_file()
    assert "probe" not in registry.available()


def test_import_needs_neither_torch_nor_onnx():
    code = (
        "import sys, musicedge.model, musicedge.models\n"
        "print(','.join(m for m in ('torch', 'onnx', 'training', 'export') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"import musicedge.model imported: {out.stdout.strip()}"
