"""The musicedge command line: exit statuses, outputs, the bench JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from musicedge import FrontendConfig, MelFrontend
from musicedge.audio import load
from musicedge.cli import main

from conftest import seeded_signal


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musicedge", *args], capture_output=True, text=True, timeout=300
    )


def test_version_and_info():
    out = run_cli("--version")
    assert out.returncode == 0 and "musicedge, version" in out.stdout
    out = run_cli("info")
    assert out.returncode == 0
    assert "providers usable" in out.stdout and "CPUExecutionProvider" in out.stdout
    assert "native build" in out.stdout


def test_models_lists_every_bundled_model_from_its_metadata():
    from musicedge.model import OnnxModel
    from musicedge.models import available

    out = run_cli("models")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["name", "task", "version", "outputs", "frontend", "size", "card"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == set(available())
    for name, path in available().items():
        spec = OnnxModel(path, device="cpu").spec
        assert rows[name].split()[1:3] == [spec.task, spec.model_version]
    if "genre.int8" in rows:  # a variant lists its model's card
        assert rows["genre.int8"].rstrip().endswith("genre.md")


def test_mel_writes_the_frontend_output(tmp_path):
    wav = tmp_path / "song.wav"
    sf.write(wav, seeded_signal(44100, 2.0), 44100)
    out_path = tmp_path / "mel.npy"
    assert main(["mel", str(wav), "-o", str(out_path), "--preset", "melon16k"]) == 0
    cfg = FrontendConfig.preset("melon16k")
    expected = MelFrontend(cfg).compute(load(wav, sr=16000)[0])
    np.testing.assert_array_equal(np.load(out_path), expected)


def test_mel_exit_statuses(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    out = run_cli("mel", str(bad), "-o", str(tmp_path / "x.npy"))
    assert out.returncode == 1 and "bad.wav: cannot decode as audio" in out.stderr
    assert run_cli("mel", str(bad)).returncode == 2  # no -o: usage error
    assert run_cli("mel", str(bad), "-o", "x.npy", "--preset", "nope").returncode == 2
    assert run_cli("no-such-command").returncode == 2


@pytest.mark.slow
def test_bench_quick_writes_json_markdown_and_plot(tmp_path):
    json_path, report = tmp_path / "bench.json", tmp_path / "bench.md"
    out = run_cli("bench", "--suite", "frontend", "--quick", "--json", str(json_path), "-o", str(report))
    assert out.returncode == 0, out.stderr[-2000:]
    records = json.loads(json_path.read_text())
    keys = {"suite", "case", "value", "unit", "baseline", "baseline_value", "ratio"}
    assert records and all(keys <= set(r) for r in records)
    compared = [r for r in records if r["baseline"]]
    assert {r["baseline"] for r in compared} == {"librosa", "scipy.fft.rfft floor"}
    for r in compared:
        assert r["value"] > 0 and r["baseline_value"] > 0
        assert r["ratio"] == pytest.approx(r["baseline_value"] / r["value"])
    assert "| frontend |" in report.read_text()
    assert report.with_suffix(".png").stat().st_size > 1000
