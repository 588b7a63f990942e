"""``Library``: a folder of fingerprints that queries are matched against.

Layout of a library folder::

    catalogue.sqlite     tracks (id, path, duration, content hash, model version, fingerprint range)
                         and settings (model name and version, embedding size, index kind, the
                         current index file); every change is one SQLite transaction
    index-<n>.faiss      the FAISS index that the catalogue names; never changed in place
    lock                 the writers' lock (``fcntl.flock``)

A FAISS id is a fingerprint's number: track ``t`` owns ids ``[first_id, first_id + n_windows)``, window
``i`` of the track being id ``first_id + i``; ids are never reused. Index kinds: ``flat`` (exact inner
product, ``IndexIDMap2(IndexFlatIP)``, 4 * dim bytes per fingerprint, searched by
:func:`musicedge.topk.top_k_inner_product`) and ``ivfpq`` (``IndexIVFPQ``
with ``m`` one-byte codes, ``m`` + 8 bytes per fingerprint with its id, at most 64). An ``ivfpq``
library holds a flat index until it has :data:`PQ_MIN_TRAINING` fingerprints to train the lists and
codebooks on (FAISS needs 39 points per centroid, and a code has 256), then trains on all of them.

Crash safety: a write builds the new index in memory, writes it to ``index-<n+1>.faiss.tmp``, fsyncs
and renames it to ``index-<n+1>.faiss``, then commits the catalogue (new tracks and the new index
name) in one transaction, and only then deletes ``index-<n>.faiss``. A process killed at any point
leaves the catalogue naming an index file that exists and matches it. Writers hold an exclusive
``flock`` on ``lock`` (waiting up to ``lock_timeout`` seconds, then a :class:`LibraryBusyError`);
readers take no lock: they read the catalogue's committed state and the index file it names.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import MusicEdgeError, ParameterError
from .fingerprint import Fingerprinter, Fingerprints, Match
from .topk import top_k_inner_product

__all__ = ["Library", "LibraryBusyError", "LibraryError", "Track", "built_with", "content_hash"]

CATALOGUE = "catalogue.sqlite"
LOCK = "lock"
SCHEMA = 1
INDEX_KINDS = ("flat", "ivfpq")
PQ_MIN_TRAINING = 39 * 256


class LibraryError(MusicEdgeError):
    """A library folder that cannot be used: missing, corrupt, or built with another model."""


class LibraryBusyError(LibraryError):
    """Another process holds the library's write lock for longer than we wait."""


def built_with(folder: str | os.PathLike) -> str | None:
    """The fingerprint model version the library in ``folder`` was built with; ``None`` when the folder
    holds no library. A catalogue that cannot be read is a :class:`LibraryError`."""
    catalogue = Path(folder) / CATALOGUE
    if not catalogue.is_file():
        return None
    try:
        db = sqlite3.connect(f"file:{catalogue}?mode=ro", uri=True, timeout=30.0)
        try:
            row = db.execute("SELECT value FROM settings WHERE key = 'model_version'").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise LibraryError(f"{folder}: corrupt catalogue {CATALOGUE} ({exc})") from None
    if row is None:
        raise LibraryError(f"{folder}: corrupt catalogue (settings missing model_version)")
    return str(row[0])


@dataclass(frozen=True)
class Track:
    id: int
    path: str
    duration_s: float
    content_hash: str
    model_version: str
    first_id: int
    n_fingerprints: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class ContentHasher:
    """SHA-256 of decoded samples as 16-bit PCM, fed block by block (what :func:`content_hash` gives
    for the whole signal)."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()

    def update(self, y: np.ndarray) -> ContentHasher:
        pcm = np.clip(np.round(np.asarray(y, np.float32) * 32767.0), -32768, 32767).astype("<i2")
        self._sha.update(pcm.tobytes())
        return self

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def content_hash(y: np.ndarray) -> str:
    """SHA-256 of the decoded samples (16-bit): the same audio in another file or folder, same hash."""
    return ContentHasher().update(y).hexdigest()


def _faiss():
    import faiss

    return faiss


def _is_flat(index) -> bool:
    """Whether ``index`` is a flat one (an ``ivfpq`` library's index before it could be trained)."""
    return isinstance(index, _faiss().IndexIDMap2)


@functools.cache
def _blas():
    """The process's BLAS thread pools (numpy's), to run a flat search on ``search_threads``."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class Library:
    """A fingerprint library in a folder. Open with :meth:`open` (existing) or :meth:`create`.

    >>> fp = Fingerprinter.load("fingerprint")
    >>> lib = Library.open_or_create("mylib", fp)
    >>> lib.add_files(["song.mp3"])           # [(path, Track | error), ...]
    >>> lib.query("clip.wav")                  # [Match(track, offset_s, score), ...]
    """

    def __init__(self, folder: Path, fingerprinter: Fingerprinter, *, lock_timeout: float = 60.0) -> None:
        self.folder = folder
        self.fingerprinter = fingerprinter
        self.lock_timeout = lock_timeout
        self._index = None
        self._index_name: str | None = None
        self._flat_cache: tuple | None = None  # (index, its vectors, their ids): see _flat_rows
        self._tracks: list[Track] = []
        self._firsts = np.zeros(0, np.int64)
        self._settings: dict[str, str] = {}
        self.nprobe = 16
        #: threads for a search (FAISS's OpenMP for IVF-PQ, BLAS for the flat index): one by default,
        #: since a query's few dozen vectors do not pay for waking more (and on a busy machine they
        #: wait for each other)
        self.search_threads = 1
        self._load()

    # -- opening ------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike,
        fingerprinter: Fingerprinter,
        *,
        index: str = "flat",
        pq_m: int = 32,
        nlist: int = 0,
        lock_timeout: float = 60.0,
    ) -> Library:
        """A new, empty library in ``folder`` (created; it must not hold a library or other files).

        ``index``: ``flat`` or ``ivfpq`` (``pq_m`` codes of one byte; ``nlist`` inverted lists, 0
        choosing from the first batch of fingerprints added).
        """
        folder = Path(folder)
        if index not in INDEX_KINDS:
            raise ParameterError(f"index must be one of {', '.join(INDEX_KINDS)}, got {index!r}")
        dim = fingerprinter.dim
        if index == "ivfpq" and (pq_m < 1 or pq_m > 56 or dim % pq_m):
            raise ParameterError(f"pq_m must divide the embedding size {dim} and be at most 56, got {pq_m}")
        if folder.exists():
            if not folder.is_dir():
                raise LibraryError(f"{folder}: exists and is not a folder; nothing was written")
            if any(p.name not in (LOCK, CATALOGUE + ".tmp") for p in folder.iterdir()):
                raise LibraryError(
                    f"{folder}: not empty and not a musicedge library (no {CATALOGUE}); nothing was written"
                )
        folder.mkdir(parents=True, exist_ok=True)
        with _flock(folder / LOCK, lock_timeout):
            if (folder / CATALOGUE).exists():
                raise LibraryError(f"{folder}: a library was created there meanwhile")
            tmp = folder / (CATALOGUE + ".tmp")
            tmp.unlink(missing_ok=True)
            db = sqlite3.connect(tmp)
            with db:
                db.executescript(_SCHEMA_SQL)
                settings = {
                    "schema": str(SCHEMA),
                    "model_name": fingerprinter.name,
                    "model_version": fingerprinter.version,
                    "model_path": str(Path(fingerprinter.model.path).resolve()),
                    "dim": str(dim),
                    "index_kind": index,
                    "pq_m": str(pq_m),
                    "nlist": str(nlist),
                    "index_file": "",
                    "next_id": "0",
                }
                db.executemany("INSERT INTO settings VALUES (?, ?)", settings.items())
            db.close()
            os.replace(tmp, folder / CATALOGUE)
            _fsync_dir(folder)
        return cls(folder, fingerprinter, lock_timeout=lock_timeout)

    @classmethod
    def open(
        cls, folder: str | os.PathLike, fingerprinter: Fingerprinter, *, lock_timeout: float = 60.0
    ) -> Library:
        """An existing library; a missing or corrupt folder, or one built with another model version,
        is a :class:`LibraryError` (nothing is written)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise LibraryError(f"{folder}: no such library folder")
        if not (folder / CATALOGUE).is_file():
            raise LibraryError(f"{folder}: not a musicedge library (no {CATALOGUE})")
        return cls(folder, fingerprinter, lock_timeout=lock_timeout)

    @classmethod
    def open_or_create(cls, folder: str | os.PathLike, fingerprinter: Fingerprinter, **options) -> Library:
        folder = Path(folder)
        if (folder / CATALOGUE).is_file():
            return cls.open(folder, fingerprinter, lock_timeout=options.get("lock_timeout", 60.0))
        return cls.create(folder, fingerprinter, **options)

    def _connect(self) -> sqlite3.Connection:
        try:
            db = sqlite3.connect(f"file:{self.folder / CATALOGUE}?mode=rw", uri=True, timeout=30.0)
            db.execute("SELECT count(*) FROM tracks").fetchone()
            return db
        except sqlite3.DatabaseError as exc:
            raise LibraryError(f"{self.folder}: corrupt catalogue {CATALOGUE} ({exc})") from None

    def _load(self) -> None:
        """Read the committed catalogue and the index file it names (retrying once when a writer
        replaced the index between the two reads)."""
        for attempt in range(3):
            db = self._connect()
            try:
                settings = dict(db.execute("SELECT key, value FROM settings").fetchall())
                rows = db.execute(
                    "SELECT id, path, duration_s, content_hash, model_version, first_id, n_fingerprints "
                    "FROM tracks ORDER BY first_id"
                ).fetchall()
            except sqlite3.DatabaseError as exc:
                raise LibraryError(f"{self.folder}: corrupt catalogue {CATALOGUE} ({exc})") from None
            finally:
                db.close()
            self._check_settings(settings)
            name = settings["index_file"]
            if not name:
                index = None
            else:
                try:
                    index = _faiss().read_index(str(self.folder / name))
                except RuntimeError as exc:
                    if not (self.folder / name).exists() and attempt < 2:
                        time.sleep(0.05)
                        continue
                    raise LibraryError(f"{self.folder}: cannot read index file {name} ({exc})") from None
                if index.ntotal != sum(r[6] for r in rows):
                    raise LibraryError(
                        f"{self.folder}: index {name} holds {index.ntotal} fingerprints, the catalogue "
                        f"{sum(r[6] for r in rows)}"
                    )
            self._settings = settings
            self._index, self._index_name = index, name
            self._tracks = [Track(*r) for r in rows]
            self._firsts = np.array([t.first_id for t in self._tracks], np.int64)
            return
        raise LibraryError(f"{self.folder}: index file {settings['index_file']} is missing")

    def _check_settings(self, settings: dict[str, str]) -> None:
        missing = [
            k
            for k in ("schema", "model_version", "dim", "index_kind", "index_file", "next_id")
            if k not in settings
        ]
        if missing:
            raise LibraryError(f"{self.folder}: corrupt catalogue (settings missing {', '.join(missing)})")
        fp = self.fingerprinter
        if settings["model_version"] != fp.version or int(settings["dim"]) != fp.dim:
            raise LibraryError(
                f"{self.folder}: built with fingerprint model {settings.get('model_name')} version "
                f"{settings['model_version']}, but the model given is {fp.name} version {fp.version}; "
                "fingerprints of different models cannot be compared: index into a new library"
            )

    # -- reading ------------------------------------------------------------------------------------

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks)

    @property
    def index_kind(self) -> str:
        return self._settings["index_kind"]

    @property
    def n_fingerprints(self) -> int:
        return 0 if self._index is None else int(self._index.ntotal)

    def bytes_per_fingerprint(self) -> float:
        """Bytes the index file spends per fingerprint (codes, ids and the index's own tables)."""
        if not self._index_name or not self.n_fingerprints:
            return 0.0
        return (self.folder / self._index_name).stat().st_size / self.n_fingerprints

    def __len__(self) -> int:
        return len(self._tracks)

    def reload(self) -> None:
        self._load()

    def position(self, track_id: int) -> int:
        """The position in :attr:`tracks` of the track with id ``track_id``."""
        for i, t in enumerate(self._tracks):
            if t.id == track_id:
                return i
        raise LibraryError(f"{self.folder}: no track with id {track_id}")

    def _track_of(self, ids: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self._firsts, ids, side="right") - 1
        return np.where(ids >= 0, pos, -1)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(sims, tracks, windows)`` each ``(n, k)``: the ``k`` nearest fingerprints of each vector;
        ``tracks`` are positions in :attr:`tracks` (-1 for none)."""
        n = len(vectors)
        if self._index is None or not self._tracks:
            return np.zeros((n, k), np.float32), np.full((n, k), -1), np.zeros((n, k), np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not _is_flat(self._index):
            self._index.nprobe = self.nprobe
            _faiss().omp_set_num_threads(self.search_threads)
            sims, ids = self._index.search(vectors, k)
        else:
            base, id_of_row = self._flat_rows()
            with _blas().limit(limits=self.search_threads, user_api="blas"):
                sims, rows = top_k_inner_product(vectors, base, k)
            ids = np.where(rows >= 0, id_of_row[np.maximum(rows, 0)], -1)
        tracks = self._track_of(ids)
        windows = np.where(tracks >= 0, ids - self._firsts[np.maximum(tracks, 0)], 0)
        return sims, tracks, windows

    def _flat_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The flat index's vectors ``(N, dim)`` (a view of FAISS's memory, valid while this index is
        loaded) and the fingerprint id of each row."""
        index = self._index
        if self._flat_cache is None or self._flat_cache[0] is not index:
            faiss = _faiss()
            flat = faiss.downcast_index(index.index)
            base = faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)
            self._flat_cache = (index, base, faiss.vector_to_array(index.id_map).astype(np.int64))
        return self._flat_cache[1], self._flat_cache[2]

    def vectors(self, track: int, first: int, count: int) -> np.ndarray:
        """``(count, dim)`` fingerprints ``first ..`` of the track at position ``track`` (exact for a
        flat index, the PQ reconstruction for ivfpq)."""
        t = self._tracks[track]
        count = max(0, min(count, t.n_fingerprints - first))
        ids = np.arange(t.first_id + first, t.first_id + first + count, dtype=np.int64)
        if not count:
            return np.zeros((0, self.fingerprinter.dim), np.float32)
        return self._index.reconstruct_batch(ids)

    def create_stream(self, sample_rate: int | None = None, **options):
        """A live "what is playing" stream over this library
        (:class:`musicedge.identify_stream.IdentifyStream`; ``options``: ``update_seconds``,
        ``context_seconds``, ``top_k``, ``threshold``)."""
        from .identify_stream import IdentifyStream

        return IdentifyStream(self, sample_rate, **options)

    def query_files(
        self, paths: Iterable[str | os.PathLike], *, top_k: int = 5, threshold: float | None = None
    ) -> Iterator[QueryResult | tuple[str, MusicEdgeError]]:
        """Query many clips; yields a :class:`QueryResult` or ``(path, error)`` per clip, in order (the
        next clip is decoded in a thread while this one is matched)."""
        return _query_files_impl(self, paths, top_k=top_k, threshold=threshold)

    def match(self, query: Fingerprints, *, top_k: int = 5, threshold: float | None = None) -> list[Match]:
        results = self.fingerprinter.match(
            query,
            self.search,
            lambda t: self._tracks[t].n_fingerprints,
            self.vectors,
            top_k=top_k,
            threshold=threshold,
        )
        return [
            Match(self._tracks[t].path, offset, score, self._tracks[t].id) for t, offset, score, _ in results
        ]

    def query(
        self,
        item: str | os.PathLike | np.ndarray,
        sr: int | None = None,
        *,
        top_k: int = 5,
        threshold: float | None = None,
    ) -> list[Match]:
        """The tracks a clip (a path, or an array with ``sr``) comes from, best first; empty when the
        clip is not in the library. A clip shorter than one fingerprint window is an AudioError."""
        return self.match(
            self.fingerprinter.fingerprint(item, sr, query=True), top_k=top_k, threshold=threshold
        )

    # -- writing ------------------------------------------------------------------------------------

    def add_files(
        self,
        paths: Iterable[str | os.PathLike],
        *,
        workers: int = 2,
        on_result: Callable[[str, MusicEdgeError | None, bool], None] | None = None,
        commit_every: int = 500,
    ) -> list[tuple[str, Track | MusicEdgeError]]:
        """Fingerprint and add audio files under the write lock.

        Files are decoded and fingerprinted by ``workers`` threads; results are committed every
        ``commit_every`` files and at the end. A file whose content is already in the library is not
        added again (its existing :class:`Track` is returned). ``on_result(path, error or None,
        added)`` is called for each file as it is done. Returns ``[(path, Track or error), ...]``.
        """
        from concurrent.futures import ThreadPoolExecutor

        paths = [os.fspath(p) for p in paths]
        fp = self.fingerprinter
        outcomes: list[tuple[str, str | MusicEdgeError]] = []  # (path, content hash or error)

        def work(path: str) -> tuple[np.ndarray, str, float] | MusicEdgeError:
            try:
                y = fp.decode(path)
                prints = fp.fingerprint_samples(y, name=path)
                return prints.embeddings, content_hash(y), prints.duration_s
            except MusicEdgeError as exc:
                return exc

        with _flock(self.folder / LOCK, self.lock_timeout):
            self._load()  # another writer may have committed since we opened
            known = {t.content_hash for t in self._tracks}
            pending: list[tuple[str, np.ndarray, str, float]] = []
            with ThreadPoolExecutor(max(1, workers)) as pool:
                for path, result in zip(paths, _ordered(pool, work, paths, 2 * max(1, workers)), strict=True):
                    if isinstance(result, MusicEdgeError):
                        outcomes.append((path, result))
                        if on_result:
                            on_result(path, result, False)
                        continue
                    emb, digest, duration = result
                    added = digest not in known
                    outcomes.append((path, digest))
                    if added:
                        known.add(digest)
                        pending.append((path, emb, digest, duration))
                    if on_result:
                        on_result(path, None, added)
                    if len(pending) >= commit_every:
                        self._commit_add(pending)
                        pending = []
            if pending:
                self._commit_add(pending)
        by_hash = {t.content_hash: t for t in self._tracks}
        return [(p, by_hash[r] if isinstance(r, str) else r) for p, r in outcomes]

    def add_fingerprints(self, items: Iterable[tuple[str, np.ndarray, str, float]]) -> int:
        """Add precomputed fingerprints ``(path, embeddings (n, dim), content hash, duration_s)`` of
        this library's model under the write lock (content already present is skipped); returns how
        many tracks were added."""
        with _flock(self.folder / LOCK, self.lock_timeout):
            self._load()
            known = {t.content_hash for t in self._tracks}
            fresh = []
            for path, emb, digest, duration in items:
                emb = np.asarray(emb, np.float32)
                if emb.ndim != 2 or emb.shape[1] != self.fingerprinter.dim or not len(emb):
                    raise ParameterError(f"{path}: fingerprints must be (n, {self.fingerprinter.dim})")
                if digest not in known:
                    known.add(digest)
                    fresh.append((os.fspath(path), emb, digest, float(duration)))
            if fresh:
                self._commit_add(fresh)
        return len(fresh)

    def remove(self, tracks: Iterable[int | str]) -> int:
        """Remove tracks by id or path; returns how many were removed."""
        wanted = list(tracks)
        with _flock(self.folder / LOCK, self.lock_timeout):
            self._load()
            chosen = [
                t
                for t in self._tracks
                if t.id in wanted or t.path in {os.fspath(w) for w in wanted if not isinstance(w, int)}
            ]
            if not chosen:
                return 0
            index = self._copy_index()
            ids = np.concatenate([np.arange(t.first_id, t.first_id + t.n_fingerprints) for t in chosen])
            index.remove_ids(_faiss().IDSelectorBatch(ids.astype(np.int64)))

            def change(db: sqlite3.Connection) -> None:
                db.executemany("DELETE FROM tracks WHERE id = ?", [(t.id,) for t in chosen])

            self._publish(index, change)
        return len(chosen)

    def _copy_index(self):
        faiss = _faiss()
        if self._index is None:
            return None
        return faiss.deserialize_index(faiss.serialize_index(self._index))

    def _new_index(self, training: np.ndarray):
        """An empty index for this library, trained on ``training`` where it needs training (a flat
        one while an ``ivfpq`` library has too few fingerprints to train on)."""
        faiss = _faiss()
        dim = self.fingerprinter.dim
        if self.index_kind == "flat" or len(training) < PQ_MIN_TRAINING:
            return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        nlist = int(self._settings.get("nlist", "0")) or int(np.clip(4 * np.sqrt(len(training)), 16, 4096))
        nlist = max(1, min(nlist, len(training) // 39))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(
            quantizer, dim, nlist, int(self._settings["pq_m"]), 8, faiss.METRIC_INNER_PRODUCT
        )
        index.train(np.ascontiguousarray(training, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return index

    def _commit_add(self, pending: list[tuple[str, np.ndarray, str, float]]) -> None:
        vectors = np.concatenate([p[1] for p in pending]).astype(np.float32)
        index = self._copy_index()
        if index is None:
            index = self._new_index(vectors)
        next_id = int(self._settings["next_id"])
        rows = []
        for path, emb, digest, duration in pending:
            rows.append((path, duration, digest, self.fingerprinter.version, next_id, len(emb)))
            next_id += len(emb)
        ids = np.arange(int(self._settings["next_id"]), next_id, dtype=np.int64)
        index.add_with_ids(vectors, ids)
        if self.index_kind == "ivfpq" and _is_flat(index) and index.ntotal >= PQ_MIN_TRAINING:
            flat = _faiss().downcast_index(index.index)
            everything, every_id = flat.reconstruct_n(0, flat.ntotal), _faiss().vector_to_array(index.id_map)
            index = self._new_index(everything)
            index.add_with_ids(everything, every_id)

        def change(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO tracks (path, duration_s, content_hash, model_version, first_id, "
                "n_fingerprints) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute("UPDATE settings SET value = ? WHERE key = 'next_id'", (str(next_id),))

        self._publish(index, change)

    def _publish(self, index, change: Callable[[sqlite3.Connection], None]) -> None:
        """Write ``index`` beside the current one, commit the catalogue change naming it, drop the old."""
        faiss = _faiss()
        old = self._index_name
        generation = int(old.split("-")[1].split(".")[0]) + 1 if old else 1
        name = f"index-{generation}.faiss"
        tmp = self.folder / (name + ".tmp")
        faiss.write_index(index, str(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, self.folder / name)
        _fsync_dir(self.folder)
        db = self._connect()
        try:
            with db:
                change(db)
                db.execute("UPDATE settings SET value = ? WHERE key = 'index_file'", (name,))
        finally:
            db.close()
        if old:
            (self.folder / old).unlink(missing_ok=True)
        for stale in self.folder.glob("index-*.faiss*"):
            if stale.name != name:
                stale.unlink(missing_ok=True)
        self._load()


def _ordered(pool, fn, items: list, lookahead: int) -> Iterator:
    """``fn(item)`` for each item, in order, at most ``lookahead`` in flight."""
    futures = {i: pool.submit(fn, items[i]) for i in range(min(len(items), lookahead))}
    for i in range(len(items)):
        result = futures.pop(i).result()
        if i + lookahead < len(items):
            futures[i + lookahead] = pool.submit(fn, items[i + lookahead])
        yield result


@contextlib.contextmanager
def _flock(path: Path, timeout: float) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if absent), waiting up to ``timeout`` seconds."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise LibraryError(f"{path.parent}: cannot open the lock file ({exc.strerror})") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LibraryBusyError(
                        f"{path.parent}: another process is writing to this library (waited {timeout:.0f} s)"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_SCHEMA_SQL = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    duration_s REAL NOT NULL,
    content_hash TEXT NOT NULL UNIQUE,
    model_version TEXT NOT NULL,
    first_id INTEGER NOT NULL,
    n_fingerprints INTEGER NOT NULL
);
"""


def library_model_name(folder: str | os.PathLike) -> str | None:
    """The fingerprint model a library was built with: the file it was built with when that still
    exists, else its bundled name (None when the catalogue cannot be read)."""
    try:
        db = sqlite3.connect(f"file:{Path(folder) / CATALOGUE}?mode=ro", uri=True)
        try:
            settings = dict(db.execute("SELECT key, value FROM settings").fetchall())
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return None
    name, path = settings.get("model_name"), settings.get("model_path")
    return path if path and Path(path).is_file() else name


@dataclass(frozen=True)
class QueryResult:
    """The matches of one clip, best first (empty: not in the library), and the time spent after
    decoding (mel, model, search, voting) in milliseconds."""

    path: str | None
    matches: tuple[Match, ...]
    latency_ms: float
    duration_s: float

    def to_dict(self) -> dict:
        """The JSON record of DESIGN.md: path, matches [{track, offset_s, score}], latency_ms."""
        return {
            "path": self.path,
            "matches": [m.to_dict() for m in self.matches],
            "latency_ms": round(self.latency_ms, 2),
        }


def _query_timed(
    library: Library, y: np.ndarray, path: str | None, top_k: int, threshold: float | None
) -> QueryResult:
    started = time.perf_counter()
    prints = library.fingerprinter.fingerprint_samples(y, query=True, name=path or "")
    matches = library.match(prints, top_k=top_k, threshold=threshold)
    return QueryResult(path, tuple(matches), 1000 * (time.perf_counter() - started), prints.duration_s)


def _query_files_impl(
    self: Library, paths: Iterable[str | os.PathLike], *, top_k: int = 5, threshold: float | None = None
) -> Iterator[QueryResult | tuple[str, MusicEdgeError]]:
    from concurrent.futures import ThreadPoolExecutor

    paths = [os.fspath(p) for p in paths]

    def decode(path: str) -> np.ndarray | MusicEdgeError:
        try:
            return self.fingerprinter.decode(path)
        except MusicEdgeError as exc:
            return exc

    with ThreadPoolExecutor(1) as pool:
        for path, y in zip(paths, _ordered(pool, decode, paths, 2), strict=True):
            if isinstance(y, MusicEdgeError):
                yield path, y
                continue
            try:
                yield _query_timed(self, y, path, top_k, threshold)
            except MusicEdgeError as exc:
                yield path, exc


@dataclass
class RetrievalScores:
    """What ``musicedge eval retrieval`` prints."""

    clips: int
    top1: float
    top5: float
    no_match: float
    offset_median_s: float
    offset_p90_s: float
    latency_median_ms: float
    tracks: int
    failed: int

    def markdown(self) -> str:
        rows = [
            ("tracks indexed", f"{self.tracks}"),
            ("clips queried", f"{self.clips}"),
            ("top-1 hit rate", f"{self.top1:.4f}"),
            ("top-5 hit rate", f"{self.top5:.4f}"),
            ("no match returned", f"{self.no_match:.4f}"),
            ("offset error median (s)", f"{self.offset_median_s:.3f}"),
            ("offset error p90 (s)", f"{self.offset_p90_s:.3f}"),
            ("query latency median (ms, after decode)", f"{self.latency_median_ms:.1f}"),
            ("files that failed", f"{self.failed}"),
        ]
        return "| metric | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


def _retrieval_layout(
    root: Path, splits: list[str] | None
) -> tuple[list[Path], list[tuple[Path, str, float]]]:
    """Origin tracks and ``(clip, origin label key, start_s)`` of a retrieval layout
    (``{split}/origin/<label>/...`` and ``{split}/sample/<label>/<label>_<start_ms>_<end_ms>.<ext>``)."""
    from .audio import find_audio

    if not root.is_dir():
        raise LibraryError(f"{root}: no such folder")
    present = [s for s in ("train", "valid", "test") if (root / s / "origin").is_dir()]
    chosen = splits or present
    missing = [s for s in chosen if s not in present]
    if missing or not chosen:
        raise LibraryError(
            f"{root}: no {'/'.join(missing or ['train', 'valid', 'test'])}/origin folder of a "
            "retrieval layout"
        )
    origins, clips = [], []
    for split in chosen:
        origins += find_audio([root / split / "origin"])
        sample = root / split / "sample"
        for clip in find_audio([sample]) if sample.is_dir() else []:
            label = clip.parent.name
            parts = clip.stem.rsplit("_", 2)
            if len(parts) != 3 or parts[0] != label or not (parts[1].isdigit() and parts[2].isdigit()):
                raise LibraryError(
                    f"{clip}: not named <label>_<start_ms>_<end_ms> in its label folder {label}"
                )
            clips.append((clip, f"{split}/{label}", int(parts[1]) / 1000.0))
    return origins, clips


def evaluate_retrieval(
    root: str | os.PathLike,
    fingerprinter: Fingerprinter,
    db: str | os.PathLike,
    *,
    splits: list[str] | None = None,
    top_k: int = 5,
    threshold: float | None = None,
) -> RetrievalScores:
    """Index the origins of a retrieval layout into the library ``db`` and query every sample clip.

    A clip is a top-1 (top-5) hit when its origin's label (in its split) is the label of the first
    (one of the first five) matches; the offset error is measured on top-1 hits.
    """
    root = Path(root)
    origins, clips = _retrieval_layout(root, splits)
    library = Library.open_or_create(db, fingerprinter)
    added = library.add_files(origins)
    failed = sum(isinstance(r, MusicEdgeError) for _, r in added)
    key_of = {
        t.path: f"{Path(t.path).parent.parent.parent.name}/{Path(t.path).parent.name}" for t in library.tracks
    }
    top1 = top5 = none = 0
    errors, latencies = [], []
    for (_clip, key, start), result in zip(
        clips, library.query_files([c[0] for c in clips], top_k=top_k, threshold=threshold), strict=True
    ):
        if isinstance(result, tuple):
            failed += 1
            continue
        latencies.append(result.latency_ms)
        keys = [key_of.get(m.track) for m in result.matches]
        none += not keys
        if keys[:1] == [key]:
            top1 += 1
            errors.append(abs(result.matches[0].offset_s - start))
        top5 += key in keys[:5]
    n = max(1, len(clips))
    return RetrievalScores(
        clips=len(clips),
        top1=top1 / n,
        top5=top5 / n,
        no_match=none / n,
        offset_median_s=float(np.median(errors)) if errors else float("nan"),
        offset_p90_s=float(np.quantile(errors, 0.9)) if errors else float("nan"),
        latency_median_ms=float(np.median(latencies)) if latencies else float("nan"),
        tracks=len(library),
        failed=failed,
    )
