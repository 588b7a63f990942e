"""Live classification (``Classifier.create_stream``) against the offline answer, its bad input, and one
loaded model shared by many threads. Runs on the bundled models: no torch needed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from musicedge.classify import Classifier
from musicedge.errors import AudioError, ModelError, ParameterError

from conftest import feed_in_random_chunks, seeded_signal


@pytest.fixture(scope="module")
def genre() -> Classifier:
    return Classifier.load("genre", threads=1)


@pytest.fixture(scope="module")
def music() -> np.ndarray:
    """20 s of seeded music-like audio at the genre model's 22 050 Hz."""
    return seeded_signal(22050, 20.0, seed=5)


def feed(stream, y: np.ndarray, seed: int, max_chunk: int = 6000) -> list:
    return feed_in_random_chunks(stream, y, seed, max_chunk)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_stream_ends_with_the_offline_prediction(genre, music, seed):
    offline = genre.predict(music, 22050)
    with genre.create_stream() as stream:
        feed(stream, music, seed)
        final = stream.input_finished()
    assert final.predictions == offline.predictions
    assert final.duration_s == pytest.approx(offline.duration_s)


def test_updates_come_every_half_second_and_score_the_latest_window(genre, music):
    frames = genre.model.frontend.compute(music)
    window = genre.spec.window_frames
    with genre.create_stream(update_seconds=0.5) as stream:
        updates = feed(stream, music, seed=3)
    step = stream.update_frames
    assert step == round(0.5 * 22050 / 512)
    assert len(updates) == frames.shape[1] // step
    expected_times = [(i + 1) * step * 512 / 22050 for i in range(len(updates))]
    assert [u.time_s for u in updates] == pytest.approx(expected_times)
    for update in updates[::3]:
        end = round(update.window_end_s * 22050 / 512)
        assert update.time_s - 0.5 < update.window_end_s <= update.time_s
        if end < window:
            continue  # a padded start, checked below
        expected = genre._run(frames[None, None, :, end - window : end])[0]
        got = np.array([update.latest.scores[label] for label in genre.labels])
        np.testing.assert_allclose(got, expected, atol=1e-6)
    # Before a whole window, "overall" is the latest window; later it averages the completed windows.
    assert updates[0].overall == updates[0].latest
    assert updates[-1].overall != updates[-1].latest


def test_a_resampling_stream_agrees_with_offline_resampling(genre):
    y = seeded_signal(44100, 12.0, seed=9)
    offline = genre.predict(y, 44100)
    with genre.create_stream(sample_rate=44100) as stream:
        feed(stream, y, seed=4)
        final = stream.input_finished()
    assert final.label == offline.label
    for label in genre.labels:
        assert final.scores[label] == pytest.approx(offline.scores[label], abs=2e-3)


def test_bad_chunks_are_refused_and_the_stream_stays_usable(genre, music):
    offline = genre.predict(music, 22050)
    stream = genre.create_stream()
    stream.accept_waveform(music[:50000])
    with pytest.raises(ParameterError, match="44100 Hz on a stream of 22050 Hz"):
        stream.accept_waveform(music[50000:60000], sr=44100)
    bad = music[50000:60000].copy()
    bad[17] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        stream.accept_waveform(bad)
    with pytest.raises(AudioError):
        stream.accept_waveform(np.zeros((2, 100), np.float32))
    stream.accept_waveform(music[50000:], sr=22050)
    assert stream.input_finished().predictions == offline.predictions
    with pytest.raises(ParameterError, match="after input_finished"):
        stream.accept_waveform(music[:100])
    stream.close()
    stream.close()
    with pytest.raises(ParameterError, match="closed"):
        stream.accept_waveform(music[:100])
    with pytest.raises(ParameterError, match="closed"):
        stream.input_finished()


def test_streams_refuse_bad_settings_and_empty_input(genre):
    with pytest.raises(ParameterError, match="sample_rate"):
        genre.create_stream(sample_rate=0)
    with pytest.raises(ParameterError, match="update_seconds"):
        genre.create_stream(update_seconds=0.001)
    with genre.create_stream() as stream:
        with pytest.raises(AudioError, match="no audio"):
            stream.input_finished()
        stream.accept_waveform(np.zeros(100, np.float32))  # still usable: a very short, silent stream
        assert stream.input_finished().label in genre.labels


def test_a_mood_stream_with_metadata_matches_offline():
    mood = Classifier.load("mood", threads=1)
    y = seeded_signal(16000, 15.0, seed=2)
    metadata = {"artists": ["Dolly Carter"], "words": ["night", "dance"]}
    offline = mood.predict(y, 16000, metadata=metadata)
    with mood.create_stream(metadata=metadata) as stream:
        feed(stream, y, seed=6, max_chunk=3000)
        final = stream.input_finished()
    assert final.predictions == offline.predictions
    assert final.scores == pytest.approx(offline.scores, abs=1e-12)


def test_one_model_shared_by_many_threads_gives_the_single_thread_answers(genre):
    clips = [seeded_signal(22050, 6.0 + i, seed=20 + i) for i in range(8)]
    alone = [genre.predict(y, 22050) for y in clips]

    def streamed(y: np.ndarray):
        with genre.create_stream() as stream:
            feed(stream, y, seed=len(y))
            return stream.input_finished()

    with ThreadPoolExecutor(8) as pool:
        offline = list(pool.map(lambda y: genre.predict(y, 22050), clips * 3))
        live = list(pool.map(streamed, clips))
    assert [p.scores for p in offline] == [p.scores for p in alone * 3]
    assert [p.predictions for p in live] == [p.predictions for p in alone]


def test_a_closed_classifier_refuses_to_predict(music):
    with Classifier.load("genre", threads=1) as classifier:
        classifier.predict(music[:22050], 22050)
    with pytest.raises(ModelError, match="closed"):
        classifier.predict(music[:22050], 22050)
