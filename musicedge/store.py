"""The results of ``musicedge analyze``: an SQLite file inside the output folder.

One row per (file content, task, model version): re-running skips what is done, a changed model
version redoes only its task, ``--force`` redoes everything. Content is identified by a hash of the
file's bytes (cached by path, size and modification time, so an unchanged library is not read
twice): XXH3-128, 14 to 17 GB/s here in 1 MiB reads, so hashing a WAV library costs next to nothing
beside decoding it (BLAKE2b ran at 1.3 GB/s). A store keeps the algorithm it was made with
(``meta.hash``); stores made before it was recorded go on with BLAKE2b-128, so their results stay
found. Failures are stored too (for the exports) and tried again on the next run.

Durability: every file's results are written in one transaction in WAL mode; a process killed at any
moment (kill -9) loses at most the files whose transaction had not committed, and the store stays
readable. Several processes may read while one writes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .audio import display_path
from .errors import DataError

STORE_NAME = "results.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, content_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    content_hash TEXT NOT NULL,
    task TEXT NOT NULL,
    model_version TEXT NOT NULL,
    path TEXT NOT NULL,
    ok INTEGER NOT NULL,
    record TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (content_hash, task)
);
"""


def _blake2b_128():
    return hashlib.blake2b(digest_size=16)


def _xxh3_128():
    import xxhash

    return xxhash.xxh3_128()


HASHES = {"xxh3-128": _xxh3_128, "blake2b-128": _blake2b_128}
"""Content hash algorithms by the name a store records; new stores use :data:`DEFAULT_HASH`."""
DEFAULT_HASH = "xxh3-128"
_LEGACY_HASH = "blake2b-128"  # what stores that do not name one were made with


def content_hash(path: str | os.PathLike, algorithm: str = DEFAULT_HASH, block: int = 1 << 20) -> str:
    """The hash of the file's bytes (``algorithm``: a key of :data:`HASHES`), hex."""
    digest = HASHES[algorithm]()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredResult:
    path: str
    task: str
    model_version: str
    ok: bool
    record: dict[str, Any]


class ResultStore:
    """``DIR/results.sqlite``; created with its folder when absent.

    Raises:
        DataError: the folder cannot be created, or the file is not a musicedge results store.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError(f"{self.folder}: cannot create the output folder ({exc.strerror})") from None
        self.path = self.folder / STORE_NAME
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise DataError(f"{self.path}: written by a newer musicedge (store schema {row[0]})")
            # a new store takes the default; one made before the algorithm was recorded, the old one
            default = DEFAULT_HASH if row is None else _LEGACY_HASH
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('hash', ?)", (default,))
            self.hash_algorithm = self._db.execute("SELECT value FROM meta WHERE key = 'hash'").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{self.path}: not a musicedge results store ({exc})") from None
        if self.hash_algorithm not in HASHES:
            raise DataError(f"{self.path}: written by a newer musicedge (content hash {self.hash_algorithm})")

    # -- content hashes ------------------------------------------------------------------------------

    def file_hash(self, path: str | os.PathLike, lock: AbstractContextManager | None = None) -> str:
        """The content hash of ``path``, from the cache when its size and mtime are unchanged.

        ``lock``, when threads share the store, is held for the cache's queries only: the file is
        read and hashed outside it, so that threads hash side by side."""
        lock = lock or nullcontext()
        p = os.fspath(path)
        st = os.stat(p)
        key = display_path(p)
        with lock:
            row = self._db.execute(
                "SELECT size, mtime_ns, content_hash FROM files WHERE path = ?", (key,)
            ).fetchone()
        if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return row[2]
        digest = content_hash(p, self.hash_algorithm)
        with lock:
            self._db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?)",
                (key, st.st_size, st.st_mtime_ns, digest),
            )
        return digest

    # -- results ---------------------------------------------------------------------------------------

    def done(self, digest: str, task: str, model_version: str) -> bool:
        """Whether the content has a successful result of this model version (failures are retried)."""
        row = self._db.execute(
            "SELECT model_version, ok FROM results WHERE content_hash = ? AND task = ?", (digest, task)
        ).fetchone()
        return row is not None and row[0] == model_version and bool(row[1])

    def put(self, digest: str, path: str, results: Iterable[tuple[str, str, bool, dict]]) -> None:
        """Store one file's results ``(task, model_version, ok, record)`` in one transaction."""
        now = time.time()
        rows = [
            (digest, task, version, path, int(ok), json.dumps(record, ensure_ascii=False), now)
            for task, version, ok, record in results
        ]
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def get(self, digest: str, task: str) -> StoredResult | None:
        row = self._db.execute(
            "SELECT path, task, model_version, ok, record FROM results WHERE content_hash = ? AND task = ?",
            (digest, task),
        ).fetchone()
        return None if row is None else StoredResult(row[0], row[1], row[2], bool(row[3]), json.loads(row[4]))

    def results(self) -> Iterator[StoredResult]:
        """Every stored result, by path then task."""
        rows = self._db.execute(
            "SELECT path, task, model_version, ok, record FROM results ORDER BY path, task"
        )
        for path, task, version, ok, record in rows:
            yield StoredResult(path, task, version, bool(ok), json.loads(record))

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self) -> None:
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *rest) -> None:
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def export_jsonl(files: Iterable[tuple[str, list[StoredResult]]], stream: IO[str]) -> int:
    """One line per file: ``{"path", "duration_s", <task>: its record without path, ...}``; failed tasks
    under ``"errors": {task: {"type", "message"}}``. Returns the number of lines."""
    n = 0
    for path, items in files:
        line: dict[str, Any] = {"path": path}
        for item in items:
            record = dict(item.record)
            record.pop("path", None)
            if item.ok:
                duration = record.pop("duration_s", None)
                line.setdefault("duration_s", duration)
                line[item.task] = record
            else:
                line.setdefault("errors", {})[item.task] = record["error"]
        stream.write(json.dumps(line, ensure_ascii=False) + "\n")
        n += 1
    return n


def export_csv(files: Iterable[tuple[str, list[StoredResult]]], stream: IO[str]) -> int:
    """One row per (file, task): path, task, model_version, ok, summary, error_type, error_message."""
    writer = csv.writer(stream)
    writer.writerow(["path", "task", "model_version", "ok", "summary", "error_type", "error_message"])
    n = 0
    for path, items in files:
        for item in items:
            if item.ok:
                row = [path, item.task, item.model_version, 1, summarize(item.record), "", ""]
            else:
                error = item.record["error"]
                row = [path, item.task, item.model_version, 0, "", error["type"], error["message"]]
            writer.writerow(row)
            n += 1
    return n


def summarize(record: dict[str, Any]) -> str:
    """A one-line text for a task's record (the best labels, the section count, the fingerprints)."""
    if "predictions" in record:
        return "; ".join(f"{p['label']} {p['score']:.3f}" for p in record["predictions"][:3])
    if "segments" in record:
        return " ".join(s["label"] for s in record["segments"])
    if "fingerprints" in record:
        return f"{record['fingerprints']} fingerprints"
    return json.dumps(record, ensure_ascii=False)[:200]
