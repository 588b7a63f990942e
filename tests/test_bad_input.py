"""Bad input, collected in one place: each case and the error it must give (never a crash)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from musicedge import AudioError, FrontendConfig, MelFrontend, MusicEdgeError, ParameterError
from musicedge.audio import load, validate_audio

# -- arrays given to the frontend ---------------------------------------------------------------------

ARRAY_CASES = [
    ("empty", np.zeros(0, np.float32), AudioError, "empty"),
    ("nan", np.array([0.0, np.nan, 0.0] * 1000, np.float32), AudioError, "NaN at sample 1"),
    ("inf", np.r_[np.zeros(5000), np.inf].astype(np.float32), AudioError, "Inf at sample 5000"),
    ("2-d", np.zeros((2, 4096), np.float32), AudioError, r"1-D, got shape \(2, 4096\).*mono"),
    ("int16", np.zeros(4096, np.int16), AudioError, "floating-point.*int16.*scale integer PCM"),
    ("complex", np.zeros(4096, np.complex64), AudioError, "floating-point"),
    ("list", [0.0] * 4096, AudioError, "numpy array"),
    ("object", np.array(["a"] * 10, dtype=object), AudioError, "floating-point"),
]


@pytest.mark.parametrize("name, y, error, match", ARRAY_CASES, ids=[c[0] for c in ARRAY_CASES])
def test_compute_refuses(name, y, error, match):
    with pytest.raises(error, match=match):
        MelFrontend().compute(y)
    if name != "empty":  # an empty chunk is a no-op in a stream
        fe = MelFrontend()
        with pytest.raises(error, match=match):
            fe.accept_waveform(y)
    if name != "list":
        with pytest.raises(error):
            validate_audio(np.asarray(y) if name != "list" else y)


FRAMINGS = [
    FrontendConfig.preset("melon16k"),
    FrontendConfig(n_fft=256, hop_length=64, n_mels=16, center=True, pad_mode="reflect"),
    # frames with gaps between them, and samples after the last frame
    FrontendConfig(n_fft=256, hop_length=700, n_mels=16, center=False),
]


@pytest.mark.parametrize("config", FRAMINGS, ids=["melon16k", "reflect", "gaps"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_compute_names_the_first_bad_sample_wherever_it_is(config, bad):
    """compute() checks its input block by block as it goes: the first bad sample is named, whether
    it is at the start, deep inside, between two frames, or after the last frame."""
    n = 50_000
    y = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    word = "NaN" if np.isnan(bad) else "Inf"
    for index in (0, 1, 25_600, n - 300, n - 1):  # 25_600: between two frames of "gaps"
        z = y.copy()
        z[index] = bad
        z[min(index + 5, n - 1)] = bad  # a later one is not the one named
        with pytest.raises(AudioError, match=f"{word} at sample {index}$"):
            MelFrontend(config).compute(z)


def test_stream_survives_a_bad_chunk():
    fe = MelFrontend(FrontendConfig(n_fft=256, hop_length=128, n_mels=16))
    good = np.random.default_rng(0).standard_normal(4000).astype(np.float32)
    fe.accept_waveform(good[:2000])
    bad = good[2000:].copy()
    bad[7] = np.nan
    with pytest.raises(AudioError, match="NaN at sample 2007"):
        fe.accept_waveform(bad)
    fe.accept_waveform(good[2000:])
    fe.input_finished()
    np.testing.assert_array_equal(fe.pop_frames(), fe.compute(good))


def test_calls_after_finish_and_short_uncentred_input():
    fe = MelFrontend()
    fe.input_finished()
    with pytest.raises(ParameterError, match="reset"):
        fe.accept_waveform(np.zeros(10, np.float32))
    with pytest.raises(ParameterError, match="n_fft=2048 is too large for a signal of 1000 samples"):
        MelFrontend(FrontendConfig(center=False)).compute(np.zeros(1000, np.float32))


# -- configurations ------------------------------------------------------------------------------------

CONFIG_CASES = [
    ({"n_mels": 256, "n_fft": 256, "sample_rate": 16000}, "too large for n_fft=256"),
    ({"fmax": 12000.0}, "above the Nyquist frequency 11025"),
    ({"fmin": 5000.0, "fmax": 4000.0}, "must be greater than fmin"),
    ({"fmin": -1.0}, "fmin"),
    ({"hop_length": 0}, "hop_length must be positive"),
    ({"n_fft": 1000}, "power of two"),
    ({"n_fft": 64}, "power of two from 128"),
    ({"n_fft": 16384}, "power of two"),
    ({"win_length": 4096}, "win_length"),
    ({"window": "kaiser"}, "unknown window 'kaiser'"),
    ({"pad_mode": "edge"}, "unknown pad_mode"),
    ({"norm": "l2"}, "unknown norm"),
    ({"power": 0.0}, "power must be positive"),
    ({"log": "ln"}, "unknown log"),
    ({"amin": 0.0}, "amin"),
    ({"sample_rate": 0}, "sample_rate"),
    ({"n_mels": 0}, "n_mels"),
    ({"n_fft": "big"}, "invalid FrontendConfig"),
]


@pytest.mark.parametrize("kwargs, match", CONFIG_CASES, ids=[str(c[0]) for c in CONFIG_CASES])
def test_config_refuses(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        FrontendConfig(**kwargs)


def test_config_lookup_errors():
    with pytest.raises(ParameterError, match="unknown frontend preset 'cd44k'"):
        FrontendConfig.preset("cd44k")
    with pytest.raises(ParameterError, match="unknown frontend config key.*hop"):
        FrontendConfig.from_dict({"hop": 3})
    with pytest.raises(ParameterError, match="not valid JSON"):
        FrontendConfig.from_json("{nope")


# -- files ---------------------------------------------------------------------------------------------


def _wav(tmp_path, name="ok.wav", seconds=1.0):
    path = tmp_path / name
    sf.write(path, np.zeros((int(44100 * seconds), 2), np.float32), 44100, subtype="PCM_16")
    return path


def _truncate(path, fraction=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def make_bad_files(tmp_path):
    cases = {}
    cases["missing"] = (tmp_path / "nope.wav", "no such file")
    (tmp_path / "empty.wav").write_bytes(b"")
    cases["zero bytes"] = (tmp_path / "empty.wav", "empty file")
    (tmp_path / "text.wav").write_text("this is not audio\n" * 50)
    cases["text named .wav"] = (tmp_path / "text.wav", "cannot decode as audio")
    (tmp_path / "noise.mp3").write_bytes(np.random.default_rng(0).bytes(5000))
    cases["random bytes .mp3"] = (tmp_path / "noise.mp3", "cannot decode|no audio|truncated")
    cases["truncated wav"] = (_truncate(_wav(tmp_path, "t.wav")), "truncated WAV")
    ogg = tmp_path / "t.ogg"
    sf.write(ogg, np.random.default_rng(1).standard_normal((44100 * 2, 1)).astype(np.float32) * 0.1, 44100)
    cases["truncated ogg"] = (_truncate(ogg), "truncated Ogg")
    mp3 = tmp_path / "t.mp3"
    sf.write(
        mp3,
        np.random.default_rng(2).standard_normal((44100 * 3, 1)).astype(np.float32) * 0.1,
        44100,
        format="MP3",
    )
    cases["truncated mp3"] = (_truncate(mp3, 0.4), "truncated")
    header = _wav(tmp_path, "header.wav")
    header.write_bytes(header.read_bytes()[:44])
    cases["header only"] = (header, "truncated WAV|no audio")
    (tmp_path / "folder.wav").mkdir()
    cases["folder"] = (tmp_path / "folder.wav", "is a folder")
    return cases


def test_bad_files_each_give_a_named_audio_error(tmp_path):
    for name, (path, match) in make_bad_files(tmp_path).items():
        with pytest.raises(AudioError, match=match) as info:
            load(path, sr=22050)
        assert str(path) in str(info.value), name


def test_unreadable_file_and_broken_link(tmp_path, monkeypatch):
    path = _wav(tmp_path)
    path.chmod(0)
    link = tmp_path / "gone.wav"
    link.symlink_to(tmp_path / "deleted.wav")
    with pytest.raises(AudioError, match="broken symbolic link"):
        load(link)
    if os.geteuid() == 0:  # root reads any file: make the access check answer as for anyone else
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: False if str(p) == str(path) else real_access(p, mode)
        )
    with pytest.raises(AudioError, match="permission denied"):
        load(path)


def test_every_error_is_a_musicedge_error():
    for cls in (AudioError, ParameterError):
        assert issubclass(cls, MusicEdgeError) and issubclass(cls, ValueError)


def test_bad_load_arguments(tmp_path):
    path = _wav(tmp_path)
    with pytest.raises(ParameterError, match="sr must be a positive integer"):
        load(path, sr=-5)
    with pytest.raises(ParameterError, match="block_seconds"):
        load(path, block_seconds=0)
