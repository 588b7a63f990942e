"""Writing a generated corpus in each seed project's dataset layout, with ``corpus.json`` beside it.

=========  =====================================================================================
gtzan      ``genres/<style>/<style>.<00000>.wav`` (22 050 Hz mono PCM16), styles in turn
salami     ``audio/<id>.wav``, ``annotations/<id>/textfile1.txt`` and ``parsed/textfile1_*.txt``,
           ``metadata.csv``; complete songs (intro to outro), at least ``seconds`` long
retrieval  ``{train,valid,test}/origin/<label>/<label>_0.wav`` (16 kHz) and clips cut from them,
           ``{split}/sample/<label>/<label>_<start_ms>_<end_ms>.wav``, exact copies of origin samples
melon      ``{train,test}/{split}_data/mel_spectrogram/<track_id>.npy`` (1, 128, frames) from the
           ``melon16k`` frontend, ``{split}_data/meta/*.json``, ``{split}/{split}_label`` and
           ``test_data/meta/q{1,2,3}_test.json``; the four melon genres in turn
=========  =====================================================================================

Tracks are generated in parallel worker processes; track ``i`` of a corpus with seed ``K`` always gets
the same song (its seed is derived from ``(K, i)``), so a corpus is the same bytes however many
workers write it.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from . import labels as lab
from . import render_fluidsynth
from .render import resolve_synth
from .salami import write_annotations
from .song import Song, generate_song
from .structure import SECTION_LABELS
from .styles import STYLES

LAYOUTS = ("gtzan", "salami", "retrieval", "melon")
DEFAULT_SAMPLE_RATE = {"gtzan": 22050, "salami": 22050, "retrieval": 16000, "melon": 16000}
MELON_PRESET = "melon16k"
CORPUS_VERSION = 1
MELON_TRACK_ID_BASE = 100000


@dataclass(frozen=True)
class TrackSpec:
    """What one worker generates and writes."""

    index: int
    id: str
    style: str
    seed: int
    split: str
    layout: str
    out: str
    seconds: float
    sample_rate: int
    synth: str
    form: str
    soundfont: str | None = None
    clips: int = 0
    clip_seconds: float = 10.0


def song_seed(corpus_seed: int, index: int) -> int:
    """The seed of track ``index`` in a corpus generated with ``corpus_seed``."""
    return int(np.random.SeedSequence([int(corpus_seed) & 0xFFFFFFFF, int(index)]).generate_state(1)[0])


def _split_counts(n: int, shares: dict[str, float]) -> dict[str, int]:
    """Tracks per split: every split gets at least one when there are enough tracks, train the rest."""
    names = list(shares)
    counts = {s: 0 for s in names}
    if n < len(names):
        counts[names[0]] = n
        return counts
    for s in names[1:]:
        counts[s] = max(1, int(round(shares[s] * n)))
    counts[names[0]] = n - sum(counts[s] for s in names[1:])
    return counts


def _splits(n: int, shares: dict[str, float]) -> list[str]:
    counts = _split_counts(n, shares)
    return [s for s in shares for _ in range(counts[s])]


def _style_order(layout: str, tracks: int, styles: tuple[str, ...]) -> list[str]:
    """The style of each track: the styles in turn (melon: the melon genres in turn, then their styles)."""
    if layout != "melon":
        return [styles[i % len(styles)] for i in range(tracks)]
    groups = [[s for s in lab.STYLES_OF_GENRE[g] if s in styles] for g in lab.MELON_GENRES]
    groups = [g for g in groups if g]
    return [groups[i % len(groups)][(i // len(groups)) % len(groups[i % len(groups)])] for i in range(tracks)]


def track_specs(
    layout: str,
    out: str,
    tracks: int,
    seconds: float,
    seed: int,
    synth: str,
    sample_rate: int,
    soundfont: str | None = None,
    clips: int = 3,
    clip_seconds: float = 10.0,
    styles: tuple[str, ...] = STYLES,
) -> list[TrackSpec]:
    """The tracks of a corpus: id, style, song seed and split of each, in a fixed order."""
    order = _style_order(layout, tracks, tuple(styles))
    if layout == "retrieval":
        splits = _splits(tracks, {"train": 0.7, "valid": 0.15, "test": 0.15})
    elif layout == "melon":
        splits = _splits(tracks, {"train": 0.8, "test": 0.2})
    else:
        splits = ["all"] * tracks
    specs = []
    for i, style in enumerate(order):
        if layout == "gtzan":
            track_id = f"{style}.{order[:i].count(style):05d}"
        elif layout == "salami":
            track_id = str(i + 1)
        elif layout == "retrieval":
            track_id = f"song{i:05d}"
        else:
            track_id = str(MELON_TRACK_ID_BASE + i)
        specs.append(
            TrackSpec(
                index=i,
                id=track_id,
                style=style,
                seed=song_seed(seed, i),
                split=splits[i],
                layout=layout,
                out=out,
                seconds=seconds,
                sample_rate=sample_rate,
                synth=synth,
                form="full" if layout == "salami" else "excerpt",
                soundfont=soundfont,
                clips=clips if layout == "retrieval" else 0,
                clip_seconds=clip_seconds,
            )
        )
    return specs


# -- per-track writing (runs in the workers) ------------------------------------------------------------


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1] as int16 samples (rounded, clipped)."""
    return np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32767.0), -32768, 32767).astype(np.int16)


def write_wav(path: str, pcm: np.ndarray, sample_rate: int) -> None:
    """A mono PCM16 WAV file of ``pcm`` (int16) at ``sample_rate``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, pcm, sample_rate, subtype="PCM_16", format="WAV")


def clip_offsets(
    n_samples: int, sample_rate: int, clip_seconds: float, count: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """``count`` distinct (start_ms, end_ms) windows in the track, on a grid where ms are whole samples."""
    step_ms = 1000 // math.gcd(int(sample_rate), 1000)
    clip_ms = int(round(clip_seconds * 1000))
    if clip_ms % step_ms:
        raise ValueError(f"clip length {clip_seconds} s is not a whole number of samples at {sample_rate} Hz")
    duration_ms = n_samples * 1000 // sample_rate
    last = (duration_ms - clip_ms) // step_ms
    if last < 0:
        raise ValueError(f"tracks of {duration_ms / 1000:.3f} s are shorter than the {clip_seconds} s clips")
    starts = sorted(
        set(int(s) * step_ms for s in rng.choice(last + 1, size=min(count, last + 1), replace=False))
    )
    return [(s, s + clip_ms) for s in starts]


def melon_mel(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The seed 004 mel: musicedge's ``melon16k`` frontend, float32 of shape (1, 128, n_frames)."""
    try:
        from musicedge.config import FrontendConfig
        from musicedge.frontend import MelFrontend
    except ImportError as exc:
        raise RuntimeError(
            f"the melon layout needs musicedge's native mel frontend (pip install -e .): {exc}"
        ) from None
    config = FrontendConfig.preset(MELON_PRESET)
    if config.sample_rate != sample_rate:
        raise ValueError(f"melon mel needs {config.sample_rate} Hz audio, got {sample_rate} Hz")
    mel = np.asarray(
        MelFrontend(config).compute(np.ascontiguousarray(audio, dtype=np.float32)), dtype=np.float32
    )
    return mel[None, :, :]


def _rel(spec: TrackSpec, path: str) -> str:
    return os.path.relpath(path, spec.out).replace(os.sep, "/")


def write_track(spec: TrackSpec) -> dict:
    """Generate one track, write its files, and return its ``corpus.json`` record."""
    try:
        song = generate_song(
            spec.style, spec.seconds, spec.seed, spec.sample_rate, spec.synth, spec.form, spec.soundfont
        )
        return _write_files(spec, song)
    except Exception as exc:  # name the track: the pool would otherwise lose which one failed
        raise RuntimeError(
            f"track {spec.id} ({spec.style}, seed {spec.seed}) failed: {type(exc).__name__}: {exc}"
        ) from exc


def _write_files(spec: TrackSpec, song: Song) -> dict:
    truth = song.truth
    truth.id = spec.id
    pcm = to_pcm16(song.audio)
    sr = song.sample_rate
    out = spec.out
    paths: dict[str, object] = {}
    if spec.layout == "gtzan":
        path = os.path.join(out, "genres", spec.style, f"{spec.id}.wav")
        write_wav(path, pcm, sr)
        paths["audio"] = _rel(spec, path)
    elif spec.layout == "salami":
        path = os.path.join(out, "audio", f"{spec.id}.wav")
        write_wav(path, pcm, sr)
        paths["audio"] = _rel(spec, path)
        files = write_annotations(truth, os.path.join(out, "annotations", spec.id))
        paths["annotation"] = _rel(spec, files[0])
    elif spec.layout == "retrieval":
        label = spec.id
        path = os.path.join(out, spec.split, "origin", label, f"{label}_0.wav")
        write_wav(path, pcm, sr)
        paths["audio"] = _rel(spec, path)
        rng = np.random.default_rng([spec.seed, 0xC11B])
        clips = []
        for start_ms, end_ms in clip_offsets(len(pcm), sr, spec.clip_seconds, spec.clips, rng):
            a, b = start_ms * sr // 1000, end_ms * sr // 1000
            clip_path = os.path.join(out, spec.split, "sample", label, f"{label}_{start_ms}_{end_ms}.wav")
            write_wav(clip_path, pcm[a:b], sr)
            clips.append(
                {
                    "path": _rel(spec, clip_path),
                    "start_ms": start_ms,
                    "end_ms": end_ms,
                    "start_sample": a,
                    "end_sample": b,
                }
            )
        paths["clips"] = clips
    elif spec.layout == "melon":
        mel = melon_mel(pcm.astype(np.float32) / 32767.0, sr)
        path = os.path.join(out, spec.split, f"{spec.split}_data", "mel_spectrogram", f"{spec.id}.npy")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, mel)
        paths["mel"] = _rel(spec, path)
        paths["mel_shape"] = list(mel.shape)
    record = truth.to_dict()
    record.update(index=spec.index, split=spec.split, paths=paths)
    if spec.layout == "retrieval":
        record["label"] = spec.id
    if spec.layout == "melon":
        record["track_id"] = int(spec.id)
    return record


# -- per-corpus files ----------------------------------------------------------------------------------------


def _dump(path: str, data: object) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(data, f, ensure_ascii=False, indent=1, sort_keys=False)
        f.write("\n")


def _write_salami_metadata(out: str, records: list[dict]) -> None:
    import csv

    with open(os.path.join(out, "metadata.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["SONG_ID", "SOURCE", "SONG_DURATION", "SONG_TITLE", "ARTIST", "FORMAT", "CLASS", "GENRE"])
        for r in records:
            w.writerow(
                [
                    r["id"],
                    "SYNTH",
                    round(r["duration"], 3),
                    r["title"],
                    r["artist"],
                    "wav",
                    r["style"],
                    r["style"],
                ]
            )


def _write_melon_tables(out: str, records: list[dict]) -> None:
    from .metadata import ALBUMS, ARTISTS

    for split in ("train", "test"):
        rows = [r for r in records if r["split"] == split]
        if not rows:
            continue
        idx = {str(i): r for i, r in enumerate(rows)}
        meta = os.path.join(out, split, f"{split}_data", "meta")
        os.makedirs(os.path.join(out, split, f"{split}_data", "mel_spectrogram"), exist_ok=True)
        track_index = {k: r["track_id"] for k, r in idx.items()}
        _dump(
            os.path.join(meta, "track_meta.json"),
            {
                "track_index": track_index,
                "track_title": {k: r["title"] for k, r in idx.items()},
                "artist_id_list": {k: [r["artist_id"]] for k, r in idx.items()},
                "artist_name_list": {k: [r["artist"]] for k, r in idx.items()},
                "album_id": {k: r["album_id"] for k, r in idx.items()},
                "album_name": {k: r["album"] for k, r in idx.items()},
            },
        )
        artists = sorted({r["artist_id"] for r in rows})
        _dump(
            os.path.join(meta, "artist_meta.json"),
            {
                "artist_id": {str(i): a for i, a in enumerate(artists)},
                "artist_name": {str(i): ARTISTS[a].name for i, a in enumerate(artists)},
                "artist_type": {str(i): ARTISTS[a].kind for i, a in enumerate(artists)},
                "debut_year": {str(i): ARTISTS[a].debut_year for i, a in enumerate(artists)},
            },
        )
        albums = sorted({r["album_id"] for r in rows})
        _dump(
            os.path.join(meta, "album_meta.json"),
            {
                "album_id": {str(i): a for i, a in enumerate(albums)},
                "album_name": {str(i): ALBUMS[a].name for i, a in enumerate(albums)},
                "artist_id": {str(i): ALBUMS[a].artist_id for i, a in enumerate(albums)},
                "release_year": {str(i): ALBUMS[a].year for i, a in enumerate(albums)},
            },
        )
        _dump(
            os.path.join(meta, "lyric_meta.json"),
            {
                "track_index": track_index,
                "lyric_words": {k: r["lyrics"] for k, r in idx.items()},
                "lyrics": {k: " ".join(r["lyrics"]) for k, r in idx.items()},
            },
        )
        _dump(
            os.path.join(out, split, f"{split}_label"),
            {
                "track_index": track_index,
                "station_name": {k: r["station"] for k, r in idx.items()},
                "mood_tag": {k: r["moods"] for k, r in idx.items()},
                "genre": {k: r["genre"] for k, r in idx.items()},
            },
        )
        if split == "test":
            for q in ("q1", "q2", "q3"):
                _dump(os.path.join(meta, f"{q}_test.json"), {"track_index": track_index})
        for k, r in idx.items():
            r["data_idx"] = k


def _renderer(synth: str, soundfont: str | None) -> dict:
    """What made the audio, for reproducing it: fluidsynth's version and soundfont, or the numpy synth."""
    if synth != "fluidsynth":
        return {"synth": synth}
    path = render_fluidsynth.soundfont_path(soundfont)
    return {
        "synth": synth,
        "fluidsynth": render_fluidsynth.version(),
        "soundfont": path,
        "soundfont_bytes": os.path.getsize(path),
    }


def check_writable(out: str) -> None:
    """Create ``out`` if needed and make sure files can be written in it; a clear ``OSError`` otherwise."""
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, f".write-test-{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise OSError(f"cannot write the corpus to {out!r}: {exc.strerror or exc}") from None


def check_settings(
    layout: str,
    tracks: int,
    seconds: float,
    sample_rate: int | None = None,
    clips: int = 3,
    clip_seconds: float = 10.0,
    styles: Sequence[str] | None = None,
) -> int:
    """Check a corpus's settings (``ValueError`` saying which is wrong); return the sample rate to use."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    unknown = sorted(set(styles or ()) - set(STYLES))
    if unknown or (styles is not None and not styles):
        raise ValueError(f"unknown or no styles {unknown or list(styles or ())}; known: {', '.join(STYLES)}")
    if tracks < 1:
        raise ValueError(f"tracks must be at least 1, got {tracks}")
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    sample_rate = int(sample_rate or DEFAULT_SAMPLE_RATE[layout])
    if not 4000 <= sample_rate <= 96000:
        raise ValueError(f"sample rate must be between 4000 and 96000 Hz, got {sample_rate}")
    if layout == "melon" and sample_rate != DEFAULT_SAMPLE_RATE["melon"]:
        raise ValueError(
            f"the melon layout's mel needs {DEFAULT_SAMPLE_RATE['melon']} Hz audio, "
            f"got sample rate {sample_rate}"
        )
    if layout == "retrieval":
        if clips < 1:
            raise ValueError(f"clips must be at least 1, got {clips}")
        if seconds < clip_seconds:
            raise ValueError(
                f"retrieval tracks ({seconds} s) must be at least as long as the clips ({clip_seconds} s)"
            )
        step_ms = 1000 // math.gcd(sample_rate, 1000)
        if (
            round(clip_seconds * 1000) % step_ms
            or abs(clip_seconds * 1000 - round(clip_seconds * 1000)) > 1e-6
        ):
            raise ValueError(
                f"clips of {clip_seconds} s are not a whole number of {step_ms} ms steps, "
                f"the steps at which milliseconds are whole samples at {sample_rate} Hz"
            )
    return sample_rate


def write_layout(
    layout: str,
    out: str,
    tracks: int,
    seconds: float = 30.0,
    seed: int = 0,
    synth: str = "auto",
    jobs: int | None = None,
    sample_rate: int | None = None,
    soundfont: str | None = None,
    clips: int = 3,
    clip_seconds: float = 10.0,
    styles: Sequence[str] | None = None,
    progress: Callable[[int, int, dict], None] | None = None,
) -> dict:
    """Generate ``tracks`` songs of ``seconds`` into ``out`` in ``layout``'s folder structure.

    Returns (and writes as ``out/corpus.json``) the whole ground truth: the corpus settings and one
    record per track (:meth:`SongTruth.to_dict` plus index, split, paths). ``jobs`` worker processes
    (default: all cores); ``styles`` limits the styles (default: all ten, in turn); ``progress(done,
    total, record)`` is called after each track.
    """
    sample_rate = check_settings(layout, tracks, seconds, sample_rate, clips, clip_seconds, styles)
    styles = tuple(s for s in STYLES if s in set(styles or STYLES))
    if layout == "melon":
        melon_mel(np.zeros(1600, dtype=np.float32), sample_rate)  # fail now, not in every worker
    used = resolve_synth(synth, soundfont)
    check_writable(out)
    specs = track_specs(
        layout, out, tracks, seconds, seed, used, sample_rate, soundfont, clips, clip_seconds, styles
    )
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(specs)))
    records: list[dict] = []
    if jobs == 1:
        for spec in specs:
            records.append(write_track(spec))
            if progress:
                progress(len(records), len(specs), records[-1])
    else:
        # Not "fork": a parent that already runs threads (ONNX Runtime, torch, BLAS pools, as in a test
        # session or a training job) can hand a child a lock that is never released, and the pool hangs.
        ctx = multiprocessing.get_context("forkserver" if sys.platform.startswith("linux") else "spawn")
        with ctx.Pool(jobs) as pool:
            for record in pool.imap(write_track, specs, chunksize=1):
                records.append(record)
                if progress:
                    progress(len(records), len(specs), record)
    if layout == "salami":
        _write_salami_metadata(out, records)
    if layout == "melon":
        _write_melon_tables(out, records)
    corpus = {
        "generator": "training.corpus",
        "version": CORPUS_VERSION,
        "layout": layout,
        "seed": int(seed),
        "tracks": len(records),
        "seconds": float(seconds),
        "sample_rate": sample_rate,
        "synth": used,
        "form": specs[0].form,
        "renderer": _renderer(used, soundfont),
        "clip_seconds": clip_seconds if layout == "retrieval" else None,
        "styles": list(styles),
        "section_labels": list(SECTION_LABELS),
        "moods": list(lab.MOODS),
        "stations": list(lab.STATIONS),
        "genres": list(lab.MELON_GENRES),
        "mel_preset": MELON_PRESET if layout == "melon" else None,
        "items": records,
    }
    _dump(os.path.join(out, "corpus.json"), corpus)
    return corpus
