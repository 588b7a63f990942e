"""Train, export and describe the models that ship inside the package (``musicedge/models/``).

    python -m training.bundle genre|mood|all [--work out/bundle] [--epochs N] [--tracks N]

For each model: generate its corpus (seeded), train with ``python -m training classify``'s code,
export fp32 + int8 ONNX with the whole setup in the metadata, score the held-out tracks with ONNX
Runtime, and write the model card ``<name>.md`` from the measured numbers. Everything is generated
here: no data or weights are downloaded.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from musicedge.models import MODELS_DIR

from .corpus import write_layout
from .tasks.classify import (
    ClassifyConfig,
    ClassifyResult,
    evaluate,
    export_and_score,
    geometry_for,
    prepare_data,
    train_classifier,
)


@dataclass(frozen=True)
class Recipe:
    name: str
    layout: str  # corpus layout
    target: str
    model: str
    model_args: dict
    tracks: int
    test_tracks: int
    epochs: int
    seconds: float = 30.0
    corpus_seed: int = 0
    int8: bool = True  # ship the int8 copy (only where it is faster and as accurate: see the card)
    split: tuple[float, float, float] = (0.85, 0.15, 0.0)  # train, valid, test (test unused with test_tracks)
    what: str = ""
    # (tracks, seed) of further corpora of the layout whose tracks all join training (--extra-data)
    extra_corpora: tuple[tuple[int, int], ...] = ()
    crops: int = 4  # random windows per training track and epoch
    # frames between the windows scored (default: the layout's, half a window)
    hop_frames: int | None = None


RECIPES = {
    "genre": Recipe(
        "genre",
        "gtzan",
        "genre",
        "cnn5",
        {},
        tracks=300,
        test_tracks=100,
        epochs=30,
        what="genre-like style of a music clip, one of the ten GTZAN names",
        # Windows side by side, not half overlapping: the same held-out accuracy (0.95 at hop 64 and
        # 128 on the 100 test tracks) for half the inference, the largest part of a whole-library pass.
        hop_frames=128,
    ),
    # Melon corpora carry their own test split (a fifth of the tracks): no second corpus is made.
    "mood": Recipe(
        "mood",
        "melon",
        "mood",
        "fusion",
        {"channels": [8, 16, 32, 64, 128]},
        tracks=1000,
        test_tracks=0,
        epochs=12,
        corpus_seed=2,
        int8=False,
        split=(0.8, 0.1, 0.1),
        what="mood tags of a track (multi-label, 28 tags), from its mel spectrogram and optional metadata",
        # the test split stays the seed-2 corpus's own; more training songs from three more corpora
        extra_corpora=((500, 12), (1000, 13), (1000, 15)),
        crops=2,
    ),
}


def _corpus(layout: str, folder: Path, tracks: int, seconds: float, seed: int) -> Path:
    if not (folder / "corpus.json").exists():
        write_layout(layout, str(folder), tracks=tracks, seconds=seconds, seed=seed)
    return folder


def build(
    recipe: Recipe,
    work: Path,
    *,
    epochs: int | None = None,
    tracks: int | None = None,
    reuse_run: Path | None = None,
) -> dict:
    """Corpus, training (or ``reuse_run``: a finished run of this recipe's settings), export, card."""
    started = time.perf_counter()
    n_tracks = tracks or recipe.tracks
    seed = recipe.corpus_seed
    train_dir = _corpus(recipe.layout, work / f"{recipe.layout}-train", n_tracks, recipe.seconds, seed)
    test_dir = None
    if recipe.test_tracks:
        n_test = max(10, n_tracks // 3) if tracks else recipe.test_tracks
        test_dir = _corpus(recipe.layout, work / f"{recipe.layout}-test", n_test, recipe.seconds, seed + 1)
    extra = [
        _corpus(recipe.layout, work / f"{recipe.layout}-extra-s{k}", n, recipe.seconds, k)
        for n, k in recipe.extra_corpora
    ]
    run_dir = work / f"run-{recipe.name}"
    cfg = ClassifyConfig(
        layout=recipe.layout,
        out=run_dir,
        data=train_dir,
        test_data=test_dir,
        model=recipe.model,
        target=recipe.target,
        epochs=epochs or recipe.epochs,
        model_args=dict(recipe.model_args),
        name=recipe.name,
        split=recipe.split,
        seed=0,
        extra_data=extra,
        crops=recipe.crops,
        hop_frames=recipe.hop_frames,
    )
    prepared = prepare_data(cfg)
    geometry = geometry_for(prepared.kind, cfg.window_frames, cfg.hop_frames, prepared.frontend)
    result = _reuse(reuse_run, run_dir, prepared, geometry) if reuse_run else train_classifier(cfg, prepared)
    exported = export_and_score(result, prepared, geometry, sys.stderr)
    if "meta" in result.model.input_names and "fp32" in exported:
        exported["fp32"]["test_without_metadata"] = _score_without_metadata(
            Path(exported["fp32"]["path"]), prepared, geometry, result.thresholds
        )
    for variant, suffix in (("fp32", ".onnx"), ("int8", ".int8.onnx")):
        if variant in exported and (variant == "fp32" or recipe.int8):
            shutil.copyfile(exported[variant]["path"], MODELS_DIR / f"{recipe.name}{suffix}")
    summary_real = real_recordings(MODELS_DIR / f"{recipe.name}.onnx")
    seconds = time.perf_counter() - started + (result.metrics.get("train_seconds", 0.0) if reuse_run else 0.0)
    summary = {
        "recipe": recipe.__dict__,
        "metrics": result.metrics,
        "onnx": exported,
        "seconds": round(seconds, 1),
        "real_recordings": summary_real,
        "command": f"python -m training.bundle {recipe.name}",
    }
    (run_dir / "bundle.json").write_text(json.dumps(summary, indent=2, default=str))
    write_card(recipe, summary, MODELS_DIR / f"{recipe.name}.md")
    return summary


REAL_MUSIC = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real"


def real_recordings(model_path: Path) -> list[dict]:
    """The model's top labels on the real recordings beside the project (no ground truth: a look at
    how it transfers, reported in the card)."""
    from musicedge.audio import find_audio
    from musicedge.classify import Classifier

    files = find_audio([p for p in (REAL_MUSIC / "music", REAL_MUSIC / "nonmusic") if p.exists()])
    results = Classifier.load(model_path).predict_files(files)
    return [
        {"file": f"{Path(r.path).parent.name}/{Path(r.path).name}", "top": r.predictions[:2]}
        for r in results
        if not isinstance(r, tuple)
    ]


def _score_without_metadata(path: Path, prepared, geometry, thresholds) -> dict:
    """Test metrics of a fusion model fed no metadata (one padding token), as the runtime does when a
    file comes without artist, album or lyrics."""
    import numpy as np

    from musicedge.model import OnnxModel

    from .tasks.classify import track_scores_metrics, window_scores

    model = OnnxModel(path, device="cpu")

    def predict(inputs: list) -> np.ndarray:
        return model.run({"mel": inputs[0], "meta": np.zeros((len(inputs[0]), 1), np.int64)})["logits"]

    tracks = prepared.tests["test"]
    probabilities = window_scores(predict, tracks, geometry, prepared.multilabel)
    metrics, _ = track_scores_metrics(probabilities, tracks.targets, prepared.multilabel, thresholds)
    return metrics


def _reuse(source: Path, run_dir: Path, prepared, geometry) -> ClassifyResult:
    """A finished run of the same settings, adopted: its best checkpoint gains the architecture keys
    (``model_class``, ``model_kwargs``) that newer runs write into the spec themselves, and a tagger's
    thresholds are chosen again on the validation tracks by the current ``choose_thresholds``."""
    import numpy as np
    import torch

    from .checkpoint import load_checkpoint, model_class_path

    if run_dir.exists():
        shutil.rmtree(run_dir)
    shutil.copytree(source, run_dir)
    best = run_dir / "best.pt"
    checkpoint = torch.load(best, map_location="cpu", weights_only=True)
    model, spec, _ = load_checkpoint(best)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    extra = {
        **spec.extra,
        "model_class": model_class_path(model),
        "model_kwargs": json.dumps(model.model_kwargs, sort_keys=True),
    }
    if spec.multilabel:
        metrics["valid"], _, thresholds = evaluate(model, prepared.valid, geometry, True)
        extra["thresholds"] = json.dumps([round(float(t), 6) for t in thresholds])
    checkpoint["spec"] = spec.replace(extra=extra).to_dict()
    torch.save(checkpoint, best)
    model, spec, _ = load_checkpoint(best)
    raw = spec.extra.get("thresholds")
    thresholds = np.asarray(json.loads(raw)) if raw else None
    return ClassifyResult(run_dir, best, spec, model, metrics, thresholds)


def write_card(recipe: Recipe, summary: dict, path: Path) -> None:
    """The model card: what it does, what it was trained on, measured metrics, limits."""
    metrics, onnx = summary["metrics"], summary["onnx"]
    data = metrics["data"]
    key = "micro_f1" if metrics["multilabel"] else "accuracy"
    lines = [
        f"# `{recipe.name}`: {recipe.what}",
        "",
        f"- Architecture: `{metrics['model']}` ({metrics['parameters']:,} parameters), input log-mel "
        f"windows of {metrics['window_frames']} frames every {metrics['hop_frames']}; the clip's "
        "prediction is the mean of the window probabilities.",
        f"- Labels ({len(metrics['labels'])}): {', '.join(metrics['labels'])}.",
        "- Trained on: musicedge's generated corpus only (`python -m training corpus`, "
        f"layout `{recipe.layout}`, seed {recipe.corpus_seed}: {data['n_tracks']['train']} training and "
        f"{data['n_tracks']['valid']} validation tracks of {recipe.seconds:g} s"
        + "".join(
            f", plus all {n} tracks of the seed-{k} corpus"
            for n, k in recipe.extra_corpora
            if data.get("n_extra")
        )
        + "); never on real recordings.",
        f"- Held-out test: {data['n_tracks']['test']} generated tracks "
        + (
            f"from another seed ({recipe.corpus_seed + 1})"
            if recipe.test_tracks
            else "of the corpus's own test split (never seen in training or validation)"
        )
        + ", scored through ONNX Runtime as the runtime does.",
        f"- Epochs: best of {metrics['epochs_run']} (epoch {metrics['best_epoch']}); training took "
        f"{metrics['train_seconds']:.0f} s on this project's 2-core CPU machine.",
        "",
        "## Measured",
        "",
        "| file | held-out " + key + " | size |",
        "|---|---|---|",
    ]
    for variant in ("fp32", "int8") if recipe.int8 else ("fp32",):
        if variant in onnx:
            scores = onnx[variant]
            suffix = ".onnx" if variant == "fp32" else ".int8.onnx"
            lines.append(
                f"| `{recipe.name}{suffix}` ({variant}) | {scores['test'][key]:.4f} | "
                f"{scores['bytes'] / 1024:.0f} KiB |"
            )
    if "test_without_metadata" in onnx.get("fp32", {}):
        lines.append(
            f"| `{recipe.name}.onnx` without metadata (the runtime's default) | "
            f"{onnx['fp32']['test_without_metadata'][key]:.4f} | |"
        )
    lines += [
        "",
        f"Validation {key}: {metrics['valid'][key]:.4f}. Reproduce with `{summary['command']}` "
        f"({summary['seconds']:.0f} s end to end; corpora already on disk are reused, not timed).",
        "",
        "## On real recordings",
        "",
        "No labels exist for these; the model's two best answers on the files in `../shared/data/real/`:",
        "",
        *[
            f"- `{r['file']}`: "
            + (", ".join(f"{label} {score:.2f}" for label, score in r["top"]) or "no tag")
            for r in summary.get("real_recordings", [])
        ],
        "",
        "## Limits",
        "",
        "- The corpus is MIDI rendered with a General MIDI soundfont: no vocals, no production effects, ten "
        "synthetic styles. On real recordings expect much lower accuracy; treat the labels as "
        "'sounds like the generated style'.",
        (
            "- Silence and non-music still get tags when a probability clears its threshold; there is no "
            "'not music' output."
            if metrics["multilabel"]
            else "- Silence and non-music still get a prediction (the probabilities sum to one); there is no "
            "'none of these' class."
        ),
    ]
    if not recipe.int8 and "int8" in onnx:
        speedup = onnx["int8"].get("speedup")
        speed = f"{speedup:.2f}x the speed of fp32" if speedup else "at a speed not measured"
        lines.append(
            f"- No int8 copy ships (the recipe keeps fp32 only): quantised, held-out {key} was "
            f"{onnx['int8']['test'][key]:.4f} (fp32 {onnx['fp32']['test'][key]:.4f}), at {speed} "
            "(batch 1, one thread)."
        )
    lines.append("")
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.bundle", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", choices=[*RECIPES, "structure", "all"])
    parser.add_argument("--work", type=Path, default=Path("out/bundle"))
    parser.add_argument("--epochs", type=int, default=None, help="Override the recipe (a quick trial).")
    parser.add_argument("--tracks", type=int, default=None, help="Override the corpus size (a quick trial).")
    parser.add_argument(
        "--reuse-run",
        type=Path,
        default=None,
        help="Adopt a finished run of the recipe's settings (one name).",
    )
    args = parser.parse_args(argv)
    names = [*RECIPES, "structure"] if "all" in args.names else args.names
    for name in names:
        if name == "structure":  # the structure model has its own recipe (training/tasks/segment.py)
            from .tasks.segment import bundle_structure

            summary = bundle_structure(
                args.work, epochs=args.epochs, tracks=args.tracks, reuse_run=args.reuse_run
            )
            print(f"structure: {json.dumps(summary['metrics'].get('test_onnx', {}))[:400]}")
            continue
        summary = build(
            RECIPES[name], args.work, epochs=args.epochs, tracks=args.tracks, reuse_run=args.reuse_run
        )
        print(f"{name}: {json.dumps({k: v for k, v in summary['onnx'].items()}, default=str)[:400]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
