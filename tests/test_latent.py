"""The latent space end to end (a tiny VAE trained in seconds -> two ONNX files -> ``LatentModel`` ->
``musicedge latent``), its bad input, and the numpy pieces (descriptors, Griffin-Lim, PNG strips)."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicedge.config import FrontendConfig
from musicedge.descriptors import DESCRIPTORS, describe, describe_batch
from musicedge.errors import AudioError, ModelError, ParameterError
from musicedge.frontend import MelFrontend
from musicedge.griffinlim import griffin_lim, istft, mel_to_audio, mel_to_power, stft
from musicedge.latent import LatentModel, slerp, write_png_strip
from musicedge.models import available

CONFIG = FrontendConfig.preset("gtzan22k").replace(n_mels=32)
SR = CONFIG.sample_rate


def tone(freq: float, seconds: float, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def clicks(rate_hz: float, seconds: float, sr: int = SR) -> np.ndarray:
    y = 0.01 * np.random.default_rng(0).standard_normal(int(seconds * sr)).astype(np.float32)
    for start in np.arange(0, seconds, 1.0 / rate_hz):
        i = int(start * sr)
        y[i : i + 200] += np.hanning(200).astype(np.float32)
    return y


# -- numpy pieces ---------------------------------------------------------------------------------


def test_descriptors_follow_what_they_name():
    mel = MelFrontend(CONFIG)
    low, high = mel.compute(tone(110, 3)), mel.compute(tone(3000, 3))
    d_low, d_high = describe(low, CONFIG), describe(high, CONFIG)
    assert d_low["centroid_hz"] < 300 < 2500 < d_high["centroid_hz"]
    assert d_low["bass_ratio"] > 0.9 > 0.01 > d_high["bass_ratio"]
    quiet = describe(mel.compute(tone(110, 3, amp=0.03)), CONFIG)
    assert d_low["loudness_db"] - quiet["loudness_db"] == pytest.approx(20.0, abs=0.5)
    sparse = describe(mel.compute(clicks(2, 4)), CONFIG)["onset_density"]
    dense = describe(mel.compute(clicks(6, 4)), CONFIG)["onset_density"]
    assert sparse == pytest.approx(2, abs=0.6) and dense == pytest.approx(6, abs=1.0)
    batch = describe_batch(np.stack([low, high]), CONFIG)
    assert batch.shape == (2, len(DESCRIPTORS))
    with pytest.raises(ParameterError, match="n_mels=32"):
        describe(np.zeros((31, 10)), CONFIG)


def test_stft_round_trip_griffin_lim_and_mel_inversion():
    y = clicks(4, 3) + tone(440, 3) + tone(660, 3, amp=0.2)
    spec = stft(y, CONFIG)
    assert np.abs(istft(spec, CONFIG, len(y)) - y).max() < 1e-5
    magnitude = np.abs(spec)

    def convergence(n_iter: int) -> float:  # ||(|STFT(out)| - S)|| / ||S||
        out = griffin_lim(magnitude, CONFIG, n_iter=n_iter)
        return np.linalg.norm(
            np.abs(stft(out, CONFIG))[:, : magnitude.shape[1]] - magnitude
        ) / np.linalg.norm(magnitude)

    assert convergence(32) < 0.15 < 0.3 < convergence(1)  # measured 0.09 and 0.37
    frames = MelFrontend(CONFIG).compute(y)
    power = mel_to_power(frames, CONFIG)
    assert power.min() >= 0
    fitted = 10 * np.log10(CONFIG.mel_filterbank() @ power + 1e-10)
    assert np.median(np.abs(fitted - frames)) < 0.1  # dB (a few narrow low bands share their FFT bins)
    out = mel_to_audio(frames, CONFIG, n_iter=8)
    assert out.dtype == np.float32 and abs(len(out) - len(y)) < CONFIG.hop_length


def test_slerp_keeps_norms_and_ends():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    path = slerp(a, b, np.linspace(0, 1, 5))
    assert np.allclose(path[0], a) and np.allclose(path[-1], b)
    assert np.allclose(np.linalg.norm(path, axis=1), np.linspace(1, 2, 5))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert zlib.decompress(data[data.index(b"IDAT") + 4 : data.index(b"IEND") - 8])
    return width, height


def test_png_strip(tmp_path):
    mels = np.random.default_rng(0).normal(-50, 10, (3, 32, 20))
    path = write_png_strip(tmp_path / "s.png", mels, scale=2, gap=4)
    assert _png_size(path) == (3 * 40 + 2 * 4, 64)
    with pytest.raises(ParameterError):
        write_png_strip(tmp_path / "bad.png", np.zeros((32, 20)))


# -- a tiny model end to end ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A VAE trained for a few steps on a tiny generated corpus, exported: ``(run_dir, corpus)``."""
    torch = pytest.importorskip("torch")
    from training.corpus import write_layout
    from training.tasks.latent import LatentConfig, train_and_export

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("latent")
    corpus = root / "corpus"
    write_layout(
        "gtzan", str(corpus), tracks=8, seconds=4.0, seed=5, synth="numpy", styles=["metal", "classical"]
    )
    extra = root / "extra"
    extra.mkdir()
    sf.write(extra / "tone.wav", tone(220, 3.0), SR)
    cfg = LatentConfig(
        data=corpus, out=root / "run", extra_audio=[extra], epochs=2, steps_per_epoch=2, batch_size=4,
        latent_dim=4, frames=32, n_mels=32, widths=(8, 16), rnn=8, threads=1, export=True, mix_weight=0.5,
    )  # fmt: skip
    summary = train_and_export(cfg, log=sys.stderr)
    return root / "run", corpus, summary


def test_training_reports_the_numbers_of_the_issue(tiny):
    run_dir, _, summary = tiny
    saved = json.loads((run_dir / "metrics.json").read_text())
    for key in ("recon_rmse_db", "pca_rmse_db", "active_units", "runtime", "speed"):
        assert key in saved
    assert saved["data"]["n_extra_files"] == 1
    assert saved["settings"]["mix_weight"] == 0.5 and all(row["mix"] > 0 for row in saved["history"])
    assert 0 <= summary["active_units"] <= 4
    runtime = summary["runtime"]
    assert -1.0 <= runtime["interpolation_linear"]["spearman_mean"] <= 1.0
    assert len(runtime["traversal"]) == 4
    every = runtime["interpolation_linear_all_excerpts"]
    assert every["pairings"] == len(every["spearman_means"]) == 5
    assert every["pairs"] == summary["n_test_excerpts"] // 2
    assert every["spearman_mean"] == pytest.approx(np.mean(every["spearman_means"]))
    assert summary["onset_density_excerpts"] >= 0 and summary["onset_density_reconstructions"] >= 0
    assert summary["speed"]["encoder"]["ratio"] > 0 and summary["speed"]["to_audio"]["times_real_time"] > 0


def test_model_card_states_every_measured_number(tiny, tmp_path):
    from training.tasks.latent import write_card

    _, _, summary = tiny
    card = write_card(summary, tmp_path / "latent.md", compare=[summary]).read_text()
    every = summary["runtime"]["interpolation_linear_all_excerpts"]
    assert f"**{every['spearman_mean']:.3f}**" in card
    assert f"**{summary['recon_rmse_db']:.2f}**" in card and f"{summary['pca_rmse_db']:.3f}" in card
    per = summary["runtime"]["interpolation_linear"]["n_per_descriptor"]
    for name, n in per.items():
        assert (f"{name}: constant on every path" in card) == (n == 0)
    assert f"{summary['onset_density_reconstructions']:.2f}" in card


def test_latent_model_round_trip(tiny):
    run_dir, corpus, _ = tiny
    latent = LatentModel.load(run_dir / "latent-decoder.onnx")  # either file finds its partner
    assert latent.latent_dim == 4 and latent.frames == 32 and latent.frontend_config.n_mels == 32
    track = next((corpus / "genres" / "metal").glob("*.wav"))
    z = latent.encode(track, offset=1.0)
    assert z.shape == (4,) and z.dtype == np.float32
    y, sr = sf.read(track, dtype="float32")
    assert np.allclose(latent.encode(y, offset=1.0, sample_rate=sr), z, atol=1e-4)
    mel = latent.decode(z)
    assert mel.shape == (32, 32) and np.isfinite(mel).all()
    assert latent.decode(np.stack([z, z])).shape == (2, 32, 32)
    path = latent.interpolate(z, -z, steps=5, mode="slerp")
    assert path.shape == (5, 4) and np.allclose(path[0], z) and np.allclose(path[-1], -z, atol=1e-5)
    swept = latent.tweak(z, 2, [-1.0, 0.0, 1.0])
    assert np.allclose(swept[:, 2], [-1, 0, 1]) and np.allclose(np.delete(swept, 2, axis=1), np.delete(z, 2))
    audio = latent.to_audio(mel)
    assert audio.dtype == np.float32 and len(audio) == 31 * CONFIG.hop_length
    rows = latent.explain()
    assert sorted(r.dim for r in rows) == [0, 1, 2, 3]
    assert [r.strength for r in rows] == sorted((r.strength for r in rows), reverse=True)
    assert set(rows[0].effects) == set(DESCRIPTORS) and rows[0].style is not None
    assert "| rank | dim |" in latent.explain_table(rows)


def test_latent_bad_input(tiny, tmp_path):
    run_dir, corpus, _ = tiny
    latent = LatentModel.load(run_dir / "latent-encoder.onnx")
    need = f"{31 * CONFIG.hop_length / SR:.2f} s"
    with pytest.raises(AudioError, match=f"needs an excerpt of {need}.*never padded"):
        latent.encode(tone(220, 0.5), sample_rate=SR)
    track = next((corpus / "genres" / "metal").glob("*.wav"))
    with pytest.raises(AudioError, match="from offset 3.5 s"):
        latent.encode(track, offset=3.5)
    with pytest.raises(AudioError, match="silent"):
        latent.encode(np.zeros(SR * 2, np.float32), sample_rate=SR)
    with pytest.raises(ParameterError, match="sample_rate"):
        latent.encode(tone(220, 2.0))
    with pytest.raises(ParameterError, match="offset"):
        latent.encode(track, offset=-1)
    z = np.zeros(4, np.float32)
    with pytest.raises(ParameterError, match="steps must be an integer >= 2"):
        latent.interpolate(z, z, steps=1)
    with pytest.raises(ParameterError, match="mode"):
        latent.interpolate(z, z, mode="cubic")
    with pytest.raises(ParameterError, match="dim must be an integer from 0 to 3"):
        latent.tweak(z, 4, [0.0])
    with pytest.raises(ParameterError, match=r"z must be \(4,\)"):
        latent.decode(np.zeros(5))
    with pytest.raises(ParameterError, match="NaN"):
        latent.decode(np.full(4, np.nan))
    alone = tmp_path / "solo-encoder.onnx"
    shutil.copyfile(run_dir / "latent-encoder.onnx", alone)
    with pytest.raises(ModelError, match="partner solo-decoder.onnx"):
        LatentModel.load(alone)
    with pytest.raises(ModelError, match="latent decoder"):
        LatentModel(latent.encoder, latent.encoder)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musicedge", *args], capture_output=True, text=True, timeout=300
    )


def test_latent_command_line(tiny, tmp_path):
    run_dir, corpus, _ = tiny
    model = str(run_dir / "latent-encoder.onnx")
    a = str(next((corpus / "genres" / "metal").glob("*.wav")))
    b = str(next((corpus / "genres" / "classical").glob("*.wav")))
    out = _cli(
        "latent",
        "interpolate",
        a,
        b,
        "--steps",
        "3",
        "--mode",
        "slerp",
        "-o",
        str(tmp_path / "i"),
        "-m",
        model,
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "i").iterdir()) == [
        "interpolation.png", "interpolation_00.wav", "interpolation_01.wav", "interpolation_02.wav",
    ]  # fmt: skip
    assert _png_size(tmp_path / "i" / "interpolation.png")[1] == 64
    y, sr = sf.read(tmp_path / "i" / "interpolation_01.wav")
    assert sr == SR and len(y) == 31 * CONFIG.hop_length
    assert "slerp t=0.500" in out.stdout
    out = _cli("latent", "tweak", a, "--dim", "1", "--steps", "4", "-o", str(tmp_path / "t"), "-m", model)
    assert out.returncode == 0, out.stderr
    assert (
        len(list((tmp_path / "t").glob("tweak_dim1_*.wav"))) == 4
        and (tmp_path / "t" / "tweak_dim1.png").exists()
    )
    out = _cli("latent", "explain", "-m", model, "-f", "jsonl")
    assert out.returncode == 0, out.stderr
    assert len([json.loads(line) for line in out.stdout.splitlines()]) == 4
    # bad input: usage errors exit 2, unusable audio exits 1 naming the file
    bad_dim = _cli("latent", "tweak", a, "--dim", "4", "-o", str(tmp_path / "x"), "-m", model)
    assert bad_dim.returncode == 2 and "from 0 to 3" in bad_dim.stderr
    assert (
        _cli("latent", "interpolate", a, b, "--steps", "1", "-o", str(tmp_path / "x"), "-m", model).returncode
        == 2
    )
    short = tmp_path / "short.wav"
    sf.write(short, tone(220, 0.3), SR)
    too_short = _cli("latent", "interpolate", str(short), b, "-o", str(tmp_path / "x"), "-m", model)
    assert (
        too_short.returncode == 1 and "short.wav" in too_short.stderr and "never padded" in too_short.stderr
    )


@pytest.mark.skipif(
    "latent-encoder" not in available(), reason="no bundled latent model (python -m training latent --bundle)"
)
def test_bundled_latent_model():
    from training.corpus import generate_song

    latent = LatentModel.load("latent")
    song = generate_song("rock", seconds=8, seed=777, sample_rate=22050)
    z = latent.encode(song.audio, offset=2.0, sample_rate=song.sample_rate)
    mel = latent.decode(z)
    truth = latent.excerpt(song.audio, 2.0, sample_rate=song.sample_rate)[0]
    assert np.sqrt(np.mean((np.maximum(mel, -100) - np.maximum(truth, -100)) ** 2)) < 15.0
    assert len(latent.explain()) == latent.latent_dim
