"""Inference suite: ONNX Runtime against PyTorch eager with the same weights, batch 1, one thread; and
the int8 copies against their fp32 files.

Each torch model is built with the architecture and arguments its ONNX file records
(``musicedge.extra.model_class`` / ``model_kwargs``), given seeded weights and exported to a temporary
file, so both engines run identical weights (the values do not change the cost).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from musicedge.model import cpu_session

from .harness import Record, measure

SUITE = "inference"


def _eager_vs_ort(name: str, model, spec, repeats: int) -> Record:
    import torch

    from export.onnx_export import export_model

    model.eval()
    inputs = tuple(x[:1] for x in model.example_inputs(batch=1))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.onnx"
        export_model(model, spec, path, verify=True)
        session = cpu_session(path, threads=1)
        feeds = {n: x.numpy() for n, x in zip(model.input_names, inputs, strict=True)}

        def eager():
            with torch.inference_mode():
                return model(*inputs)

        ours = measure(lambda: session.run(None, feeds), repeats=repeats, min_seconds=1.0)
        theirs = measure(eager, repeats=repeats, min_seconds=1.0)
    shape = "x".join(str(d) for d in inputs[0].shape)
    return Record.compared(
        SUITE, f"{name} fp32, batch 1 ({shape}), 1 thread", ours, "PyTorch eager", theirs, target=">= 3x"
    )


def _int8_vs_fp32(name: str, fp32: Path, int8: Path, repeats: int) -> Record:
    from musicedge.model import OnnxModel

    spec = OnnxModel(fp32).spec
    session32, session8 = cpu_session(fp32, threads=1), cpu_session(int8, threads=1)
    rng = np.random.default_rng(0)
    shape = (1, 1, spec.frontend.n_mels, spec.window_frames)
    feeds = {session32.get_inputs()[0].name: (rng.standard_normal(shape) * 15 - 50).astype(np.float32)}
    for extra in session32.get_inputs()[1:]:
        feeds[extra.name] = np.zeros((1, 1), np.int64)
    ours = measure(lambda: session8.run(None, feeds), repeats=repeats, min_seconds=1.0)
    theirs = measure(lambda: session32.run(None, feeds), repeats=repeats, min_seconds=1.0)
    return Record.compared(
        SUITE,
        f"bundled {name} int8, batch 1, 1 thread",
        ours,
        "fp32 ONNX",
        theirs,
        target=">= 1.5x",
        note="accuracy change: see the model card",
    )


def run(quick: bool = False) -> list[Record]:
    import torch

    from musicedge import FrontendConfig
    from musicedge.model import OnnxModel
    from musicedge.models import available
    from musicedge.spec import ModelSpec
    from training.checkpoint import import_model_class
    from training.models import create_model

    torch.set_num_threads(1)
    repeats = 10 if quick else 50
    records = []
    torch.manual_seed(0)
    melon = FrontendConfig.preset("melon16k")
    cnn5 = create_model("cnn5", n_classes=4, n_mels=128, window_frames=1000, hop_length=melon.hop_length)
    spec = ModelSpec(
        task="classify",
        frontend=melon,
        window_frames=1000,
        hop_frames=1000,
        model_name="cnn5",
        model_version="bench",
        labels=("a", "b", "c", "d"),
    )
    records.append(_eager_vs_ort("cnn5 (seed 004 baseline, melon16k)", cnn5, spec, repeats))

    bundled = available()
    for name, path in sorted(bundled.items()):
        if name.endswith(".int8"):
            continue
        spec = OnnxModel(path).spec
        if spec.task != "classify" or "model_class" not in spec.extra:
            continue
        torch.manual_seed(0)
        model = import_model_class(spec.extra["model_class"])(**json.loads(spec.extra["model_kwargs"]))
        records.append(_eager_vs_ort(f"bundled {name} ({spec.extra['architecture']})", model, spec, repeats))
        if f"{name}.int8" in bundled:
            records.append(_int8_vs_fp32(name, path, bundled[f"{name}.int8"], repeats))
    return records
