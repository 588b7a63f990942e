"""Fingerprint training: degradations, the model and its loss, and the whole path end to end
(train in seconds -> export -> ``musicedge index`` -> ``musicedge query``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

from musicedge.errors import ParameterError
from training.degrade import Degrader, _tonal, coloured_noise, degrade_query
from training.models.fingerprint import FingerprintNet, Reranker, info_nce

torch.set_num_threads(1)


def test_degrader_is_seeded_and_keeps_shape_and_level():
    wave = torch.randn(8, 12000) * 0.1
    d = Degrader(8000)
    a = d(wave, torch.Generator().manual_seed(3))
    b = d(wave, torch.Generator().manual_seed(3))
    assert a.shape == wave.shape and torch.isfinite(a).all()
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, wave)
    # level within the gain range (-12..+6 dB) plus what noise adds
    ratio_db = 20 * torch.log10(a.square().mean(1).sqrt() / wave.square().mean(1).sqrt())
    assert (ratio_db > -13).all() and (ratio_db < 10).all()


def test_degrader_with_everything_off_is_only_a_gain():
    wave = torch.randn(4, 8000) * 0.1
    d = Degrader(8000, p_noise=0.0, p_reverb=0.0, p_eq=0.0, p_lowpass=0.0, gain_range_db=(0.0, 0.0))
    torch.testing.assert_close(d(wave, torch.Generator().manual_seed(0)), wave, atol=1e-5, rtol=1e-4)
    with pytest.raises(ParameterError):
        Degrader(8000, cutoff_range_hz=(1000.0, 4000.0))
    with pytest.raises(ParameterError):
        Degrader(8000, p_eq=1.5)


def test_coloured_noise_slopes():
    g = torch.Generator().manual_seed(0)
    for exponent, lo_hi in ((0.0, (0.5, 2.0)), (2.0, (50.0, 1e9))):
        x = coloured_noise(4, 16384, exponent, g)
        spectrum = torch.fft.rfft(x).abs().square().mean(0)
        low, high = spectrum[10:100].mean(), spectrum[4000:8000].mean()
        assert lo_hi[0] < float(low / high) < lo_hi[1]
        torch.testing.assert_close(x.square().mean(1), torch.ones(4), atol=1e-4, rtol=1e-4)


def test_tonal_background_is_a_few_gliding_tones():
    g = torch.Generator().manual_seed(0)
    x = _tonal(4, 8000 * 4, 8000, g)
    torch.testing.assert_close(x.square().mean(1), torch.ones(4), atol=1e-4, rtol=1e-4)
    frames = x.unfold(1, 512, 256) * torch.hann_window(512)
    power = torch.fft.rfft(frames).abs().square()  # (4, frames, 257)
    energy = power.sum(-1)
    loud = energy > 0.1 * energy.mean()
    top = power.topk(12, dim=-1).values.sum(-1)
    assert float((top / energy)[loud].median()) > 0.8  # energy in a few harmonics...
    white = coloured_noise(1, 8000 * 4, 0.0, g).unfold(1, 512, 256) * torch.hann_window(512)
    white_power = torch.fft.rfft(white).abs().square()
    assert float((white_power.topk(12, dim=-1).values.sum(-1) / white_power.sum(-1)).median()) < 0.3
    peaks = power.argmax(-1)[loud]
    assert len(torch.unique(peaks)) >= 8  # ... whose pitch moves
    assert Degrader(8000).noise_bank(g, n=2, seconds=2.0).shape == (8, 16000)  # four kinds
    assert Degrader(8000, tonal=True).noise_bank(g, n=2, seconds=2.0).shape == (10, 16000)  # and tonal


def test_degrade_query_has_the_exact_snr():
    rng = np.random.default_rng(0)
    y = rng.standard_normal(16000).astype(np.float32) * 0.1
    noise = rng.standard_normal(5000).astype(np.float32)
    for snr in (0.0, 10.0):
        out = degrade_query(y, snr, noise, np.random.default_rng(1))
        added = out - y
        measured = 10 * np.log10(np.mean(y**2) / np.mean(added**2))
        assert measured == pytest.approx(snr, abs=0.01)
    assert degrade_query(y, None, None, rng) is not None
    np.testing.assert_array_equal(degrade_query(y, None, None, rng), y)
    pink = degrade_query(y, 5.0, None, np.random.default_rng(2))
    assert 10 * np.log10(np.mean(y**2) / np.mean((pink - y) ** 2)) == pytest.approx(5.0, abs=0.01)


def test_model_gives_unit_embeddings_and_the_loss_prefers_true_pairs():
    model = FingerprintNet(dim=16, channels=[4, 8, 8, 8, 8]).eval()
    (x,) = model.example_inputs(6)
    z = model(x)
    assert z.shape == (6, 16)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(6))
    other = torch.nn.functional.normalize(torch.randn(6, 16), dim=1)
    assert info_nce(z, z) < info_nce(z, other)
    with pytest.raises(ValueError):
        FingerprintNet(dim=256)
    with pytest.raises(ParameterError):
        model(torch.zeros(2, 1, 64, 10))


def test_reranker_scores_a_batch_of_sequences():
    model = Reranker(dim=16, width=16, heads=2, max_len=32).eval()
    q, c = model.example_inputs(3)
    assert model(q, c).shape == (3,)
    assert model(q[:, :5], c[:, :5]).shape == (3,)


def test_train_export_index_query_end_to_end(tmp_path):
    """The CI path: ``python -m training fingerprint`` for seconds with ``--export``, then the library
    and the query command on the exported file."""
    from musicedge.cli import cli
    from training.__main__ import main as training_main
    from training.tasks.fingerprint import write_synthetic_tracks

    tracks = write_synthetic_tracks(tmp_path / "audio", n=5, seconds=16.0, seed=11)
    write_synthetic_tracks(tmp_path / "extra", n=3, seconds=16.0, seed=12)
    model = tmp_path / "fp.onnx"
    status = training_main(
        [
            "fingerprint",
            "--data", str(tmp_path / "audio"),
            "--extra-audio", str(tmp_path / "extra"),
            "--extra-holdout", "3",
            "--out", str(tmp_path / "run"),
            "--epochs", "2", "--steps", "3", "--batch", "24", "--dim", "16",
            "--channels", "4,8,8,16,16", "--val-windows", "24", "--threads", "1",
            "--export", str(model),
        ]
    )  # fmt: skip
    assert status == 0 and model.is_file()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["history"]) == 2 and 0.0 <= summary["val_top1"] <= 1.0
    assert summary["calibration"]["negatives"] > 0  # the held-out extra track was queried

    y, sr = sf.read(tracks[2], dtype="float32")
    clip = tmp_path / "clip.wav"
    sf.write(clip, y[int(4.5 * sr) : int(10.5 * sr)], sr)
    runner = CliRunner()
    db = tmp_path / "db"
    indexed = runner.invoke(cli, ["index", str(tmp_path / "audio"), "--db", str(db), "-m", str(model)])
    assert indexed.exit_code == 0, indexed.output
    result = runner.invoke(cli, ["query", str(clip), "--db", str(db), "-f", "jsonl", "--threshold", "0"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["matches"][0]["track"] == str(tracks[2])
    assert record["matches"][0]["offset_s"] == pytest.approx(4.5, abs=0.05)
