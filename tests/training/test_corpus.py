"""The generated corpus: determinism, exact ground truth, the four layouts and the command line.

Tiny corpora (a few tracks of a few seconds) keep this file to a few seconds; fluidsynth cases are
skipped with a reason where fluidsynth or its soundfont is missing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.corpus import (
    MELON_GENRES,
    MOODS,
    SECTION_LABELS,
    STATIONS,
    STYLES,
    generate_song,
    render_fluidsynth,
    write_layout,
)
from training.corpus import labels as lab
from training.corpus.layouts import clip_offsets, song_seed, to_pcm16
from training.corpus.midi import MidiEvent, write_smf
from training.corpus.render import resolve_synth
from training.corpus.styles import get_style
from training.corpus.theory import parse_numeral, voice_chord

FLUIDSYNTH_MISSING = render_fluidsynth.available()
needs_fluidsynth = pytest.mark.skipif(
    FLUIDSYNTH_MISSING is not None, reason=f"fluidsynth cannot render here: {FLUIDSYNTH_MISSING}"
)
SYNTHS = ["numpy", pytest.param("fluidsynth", marks=needs_fluidsynth)]


def _native_frontend_missing() -> str | None:
    try:
        import musicedge._native  # noqa: F401
    except ImportError as exc:
        return f"musicedge's native frontend is not built (pip install -e .): {exc}"
    return None


def _check_truth(t, seconds: float | None = None) -> None:
    """Invariants every song's ground truth must hold."""
    style = get_style(t.style)
    assert style.tempo[0] - 0.5 <= t.tempo <= style.tempo[1] + 0.5
    assert t.mode in ("major", "minor") and t.key.endswith(t.mode)
    assert t.n_samples == round(t.duration * t.sample_rate)
    if seconds is not None:
        assert t.duration == pytest.approx(seconds, abs=1 / t.sample_rate)
    # sections and phrases tile [0, duration] without gaps, with known labels
    for items in (t.sections, t.phrases):
        assert items[0].start == 0.0
        assert items[-1].end == pytest.approx(t.duration, abs=1e-6)
        for a, b in zip(items, items[1:], strict=False):
            assert a.end == pytest.approx(b.start, abs=1e-9)
            assert a.end > a.start
    assert {s.label for s in t.sections} <= set(SECTION_LABELS)
    # section boundaries fall on bar lines (downbeats)
    offset = t.excerpt_start / t.bar_seconds
    for s in t.sections[1:]:
        bars = s.start / t.bar_seconds + offset
        assert bars == pytest.approx(round(bars), abs=1e-6)
    assert np.allclose(np.diff(t.downbeats), t.bar_seconds)
    assert 1 <= len(t.moods) <= 5 and set(t.moods) <= set(MOODS)
    assert t.station in STATIONS and t.genre in MELON_GENRES


# -- songs ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("synth", SYNTHS)
def test_song_is_deterministic_and_seed_dependent(synth):
    a = generate_song("jazz", 3.0, seed=5, sample_rate=16000, synth=synth)
    b = generate_song("jazz", 3.0, seed=5, sample_rate=16000, synth=synth)
    c = generate_song("jazz", 3.0, seed=6, sample_rate=16000, synth=synth)
    assert a.audio.dtype == np.float32 and a.audio.shape == (48000,)
    assert a.audio.tobytes() == b.audio.tobytes()
    assert a.truth.to_dict() == b.truth.to_dict()
    assert not np.array_equal(a.audio, c.audio)
    assert a.truth.synth == synth
    assert np.isfinite(a.audio).all() and 0.01 < np.abs(a.audio).max() <= 1.0
    _check_truth(a.truth, 3.0)


@pytest.mark.parametrize("style", STYLES)
def test_every_style_has_plausible_parameters(style):
    song = generate_song(style, 2.0, seed=1, sample_rate=8000, synth="numpy")
    t = song.truth
    _check_truth(t, 2.0)
    assert t.genre == lab.GENRE_OF_STYLE[style]
    assert ("drums" in t.programs) == bool(get_style(style).grooves)
    assert song.audio.std() > 0.01


def test_full_song_has_complete_form_and_silent_ending():
    synth = "numpy" if FLUIDSYNTH_MISSING else "fluidsynth"
    song = generate_song("pop", 12.0, seed=2, sample_rate=16000, synth=synth, form="full")
    t = song.truth
    _check_truth(t)
    assert t.duration >= 12.0
    labels = [s.label for s in t.sections if s.label != "silence"]
    assert labels[0] == "intro" and labels[-1] == "outro"
    assert {"verse", "chorus"} <= set(labels)
    assert t.sections[-1].label == "silence"
    assert [s.start for s in t.sections] == pytest.approx(
        [d for d in t.downbeats if d in {s.start for s in t.sections}]
    )
    sr = song.sample_rate
    last = t.sections[-1]
    quiet = song.audio[int((last.start + 0.35) * sr) : int(last.end * sr)]
    assert np.abs(quiet).max() < 1e-6
    music = song.audio[int(t.sections[-2].start * sr) : int(t.sections[-2].end * sr)]
    assert np.sqrt(np.mean(music**2)) > 0.01


def test_repeated_sections_reuse_letters_and_labels_follow_features():
    song = generate_song("rock", 20.0, seed=4, sample_rate=8000, synth="numpy", form="full")
    letters = {}
    for s in song.truth.sections:
        if s.label in ("verse", "chorus"):
            letters.setdefault(s.label, set()).add(s.letter)
    assert all(len(v) == 1 for v in letters.values())  # every verse is "B", every chorus the same letter
    f = lab.Features(**song.truth.features)
    assert song.truth.moods == lab.choose_moods(f)
    assert song.truth.station == lab.choose_station(f)


def test_labels_respond_to_arousal_and_valence():
    base = dict(
        tempo=0.5,
        energy=0.5,
        density=0.5,
        swing=0.0,
        acoustic=0.5,
        distorted=0.0,
        voice=1.0,
        pad=0.0,
        syncopation=0.5,
        dance=0.3,
        old=0.3,
    )
    party = lab.Features(major=1.0, arousal=0.9, valence=0.9, **base)
    rest = lab.Features(major=1.0, arousal=0.1, valence=0.9, **base)
    lonely = lab.Features(major=0.0, arousal=0.1, valence=0.1, **base)
    focus = lab.Features(major=0.0, arousal=0.9, valence=0.1, **base)
    stations = [lab.choose_station(f) for f in (party, rest, lonely, focus)]
    assert stations == ["party", "rest", "lonely", "focus"]
    assert "energetic" in lab.choose_moods(party) or "happy" in lab.choose_moods(party)
    assert set(lab.choose_moods(lonely)) & {"sad", "lonely", "melancholic", "calm", "peaceful", "dark"}


def test_auto_falls_back_to_numpy_without_fluidsynth(monkeypatch):
    monkeypatch.setattr(render_fluidsynth, "available", lambda soundfont=None: "no fluidsynth (test)")
    assert resolve_synth("auto") == "numpy"
    with pytest.raises(RuntimeError, match="no fluidsynth"):
        resolve_synth("fluidsynth")
    with pytest.raises(ValueError, match="synth must be one of"):
        resolve_synth("timidity")
    assert generate_song("blues", 1.0, seed=0, sample_rate=8000).truth.synth == "numpy"


def test_missing_soundfont_is_reported():
    reason = render_fluidsynth.available("/nonexistent/font.sf2")
    assert reason is not None and ("font.sf2" in reason or "fluidsynth" in reason)


def test_bad_song_arguments():
    with pytest.raises(ValueError, match="unknown style"):
        generate_song("polka", 1.0)
    with pytest.raises(ValueError, match="seconds must be positive"):
        generate_song("pop", 0.0, synth="numpy")
    with pytest.raises(ValueError, match="sample_rate"):
        generate_song("pop", 1.0, sample_rate=100, synth="numpy")
    with pytest.raises(ValueError, match="form must be"):
        generate_song("pop", 1.0, form="medley", synth="numpy")


def test_theory_and_midi_basics():
    assert parse_numeral("V7", 0).symbol == "G7" and parse_numeral("V7", 0).pitch_classes == (7, 11, 2, 5)
    assert parse_numeral("bVImaj7", 9).pitch_classes == (5, 9, 0, 4)  # Fmaj7 in A minor
    assert parse_numeral("iim7b5", 0).pitch_classes == (2, 5, 8, 0)
    with pytest.raises(ValueError, match="cannot parse"):
        parse_numeral("X7", 0)
    voicing = voice_chord(parse_numeral("I", 0), 60)
    assert {p % 12 for p in voicing} == {0, 4, 7} and max(voicing) - min(voicing) <= 12
    smf = write_smf([MidiEvent(0, "on", 0, 60, 100), MidiEvent(480, "off", 0, 60)], 500000, 960)
    assert smf[:4] == b"MThd" and smf[14:18] == b"MTrk" and smf.endswith(b"\xff\x2f\x00")


# -- layouts ---------------------------------------------------------------------------------------------


def _read_corpus(root: Path) -> dict:
    corpus = json.loads((root / "corpus.json").read_text())
    assert corpus["tracks"] == len(corpus["items"])
    return corpus


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_gtzan_layout_is_deterministic_across_workers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    write_layout("gtzan", str(a), tracks=3, seconds=1.5, seed=3, synth="numpy", jobs=1)
    write_layout("gtzan", str(b), tracks=3, seconds=1.5, seed=3, synth="numpy", jobs=2)
    assert _files(a) == _files(b)
    corpus = _read_corpus(a)
    assert corpus["layout"] == "gtzan" and corpus["synth"] == "numpy"
    for i, item in enumerate(corpus["items"]):
        style = STYLES[i]
        assert item["id"] == f"{style}.00000" and item["style"] == style and item["seed"] == song_seed(3, i)
        path = a / "genres" / style / f"{style}.00000.wav"
        assert item["paths"]["audio"] == f"genres/{style}/{style}.00000.wav"
        info = sf.info(str(path))
        assert (info.samplerate, info.channels, info.subtype, info.frames) == (22050, 1, "PCM_16", 33075)
        # the record is the song's truth: regenerating the song gives the same audio
        song = generate_song(style, 1.5, item["seed"], 22050, "numpy")
        pcm, _ = sf.read(str(path), dtype="int16")
        assert np.array_equal(pcm, to_pcm16(song.audio))


_RAW_LINE = re.compile(r"^\d+\.\d{9}\t(Silence|End|[A-Z]'*, [a-z]+, [A-Za-z-]+|[a-z]+)$")


@pytest.mark.parametrize("synth", SYNTHS)
def test_salami_annotations_match_ground_truth(tmp_path, synth):
    write_layout("salami", str(tmp_path), tracks=2, seconds=5, seed=1, synth=synth, styles=["pop", "reggae"])
    corpus = _read_corpus(tmp_path)
    for item in corpus["items"]:
        folder = tmp_path / "annotations" / item["id"]
        raw = (folder / "textfile1.txt").read_text().split("\n")
        assert all(_RAW_LINE.match(line) for line in raw), raw
        assert raw[-1].endswith("\tEnd") and float(raw[-1].split("\t")[0]) == pytest.approx(item["duration"])
        # every section starts a line; lines with a function are exactly the section starts
        starts = [float(line.split("\t")[0]) for line in raw if ", " in line or line.endswith("\tSilence")]
        assert starts == pytest.approx([s["start"] for s in item["sections"]], abs=1e-6)
        functions = (folder / "parsed" / "textfile1_functions.txt").read_text().split("\n")
        assert [f.split("\t")[1] for f in functions[:-1]] == [s["function"] for s in item["sections"]]
        upper = (folder / "parsed" / "textfile1_uppercase.txt").read_text().split("\n")
        assert [u.split("\t")[1] for u in upper[:-1]] == [s["letter"] for s in item["sections"]]
        lower = (folder / "parsed" / "textfile1_lowercase.txt").read_text().split("\n")
        assert [float(x.split("\t")[0]) for x in lower[:-1]] == pytest.approx(
            [p["start"] for p in item["phrases"]]
        )
        info = sf.info(str(tmp_path / "audio" / f"{item['id']}.wav"))
        assert info.frames == item["n_samples"] and item["duration"] >= 5
        assert item["sections"][-1]["label"] == "silence"
        labels = [s["label"] for s in item["sections"] if s["label"] != "silence"]
        assert labels[0] == "intro" and labels[-1] == "outro"
    assert (tmp_path / "metadata.csv").read_text().startswith("SONG_ID,")


def test_retrieval_clips_are_exact_copies(tmp_path):
    write_layout(
        "retrieval", str(tmp_path), tracks=3, seconds=3.0, seed=2, synth="numpy", clips=2, clip_seconds=1.25
    )
    corpus = _read_corpus(tmp_path)
    assert sorted({item["split"] for item in corpus["items"]}) == ["test", "train", "valid"]
    n_clips = 0
    for item in corpus["items"]:
        label = item["label"]
        origin_path = tmp_path / item["split"] / "origin" / label / f"{label}_0.wav"
        origin, sr = sf.read(str(origin_path), dtype="int16")
        assert sr == 16000 and len(origin) == 48000
        clip_files = sorted((tmp_path / item["split"] / "sample" / label).glob("*.wav"))
        assert len(clip_files) == len(item["paths"]["clips"]) == 2
        for clip in item["paths"]["clips"]:
            name = Path(clip["path"]).stem
            start_ms, end_ms = (int(x) for x in name.rsplit("_", 2)[1:])
            assert name.rsplit("_", 2)[0] == label
            assert (start_ms, end_ms) == (clip["start_ms"], clip["end_ms"]) and end_ms - start_ms == 1250
            samples, _ = sf.read(str(tmp_path / clip["path"]), dtype="int16")
            a = start_ms * sr // 1000
            assert np.array_equal(samples, origin[a : a + len(samples)]) and len(samples) == 20000
            n_clips += 1
    assert n_clips == 6


def test_clip_offsets_are_whole_samples():
    rng = np.random.default_rng(0)
    for sr in (22050, 44100, 16000, 8000):
        for start, end in clip_offsets(30 * sr, sr, 10.0, 5, rng):
            assert start * sr % 1000 == 0 and end * sr % 1000 == 0 and end <= 30000
    with pytest.raises(ValueError, match="shorter than"):
        clip_offsets(16000, 16000, 10.0, 1, rng)


@pytest.mark.skipif(_native_frontend_missing() is not None, reason=str(_native_frontend_missing()))
def test_melon_layout_files_and_labels(tmp_path):
    from musicedge.config import FrontendConfig

    write_layout("melon", str(tmp_path), tracks=5, seconds=2.0, seed=0, synth="numpy")
    corpus = _read_corpus(tmp_path)
    config = FrontendConfig.preset("melon16k")
    by_split = {"train": [], "test": []}
    for item in corpus["items"]:
        by_split[item["split"]].append(item)
        mel = np.load(tmp_path / item["paths"]["mel"])
        assert mel.dtype == np.float32 and mel.shape == (1, 128, config.num_frames(item["n_samples"]))
        assert np.isfinite(mel).all()
    assert [i["genre"] for i in corpus["items"]] == ["kayo", "rnb", "reggae", "jrock", "kayo"]
    for split, items in by_split.items():
        label = json.loads((tmp_path / split / f"{split}_label").read_text())
        assert set(label) == {"track_index", "station_name", "mood_tag", "genre"}
        assert label["track_index"] == {str(k): it["track_id"] for k, it in enumerate(items)}
        assert set(label["station_name"].values()) <= set(STATIONS)
        assert all(1 <= len(v) <= 5 and set(v) <= set(MOODS) for v in label["mood_tag"].values())
        meta = tmp_path / split / f"{split}_data" / "meta"
        track_meta = json.loads((meta / "track_meta.json").read_text())
        assert track_meta["artist_id_list"] == {str(k): [it["artist_id"]] for k, it in enumerate(items)}
        artists = json.loads((meta / "artist_meta.json").read_text())
        assert set(artists["artist_id"].values()) == {it["artist_id"] for it in items}
        for name in ("album_meta", "lyric_meta"):
            assert json.loads((meta / f"{name}.json").read_text())
        for k, it in enumerate(items):
            assert (
                tmp_path / split / f"{split}_data" / "mel_spectrogram" / f"{it['track_id']}.npy"
            ).is_file()
            assert label["station_name"][str(k)] == it["station"]
    for q in ("q1", "q2", "q3"):
        q_index = json.loads((tmp_path / "test" / "test_data" / "meta" / f"{q}_test.json").read_text())
        assert q_index == {"track_index": {"0": by_split["test"][0]["track_id"]}}


# -- command line -----------------------------------------------------------------------------------------


def test_cli_writes_a_corpus_and_rejects_bad_arguments(tmp_path, capsys):
    from training.__main__ import main

    out = tmp_path / "c"
    args = "--layout gtzan --tracks 2 --seconds 1 --synth numpy -j 1 -q --styles metal,disco".split()
    assert main(["corpus", "--out", str(out), *args]) == 0
    assert sorted(p.name for p in (out / "genres").iterdir()) == ["disco", "metal"]
    bad = (
        "--layout mp3",
        "--layout gtzan --tracks 0",
        "--layout gtzan --seconds x",
        "--layout retrieval --seconds 5",
        "--layout gtzan --synth midi",
        "--layout gtzan --styles polka",
        "--layout melon --sample-rate 22050",
    )
    for argv in bad:
        with pytest.raises(SystemExit) as exc:
            main(["corpus", "--out", str(out), *argv.split()])
        assert exc.value.code == 2
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = "--layout gtzan --tracks 1 --seconds 1 --synth numpy -q".split()
    assert main(["corpus", "--out", str(blocker / "sub"), *args]) == 1
    assert "cannot write the corpus to" in capsys.readouterr().err
