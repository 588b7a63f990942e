"""Artists, albums, titles and lyric words that go with the music, for metadata fusion (seed 004).

The roster is fixed (it does not depend on the corpus seed), so artist and album ids mean the same in
every corpus. Each artist has a home style and leanings (mode, energy, tempo) that bias the songs it
plays; each album leans happier or sadder; lyric words are drawn from word lists of the song's moods.
So artist, album and lyrics all correlate with the labels without giving them away.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .styles import STYLES

ARTISTS_PER_STYLE = 6
ALBUMS_PER_ARTIST = 3
CROSSOVER = 0.15  # share of songs played by an artist from another style

_NAME_PARTS = {
    "blues": (
        ("Muddy", "Big", "Blind", "Howlin'", "Slim", "T-Bone", "Memphis", "Sweet"),
        ("Jackson", "Walker", "Hooker", "Brown", "Willie", "Johnson", "King", "Dixon"),
        ("Delta", "Midnight", "Crossroad", "Rusty", "Smokey"),
        ("Kings", "Rollers", "Rounders", "Hounds"),
    ),
    "classical": (
        ("Anna", "Ludwig", "Clara", "Franz", "Sergei", "Amadea", "Felix", "Nadia"),
        ("Weber", "Lindqvist", "Moravec", "Castellano", "Haydn", "Novak", "Richter", "Brandt"),
        ("Chamber", "Royal", "Baroque", "Aurora", "Philharmonic"),
        ("Quartet", "Ensemble", "Sinfonietta", "Consort"),
    ),
    "country": (
        ("Dolly", "Hank", "Loretta", "Billy", "Waylon", "June", "Travis", "Patsy"),
        ("Carter", "Haggard", "Tucker", "Jennings", "Wells", "Cash", "Owens", "Twain"),
        ("Dusty", "Lonesome", "Prairie", "Whiskey", "Red Dirt"),
        ("Ramblers", "Drifters", "Pickers", "Ranch Hands"),
    ),
    "disco": (
        ("Donna", "Gloria", "Barry", "Chic", "Sylvester", "Diana", "Nile", "Thelma"),
        ("Summer", "Gaynor", "White", "Houston", "Ross", "Rodgers", "James", "Day"),
        ("Mirrorball", "Studio", "Velvet", "Boogie", "Starlight"),
        ("Machine", "Affair", "Express", "Connection"),
    ),
    "hiphop": (
        ("MC", "Lil", "DJ", "Young", "Kool", "Big", "Prince", "Lady"),
        ("Flow", "Rhymes", "Breaks", "Cipher", "Verse", "Static", "Jay", "Smoke"),
        ("Concrete", "Boom Bap", "Basement", "Block", "Midnight"),
        ("Crew", "Collective", "Squad", "Clique"),
    ),
    "jazz": (
        ("Miles", "Ella", "Thelonious", "Chet", "Sarah", "Dexter", "Billie", "Cannonball"),
        ("Davis", "Monk", "Baker", "Vaughan", "Gordon", "Holiday", "Adderley", "Evans"),
        ("Blue", "Moonlight", "Smoky", "Velvet", "After Hours"),
        ("Trio", "Quintet", "Combo", "Septet"),
    ),
    "metal": (
        ("Iron", "Black", "Steel", "Doom", "Grim", "Burning", "Dead", "Thunder"),
        ("Raven", "Serpent", "Anvil", "Throne", "Reaper", "Wolf", "Skull", "Storm"),
        ("Iron", "Black", "Molten", "Cursed", "Frozen"),
        ("Wolves", "Legion", "Reapers", "Hammers"),
    ),
    "pop": (
        ("Taylor", "Ariana", "Harry", "Dua", "Shawn", "Billie", "Katy", "Bruno"),
        ("Swift", "Grande", "Styles", "Lipa", "Mendes", "Perry", "Mars", "Gold"),
        ("Neon", "Sugar", "Paper", "Glitter", "Candy"),
        ("Hearts", "Dreams", "Kids", "Lights"),
    ),
    "reggae": (
        ("Bob", "Peter", "Toots", "Jimmy", "Burning", "Gregory", "Dennis", "Marcia"),
        ("Marley", "Tosh", "Hibbert", "Cliff", "Spear", "Isaacs", "Brown", "Griffiths"),
        ("Island", "Roots", "Zion", "Sunsplash", "Trenchtown"),
        ("Wailers", "Rockers", "Lions", "Sound"),
    ),
    "rock": (
        ("Johnny", "Ziggy", "Joan", "Axl", "Patti", "Angus", "Stevie", "Chrissie"),
        ("Stone", "Rider", "Jett", "Rose", "Smith", "Young", "Nicks", "Hynde"),
        ("Electric", "Rolling", "Wild", "Broken", "Rebel"),
        ("Stones", "Riders", "Rebels", "Machines"),
    ),
}

# words for lyrics, titles and album names, one list per mood
MOOD_WORDS = {
    "energetic": ("run", "fire", "faster", "alive", "jump", "rush", "electric", "wild"),
    "calm": ("still", "quiet", "breathe", "slow", "soft", "water", "easy", "gentle"),
    "happy": ("smile", "sunshine", "laugh", "together", "golden", "joy", "shine", "yeah"),
    "sad": ("tears", "goodbye", "cry", "grey", "lost", "rain", "sorrow", "gone"),
    "dark": ("shadow", "night", "black", "cold", "grave", "void", "abyss", "ashes"),
    "bright": ("light", "morning", "clear", "sky", "glow", "spark", "day", "colors"),
    "romantic": ("love", "kiss", "darling", "forever", "heart", "moonlight", "yours", "tender"),
    "groovy": ("groove", "move", "funky", "bounce", "rhythm", "slide", "feel", "get down"),
    "aggressive": ("rage", "war", "blood", "scream", "break", "fury", "steel", "destroy"),
    "mellow": ("drift", "haze", "velvet", "lazy", "warm", "smooth", "hush", "linger"),
    "dreamy": ("dream", "float", "stars", "clouds", "sleep", "wonder", "echo", "mist"),
    "nostalgic": ("remember", "yesterday", "old", "home", "memory", "photograph", "back then", "hometown"),
    "melancholic": ("alone", "fading", "autumn", "empty", "distant", "ache", "winter", "longing"),
    "uplifting": ("rise", "higher", "believe", "free", "soar", "hope", "wings", "tomorrow"),
    "chill": ("chill", "vibe", "breeze", "cruise", "lay back", "sunday", "mellow", "cool"),
    "dramatic": ("fate", "storm", "destiny", "thunder", "crown", "tragedy", "blaze", "epic"),
    "playful": ("bubble", "skip", "silly", "candy", "bounce", "tickle", "game", "giggle"),
    "epic": ("legend", "kingdom", "glory", "battle", "mountain", "ocean", "hero", "empire"),
    "tense": ("edge", "tight", "pressure", "wait", "nerve", "chase", "clock", "danger"),
    "relaxed": ("rest", "porch", "hammock", "slow down", "easy", "shade", "unwind", "afternoon"),
    "danceable": ("dance", "floor", "tonight", "lights", "spin", "boogie", "party", "club"),
    "warm": ("fireplace", "blanket", "embrace", "tea", "glow", "honey", "kind", "home"),
    "soulful": ("soul", "church", "deep", "preach", "mercy", "feeling", "sweet", "lord"),
    "sunny": ("beach", "summer", "island", "palm", "sun", "wave", "holiday", "sand"),
    "lonely": ("lonely", "nobody", "empty room", "one", "silence", "waiting", "phone", "solitude"),
    "powerful": ("power", "strong", "stand", "fight", "loud", "unstoppable", "force", "roar"),
    "peaceful": ("peace", "meadow", "river", "pray", "calm", "harmony", "dawn", "garden"),
    "party": ("party", "drinks", "weekend", "friends", "all night", "celebrate", "crowd", "loud"),
}
STYLE_WORDS = {
    "blues": ("baby", "whiskey", "train", "mama", "woke up", "trouble"),
    "country": ("truck", "road", "whiskey", "county", "boots", "dirt road"),
    "disco": ("boogie", "disco", "night fever", "mirror", "glitter", "funk"),
    "hiphop": ("block", "hustle", "mic", "streets", "flow", "crew"),
    "metal": ("iron", "hell", "chains", "metal", "doom", "blade"),
    "pop": ("baby", "tonight", "oh", "crush", "heart", "forever"),
    "reggae": ("jah", "zion", "babylon", "roots", "irie", "one love"),
    "rock": ("rock", "road", "rebel", "highway", "guitar", "city"),
    "jazz": ("blue", "moon", "swing", "cafe", "smoke", "midnight"),
    "classical": (),
}
FILLER_WORDS = ("time", "you", "me", "world", "way", "night", "life", "again", "never", "always")
INSTRUMENTAL_STYLES = {"classical": 1.0, "jazz": 0.6}  # chance a song of the style has no lyrics
_CLASSICAL_FORMS = ("Sonata", "Prelude", "Nocturne", "Etude", "Serenade", "Waltz", "Fantasia", "Romance")


@dataclass(frozen=True)
class Album:
    album_id: int
    name: str
    artist_id: int
    year: int
    valence_bias: float  # leans to major (>0) or minor (<0)


@dataclass(frozen=True)
class Artist:
    """An artist with a home style and leanings that bias the songs it plays."""

    artist_id: int
    name: str
    style: str
    kind: str  # "solo" or "group"
    debut_year: int
    major_bias: float  # added to the style's odds of the major mode
    energy_bias: float  # added to the song's energy
    tempo_bias: float  # -1..1, where in the style's tempo range songs tend to fall
    albums: tuple[Album, ...]


def _stable_rng(*keys: object) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(k).encode()) for k in keys])


def _build_roster() -> tuple[Artist, ...]:
    artists = []
    all_moods = list(MOOD_WORDS)
    for s_idx, style in enumerate(STYLES):
        firsts, lasts, adjectives, nouns = _NAME_PARTS[style]
        rng = _stable_rng("roster", style)
        used = set()
        for k in range(ARTISTS_PER_STYLE):
            artist_id = 1000 + s_idx * 100 + k
            while True:
                if rng.random() < 0.5:
                    kind, name = "solo", f"{rng.choice(firsts)} {rng.choice(lasts)}"
                else:
                    kind, name = "group", f"The {rng.choice(adjectives)} {rng.choice(nouns)}"
                if name not in used:
                    used.add(name)
                    break
            debut = int(rng.integers(1955, 2020))
            albums = []
            for a in range(ALBUMS_PER_ARTIST):
                bias = float(rng.uniform(-0.3, 0.3))
                mood = all_moods[int(rng.integers(len(all_moods)))]
                word = str(rng.choice(MOOD_WORDS[mood])).title()
                second = str(
                    rng.choice(("Nights", "Songs", "Days", "Stories", "Sessions", "Lights", "Roads"))
                )
                albums.append(
                    Album(
                        album_id=artist_id * 10 + a,
                        name=f"{word} {second}",
                        artist_id=artist_id,
                        year=min(2024, debut + 2 * a + int(rng.integers(0, 4))),
                        valence_bias=bias,
                    )
                )
            artists.append(
                Artist(
                    artist_id=artist_id,
                    name=name,
                    style=style,
                    kind=kind,
                    debut_year=debut,
                    major_bias=float(rng.uniform(-0.3, 0.3)),
                    energy_bias=float(rng.uniform(-0.12, 0.12)),
                    tempo_bias=float(rng.uniform(-0.6, 0.6)),
                    albums=tuple(albums),
                )
            )
    return tuple(artists)


ROSTER: tuple[Artist, ...] = _build_roster()
ARTISTS = {a.artist_id: a for a in ROSTER}
ALBUMS = {al.album_id: al for a in ROSTER for al in a.albums}


def pick_artist(style: str, rng: np.random.Generator) -> tuple[Artist, Album]:
    """An artist for a song of ``style`` (its own style's most of the time) and one of its albums."""
    pool = [a for a in ROSTER if a.style == style] if rng.random() >= CROSSOVER else list(ROSTER)
    artist = pool[int(rng.integers(len(pool)))]
    album = artist.albums[int(rng.integers(len(artist.albums)))]
    return artist, album


def lyric_words(style: str, moods: list[str], rng: np.random.Generator) -> list[str]:
    """A few lyric-like words: mostly from the moods' word lists, some style words and fillers."""
    if rng.random() < INSTRUMENTAL_STYLES.get(style, 0.0):
        return []
    words: list[str] = []
    for _ in range(int(rng.integers(4, 11))):
        r = rng.random()
        if r < 0.7:
            pool = MOOD_WORDS[moods[int(rng.integers(len(moods)))]]
        elif r < 0.85 and STYLE_WORDS[style]:
            pool = STYLE_WORDS[style]
        else:
            pool = FILLER_WORDS
        words.append(str(pool[int(rng.integers(len(pool)))]))
    return words


def song_title(style: str, words: list[str], key: str, moods: list[str], rng: np.random.Generator) -> str:
    """A title: from the lyrics, or ``"Nocturne No. 3 in A minor"`` style for instrumentals."""
    if not words:
        if style == "classical" or rng.random() < 0.5:
            return f"{rng.choice(_CLASSICAL_FORMS)} No. {int(rng.integers(1, 13))} in {key}"
        mood = moods[0]
        return (
            f"{str(rng.choice(MOOD_WORDS[mood])).title()} {rng.choice(('Blues', 'Waltz', 'Groove', 'Suite'))}"
        )
    n = min(len(words), int(rng.integers(1, 4)))
    start = int(rng.integers(0, len(words) - n + 1))
    return " ".join(w.title() for w in words[start : start + n])
