"""Seed 003's experiment, automated: three architectures x three kinds of training data, each model
scored on a clean and a noisy test set.

::

    python -m training.experiments.seed003 --data DIR --out DIR [--epochs N] [--quick]

* architectures: a spectrogram CNN (``cnn5``), a spectrogram transformer (``ast``) and a raw-waveform
  transformer (``hubert``);
* training data: the baseline (the train split of a GTZAN-style folder), baseline + noise (a copy of
  every training track with white Gaussian noise at SNR 10 dB, :func:`training.augment.add_white_noise`)
  and baseline + generated (as many extra tracks from the corpus generator, another seed, same styles);
* every model is trained for the same number of epochs and windows per epoch (the bigger training
  sets get fewer random windows per track), selected on the clean validation tracks, and scored on
  the test tracks clean and with white noise at SNR 10 dB (another noise draw).

``--data`` is a GTZAN-layout folder (``genres/<genre>/*.wav``); when it is absent or empty, a corpus
is generated there first (200 tracks x 30 s of the ten styles; ``--quick``: 3 styles x 4 tracks x 6 s).
It is split 80 / 10 / 10 (train / valid / test, stratified by genre, seeded; ``--split`` to change).
Writes ``OUT/seed003.md`` (the tables: one-vs-rest macro ROC-AUC and accuracy, clean / noisy),
``OUT/seed003.json`` and one run folder per model (``OUT/runs/<arch>-<data>/``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch

from musicedge.errors import MusicEdgeError

from ..corpus import write_layout
from ..layouts import load_gtzan
from ..loop import resolve_device
from ..models import input_kind
from ..tasks.classify import (
    ClassifyConfig,
    Prepared,
    SplitTracks,
    build_trackset,
    read_splits,
    track_features,
    train_classifier,
)
from ..tasks.data import map_progress

SNR_DB = 10.0
#: Row name -> (model, model arguments) for the full and the quick experiment.
ARCHITECTURES: dict[str, tuple[str, dict[str, Any]]] = {
    "CNN": ("cnn5", {"channels": [8, 16, 32, 64, 128]}),
    "AST": ("ast", {"dim": 64, "depth": 3, "heads": 4}),
    "HuBERT": ("hubert", {"dim": 64, "depth": 2, "heads": 4, "conv_channels": [16, 32, 32, 64, 64, 64, 64]}),
}
QUICK_ARCHITECTURES: dict[str, tuple[str, dict[str, Any]]] = {
    "CNN": ("cnn5", {"channels": [4, 4, 8, 8, 8]}),
    "AST": ("ast", {"dim": 16, "depth": 1, "heads": 2}),
    "HuBERT": ("hubert", {"dim": 16, "depth": 1, "heads": 2, "conv_channels": [4, 8, 8, 8, 8, 8, 8]}),
}
DATA_VARIANTS = ("baseline", "noise", "generated")
COLUMN_TITLES = {
    "baseline": "Baseline data",
    "noise": "Baseline + Noise data",
    "generated": "Baseline + Generated data",
}


@dataclass(frozen=True)
class Settings:
    """The experiment's settings (the full and the quick defaults differ)."""

    epochs: int
    tracks: int
    seconds: float
    styles: tuple[str, ...] | None
    crops: int
    window_frames: int
    hop_frames: int
    generated_tracks: int | None
    split: tuple[float, float, float]
    batch_size: int
    lr: float


FULL = Settings(
    epochs=15,
    tracks=200,
    seconds=30.0,
    styles=None,
    crops=4,
    window_frames=128,
    hop_frames=64,
    generated_tracks=None,
    split=(0.8, 0.1, 0.1),
    batch_size=32,
    lr=2e-3,
)
QUICK = Settings(
    epochs=1,
    tracks=12,
    seconds=6.0,
    styles=("blues", "disco", "metal"),
    crops=2,
    window_frames=64,
    hop_frames=32,
    generated_tracks=3,
    split=(0.5, 0.25, 0.25),
    batch_size=8,
    lr=2e-3,
)


def _ensure_corpus(root: Path, settings: Settings, seed: int, log: TextIO) -> None:
    if root.is_dir() and any(root.iterdir()):
        return
    print(
        f"seed003: generating {settings.tracks} tracks x {settings.seconds:g} s in {root}",
        file=log,
        flush=True,
    )
    write_layout("gtzan", str(root), settings.tracks, settings.seconds, seed, styles=settings.styles)


def _generate_extra(out: Path, splits: SplitTracks, n: int, seconds: float, seed: int, log: TextIO) -> Path:
    """``n`` generated tracks of the training labels (as styles) in ``out``, seed ``seed``."""
    if not (out.is_dir() and any(out.iterdir())):
        print(f"seed003: generating {n} extra tracks (seed {seed}) in {out}", file=log, flush=True)
        write_layout("gtzan", str(out), n, seconds, seed, styles=splits.labels)
    return out


def run_experiment(
    data: Path,
    out: Path,
    *,
    settings: Settings,
    seed: int = 0,
    device: str = "auto",
    architectures: dict[str, tuple[str, dict[str, Any]]] | None = None,
    log: TextIO | None = None,
) -> dict[str, Any]:
    """Run the 3 x 3 experiment and write ``seed003.md`` / ``seed003.json`` into ``out``; returns the
    results (``results[arch][variant]["clean" | "noisy"]`` metrics)."""
    log = log or sys.stderr
    architectures = architectures or ARCHITECTURES
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _ensure_corpus(data, settings, seed, log)
    seconds = _track_seconds(data, settings.seconds)
    splits = read_splits("gtzan", data, "genre", seed=seed, split=settings.split)
    n_extra = settings.generated_tracks or len(splits.train)
    extra_root = _generate_extra(out / "generated", splits, n_extra, seconds, seed + 1, log)
    extra = [t for t in load_gtzan(extra_root).tracks if t.label in set(splits.labels)]

    frontend = ClassifyConfig(layout="gtzan", out=out).frontend
    kinds = sorted({"wave" if input_kind(m) == "wave" else "mel" for m, _ in architectures.values()})
    sets: dict[str, dict[str, Any]] = {}
    for kind in kinds:

        def features(tracks, what, snr=None, noise_seed=seed, kind=kind):
            def one(t):
                return track_features(t, kind, frontend, noise_snr=snr, noise_seed=noise_seed)

            return build_trackset(
                tracks, map_progress(one, tracks, f"seed003: {kind} {what}", log), splits.labels, False
            )

        sets[kind] = {
            "train": features(splits.train, "train"),
            "train_noisy": features(splits.train, f"train + noise (SNR {SNR_DB:g})", SNR_DB),
            "generated": features(extra, "generated"),
            "valid": features(splits.valid, "valid"),
            "test": features(splits.test, "test"),
            "test_noisy": features(splits.test, f"test + noise (SNR {SNR_DB:g})", SNR_DB, seed + 7919),
        }

    results: dict[str, dict[str, Any]] = {}
    for arch, (model, model_args) in architectures.items():
        kind = "wave" if input_kind(model) == "wave" else "mel"
        s = sets[kind]
        results[arch] = {}
        for variant in DATA_VARIANTS:
            train = s["train"]
            if variant == "noise":
                train = train.concat(s["train_noisy"])
            elif variant == "generated":
                train = train.concat(s["generated"])
            crops = max(1, round(settings.crops * len(s["train"]) / len(train)))
            info = dict(splits.info)
            info.update(experiment="seed003", variant=variant, n_train_examples=len(train))
            if variant == "noise":
                info["noise_snr"] = SNR_DB
            if variant == "generated":
                info["generated"] = {"root": str(extra_root), "tracks": len(extra), "seed": seed + 1}
            prepared = Prepared(
                labels=splits.labels,
                multilabel=False,
                frontend=frontend,
                kind=input_kind(model),
                train=train,
                valid=s["valid"],
                tests={"clean": s["test"], "noisy": s["test_noisy"]},
                vocab=None,
                info=info,
            )
            cfg = ClassifyConfig(
                layout="gtzan",
                data=data,
                out=out / "runs" / f"{arch.lower()}-{variant}",
                model=model,
                epochs=settings.epochs,
                device=device,
                seed=seed,
                window_frames=settings.window_frames,
                hop_frames=settings.hop_frames,
                batch_size=settings.batch_size,
                lr=settings.lr,
                crops=crops,
                split=settings.split,
                model_args=dict(model_args),
                name=f"seed003-{arch.lower()}-{variant}",
            )
            print(f"seed003: training {arch} ({model}) on {variant} data", file=log, flush=True)
            t0 = time.perf_counter()
            result = train_classifier(cfg, prepared, log)
            m = result.metrics
            results[arch][variant] = {
                "clean": m["clean"],
                "noisy": m["noisy"],
                "valid": m["valid"],
                "model": model,
                "model_args": model_args,
                "parameters": m["parameters"],
                "best_epoch": m["best_epoch"],
                "crops": crops,
                "train_examples": len(train),
                "seconds": round(time.perf_counter() - t0, 1),
            }
            line = (
                _cell(results[arch][variant], "roc_auc")
                + "  acc "
                + _cell(results[arch][variant], "accuracy")
            )
            print(f"seed003: {arch} {variant}: ROC-AUC {line}", file=log, flush=True)

    summary = {
        "experiment": "seed003",
        "data": str(data),
        "labels": list(splits.labels),
        "splits": splits.info["n_tracks"],
        "generated_tracks": len(extra),
        "track_seconds": seconds,
        "snr_db": SNR_DB,
        "settings": settings.__dict__,
        "seed": seed,
        "device": str(resolve_device(device)),
        "threads": torch.get_num_threads(),
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }
    (out / "seed003.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    (out / "seed003.md").write_text(markdown(summary), encoding="utf-8")
    return summary


def _track_seconds(root: Path, default: float) -> float:
    """The length of the corpus's tracks (from its ``corpus.json``), for generating alike ones."""
    try:
        return float(json.loads((root / "corpus.json").read_text(encoding="utf-8"))["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return default


def _cell(result: dict[str, Any], metric: str) -> str:
    def fmt(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else "n/a"

    return f"{fmt(result['clean'].get(metric))} / {fmt(result['noisy'].get(metric))}"


def markdown(summary: dict[str, Any]) -> str:
    """The report: the two 3 x 3 tables (clean / noisy in each cell) and how they were made."""
    results = summary["results"]
    settings = summary["settings"]
    header = "|          | " + " | ".join(COLUMN_TITLES[v] for v in DATA_VARIANTS) + " |"
    rule = "|---|" + "---|" * len(DATA_VARIANTS)

    def table(metric: str) -> list[str]:
        rows = [header, rule]
        for arch, by_variant in results.items():
            model = next(iter(by_variant.values()))["model"]
            cells = [_cell(by_variant[v], metric) for v in DATA_VARIANTS]
            rows.append(f"| {arch} (`{model}`) | " + " | ".join(cells) + " |")
        return rows

    n = summary["splits"]
    lines = [
        "# Seed 003: architectures x training data, clean and noisy test",
        "",
        f"Genre classification, {len(summary['labels'])} classes ({', '.join(summary['labels'])}), "
        f"GTZAN-layout data in `{summary['data']}`: {n['train']} train / {n['valid']} valid / "
        f"{n['test']} test tracks of {summary['track_seconds']:g} s. Each cell is **clean / noisy**: the "
        f"test tracks as they are, and with white Gaussian noise at SNR {summary['snr_db']:g} dB.",
        "",
        "## One-vs-rest macro ROC-AUC",
        "",
        *table("roc_auc"),
        "",
        "## Accuracy",
        "",
        *table("accuracy"),
        "",
        "## How",
        "",
        f"- Baseline: the {n['train']} training tracks. Noise: plus a copy of each with white Gaussian "
        f"noise at SNR {summary['snr_db']:g} dB (`training.augment.add_white_noise`). Generated: plus "
        f"{summary['generated_tracks']} tracks from the corpus generator (`training.corpus`, another seed, "
        "the same styles).",
        f"- Every model: {settings['epochs']} epochs of the same number of random windows "
        f"({settings['window_frames']} frames, SpecAugment on mel input), one-cycle AdamW at lr "
        f"{settings['lr']:g}, batch {settings['batch_size']}; the epoch with the best clean validation "
        "accuracy is kept. A track's scores are the mean of the softmax over all its windows (hop "
        f"{settings['hop_frames']} frames), as the runtime computes them.",
        "- Models: "
        + "; ".join(
            f"{arch} `{by['baseline']['model']}` {json.dumps(by['baseline']['model_args'])} "
            f"({by['baseline']['parameters']:,} parameters)"
            for arch, by in results.items()
        )
        + ".",
        f"- Seed {summary['seed']}, {summary['threads']} torch thread(s), device {summary['device']}; "
        f"the whole experiment took {summary['seconds'] / 60:.1f} min "
        f"({platform.python_implementation()} {platform.python_version()}, torch {torch.__version__}).",
        "",
        "| model | data | train examples | best epoch | seconds | valid accuracy |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for arch, by_variant in results.items():
        for variant in DATA_VARIANTS:
            r = by_variant[variant]
            valid = r["valid"].get("accuracy")
            lines.append(
                f"| {arch} | {variant} | {r['train_examples']} | {r['best_epoch']} | {r['seconds']:.0f} | "
                f"{valid:.3f} |"
            )
    return "\n".join(lines) + "\n"


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three comma-separated fractions, got {text!r}") from None
    if len(parts) != 3 or any(p <= 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise argparse.ArgumentTypeError(f"expected three positive fractions summing to 1, got {text!r}")
    return parts  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.experiments.seed003", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="GTZAN-layout folder")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the report goes")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per model (15; quick: 1)")
    parser.add_argument("--quick", action="store_true", help="a tiny smoke version (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cuda or cpu")
    parser.add_argument("--generated-tracks", type=int, default=None, help="extra tracks (as many as train)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--split",
        type=_fractions,
        default=None,
        metavar="TR,VA,TE",
        help="train, valid and test fractions of --data (0.8,0.1,0.1; quick: 0.5,0.25,0.25)",
    )
    args = parser.parse_args(argv)
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.generated_tracks is not None and args.generated_tracks < 1:
        parser.error(f"--generated-tracks must be at least 1, got {args.generated_tracks}")
    if args.threads:
        torch.set_num_threads(args.threads)
    settings = QUICK if args.quick else FULL
    changes = {}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.generated_tracks is not None:
        changes["generated_tracks"] = args.generated_tracks
    if args.split is not None:
        changes["split"] = args.split
    settings = Settings(**{**settings.__dict__, **changes})
    try:
        summary = run_experiment(
            args.data,
            args.out,
            settings=settings,
            seed=args.seed,
            device=args.device,
            architectures=QUICK_ARCHITECTURES if args.quick else ARCHITECTURES,
        )
    except (MusicEdgeError, OSError, ValueError, RuntimeError) as exc:
        print(f"seed003: error: {exc}", file=sys.stderr)
        return 1
    print((args.out / "seed003.md").read_text(encoding="utf-8"))
    print(f"seed003: wrote {args.out / 'seed003.md'} in {summary['seconds'] / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
