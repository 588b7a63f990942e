"""The structure task end to end on a tiny generated SALAMI corpus: ``python -m training segment``
(train seconds, export), the runtime ``Segmenter`` on the exported file, ``musicedge segment`` in every
format with plots, and ``python -m training segment-eval``; plus the targets and the peak grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("mir_eval")

from click.testing import CliRunner  # noqa: E402

from musicedge.cli import cli  # noqa: E402
from musicedge.config import FrontendConfig  # noqa: E402
from musicedge.segment import PeakParams, Segmenter, frame_times  # noqa: E402
from training.__main__ import main  # noqa: E402
from training.corpus import write_layout  # noqa: E402
from training.layouts import Section  # noqa: E402
from training.layouts.salami import TAXONOMY  # noqa: E402
from training.models.segment import StructureNet  # noqa: E402
from training.tasks.segment import (  # noqa: E402
    SongOutputs,
    make_targets,
    read_csv_sections,
    read_songs,
    tune_peaks,
)

torch.set_num_threads(1)

TINY = ["--dim", "16", "--layers", "1", "--heads", "2", "--epochs", "2", "--threads", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("salami")
    write_layout("salami", str(root), 6, 10.0, seed=0, jobs=1, styles=("pop", "rock"))
    return root


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> Path:
    """A tiny structure model trained for seconds and exported (``--export``)."""
    run = tmp_path_factory.mktemp("run")
    status = main(
        ["segment", "--layout", "salami", "--data", str(corpus), "--out", str(run), *TINY, "--export"]
    )
    assert status == 0
    return run


def test_targets_mark_boundaries_and_labels():
    sections = [Section(0.0, 10.0, "intro"), Section(10.0, 30.0, "verse"), Section(30.0, 40.0, "silence")]
    times = frame_times(215, 8, 512, 22050)  # about 40 s
    target, labels = make_targets(sections, 40.0, times, sigma=0.5)
    near = np.argmin(np.abs(times - 10.0))
    assert target[near] > 0.9 and target[np.argmin(np.abs(times - 5.0))] == 0.0
    far = (np.abs(times - 10.0) > 2.0) & (np.abs(times - 30.0) > 2.0)
    assert target[far].max() == 0.0 and target[np.argmin(np.abs(times - 30.0))] > 0.9
    assert labels[np.argmin(np.abs(times - 20.0))] == TAXONOMY.index("verse")
    assert labels[np.argmin(np.abs(times - 35.0))] == TAXONOMY.index("silence")
    # a gap (unmapped section) is ignored by the label loss
    _, gap = make_targets([Section(0.0, 10.0, "intro"), Section(20.0, 40.0, "outro")], 40.0, times)
    assert gap[np.argmin(np.abs(times - 15.0))] == -100


def test_peak_grid_finds_the_right_threshold():
    frame_rate = 22050 / 512 / 8
    times = frame_times(300, 8, 512, 22050)
    truth = [
        Section(0.0, 20.0, "verse"),
        Section(20.0, 40.0, "chorus"),
        Section(40.0, times[-1] + 0.1, "outro"),
    ]
    activation = 0.35 * np.exp(-0.5 * ((times - 20.0) / 0.5) ** 2) + 0.35 * np.exp(
        -0.5 * ((times - 40.0) / 0.5) ** 2
    )
    activation += 0.25 * np.exp(-0.5 * ((times - 30.0) / 0.5) ** 2)  # a weaker false peak
    outputs = [SongOutputs(activation, np.log(np.full((300, 7), 1 / 7)), times, times[-1] + 0.1)]
    params, score = tune_peaks(outputs, [truth], frame_rate)
    assert 0.25 < params.threshold <= 0.35 or params.mean_window_s > 0
    assert score == pytest.approx(1.0)


def test_model_has_dynamic_time_and_two_outputs():
    model = StructureNet(dim=16, layers=1, heads=2).eval()
    with torch.no_grad():
        for frames in (8, 80, 1001):
            boundary, labels = model(torch.full((1, 1, 128, frames), -60.0))
            assert boundary.shape == (1, frames // 8) and labels.shape == (1, frames // 8, 7)


def test_csv_sections(tmp_path):
    path = tmp_path / "x.segments.csv"
    path.write_text('"start";"end";"label"\n0.0;6.5;"A"\n6.5;10.8;"B"\n')
    assert read_csv_sections(path) == (Section(0.0, 6.5, "A"), Section(6.5, 10.8, "B"))


def test_train_export_segment_cli(trained, corpus, tmp_path):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics["test_onnx"]) >= {"HR.5F", "HR3F", "PWF", "Sf", "Acc"}
    assert metrics["test_onnx"]["HR3F"] == pytest.approx(metrics["test_torch"]["HR3F"])
    assert (trained / "report.md").read_text().count("| **mean** |") == 1
    onnx_path = trained / "model.onnx"
    segmenter = Segmenter.load(onnx_path, device="cpu")
    assert segmenter.spec.task == "segment" and segmenter.labels == TAXONOMY
    params = PeakParams.from_spec(segmenter.spec)
    assert params.threshold == metrics["peak_params"]["threshold"]  # tuned on validation, in the metadata
    song = sorted((corpus / "audio").glob("*.wav"))[0]
    segments = segmenter.segment(song)
    assert segments and segments[0].start == 0.0
    assert all(a.end == b.start for a, b in zip(segments[:-1], segments[1:], strict=True))
    assert segments[-1].end == pytest.approx(segmenter.analyze(song).duration_s)
    assert all(s.label in TAXONOMY and 0.0 <= s.confidence <= 1.0 for s in segments)

    runner = CliRunner()
    audio = str(corpus / "audio")
    result = runner.invoke(cli, ["segment", audio, "-m", str(onnx_path), "-f", "jsonl"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 6 and all(r["segments"][0]["start"] == 0.0 for r in records)
    labs = tmp_path / "labs"
    result = runner.invoke(cli, ["segment", audio, "-m", str(onnx_path), "-f", "lab", "-o", str(labs)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in labs.iterdir()) == [f"{i}.lab" for i in range(1, 7)]
    first = (labs / "1.lab").read_text().splitlines()[0].split("\t")
    assert first[0] == "0.000" and first[2] in TAXONOMY
    jams_file = tmp_path / "one.jams"
    result = runner.invoke(
        cli, ["segment", str(song), "-m", str(onnx_path), "-f", "jams", "-o", str(jams_file)]
    )
    assert result.exit_code == 0, result.output
    jams = pytest.importorskip("jams")
    jam = jams.load(str(jams_file), validate=True)
    assert jam.annotations[0].namespace == "segment_open"
    plots = tmp_path / "plots"
    result = runner.invoke(
        cli, ["segment", str(song), "-m", str(onnx_path), "-f", "csv", "--plot", str(plots)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("path,duration_s,model,index,start,end,label")
    png = plots / f"{song.stem}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_segment_eval_table(trained, corpus, capsys, tmp_path):
    model = str(trained / "model.onnx")
    refs = tmp_path / "refs"
    args = ["segment-eval", "--model", model, "--data", str(corpus), "--layout", "salami"]
    assert main([*args, "--write-references", str(refs)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].startswith("| track | HR.5F | HR3F | PWF | Sf | Acc")
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    songs = read_songs("salami", corpus, FrontendConfig.preset("gtzan22k"))
    assert len(songs) == 6 and len(rows) == 1 + len(songs) + 1  # header, one per song, the mean
    first = (refs / f"{songs[0][0]}.lab").read_text().splitlines()
    assert len(first) == len(songs[0][2]) and first[0].split("\t")[2] in TAXONOMY
    # the references drawn in a plot
    pytest.importorskip("matplotlib")
    plots = tmp_path / "plots"
    audio = str(songs[0][1])
    result = CliRunner().invoke(
        cli, ["segment", audio, "-m", model, "--plot", str(plots), "--reference", str(refs)]
    )
    assert result.exit_code == 0, result.output
    assert (plots / f"{songs[0][1].stem}.png").is_file()


def test_synthetic_layout_generates_its_corpora(tmp_path):
    data = tmp_path / "generated"
    args = ["segment", "--layout", "synthetic", "--data", str(data), "--tracks", "5", "--seconds", "10"]
    assert main([*args, "--out", str(tmp_path / "run"), *TINY[:-4], "--epochs", "1", "--threads", "1"]) == 0
    assert len(list((data / "audio").glob("*.wav"))) == 5
    assert len(list((tmp_path / "generated-test" / "audio").glob("*.wav"))) == 4
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["data"]["n_songs"]["test"] == 4 and "test_onnx" not in metrics
