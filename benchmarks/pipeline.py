"""Pipeline suite: ``musicedge classify`` over a generated library against a plain librosa + PyTorch
eager script (benchmarks/plain_classify.py) doing the same work, both as fresh processes on the same
cores. Needs the bundled ``genre`` model (``python -m training.bundle``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from .harness import Record, timing_of

SUITE = "pipeline"
LIBRARY = Path(os.environ.get("MUSICEDGE_BENCH_DATA", "out/bench-data"))


def library(tracks: int, seconds: float = 30.0) -> list[Path]:
    """Generated 44.1 kHz songs (cached): both pipelines decode and resample them to the model's rate."""
    folder = LIBRARY / f"library-{tracks}x{seconds:g}s"
    if not (folder / "corpus.json").exists():
        from training.corpus import write_layout

        write_layout(
            "gtzan", folder, tracks=tracks, seconds=seconds, seed=7, sample_rate=44100, progress=False
        )
    return sorted(folder.rglob("*.wav"))


def _timed(command: list[str], env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def run(quick: bool = False) -> list[Record]:
    from musicedge.models import available

    models = available()
    if "genre" not in models:
        return [
            Record(
                SUITE,
                "classify throughput",
                float("nan"),
                "s",
                note="skipped: no bundled genre model (python -m training.bundle genre)",
            )
        ]
    files = library(20 if quick else 200)
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    audio_seconds = 30.0 * len(files)
    ours = _timed(
        [
            sys.executable,
            "-m",
            "musicedge",
            "classify",
            *map(str, files),
            "-m",
            "genre",
            "-f",
            "jsonl",
            "-j",
            "2",
        ],
        env,
    )
    theirs = _timed(
        [sys.executable, "-m", "benchmarks.plain_classify", str(models["genre"]), *map(str, files)], env
    )
    record = Record.compared(
        SUITE,
        f"classify {len(files)} files x 30 s (genre model)",
        timing_of([ours]),
        "librosa + PyTorch eager",
        timing_of([theirs]),
        target=">= 5x",
        note=f"{audio_seconds / ours:.0f}x real time; process start-up included on both sides",
    )
    return [record]
