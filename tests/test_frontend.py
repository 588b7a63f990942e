"""The C++ mel frontend against librosa and numpy, whole-signal and streaming."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import musicedge._native as native
from musicedge import FrontendConfig, MelFrontend
from musicedge.audio import load

from conftest import librosa_mel_power, real_music_files, seeded_signal


def librosa_mel(y: np.ndarray, cfg: FrontendConfig) -> np.ndarray:
    """The reference, in dB when the config asks for it."""
    mel = librosa_mel_power(y, cfg)
    return librosa.power_to_db(mel, ref=1.0, amin=cfg.amin, top_db=None) if cfg.log == "db" else mel


def assert_matches_librosa(ours: np.ndarray, ref: np.ndarray, cfg: FrontendConfig) -> None:
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape
    if cfg.log == "db":
        assert np.abs(ours - ref).max() < 1e-3  # dB
    else:
        assert np.abs(ours - ref).max() / np.abs(ref).max() < 1e-4


@pytest.mark.parametrize("n_fft", [128, 256, 512, 1024, 2048, 4096, 8192])
def test_fft_matches_numpy_rfft(n_fft, rng):
    x = rng.standard_normal((9, n_fft)).astype(np.float32)
    ours = native.power_spectrum(x)
    ref = np.abs(np.fft.rfft(x.astype(np.float64), axis=-1)) ** 2
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() / ref.max() < 1e-12


SETTINGS = [
    {},
    {"center": False},
    {"pad_mode": "reflect"},
    {"htk": True},
    {"norm": None},
    {"htk": True, "norm": None},
    {"power": 1.0},
    {"power": 1.5},
    {"window": "hamming"},
    {"window": "blackman", "win_length": 1500},
    {"window": "rectangular", "win_length": 1024},
    {"fmin": 30.0, "fmax": 8000.0},
    {"n_mels": 40},
    {"n_fft": 512, "hop_length": 160, "n_mels": 64},
    {"n_fft": 4096, "hop_length": 1024},
    {"hop_length": 333},
    {"log": "db"},
    {"log": "db", "amin": 1e-5, "pad_mode": "reflect"},
]


@pytest.mark.parametrize(
    "settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()) or "default"
)
def test_matches_librosa_on_seeded_signal(settings):
    cfg = FrontendConfig(**settings)
    y = seeded_signal(cfg.sample_rate, 3.0, seed=len(settings))
    assert_matches_librosa(MelFrontend(cfg).compute(y), librosa_mel(y, cfg), cfg)


@pytest.mark.parametrize("amin", [1e-10, 1e-300])
def test_db_beyond_float32_range(amin):
    """Powers above float32's range (the dB logarithm runs in float32 where it can) and an amin below
    it still match librosa's float64 result."""
    cfg = FrontendConfig.preset("melon16k").replace(amin=amin)
    y = seeded_signal(cfg.sample_rate, 2.0, seed=3)
    y[: len(y) // 2] *= 1e19  # powers near 1e44 in the first half, ordinary ones after it
    y[-4000:] = 0.0  # and digital silence at the end: powers below amin
    ref = librosa_mel(y, cfg)
    assert ref.max() > 10 * np.log10(np.finfo(np.float32).max) + 5
    assert_matches_librosa(MelFrontend(cfg).compute(y), ref, cfg)


@pytest.mark.parametrize("preset", ["melon16k", "gtzan22k"])
@pytest.mark.parametrize("path", real_music_files(), ids=lambda p: p.name[:30])
def test_matches_librosa_on_real_music(preset, path):
    cfg = FrontendConfig.preset(preset)
    y, _ = load(path, sr=cfg.sample_rate)
    ours = MelFrontend(cfg).compute(y)
    assert_matches_librosa(ours, librosa_mel(y, cfg), cfg)
    power = MelFrontend(cfg.replace(log="none")).compute(y)
    assert_matches_librosa(power, librosa_mel(y, cfg.replace(log="none")), cfg.replace(log="none"))


def test_filterbank_and_window_match_librosa():
    for cfg in [
        FrontendConfig(),
        FrontendConfig(htk=True, norm=None, fmin=20, fmax=9000),
        FrontendConfig.preset("melon16k"),
    ]:
        ref = librosa.filters.mel(
            sr=cfg.sample_rate,
            n_fft=cfg.n_fft,
            n_mels=cfg.n_mels,
            fmin=cfg.fmin,
            fmax=cfg.fmax,
            htk=cfg.htk,
            norm=cfg.norm,
        )
        np.testing.assert_allclose(cfg.mel_filterbank(), ref, rtol=1e-5, atol=1e-9)
    cfg = FrontendConfig(window="hamming", win_length=1000)
    ref = librosa.util.pad_center(librosa.filters.get_window("hamming", 1000, fftbins=True), size=2048)
    np.testing.assert_allclose(cfg.analysis_window(), ref, atol=1e-12)


def test_frame_count_follows_librosa():
    for cfg in [FrontendConfig(), FrontendConfig(center=False), FrontendConfig(hop_length=300)]:
        for n in [2048, 2049, 5000, 22050]:
            y = np.zeros(n, np.float32)
            assert MelFrontend(cfg).compute(y).shape[1] == cfg.num_frames(n) == librosa_mel(y, cfg).shape[1]


def test_silence_gives_the_floor():
    cfg = FrontendConfig(log="db")
    out = MelFrontend(cfg).compute(np.zeros(22050, np.float32))
    assert np.all(out == np.float32(-100.0))


def test_float64_input_is_accepted_and_float32_is_not_copied():
    y = seeded_signal(22050, 1.0)
    fe = MelFrontend()
    np.testing.assert_array_equal(fe.compute(y), fe.compute(y.astype(np.float64)))
    np.testing.assert_array_equal(fe.compute(y[::2].copy()), fe.compute(y[::2]))  # strided input is fine


def stream_frames(fe: MelFrontend, y: np.ndarray, chunk_sizes: list[int]) -> np.ndarray:
    """Feed y in chunks that cycle through chunk_sizes, popping as we go."""
    parts, pos, i = [], 0, 0
    while pos < len(y):
        step = chunk_sizes[i % len(chunk_sizes)]
        fe.accept_waveform(y[pos : pos + step])
        parts.append(fe.pop_frames())
        pos += step
        i += 1
    fe.input_finished()
    parts.append(fe.pop_frames())
    return np.concatenate(parts, axis=1)


STREAM_CONFIGS = [
    FrontendConfig(n_fft=256, hop_length=64, n_mels=32),
    FrontendConfig(n_fft=256, hop_length=100, n_mels=32, pad_mode="reflect"),
    FrontendConfig(n_fft=256, hop_length=64, n_mels=32, center=False, log="db"),
    FrontendConfig(n_fft=512, hop_length=512, n_mels=40, pad_mode="reflect", log="db"),
]


@settings(max_examples=60, deadline=None)
@given(
    config_index=st.integers(0, len(STREAM_CONFIGS) - 1),
    n=st.integers(1, 3000),
    chunks=st.lists(st.integers(1, 700), min_size=1, max_size=8),
    seed=st.integers(0, 2**16),
)
def test_streaming_equals_compute_for_any_chunking(config_index, n, chunks, seed):
    cfg = STREAM_CONFIGS[config_index]
    y = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    fe = MelFrontend(cfg)
    streamed = stream_frames(fe, y, chunks)
    if not cfg.center and n < cfg.n_fft:
        assert streamed.shape == (cfg.n_mels, 0)
        return
    np.testing.assert_array_equal(streamed, fe.compute(y))


def test_streaming_one_sample_at_a_time_on_real_music():
    path = real_music_files()[0] if real_music_files() else None
    if path is None:
        pytest.skip("no real music in ../shared/data/real/music")
    cfg = FrontendConfig.preset("melon16k").replace(pad_mode="reflect")
    y, _ = load(path, sr=cfg.sample_rate)
    y = y[: cfg.sample_rate // 2]
    fe = MelFrontend(cfg)
    np.testing.assert_array_equal(stream_frames(fe, y, [1]), fe.compute(y))


def test_reset_starts_a_new_stream_and_counters_follow():
    cfg = FrontendConfig(n_fft=256, hop_length=128, n_mels=16)
    fe = MelFrontend(cfg)
    a = seeded_signal(22050, 0.5, seed=1)
    fe.accept_waveform(a)
    assert fe.num_samples_accepted == len(a)
    ready = fe.num_frames_ready
    assert ready > 0
    first = fe.pop_frames(3)
    assert first.shape == (16, 3) and fe.num_frames_ready == ready - 3 and fe.num_frames_popped == 3
    fe.reset()
    assert fe.num_frames_ready == 0 and fe.num_samples_accepted == 0 and not fe.is_finished
    b = seeded_signal(22050, 0.3, seed=2)
    np.testing.assert_array_equal(stream_frames(fe, b, [1000]), fe.compute(b))
    assert fe.get_frames().shape == (16, 0)


def test_compute_is_safe_from_many_threads():
    from concurrent.futures import ThreadPoolExecutor

    fe = MelFrontend("melon16k")
    signals = [seeded_signal(16000, 2.0, seed=s) for s in range(8)]
    expected = [fe.compute(y) for y in signals]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(fe.compute, signals))
    for got, want in zip(results, expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_presets():
    melon = FrontendConfig.preset("melon16k")
    assert (melon.sample_rate, melon.n_fft, melon.hop_length, melon.n_mels, melon.log) == (
        16000,
        512,
        256,
        128,
        "db",
    )
    gtzan = FrontendConfig.preset("gtzan22k")
    assert (gtzan.sample_rate, gtzan.n_fft, gtzan.hop_length, gtzan.n_mels) == (22050, 2048, 512, 128)
    assert FrontendConfig.from_dict(melon.to_dict()) == melon
    assert FrontendConfig.from_json(gtzan.to_json()) == gtzan
    assert MelFrontend("melon16k").config == melon
