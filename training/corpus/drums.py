"""Drum grooves (step patterns per bar, three intensity levels), fills and crashes, in GM drum notes.

A pattern is one string per drum; each character is a step of equal length across the bar (16 steps:
sixteenths in 4/4, 12: eighth-note triplets in 4/4 or sixteenths in 3/4). ``X`` accent, ``x`` normal,
``o`` soft, ``g`` ghost, ``.`` rest.
"""

from __future__ import annotations

import numpy as np

DRUM_NOTES = {
    "kick": 36,
    "stick": 37,
    "snare": 38,
    "clap": 39,
    "tom_floor": 41,
    "hat": 42,
    "pedal": 44,
    "tom_lo": 45,
    "open": 46,
    "tom_mid": 47,
    "crash": 49,
    "tom_hi": 50,
    "ride": 51,
    "bell": 53,
    "tamb": 54,
    "cowbell": 56,
    "shaker": 70,
}
_VELOCITY = {"X": 118, "x": 96, "o": 74, "g": 46}
LEVELS = ("light", "main", "busy")

# name -> {"meter": beats per bar, ["max_bpm": fastest tempo it suits,] level -> {drum -> steps}}
GROOVES: dict[str, dict] = {
    "shuffle": {
        "meter": 4,
        "light": {"kick": "x...............", "stick": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
        "main": {"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.o.x.o.x.o.x.o."},
        "busy": {
            "kick": "x.....x.x.....x.",
            "snare": "....X.......X...",
            "ride": "x.o.x.o.x.o.x.o.",
            "pedal": "....x.......x...",
        },
    },
    "slow_blues": {
        "meter": 4,
        "max_bpm": 88,
        "light": {"hat": "x..x..x..x..", "stick": "...x.....x..", "kick": "x..........."},
        "main": {"kick": "x.....x.....", "snare": "...x.....x..", "hat": "xooxooxooxoo"},
        "busy": {"kick": "x....xx.....", "snare": "...X.....X.g", "ride": "XooXooXooXoo"},
    },
    "train": {
        "meter": 4,
        "light": {"kick": "x.......x.......", "stick": "....x.......x...", "shaker": "x.o.x.o.x.o.x.o."},
        "main": {"kick": "x.......x.......", "snare": "o.o.X.o.o.o.X.o.", "pedal": "....x.......x..."},
        "busy": {"kick": "x...x...x...x...", "snare": "ogogXgogogogXgog", "ride": "x.x.x.x.x.x.x.x."},
    },
    "country": {
        "meter": 4,
        "light": {"kick": "x.......x.......", "stick": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        "main": {
            "kick": "x.......x.......",
            "snare": "....x.......x...",
            "hat": "x.o.x.o.x.o.x.o.",
            "tamb": "....x.......x...",
        },
        "busy": {
            "kick": "x...x...x...x...",
            "snare": "....X.......X...",
            "ride": "x.o.x.o.x.o.x.o.",
            "tamb": "..x...x...x...x.",
        },
    },
    "waltz": {
        "meter": 3,
        "light": {"kick": "x...........", "stick": "....x...x...", "hat": "x.x.x.x.x.x."},
        "main": {"kick": "x...........", "snare": "....x...x...", "hat": "x.o.x.o.x.o."},
        "busy": {"kick": "x.......x...", "snare": "....X...X...", "ride": "x.o.x.o.x.o."},
    },
    "disco": {
        "meter": 4,
        "light": {"kick": "x...x...x...x...", "hat": "..x...x...x...x."},
        "main": {
            "kick": "x...x...x...x...",
            "snare": "....x.......x...",
            "hat": "x...x...x...x...",
            "open": "..x...x...x...x.",
        },
        "busy": {
            "kick": "X...X...X...X...",
            "clap": "....X.......X...",
            "hat": "xoxgxoxgxoxgxoxg",
            "open": "..X...X...X...X.",
            "tamb": "xoxoxoxoxoxoxoxo",
        },
    },
    "disco_open": {
        "meter": 4,
        "light": {"kick": "x...x...x...x...", "shaker": "xoxoxoxoxoxoxoxo"},
        "main": {
            "kick": "x...x...x...x...",
            "clap": "....x.......x...",
            "open": "..x...x...x...x.",
            "shaker": "xoxoxoxoxoxoxoxo",
        },
        "busy": {
            "kick": "X...X...X...X...",
            "snare": "....X.......X..g",
            "open": "..X...X...X...X.",
            "hat": "x.x.x.x.x.x.x.x.",
            "cowbell": "x.....x.....x...",
        },
    },
    "boombap": {
        "meter": 4,
        "light": {"kick": "x.........x.....", "hat": "x.x.x.x.x.x.x.x."},
        "main": {"kick": "x.....x...x.....", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
        "busy": {
            "kick": "x.....x.x.x.....",
            "snare": "....X.......X..g",
            "hat": "xgxgxgxgxgxgxgxg",
            "open": "..............x.",
        },
    },
    "trap": {
        "meter": 4,
        "light": {"hat": "x.x.x.x.x.x.x.x.", "kick": "x..............."},
        "main": {"kick": "x......x..x.....", "clap": "........X.......", "hat": "xoxoxoxoxoxoxoxo"},
        "busy": {
            "kick": "x..x...x..x.x...",
            "clap": "........X.......",
            "hat": "xxxxxxxxxxxxxxxx",
            "open": "..............x.",
        },
    },
    "swing": {
        "meter": 4,
        "light": {"ride": "x...x.o.x...x.o.", "pedal": "....x.......x..."},
        "main": {
            "ride": "x...x.o.x...x.o.",
            "pedal": "....x.......x...",
            "kick": "g...g...g...g...",
            "snare": "..........g.....",
        },
        "busy": {
            "ride": "X...x.o.X...x.o.",
            "pedal": "....x.......x...",
            "kick": "g...g...g...g.o.",
            "snare": "......g...g...o.",
        },
    },
    "jazz_waltz": {
        "meter": 3,
        "light": {"ride": "x...x.o.x...", "pedal": "....x...x..."},
        "main": {"ride": "x...x.o.x...", "pedal": "....x...x...", "kick": "g..........."},
        "busy": {
            "ride": "X...x.o.x.o.",
            "pedal": "....x...x...",
            "kick": "g.......g...",
            "snare": "......g.....",
        },
    },
    "metal": {
        "meter": 4,
        "light": {"kick": "x.......x.......", "snare": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        "main": {"kick": "x.x.x.x.x.x.x.x.", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        "busy": {"kick": "xxxxxxxxxxxxxxxx", "snare": "....X.......X...", "crash": "x...x...x...x..."},
    },
    "thrash": {
        "meter": 4,
        "light": {"kick": "x.......x.......", "ride": "x.x.x.x.x.x.x.x."},
        "main": {"kick": "x...x...x...x...", "snare": "..X...X...X...X.", "hat": "x.x.x.x.x.x.x.x."},
        "busy": {"kick": "x.x.x.x.x.x.x.x.", "snare": "..X...X...X...X.", "crash": "x...x...x...x..."},
    },
    "pop": {
        "meter": 4,
        "light": {"kick": "x.......x.......", "hat": "..x...x...x...x."},
        "main": {
            "kick": "x.......x.x.....",
            "snare": "....x.......x...",
            "clap": "....x.......x...",
            "hat": "x.o.x.o.x.o.x.o.",
        },
        "busy": {
            "kick": "x.....x.x.x.....",
            "snare": "....X.......X...",
            "clap": "....X.......X...",
            "hat": "XgxgXgxgXgxgXgxg",
            "open": "..............x.",
        },
    },
    "pop16": {
        "meter": 4,
        "light": {"kick": "x.......x.......", "shaker": "xoxoxoxoxoxoxoxo"},
        "main": {"kick": "x..x....x.x.....", "snare": "....X.......X...", "hat": "xoxoxoxoxoxoxoxo"},
        "busy": {
            "kick": "x..x..x.x.x.....",
            "snare": "....X.......X...",
            "hat": "xoxoxoxoxoxoxoxo",
            "tamb": "....x.......x...",
            "open": "..x...x...x...x.",
        },
    },
    "one_drop": {
        "meter": 4,
        "light": {"stick": "........x.......", "hat": "x...x...x...x..."},
        "main": {"kick": "........x.......", "stick": "........x.......", "hat": "x.o.x.o.x.o.x.o."},
        "busy": {
            "kick": "........X.......",
            "snare": "........X.......",
            "hat": "x.o.x.o.x.o.x.o.",
            "open": "..o...o...o...o.",
        },
    },
    "steppers": {
        "meter": 4,
        "light": {"kick": "x...x...x...x...", "hat": "..x...x...x...x."},
        "main": {"kick": "x...x...x...x...", "stick": "........x.......", "hat": "..x...x...x...x."},
        "busy": {
            "kick": "x...x...x...x...",
            "snare": "........X.......",
            "hat": "xoxoxoxoxoxoxoxo",
            "open": "..x.......x.....",
        },
    },
    "rock": {
        "meter": 4,
        "light": {"kick": "x.......x.......", "stick": "....x.......x...", "hat": "x.x.x.x.x.x.x.x."},
        "main": {"kick": "x.......x.x.....", "snare": "....X.......X...", "hat": "x.o.x.o.x.o.x.o."},
        "busy": {
            "kick": "x.x.....x.x.....",
            "snare": "....X.......X...",
            "ride": "x.x.x.x.x.x.x.x.",
            "crash": "x...............",
        },
    },
    "rock_half": {
        "meter": 4,
        "light": {"kick": "x...............", "hat": "x.x.x.x.x.x.x.x."},
        "main": {"kick": "x.........x.....", "snare": "........X.......", "hat": "x.x.x.x.x.x.x.x."},
        "busy": {
            "kick": "x.x.......x.....",
            "snare": "........X.......",
            "ride": "x.x.x.x.x.x.x.x.",
            "open": "..............x.",
        },
    },
}

_WALTZ_FOR = {"swing": "jazz_waltz"}  # 4/4 grooves with a 3/4 counterpart; the rest use "waltz"
_COMMON_FOR = {"jazz_waltz": "swing", "waltz": "country"}


def groove_for_meter(name: str, meter: int) -> str:
    """The groove to play in ``meter``: ``name`` itself when it fits, else its 3/4 (or 4/4) counterpart."""
    if GROOVES[name]["meter"] == meter:
        return name
    if meter == 3:
        return _WALTZ_FOR.get(name, "waltz")
    return _COMMON_FOR.get(name, "rock")


def groove_bar(name: str, level: str, meter: int) -> list[tuple[float, int, int]]:
    """One bar of ``name`` at ``level`` as (beat offset, GM note, velocity), sorted by time."""
    patterns = GROOVES[name][level]
    hits = []
    for drum, steps in patterns.items():
        step = meter / len(steps)
        for i, ch in enumerate(steps):
            if ch != ".":
                hits.append((i * step, DRUM_NOTES[drum], _VELOCITY[ch]))
    return sorted(hits)


def fill(meter: int, beats: float, energy: float, rng: np.random.Generator) -> list[tuple[float, int, int]]:
    """A fill over the last ``beats`` beats of a bar: snare roll or tom run, louder towards the end."""
    n = int(round(beats * 4))
    start = meter - beats
    kind = rng.choice(["snare", "toms", "mixed"])
    toms = ["tom_hi", "tom_hi", "tom_mid", "tom_mid", "tom_lo", "tom_lo", "tom_floor", "tom_floor"]
    hits = []
    for i in range(n):
        if kind == "snare":
            drum = "snare"
        elif kind == "toms":
            drum = toms[min(len(toms) - 1, i * len(toms) // n)]
        else:
            drum = "snare" if i % 2 == 0 else toms[min(len(toms) - 1, i * len(toms) // n)]
        if rng.random() < 0.15 and i not in (0, n - 1):
            continue  # leave gaps now and then so fills do not all sound alike
        vel = int(60 + 50 * energy * (0.6 + 0.4 * i / max(1, n - 1)))
        hits.append((start + i * 0.25, DRUM_NOTES[drum], vel))
    hits.append((start + n * 0.25 - 0.25, DRUM_NOTES["kick"], int(70 + 40 * energy)))
    return sorted(hits)
