"""The measuring harness: warm-up, repeats, median and spread, ratios taken in the same run, and the
table, markdown, JSON and PNG reports.

A ratio is ``baseline time / our time``: how many times faster musicedge is than the baseline measured
right beside it, on the same input, threads and machine. Bare times on shared machines drift; ratios
measured together hold.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Timing:
    """Seconds per call over ``repeats`` calls after ``warmup`` calls."""

    median: float
    p25: float
    p75: float
    minimum: float
    repeats: int

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        return (self.p75 - self.p25) / self.median if self.median > 0 else 0.0


def measure(
    fn: Callable[[], object], *, warmup: int = 1, repeats: int = 7, min_seconds: float = 0.0
) -> Timing:
    """Call ``fn`` ``warmup`` times, then at least ``repeats`` times (more while under ``min_seconds``)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return timing_of(times)


def timing_of(times: list[float]) -> Timing:
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return Timing(statistics.median(times), q[0], q[2], min(times), len(times))


def cpu_model() -> str:
    """The processor's name (Linux), or the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Record:
    """One result, in the JSON shape of DESIGN.md plus the spread and a free note."""

    suite: str
    case: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    ratio: float | None = None
    spread: float | None = None
    target: str | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @classmethod
    def compared(cls, suite: str, case: str, ours: Timing, baseline: str, theirs: Timing, **kw) -> Record:
        return cls(
            suite,
            case,
            ours.median,
            "s",
            baseline,
            theirs.median,
            theirs.median / ours.median,
            spread=max(ours.spread, theirs.spread),
            **kw,
        )


def write_json(records: list[Record], path: str | Path) -> None:
    Path(path).write_text(json.dumps([asdict(r) for r in records], indent=2) + "\n")


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    if unit == "s":
        return f"{value * 1e3:.2f} ms" if value < 1 else f"{value:.3f} s"
    return f"{value:.3g} {unit}".strip()


def markdown_table(records: list[Record]) -> str:
    lines = [
        "| suite | case | musicedge | baseline | baseline time | ratio (x faster) | spread | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        spread = f"{100 * r.spread:.0f}%" if r.spread is not None else ""
        lines.append(
            f"| {r.suite} | {r.case} | {_fmt(r.value, r.unit)} | {r.baseline or ''} | "
            f"{_fmt(r.baseline_value, r.unit)} | {ratio} | {spread} | {r.target or ''} |"
        )
    return "\n".join(lines)


def write_markdown(records: list[Record], path: str | Path, *, header: str = "", command: str = "") -> None:
    parts = ["# musicedge benchmark", ""]
    if header:
        parts += [header, ""]
    if command:
        parts += ["Reproduce with:", "", "```", command, "```", ""]
    parts += [markdown_table(records), ""]
    notes = [f"- {r.case}: {r.note}" for r in records if r.note]
    if notes:
        parts += ["Notes:", "", *notes, ""]
    Path(path).write_text("\n".join(parts))


def plot(
    records: list[Record], path: str | Path, *, title: str = "musicedge: speed-up over baselines"
) -> None:
    """A horizontal bar per compared case: the ratio, log scale, with the break-even line."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in records if r.ratio is not None]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.5))
    labels = [f"{r.case}\nvs {r.baseline}" for r in rows]
    ratios = [r.ratio for r in rows]
    colors = ["tab:green" if x >= 1 else "tab:red" for x in ratios]
    ax.barh(range(len(rows)), ratios, color=colors)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ticks = matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}x")
    ax.xaxis.set_major_formatter(ticks)
    ax.xaxis.set_minor_locator(matplotlib.ticker.LogLocator(subs=(2.0, 5.0)))  # labels that fit
    ax.xaxis.set_minor_formatter(ticks)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.axvline(1.0, color="black", linewidth=0.8)
    for i, x in enumerate(ratios):
        ax.text(x, i, f" {x:.2f}x", va="center", fontsize=8)
    ax.set_xlabel("times faster than the baseline (median of repeats, same run)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")  # long case names would push the plot off the canvas
    plt.close(fig)
