"""Classification and tagging at run time: ``Classifier`` and its ``Prediction``.

A clip is decoded at the model's sample rate, turned into mel frames by the C++ frontend, cut into the
model's windows (``spec.window_frames`` every ``spec.hop_frames``; a clip shorter than one window, or
the tail of a longer one, is padded with the frontend's silence floor), and scored in batches.
Aggregation: the per-window probabilities (softmax for single-label models, sigmoid for multi-label
ones) are averaged over the windows. A multi-label model returns every tag whose averaged probability
reaches its threshold (chosen on validation data and stored in the model).
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .audio import display_path, load_input
from .batching import CrossFileBatcher
from .errors import ModelError, MusicEdgeError, ParameterError
from .frontend import MelFrontend
from .metadata import encode_tokens, metadata_tokens
from .model import OnnxModel
from .models import resolve
from .stream import AudioStream
from .windows import mel_windows, silence_floor, wave_windows, window_batcher


@dataclass(frozen=True)
class Prediction:
    """The result for one clip: ``predictions`` holds (label, score) pairs, best first.

    For a single-label model every label is listed with its probability; for a multi-label model the
    tags over their thresholds. ``scores`` holds every label's averaged probability.
    """

    path: str | None
    duration_s: float
    model: str
    predictions: tuple[tuple[str, float], ...]
    scores: dict[str, float]

    @property
    def label(self) -> str | None:
        """The best label (None for a multi-label model with no tag over its threshold)."""
        return self.predictions[0][0] if self.predictions else None

    def top(self, k: int | None) -> tuple[tuple[str, float], ...]:
        return self.predictions if k is None else self.predictions[:k]

    def to_dict(self, top_k: int | None = None) -> dict:
        """The JSON record of DESIGN.md: path, duration_s, model, predictions (best first)."""
        return {
            "path": self.path,
            "duration_s": round(self.duration_s, 3),
            "model": self.model,
            "predictions": [{"label": label, "score": round(score, 6)} for label, score in self.top(top_k)],
        }


@dataclass(frozen=True)
class StreamUpdate:
    """A live classification at ``time_s`` seconds into the stream.

    ``latest`` scores the model's latest window alone (what is playing now: the ``window_frames``
    frames ending at ``window_end_s``, which is ``time_s`` or, when one of the offline windows ended
    since the previous update, that window's end; before a whole window has arrived, what there is,
    padded as offline pads a short clip). ``overall`` averages every window the offline prediction
    would use that has completed so far (``latest`` until the first one completes). Each update thus
    costs one model window.
    """

    time_s: float
    window_end_s: float
    latest: Prediction
    overall: Prediction


@dataclass
class _Clip:
    """A decoded clip's model inputs, on their way to a batch."""

    path: str | None
    duration_s: float
    windows: np.ndarray  # (n_windows, 1, n_mels, W) for mel models, (n_windows, 1, N) for waveform ones


class Classifier:
    """A classification or tagging model, ready to score clips.

    ``Classifier.load("genre")`` takes a bundled model's name or a path to an ONNX file written by
    ``python -m export``. Safe to share across threads (ONNX Runtime sessions are).
    """

    def __init__(self, model: OnnxModel, *, batch_size: int = 32) -> None:
        spec = model.spec
        if spec.task != "classify":
            raise ModelError(f"{model.path}: a {spec.task!r} model, not a classifier")
        if batch_size < 1:
            raise ParameterError(f"batch_size must be positive, got {batch_size}")
        self.model = model
        self.spec = spec
        self.batch_size = batch_size
        self.name = spec.model_name
        self.labels = spec.labels
        self._frontend_config = spec.frontend
        self._wave_input = spec.extra.get("input") == "wave"
        self.thresholds = self._thresholds() if spec.multilabel else None

    @classmethod
    def load(
        cls,
        name_or_path: str | os.PathLike,
        *,
        device: str = "auto",
        threads: int | None = None,
        batch_size: int = 32,
    ) -> Classifier:
        return cls(OnnxModel(resolve(name_or_path), device=device, threads=threads), batch_size=batch_size)

    def create_stream(
        self, sample_rate: int | None = None, *, update_seconds: float = 0.5, metadata: dict | None = None
    ) -> ClassifierStream:
        """A live stream over this model (see :class:`ClassifierStream`); ``sample_rate`` is the rate of
        the chunks to be fed (default the model's), ``update_seconds`` the audio between updates."""
        return ClassifierStream(self, sample_rate, update_seconds=update_seconds, metadata=metadata)

    def close(self) -> None:
        """Release the model's session; later calls raise ModelError. Closing twice is harmless."""
        self.model.close()

    def __enter__(self) -> Classifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _thresholds(self) -> np.ndarray:
        raw = self.spec.extra.get("thresholds")
        if raw is None:
            return np.full(len(self.labels), 0.5)
        try:
            values = np.asarray(json.loads(raw), dtype=np.float64)
        except (ValueError, TypeError):
            raise ModelError(
                f"{self.model.path}: musicedge.extra.thresholds is not a JSON list of numbers"
            ) from None
        if values.shape != (len(self.labels),):
            raise ModelError(
                f"{self.model.path}: musicedge.extra.thresholds has {values.size} values "
                f"for {len(self.labels)} labels"
            )
        return values

    # -- inputs ---------------------------------------------------------------------------------------

    @property
    def sample_rate(self) -> int:
        return self._frontend_config.sample_rate

    def _windows(self, y: np.ndarray) -> np.ndarray:
        if self._wave_input:
            return wave_windows(y, self.spec)
        return mel_windows(MelFrontend(self._frontend_config).compute(y), self.spec)

    def _prepare(self, item: str | os.PathLike | np.ndarray, sr: int | None) -> _Clip:
        y, path = load_input(item, sr, self.sample_rate)
        return _Clip(path, len(y) / self.sample_rate, self._windows(y))

    # -- scoring --------------------------------------------------------------------------------------

    def _meta(self, metadata: dict | None) -> np.ndarray:
        """The (1, L) token ids of ``metadata`` ({"artists": [...], "album": str, "words": [...], "title":
        str}, any of them) for a metadata-fusion model; with no metadata a single padding token, which such
        models are trained on. Tokens the model's vocabulary lacks (a title for a model trained without
        titles) are dropped."""
        if not metadata:
            return np.zeros((1, 1), np.int64)
        unknown = set(metadata) - {"artists", "album", "words", "title"}
        if unknown:
            raise ParameterError(
                f"unknown metadata key(s) {sorted(unknown)}; use artists, album, words, title"
            )
        try:
            vocabulary = json.loads(self.spec.extra["meta_vocab"])
            max_tokens = int(self.spec.extra.get("meta_max_tokens", "64"))
        except (KeyError, ValueError):
            raise ModelError(
                f"{self.model.path}: musicedge.extra.meta_vocab is missing or not JSON"
            ) from None
        tokens = metadata_tokens(
            metadata.get("artists", ()),
            metadata.get("album"),
            metadata.get("words", ()),
            metadata.get("title"),
        )
        return encode_tokens(tokens, vocabulary, max_tokens)[None, :]

    def _run(self, windows: np.ndarray, meta: np.ndarray | None = None) -> np.ndarray:
        """Probabilities (n, C) for model inputs (n, ...); ``meta`` (1, L) token ids for fusion models."""
        feeds = {self.model.input_names[0]: windows}
        if "meta" in self.model.input_names:
            feeds["meta"] = np.repeat(meta if meta is not None else self._meta(None), len(windows), axis=0)
        logits = next(iter(self.model.run(feeds).values())).astype(np.float64)
        if self.spec.multilabel:
            return 1.0 / (1.0 + np.exp(-logits))
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def _result(self, clip: _Clip, probabilities: np.ndarray) -> Prediction:
        return self._prediction(clip.path, clip.duration_s, probabilities.mean(axis=0))

    def _prediction(self, path: str | None, duration_s: float, mean: np.ndarray) -> Prediction:
        scores = {label: float(p) for label, p in zip(self.labels, mean, strict=True)}
        order = np.argsort(-mean, kind="stable")
        if self.thresholds is not None:
            order = [i for i in order if mean[i] >= self.thresholds[i]]
        predictions = tuple((self.labels[i], float(mean[i])) for i in order)
        return Prediction(path, duration_s, self.name, predictions, scores)

    def predict(
        self, item: str | os.PathLike | np.ndarray, sr: int | None = None, *, metadata: dict | None = None
    ) -> Prediction:
        """Classify one clip: a path, or a 1-D float array with its sample rate ``sr``. ``metadata``
        ({"artists": [...], "album": ..., "words": [...], "title": ...}) feeds a metadata-fusion model;
        others ignore it."""
        clip = self._prepare(item, sr)
        meta = self._meta(metadata) if "meta" in self.model.input_names else None
        return self._result(clip, self._scores(clip.windows, meta))

    def _scores(self, windows: np.ndarray, meta: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``(n, C)`` of one clip's model inputs ``(n, ...)``, ``batch_size`` at a time."""
        parts = [
            self._run(windows[i : i + self.batch_size], meta) for i in range(0, len(windows), self.batch_size)
        ]
        return np.concatenate(parts)

    def predict_files(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        workers: int = 2,
    ) -> Iterator[Prediction | tuple[str, MusicEdgeError]]:
        """Classify many files: ``workers`` threads decode and compute mel frames (both release the GIL)
        while windows of several files share each model batch. Yields, in input order, a Prediction or
        ``(path, error)`` for a file that failed; the other files still get their results."""
        paths = [str(p) for p in paths]
        if workers < 1:
            raise ParameterError(f"workers must be positive, got {workers}")
        batcher = CrossFileBatcher(self._run, self.batch_size)
        # Clips in input order, each with the list its window probabilities are gathered into.
        pending: deque[tuple[_Clip | tuple[str, MusicEdgeError], list[np.ndarray]]] = deque()

        def prepare(index: int) -> _Clip | tuple[str, MusicEdgeError]:
            try:
                return self._prepare(paths[index], None)
            except MusicEdgeError as exc:
                return display_path(paths[index]), exc

        def finished() -> Iterator[Prediction | tuple[str, MusicEdgeError]]:
            while pending:
                clip, parts = pending[0]
                if isinstance(clip, _Clip):
                    if sum(len(p) for p in parts) < len(clip.windows):
                        return
                    yield self._result(clip, np.concatenate(parts))
                else:
                    yield clip
                pending.popleft()

        lookahead = 2 * workers  # bounded, so memory stays flat however many files there are
        with ThreadPoolExecutor(workers) as pool:
            futures = {i: pool.submit(prepare, i) for i in range(min(len(paths), lookahead))}
            for i in range(len(paths)):
                result = futures.pop(i).result()
                if i + lookahead < len(paths):
                    futures[i + lookahead] = pool.submit(prepare, i + lookahead)
                parts: list[np.ndarray] = []
                pending.append((result, parts))
                if isinstance(result, _Clip):
                    batcher.add(parts.append, result.windows)
                yield from finished()
            batcher.flush()
            yield from finished()


class ClassifierStream(AudioStream):
    """Live classification: rolling predictions every ``update_seconds`` of audio, and at the end the
    offline answer.

    ``accept_waveform(chunk)`` returns a :class:`StreamUpdate` for every update time the chunk reached
    (none, one, or several for a long chunk); ``input_finished()`` returns the :class:`Prediction` that
    :meth:`Classifier.predict` gives for the whole audio (the same windows, the padded tail included).
    Each update runs the model over one window (see :class:`StreamUpdate`).
    Mel-input models only.
    """

    def __init__(
        self,
        classifier: Classifier,
        sample_rate: int | None = None,
        *,
        update_seconds: float = 0.5,
        metadata: dict | None = None,
    ) -> None:
        if classifier._wave_input:
            raise ParameterError(
                f"{classifier.model.path}: streaming takes mel-input models, not waveform ones"
            )
        super().__init__(classifier.model, sample_rate)
        spec = classifier.spec
        hop_seconds = spec.frontend.hop_length / spec.frontend.sample_rate
        if not update_seconds >= hop_seconds:
            raise ParameterError(
                f"update_seconds must be at least one frame ({hop_seconds:.4f} s), got {update_seconds}"
            )
        self.classifier = classifier
        self.update_frames = round(update_seconds / hop_seconds)
        self._window = spec.window_frames
        self._seconds_per_frame = hop_seconds
        self._floor = silence_floor(spec)
        self._meta = classifier._meta(metadata) if "meta" in classifier.model.input_names else None
        self._batcher = window_batcher(spec, batch_size=64)
        self._recent = np.zeros((spec.frontend.n_mels, 0), np.float32)  # the last frames, up to a window
        self._frames_seen = 0
        self._next_update = self.update_frames
        self._sum = np.zeros(len(classifier.labels))
        self._count = 0

    def _live_window(self, frames: np.ndarray, end: int) -> np.ndarray:
        """The window of frames ending at stream frame ``end`` (``frames`` ends at ``_frames_seen``)."""
        start = max(0, end - self._window)
        first = self._frames_seen - frames.shape[1]
        window = np.full((1, 1, frames.shape[0], self._window), self._floor, np.float32)
        window[0, 0, :, : end - start] = frames[:, start - first : end - first]
        return window

    def _on_frames(self, frames: np.ndarray, final: bool) -> list[StreamUpdate]:
        if frames.shape[1] == 0 and not final:
            return []
        self._batcher.accept_frames(frames)
        if final:
            self._batcher.input_finished()
        recent = np.concatenate([self._recent, frames], axis=1)
        self._frames_seen += frames.shape[1]
        ends = []
        while self._next_update <= self._frames_seen:
            ends.append(self._next_update)
            self._next_update += self.update_frames
        grid_batches, grid_ends = [], []  # the offline windows just completed, where each ends
        while self._batcher.num_windows_ready:
            batch, starts = self._batcher.pop_batch()
            grid_batches.append(batch)
            grid_ends.extend(starts + self._window)
        # Each update scores one window: an offline window that ended since the previous update when
        # there is one (it is scored anyway), else the window ending at the update.
        live, sources = [], []
        for end in ends:
            fresh = [i for i, e in enumerate(grid_ends) if end - self.update_frames < e <= end]
            if fresh:
                sources.append((True, fresh[-1], grid_ends[fresh[-1]]))
            else:
                sources.append((False, len(live), end))
                live.append(self._live_window(recent, end))
        self._recent = recent[:, -self._window :]
        if not live and not grid_batches:
            return []
        probabilities = self.classifier._run(np.concatenate(live + grid_batches), self._meta)
        grid = probabilities[len(live) :]
        updates, added = [], 0
        for end, (from_grid, index, window_end) in zip(ends, sources, strict=True):
            while added < len(grid) and grid_ends[added] <= end:
                self._sum += grid[added]
                self._count += 1
                added += 1
            time_s = end * self._seconds_per_frame
            scores = grid[index] if from_grid else probabilities[index]
            latest = self.classifier._prediction(None, time_s, scores)
            overall = (
                self.classifier._prediction(None, time_s, self._sum / self._count) if self._count else latest
            )
            updates.append(StreamUpdate(time_s, window_end * self._seconds_per_frame, latest, overall))
        self._sum += grid[added:].sum(axis=0)
        self._count += len(grid) - added
        return updates

    def _finish(self, updates: list[StreamUpdate]) -> Prediction:
        return self.classifier._prediction(None, self.seconds, self._sum / max(1, self._count))


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


__all__ = ["Classifier", "ClassifierStream", "Prediction", "StreamUpdate", "default_workers"]
