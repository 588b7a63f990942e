"""A small desktop player that analyses what it plays, live: genre, moods, the growing section timeline
and the identified track, from musicedge's streaming API.

    python examples/desktop/app.py [SONG] [--library DIR] [--speed 1.0]

Open a file (toolbar or argument); it is "played" at ``--speed`` times real time (no sound is output:
the point is the analysis an audio callback would feed) in 0.1 s chunks through a
:class:`live.LiveSession`. With ``--library`` (a folder made by ``musicedge index``) it also names the
track. Runs offscreen too (``QT_QPA_PLATFORM=offscreen``), which is how its test drives it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QGridLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live import LiveSession, LiveState  # noqa: E402

from musicedge.audio import load  # noqa: E402
from musicedge.classify import Classifier  # noqa: E402
from musicedge.errors import MusicEdgeError  # noqa: E402
from musicedge.fingerprint import Fingerprinter  # noqa: E402
from musicedge.library import Library, library_model_name  # noqa: E402
from musicedge.plot_segments import LABEL_COLOURS  # noqa: E402 (plain dict: no matplotlib)
from musicedge.segment import Segmenter  # noqa: E402

CHUNK_S = 0.1


class Timeline(QWidget):
    """The sections found so far, coloured by label, over the whole length, with a playhead."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(70)
        self.state = LiveState()

    def show_state(self, state: LiveState) -> None:
        self.state = state
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        width, height = self.width(), self.height()
        painter.fillRect(0, 0, width, height, QColor("#f4f4f4"))
        total = max(self.state.duration_s, 1e-9)
        for section in self.state.sections:
            x0, x1 = width * section.start / total, width * section.end / total
            painter.fillRect(
                QRectF(x0, 8, max(1.0, x1 - x0), height - 16),
                QColor(LABEL_COLOURS.get(section.label, "#cccccc")),
            )
            painter.setPen(QPen(QColor("#333333")))
            painter.drawLine(int(x0), 4, int(x0), height - 4)
            if x1 - x0 > 40:
                painter.drawText(
                    QRectF(x0 + 4, 8, x1 - x0 - 8, height - 16), Qt.AlignmentFlag.AlignVCenter, section.label
                )
        playhead = width * self.state.time_s / total
        painter.setPen(QPen(QColor("#000000"), 2))
        painter.drawLine(int(playhead), 0, int(playhead), height)
        painter.end()


class PlayerWindow(QMainWindow):
    def __init__(self, *, library: str | None = None, speed: float = 1.0, on_done=None) -> None:
        super().__init__()
        self.on_done = on_done  # called with the final LiveState
        self.error: Exception | None = None  # what stopped the analysis, if anything did
        self.setWindowTitle("musicedge: live analysis")
        self.speed = speed
        self.genre = Classifier.load("genre", threads=1)
        self.mood = Classifier.load("mood", threads=1)
        self.segmenter = Segmenter.load("structure", threads=1)
        self.library = None
        if library:
            model = library_model_name(library) or "fingerprint"
            self.library = Library.open(library, Fingerprinter.load(model, threads=1))
        self.session: LiveSession | None = None
        self.audio = np.zeros(0, np.float32)
        self.sample_rate = 0
        self.position = 0
        self.started = 0.0

        central = QWidget()
        layout = QVBoxLayout(central)
        open_button = QPushButton("Open…")
        open_button.clicked.connect(self.choose_file)
        self.file_label = QLabel("no file")
        self.time_label = QLabel("")
        layout.addWidget(open_button)
        layout.addWidget(self.file_label)
        layout.addWidget(self.time_label)

        grid = QGridLayout()
        self.genre_names, self.genre_bars = [], []
        for row in range(3):
            name, bar = QLabel("—"), QProgressBar()
            name.setMinimumWidth(90)
            bar.setRange(0, 100)
            grid.addWidget(name, row, 0)
            grid.addWidget(bar, row, 1)
            self.genre_names.append(name)
            self.genre_bars.append(bar)
        layout.addWidget(QLabel("Genre (the latest window; the whole song when done)"))
        layout.addLayout(grid)
        self.mood_label = QLabel("Moods: —")
        layout.addWidget(self.mood_label)
        layout.addWidget(QLabel("Sections"))
        self.timeline = Timeline()
        layout.addWidget(self.timeline)
        self.identified_label = QLabel("Playing: —" if self.library else "Playing: (no library given)")
        bold = QFont()
        bold.setBold(True)
        self.identified_label.setFont(bold)
        layout.addWidget(self.identified_label)
        self.setCentralWidget(central)
        self.resize(720, 420)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)

    def choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open audio", "", "Audio (*.wav *.flac *.ogg *.mp3 *.opus)"
        )
        if path:
            self.play(path)

    def play(self, path: str) -> None:
        try:
            self.audio, self.sample_rate = load(path)
        except MusicEdgeError as exc:
            self.file_label.setText(f"cannot play: {exc}")
            return
        self.file_label.setText(Path(path).name)
        duration = len(self.audio) / self.sample_rate
        self.session = LiveSession(
            self.sample_rate,
            duration,
            genre=self.genre,
            mood=self.mood,
            segmenter=self.segmenter,
            library=self.library,
        )
        self.position = 0
        self.started = time.perf_counter()
        self.timer.start(0 if self.speed == float("inf") else int(1000 * CHUNK_S / self.speed))

    def tick(self) -> None:
        try:
            self._advance()
        except Exception as exc:  # noqa: BLE001 - shown in the window: an exception must not leave a Qt slot
            self.timer.stop()
            self.session = None
            self.error = exc
            self.file_label.setText(f"analysis stopped: {type(exc).__name__}: {exc}")

    def _advance(self) -> None:
        if self.session is None:
            return
        chunk = int(CHUNK_S * self.sample_rate)
        if self.position < len(self.audio):
            state = self.session.feed(self.audio[self.position : self.position + chunk])
            self.position += chunk
        else:
            self.timer.stop()
            state = self.session.finish()
            self.session = None
            self.show_state(state)
            if self.on_done is not None:
                self.on_done(state)
            return
        self.show_state(state)

    def show_state(self, state: LiveState) -> None:
        self.time_label.setText(
            f"{state.time_s:6.1f} s of {state.duration_s:.1f} s" + ("  (done)" if state.finished else "")
        )
        for i, (name, bar) in enumerate(zip(self.genre_names, self.genre_bars, strict=True)):
            label, score = state.genres[i] if i < len(state.genres) else ("—", 0.0)
            name.setText(label)
            bar.setValue(round(100 * score))
        moods = ", ".join(f"{m} {s:.2f}" for m, s in state.moods) or "—"
        self.mood_label.setText(f"Moods: {moods}")
        self.timeline.show_state(state)
        if self.library is not None:
            if state.identified:
                track, start, score = state.identified  # start: where our 0 s lies in the track
                position = max(0.0, start + state.time_s)
                self.identified_label.setText(
                    f"Playing: {Path(track).name}, now at {position:.1f} s of it (score {score:.2f}; "
                    f"named after {state.identified_at_s:.1f} s of listening)"
                )
            else:
                self.identified_label.setText(
                    "Playing: not in the library" if state.finished else "Playing: listening…"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("song", nargs="?")
    parser.add_argument("--library", help="a folder made by musicedge index")
    parser.add_argument("--speed", type=float, default=1.0, help="times real time (inf: as fast as it goes)")
    parser.add_argument("--screenshot", help="save the window as PNG when the song ends, then quit")
    args = parser.parse_args(argv)
    app = QApplication(sys.argv[:1])

    def done(state: LiveState) -> None:
        if args.screenshot:
            window.grab().save(args.screenshot)
            app.quit()

    window = PlayerWindow(library=args.library, speed=args.speed, on_done=done)
    window.show()
    if args.song:
        window.play(args.song)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
