"""The fingerprint runtime: Fingerprinter on a tiny model trained in seconds, matching, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicedge.errors import AudioError, ModelError, ParameterError
from musicedge.fingerprint import Fingerprinter, Match, MatchConfig, MatchRule, match_embeddings


def tiny_fingerprint_model(base: Path) -> tuple[Path, list[Path]]:
    """The tiny model and its six synthetic tracks, trained once per session (shared through basetemp)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from training.tasks.fingerprint import tiny_model

    return tiny_model(base / "fingerprint-tiny")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory) -> tuple[Path, list[Path]]:
    return tiny_fingerprint_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def fingerprinter(tiny) -> Fingerprinter:
    return Fingerprinter.load(tiny[0], threads=1)


def test_fingerprints_are_unit_vectors_on_the_library_and_query_grids(fingerprinter, tiny):
    fp = fingerprinter
    assert fp.sample_rate == 8000 and fp.window_frames == 64 and fp.hop_frames == 32
    assert fp.hop_frames % fp.query_hop_frames == 0
    track = fp.fingerprint(tiny[1][0])
    assert track.embeddings.dtype == np.float32 and track.embeddings.shape[1] == fp.dim
    np.testing.assert_allclose(np.linalg.norm(track.embeddings, axis=1), 1.0, atol=1e-5)
    # 20 s at 64 frames/s: 1281 frames, windows every 32 frames with a padded tail.
    assert len(track.embeddings) == -(-(1281 - 64) // 32) + 1
    query = fp.fingerprint(tiny[1][0], query=True)
    assert len(query.embeddings) == (1281 - 64) // fp.query_hop_frames + 1
    # The query grid contains the library grid: the same windows, the same fingerprints.
    ratio = fp.hop_frames // fp.query_hop_frames
    np.testing.assert_allclose(
        query.embeddings[::ratio], track.embeddings[: len(query.embeddings[::ratio])], atol=1e-5
    )


def test_array_input_needs_its_rate_and_is_resampled(fingerprinter, tiny):
    import soundfile as sf

    y, sr = sf.read(tiny[1][1], dtype="float32")
    with pytest.raises(ParameterError, match="sr is required"):
        fingerprinter.fingerprint(y)
    a = fingerprinter.fingerprint(y, sr)
    b = fingerprinter.fingerprint(tiny[1][1])
    np.testing.assert_allclose(a.embeddings, b.embeddings, atol=1e-5)
    up = fingerprinter.fingerprint(np.repeat(y, 2), 2 * sr)  # resampled to 8 kHz on the way in
    assert up.embeddings.shape == a.embeddings.shape


def test_short_and_silent_clips(fingerprinter):
    with pytest.raises(AudioError, match="shorter than one fingerprint window"):
        fingerprinter.fingerprint(np.zeros(4000, np.float32), 8000, query=True)
    silent = fingerprinter.fingerprint(np.zeros(5 * 8000, np.float32), 8000, query=True)
    assert silent.silent.all()
    matched = fingerprinter.match(silent, lambda v, k: pytest.fail("silence must not be searched"), len, len)
    assert matched == []
    with pytest.raises(AudioError):
        fingerprinter.fingerprint(np.full(8000, np.nan, np.float32), 8000)


def test_a_classifier_is_not_a_fingerprint_model(tmp_path):
    from musicedge.models import available

    if "genre" not in available():
        pytest.skip("no bundled genre model to load as the wrong kind")
    with pytest.raises(ModelError, match="not a fingerprint model"):
        Fingerprinter.load("genre")


def _toy_library(rng, n_tracks=5, n_windows=40, dim=16):
    lib = [rng.standard_normal((n_windows, dim)).astype(np.float32) for _ in range(n_tracks)]
    lib = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in lib]
    flat = np.concatenate(lib)
    owner = np.repeat(np.arange(n_tracks), n_windows)
    window = np.tile(np.arange(n_windows), n_tracks)

    def search(q, k):
        sims = q @ flat.T
        ids = np.argsort(-sims, axis=1)[:, :k]
        return np.take_along_axis(sims, ids, axis=1), owner[ids], window[ids]

    return lib, search


def _match_toy(lib, search, q: np.ndarray, config: MatchConfig):
    """match_embeddings of query ``q`` (every window usable) against the toy library's 40-window tracks."""
    sims, tracks, windows = search(q, 4)
    return match_embeddings(
        q,
        np.ones(len(q), bool),
        sims,
        tracks,
        windows,
        lambda t: 40,
        lambda t, f, n: lib[t][f : f + n],
        config,
    )


def test_voting_finds_the_track_and_offset_and_refines_below_one_hop(rng):
    """Query windows at a quarter of the library hop, built as interpolations between library
    fingerprints (a smooth similarity peak): track, offset and the sub-hop refinement come out."""
    lib, search = _toy_library(rng)
    config = MatchConfig(window_frames=64, hop_frames=32, query_hop_frames=8, frame_rate=64.0)
    track, start_window, shift = 3, 10, 3  # the query starts 3 frames after library window 10
    q = []
    for i in range(20):
        pos = (start_window * 32 + shift + i * 8) / 32.0  # in library windows
        j = int(pos)
        a = pos - j
        v = (1 - a) * lib[track][j] + a * lib[track][j + 1]
        q.append(v / np.linalg.norm(v))
    q = np.asarray(q, np.float32)
    out = _match_toy(lib, search, q, config)
    assert out[0][0] == track
    true_offset = (start_window * 32 + shift) / 64.0
    assert abs(out[0][1] - true_offset) < 2 / 64.0  # within 2 frames, well under one query hop (8)
    assert out[0][2] > 0.8


def test_threshold_drops_weak_matches(rng):
    lib, search = _toy_library(rng)
    config = MatchConfig(window_frames=64, hop_frames=32, query_hop_frames=8, threshold=0.9)
    q = rng.standard_normal((20, 16)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    assert _match_toy(lib, search, q, config) == []


def test_match_rule_falls_with_m_and_rewards_a_clear_margin():
    rule = MatchRule(1.0, ((2.0, 0.94), (4.0, 0.94), (8.0, 0.83), (18.0, 0.76)))
    # On its points, then linear in 1 / sqrt(m) between them and along the end segments beyond.
    assert rule.threshold(8) == pytest.approx(0.83) and rule.threshold(1) == pytest.approx(0.94)
    x = lambda m: 1 / np.sqrt(m)  # noqa: E731
    between = 0.83 + (x(12) - x(8)) * (0.76 - 0.83) / (x(18) - x(8))
    assert rule.threshold(12) == pytest.approx(between)
    assert rule.threshold(50) < rule.threshold(18) < rule.threshold(12) < rule.threshold(8)
    # score 0.7 over 18 windows: not enough alone (runner-up close), enough when it stands out.
    assert not rule.accepts(0.70, 0.69, 18) and rule.accepts(0.70, 0.55, 18)
    assert MatchRule().accepts(0.01, 0.5, 3) and not MatchRule().accepts(-0.01, -0.5, 3)
    with pytest.raises(ParameterError, match="m >= 1"):
        MatchRule(0.0, ((0.5, 0.9),))


def test_the_runner_up_decides_with_the_margin(rng):
    """The same best candidate is a match when the query's other candidates score far below it, and
    not when one scores close: the margin term of the rule sees the runner-up."""
    lib, search = _toy_library(rng)
    q = lib[3][10:30].copy()

    def run(rule):
        return _match_toy(
            lib, search, q, MatchConfig(window_frames=64, hop_frames=32, query_hop_frames=32, rule=rule)
        )

    best = run(MatchRule())
    assert best[0][0] == 3 and best[0][2] == pytest.approx(1.0, abs=1e-5)
    runner_up = max((r[2] for r in best[1:]), default=0.0)
    strict = MatchRule(1.0, ((1.0, 2.0 - runner_up - 0.01),))
    assert [r[0] for r in run(strict)] == [3]
    assert run(MatchRule(0.0, ((1.0, 1.01),))) == []


def test_a_model_with_a_broken_rule_is_a_model_error(tmp_path):
    import onnx

    from musicedge.models import resolve

    model = onnx.load(resolve("fingerprint"))
    onnx.helper.set_model_props(
        model,
        {
            **{p.key: p.value for p in model.metadata_props if not p.key.startswith("musicedge.extra.match")},
            "musicedge.extra.match_rule": '{"points": [[1, 0.9]]}',  # no margin_weight
        },
    )
    broken = tmp_path / "broken.onnx"
    onnx.save(model, broken)
    with pytest.raises(ModelError, match="match_rule"):
        Fingerprinter.load(broken)


def test_match_config_and_match_record():
    with pytest.raises(ParameterError, match="must divide"):
        MatchConfig(window_frames=64, hop_frames=32, query_hop_frames=12)
    assert Match("a.wav", 1.23456, 0.876543).to_dict() == {
        "track": "a.wav",
        "offset_s": 1.235,
        "score": 0.8765,
    }
