"""Labels that follow from a song's parameters: mood tags, the listening "station" and the melon genre.

A song's audible parameters (tempo, mode, energy, density, swing, instrumentation, style) give a few
perceptual features (arousal, valence, ...); each mood tag and each station is a fixed function of
those features, so the labels are learnable from the audio. Seed 004's stations are
외로울때 / 파티할때 / 집중할때 / 휴식할때, here ``lonely`` / ``party`` / ``focus`` / ``rest``; its four genres
(가요곡/엔카, R&B, 레게, J-ROCK) become groups of styles: ``kayo``, ``rnb``, ``reggae``, ``jrock``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

STATIONS = ("lonely", "party", "focus", "rest")
MELON_GENRES = ("kayo", "rnb", "reggae", "jrock")
GENRE_OF_STYLE = {
    "classical": "kayo",
    "country": "kayo",
    "blues": "kayo",
    "jazz": "rnb",
    "hiphop": "rnb",
    "disco": "rnb",
    "reggae": "reggae",
    "rock": "jrock",
    "metal": "jrock",
    "pop": "jrock",
}
STYLES_OF_GENRE = {g: tuple(s for s, gg in GENRE_OF_STYLE.items() if gg == g) for g in MELON_GENRES}

MOODS = (
    "energetic",
    "calm",
    "happy",
    "sad",
    "dark",
    "bright",
    "romantic",
    "groovy",
    "aggressive",
    "mellow",
    "dreamy",
    "nostalgic",
    "melancholic",
    "uplifting",
    "chill",
    "dramatic",
    "playful",
    "epic",
    "tense",
    "relaxed",
    "danceable",
    "warm",
    "soulful",
    "sunny",
    "lonely",
    "powerful",
    "peaceful",
    "party",
)
MAX_MOODS = 5

_ACOUSTIC = frozenset(
    {
        0,
        1,
        11,
        24,
        25,
        32,
        40,
        41,
        42,
        43,
        45,
        46,
        48,
        49,
        56,
        57,
        60,
        61,
        65,
        66,
        68,
        71,
        73,
        105,
        110,
        21,
        22,
    }
)
_SYNCOPATED = {
    "disco": 1.0,
    "hiphop": 1.0,
    "reggae": 1.0,
    "jazz": 0.8,
    "pop": 0.5,
    "blues": 0.5,
    "rock": 0.2,
    "country": 0.3,
    "metal": 0.1,
    "classical": 0.0,
}
_DANCE = {
    "disco": 1.0,
    "pop": 0.8,
    "hiphop": 0.7,
    "reggae": 0.6,
    "rock": 0.4,
    "country": 0.3,
    "blues": 0.2,
    "jazz": 0.2,
    "metal": 0.2,
    "classical": 0.0,
}
_OLD = {
    "classical": 1.0,
    "blues": 0.9,
    "jazz": 0.8,
    "country": 0.7,
    "reggae": 0.4,
    "disco": 0.4,
    "rock": 0.3,
    "metal": 0.1,
    "pop": 0.0,
    "hiphop": 0.0,
}


@dataclass(frozen=True)
class Features:
    """Perceptual summary of a song, every value in 0..1."""

    tempo: float
    energy: float
    density: float
    major: float
    swing: float
    acoustic: float
    distorted: float
    voice: float
    pad: float
    syncopation: float
    dance: float
    old: float
    arousal: float
    valence: float

    def to_dict(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in asdict(self).items()}


def features(
    style: str, bpm: float, mode: str, energy: float, density: float, swing: float, programs: dict[str, int]
) -> Features:
    """The perceptual features of a song with these parameters (``programs``: GM program per part)."""
    tempo = float(np.clip((bpm - 60) / 120, 0, 1))
    melodic = [p for part, p in programs.items() if part != "drums"]
    acoustic = sum(p in _ACOUSTIC for p in melodic) / max(1, len(melodic))
    distorted = float(programs.get("comp") in (29, 30))
    voice = float(programs.get("lead") in (52, 53, 54))
    dance = _DANCE[style] * float(np.exp(-(((bpm - 118) / 28) ** 2)))
    major = 1.0 if mode == "major" else 0.0
    arousal = float(np.clip(0.35 * tempo + 0.45 * energy + 0.2 * density, 0, 1))
    valence = float(np.clip(0.6 * major + 0.25 * tempo + 0.15 * (1 - distorted), 0, 1))
    return Features(
        tempo=tempo,
        energy=energy,
        density=density,
        major=major,
        swing=float(np.clip((swing - 0.5) / 0.17, 0, 1)),
        acoustic=acoustic,
        distorted=distorted,
        voice=voice,
        pad=float("pad" in programs),
        syncopation=_SYNCOPATED[style],
        dance=dance,
        old=_OLD[style],
        arousal=arousal,
        valence=valence,
    )


def mood_scores(f: Features) -> dict[str, float]:
    """How well each mood tag describes a song with features ``f`` (0..1)."""
    calm = 1 - f.arousal
    return {
        "energetic": f.arousal,
        "calm": calm,
        "happy": f.valence * (0.4 + 0.6 * f.arousal),
        "sad": (1 - f.valence) * calm,
        "dark": (1 - f.major) * (0.4 + 0.3 * f.distorted + 0.3 * (1 - f.tempo)),
        "bright": f.major * (1 - f.distorted) * (0.5 + 0.5 * f.tempo),
        "romantic": f.major * calm * (0.4 + 0.6 * f.acoustic),
        "groovy": 0.5 * f.syncopation + 0.5 * f.dance,
        "aggressive": f.distorted * f.arousal,
        "mellow": (1 - f.energy) * (1 - f.distorted) * (0.5 + 0.5 * f.acoustic),
        "dreamy": f.pad * calm,
        "nostalgic": 0.7 * f.old + 0.3 * (1 - f.tempo),
        "melancholic": (1 - f.major) * (1 - f.tempo),
        "uplifting": f.major * f.arousal * (1 - 0.5 * f.distorted),
        "chill": (1 - f.energy) * (0.4 + 0.6 * f.syncopation),
        "dramatic": (1 - f.major) * (0.5 * f.old + 0.5 * f.energy),
        "playful": f.major * f.tempo * (1 - f.distorted),
        "epic": f.energy * f.density * (0.5 + 0.5 * max(f.pad, f.distorted)),
        "tense": (1 - f.major) * f.tempo,
        "relaxed": calm * f.major,
        "danceable": f.dance,
        "warm": f.acoustic * f.major * (1 - 0.5 * f.arousal),
        "soulful": f.swing * (1 - f.distorted),
        "sunny": f.major * (0.4 * f.syncopation + 0.3 * (1 - f.old) + 0.3 * f.tempo) * (1 - f.distorted),
        "lonely": (1 - f.density) * (1 - f.major) * calm,
        "powerful": f.energy * (0.6 + 0.4 * f.distorted),
        "peaceful": calm * (1 - f.density),
        "party": f.dance * f.arousal,
    }


# each tag's 90th percentile score over a genre-balanced corpus (1000 songs, seed 7): a tag is given to
# a song scoring at least that, i.e. to roughly the top tenth of songs for each tag
_MOOD_SCALE = {
    "energetic": 0.727,
    "calm": 0.675,
    "happy": 0.656,
    "sad": 0.487,
    "dark": 0.666,
    "bright": 0.737,
    "romantic": 0.508,
    "groovy": 0.665,
    "aggressive": 0.707,
    "mellow": 0.617,
    "dreamy": 0.560,
    "nostalgic": 0.870,
    "melancholic": 0.796,
    "uplifting": 0.569,
    "chill": 0.593,
    "dramatic": 0.601,
    "playful": 0.473,
    "epic": 0.659,
    "tense": 0.558,
    "relaxed": 0.657,
    "danceable": 0.777,
    "warm": 0.731,
    "soulful": 0.815,
    "sunny": 0.640,
    "lonely": 0.319,
    "powerful": 0.782,
    "peaceful": 0.371,
    "party": 0.486,
}
AROUSAL_MIDDLE = 0.48  # the median arousal of that corpus: the stations' split between calm and lively


def choose_moods(f: Features) -> list[str]:
    """1 to 5 mood tags, best first: each tag scoring at least its usual top-tenth level (else the best)."""
    scores = mood_scores(f)
    relative = {m: scores[m] / _MOOD_SCALE[m] for m in MOODS}
    ranked = sorted(MOODS, key=lambda m: (-relative[m], MOODS.index(m)))
    picked = [m for m in ranked if relative[m] >= 1.0][:MAX_MOODS]
    return picked or ranked[:1]


def station_scores(f: Features) -> dict[str, float]:
    """How well each station fits a song with features ``f``; the station is the best.

    The four stations are the quadrants of (arousal, valence): party lively and positive, rest calm and
    positive, lonely calm and negative, focus lively and negative (driving minor-key music), with small
    pulls from danceability (party) and an instrumental lead (focus).
    """
    a = f.arousal - AROUSAL_MIDDLE
    v = f.valence - 0.5
    return {
        "lonely": -a - v,
        "party": a + v + 0.15 * f.dance,
        "focus": a - v + 0.1 * (1 - f.voice),
        "rest": -a + v,
    }


def choose_station(f: Features) -> str:
    scores = station_scores(f)
    return max(STATIONS, key=lambda s: (scores[s], -STATIONS.index(s)))
