"""Analyze suite: ``musicedge analyze`` over whole libraries, as fresh processes on this machine's cores.

- throughput of classify + segment + fingerprint in one pass, in times real time, on generated
  3-minute songs and on Debian's wesnoth music (when installed), against the three single-task
  commands run one after another on the same files (the baseline);
- where one pass's time goes: each part's CPU seconds on one thread, in this process (decoding,
  each resampling, each mel frontend, each model), which says how much of the work one pass can
  share and how much every command does again;
- the most any models could give: the same WAV case with every model run after the first of its
  input shapes answered from a cache, so the models cost next to nothing in both the pass and the
  commands (its results are meaningless; only its times are read);
- peak resident memory (the process's high-water mark, from wait4) for a 2,000-file library and for
  one two-hour file.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf

from .harness import Record, timing_of
from .pipeline import LIBRARY, library

SUITE = "analyze"
TASKS = ("classify", "segment", "fingerprint")
WESNOTH = Path("/usr/share/games/wesnoth/1.16/data/core/music")


def _analyze_command(files: list[str], out: Path) -> list[str]:
    """The one pass over ``files`` for every task of the suite."""
    return [
        sys.executable,
        "-m",
        "musicedge",
        "analyze",
        *files,
        "--out",
        str(out),
        "--tasks",
        ",".join(TASKS),
    ]


def _single_task_commands(files: list[str], work: Path) -> list[list[str]]:
    """What a user runs without analyze: one command per task, each decoding every file again."""
    me = [sys.executable, "-m", "musicedge"]
    return [
        me + ["classify", *files, "-m", "genre", "-f", "jsonl", "-o", str(work / "classify.jsonl")],
        me + ["segment", *files, "-f", "jsonl", "-o", str(work / "segment.jsonl")],
        me + ["index", *files, "--db", str(work / "library")],
    ]


# Forks from a small Python and reports the grandchild's peak RSS. A child forked straight from this
# process would start with this process's resident size as its peak (Linux copies the memory map's
# high-water mark on fork and keeps it across exec), so after other suites it read 1.38 GiB for
# everything.
_MEASURE = """
import os, sys
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the command's output is not measured
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
sys.stdout.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


# Runs ``python -m musicedge ARGS`` with OnnxModel.run answered from a cache of each model's outputs
# by input shapes: the models' cost drops out of the pass and the commands alike.
_FREE_MODELS = """
import runpy, sys
try:
    import musicedge.model as model
    real, outputs = model.OnnxModel.run, {}
except (ImportError, AttributeError) as exc:  # exit 1 means a bad file, which the runs allow
    sys.stderr.write(f"cannot answer the models from a cache: {exc}")
    sys.exit(3)
def cached(self, feeds, *, release_memory=False):
    key = (str(self.path), *((name, array.shape) for name, array in sorted(feeds.items())))
    if key not in outputs:
        outputs[key] = real(self, feeds, release_memory=release_memory)
    return {name: array.copy() for name, array in outputs[key].items()}
model.OnnxModel.run = cached
sys.argv[0] = "musicedge"
runpy.run_module("musicedge", run_name="__main__")
"""


def _free_models(command: list[str]) -> list[str]:
    """``command`` (``python -m musicedge ...``) with every model run answered from the cache."""
    if command[1:3] != ["-m", "musicedge"]:
        raise ValueError(f"not a musicedge command: {command[:3]}")
    return [command[0], "-c", _FREE_MODELS, *command[3:]]


def _run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh process."""
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _MEASURE, *command], capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if process.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(command[:4])} ... failed: {process.stderr[-2000:]}")
    return wall, int(process.stdout) / 1024


def _throughput(name: str, files: list[str], repeats: int, free_models: bool = False) -> Record:
    """One pass against the three single-task commands, ``repeats`` rounds of both in turn (each run a
    fresh process on fresh output folders), compared by their medians: a single run of either moves
    by 10-30% on a shared machine. ``free_models``: every command with :data:`_FREE_MODELS`."""
    seconds = sum(sf.info(f).duration for f in files)
    passes, separates, rss = [], [], 0.0
    wrap = _free_models if free_models else list
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="musicedge-bench-") as tmp:
            work = Path(tmp)
            wall, peak = _run(wrap(_analyze_command(files, work / "out")))
            passes.append(wall)
            rss = max(rss, peak)
            separates.append(sum(_run(wrap(command))[0] for command in _single_task_commands(files, work)))
    one_pass, separate = timing_of(passes), timing_of(separates)
    return Record(
        SUITE,
        f"analyze {'+'.join(TASKS)}: {name}",
        seconds / one_pass.median,
        "x real time",
        baseline="the three single-task commands",
        baseline_value=seconds / separate.median,
        ratio=separate.median / one_pass.median,
        spread=max(one_pass.spread, separate.spread) if repeats > 1 else None,
        target=None if free_models else ">= 300x real time; >= 2x the single-task commands",
        note=f"{len(files)} files, {seconds / 60:.1f} min of audio, median of {repeats} rounds: one pass "
        f"{one_pass.median:.1f} s ({min(passes):.1f} to {max(passes):.1f}; peak RSS {rss:.0f} MiB), "
        f"single-task commands {separate.median:.1f} s ({min(separates):.1f} to {max(separates):.1f})",
        extra={
            "audio_s": seconds,
            "one_pass_s": one_pass.median,
            "separate_s": separate.median,
            "one_pass_runs_s": passes,
            "separate_runs_s": separates,
        },
    )


def _parts(files: list[str]) -> Record:
    """CPU seconds of each part of the pass over ``files``, one thread each, file by file (so the
    memory stays one song's): what the three commands do three, two or one times and the pass once."""
    import numpy as np
    import soxr

    from musicedge.classify import Classifier
    from musicedge.fingerprint import Fingerprinter
    from musicedge.frontend import MelFrontend
    from musicedge.segment import Segmenter
    from musicedge.windows import mel_windows

    genre = Classifier.load("genre", device="cpu", threads=1)
    structure = Segmenter.load("structure", device="cpu", threads=1)
    fingerprint = Fingerprinter.load("fingerprint", device="cpu", threads=1)
    fe22, fe8 = genre.model.spec.frontend, fingerprint.model.spec.frontend
    if structure.model.spec.frontend != fe22:
        raise RuntimeError("the genre and structure models no longer share a frontend: update _parts")
    hop = fingerprint.spec.hop_frames  # the library's grid, as the pass and `musicedge index` use
    seconds: dict[str, float] = {}

    def timed(part: str, fn, *args):
        started = time.process_time()
        out = fn(*args)
        seconds[part] = seconds.get(part, 0.0) + time.process_time() - started
        return out

    for path in files:
        y, sr = timed("decode", lambda p: sf.read(p, dtype="float32"), path)
        y = y.mean(axis=1, dtype=np.float32) if y.ndim > 1 else y
        y22 = timed("resample to 22.05 kHz", soxr.resample, y, sr, fe22.sample_rate, "HQ")
        y8 = timed("resample to 8 kHz", soxr.resample, y, sr, fe8.sample_rate, "HQ")
        frames22 = timed("mel 22.05 kHz", MelFrontend(fe22).compute, y22)
        frames8 = timed("mel 8 kHz", MelFrontend(fe8).compute, y8)
        timed("genre model", lambda f: genre._scores(mel_windows(f, genre.spec)), frames22)
        timed("structure model", structure.activations, frames22)
        timed("fingerprint model", lambda f: fingerprint.embed_frames(f, hop, pad_tail=True), frames8)
    total = sum(seconds.values())
    # classify, segment and index each decode; classify and segment each resample to 22.05 kHz and
    # compute its mel frames; the rest each command does once, as the pass does
    repeated = {"decode": 3, "resample to 22.05 kHz": 2, "mel 22.05 kHz": 2}
    commands = sum(s * repeated.get(part, 1) for part, s in seconds.items())
    return Record(
        SUITE,
        f"analyze parts, CPU seconds on one thread: {len(files)} files",
        total,
        "CPU-s",
        baseline="the same parts as the three commands repeat them",
        baseline_value=commands,
        ratio=commands / total,
        note="; ".join(f"{part} {s:.2f}" for part, s in seconds.items())
        + "; no start-up, hashing or bookkeeping",
        extra={"parts_cpu_s": seconds, "times_in_the_commands": repeated},
    )


def _many_files(n: int, seconds: float) -> list[str]:
    """``n`` short distinct files (cached): the memory case is about the count, not the length."""
    import numpy as np

    folder = LIBRARY / f"many-{n}x{seconds:g}s"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(int(22050 * seconds)) / 22050
    paths = []
    for i in range(n):
        path = folder / f"{i:05d}.wav"
        if not path.exists():
            y = 0.2 * np.sin(2 * np.pi * (110 + i) * t) + 0.02 * rng.standard_normal(len(t))
            sf.write(path, y.astype("float32"), 22050, subtype="PCM_16")
        paths.append(str(path))
    return paths


def _long_file(hours: float) -> str:
    path = LIBRARY / f"long-{hours:g}h.wav"
    if not path.exists():
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from make_bad_files import _write_long

        LIBRARY.mkdir(parents=True, exist_ok=True)
        _write_long(path, hours * 3600)
    return str(path)


def _memory(name: str, files: list[str]) -> Record:
    with tempfile.TemporaryDirectory(prefix="musicedge-bench-") as tmp:
        wall, rss = _run(_analyze_command(files, Path(tmp) / "out"))
    return Record(
        SUITE,
        f"analyze peak memory: {name}",
        rss,
        "MiB",
        target="< 1024 MiB",
        note=f"peak RSS of the whole process (models, ONNX Runtime, Python) in {wall:.0f} s",
        extra={"wall_s": wall},
    )


def run(quick: bool = False) -> list[Record]:
    songs = [str(p) for p in library(6 if quick else 30, seconds=180.0)]
    repeats = 1 if quick else 5
    records = [
        _throughput("generated 3-minute songs", songs, repeats),
        _parts(songs),
        _throughput("generated 3-minute songs, models from a cache", songs, repeats, free_models=True),
    ]
    wesnoth = sorted(str(p) for p in WESNOTH.glob("*.ogg"))
    if wesnoth:
        records.append(
            _throughput("Debian's wesnoth music", wesnoth[:8] if quick else wesnoth, 1 if quick else 3)
        )
    else:
        print(
            f"analyze suite: no Ogg files in {WESNOTH} (apt-get install wesnoth-1.16-music): "
            "the wesnoth case is left out",
            file=sys.stderr,
        )
    records.append(
        _memory("2,000 files" if not quick else "200 files", _many_files(200 if quick else 2000, 5.0))
    )
    records.append(
        _memory(
            "one two-hour file" if not quick else "one 20-minute file", [_long_file(1 / 3 if quick else 2)]
        )
    )
    return records
