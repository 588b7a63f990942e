"""``python -m training classify``: train a genre / station classifier or a mood tagger.

::

    python -m training classify --layout gtzan|melon|synthetic --data DIR --model NAME \\
        [--target genre|station|mood] --epochs N --device auto|cuda|cpu --out RUN_DIR [--seed K] \\
        [--window-frames W] [--hop-frames H] [--batch-size B] [--lr LR] [--noise-snr DB] \\
        [--extra-data DIR] [--test-data DIR] [--export]

What it does:

1. reads the layout (``gtzan``: ``genres/<genre>/*.wav``; ``melon``: mel ``.npy`` and label JSON;
   ``synthetic``: a GTZAN-style corpus generated into ``--data`` (or a cache folder) when that folder is
   absent or empty) and splits it into train / valid / test, seeded (and stratified by label);
2. computes the features once per run, in memory: log-mel frames from the C++ ``MelFrontend`` (the
   runtime's own; the melon layout already holds them) or, for waveform models, the decoded audio;
   ``--noise-snr`` adds a copy of every training track with white Gaussian noise at that SNR;
   ``--extra-data`` adds every track of more folders of the same layout to the training set;
3. trains on random windows of ``--window-frames`` frames (``crops`` per track and epoch, SpecAugment
   on mel input) with :func:`training.loop.fit`, keeping the epoch with the best validation score;
4. scores each validation / test track as the runtime does: every window the runtime cuts
   (``FrameBatcher``, hop ``--hop-frames``, tail padded with -100 dB), softmax (single-label) or
   sigmoid (tags) per window, the mean over the track's windows. Single-label: accuracy (and macro F1,
   one-vs-rest ROC-AUC). Tags: micro-F1 at per-tag thresholds chosen on the validation tracks
   (:func:`training.metrics.select_thresholds`), stored in ``spec.extra["thresholds"]``;
5. writes ``RUN_DIR/best.pt`` and ``last.pt`` (checkpoints with the :class:`~musicedge.spec.ModelSpec`)
   and ``RUN_DIR/metrics.json``; with ``--export``, also ``model.onnx`` and ``model.int8.onnx`` and
   their test scores through ONNX Runtime.

The Python API (:func:`prepare_data`, :func:`train_classifier`, :func:`evaluate`) is what
``training.experiments.seed003`` uses to train many models on one set of features.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from musicedge.config import FrontendConfig
from musicedge.errors import DataError, MusicEdgeError, ParameterError
from musicedge.spec import ModelSpec

from .. import metrics as M
from ..argtypes import config_from_args, positive_int
from ..checkpoint import model_class_path, save_checkpoint
from ..layouts import Track, assign_splits, load_gtzan, load_melon
from ..loop import SCHEDULES, fit, resolve_device, seed_everything
from ..models import MODELS, create_model, input_kind, parse_model_args
from .data import (
    TOKEN_KINDS,
    AllWindows,
    MetaVocabulary,
    RandomWindows,
    TrackSet,
    WindowGeometry,
    aggregate_by_track,
    map_progress,
    meta_tokens,
    seeded_generator,
)

__all__ = [
    "DEFAULT_WINDOWS",
    "LAYOUTS",
    "TARGETS",
    "ClassifyConfig",
    "ClassifyResult",
    "Prepared",
    "SplitTracks",
    "add_parser",
    "build_trackset",
    "evaluate",
    "prepare_data",
    "read_splits",
    "run",
    "track_features",
    "train_classifier",
]

LAYOUTS = ("gtzan", "melon", "synthetic")
#: Targets each layout offers; the first is the default.
TARGETS: dict[str, tuple[str, ...]] = {
    "gtzan": ("genre",),
    "synthetic": ("genre",),
    "melon": ("station", "mood", "genre"),
}
#: Frontend preset of each layout.
PRESETS = {"gtzan": "gtzan22k", "synthetic": "gtzan22k", "melon": "melon16k"}
#: Default (window_frames, hop_frames) per frontend preset: about 3 s windows every 1.5 s at 22 050 Hz,
#: about 4 s windows every 2 s at 16 kHz.
DEFAULT_WINDOWS = {"gtzan22k": (128, 64), "melon16k": (256, 128)}
#: The melon label field of each single-label target.
MELON_FIELDS = {"station": "station_name", "genre": "genre"}
DEFAULT_CACHE = Path(os.environ.get("MUSICEDGE_CACHE", Path.home() / ".cache" / "musicedge")) / "corpus"


# ---------------------------------------------------------------------------------------------------------
# Configuration


@dataclass
class ClassifyConfig:
    """Every setting of one training run (the command line's options, by the same names)."""

    layout: str
    out: Path
    data: Path | None = None
    model: str = "cnn5"
    target: str | None = None
    epochs: int = 20
    device: str = "auto"
    seed: int = 0
    window_frames: int | None = None
    hop_frames: int | None = None
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    schedule: str = "onecycle"
    noise_snr: float | None = None
    extra_data: list[Path] = field(default_factory=list)
    test_data: Path | None = None
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    crops: int = 4
    patience: int | None = None
    spec_augment: bool = True
    model_args: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    version: str = "1.0.0"
    export: bool = False
    synthetic_tracks: int = 100
    synthetic_seconds: float = 30.0
    synthetic_seed: int = 0
    synthetic_styles: tuple[str, ...] | None = None
    jobs: int | None = None

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        if self.model not in MODELS:
            raise ParameterError(f"unknown model {self.model!r}; known: {', '.join(MODELS)}")
        self.target = self.target or TARGETS[self.layout][0]
        if self.target not in TARGETS[self.layout]:
            raise ParameterError(
                f"target {self.target!r} is not offered by the {self.layout} layout "
                f"(choose from {', '.join(TARGETS[self.layout])})"
            )
        preset = PRESETS[self.layout]
        self.window_frames = self.window_frames or DEFAULT_WINDOWS[preset][0]
        self.hop_frames = self.hop_frames or max(1, self.window_frames // 2)
        for name in ("epochs", "window_frames", "hop_frames", "batch_size", "crops"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if self.schedule not in SCHEDULES:
            raise ParameterError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ParameterError(f"lr must be a positive number, got {self.lr!r}")
        if self.noise_snr is not None and not math.isfinite(self.noise_snr):
            raise ParameterError(f"noise_snr must be a finite number of dB, got {self.noise_snr!r}")
        if len(self.split) != 3 or any(f < 0 for f in self.split) or not math.isclose(sum(self.split), 1.0):
            raise ParameterError(f"split must be three fractions summing to 1, got {self.split!r}")
        if self.split[0] <= 0 or self.split[1] <= 0:
            raise ParameterError(f"split needs train and valid fractions above 0, got {self.split!r}")
        if self.layout == "melon" and input_kind(self.model) == "wave":
            raise ParameterError(
                f"model {self.model!r} takes waveforms, but the melon layout holds only mel spectrograms"
            )
        if self.layout == "melon" and self.noise_snr is not None:
            raise ParameterError("--noise-snr adds noise to audio; the melon layout holds no audio")
        if input_kind(self.model) == "mel+meta" and self.layout != "melon":
            raise ParameterError(
                f"model {self.model!r} needs track metadata, which only the melon layout has"
            )
        self.out = Path(self.out)
        self.data = Path(self.data) if self.data is not None else None
        self.extra_data = [Path(p) for p in self.extra_data]
        self.test_data = Path(self.test_data) if self.test_data is not None else None

    @property
    def frontend(self) -> FrontendConfig:
        return FrontendConfig.preset(PRESETS[self.layout])

    @property
    def reader_layout(self) -> str:
        """The layout the files are in (``synthetic`` writes a gtzan folder)."""
        return "gtzan" if self.layout == "synthetic" else self.layout

    @property
    def multilabel(self) -> bool:
        return self.target == "mood"


# ---------------------------------------------------------------------------------------------------------
# Reading the layouts


@dataclass
class SplitTracks:
    """The tracks of each split, the labels (or tags) in output order, and what was read."""

    train: list[Track]
    valid: list[Track]
    test: list[Track]
    labels: tuple[str, ...]
    multilabel: bool
    info: dict[str, Any]


def _has_target(track: Track, multilabel: bool) -> bool:
    return bool(track.tags) if multilabel else track.label is not None


def _read(layout: str, root: Path, target: str, seed: int) -> list[Track]:
    """All tracks of a folder that carry the target, with the reader's split names."""
    if layout == "gtzan":
        dataset = load_gtzan(root, seed=seed)
    else:
        dataset = load_melon(root, label_field=MELON_FIELDS.get(target))
    return [t for t in dataset.tracks if _has_target(t, target == "mood")]


def _resplit(tracks: list[Track], fractions: Sequence[float], seed: int, multilabel: bool) -> list[Track]:
    key = None if multilabel else (lambda t: t.label)
    return list(assign_splits(tracks, fractions, seed=seed, key=key))


def read_splits(
    layout: str,
    root: Path,
    target: str,
    *,
    seed: int = 0,
    split: Sequence[float] = (0.8, 0.1, 0.1),
    test_data: Path | None = None,
    extra_data: Sequence[Path] = (),
) -> SplitTracks:
    """Read ``root`` (layout ``gtzan`` or ``melon``) into seeded train / valid / test track lists.

    gtzan: a split stratified by genre with fractions ``split``. melon: the layout's ``test`` folder is
    the test split when its tracks carry the target; the ``train`` folder is split into train and valid
    (and test, when the test folder has no labels). ``test_data``: a second folder of the same layout
    whose tracks are the whole test split (the first folder then gives only train and valid).
    ``extra_data``: folders whose tracks all join the training split.

    Raises:
        DataError: a split is empty, or valid / test / extra tracks carry labels that training lacks.
    """
    multilabel = target == "mood"
    root = Path(root)
    tracks = _read(layout, root, target, seed)
    if not tracks:
        raise DataError(f"{root}: no track carries a {target} label")
    train_valid = split[0] + split[1]
    no_test = (split[0] / train_valid, split[1] / train_valid, 0.0)
    if test_data is not None:
        test = _read(layout, Path(test_data), target, seed)
        pool = _resplit(tracks, no_test, seed, multilabel)
    elif layout == "melon" and any(t.split == "test" for t in tracks):
        test = [t for t in tracks if t.split == "test"]
        pool = _resplit([t for t in tracks if t.split != "test"], no_test, seed, multilabel)
    else:
        pool = _resplit(tracks, split, seed, multilabel)
        test = [t for t in pool if t.split == "test"]
    train = [t for t in pool if t.split == "train"]
    valid = [t for t in pool if t.split == "valid"]
    extra: list[Track] = []
    for folder in extra_data:
        extra += [replace(t, split="train") for t in _read(layout, Path(folder), target, seed)]
    for name, part in (("train", train), ("valid", valid), ("test", test)):
        if not part:
            raise DataError(
                f"{root}: the {name} split is empty ({len(tracks)} tracks with a {target} label, split "
                f"{tuple(split)}): use more tracks or other --split fractions"
            )
    if multilabel:
        labels = tuple(sorted({tag for t in train for tag in t.tags}))
    else:
        labels = tuple(sorted({t.label for t in train if t.label is not None}))
    known = set(labels)
    for name, part in (("valid", valid), ("test", test), ("extra", extra)):
        unknown = sorted({x for t in part for x in (t.tags if multilabel else (t.label,))} - known)
        if unknown and (name == "extra" or not multilabel):
            raise DataError(
                f"{name} tracks carry {target} label(s) the training split lacks: {unknown[:8]}; "
                "use more tracks so every label reaches training"
            )
    info = {
        "layout": layout,
        "root": str(root),
        "target": target,
        "split_seed": seed,
        "split": list(split),
        "n_tracks": {"train": len(train), "valid": len(valid), "test": len(test)},
        "test_data": str(test_data) if test_data is not None else None,
        "extra_data": [str(p) for p in extra_data],
        "n_extra": len(extra),
    }
    return SplitTracks(train + extra, valid, test, labels, multilabel, info)


# ---------------------------------------------------------------------------------------------------------
# Features


def track_features(
    track: Track,
    kind: str,
    frontend: FrontendConfig,
    *,
    noise_snr: float | None = None,
    noise_seed: int = 0,
) -> np.ndarray:
    """One track's features: ``kind="mel"``: float32 ``(n_mels, n_frames)`` log-mel from the C++
    ``MelFrontend`` (or the layout's own ``.npy``); ``kind="wave"``: float32 ``(n_samples,)`` audio at
    ``frontend.sample_rate``. ``noise_snr``: white Gaussian noise at that SNR (dB) is added to the audio
    first (:func:`training.augment.add_white_noise`, seeded by ``noise_seed`` and the track id).
    """
    if track.audio_path is None:
        if kind == "wave" or noise_snr is not None:
            raise ParameterError(
                f"track {track.id} has no audio (mel-only layout): cannot give {kind} or noise"
            )
        if track.mel_path is None:
            raise DataError(f"track {track.id} has neither audio nor a mel spectrogram")
        mel = np.load(track.mel_path, allow_pickle=False)
        if mel.ndim != 3 or mel.shape[:2] != (1, frontend.n_mels):
            raise DataError(f"{track.mel_path}: expected (1, {frontend.n_mels}, frames), got {mel.shape}")
        return np.ascontiguousarray(mel[0], dtype=np.float32)
    from musicedge.audio import load
    from musicedge.frontend import MelFrontend

    y, _ = load(track.audio_path, sr=frontend.sample_rate)
    if noise_snr is not None:
        from ..augment import add_white_noise

        noisy = add_white_noise(
            torch.from_numpy(y), noise_snr, generator=seeded_generator(noise_seed, track.id)
        )
        y = noisy.numpy().astype(np.float32)
    if kind == "wave":
        return np.ascontiguousarray(y, dtype=np.float32)
    return np.asarray(MelFrontend(frontend).compute(y), dtype=np.float32)


def build_trackset(
    tracks: Sequence[Track],
    features: Sequence[np.ndarray],
    labels: Sequence[str],
    multilabel: bool,
    vocab: MetaVocabulary | None = None,
) -> TrackSet:
    """A :class:`TrackSet` of ``tracks`` with their features; targets index ``labels`` (tags outside
    ``labels`` are ignored); ``vocab`` adds metadata token ids."""
    index = {label: i for i, label in enumerate(labels)}
    if multilabel:
        targets = np.zeros((len(tracks), len(labels)), dtype=np.float32)
        for row, t in enumerate(tracks):
            for tag in t.tags:
                if tag in index:
                    targets[row, index[tag]] = 1.0
    else:
        missing = sorted({t.label for t in tracks if t.label not in index})
        if missing:
            raise DataError(f"labels {missing[:8]} are not among the model's labels")
        targets = np.array([index[t.label] for t in tracks], dtype=np.int64)
    tokens = None if vocab is None else vocab.encode_all([meta_tokens(dict(t.metadata)) for t in tracks])
    return TrackSet([t.id for t in tracks], list(features), targets, tokens)


@dataclass
class Prepared:
    """Everything a training run needs from the data, built once (``tests`` maps a test-set name, e.g.
    ``"test"`` or ``"test_noisy"``, to its tracks; ``calibration`` lists training files, audio or mel
    ``.npy``, for int8 calibration at export)."""

    labels: tuple[str, ...]
    multilabel: bool
    frontend: FrontendConfig
    kind: str
    train: TrackSet
    valid: TrackSet
    tests: dict[str, TrackSet]
    vocab: MetaVocabulary | None
    info: dict[str, Any]
    calibration: list[Path] = field(default_factory=list)


def _ensure_synthetic(cfg: ClassifyConfig, log: TextIO) -> Path:
    """The synthetic corpus's folder, generated there first when absent or empty."""
    from ..corpus import write_layout

    styles = tuple(cfg.synthetic_styles) if cfg.synthetic_styles else None
    root = cfg.data
    if root is None:
        tag = f"gtzan-n{cfg.synthetic_tracks}-s{cfg.synthetic_seconds:g}-seed{cfg.synthetic_seed}"
        if styles:
            tag += "-" + "_".join(styles)
        root = DEFAULT_CACHE / tag
    if root.is_dir() and any(root.iterdir()):
        return root
    print(
        f"classify: generating a synthetic corpus ({cfg.synthetic_tracks} tracks x "
        f"{cfg.synthetic_seconds:g} s, seed {cfg.synthetic_seed}) in {root}",
        file=log,
        flush=True,
    )
    try:
        write_layout(
            "gtzan",
            str(root),
            cfg.synthetic_tracks,
            cfg.synthetic_seconds,
            cfg.synthetic_seed,
            jobs=cfg.jobs,
            styles=styles,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        raise DataError(f"cannot generate the synthetic corpus in {root}: {exc}") from None
    return root


def prepare_data(cfg: ClassifyConfig, log: TextIO | None = None) -> Prepared:
    """Read the data of ``cfg``, split it and compute the features of every track (once)."""
    log = log or sys.stderr
    root = _ensure_synthetic(cfg, log) if cfg.layout == "synthetic" else cfg.data
    if root is None:
        raise ParameterError(f"--data is required for the {cfg.layout} layout")
    splits = read_splits(
        cfg.reader_layout,
        root,
        cfg.target,
        seed=cfg.seed,
        split=cfg.split,
        test_data=cfg.test_data,
        extra_data=cfg.extra_data,
    )
    kind = input_kind(cfg.model)
    feature_kind = "wave" if kind == "wave" else "mel"
    frontend = cfg.frontend
    vocab = None
    if kind == "mel+meta":
        vocab = MetaVocabulary.build(meta_tokens(dict(t.metadata)) for t in splits.train)
        if len(vocab) == 0:
            raise DataError(f"{root}: the training tracks carry no metadata (artist, album, lyrics, title)")

    def features(tracks: list[Track], what: str, snr: float | None = None) -> list[np.ndarray]:
        def one(t: Track) -> np.ndarray:
            return track_features(t, feature_kind, frontend, noise_snr=snr, noise_seed=cfg.seed)

        return map_progress(one, tracks, f"classify: {what} features", log)

    def trackset(tracks: list[Track], what: str, snr: float | None = None) -> TrackSet:
        return build_trackset(tracks, features(tracks, what, snr), splits.labels, splits.multilabel, vocab)

    train = trackset(splits.train, "train")
    if cfg.noise_snr is not None:
        noisy = trackset(splits.train, f"train + noise (SNR {cfg.noise_snr:g} dB)", cfg.noise_snr)
        noisy.ids = [f"{i}+noise" for i in noisy.ids]
        train = train.concat(noisy)
    info = dict(splits.info)
    info.update(noise_snr=cfg.noise_snr, n_train_examples=len(train))
    if cfg.layout == "synthetic":
        info["synthetic"] = {
            "generator": "training.corpus",
            "tracks": cfg.synthetic_tracks,
            "seconds": cfg.synthetic_seconds,
            "seed": cfg.synthetic_seed,
            "styles": list(cfg.synthetic_styles) if cfg.synthetic_styles else None,
        }
    return Prepared(
        labels=splits.labels,
        multilabel=splits.multilabel,
        frontend=frontend,
        kind=kind,
        train=train,
        valid=trackset(splits.valid, "valid"),
        tests={"test": trackset(splits.test, "test")},
        vocab=vocab,
        info=info,
        calibration=_calibration_files(splits.train),
    )


def _calibration_files(tracks: Sequence[Track], n: int = 16) -> list[Path]:
    """Up to ``n`` training files (audio, else mel ``.npy``), spread over the tracks."""
    files = [t.audio_path or t.mel_path for t in tracks]
    files = [Path(f) for f in files if f is not None]
    step = max(1, len(files) // n)
    return files[::step][:n]


# ---------------------------------------------------------------------------------------------------------
# Losses, scores and evaluation


def _loss_fn(multilabel: bool) -> Callable[[Tensor, tuple[Tensor, Tensor]], Tensor]:
    def loss(outputs: Tensor, targets: tuple[Tensor, Tensor]) -> Tensor:
        y = targets[0]
        if multilabel:
            return nn.functional.binary_cross_entropy_with_logits(outputs.float(), y.float())
        return nn.functional.cross_entropy(outputs.float(), y)

    return loss


def _probabilities(logits: np.ndarray | Tensor, multilabel: bool) -> np.ndarray:
    x = torch.as_tensor(np.asarray(logits, dtype=np.float32))
    return (torch.sigmoid(x) if multilabel else torch.softmax(x, dim=1)).numpy().astype(np.float64)


def _finite(value: Any) -> Any:
    """Metrics with NaN (undefined) as ``None``, so they are valid JSON and spec values."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


#: How many positive validation tracks weigh as much as the shared threshold (see choose_thresholds).
THRESHOLD_PRIOR = 20


def choose_thresholds(truth: np.ndarray, scores: np.ndarray, prior: float = THRESHOLD_PRIOR) -> np.ndarray:
    """Per-tag decision thresholds ``(C,)`` for tag scores ``(n, C)`` against 0/1 ``truth``.

    Each tag's own threshold (:func:`training.metrics.select_thresholds`, maximising micro-F1) is
    shrunk towards the single threshold that maximises micro-F1 over all tags (on a 0.01 grid), by
    weight ``n / (n + prior)`` for a tag with ``n`` positive tracks here: a tag seen a handful of times
    mostly keeps the shared threshold, a frequent tag mostly its own. On held-out generated tracks this
    beat both the raw per-tag thresholds (fitted to a few examples each) and one shared threshold.
    """
    truth = np.asarray(truth).astype(np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    own = M.select_thresholds(truth, scores)
    grid = np.linspace(0.01, 0.99, 99)
    shared = grid[int(np.argmax([M.f1(truth, M.apply_thresholds(scores, t), average="micro") for t in grid]))]
    positives = truth.sum(axis=0)
    weight = positives / (positives + prior)
    return shared + weight * (own - shared)


def track_scores_metrics(
    scores: np.ndarray, targets: np.ndarray, multilabel: bool, thresholds: np.ndarray | None = None
) -> tuple[dict[str, float], np.ndarray | None]:
    """Metrics of track-level probabilities ``(n, C)`` against ``targets``.

    Single-label: ``accuracy``, ``macro_f1``, ``roc_auc`` (macro one-vs-rest), ``pr_auc``, ``log_loss``.
    Tags: ``micro_f1`` / ``macro_f1`` at ``thresholds`` (chosen here with :func:`choose_thresholds`
    when ``None``), ROC-AUC and PR-AUC micro and macro.
    Returns the metrics and the thresholds used (``None`` for single-label).
    """
    if multilabel:
        truth = (np.asarray(targets) > 0.5).astype(np.int64)
        if thresholds is None:
            thresholds = choose_thresholds(truth, scores)
        result = M.classification_metrics(truth, scores, thresholds=thresholds)
        return result, np.asarray(thresholds, dtype=np.float64)
    y = np.asarray(targets, dtype=np.int64)
    result = M.classification_metrics(y, scores)
    p_true = np.clip(scores[np.arange(len(y)), y], 1e-7, 1.0)
    result["log_loss"] = float(-np.log(p_true).mean())
    return result, None


def _selection_metric(multilabel: bool) -> Callable[[Tensor, tuple[Tensor, Tensor]], dict[str, float]]:
    """The validation metric given to ``fit``: window outputs averaged per track, scored as at test time.

    Its first key, ``selection``, picks the best epoch: track accuracy (tags: micro-F1 at thresholds
    chosen on these tracks) with ties broken by the lower log loss (tags: the higher micro PR-AUC).
    """

    def metric(outputs: Tensor, targets: tuple[Tensor, Tensor]) -> dict[str, float]:
        y, track = targets[0].numpy(), targets[1].numpy()
        scores = aggregate_by_track(_probabilities(outputs, multilabel), track)
        first = np.unique(track, return_index=True)[1]
        truth = y[first]
        result, _ = track_scores_metrics(scores, truth, multilabel)
        if multilabel:
            main, tie = result["micro_f1"], result["pr_auc_micro"]
        else:
            main, tie = result["accuracy"], 1.0 - min(result["log_loss"], 10.0) / 10.0
        out = {"selection": main + 1e-3 * tie}
        out.update({k: v for k, v in result.items() if isinstance(v, float) and math.isfinite(v)})
        return out

    return metric


def _torch_predict(model: nn.Module, device: torch.device) -> Callable[[list[np.ndarray]], np.ndarray]:
    def predict(inputs: list[np.ndarray]) -> np.ndarray:
        tensors = [torch.from_numpy(x).to(device) for x in inputs]
        with torch.no_grad():
            return model(*tensors).float().cpu().numpy()

    return predict


def window_scores(
    predict: Callable[[list[np.ndarray]], np.ndarray],
    tracks: TrackSet,
    geometry: WindowGeometry,
    multilabel: bool,
    batch_size: int = 64,
) -> np.ndarray:
    """Track-level probabilities ``(n_tracks, C)``: ``predict`` (numpy inputs in the model's input order
    -> logits) on every runtime window, softmax / sigmoid, the mean per track."""
    windows = AllWindows(tracks, geometry)
    probs, index = [], []
    for inputs, track in windows.batches(batch_size):
        probs.append(_probabilities(predict(inputs), multilabel))
        index.append(track)
    return aggregate_by_track(np.concatenate(probs), np.concatenate(index), len(tracks))


def evaluate(
    model: nn.Module,
    tracks: TrackSet,
    geometry: WindowGeometry,
    multilabel: bool,
    *,
    thresholds: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    batch_size: int = 64,
) -> tuple[dict[str, float], np.ndarray, np.ndarray | None]:
    """Score ``tracks`` as the runtime would (see :func:`window_scores`).

    Returns ``(metrics, scores (n_tracks, C), thresholds)`` (tags: thresholds chosen on these tracks
    when not given).
    """
    dev = resolve_device(device)
    model = model.to(dev).eval()
    scores = window_scores(_torch_predict(model, dev), tracks, geometry, multilabel, batch_size)
    result, used = track_scores_metrics(scores, tracks.targets, multilabel, thresholds)
    return result, scores, used


# ---------------------------------------------------------------------------------------------------------
# Training


@dataclass
class ClassifyResult:
    """What :func:`train_classifier` did."""

    run_dir: Path
    best_path: Path
    spec: ModelSpec
    model: nn.Module
    metrics: dict[str, Any]
    thresholds: np.ndarray | None = None


def geometry_for(kind: str, window_frames: int, hop_frames: int, frontend: FrontendConfig) -> WindowGeometry:
    """How windows are cut for a model input kind (a waveform window spans ``window_frames`` frames)."""
    if kind == "wave":
        return WindowGeometry(window_frames, hop_frames, unit=frontend.hop_length, pad=0.0)
    return WindowGeometry(window_frames, hop_frames)


def _spec_augment(geometry: WindowGeometry) -> Callable[[Tensor], Tensor]:
    """SpecAugment for mel windows: two masks of up to 12 bands, two of up to a tenth of the window,
    filled with the window's mean (raw dB input)."""
    from ..augment import SpecAugment

    return SpecAugment(
        freq_width=12, freq_masks=2, time_width=max(1, geometry.window // 10), time_masks=2, value="mean"
    )


def build_spec(cfg: ClassifyConfig, prepared: Prepared, model: nn.Module) -> ModelSpec:
    """The run's :class:`ModelSpec` (before training: ``training`` holds the data description)."""
    kind = prepared.kind
    extra = {
        "architecture": cfg.model,
        # what rebuilds the torch model beside the ONNX file (benchmarks compare the two engines)
        "model_class": model_class_path(model),
        "model_kwargs": json.dumps(model.model_kwargs, sort_keys=True),
        "input": "wave" if kind == "wave" else "mel",
        "inputs": ",".join(model.input_names),
        "aggregate": "mean",
    }
    if kind == "wave":
        extra["window_samples"] = str(cfg.window_frames * prepared.frontend.hop_length)
        extra["hop_samples"] = str(cfg.hop_frames * prepared.frontend.hop_length)
    if prepared.vocab is not None:
        extra["meta_vocab"] = json.dumps(list(prepared.vocab.tokens), ensure_ascii=False)
        extra["meta_max_tokens"] = str(prepared.vocab.max_tokens)
        extra["meta_tokens"] = ",".join(TOKEN_KINDS)
    return ModelSpec(
        task="classify",
        frontend=prepared.frontend,
        window_frames=cfg.window_frames,
        hop_frames=cfg.hop_frames,
        model_name=cfg.name or f"{cfg.target}-{cfg.model}",
        model_version=cfg.version,
        labels=prepared.labels,
        multilabel=prepared.multilabel,
        training={"data": _finite(prepared.info), "epochs": 0, "metrics": {}},
        extra=extra,
    )


def train_classifier(
    cfg: ClassifyConfig, prepared: Prepared | None = None, log: TextIO | None = None
) -> ClassifyResult:
    """Train, select the best epoch on the validation tracks, evaluate on every test set and write
    ``best.pt``, ``last.pt`` and ``metrics.json`` into ``cfg.out``.

    ``prepared`` (from :func:`prepare_data`) lets several runs share one set of features; its ``kind``
    must match the model's input.
    """
    log = log or sys.stderr
    started = time.perf_counter()
    prepared = prepared or prepare_data(cfg, log)
    if prepared.kind != input_kind(cfg.model):
        raise ParameterError(
            f"the prepared data holds {prepared.kind} input; "
            f"model {cfg.model!r} takes {input_kind(cfg.model)}"
        )
    multilabel = prepared.multilabel
    geometry = geometry_for(prepared.kind, cfg.window_frames, cfg.hop_frames, prepared.frontend)

    seed_everything(cfg.seed)
    model = create_model(
        cfg.model,
        n_classes=len(prepared.labels),
        n_mels=prepared.frontend.n_mels,
        window_frames=cfg.window_frames,
        hop_length=prepared.frontend.hop_length,
        vocab_size=len(prepared.vocab) if prepared.vocab is not None else None,
        **cfg.model_args,
    )
    spec = build_spec(cfg, prepared, model)
    transform = _spec_augment(geometry) if cfg.spec_augment and prepared.kind != "wave" else None
    train_set = RandomWindows(prepared.train, geometry, cfg.crops, transform)
    train_loader = DataLoader(
        train_set, batch_size=cfg.batch_size, shuffle=True, drop_last=len(train_set) > cfg.batch_size
    )
    valid_loader = DataLoader(AllWindows(prepared.valid, geometry), batch_size=max(64, cfg.batch_size))
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"classify: {cfg.model} ({n_params:,} parameters) on {len(prepared.train)} training tracks "
        f"({len(train_set)} windows of {cfg.window_frames} frames per epoch), {len(prepared.valid)} valid, "
        + ", ".join(f"{len(t)} {name}" for name, t in prepared.tests.items())
        + f"; {len(prepared.labels)} {'tags' if multilabel else 'classes'}",
        file=log,
        flush=True,
    )

    fitted = fit(
        model,
        train_loader,
        valid_loader,
        _loss_fn(multilabel),
        _selection_metric(multilabel),
        epochs=cfg.epochs,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        out_dir=cfg.out,
        spec=spec,
        seed=cfg.seed,
        device=cfg.device,
        monitor="selection",
        mode="max",
        patience=cfg.patience,
        schedule=cfg.schedule,
        log=log,
    )
    train_seconds = time.perf_counter() - started

    device = fitted.device
    valid_metrics, _, thresholds = evaluate(model, prepared.valid, geometry, multilabel, device=device)
    results: dict[str, Any] = {"valid": valid_metrics}
    for name, tracks in prepared.tests.items():
        results[name], _, _ = evaluate(
            model, tracks, geometry, multilabel, thresholds=thresholds, device=device
        )
    if thresholds is not None:
        spec_extra = {**spec.extra, "thresholds": json.dumps([round(float(t), 6) for t in thresholds])}
    else:
        spec_extra = dict(spec.extra)
    final_spec = spec.replace(
        training={
            "data": spec.training["data"],
            "epochs": fitted.best_epoch,
            "epochs_run": fitted.epochs_run,
            "metrics": _finite(results),
        },
        extra=spec_extra,
    )
    history = fitted.history
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    save_checkpoint(
        fitted.best_path,
        model,
        final_spec,
        epoch=fitted.best_epoch,
        metrics=_finite(results),
        history=history,
        state_dict=state,
    )
    summary: dict[str, Any] = {
        "model": cfg.model,
        "model_name": final_spec.model_name,
        "layout": cfg.layout,
        "target": cfg.target,
        "labels": list(prepared.labels),
        "multilabel": multilabel,
        "parameters": n_params,
        "window_frames": cfg.window_frames,
        "hop_frames": cfg.hop_frames,
        "seed": cfg.seed,
        "device": str(device),
        "best_epoch": fitted.best_epoch,
        "epochs_run": fitted.epochs_run,
        "train_seconds": round(train_seconds, 2),
        **results,
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
        "data": spec.training["data"],
        "history": history,
    }
    result = ClassifyResult(cfg.out, fitted.best_path, final_spec, model, summary, thresholds)
    if cfg.export:
        summary["onnx"] = export_and_score(result, prepared, geometry, log)
    summary["total_seconds"] = round(time.perf_counter() - started, 2)
    (cfg.out / "metrics.json").write_text(json.dumps(_finite(summary), indent=1) + "\n", encoding="utf-8")
    return result


# ---------------------------------------------------------------------------------------------------------
# Export


def export_and_score(
    result: ClassifyResult, prepared: Prepared, geometry: WindowGeometry, log: TextIO
) -> dict:
    """Export ``best.pt`` to ``model.onnx`` and ``model.int8.onnx`` (``export.export_checkpoint``,
    verified, int8 calibrated on training tracks) and score every test set through
    ``musicedge.model.OnnxModel`` as :func:`evaluate` does; returns ``{"fp32": {...}, "int8": {...}}``
    (or why export could not run)."""
    try:
        from export import export_checkpoint
        from musicedge.model import OnnxModel
    except ImportError as exc:
        print(f"classify: export skipped: {exc}", file=log, flush=True)
        return {"skipped": f"export is not available: {exc}"}
    names = list(result.model.input_names)
    fp32_path = result.run_dir / "model.onnx"
    try:
        report = export_checkpoint(
            result.best_path, fp32_path, int8=True, calibration=prepared.calibration or None
        )
    except MusicEdgeError as exc:
        print(f"classify: export failed: {exc}", file=log, flush=True)
        return {"error": str(exc)}
    print(str(report), file=log, flush=True)
    out: dict[str, Any] = {}
    key = "micro_f1" if prepared.multilabel else "accuracy"
    for variant, path in (("fp32", fp32_path), ("int8", report.int8_path)):
        if path is None:
            continue
        onnx_model = OnnxModel(path, device="cpu")

        def predict(inputs: list[np.ndarray], onnx_model: Any = onnx_model) -> np.ndarray:
            return np.asarray(onnx_model.run(dict(zip(names, inputs, strict=True)))["logits"])

        scores: dict[str, Any] = {"path": str(path), "bytes": Path(path).stat().st_size}
        for name, tracks in prepared.tests.items():
            probs = window_scores(predict, tracks, geometry, prepared.multilabel)
            scores[name], _ = track_scores_metrics(
                probs, tracks.targets, prepared.multilabel, result.thresholds
            )
        if variant == "int8":
            scores["speedup"] = (report.quantization or {}).get("speedup")  # over fp32, batch 1, 1 thread
        out[variant] = scores
        print(
            f"classify: {variant} {Path(path).name}: test {key} {scores['test'][key]:.4f}",
            file=log,
            flush=True,
        )
    return out


# ---------------------------------------------------------------------------------------------------------
# Command line


def _fractions(text: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three comma-separated fractions, got {text!r}") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or not math.isclose(sum(parts), 1.0):
        raise argparse.ArgumentTypeError(f"expected train,valid,test fractions summing to 1, got {text!r}")
    return parts  # type: ignore[return-value]


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``classify`` command to ``python -m training``."""
    p = subparsers.add_parser(
        "classify",
        help="train a genre / station classifier or a mood tagger",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1] if __doc__ else None,
    )
    p.add_argument("--layout", required=True, choices=LAYOUTS, help="dataset layout of --data")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help="dataset root; synthetic: where the corpus is (generated there when absent or empty; "
        f"default a folder under {DEFAULT_CACHE})",
    )
    p.add_argument("--model", default="cnn5", choices=list(MODELS), help="architecture (cnn5)")
    p.add_argument(
        "--target",
        default=None,
        choices=sorted({t for ts in TARGETS.values() for t in ts}),
        help="what to predict (gtzan: genre; melon: station (default), mood tags or genre)",
    )
    p.add_argument("--epochs", type=positive_int, default=20, help="epochs to train (20)")
    p.add_argument("--device", default="auto", help="auto (default), cuda, cuda:N or cpu")
    p.add_argument(
        "--out", type=Path, required=True, metavar="RUN_DIR", help="where checkpoints and metrics go"
    )
    p.add_argument("--seed", type=int, default=0, help="seeds the split, the weights and the data order (0)")
    p.add_argument(
        "--window-frames",
        type=positive_int,
        default=None,
        metavar="W",
        help="frames per model window (gtzan22k: 128, melon16k: 256)",
    )
    p.add_argument(
        "--hop-frames", type=positive_int, default=None, metavar="H", help="frames between windows (W / 2)"
    )
    p.add_argument("--batch-size", type=positive_int, default=32, metavar="B", help="batch size (32)")
    p.add_argument("--lr", type=_positive_float, default=1e-3, help="peak learning rate (0.001)")
    p.add_argument("--weight-decay", type=_float, default=0.01, help="AdamW weight decay (0.01)")
    p.add_argument(
        "--schedule", default="onecycle", choices=SCHEDULES, help="learning-rate schedule (onecycle)"
    )
    p.add_argument(
        "--noise-snr",
        type=_float,
        default=None,
        metavar="DB",
        help="add a copy of every training track with white Gaussian noise at this SNR",
    )
    p.add_argument(
        "--extra-data",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="more training tracks in the same layout (repeatable)",
    )
    p.add_argument(
        "--test-data",
        type=Path,
        default=None,
        metavar="DIR",
        help="held-out test tracks in the same layout (then --data gives only train and valid)",
    )
    p.add_argument(
        "--split",
        type=_fractions,
        default=(0.8, 0.1, 0.1),
        metavar="TR,VA,TE",
        help="train, valid and test fractions (0.8,0.1,0.1), stratified by label",
    )
    p.add_argument("--crops", type=positive_int, default=4, help="random windows per track and epoch (4)")
    p.add_argument(
        "--patience",
        type=positive_int,
        default=None,
        help="stop after this many epochs without improvement (off)",
    )
    p.add_argument("--no-spec-augment", action="store_true", help="no SpecAugment masks on mel windows")
    p.add_argument(
        "--model-arg",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="model constructor argument, VALUE as JSON (e.g. channels=[8,16,32,64,64]; repeatable)",
    )
    p.add_argument("--name", default=None, help="model name in the spec (default TARGET-MODEL)")
    p.add_argument("--version", default="1.0.0", help="model version in the spec")
    p.add_argument("--export", action="store_true", help="also write fp32 and int8 ONNX and score them")
    p.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    g = p.add_argument_group("synthetic layout")
    g.add_argument("--synthetic-tracks", type=positive_int, default=100, metavar="N", help="tracks (100)")
    g.add_argument(
        "--synthetic-seconds", type=_positive_float, default=30.0, metavar="S", help="track length (30)"
    )
    g.add_argument("--synthetic-seed", type=int, default=0, metavar="K", help="corpus seed (0)")
    g.add_argument(
        "--synthetic-styles",
        default=None,
        metavar="LIST",
        help="comma-separated styles (default: all ten)",
    )
    g.add_argument("--jobs", type=positive_int, default=None, help="corpus generation processes (all cores)")
    p.set_defaults(func=run, parser=p)
    return p


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    """The final summary: one line per split with its main scores."""
    keys = (
        ("micro_f1", "macro_f1", "roc_auc_macro", "pr_auc_micro")
        if metrics["multilabel"]
        else (
            "accuracy",
            "macro_f1",
            "roc_auc",
        )
    )
    lines = [
        f"{metrics['model_name']}: best epoch {metrics['best_epoch']}/{metrics['epochs_run']}, "
        f"{metrics['parameters']:,} parameters, {metrics['train_seconds']:.0f} s"
    ]
    splits = ["valid"] + [k for k in metrics if k.startswith("test")]
    for split in splits:
        values = metrics[split]
        parts = [f"{k} {values[k]:.4f}" for k in keys if isinstance(values.get(k), float)]
        lines.append(f"  {split:<11} " + "  ".join(parts))
    for variant, scores in (metrics.get("onnx") or {}).items():
        if isinstance(scores, dict) and "test" in scores:
            values = scores["test"]
            parts = [f"{k} {values[k]:.4f}" for k in keys if isinstance(values.get(k), float)]
            lines.append(f"  test {variant:<6} " + "  ".join(parts))
    return lines


def run(args: argparse.Namespace) -> int:
    """Run ``python -m training classify``; 0 on success, 1 with a message on stderr on failure."""
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        styles = [s.strip() for s in (args.synthetic_styles or "").split(",") if s.strip()]
        cfg = config_from_args(
            ClassifyConfig,
            args,
            extra_data=list(args.extra_data),
            spec_augment=not args.no_spec_augment,
            model_args=parse_model_args(args.model_arg),
            synthetic_styles=tuple(styles) or None,
        )
    except ParameterError as exc:
        args.parser.error(str(exc))  # a usage error: exit status 2
    try:
        result = train_classifier(cfg)
    except (MusicEdgeError, OSError) as exc:
        print(f"python -m training classify: error: {exc}", file=sys.stderr)
        return 1
    for line in summary_lines(result.metrics):
        print(line)
    print(f"wrote {result.best_path} and {cfg.out / 'metrics.json'}")
    return 0
