"""Labelled time spans, and the SALAMI annotation format that ``musicedge eval segment`` reads (the
training package's SALAMI layout reader builds on the same parser).

The SALAMI layout: ``<root>/annotations/<id>/textfile{1,2}.txt`` (raw, one per annotator) and audio by id at
``<root>/audio/<id>.<wav|flac|ogg|mp3>``.

The raw textfiles are parsed here (the ``parsed/`` folder is not read). A raw line is
``<seconds>\\t<labels>``, labels separated by commas, and may mention any subset of three layers:

* uppercase letters (``A``, ``B'``, ``Z``): the large-scale sections;
* lowercase letters (``a``, ``b''``): the small-scale sections;
* functions (``Verse``, ``Pre-Chorus``, ``stage_sounds``...): any other word.

Rules, matching the official SALAMI parse (checked against the golden conversions in the tests):

* a layer's label lasts until that layer is given a label again (a repeated label starts a new segment);
* a line with an uppercase label but no function starts a ``no_function`` segment in the functions layer;
* ``Silence`` sets every layer to ``Silence``; ``End`` closes every layer (it must be the last line);
* before its first label a layer is ``silence`` (lowercase: the official parse's implicit label), from 0 s;
* lines at the same time: the later one wins (zero-length segments are dropped); several function labels on
  one line (``Instrumental, Solo``): the last one;
* ``(voice`` opens a lead-instrument span, ``voice)`` marks the last segment it covers (the span ends at the
  next line), ``(voice)`` covers one segment; a label glued to one (``coda (guitar)``) is split off.
  Inconsistent instrument markup (a span closed twice, re-opened, never closed) is kept and listed in
  :attr:`SalamiAnnotation.issues`, never fatal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import DataError

__all__ = [
    "FUNCTION_TAXONOMY",
    "LAYERS",
    "TAXONOMY",
    "TEXTFILE_PATTERN",
    "UNMAPPED_FUNCTIONS",
    "LAYOUT_AUDIO_EXTENSIONS",
    "SalamiAnnotation",
    "SalamiEntry",
    "Section",
    "function_to_taxonomy",
    "normalize_function_label",
    "parse_salami_text",
    "parse_salami_textfile",
    "salami_entries",
    "taxonomy_sections",
]


@dataclass(frozen=True)
class Section:
    """A labelled time span ``[start, end)`` in seconds."""

    start: float
    end: float
    label: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end) and self.start < self.end):
            raise ValueError(
                f"section needs finite start < end, got [{self.start}, {self.end}) {self.label!r}"
            )

    @property
    def duration(self) -> float:
        return self.end - self.start


LAYERS: tuple[str, ...] = ("functions", "uppercase", "lowercase")

#: Label the official parse gives a layer before its first annotated label.
IMPLICIT_SILENCE = "silence"
#: Label of a large-scale (uppercase) section that the annotator gave no function.
NO_FUNCTION = "no_function"

_UPPER = re.compile(r"^[A-Z]'*$")
_LOWER = re.compile(r"^[a-z]'*$")
_TIME_AND_LABELS = re.compile(r"^\s*(\S+)\s+(.*?)\s*$")
TEXTFILE_PATTERN = re.compile(r"^textfile(\d+)\.txt$")


@dataclass(frozen=True)
class SalamiAnnotation:
    """One annotator's parse of one raw textfile.

    ``layers`` maps ``functions``, ``uppercase``, ``lowercase`` to contiguous sections covering ``[0, end)``
    seconds; ``instruments`` holds the lead-instrument spans (they may overlap); ``end`` is the ``End`` time.
    """

    path: Path
    annotator: int | None
    layers: dict[str, tuple[Section, ...]]
    instruments: tuple[Section, ...]
    end: float
    issues: tuple[str, ...] = ()


@dataclass
class _Line:
    number: int
    time: float
    tokens: list[str] = field(default_factory=list)


def _layer_of(token: str) -> str:
    """``uppercase`` / ``lowercase`` for a letter with optional primes, else ``functions``."""
    if _UPPER.match(token):
        return "uppercase"
    return "lowercase" if _LOWER.match(token) else "functions"


def _split_tokens(text: str) -> list[str]:
    """Comma-separated labels, with an instrument mark glued to a label (``coda (guitar)``) split off."""
    tokens: list[str] = []
    for raw in text.split(","):
        token = raw.strip()
        if not token:
            continue
        cut = token.find("(")
        if cut > 0:
            tokens.extend(t for t in (token[:cut].strip(), token[cut:].strip()) if t)
        else:
            tokens.append(token)
    return tokens


def _read_lines(text: str, source: str) -> tuple[list[_Line], float]:
    """The labelled lines before ``End``, and the ``End`` time."""
    lines: list[_Line] = []
    end: float | None = None
    previous = 0.0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"{source}:{number}"
        if end is not None:
            raise DataError(f"{where}: line after End: {raw.strip()!r}")
        match = _TIME_AND_LABELS.match(raw)
        if match is None:
            raise DataError(f"{where}: expected '<seconds><tab><labels>', got {raw.strip()!r}")
        try:
            time = float(match.group(1))
        except ValueError:
            raise DataError(f"{where}: time {match.group(1)!r} is not a number") from None
        if not (time >= 0.0 and time != float("inf")):
            raise DataError(f"{where}: time {match.group(1)!r} is not a finite non-negative number")
        if time < previous:
            raise DataError(f"{where}: time {time} goes back before {previous}")
        previous = time
        tokens = _split_tokens(match.group(2))
        if not tokens:
            raise DataError(f"{where}: no label after the time")
        if any(t.lower() == "end" for t in tokens):
            if len(tokens) > 1:
                raise DataError(f"{where}: End shares its line with other labels: {tokens}")
            end = time
            lines.append(_Line(number, time))  # the End line: ends the last segment of every layer
            continue
        lines.append(_Line(number, time, tokens))
    if end is None:
        raise DataError(f"{source}: no End line")
    if len(lines) == 1:
        raise DataError(f"{source}: no labelled line before End")
    return lines, end


class _Spans:
    """Lead-instrument spans from ``(x`` / ``x)`` / ``(x)`` marks, with the inconsistencies met."""

    def __init__(self) -> None:
        self.spans: list[Section] = []
        self.open: dict[str, float] = {}
        self.issues: list[str] = []

    def _add(self, name: str, start: float, stop: float) -> None:
        if stop > start:
            self.spans.append(Section(start, stop, name))

    def mark(self, token: str, time: float, next_time: float, where: str) -> None:
        """Apply one mark of the line at ``time``; the segment it belongs to ends at ``next_time``."""
        name = token.strip("()").strip()
        if not name:
            raise DataError(f"{where}: empty instrument mark {token!r}")
        if token.startswith("(") and token.endswith(")"):
            self._add(name, time, next_time)
        elif token.startswith("("):
            if name in self.open:
                self.issues.append(f"{where}: '({name}' re-opened before being closed")
                self._add(name, self.open[name], time)
            self.open[name] = time
        elif name in self.open:
            self._add(name, self.open.pop(name), next_time)
        else:
            self.issues.append(f"{where}: '{name})' closes a span that was never opened")
            self._add(name, time, next_time)

    def close_all(self, end: float, source: str) -> tuple[Section, ...]:
        for name, start in self.open.items():
            self.issues.append(f"{source}: '({name}' opened at {start} s is never closed; closed at End")
            self._add(name, start, end)
        return tuple(sorted(self.spans, key=lambda s: (s.start, s.end, s.label)))


def parse_salami_text(text: str, *, source: str = "<text>", annotator: int | None = None) -> SalamiAnnotation:
    """Parse the text of a raw SALAMI textfile (the module docstring states the rules).

    ``source`` names the file in error messages. :class:`DataError` (naming ``source`` and the line) for a
    malformed line, times going backwards, a missing ``End`` or no positive-length segment.
    """
    lines, end = _read_lines(text, source)
    events: dict[str, list[tuple[float, str]]] = {name: [(0.0, IMPLICIT_SILENCE)] for name in LAYERS}
    spans = _Spans()
    issues: list[str] = []
    for index, line in enumerate(lines[:-1]):  # the last line is End
        where = f"{source}:{line.number}"
        labels: dict[str, str] = {}
        for token in line.tokens:
            if token.startswith("(") or token.endswith(")"):
                spans.mark(token, line.time, lines[index + 1].time, where)
            elif token.lower() == "silence":
                labels.update(dict.fromkeys(LAYERS, "Silence"))
            else:
                layer = _layer_of(token)
                if layer != "functions" and labels.get(layer, "Silence") != "Silence":
                    issues.append(f"{where}: two {layer} labels {labels[layer]!r}, {token!r}; kept the last")
                labels[layer] = token
        if "uppercase" in labels and "functions" not in labels:
            labels["functions"] = NO_FUNCTION
        for layer, label in labels.items():
            events[layer].append((line.time, label))
    instruments = spans.close_all(end, source)

    layers: dict[str, tuple[Section, ...]] = {}
    for layer, layer_events in events.items():
        bounds = [t for t, _ in layer_events[1:]] + [end]
        layers[layer] = tuple(
            Section(start, stop, label)
            for (start, label), stop in zip(layer_events, bounds, strict=True)
            if stop > start
        )
        if not layers[layer]:
            raise DataError(f"{source}: no segment of positive length (End at {end} s)")
    return SalamiAnnotation(Path(source), annotator, layers, instruments, end, tuple(issues + spans.issues))


def parse_salami_textfile(path: str | Path) -> SalamiAnnotation:
    """Parse one raw ``textfileN.txt``; the annotator number N comes from the name when it has that form."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: annotation file is missing") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read annotation ({exc})") from exc
    match = TEXTFILE_PATTERN.match(path.name)
    return parse_salami_text(text, source=str(path), annotator=int(match.group(1)) if match else None)


# ----------------------------------------------------------------------------------------------------
# Function labels -> the project's segmentation taxonomy

TAXONOMY: tuple[str, ...] = ("intro", "verse", "chorus", "bridge", "instrumental", "outro", "silence")

#: Normalised SALAMI function label (see :func:`normalize_function_label`) -> taxonomy class. Pre-sections
#: fold into the section they belong to as the field does (pre-chorus and pre-verse -> verse, post-chorus ->
#: chorus); a jazz head or a theme is the recurring main material, so chorus (as "theme" in Wang et al.,
#: ICASSP 2022); solo, interlude and break are instrumental; transition is bridge; coda is outro.
FUNCTION_TAXONOMY: dict[str, str] = {
    "intro": "intro",
    "count-in": "intro",
    "verse": "verse",
    "pre-verse": "verse",
    "pre-chorus": "verse",
    "build": "verse",
    "chorus": "chorus",
    "post-chorus": "chorus",
    "refrain": "chorus",
    "theme": "chorus",
    "main-theme": "chorus",
    "head": "chorus",
    "bridge": "bridge",
    "transition": "bridge",
    "instrumental": "instrumental",
    "solo": "instrumental",
    "interlude": "instrumental",
    "break": "instrumental",
    "outro": "outro",
    "coda": "outro",
    "fade-out": "outro",
    "silence": "silence",
}

_NOISE = "audience or stage noise: neither music nor silence, so no musical function fits"
#: Normalised labels deliberately left out of the taxonomy, with the reason.
UNMAPPED_FUNCTIONS: dict[str, str] = {
    "no-function": "the annotator gave this large-scale section no function",
    "applause": _NOISE,
    "crowd-sounds": _NOISE,
    "stage-sounds": _NOISE,
    "spoken": "speech between pieces, not a section of the music",
    "development": "classical sonata-form section with no popular-song counterpart",
    "exposition": "classical sonata-form section with no popular-song counterpart",
    "recapitulation": "classical sonata-form section with no popular-song counterpart",
    "variation": "classical form section with no popular-song counterpart",
}


def normalize_function_label(label: str) -> str:
    """Lower case, spaces and underscores as hyphens, primes dropped: ``Pre_Chorus'`` -> ``pre-chorus``."""
    return re.sub(r"[\s_]+", "-", label.strip().lower()).rstrip("'")


def function_to_taxonomy(label: str) -> str | None:
    """The taxonomy class of a SALAMI function label, ``None`` for a label in :data:`UNMAPPED_FUNCTIONS`.

    :class:`DataError` for a label in neither table, so a new label is never mapped by accident.
    """
    key = normalize_function_label(label)
    if key in FUNCTION_TAXONOMY:
        return FUNCTION_TAXONOMY[key]
    if key in UNMAPPED_FUNCTIONS:
        return None
    raise DataError(f"SALAMI function label {label!r} is neither mapped to {TAXONOMY} nor listed as unmapped")


def taxonomy_sections(sections: Iterable[Section], *, unmapped: str | None = None) -> tuple[Section, ...]:
    """Sections with function labels replaced by taxonomy classes.

    Sections whose label is unmapped are dropped (leaving a gap) when ``unmapped`` is ``None``, else
    relabelled ``unmapped``. Adjacent sections are not merged: their boundary stays.
    """
    out = []
    for s in sections:
        mapped = function_to_taxonomy(s.label)
        if mapped is None and unmapped is None:
            continue
        out.append(replace(s, label=mapped if mapped is not None else unmapped))
    return tuple(out)


# ----------------------------------------------------------------------------------------------------
# The folder

#: Extensions of a layout's audio files, in order of preference when one id has several (the training
#: package's layout readers recognise the same).
LAYOUT_AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".mp3")


@dataclass(frozen=True)
class SalamiEntry:
    """One song of a SALAMI folder: its raw textfiles by annotator number (possibly none) and its audio."""

    id: str
    folder: Path  # annotations/<id>
    textfiles: tuple[Path, ...]  # textfile<N>.txt, by N
    audio: Path | None  # audio/<id><ext>, the first of LAYOUT_AUDIO_EXTENSIONS present


def _numbers_first(path: Path) -> tuple[int, int | str]:
    return (0, int(path.name)) if path.name.isdigit() else (1, path.name)


def salami_entries(root: str | Path) -> list[SalamiEntry]:
    """The song folders of a SALAMI root (``annotations/<id>/``, hidden ones left out), numeric ids in
    number order first; :class:`DataError` when ``annotations/`` is missing."""
    root = Path(root)
    annotations = root / "annotations"
    if not annotations.is_dir():
        raise DataError(f"{annotations}: missing; a salami root holds annotations/<id>/textfile1.txt")
    folders = sorted(
        (p for p in annotations.iterdir() if p.is_dir() and not p.name.startswith(".")), key=_numbers_first
    )
    entries = []
    for folder in folders:
        textfiles = sorted(
            (p for p in folder.iterdir() if TEXTFILE_PATTERN.match(p.name)),
            key=lambda p: int(TEXTFILE_PATTERN.match(p.name).group(1)),
        )
        candidates = (root / "audio" / f"{folder.name}{ext}" for ext in LAYOUT_AUDIO_EXTENSIONS)
        audio = next((p for p in candidates if p.is_file()), None)
        entries.append(SalamiEntry(folder.name, folder, tuple(textfiles), audio))
    return entries
