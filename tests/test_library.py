"""``Library``: FAISS index + SQLite catalogue, dedup, removal, reopening, crash safety, locking, and the
``musicedge index`` / ``query`` commands, on the tiny fingerprint model of tests/test_fingerprinter.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from musicedge.cli import cli
from musicedge.errors import AudioError
from musicedge.fingerprint import Fingerprinter
from musicedge.library import (
    CATALOGUE,
    LOCK,
    PQ_MIN_TRAINING,
    Library,
    LibraryBusyError,
    LibraryError,
    _flock,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_fingerprinter import tiny_fingerprint_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return tiny_fingerprint_model(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def fp(tiny) -> Fingerprinter:
    return Fingerprinter.load(tiny[0], threads=1)


@pytest.fixture
def clip(tiny, tmp_path) -> tuple[Path, Path, float]:
    """A 5 s clip cut 7.25 s into the fourth track: (clip, its track, offset)."""
    y, sr = sf.read(tiny[1][3], dtype="float32")
    path = tmp_path / "clip.wav"
    sf.write(path, y[int(7.25 * sr) : int(12.25 * sr)], sr)
    return path, tiny[1][3], 7.25


def test_add_query_reopen(fp, tiny, clip, tmp_path):
    lib = Library.create(tmp_path / "lib", fp)
    results = lib.add_files(tiny[1])
    assert [r.path for _, r in results] == [str(p) for p in tiny[1]]
    assert len(lib) == 6 and lib.n_fingerprints == sum(t.n_fingerprints for t in lib.tracks)
    track = lib.tracks[3]
    assert track.model_version == fp.version and track.duration_s == pytest.approx(20.0, abs=0.02)
    assert len(track.content_hash) == 64
    matches = lib.query(clip[0], threshold=0.0)
    assert matches[0].track == str(clip[1])
    assert matches[0].offset_s == pytest.approx(clip[2], abs=0.05)
    del lib
    again = Library.open(tmp_path / "lib", fp)  # after a "restart"
    assert [t.path for t in again.tracks] == [str(p) for p in tiny[1]]
    assert again.query(clip[0], threshold=0.0)[0].track == str(clip[1])


def test_same_content_is_not_added_twice(fp, tiny, tmp_path):
    lib = Library.create(tmp_path / "lib", fp)
    lib.add_files(tiny[1][:2])
    copy = tmp_path / "copy-of-first.wav"
    shutil.copy(tiny[1][0], copy)
    results = lib.add_files([copy, tiny[1][1], tiny[1][2]])
    assert len(lib) == 3
    assert results[0][1].path == str(tiny[1][0])  # the copy is the track already there


def test_remove(fp, tiny, clip, tmp_path):
    lib = Library.create(tmp_path / "lib", fp)
    lib.add_files(tiny[1])
    before = lib.n_fingerprints
    removed = lib.tracks[3]
    assert lib.remove([str(clip[1])]) == 1
    assert len(lib) == 5 and lib.n_fingerprints == before - removed.n_fingerprints
    assert all(m.track != str(clip[1]) for m in lib.query(clip[0], threshold=0.0))
    assert lib.remove([removed.id]) == 0
    lib.add_files([clip[1]])  # back in, with new fingerprint ids
    assert Library.open(tmp_path / "lib", fp).query(clip[0], threshold=0.0)[0].track == str(clip[1])


def test_another_model_version_is_refused(fp, tiny, tmp_path):
    onnx = pytest.importorskip("onnx")
    lib = Library.create(tmp_path / "lib", fp)
    lib.add_files(tiny[1][:1])
    proto = onnx.load(str(tiny[0]))
    for prop in proto.metadata_props:
        if prop.key == "musicedge.model_version":
            prop.value = "other-version"
    other = tmp_path / "other.onnx"
    onnx.save(proto, str(other))
    with pytest.raises(LibraryError, match="version other-version"):
        Library.open(tmp_path / "lib", Fingerprinter.load(other))


def test_missing_corrupt_and_foreign_folders(fp, tmp_path):
    with pytest.raises(LibraryError, match="no such library folder"):
        Library.open(tmp_path / "absent", fp)
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"not a library")
    with pytest.raises(LibraryError, match="not a musicedge library"):
        Library.open(foreign, fp)
    with pytest.raises(LibraryError, match="not empty"):
        Library.create(foreign, fp)
    assert sorted(p.name for p in foreign.iterdir()) == ["cat.jpg"]  # nothing written
    corrupt = tmp_path / "corrupt"
    Library.create(corrupt, fp)
    (corrupt / CATALOGUE).write_bytes(b"garbage" * 100)
    with pytest.raises(LibraryError, match="corrupt catalogue"):
        Library.open(corrupt, fp)
    assert (corrupt / CATALOGUE).read_bytes() == b"garbage" * 100


def test_a_second_writer_waits_then_fails_cleanly(fp, tiny, tmp_path):
    lib = Library.create(tmp_path / "lib", fp, lock_timeout=0.3)
    with _flock(tmp_path / "lib" / LOCK, 1.0):
        started = time.monotonic()
        with pytest.raises(LibraryBusyError, match="another process is writing"):
            lib.add_files(tiny[1][:1])
        assert time.monotonic() - started >= 0.25
    assert len(Library.open(tmp_path / "lib", fp)) == 0
    lib.add_files(tiny[1][:1])  # the lock is free again
    assert len(lib) == 1


def test_ivfpq_library_grown_one_track_at_a_time_trains_once_it_can(fp, tmp_path, rng):
    """A first track far too short to train IVF-PQ on (FAISS would refuse) is kept in a flat index,
    exact; once the library holds enough fingerprints it is trained on all of them."""
    lib = Library.create(tmp_path / "lib", fp, index="ivfpq", pq_m=8)
    tracks = rng.standard_normal((12, 900, fp.dim)).astype(np.float32)
    tracks /= np.linalg.norm(tracks, axis=2, keepdims=True)
    lib.add_fingerprints([("first", tracks[0, :100], "hash-first", 50.0)])
    sims, found, windows = lib.search(tracks[0, 10:13], 1)
    assert (found[:, 0] == 0).all() and (windows[:, 0] == [10, 11, 12]).all() and (sims > 0.999).all()
    assert lib.bytes_per_fingerprint() > 64  # flat while it waits
    for i in range(1, 12):
        lib.add_fingerprints([(f"t{i}", tracks[i], f"hash-{i}", 450.0)])
    assert lib.n_fingerprints >= PQ_MIN_TRAINING and lib.bytes_per_fingerprint() <= 64
    reopened = Library.open(tmp_path / "lib", fp)
    reopened.nprobe = 64
    sims, found, windows = reopened.search(tracks[7, 200:220], 1)
    assert (found[:, 0] == 7).mean() >= 0.9 and (windows[:, 0] == np.arange(200, 220)).mean() >= 0.9


def test_ivfpq_index_at_most_64_bytes_per_fingerprint(fp, tiny, tmp_path, rng):
    lib = Library.create(tmp_path / "lib", fp, index="ivfpq", pq_m=8)
    tracks = rng.standard_normal((17, 600, fp.dim)).astype(np.float32)  # enough to train on
    tracks /= np.linalg.norm(tracks, axis=2, keepdims=True)
    lib.add_fingerprints([(f"t{i}", v, f"hash-{i}", 300.0) for i, v in enumerate(tracks)])
    lib.add_files(tiny[1][:1])  # later tracks are encoded with the codebooks trained on the first
    assert lib.index_kind == "ivfpq" and len(lib) == 18
    assert lib.bytes_per_fingerprint() <= 64
    lib.nprobe = 64
    sims, found, windows = lib.search(tracks[2, 100:120], 1)
    assert (found[:, 0] == 2).mean() >= 0.9 and (windows[:, 0] == np.arange(100, 120)).mean() >= 0.9
    approx = lib.vectors(2, 100, 20)  # PQ reconstructions
    assert (np.sum(approx * tracks[2, 100:120], axis=1) > 0.5).all()
    reopened = Library.open(tmp_path / "lib", fp)
    assert reopened.index_kind == "ivfpq" and reopened.n_fingerprints == lib.n_fingerprints


_WRITER = textwrap.dedent(
    """
    import sys
    from musicedge.fingerprint import Fingerprinter
    from musicedge.library import Library
    fp = Fingerprinter.load(sys.argv[1], threads=1)
    lib = Library.open(sys.argv[2], fp)
    tracks = sys.argv[3:]
    print("ready", flush=True)
    while True:
        lib.add_files(tracks)
        lib.remove(tracks[:3])
    """
)


def test_kill_9_at_any_point_leaves_a_readable_library(fp, tiny, clip, tmp_path):
    folder = tmp_path / "lib"
    Library.create(folder, fp).add_files(tiny[1][3:])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = np.random.default_rng(0)
    for delay in rng.uniform(0.05, 1.5, 6):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tiny[0]), str(folder), *map(str, tiny[1])],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        lib = Library.open(folder, fp)  # consistent: the index holds what the catalogue says
        assert lib.n_fingerprints == sum(t.n_fingerprints for t in lib.tracks)
        assert {str(p) for p in tiny[1][3:]} <= {t.path for t in lib.tracks}
        assert lib.query(clip[0], threshold=0.0)[0].track == str(clip[1])
        assert len(list(folder.glob("index-*.faiss"))) >= 1


def test_cli_index_and_query(tiny, clip, tmp_path):
    runner = CliRunner()
    db = tmp_path / "db"
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really")
    result = runner.invoke(cli, ["index", *map(str, tiny[1]), str(bad), "--db", str(db), "-m", str(tiny[0])])
    assert result.exit_code == 1
    assert "broken.wav" in result.output and "6 added" in result.output
    again = runner.invoke(cli, ["index", str(tiny[1][0]), "--db", str(db)])  # the library's own model
    assert again.exit_code == 0 and "1 already present" in again.output
    out = runner.invoke(
        cli, ["query", str(clip[0]), "--db", str(db), "-f", "jsonl", "--threshold", "0", "--top-k", "2"]
    )
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout.splitlines()[0])
    assert set(record) == {"path", "matches", "latency_ms"}
    assert len(record["matches"]) <= 2 and set(record["matches"][0]) == {"track", "offset_s", "score"}
    assert record["matches"][0]["track"] == str(clip[1])
    assert abs(record["matches"][0]["offset_s"] - clip[2]) < 0.05
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(2000, np.float32), 8000)
    mixed = runner.invoke(cli, ["query", str(short), str(clip[0]), "--db", str(db), "-f", "csv"])
    assert mixed.exit_code == 1 and "shorter than one fingerprint window" in mixed.output
    assert mixed.stdout.splitlines()[0].startswith("path,rank,track,offset_s,score")
    missing = runner.invoke(cli, ["query", str(clip[0]), "--db", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no such library" in missing.output
    assert not (tmp_path / "nowhere").exists()
    # remove: by the indexed path and by id; a name that is neither is an error, the rest still go.
    tracks = Library.open(db, Fingerprinter.load(tiny[0])).tracks
    gone = runner.invoke(cli, ["remove", str(clip[1]), str(tracks[-1].id), "nothing.wav", "--db", str(db)])
    assert gone.exit_code == 1 and "2 removed; 4 tracks" in gone.output and "'nothing.wav'" in gone.output
    assert str(clip[1]) not in {t.path for t in Library.open(db, Fingerprinter.load(tiny[0])).tracks}
    assert runner.invoke(cli, ["remove", "x.wav", "--db", str(tmp_path / "nowhere")]).exit_code == 1


def test_concurrent_index_runs_do_not_corrupt(fp, tiny, tmp_path):
    db = tmp_path / "db"
    Library.create(db, fp)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "musicedge", "index", *map(str, part), "--db", str(db)],
            stderr=subprocess.PIPE,
            env=env,
        )
        for part in (tiny[1][:3], tiny[1][3:])
    ]
    codes = [p.wait(timeout=120) for p in runs]
    assert codes == [0, 0], [p.stderr.read() for p in runs]
    lib = Library.open(db, fp)
    assert len(lib) == 6 and lib.n_fingerprints == sum(t.n_fingerprints for t in lib.tracks)


def test_query_of_bad_input(fp, tiny, tmp_path):
    lib = Library.create(tmp_path / "lib", fp)
    lib.add_files(tiny[1][:2])
    with pytest.raises(AudioError, match="shorter than one fingerprint window"):
        lib.query(np.zeros(1000, np.float32), 8000)
    assert lib.query(np.zeros(8000 * 4, np.float32), 8000) == []  # silence matches nothing


def test_cli_eval_retrieval_on_a_seed_layout(tiny, tmp_path):
    """``{split}/origin/<label>/<label>_0.wav`` and ``{split}/sample/<label>/<label>_<start>_<end>.wav``."""
    root = tmp_path / "layout"
    for k, track in enumerate(tiny[1][:3]):
        label = f"song{k}"
        y, sr = sf.read(track, dtype="float32")
        (root / "test" / "origin" / label).mkdir(parents=True)
        (root / "test" / "sample" / label).mkdir(parents=True)
        sf.write(root / "test" / "origin" / label / f"{label}_0.wav", y, sr)
        for start_ms in (2000, 9500):
            piece = y[start_ms * sr // 1000 : (start_ms + 5000) * sr // 1000]
            sf.write(
                root / "test" / "sample" / label / f"{label}_{start_ms}_{start_ms + 5000}.wav", piece, sr
            )
    runner = CliRunner()
    args = ["eval", "retrieval", "--data", str(root), "-m", str(tiny[0]), "--threshold", "0"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "| top-1 hit rate | 1.0000 |" in result.output
    assert "| clips queried | 6 |" in result.output
    median = float(result.output.split("| offset error median (s) | ")[1].split(" ")[0])
    assert median < 0.05
    bad = runner.invoke(cli, ["eval", "retrieval", "--data", str(tmp_path / "nothing"), "-m", str(tiny[0])])
    assert bad.exit_code == 1 and "no such folder" in bad.output
