"""Live structure segmentation: ``Segmenter.create_stream``.

The structure model looks at a whole song at once (self-attention over up to ``window_frames``), so a
live stream re-runs it every ``update_seconds`` over the audio so far (the last ``window_frames`` of
it) and reports the boundaries a run picks at least ``delay_seconds`` behind the live edge. A
boundary is reported once and never taken back; usually by the first run after it is
``delay_seconds`` old, later when that run does not pick it yet (``musicedge bench --suite
streaming`` measures the delay: about 9 s median with the defaults). The labels of the sections
reported so far follow the latest run. At ``input_finished()`` the model runs once over everything,
exactly as :meth:`Segmenter.analyze` does, and that offline answer is the stream's result.

The stream keeps the song's mel frames (about 1.9 MB a minute at 22 050 Hz), which the final answer
needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ParameterError
from .segment import (
    Segment,
    Segmenter,
    SegmentResult,
    _log_softmax,
    frame_times,
    label_sections,
    pick_peaks,
)
from .stream import AudioStream


@dataclass(frozen=True)
class SectionUpdate:
    """The sections found up to ``time_s``: ``boundaries`` (seconds, each reported once and kept) and
    ``segments`` covering ``[0, time_s)`` (the last one still open), labelled by the latest run."""

    time_s: float
    boundaries: tuple[float, ...]
    segments: tuple[Segment, ...]


class SegmenterStream(AudioStream):
    def __init__(
        self,
        segmenter: Segmenter,
        sample_rate: int | None = None,
        *,
        update_seconds: float = 2.0,
        delay_seconds: float = 8.0,
    ) -> None:
        if not update_seconds > 0 or not delay_seconds >= 0:
            raise ParameterError(
                f"update_seconds must be > 0 and delay_seconds >= 0, got {update_seconds}, {delay_seconds}"
            )
        super().__init__(segmenter.model, sample_rate)
        self.segmenter = segmenter
        config = segmenter.spec.frontend
        self._frame_rate = config.sample_rate / config.hop_length
        self.update_frames = max(1, round(update_seconds * self._frame_rate))
        self.delay_seconds = float(delay_seconds)
        self._chunks: list[np.ndarray] = []
        self._n_frames = 0
        self._next_update = self.update_frames
        self._boundaries: list[float] = []

    def _frames(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks, axis=1)]
        return self._chunks[0]

    def _on_frames(self, frames: np.ndarray, final: bool) -> list[SectionUpdate]:
        if frames.shape[1]:
            self._chunks.append(frames)
            self._n_frames += frames.shape[1]
        updates = []
        if not final and self._n_frames >= self._next_update:
            self._next_update = (self._n_frames // self.update_frames + 1) * self.update_frames
            updates.append(self._update())
        return updates

    def _update(self) -> SectionUpdate:
        seg = self.segmenter
        pool = seg.pool
        frames = self._frames()
        # The context: the last window of frames, starting on an output-frame boundary.
        first = max(0, self._n_frames - seg.spec.window_frames) // pool * pool
        boundary_logits, label_logits = seg.activations(frames[:, first:])
        config = seg.spec.frontend
        times = first / self._frame_rate + frame_times(
            len(boundary_logits), pool, config.hop_length, config.sample_rate
        )
        activation = 1.0 / (1.0 + np.exp(-np.clip(boundary_logits, -60.0, 60.0)))
        step = pool / self._frame_rate
        now = self._n_frames / self._frame_rate
        settled = now - self.delay_seconds
        last = self._boundaries[-1] if self._boundaries else 0.0
        min_gap = seg.peak_params.min_distance_s
        for b in times[0] + pick_peaks(activation, seg.frame_rate, seg.peak_params) * step:
            if last + min_gap <= b < settled:
                self._boundaries.append(float(b))
                last = b
        segments = label_sections(
            self._boundaries, now, times, _log_softmax(label_logits), seg.labels, min_length=seg.min_length
        )
        return SectionUpdate(now, tuple(self._boundaries), tuple(segments))

    def _finish(self, updates: list[SectionUpdate]) -> SegmentResult:
        return self.segmenter.result_from_frames(self._frames(), self.seconds)
