"""The desktop example (examples/desktop/), offscreen: a generated song streamed through it, the widgets'
final state checked, and a screenshot saved."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6", reason="the desktop example needs PySide6 (pip install 'musicedge[app]')")
training = pytest.importorskip("training.corpus", reason="the song comes from the generated corpus")

from musicedge.models import available  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "desktop"
sys.path.insert(0, str(EXAMPLE))


@pytest.mark.skipif(
    not {"genre", "mood", "structure", "fingerprint"} <= set(available()), reason="needs the bundled models"
)
def test_the_app_streams_a_song_and_shows_genre_moods_sections_and_the_track(tmp_path):
    from app import PlayerWindow
    from PySide6.QtWidgets import QApplication

    from musicedge.fingerprint import Fingerprinter
    from musicedge.library import Library

    song = training.generate_song("rock", seconds=45, seed=5, sample_rate=44100, synth="auto")
    path = tmp_path / "rock-song.wav"
    sf.write(path, song.audio, 44100, subtype="PCM_16")
    other = training.generate_song("jazz", seconds=30, seed=6, sample_rate=44100, synth="auto")
    sf.write(tmp_path / "jazz-song.wav", other.audio, 44100, subtype="PCM_16")
    library = Library.create(tmp_path / "library", Fingerprinter.load("fingerprint"))
    library.add_files([path, tmp_path / "jazz-song.wav"])

    app = QApplication.instance() or QApplication([])
    finished = []
    window = PlayerWindow(library=str(tmp_path / "library"), speed=float("inf"), on_done=finished.append)
    window.show()
    window.play(str(path))
    deadline = time.monotonic() + 120
    while not finished and window.error is None and time.monotonic() < deadline:
        app.processEvents()
    assert window.error is None, window.error
    assert finished, "the song did not finish streaming"
    state = finished[0]
    assert "(done)" in window.time_label.text()
    genres = [name.text() for name in window.genre_names]
    assert genres[0] in window.genre.labels and window.genre_bars[0].value() > 0
    assert window.mood_label.text().startswith("Moods: ")
    sections = window.timeline.state.sections
    assert sections and sections[0].start == 0.0 and sections[-1].end == pytest.approx(45.0, abs=0.05)
    assert "rock-song.wav" in window.identified_label.text(), window.identified_label.text()
    assert state.identified_at_s is not None and state.identified_at_s <= 5.0
    shot = tmp_path / "desktop_app.png"
    assert window.grab().save(str(shot)) and shot.stat().st_size > 5000
    window.close()
