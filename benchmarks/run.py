"""Run benchmark suites and write their reports (what ``musicedge bench`` calls)."""

from __future__ import annotations

import importlib
import os
import platform
import sys
from pathlib import Path

from .harness import Record, cpu_model, markdown_table, plot, write_json, write_markdown

#: suite name -> module with ``run(quick) -> list[Record]``
SUITES = {
    "frontend": "benchmarks.frontend",
    "inference": "benchmarks.inference",
    "pipeline": "benchmarks.pipeline",
    "streaming": "benchmarks.streaming",
    "segment": "benchmarks.segment",
    "retrieval": "benchmarks.retrieval",
    "analyze": "benchmarks.analyze",
}


def run_suites(
    names: list[str],
    *,
    quick: bool = False,
    json_path: str | Path | None = None,
    report_path: str | Path | None = None,
    plot_path: str | Path | None = None,
    command: str = "",
) -> list[Record]:
    records: list[Record] = []
    for name in names:
        print(f"running suite {name}{' (quick)' if quick else ''} ...", file=sys.stderr, flush=True)
        records += importlib.import_module(SUITES[name]).run(quick=quick)
    print(markdown_table(records))
    if json_path:
        write_json(records, json_path)
    if report_path:
        import musicedge._native as native

        header = (
            f"Measured on {cpu_model()} ({os.cpu_count()} cores), "
            f"Python {platform.python_version()}, "
            f"native build: {native.build_info['build_flags']}, SIMD {native.build_info['simd']}. "
            "Ratios are baseline time / musicedge time, both measured in the same run, single-threaded."
        )
        write_markdown(records, report_path, header=header, command=command)
        if plot_path is None:
            plot_path = Path(report_path).with_suffix(".png")
    if plot_path:
        plot(records, plot_path)
    return records
