"""Live structure and live identification streams against their offline answers (bundled models)."""

from __future__ import annotations

import numpy as np
import pytest

from musicedge.errors import AudioError, ParameterError
from musicedge.fingerprint import Fingerprinter
from musicedge.library import Library
from musicedge.models import available
from musicedge.segment import Segmenter

from conftest import feed_in_random_chunks

training = pytest.importorskip("training.corpus", reason="songs come from the generated corpus")

needs = pytest.mark.skipif(
    not {"structure", "fingerprint"} <= set(available()),
    reason="needs the bundled structure and fingerprint models",
)


def feed(stream, y: np.ndarray, seed: int, max_chunk: int = 8000) -> list:
    return feed_in_random_chunks(stream, y, seed, max_chunk)


@pytest.fixture(scope="module")
def songs():
    """Three generated songs at 22 050 Hz: (name, audio)."""
    return [
        (
            f"{style}.wav",
            training.generate_song(style, seconds=50, seed=40 + i, sample_rate=22050, synth="auto").audio,
        )
        for i, style in enumerate(("pop", "rock", "jazz"))
    ]


@needs
def test_the_structure_stream_previews_and_ends_with_the_offline_sections(songs):
    segmenter = Segmenter.load("structure", threads=1)
    y = songs[0][1]
    offline = segmenter.analyze(y, 22050)
    with segmenter.create_stream(update_seconds=2.0, delay_seconds=8.0) as stream:
        updates = feed(stream, y, seed=1)
        final = stream.input_finished()
    assert final.segments == offline.segments
    assert updates and [u.time_s for u in updates] == sorted(u.time_s for u in updates)
    reported: tuple[float, ...] = ()
    for update in updates:
        assert update.boundaries[: len(reported)] == reported  # never taken back
        assert all(b < update.time_s - 8.0 for b in update.boundaries)
        assert update.segments[0].start == 0.0 and update.segments[-1].end == pytest.approx(update.time_s)
        reported = update.boundaries


@needs
def test_the_identify_stream_names_the_track_and_ends_with_the_offline_query(songs, tmp_path):
    fingerprinter = Fingerprinter.load("fingerprint", threads=1)
    library = Library.create(tmp_path / "lib", fingerprinter)
    paths = []
    import soundfile as sf

    for name, y in songs:
        sf.write(tmp_path / name, y, 22050, subtype="PCM_16")
        paths.append(str(tmp_path / name))
    library.add_files(paths)
    rng = np.random.default_rng(3)
    excerpt = songs[1][1][22050 * 20 : 22050 * 35].copy()
    noise = rng.standard_normal(len(excerpt)).astype(np.float32)
    excerpt += noise * np.sqrt(np.mean(excerpt**2) / np.mean(noise**2) / 10.0)  # 10 dB SNR
    with library.create_stream(22050) as stream:
        updates = feed(stream, excerpt, seed=2, max_chunk=4000)
        final = stream.input_finished()
    named = [u for u in updates if u.matches and u.matches[0].track == paths[1]]
    assert named, [u.matches[:1] for u in updates]
    assert named[0].time_s <= 5.0
    assert final and final[0].track == paths[1]
    assert final[0].offset_s == pytest.approx(20.0, abs=0.1)
    offline = library.query(excerpt, 22050)
    assert [m.track for m in final] == [m.track for m in offline]
    assert final[0].offset_s == pytest.approx(offline[0].offset_s, abs=1e-6)


@needs
def test_live_streams_refuse_bad_chunks_and_stay_usable(songs, tmp_path):
    segmenter = Segmenter.load("structure", threads=1)
    y = songs[2][1][: 22050 * 12]
    with segmenter.create_stream() as stream:
        stream.accept_waveform(y[:50000])
        with pytest.raises(ParameterError, match="16000 Hz on a stream of 22050 Hz"):
            stream.accept_waveform(y[:100], sr=16000)
        bad = y[50000:60000].copy()
        bad[5] = np.inf
        with pytest.raises(AudioError, match="Inf"):
            stream.accept_waveform(bad)
        stream.accept_waveform(y[50000:])
        assert stream.input_finished().segments == segmenter.analyze(y, 22050).segments
    library = Library.create(tmp_path / "lib", Fingerprinter.load("fingerprint", threads=1))
    with library.create_stream(22050) as stream:
        stream.accept_waveform(np.zeros(1000, np.float32))
        with pytest.raises(AudioError, match="shorter than one fingerprint window"):
            stream.input_finished()
