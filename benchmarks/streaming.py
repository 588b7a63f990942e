"""Streaming suite: live classification as a desktop app runs it, on one thread.

Per bundled classifier: the time of each ``accept_waveform`` call that is fed 0.5 s of audio (one
update: mel frames, the latest window through the model, any offline window just completed), p50 and
p99 over a stream; and the process's resident memory along a one-hour stream (flat: nothing grows
with the stream's length).
"""

from __future__ import annotations

import os
import time

from .harness import Record, percentile
from .signals import music_like

SUITE = "streaming"
MODELS = ("genre", "mood")


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _latency(name: str, seconds: float) -> Record:
    from musicedge.classify import Classifier

    classifier = Classifier.load(name, threads=1)
    sr = classifier.sample_rate
    y = music_like(sr, seconds, seed=3)
    hop = sr // 2
    latencies: list[float] = []
    for rep in range(2):  # the first pass warms up
        with classifier.create_stream(update_seconds=0.5) as stream:
            for start in range(0, len(y), hop):
                t0 = time.perf_counter()
                stream.accept_waveform(y[start : start + hop])
                if rep:
                    latencies.append(time.perf_counter() - t0)
            stream.input_finished()
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return Record(
        SUITE,
        f"stream {name}: p99 per 0.5 s hop, one thread",
        p99 * 1e3,
        "ms",
        target="< 5 ms",
        note=f"p50 {p50 * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms over {len(latencies)} hops "
        f"(window {classifier.spec.window_frames} frames, {classifier.spec.frontend.sample_rate} Hz)",
        extra={"p50_ms": p50 * 1e3, "p99_ms": p99 * 1e3},
    )


def _memory(name: str, hours: float) -> Record:
    from musicedge.classify import Classifier

    classifier = Classifier.load(name, threads=1)
    sr = classifier.sample_rate
    minute = music_like(sr, 60.0, seed=4)  # one minute, fed over and over
    hop = sr // 2
    minutes = round(hours * 60)
    samples: list[float] = []
    with classifier.create_stream(update_seconds=0.5) as stream:
        for m in range(minutes):
            for start in range(0, len(minute), hop):
                stream.accept_waveform(minute[start : start + hop])
            if m in (0, minutes // 4, minutes // 2, 3 * minutes // 4, minutes - 1):
                samples.append(_rss_mib())
        stream.input_finished()
    growth = samples[-1] - samples[0]
    return Record(
        SUITE,
        f"stream {name}: resident memory growth over {minutes} min",
        growth,
        "MiB",
        target="flat (< 5 MiB)",
        note="RSS at 1 min, 1/4, 1/2, 3/4 and the end: " + ", ".join(f"{v:.1f}" for v in samples) + " MiB",
        extra={"rss_mib": samples},
    )


def run(quick: bool = False) -> list[Record]:
    seconds = 30.0 if quick else 300.0
    hours = 0.1 if quick else 1.0
    records = [_latency(name, seconds) for name in MODELS]
    records.append(_memory(MODELS[0], hours))
    return records
