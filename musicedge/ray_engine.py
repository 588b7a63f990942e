"""``musicedge analyze --engine ray``: the same analysis on a Ray cluster.

The driver hashes the files and plans them against the store, as the local engine does; Ray Data then
maps the file list through a decode stage (one decode and one frontend pass per file, as Ray tasks)
and one actor pool per model (each actor loads its model once and scores the windows of a batch of
files together); the driver writes each file's results into the same store, so a library analysed on
a cluster resumes locally and the other way round. The per-file work is the local engine's own
(:func:`musicedge.analyze.decode_frames`, the tasks' jobs), so both give the same records.

    ray start --head                                   # on the head node
    ray start --address HEAD:6379                      # on each worker node
    musicedge analyze /shared/library --out /shared/results --engine ray --address HEAD:6379

Files and models must be readable at the same paths on every node (a shared file system). Without
``--address`` a local Ray instance starts on this machine.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import errors
from .analyze import (
    AnalysisTask,
    Decoded,
    Deferred,
    FileOutcome,
    commit_deferred,
    decode_frames,
    error_rows,
    feed_job,
    load_tasks,
    plan_file,
)
from .audio import display_path
from .batching import CrossFileBatcher
from .errors import AudioError, MusicEdgeError
from .store import ResultStore

BATCH_FILES = 8  # files per actor call


def _config_key(task: AnalysisTask) -> str:
    return json.dumps(task.frontend.to_dict(), sort_keys=True)


def _decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """Ray task: the file's frames for every frontend config its tasks need, pickled."""
    from .config import FrontendConfig

    path = os.fsdecode(row["path"])
    wanted = {key: FrontendConfig.from_dict(json.loads(key)) for key in json.loads(row["configs"])}
    by_config = {cfg: key for key, cfg in wanted.items()}
    decoded = Decoded()
    from .library import ContentHasher

    hashers = {cfg.sample_rate: ContentHasher() for cfg in wanted.values()}
    try:
        chunks: dict[str, list[np.ndarray]] = {key: [] for key in wanted}
        on_samples = lambda sr, y: hashers[sr].update(y)  # noqa: E731
        for cfg, frames, _ in decode_frames(path, list(wanted.values()), decoded, on_samples):
            chunks[by_config[cfg]].append(frames)
        frames = {key: np.concatenate(parts, axis=1) for key, parts in chunks.items()}
        row["frames"] = pickle.dumps(frames, protocol=5)
        row["duration_s"] = decoded.duration_s
        row["hashes"] = json.dumps({str(sr): h.hexdigest() for sr, h in hashers.items()})
    except MusicEdgeError as exc:
        name = display_path(path)
        error = exc if str(exc).startswith(name) else type(exc)(f"{name}: {exc}")
        row["error"] = json.dumps({"type": type(error).__name__, "message": str(error)})
    return row


class _ModelStage:
    """Ray actor: one task's model, scoring the files of each batch together."""

    def __init__(self, name: str, model: str, device: str, out: str) -> None:
        self.task = load_tasks([name], {name: model}, device=device, threads=1, out=out)[0]

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batcher = CrossFileBatcher(self.task.run, self.task.batch_size)
        jobs = {}
        for i in range(len(batch["path"])):
            if batch["error"][i] or self.task.name not in json.loads(batch["tasks"][i]):
                continue
            frames = pickle.loads(batch["frames"][i])[_config_key(self.task)]
            job = jobs[i] = self.task.start()
            for inputs in feed_job(job, frames, final=True):
                batcher.add(job.take, inputs)
        batcher.flush()
        results = [pickle.loads(r) for r in batch["results"]]
        for i, job in jobs.items():
            if self.task.commit_every:  # the driver persists it (fingerprints into the library)
                embeddings, _ = job.payload()
                digest = json.loads(batch["hashes"][i])[str(self.task.frontend.sample_rate)]
                results[i][self.task.name] = (embeddings, digest)
            else:
                name = display_path(os.fsdecode(batch["path"][i]))
                results[i][self.task.name] = job.record(name, float(batch["duration_s"][i]))
        batch["results"] = np.array([pickle.dumps(r, protocol=5) for r in results], dtype=object)
        return batch


def run_on_ray(
    files: Sequence[str],
    tasks: Sequence[AnalysisTask],
    store: ResultStore,
    *,
    force: bool = False,
    address: str | None = None,
    device: str = "auto",
) -> Iterator[FileOutcome]:
    out = str(store.folder)
    """Analyse ``files`` on Ray into ``store``; yields one outcome per file as results come back."""
    import ray

    if not ray.is_initialized():
        os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    by_name = {t.name: t for t in tasks}
    rows, digests = [], {}
    for i, path in enumerate(files):
        try:
            digest, needed = plan_file(store, tasks, path, force)
        except AudioError as exc:
            yield FileOutcome(display_path(path), "failed", exc)
            continue
        if not needed:
            yield FileOutcome(display_path(path), "skipped", None, digest)
            continue
        digests[i] = digest
        rows.append(
            {
                "index": i,
                "path": os.fsencode(path),
                "tasks": json.dumps([t.name for t in needed]),
                "configs": json.dumps(sorted({_config_key(t) for t in needed})),
                "frames": b"",
                "duration_s": 0.0,
                "error": "",
                "hashes": "{}",
                "results": pickle.dumps({}),
            }
        )
    if not rows:
        return
    ds = ray.data.from_items(rows).map(_decode_row, num_cpus=0.5)
    for task in tasks:
        ds = ds.map_batches(
            _ModelStage,
            fn_constructor_kwargs={"name": task.name, "model": task.model_path, "device": device, "out": out},
            batch_size=BATCH_FILES,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=1),
            num_cpus=0.25,
        )
    pending: dict[str, list[Deferred]] = {t.name: [] for t in tasks if t.commit_every}

    def commit(task: AnalysisTask) -> None:
        files, pending[task.name] = pending[task.name], []
        commit_deferred(store, task, files)

    for row in ds.iter_rows():
        path = display_path(os.fsdecode(row["path"]))
        needed = [by_name[n] for n in json.loads(row["tasks"])]
        digest = digests[int(row["index"])]
        if row["error"]:
            error = json.loads(row["error"])
            exc = getattr(errors, error["type"], MusicEdgeError)(error["message"])
            store.put(digest, path, error_rows(needed, path, exc))
            yield FileOutcome(path, "failed", exc, digest)
            continue
        results = pickle.loads(row["results"])
        rows = []
        for task in needed:
            if task.commit_every:
                pending[task.name].append((digest, path, results[task.name], float(row["duration_s"])))
                if len(pending[task.name]) >= task.commit_every:
                    commit(task)
            else:
                rows.append((task.name, task.model_version, True, results[task.name]))
        if rows:
            store.put(digest, path, rows)
        yield FileOutcome(path, "done", None, digest)
    for task in tasks:
        if task.commit_every:
            commit(task)
