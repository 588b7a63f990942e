"""What the desktop example shows, without Qt: one audio stream fanned out to musicedge's live streams.

``LiveSession`` feeds each chunk to a genre stream, a mood stream, a structure stream and, with a
library, a "what is playing" stream, and keeps the latest state of each for the window to draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from musicedge.classify import Classifier
from musicedge.library import Library
from musicedge.segment import Segment, Segmenter


@dataclass
class LiveState:
    """The latest of everything, at ``time_s`` seconds into the audio."""

    time_s: float = 0.0
    duration_s: float = 0.0
    genres: list[tuple[str, float]] = field(default_factory=list)  # best first
    moods: list[tuple[str, float]] = field(default_factory=list)  # the tags over their thresholds
    sections: list[Segment] = field(default_factory=list)  # settled sections so far (all at the end)
    identified: tuple[str, float, float] | None = None  # (track, offset_s, score)
    identified_at_s: float | None = None  # stream time of the first identification
    finished: bool = False


class LiveSession:
    """Streams for one piece of audio at ``sample_rate``; ``feed`` chunks, then ``finish``."""

    def __init__(
        self,
        sample_rate: int,
        duration_s: float,
        *,
        genre: Classifier,
        mood: Classifier,
        segmenter: Segmenter,
        library: Library | None = None,
    ) -> None:
        self.state = LiveState(duration_s=duration_s)
        self._genre = genre.create_stream(sample_rate)
        self._mood = mood.create_stream(sample_rate)
        self._sections = segmenter.create_stream(sample_rate)
        self._identify = library.create_stream(sample_rate) if library is not None else None

    def feed(self, chunk: np.ndarray) -> LiveState:
        state = self.state
        for update in self._genre.accept_waveform(chunk):
            state.genres = list(update.latest.predictions[:3])
        for update in self._mood.accept_waveform(chunk):
            state.moods = list(update.overall.predictions)
        for update in self._sections.accept_waveform(chunk):
            state.sections = list(update.segments)
        if self._identify is not None:
            for update in self._identify.accept_waveform(chunk):
                self._identified(update.matches, update.time_s)
        state.time_s = self._genre.seconds
        return state

    def _identified(self, matches, time_s: float) -> None:
        if matches:
            best = matches[0]
            self.state.identified = (best.track, best.offset_s, best.score)
            if self.state.identified_at_s is None:
                self.state.identified_at_s = time_s

    def finish(self) -> LiveState:
        state = self.state
        state.genres = list(self._genre.input_finished().predictions[:3])
        state.moods = list(self._mood.input_finished().predictions)
        state.sections = list(self._sections.input_finished().segments)
        if self._identify is not None:
            self._identified(self._identify.input_finished(), state.time_s)
        state.finished = True
        self.close()
        return state

    def close(self) -> None:
        for stream in (self._genre, self._mood, self._sections, self._identify):
            if stream is not None:
                stream.close()
