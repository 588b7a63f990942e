"""Result writers for the command line: a human table, JSON lines, CSV. Records are the JSON dicts of
DESIGN.md; a failed input is ``{"path", "error": {"type", "message"}}``. Rows are written as they come,
so a long batch shows progress in its output file too."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import IO, Any

FORMATS = ("table", "jsonl", "csv")


def error_record(path: str, exc: BaseException) -> dict[str, Any]:
    return {"path": path, "error": {"type": type(exc).__name__, "message": str(exc)}}


class RecordWriter:
    """Writes records of one kind (``classify`` or ``segment``) in one format to an open text stream.

    ``segment`` records: one table block per track (a line per segment), one CSV row per segment. The
    per-track formats of ``musicedge segment`` (MIREX ``.lab``, JAMS) are written by the command itself,
    one file per track (:func:`musicedge.segment.to_lab`, :func:`musicedge.segment.to_jams`)."""

    def __init__(self, stream: IO[str], fmt: str, kind: str) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.stream, self.fmt, self.kind = stream, fmt, kind
        self._csv = csv.writer(stream) if fmt == "csv" else None
        self._started = False
        self._rows: Callable[[dict], list[list[Any]]] = _CSV_ROWS[kind]

    def write(self, record: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt == "csv":
            if not self._started:
                self._csv.writerow(_CSV_HEADERS[self.kind])
            self._csv.writerows(self._rows(record))
        else:
            self.stream.write(_TABLE_LINES[self.kind](record) + "\n")
        self._started = True
        self.stream.flush()


def _classify_rows(record: dict) -> list[list[Any]]:
    if "error" in record:
        return [[record["path"], "", "", "", "", "", record["error"]["type"], record["error"]["message"]]]
    rows = [
        [record["path"], record["duration_s"], record["model"], rank, p["label"], p["score"], "", ""]
        for rank, p in enumerate(record["predictions"], start=1)
    ]
    return rows or [[record["path"], record["duration_s"], record["model"], "", "", "", "", ""]]


def _classify_line(record: dict) -> str:
    if "error" in record:
        return f"{record['path']}  ERROR {record['error']['type']}: {record['error']['message']}"
    preds = (
        ", ".join(f"{p['label']} {p['score']:.2f}" for p in record["predictions"])
        or "(no tag over threshold)"
    )
    return f"{record['path']}  [{record['duration_s']:.1f} s]  {preds}"


def _segment_rows(record: dict) -> list[list[Any]]:
    if "error" in record:
        return [
            [record["path"], "", "", "", "", "", "", "", record["error"]["type"], record["error"]["message"]]
        ]
    head = [record["path"], record["duration_s"], record["model"]]
    return [
        [*head, i, s["start"], s["end"], s["label"], s["confidence"], "", ""]
        for i, s in enumerate(record["segments"], start=1)
    ]


def _segment_line(record: dict) -> str:
    if "error" in record:
        return f"{record['path']}  ERROR {record['error']['type']}: {record['error']['message']}"
    n = len(record["segments"])
    lines = [f"{record['path']}  [{record['duration_s']:.1f} s]  {n} segment{'s' if n != 1 else ''}"]
    lines += [
        f"  {s['start']:9.3f} {s['end']:9.3f}  {s['label']:<13} {s['confidence']:.2f}"
        for s in record["segments"]
    ]
    return "\n".join(lines)


_CSV_HEADERS = {
    "classify": ["path", "duration_s", "model", "rank", "label", "score", "error_type", "error_message"],
    "segment": [
        "path",
        "duration_s",
        "model",
        "index",
        "start",
        "end",
        "label",
        "confidence",
        "error_type",
        "error_message",
    ],
}
_CSV_ROWS = {"classify": _classify_rows, "segment": _segment_rows}
_TABLE_LINES = {"classify": _classify_line, "segment": _segment_line}


def _query_rows(record: dict) -> list[list[Any]]:
    if "error" in record:
        return [[record["path"], "", "", "", "", "", record["error"]["type"], record["error"]["message"]]]
    rows = [
        [record["path"], rank, m["track"], m["offset_s"], m["score"], record["latency_ms"], "", ""]
        for rank, m in enumerate(record["matches"], start=1)
    ]
    return rows or [[record["path"], "", "", "", "", record["latency_ms"], "", ""]]


def _query_line(record: dict) -> str:
    if "error" in record:
        return f"{record['path']}  ERROR {record['error']['type']}: {record['error']['message']}"
    found = (
        "; ".join(  # + 0.0: no "-0.00" for an offset a hair below zero
            f"{m['track']} @ {round(m['offset_s'], 2) + 0.0:.2f} s ({m['score']:.2f})"
            for m in record["matches"]
        )
        or "(no match)"
    )
    return f"{record['path']}  [{record['latency_ms']:.1f} ms]  {found}"


_CSV_HEADERS["query"] = [
    "path",
    "rank",
    "track",
    "offset_s",
    "score",
    "latency_ms",
    "error_type",
    "error_message",
]
_CSV_ROWS["query"] = _query_rows
_TABLE_LINES["query"] = _query_line
