"""``musicedge analyze``: the same answers as the single-task API, resuming, model versions, bad files,
a two-hour file, and kill -9 at any moment. Runs on the bundled models."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from make_bad_files import make as make_bad_files

from musicedge.analyze import Analyzer, load_tasks, run_analysis
from musicedge.audio import display_path
from musicedge.classify import Classifier
from musicedge.fingerprint import Fingerprinter
from musicedge.library import Library
from musicedge.models import resolve
from musicedge.segment import Segmenter
from musicedge.store import ResultStore

from conftest import seeded_signal

ROOT = Path(__file__).resolve().parents[1]


def write_library(folder: Path, n: int, seconds: float = 6.0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"track{i:03d}.wav"
        sf.write(path, seeded_signal(44100, seconds + i % 3, seed=100 + i), 44100, subtype="PCM_16")
        paths.append(path)
    return paths


def jsonl(path: Path) -> dict[str, dict]:
    return {r["path"]: r for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())}


def analyze_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "musicedge", "analyze", *args], capture_output=True, text=True, cwd=ROOT
    )


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> list[Path]:
    return write_library(tmp_path_factory.mktemp("library"), 7)


def test_one_pass_gives_the_single_task_answers(library, tmp_path):
    summary = run_analysis(library, tmp_path, ["classify", "tag"], jobs=2)
    assert (summary.files, summary.done, summary.failed) == (7, 7, 0)
    records = jsonl(tmp_path / "results.jsonl")
    for name, task in (("genre", "classify"), ("mood", "tag")):
        classifier = Classifier.load(name)
        for path in library:
            alone = classifier.predict(path)
            got = records[str(path)][task]
            assert [p["label"] for p in got["predictions"]] == [label for label, _ in alone.predictions]
            for p, (_, score) in zip(got["predictions"], alone.predictions, strict=True):
                assert p["score"] == pytest.approx(score, abs=1e-6)
    assert records[str(library[0])]["duration_s"] == pytest.approx(6.0)
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert rows[0].startswith("path,task,model_version,ok") and len(rows) == 1 + 2 * 7


def test_segments_and_fingerprints_equal_the_segment_and_index_commands(library, tmp_path):
    summary = run_analysis(library[:4], tmp_path / "out", ["segment", "fingerprint"])
    assert (summary.done, summary.failed) == (4, 0)
    records = jsonl(tmp_path / "out" / "results.jsonl")
    segmenter = Segmenter.load("structure")
    for path in library[:4]:
        alone = segmenter.analyze(path).to_dict()
        assert records[str(path)]["segment"]["segments"] == alone["segments"]
        assert records[str(path)]["fingerprint"]["fingerprints"] > 0
    fingerprinter = Fingerprinter.load("fingerprint")
    analysed = Library.open(tmp_path / "out" / "fingerprints", fingerprinter)
    indexed = Library.create(tmp_path / "indexed", fingerprinter)
    indexed.add_files(library[:4])
    by_path = {t.path: t for t in analysed.tracks}
    for track in indexed.tracks:
        mine = by_path[track.path]
        assert mine.content_hash == track.content_hash  # the same content is not added twice
        np.testing.assert_allclose(  # batches across files may differ in the last bit
            analysed.vectors(analysed.position(mine.id), 0, mine.n_fingerprints),
            indexed.vectors(indexed.position(track.id), 0, track.n_fingerprints),
            atol=1e-6,
        )


def as_new_version(name: str, version: str, folder: Path) -> Path:
    """A copy of bundled model ``name`` whose metadata names ``version`` (the same weights)."""
    onnx = pytest.importorskip("onnx")
    proto = onnx.load(resolve(name))
    for prop in proto.metadata_props:
        if prop.key == "musicedge.model_version":
            prop.value = version
    path = folder / f"{name}-{version}.onnx"
    onnx.save(proto, path)
    return path


def test_rerun_skips_force_redoes_and_a_new_model_version_redoes_only_its_task(library, tmp_path):
    first = run_analysis(library[:3], tmp_path, ["classify", "tag"])
    assert (first.done, first.skipped) == (3, 0)
    again = run_analysis(library[:3], tmp_path, ["classify", "tag"])
    assert (again.done, again.skipped) == (0, 3)
    forced = run_analysis(library[:3], tmp_path, ["classify", "tag"], force=True)
    assert (forced.done, forced.skipped) == (3, 0)

    # The same genre model under a new version: classify is redone, tag is not.
    retrained = as_new_version("genre", "1.0.1", tmp_path)
    with ResultStore(tmp_path) as store:
        tasks = load_tasks(["classify", "tag"], {"classify": str(retrained)})
        before = {t.name: store.get(store.file_hash(library[0]), t.name).model_version for t in tasks}
        redone = {t.name: 0 for t in tasks}
        analyzer = Analyzer(tasks, store)
        for outcome in analyzer.run(library[:3]):
            assert outcome.status == "done"
        after = {t.name: store.get(store.file_hash(library[0]), t.name).model_version for t in tasks}
        for t in tasks:
            redone[t.name] = before[t.name] != after[t.name]
    assert redone == {"classify": True, "tag": False}
    assert "1.0.1" in after["classify"]


def test_a_store_keeps_its_content_hash_and_old_stores_keep_blake2b(library, tmp_path):
    """New stores hash with XXH3-128; a store made before the algorithm was recorded (BLAKE2b-128)
    goes on with it, so a re-run still finds its results; an unknown algorithm is refused."""
    import hashlib

    import xxhash

    from musicedge.errors import DataError

    data = Path(library[0]).read_bytes()
    with ResultStore(tmp_path / "new") as store:
        assert store.hash_algorithm == "xxh3-128"
        assert store.file_hash(library[0]) == xxhash.xxh3_128(data).hexdigest()

    old = tmp_path / "old"
    run_analysis(library[:2], old, ["classify"])
    with sqlite3.connect(old / "results.sqlite") as db:  # as a store of before: no hash named, BLAKE2b keys
        db.execute("DELETE FROM meta WHERE key = 'hash'")
        db.execute("DELETE FROM files")
        for row in db.execute("SELECT DISTINCT content_hash, path FROM results").fetchall():
            legacy = hashlib.blake2b(Path(row[1]).read_bytes(), digest_size=16).hexdigest()
            db.execute("UPDATE results SET content_hash = ? WHERE content_hash = ?", (legacy, row[0]))
    with ResultStore(old) as store:
        assert store.hash_algorithm == "blake2b-128"
        assert store.file_hash(library[0]) == hashlib.blake2b(data, digest_size=16).hexdigest()
    again = run_analysis(library[:2], old, ["classify"])
    assert (again.done, again.skipped) == (0, 2)

    with sqlite3.connect(old / "results.sqlite") as db:
        db.execute("UPDATE meta SET value = 'sha3-999' WHERE key = 'hash'")
    with pytest.raises(DataError, match="newer musicedge.*sha3-999"):
        ResultStore(old)


def test_a_new_fingerprint_model_moves_the_old_library_aside_and_starts_a_new_one(library, tmp_path, capsys):
    first = run_analysis(library[:2], tmp_path, ["fingerprint"])
    assert (first.done, first.failed) == (2, 0)
    old_version = Fingerprinter.load("fingerprint").version
    retrained = as_new_version("fingerprint", "2.0.0", tmp_path)

    again = run_analysis(library[:2], tmp_path, ["fingerprint"], models={"fingerprint": str(retrained)})
    assert (again.done, again.skipped, again.failed) == (2, 0, 0)  # redone, as for any new model version
    assert f"fingerprints.{old_version}" in capsys.readouterr().err
    new = Library.open(tmp_path / "fingerprints", Fingerprinter.load(retrained))
    old = Library.open(tmp_path / f"fingerprints.{old_version}", Fingerprinter.load("fingerprint"))
    paths = sorted(map(str, library[:2]))
    assert sorted(t.path for t in new.tracks) == sorted(t.path for t in old.tracks) == paths
    # back to the first model, then to the new one again: the second library of the first model
    # finds its name taken and gets a number
    run_analysis(library[:1], tmp_path, ["fingerprint"])
    current = Library.open(tmp_path / "fingerprints", Fingerprinter.load("fingerprint"))
    assert [t.path for t in current.tracks] == [str(library[0])]
    run_analysis(library[:1], tmp_path, ["fingerprint"], models={"fingerprint": str(retrained)})
    assert (tmp_path / "fingerprints.2.0.0").is_dir()
    assert (tmp_path / f"fingerprints.{old_version}.2").is_dir()


def test_bad_files_get_one_error_each_and_the_rest_completes(tmp_path, monkeypatch, capsys):
    rows = make_bad_files(tmp_path / "in", long_seconds=0)
    unreadable = str(tmp_path / "in" / "no-permission.wav")
    if os.geteuid() == 0:
        # root reads every file; let the unreadable one be unreadable, as for anybody else.
        import musicedge.audio

        real_access = os.access
        monkeypatch.setattr(
            musicedge.audio.os,
            "access",
            lambda p, mode: False if str(p) == unreadable else real_access(p, mode),
        )
    files = [os.path.join(os.fsencode(tmp_path / "in"), os.fsencode(name)) for name, _, _ in rows]
    summary = run_analysis([os.fsdecode(f) for f in files], tmp_path / "out", ["classify", "tag"])
    expected_failures = sum(1 for *_, expected in rows if expected != "ok")
    assert (summary.failed, summary.done) == (expected_failures, len(rows) - expected_failures)
    records = jsonl(tmp_path / "out" / "results.jsonl")
    assert len(records) == len(rows)
    for (name, what, expected), path in zip(rows, files, strict=True):
        record = records[display_path(os.fsdecode(path))]
        if expected == "ok":
            assert "errors" not in record, (what, record)
            assert record["classify"]["predictions"] and record["duration_s"] > 0
        else:
            assert set(record["errors"]) == {"classify", "tag"}, what
            error = record["errors"]["classify"]
            assert error["type"] == expected, (what, error)
            assert display_path(name) in error["message"], (what, error)
    assert capsys.readouterr().err.count("error: ") == expected_failures


def test_a_two_hour_file_is_analysed_block_by_block(tmp_path):
    from make_bad_files import _write_long

    path = tmp_path / "two-hours.wav"
    _write_long(path, 7200.0)
    summary = run_analysis([path], tmp_path / "out", ["classify"], jobs=1)
    assert (summary.done, summary.failed) == (1, 0)
    record = jsonl(tmp_path / "out" / "results.jsonl")[str(path)]
    assert record["duration_s"] == pytest.approx(7200.0)


def test_kill_9_loses_only_files_in_flight_and_never_the_store(tmp_path):
    files = write_library(tmp_path / "lib", 40, seconds=8.0)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "musicedge", "analyze", str(tmp_path / "lib"), "--out", str(out)]
    for stored_before_kill in (2, 9):
        process = subprocess.Popen(
            command + ["-j", "1"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 120
        count = 0
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with sqlite3.connect(out / "results.sqlite", timeout=5) as db:
                    count = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.Error:
                count = 0
            if count >= stored_before_kill:
                break
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        with sqlite3.connect(out / "results.sqlite") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            kept = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        assert kept >= stored_before_kill or count < stored_before_kill
    query = "SELECT content_hash, task, created FROM results"
    with sqlite3.connect(out / "results.sqlite") as db:
        before = set(db.execute(query).fetchall())
    assert len(before) >= 9
    rerun = analyze_cli(str(tmp_path / "lib"), "--out", str(out), "-j", "2")
    assert rerun.returncode == 0, rerun.stderr
    assert len(jsonl(out / "results.jsonl")) == len(files)
    with sqlite3.connect(out / "results.sqlite") as db:
        after = set(db.execute(query).fetchall())
        tasks = db.execute("SELECT task, COUNT(*) FROM results GROUP BY task").fetchall()
    assert before <= after  # what was stored before the kills was kept, not redone
    assert dict(tasks) == {"classify": 40, "segment": 40, "fingerprint": 40}
    # Fingerprints reach the store only once committed to the library: the two agree.
    library = Library.open(out / "fingerprints", Fingerprinter.load("fingerprint"))
    assert len(library.tracks) == 40


def test_bad_arguments_are_usage_errors(tmp_path):
    done = analyze_cli(str(tmp_path), "--out", str(tmp_path / "o"), "--tasks", "nonsense")
    assert done.returncode == 2 and "unknown task" in done.stderr
    done = analyze_cli(str(tmp_path / "missing-folder"), "--out", str(tmp_path / "o"))
    assert done.returncode == 1 and "missing-folder: no such file" in done.stderr
    (tmp_path / "o2").write_text("a file where the output folder should be")
    sf.write(tmp_path / "x.wav", np.zeros(22050, np.float32), 22050)
    done = analyze_cli(str(tmp_path / "x.wav"), "--out", str(tmp_path / "o2"))
    assert done.returncode in (1, 2) and "o2" in done.stderr


@pytest.mark.parametrize("long_song_frames", [0, 10**9])
def test_long_songs_go_through_the_structure_model_one_at_a_time(library, tmp_path, long_song_frames):
    """Songs over ``long_song_frames`` take the task's lock (the attention over a full window is the
    run's biggest allocation); shorter ones may run side by side. The records are the same."""
    import threading

    tasks = load_tasks(["segment"], {})
    task = tasks[0]
    task.long_song_frames = long_song_frames
    running, most, lock = [0], [0], threading.Lock()
    original = task.segmenter.result_from_frames

    def counted(*args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)  # long enough for the other worker's song to arrive
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    task.segmenter.result_from_frames = counted
    with ResultStore(tmp_path) as store:
        outcomes = list(Analyzer(tasks, store, jobs=2).run(library[:4]))
        records = [store.get(o.digest, "segment").record for o in outcomes]
    assert [o.status for o in outcomes] == ["done"] * 4
    if long_song_frames == 0:
        assert most[0] == 1
    segmenter = Segmenter.load("structure")
    for path, record in zip(library[:4], records, strict=True):
        assert record["segments"] == segmenter.analyze(path).to_dict()["segments"]
