"""The ten styles, named as GTZAN's genres, and the parameters that define each.

A style fixes a tempo range, meters, swing, the mode's odds, chord progressions per section role,
chord colours, ensembles (General MIDI programs per part), the patterns each part may play, drum kits
and grooves, and how dense and how loud it tends to be. Everything random about a song is drawn from
these ranges (see :mod:`training.corpus.plan`).
"""

from __future__ import annotations

from dataclasses import dataclass

STYLES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")

# the parts a song may have; drums play on GM channel 10, the others on their own channels
PARTS = ("bass", "comp", "keys", "pad", "lead", "solo", "drums")
CHANNELS = {"bass": 0, "comp": 1, "keys": 2, "pad": 3, "lead": 4, "solo": 5, "drums": 9}
VOICE_PROGRAMS = frozenset({52, 53, 54})  # choir aahs, voice oohs, synth voice: the "singer" leads


@dataclass(frozen=True)
class Style:
    """Everything that makes a style; ranges are (low, high) and drawn uniformly per song."""

    name: str
    tempo: tuple[float, float]
    meters: tuple[int, ...]  # beats per bar, each as likely
    swing: tuple[float, float]  # where the off-beat falls within its pair: 0.5 straight, 0.667 triplet
    swing_unit: float  # 0.5: swung eighths, 0.25: swung sixteenths
    major_prob: float
    progressions: dict[str, dict[str, tuple[str, ...]]]  # mode -> role -> roman-numeral progressions
    colors: tuple[str, ...]  # suffixes added now and then to plain triads
    color_prob: float
    # part -> GM programs ("drums": GM drum kits); a part absent from an ensemble is not played
    ensembles: tuple[dict[str, tuple[int, ...]], ...]
    patterns: dict[str, dict[str, tuple[str, ...]]]  # part -> section role ("main", "chorus") -> patterns
    grooves: tuple[str, ...]  # names in training.corpus.drums.GROOVES
    melody_scale: dict[str, str]  # mode -> scale for the lead
    solo_scale: dict[str, str]  # mode -> scale for solos
    melody_density: tuple[float, float]  # lead notes per beat
    density: tuple[float, float]  # overall busyness, 0..1
    energy: tuple[float, float]  # overall loudness and drive, 0..1
    humanize_ms: float  # standard deviation of timing jitter
    velocity_jitter: float
    reverb: int  # CC 91 send
    bends: float  # share of lead notes that slide in from below (blue notes)
    forms: tuple[tuple[str, ...], ...]  # complete song forms, longest first within each
    intro_from: tuple[str, ...] = ("chorus", "verse")  # where intro/outro borrow their chords
    instrumental_from: tuple[str, ...] = ("verse", "chorus")


_POP_FORMS = (
    (
        "intro",
        "verse",
        "pre-chorus",
        "chorus",
        "verse",
        "pre-chorus",
        "chorus",
        "bridge",
        "chorus",
        "chorus",
        "outro",
    ),
    ("intro", "verse", "chorus", "verse", "chorus", "instrumental", "chorus", "outro"),
    ("intro", "verse", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"),
)

STYLE_DEFS: dict[str, Style] = {}


def _add(style: Style) -> None:
    STYLE_DEFS[style.name] = style


_add(
    Style(
        name="blues",
        tempo=(66, 118),
        meters=(4,),
        swing=(0.62, 0.68),
        swing_unit=0.5,
        major_prob=0.75,
        progressions={
            "major": {
                "verse": (
                    "I7 | IV7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",
                    "I7 | I7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | I7",
                ),
                "chorus": (
                    "IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7",
                    "I7 | V7 | IV7 | IV7 | I7 | V7 | I7 | V7",
                ),
                "pre-chorus": ("IV7 | IV7 | V7 | V7",),
                "bridge": ("IV7 | IV7 | I7 | I7 | IV7 | IV7 | V7 | V7", "vi7 | II7 | ii7 | V7"),
                "intro": ("V7 | IV7 | I7 | V7", "I7 | IV7 | I7 | V7"),
            },
            "minor": {
                "verse": ("i7 | iv7 | i7 | i7 | iv7 | iv7 | i7 | i7 | bVI7 | V7 | i7 | V7",),
                "chorus": ("iv7 | iv7 | i7 | i7 | bVI7 | V7 | i7 | i7",),
                "pre-chorus": ("iv7 | iv7 | V7 | V7",),
                "bridge": ("bVI7 | bVI7 | iv7 | iv7 | bVI7 | V7 | i7 | V7",),
                "intro": ("bVI7 | V7 | i7 | V7",),
            },
        },
        colors=("9",),
        color_prob=0.15,
        ensembles=(
            {
                "bass": (33, 32),
                "comp": (0,),
                "keys": (16, 17),
                "lead": (22,),
                "solo": (29, 27),
                "drums": (0,),
            },
            {
                "bass": (33, 34),
                "comp": (27, 26),
                "keys": (0,),
                "lead": (29, 27),
                "solo": (29, 30),
                "drums": (0,),
            },
            {"bass": (32,), "comp": (0, 1), "lead": (65, 66, 56), "solo": (65, 66), "drums": (0,)},
        ),
        patterns={
            "bass": {"main": ("boogie", "walking"), "chorus": ("boogie",)},
            "comp": {"main": ("shuffle", "backbeat"), "chorus": ("shuffle", "strum")},
            "keys": {"main": ("pad_hold", "stabs"), "chorus": ("pad_hold",)},
        },
        grooves=("shuffle", "slow_blues"),
        melody_scale={"major": "blues", "minor": "blues"},
        solo_scale={"major": "blues", "minor": "blues"},
        melody_density=(0.6, 1.2),
        density=(0.35, 0.6),
        energy=(0.35, 0.65),
        humanize_ms=12,
        velocity_jitter=10,
        reverb=50,
        bends=0.3,
        forms=(
            ("intro", "verse", "verse", "instrumental", "verse", "chorus", "outro"),
            ("intro", "verse", "chorus", "verse", "chorus", "instrumental", "chorus", "outro"),
        ),
        intro_from=("intro",),
    )
)

_add(
    Style(
        name="classical",
        tempo=(56, 126),
        meters=(4, 3),
        swing=(0.5, 0.5),
        swing_unit=0.5,
        major_prob=0.6,
        progressions={
            "major": {
                "verse": ("I | IV | V | I", "I | vi | ii | V", "I | V | vi | iii | IV | I | ii | V"),
                "chorus": ("IV | V | iii | vi | ii | V | I | I", "I | IV | ii V | I"),
                "pre-chorus": ("ii | V | vi | V", "IV | ii | V | V"),
                "bridge": ("vi | II | V | V", "vi | iii | IV | V"),
            },
            "minor": {
                "verse": ("i | iv | V | i", "i | bVI | iv | V"),
                "chorus": ("bVI | bIII | iv | V", "i | iv | bVII | bIII | bVI | iio | V | i"),
                "pre-chorus": ("iv | V | i | V",),
                "bridge": ("bIII | bVII | bVI | V", "bVI | iv | V | V"),
            },
        },
        colors=("7",),
        color_prob=0.2,
        ensembles=(
            {
                "bass": (43, 42),
                "comp": (48, 49),
                "pad": (49, 48),
                "lead": (40, 41),
                "solo": (40,),
                "keys": (45,),
            },
            {"bass": (0,), "comp": (0,), "lead": (0,), "solo": (0,)},
            {
                "bass": (42, 43),
                "comp": (46, 0),
                "pad": (48, 49),
                "lead": (73, 68, 71),
                "solo": (73, 68),
                "keys": (60,),
            },
            {
                "bass": (42,),
                "comp": (48,),
                "pad": (60, 61),
                "lead": (68, 71, 40),
                "solo": (40, 73),
                "keys": (46,),
            },
        ),
        patterns={
            "bass": {"main": ("root_whole", "root_fifth"), "chorus": ("root_fifth", "root_whole")},
            "comp": {"main": ("arpeggio", "alberti", "waltz"), "chorus": ("block", "arpeggio")},
            "keys": {"main": ("arpeggio", "pad_hold"), "chorus": ("pad_hold", "block")},
        },
        grooves=(),
        melody_scale={"major": "major", "minor": "harmonic_minor"},
        solo_scale={"major": "major", "minor": "harmonic_minor"},
        melody_density=(0.7, 1.6),
        density=(0.3, 0.6),
        energy=(0.15, 0.5),
        humanize_ms=14,
        velocity_jitter=8,
        reverb=100,
        bends=0.0,
        forms=(
            ("intro", "verse", "chorus", "verse", "bridge", "chorus", "verse", "outro"),
            ("intro", "verse", "verse", "chorus", "chorus", "bridge", "verse", "outro"),
        ),
        intro_from=("verse",),
        instrumental_from=("verse",),
    )
)

_add(
    Style(
        name="country",
        tempo=(84, 148),
        meters=(4, 4, 3),
        swing=(0.5, 0.56),
        swing_unit=0.5,
        major_prob=0.85,
        progressions={
            "major": {
                "verse": ("I | I | IV | I | I | I | V | V", "I | IV | I | V", "I | IV | V | I"),
                "chorus": ("IV | I | V | I", "IV | IV | I | I | V | V | I | I", "I | V | vi | IV"),
                "pre-chorus": ("vi | IV | V | V", "IV | V | IV | V"),
                "bridge": ("vi | IV | I | V", "IV | V | iii | vi"),
            },
            "minor": {
                "verse": ("i | bVII | bVI | bVII", "i | iv | bVII | i"),
                "chorus": ("bVI | bVII | i | i", "bIII | bVII | iv | i"),
                "pre-chorus": ("iv | v | bVI | bVII",),
                "bridge": ("bVI | bIII | bVII | V",),
            },
        },
        colors=("sus4", "add9"),
        color_prob=0.12,
        ensembles=(
            {
                "bass": (32, 33),
                "comp": (25,),
                "keys": (105,),
                "lead": (110, 53),
                "solo": (110, 105),
                "drums": (40, 0),
            },
            {
                "bass": (33,),
                "comp": (25, 24),
                "keys": (0,),
                "lead": (22, 53, 110),
                "solo": (27, 26),
                "drums": (0,),
            },
            {
                "bass": (32,),
                "comp": (24, 25),
                "pad": (48,),
                "lead": (110, 71),
                "solo": (110,),
                "drums": (40,),
            },
        ),
        patterns={
            "bass": {"main": ("root_fifth",), "chorus": ("root_fifth", "walking")},
            "comp": {"main": ("strum", "waltz"), "chorus": ("strum",)},
            "keys": {"main": ("roll", "arpeggio"), "chorus": ("roll", "block")},
        },
        grooves=("train", "country"),
        melody_scale={"major": "major_pentatonic", "minor": "minor_pentatonic"},
        solo_scale={"major": "major_pentatonic", "minor": "minor_pentatonic"},
        melody_density=(0.7, 1.5),
        density=(0.4, 0.7),
        energy=(0.35, 0.65),
        humanize_ms=10,
        velocity_jitter=9,
        reverb=45,
        bends=0.15,
        forms=_POP_FORMS,
        intro_from=("verse", "chorus"),
    )
)

_add(
    Style(
        name="disco",
        tempo=(108, 132),
        meters=(4,),
        swing=(0.5, 0.52),
        swing_unit=0.25,
        major_prob=0.4,
        progressions={
            "major": {
                "verse": ("ii7 | V7 | Imaj7 | vi7", "Imaj7 | IV7", "Imaj7 | vi7 | ii7 | V7"),
                "chorus": ("IVmaj7 | iii7 | ii7 | V7", "Imaj7 | vi7 | ii7 | V7", "IVmaj7 | V7 | iii7 | vi7"),
                "pre-chorus": ("ii7 | iii7 | IVmaj7 | V7",),
                "bridge": ("vi7 | ii7 | V7 | V7", "IVmaj7 | IVmaj7 | iii7 | vi7"),
            },
            "minor": {
                "verse": ("i7 | IV7", "i7 | iv7", "i7 | bVII"),
                "chorus": (
                    "bVImaj7 | bVII | i7 | i7",
                    "iv7 | bVII7 | bIIImaj7 | bVImaj7",
                    "i7 | bVII | bVI | V7",
                ),
                "pre-chorus": ("iv7 | v7 | bVImaj7 | bVII",),
                "bridge": ("bIIImaj7 | bVII | iv7 | V7",),
            },
        },
        colors=("9",),
        color_prob=0.2,
        ensembles=(
            {
                "bass": (33, 36),
                "comp": (27,),
                "keys": (48,),
                "pad": (48, 49),
                "lead": (53, 62),
                "solo": (65, 81),
                "drums": (0,),
            },
            {
                "bass": (38, 36),
                "comp": (4, 7),
                "keys": (61, 62),
                "pad": (89, 48),
                "lead": (81, 53, 54),
                "solo": (81, 62),
                "drums": (24, 0),
            },
            {
                "bass": (33,),
                "comp": (7, 27),
                "keys": (48, 61),
                "pad": (48,),
                "lead": (65, 56),
                "solo": (65, 56),
                "drums": (0,),
            },
        ),
        patterns={
            "bass": {"main": ("octaves",), "chorus": ("octaves", "pop")},
            "comp": {"main": ("stabs", "strum16"), "chorus": ("stabs",)},
            "keys": {"main": ("pad_hold", "hits"), "chorus": ("hits", "pad_hold")},
        },
        grooves=("disco", "disco_open"),
        melody_scale={"major": "major", "minor": "dorian"},
        solo_scale={"major": "major", "minor": "dorian"},
        melody_density=(0.8, 1.6),
        density=(0.65, 0.95),
        energy=(0.6, 0.9),
        humanize_ms=5,
        velocity_jitter=7,
        reverb=40,
        bends=0.0,
        forms=_POP_FORMS,
        intro_from=("chorus", "verse"),
    )
)

_add(
    Style(
        name="hiphop",
        tempo=(80, 100),
        meters=(4,),
        swing=(0.54, 0.62),
        swing_unit=0.25,
        major_prob=0.25,
        progressions={
            "major": {
                "verse": ("Imaj7 | vi7", "ii7 | V7 | Imaj7 | Imaj7", "IVmaj7 | iii7"),
                "chorus": ("IVmaj7 | iii7 | vi7 | vi7", "IVmaj7 | V | iii7 | vi7"),
                "pre-chorus": ("ii7 | ii7 | V7 | V7",),
                "bridge": ("vi7 | vi7 | IVmaj7 | IVmaj7",),
            },
            "minor": {
                "verse": ("i7 | iv7", "i | bVI", "i7 | bVII | bVI | V7", "i7 | i7 | bVImaj7 | bVImaj7"),
                "chorus": ("bVImaj7 | bVII | i7 | i7", "iv7 | v7 | i7 | i7", "bVI | bIII | bVII | i"),
                "pre-chorus": ("iv7 | iv7 | bVI | V7",),
                "bridge": ("bIIImaj7 | bVImaj7 | iv7 | V7",),
            },
        },
        colors=("9",),
        color_prob=0.15,
        ensembles=(
            {
                "bass": (38, 39),
                "comp": (4,),
                "keys": (48,),
                "lead": (80, 11),
                "solo": (80, 81),
                "drums": (25,),
            },
            {
                "bass": (33, 38),
                "comp": (0, 11),
                "keys": (73,),
                "pad": (89,),
                "lead": (73, 54),
                "solo": (73,),
                "drums": (0, 8),
            },
            {
                "bass": (38,),
                "comp": (4, 5),
                "pad": (91, 89),
                "lead": (54, 80),
                "solo": (81,),
                "drums": (25, 24),
            },
        ),
        patterns={
            "bass": {"main": ("hiphop",), "chorus": ("hiphop", "root_whole")},
            "comp": {"main": ("stabs", "pad_hold"), "chorus": ("pad_hold", "stabs")},
            "keys": {"main": ("hits", "arpeggio"), "chorus": ("pad_hold", "hits")},
        },
        grooves=("boombap", "trap"),
        melody_scale={"major": "major_pentatonic", "minor": "minor_pentatonic"},
        solo_scale={"major": "major_pentatonic", "minor": "minor_pentatonic"},
        melody_density=(0.4, 0.9),
        density=(0.3, 0.6),
        energy=(0.45, 0.8),
        humanize_ms=8,
        velocity_jitter=8,
        reverb=25,
        bends=0.05,
        forms=(
            ("intro", "verse", "chorus", "verse", "chorus", "bridge", "chorus", "outro"),
            ("intro", "chorus", "verse", "chorus", "verse", "chorus", "outro"),
        ),
        intro_from=("chorus",),
    )
)

_add(
    Style(
        name="jazz",
        tempo=(96, 200),
        meters=(4, 4, 3),
        swing=(0.6, 0.67),
        swing_unit=0.5,
        major_prob=0.7,
        progressions={
            "major": {
                "verse": (
                    "ii7 | V7 | Imaj7 | VI7",
                    "Imaj7 VI7 | ii7 V7 | iii7 VI7 | ii7 V7",
                    "Imaj7 | Imaj7 | ii7 | V7 | iii7 | VI7 | ii7 | V7",
                ),
                "chorus": ("IVmaj7 | iv7 | iii7 | VI7 | ii7 | V7 | Imaj7 | Imaj7", "iii7 | VI7 | ii7 | V7"),
                "pre-chorus": ("ii7 | V7 | ii7 | V7",),
                "bridge": ("III7 | III7 | VI7 | VI7 | II7 | II7 | V7 | V7",),
            },
            "minor": {
                "verse": ("iim7b5 | V7b9 | i7 | i7", "i7 | iv7 | iim7b5 V7b9 | i7"),
                "chorus": (
                    "bVImaj7 | iim7b5 | V7b9 | i7",
                    "iv7 | bVII7 | bIIImaj7 | bVImaj7 | iim7b5 | V7b9 | i7 | i7",
                ),
                "pre-chorus": ("iv7 | bVII7 | iim7b5 | V7b9",),
                "bridge": ("iv7 | iv7 | bVI7 | V7b9",),
            },
        },
        colors=("9", "13"),
        color_prob=0.35,
        ensembles=(
            {"bass": (32,), "comp": (0,), "lead": (65, 66), "solo": (65, 66, 0), "drums": (32, 40)},
            {"bass": (32,), "comp": (26,), "lead": (56, 57), "solo": (56, 26), "drums": (32,)},
            {"bass": (32,), "comp": (0, 4), "lead": (11,), "solo": (11, 0), "drums": (40, 32)},
            {"bass": (32, 33), "comp": (0,), "pad": (48,), "lead": (73, 65), "solo": (65, 0), "drums": (32,)},
        ),
        patterns={
            "bass": {"main": ("walking",), "chorus": ("walking",)},
            "comp": {"main": ("comping", "waltz"), "chorus": ("comping",)},
            "keys": {"main": ("pad_hold",), "chorus": ("pad_hold",)},
        },
        grooves=("swing", "jazz_waltz"),
        melody_scale={"major": "major", "minor": "dorian"},
        solo_scale={"major": "mixolydian", "minor": "dorian"},
        melody_density=(0.8, 1.8),
        density=(0.4, 0.75),
        energy=(0.25, 0.6),
        humanize_ms=14,
        velocity_jitter=12,
        reverb=55,
        bends=0.05,
        forms=(
            ("intro", "verse", "chorus", "instrumental", "instrumental", "verse", "chorus", "outro"),
            ("intro", "verse", "verse", "bridge", "verse", "instrumental", "verse", "outro"),
        ),
        intro_from=("chorus", "verse"),
        instrumental_from=("verse", "chorus"),
    )
)

_add(
    Style(
        name="metal",
        tempo=(96, 188),
        meters=(4,),
        swing=(0.5, 0.5),
        swing_unit=0.5,
        major_prob=0.08,
        progressions={
            "major": {
                "verse": ("I | bVII | IV | I", "I | I | bVI | bVII"),
                "chorus": ("IV | V | I | I", "bVI | bVII | I | I"),
                "pre-chorus": ("IV | IV | V | V",),
                "bridge": ("vi | IV | V | V",),
            },
            "minor": {
                "verse": (
                    "i | bVI | bVII | i",
                    "i | i | bII | i",
                    "i | bVII | bVI | bVII",
                    "i | i | i | bVI",
                ),
                "chorus": ("bVI | bVII | i | i", "bIII | bVII | bVI | V", "i | bVI | bIII | bVII"),
                "pre-chorus": ("iv | iv | bVI | V", "bII | bII | bVII | bVII"),
                "bridge": ("bVI | bVI | bVII | bVII", "iv | bVI | V | V"),
            },
        },
        colors=(),
        color_prob=0.0,
        ensembles=(
            {"bass": (34, 33), "comp": (30,), "lead": (30, 29), "solo": (30,), "drums": (16, 0)},
            {
                "bass": (34,),
                "comp": (30, 29),
                "pad": (52, 48),
                "keys": (19,),
                "lead": (52, 30),
                "solo": (30,),
                "drums": (16,),
            },
            {"bass": (33, 34), "comp": (29, 30), "lead": (29,), "solo": (29, 30), "drums": (0, 16)},
        ),
        patterns={
            "bass": {"main": ("eighths",), "chorus": ("eighths", "root_whole")},
            "comp": {"main": ("chug", "power8"), "chorus": ("power_sustain", "power8")},
            "keys": {"main": ("pad_hold",), "chorus": ("pad_hold",)},
        },
        grooves=("metal", "thrash"),
        melody_scale={"major": "mixolydian", "minor": "minor"},
        solo_scale={"major": "minor_pentatonic", "minor": "harmonic_minor"},
        melody_density=(0.8, 1.6),
        density=(0.75, 1.0),
        energy=(0.75, 1.0),
        humanize_ms=4,
        velocity_jitter=6,
        reverb=30,
        bends=0.1,
        forms=(
            (
                "intro",
                "verse",
                "pre-chorus",
                "chorus",
                "verse",
                "pre-chorus",
                "chorus",
                "instrumental",
                "bridge",
                "chorus",
                "outro",
            ),
            ("intro", "verse", "chorus", "verse", "chorus", "instrumental", "chorus", "outro"),
        ),
        intro_from=("verse", "chorus"),
    )
)

_add(
    Style(
        name="pop",
        tempo=(88, 128),
        meters=(4,),
        swing=(0.5, 0.53),
        swing_unit=0.25,
        major_prob=0.7,
        progressions={
            "major": {
                "verse": ("I | V | vi | IV", "vi | IV | I | V", "I | vi | IV | V", "I | iii | IV | IV"),
                "chorus": ("IV | I | V | vi", "I | V | vi | IV", "vi | IV | I | V", "IV | V | vi | vi"),
                "pre-chorus": ("ii | IV | V | V", "IV | V | vi | V", "vi | V | IV | V"),
                "bridge": ("vi | V | IV | IV", "ii | iii | IV | V", "IV | IV | vi | V"),
            },
            "minor": {
                "verse": ("i | bVI | bIII | bVII", "i | iv | bVI | bVII"),
                "chorus": ("bVI | bVII | i | i", "bVI | bIII | bVII | i", "i | bVII | bVI | bVII"),
                "pre-chorus": ("iv | bVI | bVII | bVII",),
                "bridge": ("bIII | bVII | iv | V",),
            },
        },
        colors=("add9", "sus4", "maj7"),
        color_prob=0.2,
        ensembles=(
            {
                "bass": (33, 38),
                "comp": (0,),
                "keys": (11, 46),
                "pad": (89, 88),
                "lead": (53, 54),
                "solo": (81, 80),
                "drums": (0, 24),
            },
            {
                "bass": (38, 33),
                "comp": (4, 5),
                "keys": (8, 98),
                "pad": (90, 89),
                "lead": (80, 81, 54),
                "solo": (81,),
                "drums": (24, 25),
            },
            {
                "bass": (33, 34),
                "comp": (25,),
                "keys": (0,),
                "pad": (48, 49),
                "lead": (53, 73),
                "solo": (29, 27),
                "drums": (0,),
            },
        ),
        patterns={
            "bass": {"main": ("pop", "root_whole"), "chorus": ("pop", "eighths")},
            "comp": {"main": ("arpeggio", "block", "strum"), "chorus": ("block", "strum")},
            "keys": {"main": ("arpeggio", "hits"), "chorus": ("arpeggio", "pad_hold")},
        },
        grooves=("pop", "pop16"),
        melody_scale={"major": "major", "minor": "minor"},
        solo_scale={"major": "major_pentatonic", "minor": "minor_pentatonic"},
        melody_density=(0.7, 1.4),
        density=(0.5, 0.8),
        energy=(0.5, 0.8),
        humanize_ms=6,
        velocity_jitter=8,
        reverb=50,
        bends=0.05,
        forms=_POP_FORMS,
        intro_from=("chorus", "verse"),
    )
)

_add(
    Style(
        name="reggae",
        tempo=(64, 92),
        meters=(4,),
        swing=(0.52, 0.6),
        swing_unit=0.25,
        major_prob=0.6,
        progressions={
            "major": {
                "verse": ("I | IV", "I | V | IV | V", "I | ii | IV | V"),
                "chorus": ("IV | V | I | I", "IV | I | V | I", "IV | V | iii | vi"),
                "pre-chorus": ("ii | V",),
                "bridge": ("vi | IV | I | V", "ii | V | ii | V"),
            },
            "minor": {
                "verse": ("i | iv", "i | bVII", "i7 | iv7"),
                "chorus": ("bVI | bVII | i | i", "iv | v | i | i", "bIII | bVII | i | i"),
                "pre-chorus": ("iv | bVII",),
                "bridge": ("bVI | bVII | iv | v",),
            },
        },
        colors=("7",),
        color_prob=0.1,
        ensembles=(
            {
                "bass": (33, 32),
                "comp": (27,),
                "keys": (16, 17),
                "lead": (22, 53),
                "solo": (56, 22),
                "drums": (0,),
            },
            {
                "bass": (33,),
                "comp": (27, 26),
                "keys": (17,),
                "lead": (56, 65),
                "solo": (56, 65),
                "drums": (8, 0),
            },
            {
                "bass": (38, 33),
                "comp": (0, 27),
                "keys": (16,),
                "lead": (53, 21),
                "solo": (21, 27),
                "drums": (0,),
            },
        ),
        patterns={
            "bass": {"main": ("reggae",), "chorus": ("reggae",)},
            "comp": {"main": ("skank",), "chorus": ("skank",)},
            "keys": {"main": ("bubble",), "chorus": ("bubble", "pad_hold")},
        },
        grooves=("one_drop", "steppers"),
        melody_scale={"major": "major_pentatonic", "minor": "minor_pentatonic"},
        solo_scale={"major": "major_pentatonic", "minor": "minor_pentatonic"},
        melody_density=(0.5, 1.1),
        density=(0.4, 0.65),
        energy=(0.35, 0.6),
        humanize_ms=9,
        velocity_jitter=8,
        reverb=55,
        bends=0.05,
        forms=_POP_FORMS,
        intro_from=("chorus", "verse"),
    )
)

_add(
    Style(
        name="rock",
        tempo=(98, 156),
        meters=(4,),
        swing=(0.5, 0.52),
        swing_unit=0.5,
        major_prob=0.7,
        progressions={
            "major": {
                "verse": ("I | bVII | IV | I", "I | IV | I | V", "I | I | IV | V", "vi | IV | I | V"),
                "chorus": ("IV | I | V | vi", "I | V | IV | IV", "IV | V | I | I", "I | bVII | IV | IV"),
                "pre-chorus": ("IV | IV | V | V", "ii | IV | V | V"),
                "bridge": ("vi | V | IV | IV", "bVI | bVII | I | I"),
            },
            "minor": {
                "verse": ("i | bVII | bVI | bVII", "i | iv | bVII | i"),
                "chorus": ("bVI | bVII | i | i", "i | bIII | bVII | iv"),
                "pre-chorus": ("iv | iv | V | V",),
                "bridge": ("bIII | bVII | bVI | V",),
            },
        },
        colors=("sus4",),
        color_prob=0.08,
        ensembles=(
            {
                "bass": (34, 33),
                "comp": (29,),
                "keys": (16,),
                "lead": (53, 29),
                "solo": (29, 30),
                "drums": (0, 8),
            },
            {
                "bass": (34,),
                "comp": (29, 30),
                "keys": (0,),
                "lead": (29, 52),
                "solo": (30,),
                "drums": (0, 16),
            },
            {"bass": (33,), "comp": (25, 29), "pad": (48,), "lead": (53, 27), "solo": (29,), "drums": (8,)},
        ),
        patterns={
            "bass": {"main": ("eighths", "pop"), "chorus": ("eighths",)},
            "comp": {"main": ("power8", "strum"), "chorus": ("power_sustain", "power8", "strum")},
            "keys": {"main": ("pad_hold",), "chorus": ("pad_hold", "block")},
        },
        grooves=("rock", "rock_half"),
        melody_scale={"major": "major", "minor": "minor"},
        solo_scale={"major": "minor_pentatonic", "minor": "minor_pentatonic"},
        melody_density=(0.7, 1.4),
        density=(0.6, 0.85),
        energy=(0.6, 0.9),
        humanize_ms=7,
        velocity_jitter=8,
        reverb=35,
        bends=0.15,
        forms=_POP_FORMS,
        intro_from=("verse", "chorus"),
    )
)


def get_style(name: str) -> Style:
    """The :class:`Style` called ``name``; a ``ValueError`` lists the known names otherwise."""
    try:
        return STYLE_DEFS[name]
    except KeyError:
        raise ValueError(f"unknown style {name!r}; known: {', '.join(STYLES)}") from None
