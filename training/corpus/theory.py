"""Keys, scales and chords: roman-numeral progressions turned into pitch classes and voicings."""

from __future__ import annotations

import re
from dataclasses import dataclass

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MODES = ("major", "minor")

SCALES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}

_DEGREES = {"I": 0, "II": 2, "III": 4, "IV": 5, "V": 7, "VI": 9, "VII": 11}
_NUMERAL = re.compile(r"^(b|#)?(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(o|\+)?(.*)$")
# suffix -> intervals added to (or replacing) the triad; "7" depends on the triad quality
_SUFFIXES = ("", "7", "maj7", "9", "maj9", "add9", "6", "sus2", "sus4", "5", "13", "7b9", "m7b5")


@dataclass(frozen=True)
class Chord:
    """A chord: root pitch class (0 = C), intervals above the root, and its names."""

    root: int
    intervals: tuple[int, ...]
    numeral: str
    symbol: str

    @property
    def pitch_classes(self) -> tuple[int, ...]:
        return tuple((self.root + i) % 12 for i in self.intervals)

    @property
    def is_minor(self) -> bool:
        return 3 in self.intervals and 4 not in self.intervals


def key_name(tonic: int, mode: str) -> str:
    """``"A minor"`` style name of a key."""
    return f"{NOTE_NAMES[tonic % 12]} {mode}"


def parse_numeral(numeral: str, tonic: int) -> Chord:
    """The chord a roman numeral names in the key whose tonic pitch class is ``tonic``.

    Upper case is a major triad, lower case minor, ``o`` diminished, ``+`` augmented; ``b``/``#`` move
    the root a semitone; suffixes: 7 (dominant on major, minor seventh on minor), maj7, 9, maj9, add9,
    6, sus2, sus4, 5 (power chord), 13, 7b9, m7b5.
    """
    match = _NUMERAL.match(numeral)
    if not match or match.group(4) not in _SUFFIXES:
        raise ValueError(f"cannot parse chord numeral {numeral!r}")
    accidental, degree, alteration, suffix = match.groups()
    root = (tonic + _DEGREES[degree.upper()] + {"b": -1, "#": 1, None: 0}[accidental]) % 12
    minor = degree.islower()
    third, fifth = (3 if minor else 4), 7
    if alteration == "o":
        third, fifth = 3, 6
    elif alteration == "+":
        third, fifth = 4, 8
    seventh = 10 if alteration != "o" else 9
    intervals: tuple[int, ...] = (0, third, fifth)
    quality = "m" if minor and alteration is None else {"o": "dim", "+": "aug", None: ""}[alteration]
    if suffix == "7":
        intervals += (seventh,)
    elif suffix == "maj7":
        intervals += (11,)
    elif suffix == "9":
        intervals += (seventh, 14)
    elif suffix == "maj9":
        intervals += (11, 14)
    elif suffix == "add9":
        intervals += (14,)
    elif suffix == "6":
        intervals += (9,)
    elif suffix == "sus2":
        intervals, quality = (0, 2, 7), ""
    elif suffix == "sus4":
        intervals, quality = (0, 5, 7), ""
    elif suffix == "5":
        intervals, quality = (0, 7), ""
    elif suffix == "13":
        intervals += (seventh, 14, 21)
    elif suffix == "7b9":
        intervals += (seventh, 13)
    elif suffix == "m7b5":
        intervals, quality, suffix = (0, 3, 6, 10), "m7b5", ""
    symbol = f"{NOTE_NAMES[root]}{quality}{suffix}"
    return Chord(root, intervals, numeral, symbol)


def parse_progression(text: str, tonic: int) -> list[list[Chord]]:
    """Bars separated by ``|``, chords within a bar by spaces: ``"I | V | vi IV"`` -> 3 bars."""
    bars = [bar.split() for bar in text.split("|")]
    if not bars or any(not bar for bar in bars):
        raise ValueError(f"empty bar in progression {text!r}")
    return [[parse_numeral(n, tonic) for n in bar] for bar in bars]


def scale_pitches(tonic: int, scale: str, low: int, high: int) -> list[int]:
    """All MIDI pitches of ``scale`` on ``tonic`` between ``low`` and ``high`` inclusive."""
    steps = SCALES[scale]
    return [p for p in range(low, high + 1) if (p - tonic) % 12 in steps]


def nearest_pitch(pitch_classes: tuple[int, ...] | list[int], target: float, low: int, high: int) -> int:
    """The MIDI pitch with one of ``pitch_classes`` closest to ``target`` within ``[low, high]``."""
    candidates = [p for p in range(low, high + 1) if p % 12 in pitch_classes]
    if not candidates:
        raise ValueError(f"no pitch of {pitch_classes} between {low} and {high}")
    return min(candidates, key=lambda p: (abs(p - target), p))


def voice_chord(
    chord: Chord, center: float, previous: tuple[int, ...] | None = None, size: int = 4, spread: int = 12
) -> tuple[int, ...]:
    """A close voicing of ``chord`` of ``size`` notes around ``center``, moving little from ``previous``.

    The candidates are the inversions of the chord's tones (extensions included, doubled roots when
    ``size`` exceeds the chord) within ``spread`` semitones; the best is the one whose notes are nearest
    to the previous voicing (or to ``center`` when there is none).
    """
    tones = list(chord.intervals)
    while len(tones) < size:
        tones.append(tones[len(tones) % len(chord.intervals)] + 12)
    tones = tones[:size]
    best: tuple[int, ...] | None = None
    best_cost = float("inf")
    base = int(round(center)) - 12
    for start in range(base, base + 24):
        for rotation in range(len(tones)):
            pcs = [(chord.root + t) % 12 for t in tones[rotation:] + tones[:rotation]]
            if pcs[0] != start % 12:
                continue
            voicing = [start]
            for pc in pcs[1:]:
                nxt = voicing[-1] + 1
                while nxt % 12 != pc:
                    nxt += 1
                voicing.append(nxt)
            if voicing[-1] - voicing[0] > spread:
                continue
            mean = sum(voicing) / len(voicing)
            cost = abs(mean - center) * 0.5
            if previous:
                cost += sum(min(abs(v - p) for p in previous) for v in voicing) / len(voicing)
            if cost < best_cost:
                best, best_cost = tuple(voicing), cost
    if best is None:  # too wide for the spread: fall back to stacking from the root
        root = nearest_pitch((chord.root,), center - 6, 0, 127)
        best = tuple(root + t for t in tones)
    return best
