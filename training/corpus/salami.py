"""SALAMI annotation files: the raw ``textfile1.txt`` and its ``parsed/`` layers, as SALAMI v2.0 writes them.

Raw lines are ``time<TAB>label`` with times to nine decimals: a section's first phrase carries
``UPPER, lower, Function``, later phrases only ``lower``; silence is ``Silence`` and the last line ``End``.
The parsed layers list (time, label) per layer, times written as Python floats, as in the real data.
"""

from __future__ import annotations

import os

from .song import SongTruth


def _raw_time(t: float) -> str:
    return f"{t:.9f}"


def _parsed_time(t: float) -> str:
    return repr(float(_raw_time(t)))


def raw_annotation(truth: SongTruth) -> str:
    """The text of ``textfile1.txt`` for a song (no newline after ``End``, as in SALAMI)."""
    lines = []
    for sec in truth.sections:
        phrases = [p for p in truth.phrases if sec.start - 1e-9 <= p.start < sec.end - 1e-9]
        if sec.label == "silence":
            lines.append(f"{_raw_time(sec.start)}\tSilence")
            continue
        for k, ph in enumerate(phrases):
            text = f"{sec.letter}, {ph.label}, {sec.function}" if k == 0 else ph.label
            lines.append(f"{_raw_time(ph.start)}\t{text}")
    lines.append(f"{_raw_time(truth.duration)}\tEnd")
    return "\n".join(lines)


def parsed_layers(truth: SongTruth) -> dict[str, str]:
    """The three parsed layers: ``functions``, ``uppercase`` and ``lowercase`` (file suffix -> text)."""
    functions = [(s.start, s.function) for s in truth.sections]
    uppercase = [(s.start, s.letter) for s in truth.sections]
    lowercase = [(p.start, p.label) for p in truth.phrases]
    out = {}
    for name, rows in (("functions", functions), ("uppercase", uppercase), ("lowercase", lowercase)):
        rows = rows + [(truth.duration, "End")]
        out[name] = "\n".join(f"{_parsed_time(t)}\t{label}" for t, label in rows)
    return out


def write_annotations(truth: SongTruth, folder: str) -> list[str]:
    """Write ``folder/textfile1.txt`` and ``folder/parsed/textfile1_{layer}.txt``; return their paths."""
    os.makedirs(os.path.join(folder, "parsed"), exist_ok=True)
    paths = [os.path.join(folder, "textfile1.txt")]
    with open(paths[0], "w", encoding="utf-8", newline="\n") as f:
        f.write(raw_annotation(truth))
    for layer, text in parsed_layers(truth).items():
        path = os.path.join(folder, "parsed", f"textfile1_{layer}.txt")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        paths.append(path)
    return paths
