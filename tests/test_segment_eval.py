"""``musicedge eval segment``: a segment model scored on a SALAMI folder through the runtime."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

from musicedge.annotations import Section
from musicedge.models import available
from musicedge.segment_eval import salami_songs, score_row


def test_score_row_reads_the_mir_eval_names_into_short_columns():
    reference = [Section(0.0, 10.0, "intro"), Section(10.0, 30.0, "verse")]
    exact = score_row(reference, reference)
    assert exact["HR.5F"] == exact["HR3F"] == exact["Acc"] == 1.0
    assert (exact["n_ref"], exact["n_est"]) == (2, 2)
    off = score_row(reference, [(0.0, 12.0, "intro"), (12.0, 30.0, "chorus")], labelled=False)
    assert off["HR.5F"] == pytest.approx(2 / 3)  # boundaries 0, 10, 30 s: the 10 s one is 2 s off
    assert off["HR3F"] == 1.0
    assert math.isnan(off["Acc"])


@pytest.mark.skipif("structure" not in available(), reason="no bundled structure model")
def test_eval_segment_scores_a_salami_folder_with_missing_and_broken_audio(tmp_path):
    from musicedge.segment import Segmenter
    from training.corpus import write_layout

    root = tmp_path / "salami"
    write_layout("salami", str(root), tracks=2, seconds=40, seed=3)
    first = sorted((root / "annotations").iterdir())[0]
    for song_id in ("98", "99"):  # 98 has no audio; 99's audio is not audio
        shutil.copytree(first, root / "annotations" / song_id)
    (root / "audio" / "99.wav").write_bytes(np.random.default_rng(0).bytes(3000))

    songs, missing = salami_songs(root)
    assert missing == ["98"] and [s[0] for s in songs][-1] == "99"
    out = subprocess.run(
        [sys.executable, "-m", "musicedge", "eval", "segment", "--data", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1 and "99.wav" in out.stderr, out.stderr
    segmenter = Segmenter.load("structure")
    for song_id, path, reference in songs[:-1]:
        row = score_row(reference, segmenter.analyze(path).segments)
        assert f"| {song_id} | {row['HR.5F']:.3f} | {row['HR3F']:.3f} |" in out.stdout
    assert "2 songs scored; 1 failed; 1 annotated without audio, left out" in out.stdout

    out = subprocess.run(
        [sys.executable, "-m", "musicedge", "eval", "segment", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 1 and "annotations: missing" in out.stderr
