"""From a plan to notes: every part of every section, fills and crashes, the final chord, swing and
humanised timing and velocity. Times are in beats (quarter notes) from the start of the song.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .drums import DRUM_NOTES, GROOVES, fill, groove_bar
from .melody import add_bends, compose_solo, vary
from .patterns import PATTERNS, Bar
from .plan import ROLES, SongPlan
from .theory import Chord, nearest_pitch, parse_numeral, voice_chord

# loudness of each part before section and song energy scale it
PART_GAIN = {"drums": 1.0, "bass": 0.95, "comp": 0.85, "keys": 0.72, "pad": 0.62, "lead": 1.0, "solo": 1.0}
# channel volume (CC 7) per part: the mix
PART_VOLUME = {"drums": 108, "bass": 104, "comp": 92, "keys": 84, "pad": 78, "lead": 112, "solo": 112}


@dataclass(frozen=True)
class Note:
    """A note to render: start and duration in beats, MIDI pitch and velocity, the part that plays it."""

    start: float
    dur: float
    pitch: int
    vel: int
    part: str
    bend: float = 0.0  # semitones below the pitch at the onset, sliding up (blue notes)


@dataclass
class Score:
    """All notes of a song and how to play them back."""

    notes: list[Note]
    programs: dict[str, int]
    us_per_beat: int
    total_beats: float
    reverb: int
    chords: list[tuple[float, float, str]]  # (start beat, end beat, chord symbol)


def _swing(t: float, ratio: float, unit: float) -> float:
    """Time ``t`` in beats with off-beats of ``unit`` delayed so that they fall at ``ratio`` of the pair."""
    if ratio == 0.5:
        return t
    pair = 2 * unit
    base = np.floor(t / pair + 1e-9) * pair
    frac = (t - base) / pair
    mapped = frac * 2 * ratio if frac < 0.5 else ratio + (frac - 0.5) * 2 * (1 - ratio)
    return float(base + mapped * pair)


def arrange(plan: SongPlan, first_bar: int = 0, end_bar: int | None = None) -> Score:
    """The notes of the song ``plan`` describes, swung and humanised, for the sections that overlap bars
    ``first_bar`` to ``end_bar`` (default: all).

    Each section draws from its own random stream and starts its voicings afresh, so a section sounds
    the same whether the whole song or only part of it is arranged.
    """
    meter, style = plan.meter, plan.style
    end_bar = plan.total_bars if end_bar is None else end_bar
    notes: list[Note] = []
    chords_out: list[tuple[float, float, str]] = []
    tonic_chord = parse_numeral("I" if plan.mode == "major" else "i", plan.tonic)
    music = [i for i, s in enumerate(plan.sections) if s.label != "silence"]
    last_music = music[-1] if music else -1
    triplet_groove = (
        bool(plan.groove) and len(next(iter(GROOVES[plan.groove]["main"].values()))) % 3 == 0 and meter == 4
    )
    for si, sec in enumerate(plan.sections):
        if sec.label == "silence" or sec.start_bar + sec.bars <= first_bar or sec.start_bar >= end_bar:
            continue
        rng = np.random.default_rng([plan.arrange_seed, si])
        states: dict[str, dict] = {p: {} for p in PART_GAIN}
        # start, dur, pitch, vel, part, bend, straight
        raw: list[tuple[float, float, int, float, str, float, bool]] = []
        mat = plan.materials[sec.material]
        arr = sec.arrangement
        nxt = plan.sections[si + 1] if si + 1 < len(plan.sections) else None
        gain = 0.6 + 0.4 * sec.energy
        section_bars: list[list[tuple[float, float, Chord]]] = []
        for b in range(sec.bars):
            t0 = (sec.start_bar + b) * meter
            final = si == last_music and sec.label == "outro" and b == sec.bars - 1
            chords = [(0.0, float(meter), tonic_chord)] if final else mat.bars[b % mat.phrase_bars]
            section_bars.append(chords)
            for off, length, chord in chords:
                chords_out.append((t0 + off, t0 + off + length, chord.symbol))
            if b + 1 < sec.bars:
                next_root = mat.bars[(b + 1) % mat.phrase_bars][0][2].root
            elif nxt is not None and nxt.label != "silence":
                next_root = plan.materials[nxt.material].bars[0][0][2].root
            else:
                next_root = plan.tonic
            for part in ("bass", "comp", "keys", "pad"):
                if part not in arr.parts:
                    continue
                if final:
                    hits = _final_chord(part, tonic_chord, meter, states[part])
                else:
                    bar = Bar(
                        chords,
                        meter,
                        next_root,
                        sec.energy,
                        arr.variants.get(part, 0),
                        rng,
                        last=b == sec.bars - 1,
                    )
                    hits = PATTERNS[arr.patterns[part]](bar, states[part])
                for off, dur, pitch, vel in hits:
                    raw.append((t0 + off, dur, pitch, vel * gain * PART_GAIN[part], part, 0.0, False))
            if "drums" in arr.parts and plan.groove:
                for off, pitch, vel in _drum_bar(plan, sec, b, nxt, final, rng):
                    raw.append((t0 + off, 0.25, pitch, vel * gain, "drums", 0.0, triplet_groove))
        start = sec.start_bar * meter
        if "lead" in arr.parts and sec.material in ROLES:
            n_phrases = -(-sec.bars // mat.phrase_bars)
            for k in range(n_phrases):
                melody = mat.statement if k % 2 == 0 else mat.answer
                if sec.instance > 0 or k >= 2:
                    melody = vary(
                        melody, plan.tonic, style.melody_scale[plan.mode], 0.12 + 0.05 * sec.instance, rng
                    )
                offset = start + k * mat.phrase_bars * meter
                for n in melody:
                    if n.start + offset < start + sec.bars * meter - 0.05:
                        raw.append((offset + n.start, n.dur, n.pitch, n.vel * gain, "lead", n.bend, False))
        if "solo" in arr.parts:
            solo = compose_solo(
                section_bars, meter, plan.tonic, style.solo_scale[plan.mode], 72, 1.0 + plan.density, rng
            )
            for n in add_bends(solo, style.bends, rng):
                raw.append((start + n.start, n.dur, n.pitch, n.vel * gain, "solo", n.bend, n.straight))
        notes += _perform(raw, plan, rng)
    notes.sort(key=lambda n: (n.start, n.part, n.pitch))
    return Score(
        notes=notes,
        programs=dict(plan.programs),
        us_per_beat=plan.us_per_beat,
        total_beats=plan.total_bars * meter,
        reverb=style.reverb,
        chords=chords_out,
    )


def _final_chord(part: str, chord: Chord, meter: int, state: dict) -> list[tuple[float, float, int, int]]:
    """The last bar of a song: the tonic held, the bass on its root."""
    length = meter - 0.25
    if part == "bass":
        return [(0.0, length, nearest_pitch((chord.root,), 38, 28, 52), 96)]
    voicing = voice_chord(chord, 62 if part != "keys" else 72, state.get("voicing"), size=4)
    return [(0.0, length, p, 88) for p in voicing]


def _drum_bar(plan: SongPlan, sec, b: int, nxt, final: bool, rng: np.random.Generator):
    """One bar of drums for ``sec``: the groove, a crash where a section starts, a fill where it ends."""
    meter, level = plan.meter, sec.arrangement.drum_level
    if final:
        return [(0.0, DRUM_NOTES["crash"], 110), (0.0, DRUM_NOTES["kick"], 100)]
    hits = groove_bar(plan.groove, level, meter)
    if b == 0 and sec.label in ("chorus", "instrumental", "pre-chorus", "verse") and sec.energy > 0.55:
        hits = hits + [(0.0, DRUM_NOTES["crash"], 104)]
    last = b == sec.bars - 1
    into_music = nxt is not None and nxt.label != "silence"
    if last and into_music and (nxt.label in ("chorus", "instrumental") or rng.random() < 0.5):
        beats = 2.0 if sec.label == "pre-chorus" or (sec.energy > 0.75 and rng.random() < 0.5) else 1.0
        start = meter - beats
        hits = [h for h in hits if h[0] < start] + fill(meter, beats, sec.energy, rng)
    elif b % 4 == 3 and rng.random() < 0.25:  # small end-of-phrase variation
        hits = [h for h in hits if h[0] < meter - 0.5] + [
            (meter - 0.5, DRUM_NOTES["snare"], 80),
            (meter - 0.25, DRUM_NOTES["snare"], 92),
        ]
    return hits


def _perform(raw, plan: SongPlan, rng: np.random.Generator) -> list[Note]:
    """Swing, humanised timing (shared by notes struck together) and velocity."""
    style = plan.style
    beat_s = plan.us_per_beat / 1e6
    sigma = style.humanize_ms / 1000 / beat_s
    energy_gain = 0.8 + 0.3 * plan.energy
    offsets: dict[tuple[str, float], float] = {}
    notes: list[Note] = []
    for start, dur, pitch, vel, part, bend, straight in raw:
        key = (part, round(start, 4))
        if key not in offsets:
            s = sigma * (0.5 if part == "drums" else 1.0)
            offsets[key] = float(np.clip(rng.normal(0, s), -2.5 * s, 2.5 * s)) if s > 0 else 0.0
        if straight:
            s0, s1 = start, start + dur
        else:
            s0 = _swing(start, plan.swing, style.swing_unit)
            s1 = max(s0 + 0.03, _swing(start + dur, plan.swing, style.swing_unit))
        t = max(0.0, s0 + offsets[key])
        v = int(np.clip(round(vel * energy_gain + rng.normal(0, style.velocity_jitter)), 1, 127))
        notes.append(Note(t, max(0.03, s1 - s0), int(pitch), v, part, float(bend)))
    return notes
