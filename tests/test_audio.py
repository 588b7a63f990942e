"""musicedge.audio: formats, resampling, mono mixing, block-wise reading."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from musicedge.audio import find_audio, info, load, stream, to_mono

from conftest import real_music_files

SR = 44100


def tone(freq: float, seconds: float, sr: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([y * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


@pytest.mark.parametrize(
    "suffix, fmt, subtype",
    [
        (".wav", "WAV", "PCM_16"),
        (".flac", "FLAC", "PCM_16"),
        (".ogg", "OGG", "VORBIS"),
        (".opus", "OGG", "OPUS"),
        (".mp3", "MP3", "MPEG_LAYER_III"),
    ],
)
def test_every_format_decodes_and_resamples(tmp_path, suffix, fmt, subtype):
    sr_in = 48000 if suffix == ".opus" else SR
    path = tmp_path / f"tone{suffix}"
    sf.write(path, tone(440.0, 2.0, sr_in, channels=2), sr_in, format=fmt, subtype=subtype)
    y, sr = load(path, sr=22050)
    assert sr == 22050 and y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 2 * 22050) < 0.02 * 22050
    spectrum = np.abs(np.fft.rfft(y[2000:-2000]))
    peak_hz = np.argmax(spectrum) * 22050 / (len(y) - 4000)
    assert abs(peak_hz - 440.0) < 3.0
    assert 0.33 < np.abs(y).max() < 0.42  # the mean of channels at amplitudes 0.25 and 0.5


def test_native_rate_and_channels_kept(tmp_path):
    path = tmp_path / "stereo.wav"
    x = tone(300.0, 0.5, SR, channels=2)
    sf.write(path, x, SR, subtype="FLOAT")
    y, sr = load(path, mono=False)
    assert sr == SR and y.shape == (2, len(x))
    np.testing.assert_array_equal(y, x.T)
    np.testing.assert_allclose(to_mono(y), x.mean(axis=1), atol=1e-7)
    assert info(path)["channels"] == 2 and info(path)["frames"] == len(x)


def test_blockwise_equals_whole(tmp_path):
    path = tmp_path / "long.flac"
    rng = np.random.default_rng(0)
    sf.write(path, (0.1 * rng.standard_normal((SR * 5, 2))).astype(np.float32), SR)
    whole, _ = load(path, sr=16000, block_seconds=100)
    blocks, _ = load(path, sr=16000, block_seconds=0.37)
    assert abs(len(whole) - len(blocks)) <= 1
    n = min(len(whole), len(blocks))
    np.testing.assert_allclose(whole[:n], blocks[:n], atol=2e-6)
    same_rate, _ = load(path, block_seconds=0.37)
    np.testing.assert_array_equal(same_rate, load(path)[0])


def test_stream_yields_rate_then_float32_blocks(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, tone(200.0, 3.0, SR), SR)
    gen = stream(path, 8000, block_seconds=1.0)
    assert next(gen) == 8000
    blocks = list(gen)
    assert len(blocks) >= 3 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)


def test_find_audio_walks_folders(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for name in ["a/x.wav", "a/b/y.FLAC", "a/b/notes.txt", "z.mp3"]:
        (tmp_path / name).write_bytes(b"")
    found = find_audio([tmp_path / "a", tmp_path / "z.mp3"])
    assert [p.name for p in found] == ["y.FLAC", "x.wav", "z.mp3"]


@pytest.mark.parametrize("path", real_music_files(), ids=lambda p: p.name[:30])
def test_real_files_load(path):
    y, sr = load(path, sr=22050)
    assert sr == 22050 and y.ndim == 1 and len(y) > 22050 and np.isfinite(y).all()
