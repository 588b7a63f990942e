"""A song's plan: every random choice (tempo, key, mode, instruments, progressions, melodies, form).

:func:`make_plan` is the only place a song's seed is turned into decisions; the arrangement and the
renderers only carry them out. Each aspect draws from its own child generator of the song's seed, so
one aspect's draws do not shift another's.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import labels as lab
from .drums import GROOVES, LEVELS, groove_for_meter
from .melody import Cell, MelNote, add_bends, compose_phrase, make_cell
from .metadata import Album, Artist, lyric_words, pick_artist, song_title
from .structure import FormSection, plan_form, section_energy
from .styles import Style, get_style
from .theory import Chord, key_name, parse_numeral

FORMS = ("excerpt", "full")
ROLES = ("verse", "chorus", "pre-chorus", "bridge")
# parts every section of a label plays, and the odds of each optional part
SECTION_PARTS: dict[str, tuple[frozenset[str], dict[str, float]]] = {
    "intro": (frozenset({"comp"}), {"drums": 0.5, "bass": 0.5, "keys": 0.4, "pad": 0.5}),
    "verse": (frozenset({"drums", "bass", "comp", "lead"}), {"keys": 0.3, "pad": 0.25}),
    "pre-chorus": (frozenset({"drums", "bass", "comp", "lead"}), {"keys": 0.5, "pad": 0.6}),
    "chorus": (frozenset({"drums", "bass", "comp", "lead"}), {"keys": 0.8, "pad": 0.85}),
    "bridge": (frozenset({"bass", "comp"}), {"drums": 0.6, "keys": 0.6, "pad": 0.7, "lead": 0.7}),
    "instrumental": (frozenset({"drums", "bass", "comp", "solo"}), {"keys": 0.5, "pad": 0.3}),
    "outro": (frozenset({"comp"}), {"bass": 0.7, "drums": 0.5, "pad": 0.6, "keys": 0.4, "lead": 0.25}),
}
DRUM_LEVEL = {
    "intro": "light",
    "verse": "main",
    "pre-chorus": "main",
    "chorus": "busy",
    "bridge": "light",
    "instrumental": "main",
    "outro": "light",
}
_TOKEN = re.compile(r"^(b|#)?(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(o|\+)?(.*)$")


@dataclass
class Material:
    """A progression one or more sections play: one phrase of bars, and the melody over it."""

    name: str
    progression: str  # roman numerals, bars separated by "|"
    bars: list[list[tuple[float, float, Chord]]]  # one phrase: per bar, (offset, length, chord)
    cells: list[Cell] = field(default_factory=list)
    statement: list[MelNote] = field(default_factory=list)  # melody of odd phrases
    answer: list[MelNote] = field(default_factory=list)  # melody of even phrases

    @property
    def phrase_bars(self) -> int:
        return len(self.bars)


@dataclass
class Arrangement:
    """How a label's sections are played: parts, pattern per part and its figure, drum level."""

    parts: frozenset[str]
    patterns: dict[str, str]
    variants: dict[str, int]
    drum_level: str


@dataclass
class PlannedSection:
    """A section of the plan: label, material, which repeat, where (bars), energy, arrangement."""

    label: str
    material: str
    instance: int
    start_bar: int
    bars: int
    energy: float
    arrangement: Arrangement


@dataclass
class SongPlan:
    """Everything decided about one song before a note is written."""

    style: Style
    seed: int
    form: str
    bpm: float
    us_per_beat: int
    meter: int
    swing: float
    tonic: int
    mode: str
    energy: float
    density: float
    programs: dict[str, int]  # part -> GM program ("drums" -> drum kit)
    groove: str | None
    materials: dict[str, Material]
    sections: list[PlannedSection]
    window_bar: int  # first bar of the rendered excerpt
    seconds: float  # rendered length
    artist: Artist
    album: Album
    features: lab.Features
    moods: list[str]
    station: str
    genre: str
    lyrics: list[str]
    title: str
    arrange_seed: int

    @property
    def bar_seconds(self) -> float:
        return self.meter * self.us_per_beat / 1e6

    @property
    def total_bars(self) -> int:
        return sum(s.bars for s in self.sections)

    @property
    def key(self) -> str:
        return key_name(self.tonic, self.mode)


def _color(token: str, color: str) -> str:
    """``token`` with a chord colour added where it makes sense (sus/add9 on major triads, 7 -> 9 ...)."""
    m = _TOKEN.match(token)
    if not m:
        return token
    acc, degree, alt, suffix = m.groups()
    upper = degree.isupper() and alt is None
    if suffix == "" and color in ("sus4", "sus2", "add9") and upper:
        return token + color
    if suffix == "" and color == "maj7" and upper and (acc or "") + degree in ("I", "IV", "bIII", "bVI"):
        return token + color
    if suffix == "" and color == "7" and alt is None:
        return token + "7"
    if suffix == "7" and color in ("9", "13") and (upper or color == "9"):
        return token[:-1] + color
    return token


def _split_bar(n_chords: int, meter: int) -> list[tuple[float, float]]:
    if n_chords == 1:
        return [(0.0, float(meter))]
    if n_chords == 2:
        first = math.ceil(meter / 2)
        return [(0.0, float(first)), (float(first), float(meter - first))]
    step = meter / n_chords
    return [(i * step, step) for i in range(n_chords)]


def make_material(
    name: str, progression: str, style: Style, tonic: int, meter: int, rng: np.random.Generator
) -> Material:
    """A material from a progression: colours added, the phrase padded to four bars or more."""
    bars_text = [bar.split() for bar in progression.split("|")]
    bars_text = [
        [
            _color(t, str(rng.choice(style.colors)))
            if style.colors and rng.random() < style.color_prob
            else t
            for t in bar
        ]
        for bar in bars_text
    ]
    while len(bars_text) < 4:
        bars_text = bars_text + bars_text
    bars = []
    for bar in bars_text:
        bars.append(
            [
                (off, length, parse_numeral(tok, tonic))
                for (off, length), tok in zip(_split_bar(len(bar), meter), bar, strict=True)
            ]
        )
    return Material(name, " | ".join(" ".join(b) for b in bars_text), bars)


def _compose_melody(
    material: Material,
    style: Style,
    tonic: int,
    mode: str,
    meter: int,
    density: float,
    center: int,
    hook: bool,
    rng: np.random.Generator,
) -> None:
    """Give ``material`` its rhythm cells and its statement and answer phrases (a hook for the chorus)."""
    scale = style.melody_scale[mode]
    fine = density > 1.3
    a = make_cell(meter, density, rng, fine)
    b = make_cell(meter, density * 0.8, rng, fine)
    material.cells = [a, a, b, a] if not hook else [a, a, a, b]
    material.statement = add_bends(
        compose_phrase(material.bars, meter, tonic, scale, center, material.cells, False, rng),
        style.bends,
        rng,
    )
    material.answer = add_bends(
        compose_phrase(
            material.bars,
            meter,
            tonic,
            scale,
            center,
            [b, a, b, a] if not hook else material.cells,
            True,
            rng,
        ),
        style.bends,
        rng,
    )


def _arrangement(
    label: str,
    style: Style,
    available: frozenset[str],
    energy: float,
    density: float,
    rng: np.random.Generator,
) -> Arrangement:
    """How the first section of ``label`` is played; denser songs take more optional parts, busier drums."""
    base, optional = SECTION_PARTS[label]
    parts = set(base)
    for part, p in optional.items():
        if rng.random() < min(1.0, p * (0.5 + density)):
            parts.add(part)
    parts &= available
    if not parts & {"comp", "keys", "pad"}:
        parts.add("comp")
    role = "chorus" if label in ("chorus", "instrumental") else "main"
    patterns, variants = {}, {}
    for part in ("bass", "comp", "keys"):
        pool = (
            style.patterns.get(part, {}).get(role)
            or style.patterns.get(part, {}).get("main")
            or ("pad_hold",)
        )
        patterns[part] = str(rng.choice(pool))
        variants[part] = int(rng.integers(0, 6))
    patterns["pad"] = "pad_hold"
    variants["pad"] = 0
    level = DRUM_LEVEL[label]
    drive = 0.6 * energy + 0.4 * density
    if drive < 0.4 and level != "light":
        level = LEVELS[LEVELS.index(level) - 1]
    elif drive > 0.75 and level != "busy" and label not in ("intro", "outro"):
        level = LEVELS[LEVELS.index(level) + 1]
    return Arrangement(frozenset(parts), patterns, variants, level)


def _vary_arrangement(
    first: Arrangement, optional: dict[str, float], available: frozenset[str], rng: np.random.Generator
) -> Arrangement:
    """A repeat's arrangement: the first one's, with one optional part added or dropped half the time."""
    parts = set(first.parts)
    toggles = sorted(p for p in optional if p in available)
    if toggles and rng.random() < 0.5:
        part = toggles[int(rng.integers(len(toggles)))]
        parts ^= {part}
    if not parts & {"comp", "keys", "pad"}:
        parts.add("comp")
    return Arrangement(frozenset(parts), dict(first.patterns), dict(first.variants), first.drum_level)


def style_seed(style: str, seed: int) -> np.random.SeedSequence:
    """The root of a song's random streams: its seed and its style (so styles with one seed differ)."""
    return np.random.SeedSequence([int(seed) & 0xFFFFFFFF, zlib.crc32(style.encode())])


def make_plan(style_name: str, seconds: float, seed: int, form: str = "excerpt") -> SongPlan:
    """Draw every decision for a song of ``style_name``, ``seconds`` long (at least, for ``form="full"``).

    ``form="excerpt"`` plans a whole song of natural length and renders ``seconds`` of it from a random
    bar line; ``form="full"`` plans a complete song as close to ``seconds`` as whole phrases allow
    (never shorter), with silence before (sometimes) and after it.
    """
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    style = get_style(style_name)
    rng_meta, rng_params, rng_mat, rng_form, rng_arr, rng_seed = (
        np.random.default_rng(s) for s in style_seed(style_name, seed).spawn(6)
    )
    artist, album = pick_artist(style.name, rng_meta)
    # -- global parameters
    low, high = style.tempo
    u = float(np.clip(rng_params.beta(2, 2) + 0.25 * artist.tempo_bias, 0, 1))
    us_per_beat = int(round(60e6 / (low + u * (high - low))))
    bpm = 60e6 / us_per_beat
    meter = int(rng_params.choice(style.meters))
    swing = float(rng_params.uniform(*style.swing))
    major_p = float(np.clip(style.major_prob + artist.major_bias + album.valence_bias, 0.02, 0.98))
    mode = "major" if rng_params.random() < major_p else "minor"
    tonic = int(rng_params.integers(12))
    energy = float(np.clip(rng_params.uniform(*style.energy) + artist.energy_bias, 0, 1))
    density = float(rng_params.uniform(*style.density))
    ensemble = style.ensembles[int(rng_params.integers(len(style.ensembles)))]
    programs = {part: int(rng_params.choice(pool)) for part, pool in ensemble.items()}
    groove = None
    if "drums" in programs and style.grooves:
        fitting = [
            g for g in style.grooves if GROOVES[g]["meter"] == meter and bpm <= GROOVES[g].get("max_bpm", 999)
        ]
        groove = str(rng_params.choice(fitting)) if fitting else groove_for_meter(style.grooves[0], meter)
    # -- materials: one progression per role, verse and chorus different
    progs = style.progressions[mode]
    materials: dict[str, Material] = {}
    used: set[str] = set()
    for role in ROLES + (("intro",) if "intro" in progs else ()):
        pool = [p for p in progs[role] if p not in used] or list(progs[role])
        text = pool[int(rng_mat.integers(len(pool)))]
        used.add(text)
        materials[role] = make_material(role, text, style, tonic, meter, rng_mat)
    lead_center = 67 + (3 if rng_mat.random() < 0.5 else 0)
    mel_density = float(rng_mat.uniform(*style.melody_density)) * (0.8 + 0.4 * density)
    for role in ROLES:
        center = lead_center + (
            4 if role == "chorus" else 2 if role == "pre-chorus" else -2 if role == "bridge" else 0
        )
        dens = mel_density * (1.15 if role == "chorus" else 0.85 if role == "bridge" else 1.0)
        _compose_melody(materials[role], style, tonic, mode, meter, dens, center, role == "chorus", rng_mat)
    intro_src = "intro" if "intro" in materials else str(rng_form.choice(style.intro_from))
    material_of = {
        "intro": intro_src,
        "verse": "verse",
        "pre-chorus": "pre-chorus",
        "chorus": "chorus",
        "bridge": "bridge",
        "instrumental": str(rng_form.choice(style.instrumental_from)),
        "outro": "chorus" if intro_src != "intro" else "intro",
    }
    phrase_bars = {name: m.phrase_bars for name, m in materials.items()}
    # -- form
    bar_seconds = meter * us_per_beat / 1e6
    template = style.forms[int(rng_form.integers(len(style.forms)))]
    if form == "full":
        target = seconds
    else:
        target = max(seconds + 2 * bar_seconds, float(rng_form.uniform(150, 240)))
    form_sections: list[FormSection] = plan_form(template, material_of, phrase_bars, bar_seconds, target)
    if form == "full":
        lead_in = [FormSection("silence", 1, "silence", 0)] if rng_form.random() < 0.4 else []
        form_sections = lead_in + form_sections + [FormSection("silence", 1, "silence", len(lead_in))]
    # -- arrangement per section: first instance of a label draws it, repeats vary it
    available = frozenset(programs)
    firsts: dict[str, Arrangement] = {}
    sections: list[PlannedSection] = []
    bar = 0
    for fs in form_sections:
        e = section_energy(fs.label, fs.instance, rng_arr)
        if fs.label == "silence":
            arrangement = Arrangement(frozenset(), {}, {}, "light")
        elif fs.label not in firsts:
            arrangement = firsts[fs.label] = _arrangement(
                fs.label, style, available, e * (0.5 + energy), density, rng_arr
            )
        else:
            arrangement = _vary_arrangement(firsts[fs.label], SECTION_PARTS[fs.label][1], available, rng_arr)
        sections.append(PlannedSection(fs.label, fs.material, fs.instance, bar, fs.bars, e, arrangement))
        bar += fs.bars
    if form == "full":
        window_bar, length = 0, bar * bar_seconds
    else:
        need = math.ceil(seconds / bar_seconds - 1e-9)
        window_bar, length = int(rng_form.integers(0, max(0, bar - need) + 1)), float(seconds)
    # -- labels and metadata
    feats = lab.features(style.name, bpm, mode, energy, density, swing, programs)
    moods = lab.choose_moods(feats)
    lyrics = lyric_words(style.name, moods, rng_meta)
    title = song_title(style.name, lyrics, key_name(tonic, mode), moods, rng_meta)
    return SongPlan(
        style=style,
        seed=int(seed),
        form=form,
        bpm=bpm,
        us_per_beat=us_per_beat,
        meter=meter,
        swing=swing,
        tonic=tonic,
        mode=mode,
        energy=energy,
        density=density,
        programs=programs,
        groove=groove,
        materials=materials,
        sections=sections,
        window_bar=window_bar,
        seconds=length,
        artist=artist,
        album=album,
        features=feats,
        moods=moods,
        station=lab.choose_station(feats),
        genre=lab.GENRE_OF_STYLE[style.name],
        lyrics=lyrics,
        title=title,
        arrange_seed=int(rng_seed.integers(2**31)),
    )
