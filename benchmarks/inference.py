"""Inference suite: ONNX Runtime against PyTorch eager with the same weights, batch 1, one thread; and
the int8 copies against their fp32 files.

Each torch model is built with the architecture and arguments its ONNX file records
(``musicedge.extra.model_class`` / ``model_kwargs``), given seeded weights and exported to a temporary
file, so both engines run identical weights (the values do not change the cost).
"""

from __future__ import annotations

import argparse
import json
import sys
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


def int8_methods(names: list[str]) -> dict[str, dict[str, float]]:
    """Speed-up over fp32 of each int8 method for each architecture of ``training.models``, as
    ``python -m export --int8`` measures it: 128x128 mel windows (a waveform model: the same 3 s of
    samples), seeded random weights (the cost does not depend on them), calibration on the real music
    the exporter finds. Returns ``{name: {method: fp32 ms / method ms}}``."""
    import torch

    from export.onnx_export import export_model
    from musicedge import FrontendConfig
    from musicedge.spec import ModelSpec
    from training.models import create_model

    torch.set_num_threads(1)
    frontend = FrontendConfig.preset("gtzan22k")
    speedups = {}
    for name in names:
        torch.manual_seed(0)
        model = create_model(
            name, n_classes=10, n_mels=128, window_frames=128, hop_length=frontend.hop_length
        )
        hop = frontend.hop_length
        extra = {"input": "wave", "window_samples": str(128 * hop), "hop_samples": str(64 * hop)}
        spec = ModelSpec(
            task="classify",
            frontend=frontend,
            window_frames=128,
            hop_frames=64,
            model_name=name,
            model_version="bench",
            labels=tuple("abcdefghij"),
            extra=extra if "wave" in model.input_names else {},
        )
        with tempfile.TemporaryDirectory() as tmp:
            report = export_model(model, spec, Path(tmp) / f"{name}.onnx", int8=True, int8_min_agreement=0.0)
        latency = report.quantization["latency_ms"]
        speedups[name] = {m: latency["fp32"] / ms for m, ms in latency.items() if m != "fp32"}
    return speedups


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.inference int8``: each int8 method's speed-up over fp32 per architecture
    (the table in ``export/quantize.py``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inference", description=main.__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    int8 = sub.add_parser("int8", help="int8 speed-ups over fp32 per architecture and method")
    int8.add_argument("--models", nargs="+", default=["cnn5", "resnet", "ast", "hubert"])
    args = parser.parse_args(argv)
    for name, speedups in int8_methods(args.models).items():
        print(f"{name:8s} " + "  ".join(f"{m} {x:.2f}x" for m, x in sorted(speedups.items())), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
