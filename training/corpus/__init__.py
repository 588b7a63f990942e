"""The generated music corpus: deterministic songs with exact ground truth, in every seed layout.

>>> from training.corpus import generate_song, write_layout
>>> song = generate_song("jazz", seconds=10, seed=3, synth="numpy")
>>> song.audio.shape, song.truth.tempo, [s.label for s in song.truth.sections]
>>> write_layout("gtzan", "/tmp/corpus", tracks=20, seconds=30, seed=0)

Command line: ``python -m training corpus --layout gtzan --out DIR --tracks N --seconds S --seed K``.
See ``training/corpus/README.md`` for what a corpus holds.
"""

from .labels import MELON_GENRES, MOODS, STATIONS
from .layouts import LAYOUTS, song_seed, write_layout
from .song import Section, Segment, Song, SongTruth, generate_song
from .structure import SECTION_LABELS
from .styles import STYLES

__all__ = [
    "LAYOUTS",
    "MELON_GENRES",
    "MOODS",
    "SECTION_LABELS",
    "STATIONS",
    "STYLES",
    "Section",
    "Segment",
    "Song",
    "SongTruth",
    "generate_song",
    "song_seed",
    "write_layout",
]
