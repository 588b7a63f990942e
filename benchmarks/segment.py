"""Segment suite: structure segmentation speed.

* A 4-minute generated song (a 44.1 kHz WAV, so decoding and resampling are included) from the file to
  its sections with the bundled ``structure`` model, one thread everywhere: time against the song's own
  length (the real-time factor; target >= 300x).
* The structure model (boundary activation and label logits, one graph) on that song's whole mel
  (1, 1, 128, ~10 300 frames) and on a 30 s clip: ONNX Runtime against PyTorch eager with the same
  weights, batch 1, one thread (target >= 2x). The torch model is rebuilt from the architecture the ONNX
  file records (``musicedge.extra.model_class`` / ``model_kwargs``) with seeded weights and exported
  again, so both engines run identical weights.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .harness import Record, measure

SUITE = "segment"
DATA = Path(os.environ.get("MUSICEDGE_BENCH_DATA", "out/bench-data"))
SONG_SECONDS = 240.0


def song(seconds: float = SONG_SECONDS) -> Path:
    """A generated pop song, ``seconds`` long, as 44.1 kHz 16-bit WAV (cached)."""
    path = DATA / f"segment-song-{seconds:g}s.wav"
    if not path.exists():
        import soundfile as sf

        from training.corpus import generate_song

        path.parent.mkdir(parents=True, exist_ok=True)
        y = generate_song("pop", seconds=seconds, seed=3, sample_rate=44100).audio
        sf.write(path, y, 44100, subtype="PCM_16")
    return path


def _skipped(case: str, why: str) -> list[Record]:
    return [Record(SUITE, case, float("nan"), "s", note=f"skipped: {why}")]


def run(quick: bool = False) -> list[Record]:
    from threadpoolctl import threadpool_limits

    from musicedge.models import available
    from musicedge.segment import Segmenter

    if "structure" not in available():
        return _skipped("structure", "no bundled structure model (python -m training.bundle structure)")
    repeats = 3 if quick else 10
    path = song()
    records = []
    with threadpool_limits(1):
        segmenter = Segmenter.load("structure", device="cpu", threads=1)
        timing = measure(lambda: segmenter.segment(path), repeats=repeats)
        n = len(segmenter.segment(path))
        records.append(
            Record(
                SUITE,
                f"4-minute song (44.1 kHz WAV) decode -> {n} sections, 1 thread",
                timing.median,
                "s",
                "real time",
                SONG_SECONDS,
                SONG_SECONDS / timing.median,
                spread=timing.spread,
                target=">= 300x",
                note="decode, resample to 22 050 Hz, mel, model, peak picking, labels",
            )
        )
        records += _eager_vs_ort(segmenter, path, repeats)
    return records


def _eager_vs_ort(segmenter, path: Path, repeats: int) -> list[Record]:
    import torch

    from export.onnx_export import export_model
    from musicedge.audio import load
    from musicedge.model import cpu_session
    from training.checkpoint import import_model_class

    torch.set_num_threads(1)
    spec = segmenter.spec
    torch.manual_seed(0)
    model = import_model_class(spec.extra["model_class"])(**json.loads(spec.extra["model_kwargs"])).eval()
    y, _ = load(path, sr=spec.frontend.sample_rate)
    mel = segmenter.model.frontend.compute(y)
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = Path(tmp) / "structure.onnx"
        export_model(model, spec, onnx_path, verify=False)
        session = cpu_session(onnx_path, threads=1)
        for what, frames in (("4-minute song", mel.shape[1]), ("30 s clip", int(30 * 22050 / 512))):
            x = np.ascontiguousarray(mel[None, None, :, : frames - frames % 8], dtype=np.float32)
            xt = torch.from_numpy(x)

            def eager(xt=xt):
                with torch.inference_mode():
                    return model(xt)

            ours = measure(lambda x=x: session.run(None, {"mel": x}), repeats=repeats, min_seconds=1.0)
            theirs = measure(eager, repeats=repeats, min_seconds=1.0)
            records.append(
                Record.compared(
                    SUITE,
                    f"structure model, {what} (1x1x128x{x.shape[-1]}), 1 thread",
                    ours,
                    "PyTorch eager",
                    theirs,
                    target=">= 2x",
                )
            )
    return records
