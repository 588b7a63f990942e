"""The structure-segmentation runtime: peak picking, sections, writers (table, csv, lab, JAMS), plots,
and the bundled ``structure`` model on bad input (short, silent, non-music, single-section songs)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from musicedge import models
from musicedge.errors import AudioError, ParameterError
from musicedge.segment import (
    PeakParams,
    Segment,
    Segmenter,
    SegmentResult,
    TrackFiles,
    frame_times,
    label_sections,
    pick_peaks,
    to_jams,
    to_lab,
    unique_stems,
)
from musicedge.writers import RecordWriter

from conftest import real_path

LABELS = ("intro", "verse", "chorus", "bridge", "instrumental", "outro", "silence")


def _covering(segments, duration):
    assert segments, "never an empty list"
    assert segments[0].start == 0.0
    assert segments[-1].end == pytest.approx(duration)
    for a, b in zip(segments[:-1], segments[1:], strict=True):
        assert a.end == b.start and a.end > a.start
    assert all(s.label in LABELS and 0.0 <= s.confidence <= 1.0 for s in segments)


# -- peak picking and sections --------------------------------------------------------------------------


def test_peaks_threshold_distance_and_subframe():
    a = np.zeros(100)
    a[20], a[19], a[21] = 0.9, 0.5, 0.7  # the parabola leans right
    a[23] = 0.6  # too close to 20 at min distance 5 frames
    a[60] = 0.2  # under the threshold
    a[80] = 0.5
    peaks = pick_peaks(a, 1.0, PeakParams(threshold=0.3, min_distance_s=5.0))
    assert len(peaks) == 2
    assert 20.0 < peaks[0] < 20.5 and peaks[1] == 80.0
    assert len(pick_peaks(a, 1.0, PeakParams(threshold=0.3, min_distance_s=1.0))) == 3


def test_peaks_local_mean_offset():
    a = np.full(200, 0.5)
    a[100] = 0.56
    a[150] = 0.9
    params = PeakParams(threshold=0.1, min_distance_s=1.0, mean_window_s=10.0, offset=0.1)
    assert list(pick_peaks(a, 1.0, params)) == [150.0]


@pytest.mark.parametrize(
    "activation", [np.zeros(0), np.zeros(1), np.zeros(2), np.ones(50), np.full(9, np.nan)]
)
def test_peaks_never_raise_on_degenerate_activations(activation):
    assert len(pick_peaks(activation, 5.0, PeakParams())) == 0


def test_sections_cover_the_song_and_take_their_frames_label():
    times = frame_times(50, 8, 512, 22050)  # 50 frames, about 9.3 s
    log_probs = np.log(np.full((50, 7), 0.01))
    log_probs[:20, 0] = np.log(0.94)  # intro
    log_probs[20:, 2] = np.log(0.94)  # chorus
    duration = times[-1] + 0.1
    segments = label_sections([times[20] - 0.05, duration + 3.0, -1.0], duration, times, log_probs, LABELS)
    _covering(segments, duration)
    assert [s.label for s in segments] == ["intro", "chorus"]
    assert segments[0].confidence == pytest.approx(0.94)
    one = label_sections([], duration, times, log_probs, LABELS)
    assert len(one) == 1 and one[0].end == duration
    tiny = label_sections([0.3], 0.5, np.zeros(0), np.zeros((0, 7)), LABELS, min_length=1.0)
    assert len(tiny) == 1 and tiny[0].confidence == 0.0
    with pytest.raises(ParameterError):
        label_sections([], 0.0, times, log_probs, LABELS)


def _result(path="a/song.wav"):
    times = frame_times(10, 8, 512, 22050)
    segments = (Segment(0.0, 1.0, "intro", 0.8), Segment(1.0, 1.9, "verse", 0.6))
    return SegmentResult(
        path, 1.9, "structure", segments, times, np.zeros(10), np.full((10, 7), 1 / 7), LABELS
    )


def test_records_lab_and_jams():
    result = _result()
    record = result.to_dict()
    assert record == {
        "path": "a/song.wav",
        "duration_s": 1.9,
        "model": "structure",
        "segments": [
            {"start": 0.0, "end": 1.0, "label": "intro", "confidence": 0.8},
            {"start": 1.0, "end": 1.9, "label": "verse", "confidence": 0.6},
        ],
    }
    assert to_lab(result) == "0.000\t1.000\tintro\n1.000\t1.900\tverse\n"
    pytest.importorskip("jams")
    jam = to_jams(result)  # validated against the schema inside
    data = json.loads(jam.dumps())
    assert data["annotations"][0]["namespace"] == "segment_open"
    assert [d["value"] for d in data["annotations"][0]["data"]] == ["intro", "verse"]


def test_table_and_csv_writers():
    import io

    for fmt in ("table", "csv", "jsonl"):
        stream = io.StringIO()
        writer = RecordWriter(stream, fmt, "segment")
        writer.write(_result().to_dict())
        writer.write({"path": "b.wav", "error": {"type": "AudioError", "message": "b.wav: no samples"}})
        text = stream.getvalue()
        assert "intro" in text and "AudioError" in text
    assert text.count("\n") == 2


def test_track_files_choose(tmp_path):
    paths = ["x/a.wav", "y/a.wav"]
    assert unique_stems(paths) == {"x/a.wav": "a", "y/a.wav": "a-2"}
    assert TrackFiles.choose("jsonl", None, paths) is None
    with pytest.raises(ValueError, match="FOLDER"):
        TrackFiles.choose("lab", None, paths)
    with pytest.raises(ValueError, match="FOLDER"):
        TrackFiles.choose("lab", tmp_path / "one.lab", paths)
    with pytest.raises(ValueError, match="folder"):
        TrackFiles.choose("csv", tmp_path, paths)
    writer = TrackFiles.choose("lab", tmp_path / "labs", paths)
    writer.write(_result("x/a.wav"))
    writer.write(_result("y/a.wav"))
    assert sorted(p.name for p in (tmp_path / "labs").iterdir()) == ["a-2.lab", "a.lab"]


def test_plot_and_reference(tmp_path):
    pytest.importorskip("matplotlib")
    from musicedge.plot_segments import plot_segmentation, read_reference, self_similarity

    rng = np.random.default_rng(0)
    features = rng.normal(-40, 10, (128, 10)).astype(np.float32)
    ssm = self_similarity(features)
    assert ssm.shape == (10, 10) and np.allclose(np.diag(ssm), 1.0)
    lab = tmp_path / "song.lab"
    lab.write_text("0.0 1.2 verse\n1.2 1.9 chorus\n")
    reference = read_reference(lab)
    assert [s.label for s in reference] == ["verse", "chorus"]
    result = _result(str(tmp_path / "song.wav"))
    result = SegmentResult(**{**result.__dict__, "features": features})
    out = plot_segmentation(result, tmp_path / "song.png", reference=reference, threshold=0.3)
    assert out.read_bytes()[:4] == b"\x89PNG"
    csv_ref = tmp_path / "x.segments.csv"
    csv_ref.write_text('"start";"end";"label"\n0.0;6.5;"A"\n6.5;10.8;"B"\n')
    assert [(s.start, s.label) for s in read_reference(csv_ref)] == [(0.0, "A"), (6.5, "B")]


# -- the bundled model on bad input ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def structure() -> Segmenter:
    if "structure" not in models.available():
        pytest.skip("the bundled structure model is not built (python -m training.bundle structure)")
    return Segmenter.load("structure", device="cpu", threads=1)


@pytest.mark.parametrize("seconds", [0.01, 0.1, 0.5, 3.0])
def test_shorter_than_the_context(structure, seconds):
    y = (0.1 * np.sin(2 * np.pi * 440 * np.arange(int(22050 * seconds)) / 22050)).astype(np.float32)
    _covering(structure.segment(y, sr=22050), len(y) / 22050)


@pytest.mark.parametrize("seconds", [1.0, 60.0])
def test_silence(structure, seconds):
    segments = structure.segment(np.zeros(int(44100 * seconds), np.float32), sr=44100)
    _covering(segments, seconds)


def test_single_section_piece(structure):
    """A steady tone with clicks: no section change, so (almost) no boundary; always valid sections."""
    sr = 22050
    t = np.arange(sr * 40) / sr
    y = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t)
    y[:: sr // 2] += 0.5
    segments = structure.segment(y.astype(np.float32), sr=sr)
    _covering(segments, 40.0)
    assert len(segments) <= 3


def test_non_music(structure):
    files = sorted(real_path("nonmusic").glob("*.ogg"))
    for path in files:
        result = structure.analyze(path)
        _covering(list(result.segments), result.duration_s)


def test_long_song_runs_in_windows(structure):
    """Longer than one model window (8 min): windows blended, still contiguous sections."""
    sr = 22050
    rng = np.random.default_rng(1)
    y = (0.05 * rng.standard_normal(sr * 60 * 9)).astype(np.float32)
    y[: sr * 60 * 4] *= 4.0
    _covering(structure.segment(y, sr=sr), 540.0)


def test_only_long_inputs_give_their_memory_back(structure, monkeypatch):
    """The session keeps the memory of runs up to half a window for the next song; longer ones (whose
    attention needs up to four times as much) give it back."""
    runs = []
    original = structure.model.run

    def recorded(feeds, *, release_memory=False):
        runs.append((feeds["mel"].shape[-1], release_memory))
        return original(feeds, release_memory=release_memory)

    monkeypatch.setattr(structure.model, "run", recorded)
    n_mels, half = structure.spec.frontend.n_mels, structure.long_input_frames
    for frames in (1000, half, half + structure.pool, 3 * half):
        structure.activations(np.zeros((n_mels, frames), np.float32))
    assert runs[:3] == [(1000, False), (half, False), (half + structure.pool, True)]
    assert len(runs) > 4 and all(size > half and release for size, release in runs[3:])


def test_bad_input_errors(structure, tmp_path):
    with pytest.raises(ParameterError, match="sr is required"):
        structure.segment(np.zeros(100, np.float32))
    with pytest.raises(AudioError):
        structure.segment(np.zeros(0, np.float32), sr=22050)
    with pytest.raises(AudioError):
        structure.segment(np.full(1000, np.nan, np.float32), sr=22050)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEfmt nonsense")
    with pytest.raises(AudioError, match="bad.wav"):
        structure.segment(bad)
    results = list(structure.segment_files([bad, tmp_path / "missing.wav"]))
    assert all(isinstance(r, tuple) and isinstance(r[1], AudioError) for r in results)


def test_real_chopin_prelude(structure):
    folder = real_path("structure")
    audio = next(folder.glob("*.wav"))
    result = structure.analyze(audio)
    _covering(list(result.segments), 38.0)
