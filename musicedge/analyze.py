"""``musicedge analyze``: every selected task over a whole library in one pass, resumable.

The flow, per file::

    worker thread:  hash ─► decode block by block (soundfile) ─► one soxr stream per sample rate
                    ─► one streaming MelFrontend per frontend config ─► each task's file job cuts its
                    model inputs from the shared frames
    main thread:    inputs of all files in flight ─► one CrossFileBatcher per model (full batches
                    across files) ─► outputs back to each file's job, in order ─► results of a
                    finished file stored in one transaction
    inference pool: one thread per core (up to 8) runs the batches of every model side by side,
                    each on one ONNX Runtime thread

Memory stays flat: files are decoded a block at a time, at most ``2 * jobs`` files are in flight and
the queue between the threads is bounded. A task is skipped for a file whose content already has a
result from the same model version (``force`` redoes it); a file that fails gets one error record per
task and the others go on.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import display_path, stream
from .batching import CrossFileBatcher
from .config import FrontendConfig
from .errors import AudioError, MusicEdgeError, ParameterError
from .frontend import MelFrontend
from .store import STORE_NAME, ResultStore, StoredResult
from .windows import window_batcher

# -- tasks -----------------------------------------------------------------------------------------


class FileJob(ABC):
    """One task's work on one file: model inputs cut from the file's frames, outputs gathered back."""

    def __init__(self) -> None:
        self.expected = 0  # model input rows handed out so far
        self.received = 0  # output rows taken back so far
        self.finished = False  # no more inputs will come

    @abstractmethod
    def feed(self, frames: np.ndarray) -> np.ndarray | None:
        """New ``(n_mels, k)`` frames; returns the model inputs they completed (or None)."""

    @abstractmethod
    def finish(self) -> np.ndarray | None:
        """The end of the file: the last inputs (a padded tail window, a whole-song input ...)."""

    @abstractmethod
    def take(self, outputs: np.ndarray) -> None:
        """Outputs for the next ``len(outputs)`` input rows, in order."""

    @abstractmethod
    def record(self, path: str, duration_s: float) -> dict[str, Any]:
        """The task's JSON record for the file (DESIGN.md's shape for the task)."""

    def decoded(self, path: str, duration_s: float) -> None:  # noqa: B027 - most jobs have nothing to do
        """Called in the decoding worker once the whole file is decoded and fed: a job whose per-file
        work needs no batching across files does it here, side by side with the other workers,
        instead of in :meth:`record` on the main thread."""

    @property
    def done(self) -> bool:
        return self.finished and self.received == self.expected


class AnalysisTask(ABC):
    """A task ``musicedge analyze`` can run: its name, its model's version key, its frontend, and a
    factory of per-file jobs. ``run`` scores a batch of model inputs.

    A task whose results also go elsewhere (fingerprints into a library) sets ``commit_every``: its
    finished files are handed to :meth:`commit` in groups, and their store rows are written only once
    that has returned, so the store never claims what the other place lacks."""

    name: str
    batch_size: int = 32
    commit_every: int = 0  # 0: rows go to the store as each file finishes

    def commit(self, files: list[tuple[str, Any, float]]) -> list[dict[str, Any]]:
        """Persist ``(path, job.payload(), duration_s)`` of finished files (for tasks with
        ``commit_every``); returns their records, in order."""
        raise ParameterError(f"task {self.name} stores its records directly")

    @property
    @abstractmethod
    def frontend(self) -> FrontendConfig: ...

    @property
    @abstractmethod
    def model_version(self) -> str:
        """What the stored results depend on: model name, version and the file's own hash."""

    @property
    @abstractmethod
    def model_path(self) -> str:
        """The model file, so that another process (a Ray actor) can load the same task."""

    @abstractmethod
    def start(self) -> FileJob: ...

    @abstractmethod
    def run(self, inputs: np.ndarray) -> np.ndarray: ...


def model_file_version(model) -> str:
    """``name version (hash)`` of an :class:`~musicedge.model.OnnxModel`: a retrained file with the same
    version string still counts as a new model."""
    digest = hashlib.blake2b(Path(model.path).read_bytes(), digest_size=6).hexdigest()
    return f"{model.spec.model_name} {model.spec.model_version} ({digest})"


class _WindowJob(FileJob):
    """A job whose model inputs are windows of the frames (``FrameBatcher``, padded tail), scored in
    batches across files."""

    def __init__(self, spec) -> None:
        super().__init__()
        self.batcher = window_batcher(spec, batch_size=256)

    def _windows(self) -> np.ndarray | None:
        parts = []
        while self.batcher.num_windows_ready:
            parts.append(self.batcher.pop_batch()[0])
        if not parts:
            return None
        windows = np.concatenate(parts) if len(parts) > 1 else parts[0]
        self.expected += len(windows)
        return windows

    def feed(self, frames: np.ndarray) -> np.ndarray | None:
        self.batcher.accept_frames(frames)
        return self._windows()

    def finish(self) -> np.ndarray | None:
        self.batcher.input_finished()
        self.finished = True
        return self._windows()


class _ClassifyJob(_WindowJob):
    def __init__(self, task: ClassifyTask) -> None:
        super().__init__(task.classifier.spec)
        self.task = task
        self.sum = np.zeros(len(task.classifier.labels))

    def take(self, outputs: np.ndarray) -> None:
        self.sum += outputs.sum(axis=0)
        self.received += len(outputs)

    def record(self, path: str, duration_s: float) -> dict[str, Any]:
        mean = self.sum / max(1, self.received)
        return self.task.classifier._prediction(path, duration_s, mean).to_dict()


class ClassifyTask(AnalysisTask):
    """Classification or tagging with a :class:`~musicedge.classify.Classifier` (mel-input models)."""

    def __init__(self, name: str, model: str, *, device: str = "auto", threads: int | None = None) -> None:
        from .classify import Classifier

        self.name = name
        self.classifier = Classifier.load(model, device=device, threads=threads)
        if self.classifier._wave_input:
            raise ParameterError(f"{model}: analyze takes mel-input models only")
        self.batch_size = self.classifier.batch_size
        self._version = model_file_version(self.classifier.model)

    @property
    def frontend(self) -> FrontendConfig:
        return self.classifier.spec.frontend

    @property
    def model_version(self) -> str:
        return self._version

    @property
    def model_path(self) -> str:
        return str(self.classifier.model.path)

    def start(self) -> FileJob:
        return _ClassifyJob(self)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        return self.classifier._run(inputs)


class _SegmentJob(FileJob):
    """Keeps the song's frames; the model runs on them once the file is decoded, in the decoding
    worker (a structure model sees the whole song, so its inputs are not batched across files)."""

    def __init__(self, task: SegmentTask) -> None:
        super().__init__()
        self.task = task
        self.chunks: list[np.ndarray] = []
        self._record: dict[str, Any] | None = None

    def feed(self, frames: np.ndarray) -> None:
        self.chunks.append(frames)

    def finish(self) -> None:
        self.finished = True

    def take(self, outputs: np.ndarray) -> None:  # never given inputs, so never called
        raise AssertionError("a structure job has no batched inputs")

    def decoded(self, path: str, duration_s: float) -> None:
        self._record = self._segment(path, duration_s)

    def record(self, path: str, duration_s: float) -> dict[str, Any]:
        return self._record if self._record is not None else self._segment(path, duration_s)

    def _segment(self, path: str, duration_s: float) -> dict[str, Any]:
        # One array for the song, each chunk freed as soon as it is copied in (never two copies).
        frames = np.empty((self.chunks[0].shape[0], sum(c.shape[1] for c in self.chunks)), np.float32)
        filled = 0
        while self.chunks:
            chunk = self.chunks.pop(0)
            frames[:, filled : filled + chunk.shape[1]] = chunk
            filled += chunk.shape[1]
        long_song = frames.shape[1] > self.task.long_song_frames
        with self.task.long_songs if long_song else nullcontext():
            return self.task.segmenter.result_from_frames(frames, duration_s, path).to_dict()


class SegmentTask(AnalysisTask):
    """Structure segmentation with a :class:`~musicedge.segment.Segmenter`."""

    name = "segment"

    def __init__(self, model: str, *, device: str = "auto", threads: int | None = None) -> None:
        from .segment import Segmenter

        self.segmenter = Segmenter.load(model, device=device, threads=threads)
        self._version = model_file_version(self.segmenter.model)
        # Long songs (Segmenter.long_input_frames) go through the model one at a time, whichever worker
        # finished decoding them: two full windows at once took the peak for two two-hour files from
        # 1.1 to 1.46 GiB. Shorter songs run side by side.
        self.long_songs = threading.Lock()
        self.long_song_frames = self.segmenter.long_input_frames

    @property
    def frontend(self) -> FrontendConfig:
        return self.segmenter.spec.frontend

    @property
    def model_version(self) -> str:
        return self._version

    @property
    def model_path(self) -> str:
        return str(self.segmenter.model.path)

    def start(self) -> FileJob:
        return _SegmentJob(self)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        raise AssertionError("a structure task has no batched inputs")


class _FingerprintJob(_WindowJob):
    def __init__(self, task: FingerprintTask) -> None:
        super().__init__(task.fingerprinter.spec)  # windows every hop_frames: the library's grid
        self.hasher = task.hasher()
        self.parts: list[np.ndarray] = []

    def samples(self, y: np.ndarray) -> None:
        self.hasher.update(y)

    def take(self, outputs: np.ndarray) -> None:
        self.parts.append(outputs)
        self.received += len(outputs)

    def payload(self) -> tuple[np.ndarray, str]:
        """What the library needs: the embeddings and the content hash of the decoded samples."""
        embeddings = np.concatenate(self.parts) if len(self.parts) > 1 else self.parts[0]
        return embeddings, self.hasher.hexdigest()

    def record(self, path: str, duration_s: float) -> dict[str, Any]:
        raise AssertionError("fingerprint records are made by FingerprintTask.commit")


class FingerprintTask(AnalysisTask):
    """Fingerprints into a :class:`~musicedge.library.Library` in ``OUT/fingerprints`` (created with the
    task's model; committed every ``commit_every`` files, before their store rows are written).

    A library there built with another fingerprint model is moved aside to ``OUT/fingerprints.VERSION``
    (its fingerprints cannot be compared with the new model's) and a new one started; the store redoes
    the task for every file analysed, as for any changed model version."""

    name = "fingerprint"
    commit_every = 100

    def __init__(
        self, model: str, *, out: str | os.PathLike, device: str = "auto", threads: int | None = None
    ) -> None:
        from .fingerprint import Fingerprinter

        self.fingerprinter = Fingerprinter.load(model, device=device, threads=threads)
        self.batch_size = 256
        self.library_dir = Path(out) / "fingerprints"
        self._library = None
        self._version = model_file_version(self.fingerprinter.model)

    @property
    def frontend(self) -> FrontendConfig:
        return self.fingerprinter.frontend_config

    @property
    def model_version(self) -> str:
        return self._version

    @property
    def model_path(self) -> str:
        return str(self.fingerprinter.model.path)

    def hasher(self):
        from .library import ContentHasher

        return ContentHasher()

    def start(self) -> FileJob:
        return _FingerprintJob(self)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        return self.fingerprinter.embed_windows(inputs)[0]

    def _set_library_aside_if_stale(self) -> None:
        from .library import built_with

        version = built_with(self.library_dir)
        if version is None or version == self.fingerprinter.version:
            return
        aside = self.library_dir.with_name(f"{self.library_dir.name}.{version}")
        n = 1
        while aside.exists():
            n += 1
            aside = self.library_dir.with_name(f"{self.library_dir.name}.{version}.{n}")
        os.replace(self.library_dir, aside)
        print(
            f"musicedge analyze: {display_path(self.library_dir)} was built with fingerprint model version "
            f"{version}, not {self.fingerprinter.version}: moved to {display_path(aside)}; a new library "
            "starts there",
            file=sys.stderr,
        )

    def commit(self, files: list[tuple[str, Any, float]]) -> list[dict[str, Any]]:
        from .library import Library

        if self._library is None:
            self._set_library_aside_if_stale()
            self._library = Library.open_or_create(self.library_dir, self.fingerprinter)
        self._library.add_fingerprints(
            (path, embeddings, digest, duration) for path, (embeddings, digest), duration in files
        )
        return [
            {"path": path, "duration_s": round(duration, 3), "fingerprints": len(embeddings)}
            for path, (embeddings, _), duration in files
        ]


#: task name -> (description, factory(model or None, device=, threads=, out=) -> AnalysisTask)
TASKS: dict[str, tuple[str, Callable[..., AnalysisTask]]] = {
    "classify": (
        "genre (bundled model 'genre')",
        lambda model, out=None, **kw: ClassifyTask("classify", model or "genre", **kw),
    ),
    "tag": (
        "mood tags (bundled model 'mood')",
        lambda model, out=None, **kw: ClassifyTask("tag", model or "mood", **kw),
    ),
    "segment": (
        "sections (bundled model 'structure')",
        lambda model, out=None, **kw: SegmentTask(model or "structure", **kw),
    ),
    "fingerprint": (
        "fingerprints into OUT/fingerprints (bundled model 'fingerprint')",
        lambda model, **kw: FingerprintTask(model or "fingerprint", **kw),
    ),
}


def load_tasks(
    names: Sequence[str],
    models: dict[str, str] | None = None,
    *,
    device: str = "auto",
    threads: int | None = None,
    out: str | os.PathLike = ".",
) -> list[AnalysisTask]:
    """The tasks by name, each with its bundled model or ``models[name]``; ``out`` is the output folder
    (the fingerprint task keeps its library there)."""
    models = models or {}
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise ParameterError(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(TASKS)}")
    if not names:
        raise ParameterError("no task selected")
    return [TASKS[n][1](models.get(n), device=device, threads=threads, out=out) for n in dict.fromkeys(names)]


# -- one file's decode and frames (worker threads) ------------------------------------------------


@dataclass
class _File:
    index: int
    path: str  # as the file system has it (may hold surrogate escapes)
    digest: str | None = None
    jobs: dict[str, FileJob] = field(default_factory=dict)  # task name -> job, for the tasks to do
    duration_s: float = 0.0
    error: MusicEdgeError | None = None
    decoded: bool = False

    @property
    def name(self) -> str:
        """The path for records and messages (valid UTF-8 whatever the file system's bytes)."""
        return display_path(self.path)

    @property
    def complete(self) -> bool:
        return self.decoded and (self.error is not None or all(j.done for j in self.jobs.values()))


def _frame_groups(tasks: Sequence[AnalysisTask]) -> dict[FrontendConfig, list[AnalysisTask]]:
    groups: dict[FrontendConfig, list[AnalysisTask]] = {}
    for task in tasks:
        groups.setdefault(task.frontend, []).append(task)
    return groups


@dataclass
class Decoded:
    """Filled in by :func:`decode_frames` once the file is read: its duration."""

    duration_s: float = 0.0


def decode_frames(
    path: str,
    configs: Sequence[FrontendConfig],
    decoded: Decoded,
    on_samples: Callable[[int, np.ndarray], None] | None = None,
) -> Iterator[tuple[FrontendConfig, np.ndarray, bool]]:
    """Decode ``path`` once, block by block, and run each frontend config over it once: yields
    ``(config, new frames (n_mels, k), final)``, the last item of each config with ``final`` set.
    One soxr stream per sample rate the configs need; ``on_samples(rate, samples)`` sees each block
    at each of those rates."""
    import soxr

    name = display_path(path)
    configs = sorted(configs, key=lambda c: json.dumps(c.to_dict(), sort_keys=True))  # one order everywhere
    blocks = stream(path, None)
    native = next(blocks)
    resamplers = {
        cfg.sample_rate: None
        if cfg.sample_rate == native
        else soxr.ResampleStream(native, cfg.sample_rate, 1, dtype="float32", quality="HQ")
        for cfg in configs
    }
    frontends = {cfg: MelFrontend(cfg) for cfg in configs}
    n_native = 0
    for block in blocks:
        n_native += len(block)
        for sr, resampler in resamplers.items():
            y = block if resampler is None else resampler.resample_chunk(block)
            if on_samples is not None and len(y):
                on_samples(sr, y)
            for cfg in configs:
                if cfg.sample_rate == sr and len(y):
                    frontends[cfg].accept_waveform(y)
                    yield cfg, frontends[cfg].pop_frames(), False
    for sr, resampler in resamplers.items():
        tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True) if resampler is not None else None
        if on_samples is not None and tail is not None and len(tail):
            on_samples(sr, tail)
        for cfg in configs:
            if cfg.sample_rate != sr:
                continue
            if tail is not None and len(tail):
                frontends[cfg].accept_waveform(tail)
            if frontends[cfg].num_samples_accepted == 0:
                raise AudioError(f"{name}: too short to analyse ({n_native} samples)")
            frontends[cfg].input_finished()
            yield cfg, frontends[cfg].pop_frames(), True
    decoded.duration_s = n_native / native


def feed_job(job: FileJob, frames: np.ndarray, final: bool) -> list[np.ndarray]:
    """The model inputs a job cuts from new frames (and, when ``final``, from the end of the file)."""
    inputs = [job.feed(frames)] if frames.shape[1] else []
    if final:
        inputs.append(job.finish())
    return [x for x in inputs if x is not None]


def _decode(item: _File, tasks: Sequence[AnalysisTask], put: Callable[[tuple], None]) -> None:
    """Decode ``item`` and hand each of its jobs' model inputs to ``put``."""
    groups = _frame_groups([t for t in tasks if t.name in item.jobs])
    hashing = [
        (t.frontend.sample_rate, item.jobs[t.name])
        for t in tasks
        if hasattr(item.jobs.get(t.name), "samples")
    ]

    def on_samples(sr: int, y: np.ndarray) -> None:
        for rate, job in hashing:
            if rate == sr:
                job.samples(y)

    decoded = Decoded()
    for cfg, frames, final in decode_frames(
        item.path, list(groups), decoded, on_samples if hashing else None
    ):
        for task in groups[cfg]:
            for inputs in feed_job(item.jobs[task.name], frames, final):
                put(("inputs", item, task, inputs))
    item.duration_s = decoded.duration_s
    for job in item.jobs.values():
        job.decoded(item.name, item.duration_s)


# -- the run ---------------------------------------------------------------------------------------


@dataclass
class FileOutcome:
    """What happened to one file in a run: ``status`` is ``done``, ``skipped`` (already stored) or
    ``failed`` (``error`` holds the message)."""

    path: str
    status: str
    error: MusicEdgeError | None = None
    digest: str | None = None


def plan_file(
    store: ResultStore,
    tasks: Sequence[AnalysisTask],
    path: str,
    force: bool,
    lock: AbstractContextManager | None = None,
) -> tuple[str, list[AnalysisTask]]:
    """The file's content hash and the tasks it still needs (all of them with ``force``); ``lock``
    guards the store's queries when threads share it (the file is hashed outside it).

    Raises:
        AudioError: the file is missing (a broken link says so) or cannot be read.
    """
    try:
        digest = store.file_hash(path, lock)
    except OSError as exc:
        name = display_path(path)
        if not os.path.exists(path):
            broken = " (a broken symbolic link)" if os.path.islink(path) else ""
            raise AudioError(f"{name}: no such file{broken}") from None
        raise AudioError(f"{name}: cannot read ({exc.strerror})") from None
    with lock or nullcontext():
        return digest, [t for t in tasks if force or not store.done(digest, t.name, t.model_version)]


def error_rows(
    tasks: Sequence[AnalysisTask], path: str, error: BaseException
) -> list[tuple[str, str, bool, dict]]:
    """The store rows of a file that failed: one error record per task."""
    record = {"path": path, "error": {"type": type(error).__name__, "message": str(error)}}
    return [(t.name, t.model_version, False, record) for t in tasks]


Deferred = tuple[str, str, Any, float]  # (content hash, path, job payload, duration_s)


def commit_deferred(store: ResultStore, task: AnalysisTask, pending: list[Deferred]) -> None:
    """Persist a deferred task's finished files elsewhere first (:meth:`AnalysisTask.commit`), then
    store their rows: the store never records what the other place lacks."""
    if not pending:
        return
    records = task.commit([(path, payload, duration) for _, path, payload, duration in pending])
    for (digest, path, _, _), record in zip(pending, records, strict=True):
        store.put(digest, path, [(task.name, task.model_version, True, record)])


#: The default size of the inference pool on a machine with more cores than this.
MAX_INFERENCE_THREADS = 8


class Analyzer:
    """Runs tasks over files into a :class:`ResultStore` (see the module's docstring)."""

    def __init__(
        self,
        tasks: Sequence[AnalysisTask],
        store: ResultStore,
        *,
        jobs: int = 2,
        force: bool = False,
        inference_threads: int | None = None,
    ):
        if jobs < 1:
            raise ParameterError(f"jobs must be positive, got {jobs}")
        if inference_threads is not None and inference_threads < 1:
            raise ParameterError(f"inference_threads must be positive, got {inference_threads}")
        self.tasks = list(tasks)
        self.store = store
        self.jobs = jobs
        self.force = force
        # one per core, up to MAX_INFERENCE_THREADS: the batches in flight (and their memory) grow with it
        self.inference_threads = inference_threads or min(MAX_INFERENCE_THREADS, os.cpu_count() or 1)
        self._store_lock = threading.Lock()
        self._pending: dict[str, list[Deferred]] = {t.name: [] for t in self.tasks}

    def _plan(self, item: _File) -> None:
        """Hash the file and start a job for every task not yet stored for its content."""
        item.digest, needed = plan_file(self.store, self.tasks, item.path, self.force, self._store_lock)
        item.jobs = {t.name: t.start() for t in needed}

    def _work(self, item: _File, out: queue.Queue) -> None:
        try:
            self._plan(item)
            if item.jobs:
                _decode(item, self.tasks, lambda message: out.put(message))
        except MusicEdgeError as exc:
            item.error = exc if str(exc).startswith(item.name) else type(exc)(f"{item.name}: {exc}")
        except (OSError, RuntimeError, ValueError, MemoryError) as exc:  # decoder failures not yet typed
            item.error = AudioError(f"{item.name}: {type(exc).__name__}: {exc}")
        out.put(("decoded", item, None, None))

    def run(self, paths: Sequence[str | os.PathLike]) -> Iterator[FileOutcome]:
        """Analyse ``paths``; yields one outcome per file, in input order, as files complete."""
        paths = [os.fsdecode(p) for p in paths]
        messages: queue.Queue = queue.Queue(maxsize=8 * self.jobs)
        work: queue.Queue = queue.Queue()
        in_flight = 2 * self.jobs
        items = [_File(i, p) for i, p in enumerate(paths)]
        for item in items[:in_flight]:
            work.put(item)
        next_to_start = min(len(items), in_flight)

        def worker() -> None:
            while (item := work.get()) is not None:
                self._work(item, messages)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.jobs)]
        for t in threads:
            t.start()
        # The models run in a pool (each session on one thread, any batch of any task on any of
        # them), so batches of one model, and of several, run side by side while this thread gathers.
        inference = ThreadPoolExecutor(self.inference_threads, thread_name_prefix="musicedge-infer")
        batchers = {
            t.name: CrossFileBatcher(
                t.run, t.batch_size, executor=inference, max_in_flight=2 * self.inference_threads
            )
            for t in self.tasks
        }
        next_to_report = 0
        try:
            while next_to_report < len(items):
                kind, item, task, inputs = messages.get()
                if kind == "inputs":
                    job = item.jobs[task.name]
                    batchers[task.name].add(job.take, inputs)
                else:
                    item.decoded = True
                    if next_to_start < len(items):
                        work.put(items[next_to_start])
                        next_to_start += 1
                for batcher in batchers.values():
                    batcher.deliver()
                # While a file is still decoding, more inputs will come and fill the batches; once
                # none is, nothing will: score what waits.
                if all(i.decoded for i in items[next_to_report:next_to_start]):
                    for batcher in batchers.values():
                        batcher.flush()
                while next_to_report < len(items) and items[next_to_report].complete:
                    yield self._store(items[next_to_report])
                    items[next_to_report] = None  # free its jobs
                    next_to_report += 1
            for task in self.tasks:
                self._commit(task)
        finally:
            for _ in threads:
                work.put(None)
            inference.shutdown(wait=True, cancel_futures=True)

    def _store(self, item: _File) -> FileOutcome:
        if item.error is None and not item.jobs:
            return FileOutcome(item.name, "skipped", None, item.digest)
        rows = []
        if item.error is not None:
            failed = [t for t in self.tasks if t.name in item.jobs] or self.tasks
            rows = error_rows(failed, item.name, item.error)
        else:
            for name, job in item.jobs.items():
                task = self._task(name)
                if task.commit_every:
                    self._pending[name].append((item.digest, item.name, job.payload(), item.duration_s))
                    if len(self._pending[name]) >= task.commit_every:
                        self._commit(task)
                else:
                    rows.append((name, task.model_version, True, job.record(item.name, item.duration_s)))
        if item.digest is not None and rows:
            with self._store_lock:
                self.store.put(item.digest, item.name, rows)
        return FileOutcome(item.name, "failed" if item.error else "done", item.error, item.digest)

    def _commit(self, task: AnalysisTask) -> None:
        pending, self._pending[task.name] = self._pending[task.name], []
        with self._store_lock:
            commit_deferred(self.store, task, pending)

    def _task(self, name: str) -> AnalysisTask:
        return next(t for t in self.tasks if t.name == name)


# -- the command ----------------------------------------------------------------------------------


@dataclass
class Summary:
    files: int
    done: int
    skipped: int
    failed: int
    out: Path

    def text(self) -> str:
        return (
            f"{self.files} files: {self.done} analysed, {self.skipped} already stored, {self.failed} failed; "
            f"results in {self.out / STORE_NAME}, {self.out / 'results.jsonl'}, {self.out / 'results.csv'}"
        )


def _file_results(
    store: ResultStore, outcome: FileOutcome, tasks: Sequence[AnalysisTask]
) -> tuple[str, list[StoredResult]]:
    """This run's results for one file, under the file's own path (files with the same content share
    their stored results); a file that failed before it could be hashed gets its error for each task."""
    items = []
    for task in tasks:
        stored = store.get(outcome.digest, task.name) if outcome.digest else None
        if stored is None:
            error = outcome.error or AudioError(f"{outcome.path}: no result")
            stored = StoredResult(outcome.path, *error_rows([task], outcome.path, error)[0])
        items.append(stored)
    return outcome.path, items


def run_analysis(
    paths: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    task_names: Sequence[str],
    models: dict[str, str] | None = None,
    *,
    jobs: int | None = None,
    force: bool = False,
    engine: str = "local",
    address: str | None = None,
    device: str = "auto",
) -> Summary:
    """What ``musicedge analyze`` does: find the audio, run the tasks (locally or on Ray) into the
    store in ``out``, export this run's files to ``results.jsonl`` and ``results.csv``, and count."""
    from tqdm import tqdm

    from .audio import find_audio
    from .store import export_csv, export_jsonl

    files = [os.fspath(p) for p in find_audio(list(paths))]
    if not files:
        raise ParameterError("no audio files found in " + ", ".join(os.fspath(p) for p in paths))
    jobs = jobs or max(1, min(4, os.cpu_count() or 1))
    # One ONNX Runtime thread per session run: the inference pool runs batches side by side instead,
    # and spinning intra-op threads would only take CPU from the decoders (measured in session 2,
    # when the main thread ran every batch: 9.0 s -> 6.4 s wall, 17.8 s -> 9.9 s CPU for 30
    # three-minute songs on 2 cores).
    tasks = load_tasks(task_names, models, device=device, threads=1, out=out)
    out = Path(out)
    counts = {"done": 0, "skipped": 0, "failed": 0}
    outcomes_seen: list[FileOutcome] = []
    with ResultStore(out) as store:
        if engine == "ray":
            from .ray_engine import run_on_ray

            outcomes = run_on_ray(files, tasks, store, force=force, address=address, device=device)
        else:
            outcomes = Analyzer(tasks, store, jobs=jobs, force=force).run(files)
        with tqdm(total=len(files), file=sys.stderr, unit="file", disable=None, leave=False) as bar:
            for outcome in outcomes:
                counts[outcome.status] += 1
                outcomes_seen.append(outcome)
                if outcome.error is not None:
                    tqdm.write(f"error: {outcome.error}", file=sys.stderr)
                bar.update(1)
        files_results = [_file_results(store, outcome, tasks) for outcome in outcomes_seen]
        with open(out / "results.jsonl", "w", encoding="utf-8") as f:
            export_jsonl(files_results, f)
        with open(out / "results.csv", "w", encoding="utf-8", newline="") as f:
            export_csv(files_results, f)
    return Summary(len(files), counts["done"], counts["skipped"], counts["failed"], out)
