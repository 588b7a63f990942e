"""Live input: the part every task's stream shares.

An :class:`AudioStream` takes audio as it plays or records, in chunks of any size::

    with classifier.create_stream(sample_rate=44100) as stream:
        for chunk in chunks:                        # any sizes, float32 mono
            for update in stream.accept_waveform(chunk):
                show(update)
        final = stream.input_finished()

It checks each chunk before anything changes (so a refused chunk leaves the stream as it was and it
stays usable), resamples from the stream's rate to the model's with a streaming soxr resampler, runs
the model's mel frontend incrementally and hands each batch of new frames to the task's
:meth:`AudioStream._on_frames`. Chunks must come at the stream's own sample rate: a chunk with another
``sr`` is refused with a :class:`~musicedge.errors.ParameterError` (create the stream with that
``sample_rate`` instead; it resamples). After :meth:`close` every call raises a ``ParameterError``.

A stream is for one thread at a time; many streams may share one loaded model across threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .audio import validate_audio
from .errors import AudioError, ParameterError
from .frontend import MelFrontend
from .model import OnnxModel


class AudioStream(ABC):
    """The shared machinery of a task's live stream; subclasses implement ``_on_frames`` and ``_finish``.

    Args:
        model: the task's loaded model; its ``spec.frontend`` gives the model's sample rate and frames.
        sample_rate: the rate of the chunks that will be fed (default: the model's own rate).
    """

    def __init__(self, model: OnnxModel, sample_rate: int | None = None) -> None:
        target = model.spec.frontend.sample_rate
        if sample_rate is None:
            sample_rate = target
        if (
            isinstance(sample_rate, bool)
            or not isinstance(sample_rate, (int, np.integer))
            or sample_rate <= 0
        ):
            raise ParameterError(f"sample_rate must be a positive integer, got {sample_rate!r}")
        self.model = model
        self.sample_rate = int(sample_rate)
        self._frontend: MelFrontend | None = model.create_frontend()
        self._resampler = None
        if self.sample_rate != target:
            import soxr

            self._resampler = soxr.ResampleStream(self.sample_rate, target, 1, dtype="float32", quality="HQ")
        self._samples_in = 0
        self._finished = False

    # -- the public face ------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._frontend is None

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def seconds(self) -> float:
        """Audio accepted so far, in seconds."""
        return self._samples_in / self.sample_rate

    def accept_waveform(self, chunk: np.ndarray, sr: int | None = None) -> list[Any]:
        """Feed one chunk (1-D float samples at the stream's rate; ``sr``, if given, must equal it).

        Returns the task's updates that this chunk made available (possibly none).

        Raises:
            AudioError: the chunk holds NaN/Inf, is not 1-D or not floating point; the stream is left
                as it was.
            ParameterError: ``sr`` differs from the stream's rate, the stream is finished or closed.
        """
        frontend = self._check_open()
        if self._finished:
            raise ParameterError("accept_waveform() after input_finished(); create a new stream")
        if sr is not None and sr != self.sample_rate:
            raise ParameterError(
                f"chunk at {sr} Hz on a stream of {self.sample_rate} Hz: feed chunks at the stream's rate, "
                f"or create the stream with sample_rate={sr} (it resamples to the model's "
                f"{self.model.spec.frontend.sample_rate} Hz)"
            )
        y = validate_audio(np.asarray(chunk), name="chunk")
        if y.size == 0:
            return []
        self._samples_in += y.size
        if self._resampler is not None:
            y = self._resampler.resample_chunk(y)
        if y.size:
            frontend.accept_waveform(y)
        return self._on_frames(frontend.pop_frames(), final=False)

    def input_finished(self) -> Any:
        """Flush the end of the audio and return the task's final result (the offline answer)."""
        frontend = self._check_open()
        if self._finished:
            raise ParameterError("input_finished() was already called; create a new stream")
        if self._samples_in == 0:
            raise AudioError("no audio was fed to the stream before input_finished()")
        self._finished = True
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            if tail.size:
                frontend.accept_waveform(tail)
        if frontend.num_samples_accepted == 0:
            raise AudioError(f"{self.seconds * 1000:.1f} ms of audio is too short to resample")
        frontend.input_finished()
        updates = self._on_frames(frontend.pop_frames(), final=True)
        return self._finish(updates)

    def close(self) -> None:
        """Release the stream's buffers; later calls raise. Closing twice is harmless."""
        self._frontend = None
        self._resampler = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- for the tasks --------------------------------------------------------------------------

    def _check_open(self) -> MelFrontend:
        if self._frontend is None:
            raise ParameterError(f"the {type(self).__name__} is closed")
        return self._frontend

    @abstractmethod
    def _on_frames(self, frames: np.ndarray, final: bool) -> list[Any]:
        """New ``(n_mels, k)`` frames (k may be 0); ``final`` on the last call. Returns updates."""

    @abstractmethod
    def _finish(self, updates: list[Any]) -> Any:
        """The final result, given the updates of the last frames."""
