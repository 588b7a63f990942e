"""Structure segmentation at run time: ``Segmenter``, its ``Segment`` and ``SegmentResult``.

A song is decoded at the model's sample rate and turned into log-mel frames by the C++ frontend; the
structure model (one ONNX file, task ``segment``, written by ``python -m training segment --export``)
runs over the whole song at once and gives two outputs per output frame (``pool`` raw frames, about
0.19 s with the bundled model):

* ``boundary``: logits whose sigmoid is the boundary activation;
* ``labels``: logits over the section taxonomy (``spec.labels``: intro, verse, chorus, bridge,
  instrumental, outro, silence).

Post-processing, all numpy:

1. **Peak picking** (:func:`pick_peaks`): local maxima of the activation that reach ``threshold``
   and exceed the activation's mean over ``mean_window_s`` around them by ``offset``, kept greedily from
   the highest while at least ``min_distance_s`` apart, each refined to a fractional frame by a parabola
   through its neighbours. The four parameters were tuned on validation songs by grid search and are
   stored in the model's metadata (``musicedge.extra.peak_*``).
2. **Sections** (:func:`label_sections`): the boundaries cut ``[0, duration]`` into contiguous
   segments (no gap, no overlap; a song without a boundary, silence or a clip shorter than the model's
   context is one segment). Each segment's label is the argmax of the mean log-probability of its
   frames (the labeller: frame-level label logits from the model's whole-song self-attention, so a
   section's label sees its own content and every other part of the song), and its ``confidence`` the
   mean probability of that label over its frames.

Songs longer than ``spec.window_frames`` raw frames are run in windows of that length every
``spec.hop_frames`` frames, the overlapping outputs blended with triangular weights (attention memory
grows with the square of the length); shorter songs run in one pass.
"""

from __future__ import annotations

import math
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .audio import load_input
from .errors import AudioError, ModelError, MusicEdgeError, ParameterError
from .model import OnnxModel
from .models import resolve
from .windows import silence_floor

__all__ = [
    "PeakParams",
    "Segment",
    "SegmentResult",
    "Segmenter",
    "TrackFiles",
    "frame_times",
    "label_sections",
    "pick_peaks",
    "to_jams",
    "to_lab",
    "unique_stems",
]


@dataclass(frozen=True)
class Segment:
    """One section: ``[start, end)`` in seconds, its function label and the label's confidence (0..1)."""

    start: float
    end: float
    label: str
    confidence: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "label": self.label,
            "confidence": round(self.confidence, 4),
        }


@dataclass(frozen=True)
class PeakParams:
    """Peak-picking settings (see :func:`pick_peaks`); read from and written to ``spec.extra``."""

    threshold: float = 0.3
    min_distance_s: float = 3.0
    mean_window_s: float = 0.0
    offset: float = 0.0

    KEYS = ("peak_threshold", "peak_min_distance_s", "peak_mean_window_s", "peak_offset")

    def __post_init__(self) -> None:
        for name, value in zip(self.KEYS, self.values(), strict=True):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}")

    def values(self) -> tuple[float, float, float, float]:
        return (self.threshold, self.min_distance_s, self.mean_window_s, self.offset)

    def to_extra(self) -> dict[str, str]:
        return {key: repr(float(v)) for key, v in zip(self.KEYS, self.values(), strict=True)}

    @classmethod
    def from_spec(cls, spec) -> PeakParams:
        default = cls()
        values = [spec.extra_float(k, d) for k, d in zip(cls.KEYS, default.values(), strict=True)]
        try:
            return cls(*values)
        except ParameterError as exc:
            raise ModelError(f"model metadata: {exc}") from None


@dataclass(frozen=True)
class SegmentResult:
    """Everything one song's segmentation produced.

    Attributes:
        path: the file (``None`` for an array).
        duration_s: the song's length in seconds.
        model: the model's name.
        segments: the sections, contiguous from 0 to ``duration_s``.
        times: ``(T',)`` centre time (s) of each output frame.
        activation: ``(T',)`` boundary activation (0..1).
        label_probabilities: ``(T', C)`` per-frame label probabilities, columns in ``labels`` order.
        labels: the taxonomy.
        boundaries: ``(K,)`` the picked boundary times (s), before they became segment edges.
        features: ``(n_mels, T')`` the log-mel frames averaged per output frame (for plots).
    """

    path: str | None
    duration_s: float
    model: str
    segments: tuple[Segment, ...]
    times: np.ndarray = field(repr=False)
    activation: np.ndarray = field(repr=False)
    label_probabilities: np.ndarray = field(repr=False)
    labels: tuple[str, ...] = ()
    boundaries: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    features: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """The JSON record of DESIGN.md: path, duration_s, model, segments."""
        return {
            "path": self.path,
            "duration_s": round(self.duration_s, 3),
            "model": self.model,
            "segments": [s.to_dict() for s in self.segments],
        }


# -- post-processing ----------------------------------------------------------------------------------


def frame_times(n_frames: int, pool: int, hop_length: int, sample_rate: int) -> np.ndarray:
    """Centre times (s) of ``n_frames`` output frames, each the mean of ``pool`` raw frames (raw frame
    ``j`` is centred at ``j * hop_length / sample_rate``, the frontend's centred framing)."""
    k = np.arange(n_frames, dtype=np.float64)
    return (k * pool + (pool - 1) / 2.0) * hop_length / sample_rate


def _moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Mean of ``x`` over ``2 * width + 1`` frames centred on each frame (shorter at the edges)."""
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    i = np.arange(len(x))
    lo = np.maximum(i - width, 0)
    hi = np.minimum(i + width + 1, len(x))
    return (c[hi] - c[lo]) / (hi - lo)


def pick_peaks(activation: np.ndarray, frame_rate: float, params: PeakParams = PeakParams()) -> np.ndarray:
    """Boundary positions (fractional output-frame indices, sorted) in a ``(T',)`` activation.

    A frame is a candidate when it is a local maximum (``>=`` its left and ``>`` its right neighbour; the
    last frame never is),
    reaches ``params.threshold`` and, with ``params.mean_window_s > 0``, exceeds the moving mean over
    ``+-mean_window_s`` by ``params.offset``. Candidates are kept from the highest down while at least
    ``params.min_distance_s`` from every kept one, then refined by a parabola through the peak and its
    two neighbours (at most half a frame either way). Never raises on a finite 1-D input: an empty or
    flat activation gives no peak. NaN values count as 0.
    """
    a = np.nan_to_num(np.asarray(activation, dtype=np.float64).ravel(), nan=0.0)
    if not frame_rate > 0:
        raise ParameterError(f"frame_rate must be positive, got {frame_rate}")
    n = a.size
    if n < 3:
        return np.zeros(0)
    left = np.r_[a[0], a[:-1]]
    right = np.r_[a[1:], a[-1]]  # the last frame is never a peak: nothing after it to fall to
    candidate = (a >= left) & (a > right) & (a >= params.threshold)
    if params.mean_window_s > 0:
        width = max(1, int(round(params.mean_window_s * frame_rate)))
        candidate &= a >= _moving_mean(a, width) + params.offset
    index = np.flatnonzero(candidate)
    if index.size == 0:
        return np.zeros(0)
    min_distance = params.min_distance_s * frame_rate
    kept: list[int] = []
    for i in index[np.argsort(-a[index], kind="stable")]:
        if all(abs(int(i) - k) >= min_distance for k in kept):
            kept.append(int(i))
    kept_arr = np.array(sorted(kept), dtype=np.int64)
    positions = kept_arr.astype(np.float64)
    inner = (kept_arr > 0) & (kept_arr < n - 1)
    if inner.any():
        i = kept_arr[inner]
        y0, y1, y2 = a[i - 1], a[i], a[i + 1]
        curvature = y0 - 2 * y1 + y2
        delta = np.where(curvature < 0, 0.5 * (y0 - y2) / np.where(curvature < 0, curvature, -1.0), 0.0)
        positions[inner] += np.clip(delta, -0.5, 0.5)
    return positions


def label_sections(
    boundaries: Sequence[float],
    duration: float,
    times: np.ndarray,
    log_probabilities: np.ndarray,
    labels: Sequence[str],
    *,
    min_length: float = 0.0,
) -> list[Segment]:
    """Contiguous segments from 0 to ``duration`` cut at ``boundaries`` (seconds), each labelled.

    Boundaries outside ``(min_length, duration - min_length)`` or closer than ``min_length`` to the
    previous one are dropped. A segment's label is the argmax of the mean ``log_probabilities`` (``(T',
    C)``) over the frames whose ``times`` fall inside it (the nearest frame when none does); its
    confidence the mean probability of that label over those frames. With no frame at all (``T' = 0``)
    every segment gets ``labels[0]`` with confidence 0. Always at least one segment for ``duration > 0``.
    """
    if not (duration > 0 and math.isfinite(duration)):
        raise ParameterError(f"duration must be a positive number of seconds, got {duration!r}")
    edges = [0.0]
    for b in sorted(float(x) for x in boundaries if math.isfinite(x)):
        if b - edges[-1] > max(min_length, 0.0) and duration - b > max(min_length, 0.0):
            edges.append(b)
    edges.append(float(duration))
    times = np.asarray(times, dtype=np.float64)
    log_probabilities = np.asarray(log_probabilities, dtype=np.float64)
    segments = []
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        if times.size == 0:
            segments.append(Segment(start, end, labels[0], 0.0))
            continue
        inside = np.flatnonzero((times >= start) & (times < end))
        if inside.size == 0:
            inside = np.array([int(np.argmin(np.abs(times - (start + end) / 2.0)))])
        mean = log_probabilities[inside].mean(axis=0)
        best = int(np.argmax(mean))
        confidence = float(np.exp(log_probabilities[inside, best]).mean())
        segments.append(Segment(start, end, labels[best], confidence))
    return segments


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


# -- writers for the MIREX .lab and JAMS formats ------------------------------------------------------


def to_lab(result: SegmentResult) -> str:
    """MIREX structure ``.lab`` text: ``start<TAB>end<TAB>label`` per segment (seconds, 3 decimals)."""
    return "".join(f"{s.start:.3f}\t{s.end:.3f}\t{s.label}\n" for s in result.segments)


def to_jams(result: SegmentResult):
    """A ``jams.JAMS`` with one ``segment_open`` annotation (validated against the JAMS schema).

    Needs the ``jams`` package (``pip install jams``); a missing package is a :class:`ParameterError`.
    """
    try:
        import jams
    except ImportError:
        raise ParameterError("the jams format needs the 'jams' package: pip install jams") from None
    from . import __version__

    jam = jams.JAMS()
    jam.file_metadata.duration = result.duration_s
    if result.path is not None:
        jam.file_metadata.title = os.path.basename(result.path)
    annotation = jams.Annotation(namespace="segment_open", time=0.0, duration=result.duration_s)
    annotation.annotation_metadata = jams.AnnotationMetadata(
        annotation_tools=f"musicedge {__version__}",
        data_source=f"musicedge model {result.model}",
        annotation_rules="sections from peak-picked boundary activation, function labels per section",
    )
    for s in result.segments:
        annotation.append(time=s.start, duration=s.end - s.start, value=s.label, confidence=s.confidence)
    jam.annotations.append(annotation)
    jam.validate(strict=True)
    return jam


# -- the runtime object -------------------------------------------------------------------------------


class Segmenter:
    """A structure model, ready to segment songs.

    ``Segmenter.load("structure")`` takes a bundled model's name or a path to an ONNX file of task
    ``segment``. Safe to share across threads (ONNX Runtime sessions are).

        >>> seg = Segmenter.load("structure")
        >>> seg.segment("song.wav")            # [Segment(start=0.0, end=11.2, label='intro', ...), ...]
        >>> seg.analyze(y, sr=44100)           # a SegmentResult with the activation, for plots
    """

    def __init__(self, model: OnnxModel, *, peak_params: PeakParams | None = None) -> None:
        spec = model.spec
        if spec.task != "segment":
            raise ModelError(f"{model.path}: a {spec.task!r} model, not a structure (segment) model")
        if not spec.labels:
            raise ModelError(f"{model.path}: musicedge.labels is empty; a segment model needs its taxonomy")
        missing = [name for name in ("boundary", "labels") if name not in model.output_names]
        if missing or model.input_names != ("mel",):
            raise ModelError(
                f"{model.path}: a segment model takes 'mel' and gives 'boundary' and 'labels'; this one "
                f"takes {', '.join(model.input_names)} and gives {', '.join(model.output_names)}"
            )
        self.model = model
        self.spec = spec
        self.name = spec.model_name
        self.labels = spec.labels
        self.pool = spec.extra_int("pool")
        if self.pool < 1 or spec.window_frames % self.pool or spec.hop_frames % self.pool:
            raise ModelError(
                f"{model.path}: musicedge.extra.pool ({self.pool}) must divide window_frames "
                f"({spec.window_frames}) and hop_frames ({spec.hop_frames})"
            )
        self.peak_params = peak_params or PeakParams.from_spec(spec)
        self.min_length = spec.extra_float("min_segment_s", 0.0)
        self._config = spec.frontend
        self._floor = silence_floor(spec)

    @classmethod
    def load(
        cls,
        name_or_path: str | os.PathLike = "structure",
        *,
        device: str = "auto",
        threads: int | None = None,
        peak_params: PeakParams | None = None,
    ) -> Segmenter:
        model = OnnxModel(resolve(name_or_path), device=device, threads=threads)
        return cls(model, peak_params=peak_params)

    @property
    def sample_rate(self) -> int:
        return self._config.sample_rate

    @property
    def frame_rate(self) -> float:
        """Output frames per second."""
        return self._config.sample_rate / (self._config.hop_length * self.pool)

    # -- model outputs ---------------------------------------------------------------------------

    @property
    def long_input_frames(self) -> int:
        """Inputs longer than this (half the model's window) are long: the attention's memory grows with
        the square of the length, so a full window's run needs four times a half window's (about 380
        against 95 MiB for the bundled model). Their memory is given back after each run. The session
        keeps the memory of shorter ones for the next song: faulting fresh pages in again had cost
        more than the model itself (30 runs on 3-minute songs, one thread: 0.86 s, 0.34 s reusing)."""
        return self.spec.window_frames // 2

    def _run(self, mel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = self.model.run({"mel": mel[None, None]}, release_memory=mel.shape[1] > self.long_input_frames)
        return out["boundary"][0].astype(np.float64), out["labels"][0].astype(np.float64)

    def _padded(self, frames: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` as a contiguous array, past the end filled with the silence floor."""
        out = np.full((frames.shape[0], stop - start), self._floor, np.float32)
        have = max(0, min(stop, frames.shape[1]) - start)
        out[:, :have] = frames[:, start : start + have]
        return out

    def activations(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(n_mels, T)`` raw log-mel frames -> boundary logits ``(T',)`` and label logits ``(T', C)``,
        ``T' = ceil(T / pool)`` (the tail is padded with the silence floor to whole output frames)."""
        frames = np.asarray(frames, dtype=np.float32)
        n_mels = self._config.n_mels
        if frames.ndim != 2 or frames.shape[0] != n_mels:
            raise ParameterError(f"frames must be ({n_mels}, T), got shape {frames.shape}")
        pool, window, hop = self.pool, self.spec.window_frames, self.spec.hop_frames
        n_out = max(1, -(-frames.shape[1] // pool))
        if n_out * pool <= window:
            return self._run(self._padded(frames, 0, n_out * pool))
        # Long songs: windows of `window` raw frames every `hop`, blended with triangular weights.
        w_out, h_out = window // pool, hop // pool
        starts = list(range(0, n_out - w_out + 1, h_out))
        if starts[-1] + w_out < n_out:
            starts.append(n_out - w_out)
        boundary = np.zeros(n_out)
        labels = np.zeros((n_out, len(self.labels)))
        weight = np.zeros(n_out)
        ramp = np.minimum(np.arange(w_out) + 1.0, np.arange(w_out, 0, -1.0))
        for s in starts:  # a window at a time: a two-hour song is never copied whole
            b, lab = self._run(self._padded(frames, s * pool, (s + w_out) * pool))
            boundary[s : s + w_out] += ramp * b
            labels[s : s + w_out] += ramp[:, None] * lab
            weight[s : s + w_out] += ramp
        return boundary / weight, labels / weight[:, None]

    # -- segmentation ----------------------------------------------------------------------------

    def _result(self, y: np.ndarray, path: str | None) -> SegmentResult:
        duration = len(y) / self.sample_rate
        if not duration > 0:
            raise AudioError(f"{path or 'audio'}: no samples")
        return self.result_from_frames(self.model.frontend.compute(y), duration, path)

    def result_from_frames(
        self, frames: np.ndarray, duration: float, path: str | None = None
    ) -> SegmentResult:
        """The segmentation of a song given its ``(n_mels, T)`` log-mel frames (the model's frontend) and
        its length in seconds: what :meth:`analyze` does after decoding (live streams end with it)."""
        if not (duration > 0 and math.isfinite(duration)):
            raise AudioError(f"{path or 'audio'}: no samples")
        boundary_logits, label_logits = self.activations(frames)
        n_out = len(boundary_logits)
        times = frame_times(n_out, self.pool, self._config.hop_length, self.sample_rate)
        activation = 1.0 / (1.0 + np.exp(-np.clip(boundary_logits, -60.0, 60.0)))
        log_probs = _log_softmax(label_logits)
        peaks = pick_peaks(activation, self.frame_rate, self.peak_params)
        step = self.pool * self._config.hop_length / self.sample_rate
        boundaries = times[0] + peaks * step
        segments = label_sections(
            boundaries, duration, times, log_probs, self.labels, min_length=self.min_length
        )
        # The mean of each output frame's raw frames (the tail padded with the floor), without a copy
        # of the whole song (np.add.reduceat with a float64 dtype makes one: 300 MB for two hours).
        whole = frames.shape[1] // self.pool * self.pool
        sums = np.empty((frames.shape[0], n_out), np.float64)
        sums[:, : whole // self.pool] = (
            frames[:, :whole].reshape(frames.shape[0], -1, self.pool).sum(axis=2, dtype=np.float64)
        )
        if whole < frames.shape[1]:
            pad = n_out * self.pool - frames.shape[1]
            sums[:, -1] = frames[:, whole:].sum(axis=1, dtype=np.float64) + pad * self._floor
        features = sums / self.pool
        return SegmentResult(
            path=path,
            duration_s=duration,
            model=self.name,
            segments=tuple(segments),
            times=times,
            activation=activation,
            label_probabilities=np.exp(log_probs),
            labels=self.labels,
            boundaries=boundaries,
            features=features.astype(np.float32),
        )

    def analyze(self, item: str | os.PathLike | np.ndarray, sr: int | None = None) -> SegmentResult:
        """Segment one song (a path, or a 1-D float array with its sample rate ``sr``) and keep the
        activation, label probabilities and pooled mel for plots and analysis."""
        y, path = load_input(item, sr, self.sample_rate)
        return self._result(y, path)

    def segment(self, item: str | os.PathLike | np.ndarray, sr: int | None = None) -> list[Segment]:
        """The sections of one song: contiguous :class:`Segment` objects from 0 to its end (at least one)."""
        return list(self.analyze(item, sr).segments)

    def create_stream(
        self, sample_rate: int | None = None, *, update_seconds: float = 2.0, delay_seconds: float = 8.0
    ):
        """A live stream over this model (:class:`musicedge.segment_stream.SegmenterStream`): boundaries
        reported ``delay_seconds`` behind the live edge, re-run every ``update_seconds``; its final answer
        is :meth:`analyze`'s. ``sample_rate``: the rate of the chunks to be fed (default the model's)."""
        from .segment_stream import SegmenterStream  # it imports this module

        return SegmenterStream(self, sample_rate, update_seconds=update_seconds, delay_seconds=delay_seconds)

    def close(self) -> None:
        """Release the model's session; later calls raise ModelError. Closing twice is harmless."""
        self.model.close()

    def __enter__(self) -> Segmenter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def segment_files(
        self, paths: Iterable[str | os.PathLike], *, workers: int = 2
    ) -> Iterator[SegmentResult | tuple[str, MusicEdgeError]]:
        """Segment many files; ``workers`` threads decode and run the model (ONNX Runtime and the
        frontend release the GIL). Yields, in input order, a :class:`SegmentResult` or ``(path, error)``
        for a file that failed; the other files still get their results."""
        paths = [str(p) for p in paths]
        if workers < 1:
            raise ParameterError(f"workers must be positive, got {workers}")

        def one(path: str) -> SegmentResult | tuple[str, MusicEdgeError]:
            try:
                return self.analyze(path)
            except MusicEdgeError as exc:
                return path, exc

        with ThreadPoolExecutor(workers) as pool:
            pending: deque = deque()
            for path in paths:
                pending.append(pool.submit(one, path))
                if len(pending) > 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()


# -- per-track files for the command line -------------------------------------------------------------


def unique_stems(paths: Sequence[str | os.PathLike]) -> dict[str, str]:
    """A file name stem per path, unique among ``paths`` (``song``, ``song-2``, ... on clashes)."""
    names: dict[str, str] = {}
    taken: set[str] = set()
    for path in paths:
        stem = os.path.splitext(os.path.basename(os.fspath(path)))[0] or "track"
        name, k = stem, 1
        while name in taken:
            k += 1
            name = f"{stem}-{k}"
        taken.add(name)
        names[os.fspath(path)] = name
    return names


class TrackFiles:
    """Writes each track's MIREX ``.lab`` or JAMS file: into a folder (``<stem>.lab`` / ``<stem>.jams``,
    made unique on name clashes), into one named file (one track), or to stdout (one track). A failed
    track writes nothing (its error goes to stderr); it has the ``write`` method of a record writer."""

    def __init__(self, fmt: str, folder: str | None, single: str | None, paths: Sequence[str]) -> None:
        self.fmt = fmt
        self.folder = folder
        self.single = single
        self.names = unique_stems(paths)

    @classmethod
    def choose(
        cls, fmt: str, output: str | os.PathLike | None, paths: Sequence[str | os.PathLike]
    ) -> TrackFiles | None:
        """The writer for ``-f fmt -o output`` (``None`` for the record formats table, jsonl, csv).

        Raises:
            ValueError: a usage error (several tracks without a folder; a folder for a record format).
        """
        paths = [os.fspath(p) for p in paths]
        out = os.fspath(output) if output is not None else None
        if fmt not in ("lab", "jams"):
            if out is not None and os.path.isdir(out):
                raise ValueError(
                    f"-o {out} is a folder; -f {fmt} writes one file (folders are for lab, jams)"
                )
            return None
        if fmt == "jams":
            try:
                import jams  # noqa: F401
            except ImportError:
                raise ParameterError("-f jams needs the 'jams' package: pip install jams") from None
        folder = out is not None and (os.path.isdir(out) or not os.path.splitext(out)[1] or out.endswith("/"))
        if folder:
            os.makedirs(out, exist_ok=True)
            return cls(fmt, out, None, paths)
        if len(paths) > 1:
            where = f"-o {out} is a file" if out is not None else "no -o was given"
            raise ValueError(
                f"-f {fmt} writes one file per track and {where}: give -o FOLDER for {len(paths)} tracks"
            )
        return cls(fmt, None, out, paths)

    def text(self, result: SegmentResult) -> str:
        if self.fmt == "lab":
            return to_lab(result)
        return to_jams(result).dumps(indent=2) + "\n"

    def write(self, result: SegmentResult | dict) -> None:
        if not isinstance(result, SegmentResult):
            return  # an error record: already reported on stderr
        text = self.text(result)
        if self.folder is None and self.single is None:
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        if self.folder is not None:
            path = os.path.join(self.folder, self.names.get(result.path or "", "track") + "." + self.fmt)
        else:
            path = self.single
        try:
            with open(path, "w", encoding="utf-8") as stream:
                stream.write(text)
        except OSError as exc:
            raise ParameterError(f"{path}: cannot write ({exc.strerror})") from None
