"""A tiny Standard MIDI File writer (format 0, one track), enough for fluidsynth to render a song.

Times are in ticks at :data:`TICKS_PER_BEAT` per quarter note; the tempo is one integer number of
microseconds per quarter note, so every tick has an exact time in seconds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

TICKS_PER_BEAT = 480
DRUM_CHANNEL = 9

# event kinds, in the order they are sent when several fall on the same tick
_ORDER = {"program": 0, "control": 1, "bend": 2, "off": 3, "on": 4, "end": 5}


@dataclass(frozen=True)
class MidiEvent:
    """One channel event. ``kind`` is on, off, program, control or bend; ``a``/``b`` are its data bytes."""

    tick: int
    kind: str
    channel: int
    a: int = 0
    b: int = 0


def _varlen(value: int) -> bytes:
    """MIDI variable-length quantity."""
    if value < 0:
        raise ValueError(f"negative MIDI delta time {value}")
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def _clamp7(value: int) -> int:
    return max(0, min(127, int(value)))


def _event_bytes(ev: MidiEvent) -> bytes:
    ch = ev.channel & 0x0F
    if ev.kind == "on":
        return bytes((0x90 | ch, _clamp7(ev.a), max(1, _clamp7(ev.b))))
    if ev.kind == "off":
        return bytes((0x80 | ch, _clamp7(ev.a), 0))
    if ev.kind == "program":
        return bytes((0xC0 | ch, _clamp7(ev.a)))
    if ev.kind == "control":
        return bytes((0xB0 | ch, _clamp7(ev.a), _clamp7(ev.b)))
    if ev.kind == "bend":
        value = max(0, min(16383, int(ev.a) + 8192))
        return bytes((0xE0 | ch, value & 0x7F, value >> 7))
    raise ValueError(f"unknown MIDI event kind {ev.kind!r}")


def write_smf(events: list[MidiEvent], us_per_beat: int, end_tick: int) -> bytes:
    """A format-0 Standard MIDI File holding ``events``; the track lasts until ``end_tick``.

    ``us_per_beat`` is the tempo in microseconds per quarter note. A controller event with no effect is
    placed at ``end_tick`` so that players render the whole length, release tails included.
    """
    if not 0 < us_per_beat < 2**24:
        raise ValueError(f"tempo {us_per_beat} us per beat is out of the MIDI range")
    body = bytearray()
    body += b"\x00\xff\x51\x03" + us_per_beat.to_bytes(3, "big")
    ordered = sorted(events, key=lambda e: (e.tick, _ORDER[e.kind], e.channel, e.a))
    # a harmless controller (CC 110, undefined) on channel 0 marks the end of the render
    ordered.append(MidiEvent(max(end_tick, ordered[-1].tick if ordered else 0), "control", 0, 110, 0))
    now = 0
    for ev in ordered:
        body += _varlen(ev.tick - now) + _event_bytes(ev)
        now = ev.tick
    body += b"\x00\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS_PER_BEAT)
    return header + b"MTrk" + struct.pack(">I", len(body)) + bytes(body)
