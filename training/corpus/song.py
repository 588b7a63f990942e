"""``generate_song``: one song's audio and its complete ground truth.

The truth is exact by construction: section and phrase boundaries lie on bar lines of a constant
tempo whose beat is a whole number of microseconds (fluidsynth may sound an onset up to 64 samples
late). All times are seconds from the start of the returned audio.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass, field

import numpy as np

from .arrange import arrange
from .plan import ROLES, SongPlan, make_plan
from .render import master, render_score, resolve_synth
from .structure import SALAMI_FUNCTIONS
from .styles import VOICE_PROGRAMS


@dataclass(frozen=True)
class Section:
    """A section: start and end seconds, label (intro, verse, ...), SALAMI upper-case letter and function."""

    start: float
    end: float
    label: str
    letter: str
    function: str
    progression: str = ""  # the chords it cycles through, in roman numerals ("I | V | vi | IV")


@dataclass(frozen=True)
class Segment:
    """A labelled time span: a phrase (lower-case letter) or a chord (symbol)."""

    start: float
    end: float
    label: str


@dataclass
class SongTruth:
    """Everything known about a generated song; :meth:`to_dict` gives the JSON record of ``corpus.json``."""

    style: str
    seed: int
    form: str
    synth: str
    sample_rate: int
    duration: float
    n_samples: int
    excerpt_start: float  # where the audio starts within the whole planned song, seconds
    tempo: float
    meter: int
    bar_seconds: float
    key: str
    tonic: int
    mode: str
    swing: float
    energy: float
    density: float
    programs: dict[str, int]
    groove: str | None
    vocal_lead: bool
    sections: list[Section]
    phrases: list[Segment]
    chords: list[Segment]
    downbeats: list[float]
    moods: list[str]
    station: str
    genre: str
    artist: str
    artist_id: int
    album: str
    album_id: int
    title: str
    lyrics: list[str]
    features: dict[str, float]
    id: str = ""
    paths: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("duration", "excerpt_start", "tempo", "bar_seconds", "swing", "energy", "density"):
            d[key] = round(d[key], 6)
        for key in ("sections", "phrases", "chords"):
            for item in d[key]:
                item["start"], item["end"] = round(item["start"], 6), round(item["end"], 6)
        d["downbeats"] = [round(x, 6) for x in d["downbeats"]]
        return d


@dataclass
class Song:
    """A generated song: mono float32 ``audio`` at ``sample_rate``, and its ``truth``."""

    audio: np.ndarray
    sample_rate: int
    truth: SongTruth


def _letter(i: int, upper: bool) -> str:
    alphabet = string.ascii_uppercase if upper else string.ascii_lowercase
    return alphabet[i] if i < 26 else alphabet[i // 26 - 1] + alphabet[i % 26]


def structure_truth(plan: SongPlan) -> tuple[list[Section], list[Segment]]:
    """Sections and phrases of the whole planned song (seconds from its start), with SALAMI letters.

    Upper case: one letter per material (progression) in order of appearance, primed where a section
    plays another's material without its melody (intro, outro, instrumental). Lower case: one letter
    per distinct phrase (material and what the lead does: statement, answer, solo or nothing).
    """
    bar_s = plan.bar_seconds
    upper: dict[str, int] = {}
    lower: dict[tuple[str, str], int] = {}
    sections: list[Section] = []
    phrases: list[Segment] = []
    for sec in plan.sections:
        start, end = sec.start_bar * bar_s, (sec.start_bar + sec.bars) * bar_s
        if sec.label == "silence":
            sections.append(Section(start, end, "silence", "Silence", "Silence"))
            phrases.append(Segment(start, end, "Silence"))
            continue
        upper.setdefault(sec.material, len(upper))
        letter = _letter(upper[sec.material], True) + ("" if sec.label == sec.material else "'")
        progression = plan.materials[sec.material].progression
        sections.append(Section(start, end, sec.label, letter, SALAMI_FUNCTIONS[sec.label], progression))
        phrase_bars = plan.materials[sec.material].phrase_bars
        sings = "lead" in sec.arrangement.parts and sec.material in ROLES
        for k, first in enumerate(range(0, sec.bars, phrase_bars)):
            if "solo" in sec.arrangement.parts:
                role = "solo"
            elif sings:
                role = "statement" if k % 2 == 0 else "answer"
            else:
                role = "accompaniment"
            key = (sec.material, role)
            lower.setdefault(key, len(lower))
            p_start = (sec.start_bar + first) * bar_s
            p_end = min(end, p_start + phrase_bars * bar_s)
            phrases.append(Segment(p_start, p_end, _letter(lower[key], False)))
    return sections, phrases


def _clip(items: list, start: float, end: float, duration: float) -> list:
    """Items (with start/end) overlapping [start, end), shifted to start at 0 and cut to ``duration``.

    ``duration`` is the audio's length (whole samples); it differs from ``end - start`` by under a sample.
    """
    out = []
    for it in items:
        s, e = max(it.start, start) - start, min(it.end, end) - start
        if e - s > 1e-9:
            out.append(type(it)(**{**asdict(it), "start": s, "end": e}))
    if out:
        out[-1] = type(out[-1])(**{**asdict(out[-1]), "end": duration})
    return out


def generate_song(
    style: str,
    seconds: float = 30.0,
    seed: int = 0,
    sample_rate: int = 22050,
    synth: str = "auto",
    form: str = "excerpt",
    soundfont: str | None = None,
) -> Song:
    """Generate one song of ``style`` and return its audio and ground truth.

    ``form="excerpt"`` (default): exactly ``seconds`` of audio, cut at a bar line from a whole song of
    natural length, as GTZAN's clips are. ``form="full"``: a complete song (intro to outro, with silence
    after it and sometimes before) at least ``seconds`` long, rounded up to whole phrases.
    ``synth`` is ``auto`` (fluidsynth if installed, else numpy), ``fluidsynth`` or ``numpy``. The same
    arguments give the same samples, bit for bit, on a given machine and synth.
    """
    if not isinstance(sample_rate, int | np.integer) or not 4000 <= int(sample_rate) <= 96000:
        raise ValueError(f"sample_rate must be an integer between 4000 and 96000, got {sample_rate!r}")
    used = resolve_synth(synth, soundfont)
    plan = make_plan(style, float(seconds), int(seed), form)
    need_bars = -(-plan.seconds // plan.bar_seconds)
    score = arrange(plan, max(0, plan.window_bar - 1), plan.window_bar + int(need_bars) + 1)
    sr = int(sample_rate)
    start_s = plan.window_bar * plan.bar_seconds
    length = plan.seconds
    raw = render_score(
        score, start_s, length, sr, used, plan.arrange_seed, soundfont, preroll_s=plan.bar_seconds
    )
    sections_all, phrases_all = structure_truth(plan)
    end_s = start_s + length
    duration = len(raw) / sr
    sections = _clip(sections_all, start_s, end_s, duration)
    silences = [(s.start, s.end) for s in sections if s.label == "silence"]
    audio = master(raw, plan.energy, sr, silences)
    spb = plan.us_per_beat / 1e6
    chords = _clip([Segment(a * spb, b * spb, c) for a, b, c in score.chords], start_s, end_s, duration)
    downbeats = [
        b * plan.bar_seconds - start_s
        for b in range(plan.window_bar, plan.total_bars + 1)
        if b * plan.bar_seconds - start_s < length - 1e-9
    ]
    truth = SongTruth(
        style=plan.style.name,
        seed=plan.seed,
        form=form,
        synth=used,
        sample_rate=sr,
        duration=duration,
        n_samples=len(audio),
        excerpt_start=start_s,
        tempo=plan.bpm,
        meter=plan.meter,
        bar_seconds=plan.bar_seconds,
        key=plan.key,
        tonic=plan.tonic,
        mode=plan.mode,
        swing=plan.swing,
        energy=plan.energy,
        density=plan.density,
        programs=dict(plan.programs),
        groove=plan.groove,
        vocal_lead=plan.programs.get("lead") in VOICE_PROGRAMS,
        sections=sections,
        phrases=_clip(phrases_all, start_s, end_s, duration),
        chords=chords,
        downbeats=downbeats,
        moods=list(plan.moods),
        station=plan.station,
        genre=plan.genre,
        artist=plan.artist.name,
        artist_id=plan.artist.artist_id,
        album=plan.album.name,
        album_id=plan.album.album_id,
        title=plan.title,
        lyrics=list(plan.lyrics),
        features=plan.features.to_dict(),
    )
    return Song(audio=audio, sample_rate=sr, truth=truth)
