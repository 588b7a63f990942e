"""Live identification, "what is playing": ``Library.create_stream``.

Each fingerprint window of the stream is embedded once, as soon as it is whole (every
``query_hop_frames``, as a query clip is); every ``update_seconds`` (0.25 s) the fingerprints of the last
``context_seconds`` are matched against the library. A match's ``offset_s`` is where the stream's
start lies in the track (so ``offset_s + time_s`` is the position now), the same convention as a
query of the whole stream, which ``input_finished()`` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .errors import AudioError, ParameterError
from .fingerprint import Fingerprints, Match
from .frontend import FrameBatcher
from .stream import AudioStream


@dataclass(frozen=True)
class IdentifyUpdate:
    """The library tracks matching the last ``context_seconds`` of the stream at ``time_s`` (best
    first; empty while nothing matches)."""

    time_s: float
    matches: tuple[Match, ...]


class IdentifyStream(AudioStream):
    def __init__(
        self,
        library,
        sample_rate: int | None = None,
        *,
        update_seconds: float = 0.25,
        context_seconds: float = 10.0,
        top_k: int = 3,
        threshold: float | None = None,
    ) -> None:
        fp = library.fingerprinter
        super().__init__(fp.model, sample_rate)
        frame_rate = fp.frontend_config.frame_rate
        if not update_seconds > 0 or not context_seconds >= fp.window_s:
            raise ParameterError(
                f"update_seconds must be > 0 and context_seconds at least one window ({fp.window_s:.2f} s)"
            )
        self.library = library
        self.top_k = top_k
        self.threshold = threshold
        self._frame_rate = frame_rate
        self._hop = fp.query_hop_frames
        self.update_frames = max(1, round(update_seconds * frame_rate))
        self._context = max(1, 1 + round((context_seconds * frame_rate - fp.window_frames) / self._hop))
        self._batcher = FrameBatcher(
            fp.frontend_config.n_mels, fp.window_frames, self._hop, batch_size=256, tail="drop", pad_value=0.0
        )
        self._embeddings: list[np.ndarray] = []
        self._silent: list[np.ndarray] = []
        self._n_frames = 0
        self._next_update = self.update_frames

    def _embed(self) -> None:
        fp = self.library.fingerprinter
        while self._batcher.num_windows_ready:
            embeddings, silent = fp.embed_windows(self._batcher.pop_batch()[0])
            self._embeddings.append(embeddings)
            self._silent.append(silent)

    def _fingerprints(self, last: int | None = None) -> Fingerprints | None:
        if not self._embeddings:
            return None
        if len(self._embeddings) > 1:
            self._embeddings = [np.concatenate(self._embeddings)]
            self._silent = [np.concatenate(self._silent)]
        emb, silent = self._embeddings[0], self._silent[0]
        if last is not None:
            emb, silent = emb[-last:], silent[-last:]
        return Fingerprints(emb, self._hop, silent, self._n_frames / self._frame_rate)

    def _match(self, last: int | None) -> tuple[Match, ...]:
        query = self._fingerprints(last)
        if query is None:
            return ()
        first_window = len(self._embeddings[0]) - len(query.embeddings)
        start_s = first_window * self._hop / self._frame_rate
        matches = self.library.match(query, top_k=self.top_k, threshold=self.threshold)
        return tuple(replace(m, offset_s=m.offset_s - start_s) for m in matches)

    def _on_frames(self, frames: np.ndarray, final: bool) -> list[IdentifyUpdate]:
        if frames.shape[1]:
            self._batcher.accept_frames(frames)
            self._n_frames += frames.shape[1]
            self._embed()
        if final or self._n_frames < self._next_update:
            return []
        self._next_update = (self._n_frames // self.update_frames + 1) * self.update_frames
        return [IdentifyUpdate(self._n_frames / self._frame_rate, self._match(self._context))]

    def _finish(self, updates: list[IdentifyUpdate]) -> list[Match]:
        if not self._embeddings:
            fp = self.library.fingerprinter
            raise AudioError(
                f"{self.seconds:.2f} s of audio is shorter than one fingerprint window ({fp.window_s:.2f} s)"
            )
        return list(self._match(None))
