"""Lead melodies built from motifs over the chords, their variations, and improvised solos.

A section's melody is a statement phrase and an answer phrase (one progression cycle each, at least four
bars). Each bar plays a one-bar rhythm cell with a contour in scale steps; bars that share a cell share
their shape, transposed to fit their chord, so a melody repeats recognisably. Statements end open (on
the third or fifth), answers close on the tonic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .theory import SCALES, Chord, nearest_pitch


@dataclass(frozen=True)
class MelNote:
    """A melody note: start and duration in beats from the phrase start; ``bend``: slide up from below."""

    start: float
    dur: float
    pitch: int
    vel: int
    bend: float = 0.0
    straight: bool = False  # keep off swing (triplets)


@dataclass(frozen=True)
class Cell:
    """A one-bar rhythm with a contour: (onset, duration, scale steps from the previous note)."""

    notes: tuple[tuple[float, float, int], ...]


_MOVES = (-3, -2, -1, 0, 1, 2, 3)  # scale steps between notes of a cell, stepwise motion most likely
_MOVE_ODDS = (0.08, 0.08, 0.22, 0.1, 0.3, 0.15, 0.07)


def _scale_degrees(tonic: int, scale: str, low: int, high: int) -> list[int]:
    steps = SCALES[scale]
    return [p for p in range(low, high + 1) if (p - tonic) % 12 in steps]


def make_cell(meter: int, density: float, rng: np.random.Generator, fine: bool = False) -> Cell:
    """A random rhythm cell of about ``density`` notes per beat on an eighth (or sixteenth) grid."""
    step = 0.25 if fine else 0.5
    slots = int(meter / step)
    onsets = []
    for i in range(slots):
        pos = i * step
        strong = pos % 1 == 0
        p = min(0.95, density * step * (1.5 if strong else 0.75))
        if i == 0:
            p = 0.8
        if rng.random() < p:
            onsets.append(pos)
    if len(onsets) < 2:
        onsets = sorted({0.0, float(int(meter / 2))} | set(onsets))
    notes = []
    for k, on in enumerate(onsets):
        end = onsets[k + 1] if k + 1 < len(onsets) else meter
        dur = (end - on) * (0.92 if rng.random() < 0.8 else 0.5)
        move = int(rng.choice(_MOVES, p=_MOVE_ODDS))
        notes.append((on, dur, move))
    return Cell(tuple(notes))


def _bar_chord_at(bar_chords: list[tuple[float, float, Chord]], at: float) -> Chord:
    for off, length, chord in bar_chords:
        if off <= at < off + length:
            return chord
    return bar_chords[-1][2]


def compose_phrase(
    bars: list[list[tuple[float, float, Chord]]],
    meter: int,
    tonic: int,
    scale: str,
    center: int,
    cells: list[Cell],
    closing: bool,
    rng: np.random.Generator,
) -> list[MelNote]:
    """One phrase over ``bars`` (each a list of (offset, length, chord)), reusing ``cells`` by bar position.

    ``cells`` are cycled over the bars (A A B A, or as given); the last bar holds a long final note,
    the tonic when ``closing``, else a chord tone that leaves the phrase open.
    """
    low, high = center - 8, center + 10
    scale_notes = _scale_degrees(tonic, scale, low - 2, high + 2)
    notes: list[MelNote] = []
    pitch = nearest_pitch(bars[0][0][2].pitch_classes, center, low, high)
    n = len(bars)
    for b, bar in enumerate(bars):
        t0 = b * meter
        if b == n - 1:
            # cadence: a pickup then a long note from the downbeat
            chord = _bar_chord_at(bar, 0)
            if closing:
                target = nearest_pitch((tonic,), pitch, low, high)
            else:
                target = nearest_pitch(
                    tuple(pc for pc in chord.pitch_classes if pc != chord.root) or chord.pitch_classes,
                    pitch,
                    low,
                    high,
                )
            if rng.random() < 0.6 and notes:
                notes = [n for n in notes if n.start < t0 - 0.5 - 1e-9]
                if notes and notes[-1].start + notes[-1].dur > t0 - 0.5:
                    notes[-1] = replace(notes[-1], dur=t0 - 0.5 - notes[-1].start - 0.02)
                notes.append(MelNote(t0 - 0.5, 0.45, _step(scale_notes, target, 1), 80))
            notes.append(MelNote(t0, meter * (0.85 if closing else 0.6), target, 90))
            pitch = target
            continue
        cell = cells[b % len(cells)]
        # anchor each bar on a chord tone near where the melody is, so repeated cells keep their shape
        chord = _bar_chord_at(bar, cell.notes[0][0])
        pitch = nearest_pitch(chord.pitch_classes, pitch + cell.notes[0][2] * 1.5, low, high)
        for k, (on, dur, move) in enumerate(cell.notes):
            if k > 0:
                pitch = _step(scale_notes, pitch, move)
                chord = _bar_chord_at(bar, on)
                if on % 1 == 0 and pitch % 12 not in chord.pitch_classes and rng.random() < 0.7:
                    pitch = nearest_pitch(chord.pitch_classes, pitch, low, high)
            if not low <= pitch <= high:
                pitch = _fit(scale_notes, pitch, low, high)
            vel = 92 if on == 0 else 84 if on % 1 == 0 else 74
            notes.append(MelNote(t0 + on, dur, pitch, vel))
    return [n_ for n_ in notes if n_.start >= 0]


def _step(scale_notes: list[int], pitch: int, move: int) -> int:
    """``pitch`` moved ``move`` scale steps (snapped to the scale first)."""
    idx = min(range(len(scale_notes)), key=lambda i: (abs(scale_notes[i] - pitch), i))
    return scale_notes[max(0, min(len(scale_notes) - 1, idx + move))]


def _fit(scale_notes: list[int], pitch: int, low: int, high: int) -> int:
    """The scale note within [low, high] nearest to ``pitch``."""
    inside = [p for p in scale_notes if low <= p <= high] or scale_notes
    return min(inside, key=lambda p: (abs(p - pitch), p))


def vary(
    notes: list[MelNote], tonic: int, scale: str, amount: float, rng: np.random.Generator
) -> list[MelNote]:
    """A variation for a repeated section: some notes moved a scale step, a few dropped or split in two."""
    if amount <= 0 or not notes:
        return list(notes)
    scale_notes = _scale_degrees(tonic, scale, 30, 100)
    out: list[MelNote] = []
    for i, note in enumerate(notes):
        last = i == len(notes) - 1
        r = rng.random()
        if not last and r < amount * 0.5:
            out.append(replace(note, pitch=_step(scale_notes, note.pitch, int(rng.choice([-1, 1])))))
        elif not last and i > 0 and r < amount * 0.65:
            continue
        elif note.dur >= 0.9 and r < amount * 0.85:
            half = note.dur / 2
            out += [
                replace(note, dur=half * 0.9),
                replace(
                    note,
                    start=note.start + half,
                    dur=half * 0.9,
                    pitch=_step(scale_notes, note.pitch, 1),
                    vel=note.vel - 8,
                ),
            ]
        else:
            out.append(note)
    return out


def add_bends(notes: list[MelNote], share: float, rng: np.random.Generator) -> list[MelNote]:
    """Blue notes: a ``share`` of the longer notes slide up into pitch from a semitone or two below."""
    return [
        replace(n, bend=float(rng.choice([1.0, 2.0]))) if n.dur >= 0.4 and rng.random() < share else n
        for n in notes
    ]


def compose_solo(
    bars: list[list[tuple[float, float, Chord]]],
    meter: int,
    tonic: int,
    scale: str,
    center: int,
    density: float,
    rng: np.random.Generator,
) -> list[MelNote]:
    """An improvised solo: runs of eighths, sixteenths and triplets on ``scale``, chord tones on downbeats."""
    low, high = center - 12, center + 14
    scale_notes = _scale_degrees(tonic, scale, low, high)
    notes: list[MelNote] = []
    pitch = nearest_pitch(bars[0][0][2].pitch_classes, center, low, high)
    direction = 1
    for b, bar in enumerate(bars):
        t0 = b * meter
        beat = 0.0
        while beat < meter - 1e-9:
            r = rng.random()
            if r < 0.12:  # a held note
                length = float(min(meter - beat, rng.choice([1.0, 1.5, 2.0])))
                grid = [length]
            elif r < 0.2:  # a breath
                beat += 1.0
                continue
            elif density > 1.2 and r < 0.5:
                grid = [0.25] * 4
            elif r < 0.65:
                grid = [1 / 3] * 3
            else:
                grid = [0.5, 0.5]
            for length in grid:
                if beat >= meter - 1e-9:
                    break
                if rng.random() < 0.25:
                    direction = -direction
                pitch = _step(scale_notes, pitch, direction * int(rng.choice([1, 1, 1, 2])))
                if pitch >= high - 1 or pitch <= low + 1:
                    direction = -1 if pitch >= high - 1 else 1
                if beat % 1 == 0:
                    chord = _bar_chord_at(bar, beat)
                    pitch = nearest_pitch(chord.pitch_classes, pitch, low, high)
                vel = int(88 + rng.integers(-10, 14)) if beat % 1 == 0 else int(76 + rng.integers(-10, 10))
                notes.append(MelNote(t0 + beat, length * 0.9, pitch, vel, straight=len(grid) == 3))
                beat += length
    return notes
