"""Accompaniment patterns: what the bass, comping and keys parts play in one bar over its chords.

Each pattern is a function ``(bar, state) -> list[(offset, duration, pitch, velocity)]`` with offsets
and durations in beats from the start of the bar. ``bar.variant`` is drawn once per section material
so that a pattern repeats the same figure within a section and differs between sections.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .theory import Chord, nearest_pitch, voice_chord

Hit = tuple[float, float, int, int]

BASS_RANGE = (28, 52)


@dataclass
class Bar:
    """One bar to accompany: its chords as (offset, length, chord) and the context a pattern needs."""

    chords: list[tuple[float, float, Chord]]
    meter: int
    next_root: int  # pitch class of the first chord of the next bar
    energy: float  # 0..1, the section's
    variant: int  # figure choice, fixed per section material
    rng: np.random.Generator
    last: bool = False  # last bar of the section


def _root(chord: Chord, target: float = 38) -> int:
    return nearest_pitch((chord.root,), target, *BASS_RANGE)


def _fifth(root: int) -> int:
    return root + 7 if root + 7 <= BASS_RANGE[1] else root - 5


def _third(chord: Chord) -> int:
    return 3 if chord.is_minor else 4


# -- bass ------------------------------------------------------------------------------------------------


def bass_root_whole(bar: Bar, state: dict) -> list[Hit]:
    return [(off, length * 0.95, _root(c), 92) for off, length, c in bar.chords]


def bass_root_fifth(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        root = _root(c)
        if bar.meter == 3:
            hits.append((off, min(length, 1.0) * 0.9, root, 96))
            continue
        hits.append((off, min(length, 2) * 0.9, root, 98))
        if length >= 2:
            alt = _fifth(root) if state.get("flip", 0) % 2 == 0 else root - 5 if root - 5 >= 28 else root + 7
            hits.append((off + 2, min(length - 2, 2) * 0.9, alt, 88))
        state["flip"] = state.get("flip", 0) + 1
    return hits


def bass_eighths(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        root = _root(c, 36)
        n = int(length * 2)
        for i in range(n):
            pitch = root
            if bar.variant % 2 == 1 and i == n - 1 and length >= 2:
                pitch = root + 12 if root + 12 <= 55 else _fifth(root)
            hits.append((off + i * 0.5, 0.45, pitch, 100 if i % 2 == 0 else 86))
    return hits


def bass_octaves(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        root = _root(c, 34)
        for i in range(int(length * 2)):
            up = i % 2 == 1
            hits.append((off + i * 0.5, 0.3 if up else 0.4, root + 12 if up else root, 92 if up else 104))
    return hits


def bass_walking(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    prev = state.get("prev", None)
    for k, (off, length, c) in enumerate(bar.chords):
        root = _root(c, prev if prev is not None else 38)
        beats = int(length)
        next_pc = bar.chords[k + 1][2].root if k + 1 < len(bar.chords) else bar.next_root
        tones = [root, root + _third(c), root + 7, root + 12, root + (10 if 10 in c.intervals else 9)]
        pitch = root
        for b in range(beats):
            if b == 0:
                pitch = root
            elif b == beats - 1:  # chromatic approach to the next root
                target = nearest_pitch((next_pc,), pitch, *BASS_RANGE)
                pitch = target + (1 if bar.rng.random() < 0.5 else -1)
            else:
                choices = [t for t in tones if t != pitch and abs(t - pitch) <= 7]
                pitch = int(bar.rng.choice(choices)) if choices else root + 7
            pitch = max(BASS_RANGE[0], min(BASS_RANGE[1] + 2, pitch))
            hits.append((off + b, 0.9, pitch, 90 if b % 2 == 0 else 82))
        prev = pitch
    state["prev"] = prev
    return hits


def bass_boogie(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        root = _root(c, 36)
        steps = (
            [0, _third(c), 7, 9, 10, 9, 7, _third(c)] if bar.variant % 2 == 0 else [0, 0, 7, 7, 9, 9, 7, 7]
        )
        for i in range(int(length * 2)):
            hits.append((off + i * 0.5, 0.45, root + steps[i % 8], 96 if i % 2 == 0 else 80))
    return hits


_REGGAE_FIGURES = (
    [(0.5, 0, 0.45), (1.0, 0, 0.9), (2.0, 7, 0.45), (2.5, 12, 0.45), (3.0, 3, 0.45), (3.5, 7, 0.45)],
    [(0.0, 0, 0.9), (1.5, 0, 0.45), (2.0, 7, 0.9), (3.0, 10, 0.45), (3.5, 7, 0.45)],
    [(0.5, 0, 0.45), (0.75, 0, 0.7), (2.0, 12, 0.45), (2.5, 7, 0.45), (3.0, 5, 0.9)],
)


def bass_reggae(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    figure = _REGGAE_FIGURES[bar.variant % len(_REGGAE_FIGURES)]
    for off, length, c in bar.chords:
        root = _root(c, 36)
        for at, interval, dur in figure:
            if at < length:
                step = _third(c) if interval == 3 else interval
                hits.append((off + at, dur, root + step, 100 if at in (0.0, 1.0, 2.0) else 88))
    return hits


_HIPHOP_FIGURES = (
    [(0.0, 1.4), (1.5, 0.9), (2.5, 1.4)],
    [(0.0, 2.4), (2.75, 1.2)],
    [(0.0, 0.7), (0.75, 1.2), (2.5, 1.4)],
)


def bass_hiphop(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    figure = _HIPHOP_FIGURES[bar.variant % len(_HIPHOP_FIGURES)]
    for off, length, c in bar.chords:
        root = _root(c, 33)
        for at, dur in figure:
            if at < length:
                hits.append((off + at, min(dur, length - at), root, 104))
    return hits


_POP_FIGURES = ([0.0, 1.5, 2.0, 3.0, 3.5], [0.0, 0.75, 1.5, 2.5, 3.0], [0.0, 2.0, 2.5, 3.5])


def bass_pop(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    figure = _POP_FIGURES[bar.variant % len(_POP_FIGURES)]
    for off, length, c in bar.chords:
        root = _root(c, 36)
        ats = [a for a in figure if a < length]
        for i, at in enumerate(ats):
            end = ats[i + 1] if i + 1 < len(ats) else length
            pitch = root + 12 if (i == len(ats) - 1 and bar.variant == 2 and root + 12 <= 55) else root
            hits.append((off + at, (end - at) * 0.85, pitch, 100 if at == 0 else 88))
    return hits


# -- comping -----------------------------------------------------------------------------------------------


def _voicing(state: dict, c: Chord, center: float, size: int = 4, spread: int = 12) -> tuple[int, ...]:
    voicing = voice_chord(c, center, state.get("voicing"), size=size, spread=spread)
    state["voicing"] = voicing
    return voicing


def _chord_hits(voicing, at: float, dur: float, vel: int, strum: float = 0.0, up: bool = False) -> list[Hit]:
    notes = sorted(voicing, reverse=up)
    return [
        (at + i * strum, max(0.05, dur - i * strum), p, vel - 4 * i * (1 if up else 0))
        for i, p in enumerate(notes)
    ]


def _rhythm_hits(
    bar: Bar,
    state: dict,
    rhythm: list[tuple[float, float, int]],
    center: float,
    size: int = 4,
    strum: float = 0.0,
    up_strokes: bool = False,
) -> list[Hit]:
    """Chords on a rhythm given as (offset, duration, velocity) in beats, each sounding the chord then."""
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        voicing = _voicing(state, c, center, size=size)
        for at, dur, vel in rhythm:
            if off <= at < off + length:
                up = up_strokes and (at * 2) % 2 == 1
                hits += _chord_hits(
                    voicing[1:] if up else voicing, at, min(dur, off + length - at), vel, strum, up
                )
    return hits


_BLOCK_RHYTHMS = (
    [(0, 2, 90), (2, 2, 84)],
    [(b, 0.9, 88 if b % 2 == 0 else 76) for b in range(4)],
    [(0, 1.4, 92), (1.5, 1.4, 84), (3, 0.9, 80)],
)


def comp_block(bar: Bar, state: dict) -> list[Hit]:
    rhythm = _BLOCK_RHYTHMS[bar.variant % len(_BLOCK_RHYTHMS)]
    if bar.meter == 3:
        rhythm = [(0, 2.8, 90)] if bar.variant % 2 == 0 else [(b, 0.9, 86) for b in range(3)]
    return _rhythm_hits(bar, state, rhythm, 62)


_STRUMS = ([0, 1, 1.5, 2.5, 3, 3.5], [0, 1, 2, 2.5, 3, 3.5], [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5])


def comp_strum(bar: Bar, state: dict) -> list[Hit]:
    ats = [a for a in _STRUMS[bar.variant % len(_STRUMS)] if a < bar.meter]
    rhythm = [
        (a, (ats[i + 1] if i + 1 < len(ats) else bar.meter) - a, 92 if a % 1 == 0 else 74)
        for i, a in enumerate(ats)
    ]
    return _rhythm_hits(bar, state, rhythm, 58, size=5, strum=0.03, up_strokes=True)


def comp_strum16(bar: Bar, state: dict) -> list[Hit]:
    rhythm = []
    for i in range(bar.meter * 4):
        if i % 4 == 0 or bar.rng.random() < 0.55:
            rhythm.append((i * 0.25, 0.18, 90 if i % 4 in (0, 2) else 62))
    return _rhythm_hits(bar, state, rhythm, 64, size=3, strum=0.01)


def _power(c: Chord, center: float = 45) -> tuple[int, ...]:
    root = nearest_pitch((c.root,), center, 38, 55)
    return (root, root + 7, root + 12)


def comp_power8(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        chord = _power(c)
        for i in range(int(length * 2)):
            vel = 104 if i % 2 == 0 else 88
            hits += _chord_hits(chord, off + i * 0.5, 0.32, vel, 0.005)
    return hits


_CHUGS = ("x.xxx.xxx.xxx.xx", "xxx.xxx.xxx.x.x.", "x.x.xxx.x.x.xxx.")


def comp_chug(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    steps = _CHUGS[bar.variant % len(_CHUGS)]
    for off, length, c in bar.chords:
        chord = _power(c, 42)
        for i, ch in enumerate(steps[: int(length * 4)]):
            if ch == "x":
                accent = i % 4 == 0
                hits += _chord_hits(
                    chord if accent else chord[:2], off + i * 0.25, 0.2, 110 if accent else 92
                )
    return hits


def comp_power_sustain(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        chord = _power(c)
        hits += _chord_hits(chord, off, length * 0.97, 106, 0.01)
        if bar.variant % 2 == 1 and length >= 4:
            hits += _chord_hits(chord, off + 3.5, 0.45, 96, 0.01)
    return hits


def comp_arpeggio(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    step = 0.5 if bar.variant % 3 != 2 else 0.25
    for off, length, c in bar.chords:
        voicing = sorted(_voicing(state, c, 60, size=4))
        order = voicing + voicing[1:-1][::-1] if bar.variant % 2 == 1 else voicing
        for i in range(int(length / step)):
            hits.append((off + i * step, step * 2.5, order[i % len(order)], 84 if i % 2 == 0 else 72))
    return hits


def comp_alberti(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    step = 0.5 if bar.variant % 2 == 0 else 0.25
    for off, length, c in bar.chords:
        low, mid, high = sorted(_voicing(state, c, 58, size=3))
        order = (low, high, mid, high)
        for i in range(int(length / step)):
            hits.append((off + i * step, step * 1.5, order[i % 4], 80 if i % 4 == 0 else 66))
    return hits


def comp_waltz(bar: Bar, state: dict) -> list[Hit]:
    if bar.meter == 3:
        rhythm = [(1, 0.8, 82), (2, 0.8, 78)]
    else:
        rhythm = [(1, 0.8, 84), (3, 0.8, 84)]
    return _rhythm_hits(bar, state, rhythm, 64, size=3)


def comp_backbeat(bar: Bar, state: dict) -> list[Hit]:
    rhythm = [(1, 0.6, 88), (3, 0.6, 88)] + ([(3.5, 0.4, 74)] if bar.variant % 2 else [])
    return _rhythm_hits(bar, state, rhythm, 62)


def comp_shuffle(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        root = nearest_pitch((c.root,), 48, 40, 55)
        for i in range(int(length * 2)):
            top = root + (9 if (i // 2) % 2 == 1 else 7)
            if bar.variant % 2 == 1 and i % 8 == 6:
                top = root + 10
            vel = 86 if i % 2 == 0 else 70
            hits += [(off + i * 0.5, 0.42, root, vel), (off + i * 0.5, 0.42, top, vel)]
    return hits


def comp_skank(bar: Bar, state: dict) -> list[Hit]:
    if bar.variant % 2 == 0:
        rhythm = [(1, 0.3, 92), (3, 0.3, 92)]
    else:
        rhythm = [(1, 0.25, 92), (1.5, 0.2, 70), (3, 0.25, 92), (3.5, 0.2, 70)]
    return _rhythm_hits(bar, state, rhythm, 67, size=3, strum=0.01)


_STABS = ([0, 0.75, 1.5, 2.5, 3.25], [0.5, 1.5, 2.5, 3.5], [0, 1.5, 2.75, 3.5])


def comp_stabs(bar: Bar, state: dict) -> list[Hit]:
    rhythm = [(a, 0.22, 92 if a % 1 == 0 else 80) for a in _STABS[bar.variant % len(_STABS)] if a < bar.meter]
    return _rhythm_hits(bar, state, rhythm, 64)


_COMPING = ([(0, 1.2), (1.5, 0.9)], [(0.5, 0.5), (2.5, 1.2)], [(1.5, 1.0), (3.5, 0.5)], [(0, 0.6), (2, 1.5)])


def comp_comping(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        # rootless voicing: third, seventh, ninth (or fifth)
        pcs = [iv for iv in c.intervals if iv not in (0,)]
        shell = Chord(c.root, tuple(pcs[:3]) if len(pcs) >= 3 else tuple(pcs) + (14,), c.numeral, c.symbol)
        voicing = _voicing(state, shell, 62, size=3)
        figure = _COMPING[(bar.variant + int(bar.rng.integers(0, 2))) % len(_COMPING)]
        for at, dur in figure:
            if at < length and at < bar.meter:
                hits += _chord_hits(
                    voicing, off + at, min(dur, length - at), int(72 + bar.rng.integers(-8, 12))
                )
    return hits


def comp_pad_hold(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        hits += _chord_hits(_voicing(state, c, 62, size=4), off, length * 0.99, 72)
    return hits


def comp_roll(bar: Bar, state: dict) -> list[Hit]:
    hits: list[Hit] = []
    for off, length, c in bar.chords:
        low, mid, high = sorted(_voicing(state, c, 67, size=3))
        order = (low, mid, high, low, high, mid, high, low) if bar.variant % 2 else (mid, high, low, high) * 2
        for i in range(int(length * 2)):
            hits.append((off + i * 0.5, 0.6, order[i % len(order)], 84 if i % 3 == 0 else 70))
    return hits


def comp_bubble(bar: Bar, state: dict) -> list[Hit]:
    rhythm = []
    for b in range(bar.meter):
        rhythm += [(b + 0.5, 0.2, 76), (b + 0.75, 0.15, 58)]
    return _rhythm_hits(bar, state, rhythm, 60, size=3)


def comp_hits(bar: Bar, state: dict) -> list[Hit]:
    rhythm = [(0, 0.9, 96), (2.5, 0.4, 84)] if bar.variant % 2 == 0 else [(0, 1.8, 90), (3.5, 0.4, 86)]
    return _rhythm_hits(bar, state, [r for r in rhythm if r[0] < bar.meter], 70)


PATTERNS: dict[str, Callable[[Bar, dict], list[Hit]]] = {
    "root_whole": bass_root_whole,
    "root_fifth": bass_root_fifth,
    "eighths": bass_eighths,
    "octaves": bass_octaves,
    "walking": bass_walking,
    "boogie": bass_boogie,
    "reggae": bass_reggae,
    "hiphop": bass_hiphop,
    "pop": bass_pop,
    "block": comp_block,
    "strum": comp_strum,
    "strum16": comp_strum16,
    "power8": comp_power8,
    "chug": comp_chug,
    "power_sustain": comp_power_sustain,
    "arpeggio": comp_arpeggio,
    "alberti": comp_alberti,
    "waltz": comp_waltz,
    "backbeat": comp_backbeat,
    "shuffle": comp_shuffle,
    "skank": comp_skank,
    "stabs": comp_stabs,
    "comping": comp_comping,
    "pad_hold": comp_pad_hold,
    "roll": comp_roll,
    "bubble": comp_bubble,
    "hits": comp_hits,
}
