"""Export end to end: a tiny model that follows the protocol is trained for a few steps,
checkpointed, exported through ``python -m export`` (fp32 and int8), and run through the runtime's
``OnnxModel``, which must agree with torch within 1e-4 at any batch size and length."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

import export
from export import IR_VERSION, OPSET
from export import onnx_export as onnx_export_module
from export.__main__ import main
from export.onnx_export import check_protocol, export_model
from export.verify import DEFAULT_REAL_MUSIC, VerificationError, compare, random_cases, real_inputs
from musicedge import FrontendConfig
from musicedge.errors import ModelError, ParameterError
from musicedge.model import OnnxModel
from musicedge.spec import METADATA_KEYS, ModelSpec
from training.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[2]
N_MELS, WINDOW, LABELS = 16, 24, ("a", "b", "c", "d")


class TinyCRNN(nn.Module):
    """``mel`` (B, 1, 16, T) -> ``logits`` (B, 4): conv, BN, pool, conv, then a GRU over time (a CRNN:
    the conv -> reshape -> GRU pattern that the dynamo exporter cannot decompose)."""

    input_names = ("mel",)
    output_names = ("logits",)

    def __init__(self, n_mels: int = N_MELS, window: int = WINDOW, n_classes: int = len(LABELS)) -> None:
        super().__init__()
        self.model_kwargs = {"n_mels": n_mels, "window": window, "n_classes": n_classes}
        self.n_mels, self.window = n_mels, window
        self.dynamic_axes = {"mel": {0: "batch", 3: "time"}, "logits": {0: "batch"}}
        self.conv = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 8, 3, padding=1),
        )
        self.gru = nn.GRU(8 * (n_mels // 2), 12, batch_first=True)
        self.head = nn.Linear(8 + 12, n_classes)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv((torch.clamp(mel, min=-100.0) + 50.0) / 30.0))  # (B, 8, F/2, T/2)
        b, c, f, t = x.shape
        sequence, _ = self.gru(x.permute(0, 3, 1, 2).reshape(b, t, c * f))
        return self.head(torch.cat([x.mean(dim=(2, 3)), sequence.mean(dim=1)], dim=1))

    def example_inputs(self, batch: int = 2) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch, 1, self.n_mels, self.window) * 20.0 - 40.0,)


class TinyAttention(TinyCRNN):
    """TinyCRNN with a torch ``nn.TransformerEncoderLayer`` over time (``nn.MultiheadAttention`` inside)."""

    def __init__(self, n_mels: int = N_MELS, window: int = WINDOW, n_classes: int = len(LABELS)) -> None:
        super().__init__(n_mels, window, n_classes)
        self.encoder = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        self.head = nn.Linear(8, n_classes)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv((torch.clamp(mel, min=-100.0) + 50.0) / 30.0))
        tokens = self.encoder(x.mean(dim=2).transpose(1, 2))  # (B, T/2, 8)
        return self.head(tokens.mean(dim=1))


class TinyWave(nn.Module):
    """``wave`` (B, 1, N) -> ``logits`` (B, 4): a strided 1-D conv encoder, mean over time."""

    input_names = ("wave",)
    output_names = ("logits",)

    def __init__(self, samples: int = WINDOW * 256) -> None:
        super().__init__()
        self.model_kwargs = {"samples": samples}
        self.samples = samples
        self.dynamic_axes = {"wave": {0: "batch", 2: "samples"}, "logits": {0: "batch"}}
        self.encoder = nn.Sequential(nn.Conv1d(1, 8, 64, stride=32), nn.GELU(), nn.Conv1d(8, 8, 4, stride=2))
        self.head = nn.Linear(8, len(LABELS))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(wave).mean(dim=-1))

    def example_inputs(self, batch: int = 2) -> tuple[torch.Tensor, ...]:
        return (0.1 * torch.randn(batch, 1, self.samples),)


def make_spec(**changes) -> ModelSpec:
    base = dict(
        task="classify",
        frontend=FrontendConfig(sample_rate=16000, n_fft=512, hop_length=256, n_mels=N_MELS, log="db"),
        window_frames=WINDOW,
        hop_frames=WINDOW // 2,
        model_name="tiny-crnn",
        model_version="0.0.1",
        labels=LABELS,
        training={"data": "random noise", "epochs": 1, "metrics": {"accuracy": 0.25}},
    )
    base.update(changes)
    return ModelSpec(**base)


def trained(model: nn.Module, steps: int = 5) -> nn.Module:
    """A few Adam steps on random windows and labels: weights and BatchNorm statistics move off init."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        mel = model.example_inputs(8)[0]
        loss = nn.functional.cross_entropy(model(mel), torch.randint(0, len(LABELS), (8,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("run")
    save_checkpoint(folder / "best.pt", trained(TinyCRNN()), make_spec(), epoch=1)
    return folder


@pytest.fixture(scope="module")
def cli_export(run_dir) -> dict:
    """``python -m export RUN/best.pt -o MODEL.onnx --int8 --json REPORT`` in a fresh process."""
    out = run_dir / "tiny.onnx"
    env = dict(os.environ)
    # The checkpoint names its class by module path: this file, as pytest imported it.
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent), str(ROOT), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "export",
            str(run_dir / "best.pt"),
            "-o",
            str(out),
            "--int8",
            "--json",
            str(run_dir / "report.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {
        "path": out,
        "int8": run_dir / "tiny.int8.onnx",
        "stdout": result.stdout,
        "report": json.loads((run_dir / "report.json").read_text()),
    }


def torch_model(run_dir: Path) -> nn.Module:
    from training.checkpoint import load_checkpoint

    model, _, _ = load_checkpoint(run_dir / "best.pt")
    return model


# -- the command line, end to end ----------------------------------------------------------------


def test_cli_prints_a_report_and_writes_both_files(cli_export):
    assert cli_export["path"].is_file() and cli_export["int8"].is_file()
    out = cli_export["stdout"]
    for text in ("opset 17, IR 9", "random", "max |diff|", "int8", "PASSED"):
        assert text in out, out
    report = cli_export["report"]
    assert report["passed"] and report["verified"]
    assert report["opset"] == OPSET and report["ir_version"] == IR_VERSION
    fp32_checks = [c for c in report["checks"] if not c["name"].startswith("int8")]
    assert fp32_checks and all(c["max_abs_diff"] < 1e-4 for c in fp32_checks)
    if DEFAULT_REAL_MUSIC.is_dir():
        assert {c["name"] for c in report["checks"]} >= {"random", "real", "int8 real"}


@pytest.mark.parametrize(("batch", "frames"), [(1, WINDOW), (4, WINDOW), (3, 13), (2, 57), (1, 200)])
def test_onnx_model_matches_torch_at_dynamic_batch_and_time(cli_export, run_dir, batch, frames):
    model = torch_model(run_dir)
    mel = torch.randn(batch, 1, N_MELS, frames) * 25.0 - 40.0
    with torch.no_grad():
        want = model(mel).numpy()
    with OnnxModel(cli_export["path"], device="cpu", threads=1) as onnx_model:
        got = onnx_model.run({"mel": mel.numpy()})["logits"]
    assert got.shape == (batch, len(LABELS))
    assert np.abs(got - want).max() < 1e-4


def test_metadata_round_trip_and_file_versions(cli_export):
    proto = onnx.load(cli_export["path"])
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version == IR_VERSION
    assert {o.domain: o.version for o in proto.opset_import}[""] == OPSET
    props = {p.key: p.value for p in proto.metadata_props}
    assert set(METADATA_KEYS) <= set(props)
    assert props == make_spec().to_metadata()
    assert OnnxModel(cli_export["path"]).spec == make_spec()
    assert [i.name for i in proto.graph.input] == ["mel"]
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 1, N_MELS, "time"]


def test_int8_copy_carries_the_metadata_and_agrees(cli_export, run_dir):
    int8 = OnnxModel(cli_export["int8"], device="cpu")
    quantization = json.loads(int8.spec.extra["quantization"])
    assert quantization["method"] in ("static", "dynamic")
    assert int8.spec.replace(extra={}) == make_spec()
    proto = onnx.load(cli_export["int8"])
    assert proto.ir_version == IR_VERSION
    assert {o.domain: o.version for o in proto.opset_import}[""] == OPSET
    report = cli_export["report"]
    check = next(c for c in report["checks"] if c["name"].startswith("int8"))
    assert check["passed"] and check["top1_agreement"] >= 0.9
    assert report["quantization"]["method"] == quantization["method"]
    assert set(report["quantization"]["latency_ms"]) >= {"fp32", quantization["method"]}

    fp32 = OnnxModel(cli_export["path"], device="cpu")
    mel = (np.random.default_rng(0).standard_normal((16, 1, N_MELS, 40)) * 20 - 40).astype(np.float32)
    a, b = fp32.run({"mel": mel})["logits"], int8.run({"mel": mel})["logits"]
    assert np.isfinite(b).all() and np.abs(a - b).max() < 0.25 * max(1.0, float(np.ptp(a)))


# -- the Python API --------------------------------------------------------------------------------


def test_export_model_with_npy_calibration_and_compare(tmp_path):
    torch.manual_seed(1)
    model = trained(TinyCRNN())
    frames = (np.random.default_rng(1).standard_normal((N_MELS, 300)) * 15 - 45).astype(np.float32)
    np.save(tmp_path / "frames.npy", frames)
    report = export_model(model, make_spec(), tmp_path / "m.onnx", calibration=tmp_path / "frames.npy")
    assert report.passed and report.max_abs_diff < 1e-4
    assert report.real_inputs is not None and "24 windows of 1 file(s)" in report.real_inputs
    assert [c["name"] for c in report.checks] == ["random", "real"]
    assert report.checks[1]["n_examples"] == 24  # windows of 24 frames every 12 over 300 frames, tail padded
    assert "PASSED" in str(report)

    result = export.compare(model, tmp_path / "m.onnx", model.example_inputs(3))
    assert result["max_abs_diff"] < 1e-4 and result["n_examples"] == 3 and result["top1_agreement"] == 1.0
    many = compare(model, tmp_path / "m.onnx", [{"mel": torch.randn(2, 1, N_MELS, n)} for n in (5, 31)])
    assert many["n_cases"] == 2 and not many["errors"]


def test_real_inputs_from_the_cpp_frontend():
    if not DEFAULT_REAL_MUSIC.is_dir():
        pytest.skip(f"real music not present: {DEFAULT_REAL_MUSIC}")
    real = real_inputs(TinyCRNN(), make_spec(), max_windows=10, seconds_per_file=3.0)
    mel = real.arrays["mel"]
    assert mel.shape == (10, 1, N_MELS, WINDOW) and mel.dtype == np.float32
    assert mel.min() >= -100.0 and np.ptp(mel) > 20.0  # dB values of real music, floor -100
    assert len(real.cases(4)) == 1 and real.cases(4)[0].inputs[0].shape == (4, 1, N_MELS, WINDOW)


def test_waveform_model_on_real_sample_windows(tmp_path):
    torch.manual_seed(3)
    report = export_model(TinyWave().eval(), make_spec(extra={"input": "wave"}), tmp_path / "wave.onnx")
    assert report.passed and report.max_abs_diff < 1e-4
    assert report.inputs == {"wave": ("batch", 1, "samples")}
    if DEFAULT_REAL_MUSIC.is_dir():
        real = next(c for c in report.checks if c["name"] == "real")
        assert real["cases"][0]["shapes"]["wave"][1:] == (1, WINDOW * 256)


def test_no_verify_writes_without_checking(tmp_path, run_dir, capsys):
    out = tmp_path / "unchecked.onnx"
    assert main([str(run_dir / "best.pt"), "-o", str(out), "--no-verify"]) == 0
    assert out.is_file() and "skipped (--no-verify)" in capsys.readouterr().out


def test_standard_multihead_attention_exports_with_dynamic_length(tmp_path):
    torch.manual_seed(2)
    model = TinyAttention().eval()
    report = export_model(model, make_spec(), tmp_path / "attention.onnx", calibration=[])
    random_check = report.checks[0]
    assert random_check["passed"] and random_check["n_cases"] == len(random_cases(model))


def test_a_shape_baked_into_the_graph_fails_loudly(tmp_path, monkeypatch):
    # Without the traceable MultiheadAttention, TorchScript bakes the length into a Reshape.
    monkeypatch.setattr(
        onnx_export_module, "_exportable_copy", lambda m: __import__("copy").deepcopy(m).eval()
    )
    out = tmp_path / "baked.onnx"
    with pytest.raises(VerificationError, match=r"random: ONNX Runtime fails where torch runs") as info:
        export_model(TinyAttention().eval(), make_spec(), out, calibration=[])
    assert not out.exists()
    assert info.value.report is not None and not info.value.report.passed


# -- bad input, each with its error ----------------------------------------------------------------


class NoNames(TinyCRNN):
    input_names = ()


class StaticBatch(TinyCRNN):
    def __init__(self) -> None:
        super().__init__()
        self.dynamic_axes = {"mel": {3: "time"}, "logits": {0: "batch"}}


class TwoOutputs(TinyCRNN):
    output_names = ("logits", "embedding")

    def __init__(self) -> None:
        super().__init__()
        self.dynamic_axes = {**self.dynamic_axes, "embedding": {0: "batch"}}


@pytest.mark.parametrize(
    ("model", "spec", "match"),
    [
        (NoNames(), make_spec(), "input_names must be a non-empty tuple"),
        (StaticBatch(), make_spec(), r"axis 0 \(the batch\).*mel"),
        (TwoOutputs(), make_spec(), r"returned 1 value\(s\); output_names declares 2"),
        (TinyCRNN(n_classes=3), make_spec(), r"logits of shape \(2, 3\) but its spec has 4 labels"),
        (TinyCRNN(n_mels=32), make_spec(), "takes 32 mel bands but its spec's frontend makes 16"),
        (
            TinyCRNN(),
            make_spec(extra={"input": "wave"}),
            r"extra\['input'\] is 'wave' \(musicedge\.extra\.input\)",
        ),
        (TinyWave(), make_spec(), r"TinyWave takes wave, but its spec's extra\['input'\] is None"),
    ],
    ids=[
        "no-input-names",
        "static-batch",
        "output-count",
        "label-count",
        "mel-bands",
        "mel-as-wave",
        "wave-as-mel",
    ],
)
def test_models_that_cannot_be_exported(tmp_path, model, spec, match):
    with pytest.raises(ModelError, match=match):
        export_model(model.eval(), spec, tmp_path / "x.onnx", verify=False)
    assert not (tmp_path / "x.onnx").exists()


def test_protocol_check_returns_the_declared_names():
    assert check_protocol(TinyCRNN()) == (
        ("mel",),
        ("logits",),
        {"mel": {0: "batch", 3: "time"}, "logits": {0: "batch"}},
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"int8_method": "fast"}, ParameterError, "int8_method must be one of"),
        ({"atol": 0}, ParameterError, "atol must be a positive number"),
        (
            {"calibration": "/nowhere/audio"},
            ParameterError,
            "calibration source /nowhere/audio: no such file",
        ),
    ],
)
def test_bad_options(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        export_model(TinyCRNN().eval(), make_spec(), tmp_path / "x.onnx", **kwargs)


def test_output_must_be_onnx(tmp_path):
    with pytest.raises(ParameterError, match=r"must end in \.onnx"):
        export_model(TinyCRNN().eval(), make_spec(), tmp_path / "x.bin")


def test_cli_errors(tmp_path, capsys):
    assert main([str(tmp_path / "missing.pt"), "-o", str(tmp_path / "x.onnx")]) == 1
    assert "error: no checkpoint at" in capsys.readouterr().err
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    assert main([str(tmp_path / "junk.pt")]) == 1
    assert "is not a readable torch checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--bogus"])
    assert info.value.code == 2
