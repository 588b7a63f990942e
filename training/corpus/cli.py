"""``python -m training corpus``: generate a corpus with known ground truth in one of the seed layouts."""

from __future__ import annotations

import argparse
import sys
import time

from ..argtypes import positive_int
from .layouts import DEFAULT_SAMPLE_RATE, LAYOUTS
from .render import SYNTHS
from .styles import STYLES

_EPILOG = """\
layouts (all write OUT/corpus.json, the full ground truth of every track):
  gtzan      OUT/genres/<style>/<style>.<00000>.wav, 22050 Hz mono PCM16, the 10 styles in turn
  salami     OUT/audio/<id>.wav, OUT/annotations/<id>/textfile1.txt and parsed/textfile1_*.txt,
             OUT/metadata.csv. Each track is a COMPLETE song (intro .. outro, then a bar of
             silence, sometimes one before): its length is --seconds rounded UP to whole phrases,
             and never shorter than the shortest complete form of its style (intro, verse,
             chorus, outro: about 25-35 s for pop, over a minute for a slow 12-bar blues), so
             SALAMI songs are usually longer than --seconds.
  retrieval  OUT/{train,valid,test}/origin/<label>/<label>_0.wav (16 kHz, 70/15/15 split) and
             OUT/{split}/sample/<label>/<label>_<start_ms>_<end_ms>.wav: --clips clips of
             --clip-seconds, exact sample copies of the origin
  melon      OUT/{train,test}/{split}_data/mel_spectrogram/<track_id>.npy (1, 128, frames) from
             musicedge's melon16k frontend, {split}_data/meta/{track,artist,album,lyric}_meta.json,
             OUT/train/train_label and OUT/test/test_label (station_name, mood_tag, genre),
             test_data/meta/q{1,2,3}_test.json; 80/20 split, the 4 melon genres in turn

styles: blues, classical, country, disco, hiphop, jazz, metal, pop, reggae, rock.
Except for salami, every track is exactly --seconds long: an excerpt, cut at a bar line, of a
whole song with intro, verses, choruses, bridge ... The same --seed gives the same files.
"""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be between 0 and 86400 seconds, got {text}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be between 0 and 2**32 - 1, got {value}")
    return value


def _styles(text: str) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [s for s in names if s not in STYLES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown style(s) {unknown or text!r}; known: {', '.join(STYLES)}")
    return names


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``corpus`` command to ``python -m training``."""
    p = subparsers.add_parser(
        "corpus",
        help="generate a deterministic music corpus with ground truth in a seed layout",
        description="Generate songs of 10 GTZAN-named styles (drums, bass, chords, melody; sections, moods, "
        "stations, genres, artists) with exact ground truth, written in one seed layout.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--layout", required=True, choices=LAYOUTS, help="folder structure to write")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created if absent)")
    p.add_argument("--tracks", type=positive_int, default=100, metavar="N", help="number of tracks (100)")
    p.add_argument(
        "--seconds",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="track length in seconds (30); salami: the least length of each complete song",
    )
    p.add_argument("--seed", type=_seed, default=0, metavar="K", help="corpus seed (0)")
    p.add_argument(
        "--synth",
        choices=SYNTHS,
        default="auto",
        help="auto: fluidsynth with a GM soundfont when installed, else the numpy synth",
    )
    p.add_argument(
        "--soundfont",
        metavar="SF2",
        default=None,
        help="soundfont for fluidsynth ($MUSICEDGE_SOUNDFONT or Debian's TimGM6mb.sf2)",
    )
    p.add_argument(
        "-j", "--jobs", type=positive_int, default=None, metavar="JOBS", help="worker processes (all cores)"
    )
    p.add_argument(
        "--sample-rate",
        type=positive_int,
        default=None,
        metavar="HZ",
        help="audio sample rate ("
        + ", ".join(f"{k} {v}" for k, v in DEFAULT_SAMPLE_RATE.items())
        + "; melon must stay 16000)",
    )
    p.add_argument("--clips", type=positive_int, default=3, help="retrieval: clips per track (3)")
    p.add_argument("--clip-seconds", type=_positive_float, default=10.0, help="retrieval: clip length (10)")
    p.add_argument(
        "--styles",
        type=_styles,
        default=None,
        metavar="LIST",
        help="comma-separated subset of the styles, generated in turn (default: all ten)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run, parser=p)
    return p


def run(args: argparse.Namespace) -> int:
    """Write the corpus; 0 on success, 1 with a message on stderr when it cannot be written."""
    from .layouts import check_settings, write_layout

    start = time.monotonic()

    tty = sys.stderr.isatty()

    def progress(done: int, total: int, record: dict) -> None:
        if args.quiet:
            return
        line = f"corpus: {done}/{total} tracks ({record['id']}, {record['style']})"
        if tty:
            print(f"\r{line}  ", end="", file=sys.stderr, flush=True)
        elif done == total or done % max(1, total // 10) == 0:
            print(line, file=sys.stderr, flush=True)

    settings = dict(
        sample_rate=args.sample_rate, clips=args.clips, clip_seconds=args.clip_seconds, styles=args.styles
    )
    try:
        check_settings(args.layout, args.tracks, args.seconds, **settings)
    except ValueError as exc:
        args.parser.error(str(exc))  # a usage error: exit status 2
    try:
        corpus = write_layout(
            args.layout,
            args.out,
            args.tracks,
            args.seconds,
            args.seed,
            args.synth,
            args.jobs,
            soundfont=args.soundfont,
            progress=progress,
            **settings,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        if not args.quiet and tty:
            print(file=sys.stderr)
        print(f"python -m training corpus: error: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        total = sum(item["duration"] for item in corpus["items"])
        elapsed = time.monotonic() - start
        print(
            ("\r" if tty else "") + f"corpus: wrote {corpus['tracks']} {args.layout} tracks "
            f"({total / 60:.1f} min of audio, {corpus['synth']}) to {args.out} in {elapsed:.1f} s",
            file=sys.stderr,
        )
    return 0
