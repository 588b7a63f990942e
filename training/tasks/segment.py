"""``python -m training segment``: train the structure model (section boundaries and section labels).

::

    python -m training segment --layout salami|synthetic --data DIR [--test-data DIR] --epochs N \\
        --device auto|cuda|cpu --out RUN_DIR [--seed K] [--dim D] [--layers L] [--pool P] [--lr LR] \\
        [--tracks N --seconds S] [--export]

    python -m training segment-eval --model NAME_OR_ONNX --data DIR --layout salami|synthetic|csv \\
        [--split all|test] [-o REPORT.md] [--json FILE]

Training:

1. reads a SALAMI-style folder (``salami``: ``annotations/<id>/textfile1.txt`` + ``audio/<id>.wav``;
   ``synthetic``: the same layout generated into ``--data`` with ``python -m training corpus --layout
   salami`` when the folder is empty) and maps each annotated function to the taxonomy (intro, verse,
   chorus, bridge, instrumental, outro, silence; :func:`training.layouts.salami.taxonomy_sections`).
   Split: ``--test-data`` is the test set; ``--data`` is split into train and valid (85/15, seeded);
2. computes log-mel frames once (the runtime's C++ frontend, gtzan22k);
3. targets per output frame (``pool`` raw frames, about 0.19 s): the boundary target is a Gaussian
   (sigma ``--sigma`` s, cut at +-2 s: the seed's 4 s window) around every annotated boundary; the label
   target the taxonomy class of the section the frame lies in;
4. trains :class:`training.models.segment.StructureNet` on whole songs (one song per step; random gain
   of +-6 dB) with binary cross-entropy on the boundary logits plus cross-entropy on the label logits,
   AdamW with a cosine schedule; each epoch is scored on the validation songs exactly as the runtime
   does (peak picking, sections, mir_eval) and the best epoch is kept;
5. tunes the peak-picking parameters (threshold, minimum distance, local-mean window and offset) on the
   validation songs by grid search (maximising HR.5F + HR3F) and stores them in ``spec.extra``;
6. writes ``RUN_DIR/best.pt``, ``metrics.json`` and ``report.md`` (per-track test table); with
   ``--export``, ``model.onnx``, scored again on the test songs through ONNX Runtime and
   :class:`musicedge.segment.Segmenter`.

Evaluation (``segment-eval``): any segment model on any labelled folder through the runtime, every
mir_eval segment metric plus frame label accuracy, per track and averaged, as markdown. Layout ``csv``:
audio files with ``<stem>.segments.csv`` (``start_seconds,end_seconds,label``) beside them (letters,
not functions, so frame label accuracy is left out there).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from musicedge.config import FrontendConfig
from musicedge.errors import DataError, MusicEdgeError, ParameterError
from musicedge.segment import PeakParams, frame_times, label_sections, pick_peaks
from musicedge.segment_eval import COLUMNS, TABLE_COLUMNS, mean_row, score_row
from musicedge.spec import ModelSpec

from .. import metrics as M
from ..argtypes import config_from_args, positive_int
from ..checkpoint import model_class_path, save_checkpoint
from ..layouts import Section, assign_splits
from ..layouts.salami import TAXONOMY, load_salami, taxonomy_sections
from ..loop import resolve_device, seed_everything
from ..models.segment import StructureNet

__all__ = [
    "LAYOUTS",
    "SegmentConfig",
    "SongSet",
    "add_parser",
    "evaluate_runtime",
    "evaluate_torch",
    "make_targets",
    "read_songs",
    "train_segmenter",
    "tune_peaks",
]

LAYOUTS = ("salami", "synthetic")
EVAL_LAYOUTS = ("salami", "synthetic", "csv")
PRESET = "gtzan22k"
#: Raw frames per model window at run time (about 8 minutes) and the hop between windows (about 4).
WINDOW_FRAMES = 20672
HOP_FRAMES = 10336
#: The peak-picking grid searched on validation songs.
PEAK_GRID = {
    "threshold": (0.1, 0.2, 0.3, 0.4, 0.5, 0.6),
    "min_distance_s": (1.5, 3.0, 4.5, 6.0),
    "mean_window_s": (0.0, 8.0),
    "offset": (0.0, 0.05, 0.1),
}


# ---------------------------------------------------------------------------------------------------------
# Data


@dataclass
class SongSet:
    """Songs with their log-mel frames and reference sections (taxonomy labels; gaps where unmapped)."""

    ids: list[str]
    mels: list[np.ndarray]  # (n_mels, T) float32, T a multiple of pool
    sections: list[tuple[Section, ...]]
    durations: list[float]

    def __len__(self) -> int:
        return len(self.ids)


def _mel(path: Path, frontend: FrontendConfig) -> np.ndarray:
    from musicedge.audio import load
    from musicedge.frontend import MelFrontend

    y, _ = load(path, sr=frontend.sample_rate)
    if y.size == 0:
        raise DataError(f"{path}: no samples")
    return np.asarray(MelFrontend(frontend).compute(y), dtype=np.float32), len(y) / frontend.sample_rate


def read_csv_sections(path: Path) -> tuple[Section, ...]:
    """``start_seconds,end_seconds,label`` rows (a header line; ``,`` or ``;``) as sections."""
    text = path.read_text(encoding="utf-8")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;")
    rows = list(csv.reader(text.splitlines(), dialect))
    sections = []
    for row in rows[1:]:
        if len(row) < 3:
            continue
        try:
            sections.append(Section(float(row[0]), float(row[1]), row[2].strip()))
        except ValueError as exc:
            raise DataError(f"{path}: bad row {row}: {exc}") from None
    if not sections:
        raise DataError(f"{path}: no section rows")
    return tuple(sections)


def read_songs(
    layout: str, root: Path, frontend: FrontendConfig, *, log: TextIO | None = None
) -> list[tuple[str, Path, tuple[Section, ...]]]:
    """``(id, audio path, reference sections)`` of every annotated song with audio in ``root``."""
    root = Path(root)
    if layout in ("salami", "synthetic"):
        dataset = load_salami(root, require_audio=True, fractions=(1.0, 0.0, 0.0))
        songs = [(t.id, t.audio_path, taxonomy_sections(t.sections)) for t in dataset.tracks]
    elif layout == "csv":
        from musicedge.audio import find_audio

        songs = []
        for audio in find_audio([root]):
            table = audio.with_name(audio.stem + ".segments.csv")
            if table.is_file():
                songs.append((audio.stem, audio, read_csv_sections(table)))
    else:
        raise ParameterError(f"layout must be one of {', '.join(EVAL_LAYOUTS)}, got {layout!r}")
    songs = [s for s in songs if s[2]]
    if not songs:
        raise DataError(f"{root}: no annotated song with audio (layout {layout})")
    if log is not None:
        print(f"{root}: {len(songs)} songs ({layout})", file=log)
    return songs


def load_songset(songs: Sequence[tuple[str, Path, tuple[Section, ...]]], frontend: FrontendConfig) -> SongSet:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        mels = list(pool.map(lambda s: _mel(s[1], frontend), songs))
    return SongSet([s[0] for s in songs], [m for m, _ in mels], [s[2] for s in songs], [d for _, d in mels])


def boundaries_of(sections: Sequence[Section], duration: float) -> np.ndarray:
    """The interior boundaries (s) of reference sections: every start and end strictly inside the song."""
    times = {round(float(t), 6) for s in sections for t in (s.start, s.end)}
    return np.array(sorted(t for t in times if 0.0 < t < duration - 1e-6))


def make_targets(
    sections: Sequence[Section], duration: float, times: np.ndarray, *, sigma: float = 0.5, labels=TAXONOMY
) -> tuple[np.ndarray, np.ndarray]:
    """Boundary targets ``(T',)`` (a Gaussian of ``sigma`` s around each boundary, zero beyond 2 s) and
    label targets ``(T',)`` int64 (the taxonomy index, -100 in unannotated gaps) at frame ``times``."""
    target = np.zeros(len(times), np.float32)
    for b in boundaries_of(sections, duration):
        d = np.abs(times - b)
        target = np.maximum(target, np.where(d <= 2.0, np.exp(-0.5 * (d / sigma) ** 2), 0.0))
    index = {label: i for i, label in enumerate(labels)}
    label_target = np.full(len(times), -100, np.int64)
    for s in sections:
        label_target[(times >= s.start) & (times < s.end)] = index[s.label]
    return target, label_target


# ---------------------------------------------------------------------------------------------------------
# Configuration


@dataclass
class SegmentConfig:
    """Every setting of one training run (the command line's options, by the same names)."""

    layout: str
    out: Path
    data: Path | None = None
    test_data: Path | None = None
    epochs: int = 30
    device: str = "auto"
    seed: int = 0
    dim: int = 64
    layers: int = 2
    heads: int = 4
    pool: int = 8
    dropout: float = 0.1
    lr: float = 2e-3
    weight_decay: float = 0.01
    sigma: float = 0.5
    label_weight: float = 1.0
    valid_fraction: float = 0.15
    gain_db: float = 6.0
    batch_size: int = 4
    name: str = "structure"
    version: str = "1.0.0"
    export: bool = False
    tracks: int = 200
    seconds: float = 120.0
    threads: int = 2

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ParameterError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")
        for name in ("epochs", "dim", "layers", "heads", "pool", "tracks", "threads", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if not (0 < self.valid_fraction < 1):
            raise ParameterError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if not (self.lr > 0 and self.sigma > 0):
            raise ParameterError("lr and sigma must be positive")
        if WINDOW_FRAMES % self.pool or HOP_FRAMES % self.pool:
            raise ParameterError(f"pool must divide {WINDOW_FRAMES} and {HOP_FRAMES}, got {self.pool}")
        self.out = Path(self.out)
        self.data = Path(self.data) if self.data is not None else None
        self.test_data = Path(self.test_data) if self.test_data is not None else None

    @property
    def frontend(self) -> FrontendConfig:
        return FrontendConfig.preset(PRESET)


def _ensure_synthetic(cfg: SegmentConfig, folder: Path, tracks: int, seed: int, log: TextIO) -> Path:
    if folder.is_dir() and any(folder.iterdir()):
        return folder
    from ..corpus import write_layout

    print(f"generating {tracks} songs of at least {cfg.seconds:g} s into {folder} (seed {seed})", file=log)
    write_layout("salami", str(folder), tracks=tracks, seconds=cfg.seconds, seed=seed)
    return folder


# ---------------------------------------------------------------------------------------------------------
# Scoring (the runtime's post-processing on torch outputs)


@dataclass
class SongOutputs:
    """One song's model outputs: boundary activation (T',) and label log-probabilities (T', C)."""

    activation: np.ndarray
    log_probs: np.ndarray
    times: np.ndarray
    duration: float


def torch_outputs(model: StructureNet, songs: SongSet, frontend: FrontendConfig) -> list[SongOutputs]:
    """Run the model over each whole song as the runtime does (tail padded to whole output frames)."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for mel, duration in zip(songs.mels, songs.durations, strict=True):
            padded = _pad_to_pool(mel, model.pool)
            b, lab = model(torch.from_numpy(padded)[None, None].to(device))
            n = b.shape[1]
            out.append(
                SongOutputs(
                    torch.sigmoid(b[0]).double().cpu().numpy(),
                    torch.log_softmax(lab[0].double(), dim=-1).cpu().numpy(),
                    frame_times(n, model.pool, frontend.hop_length, frontend.sample_rate),
                    duration,
                )
            )
    return out


def _pad_to_pool(mel: np.ndarray, pool: int) -> np.ndarray:
    n_out = max(1, -(-mel.shape[1] // pool))
    padded = np.full((mel.shape[0], n_out * pool), -100.0, np.float32)
    padded[:, : mel.shape[1]] = mel
    return padded


def song_segments(outputs: SongOutputs, params: PeakParams, labels: Sequence[str], frame_rate: float):
    peaks = pick_peaks(outputs.activation, frame_rate, params)
    step = 1.0 / frame_rate
    boundaries = outputs.times[0] + peaks * step
    return label_sections(boundaries, outputs.duration, outputs.times, outputs.log_probs, labels)


def score_songs(
    outputs: Sequence[SongOutputs],
    references: Sequence[Sequence[Section]],
    params: PeakParams,
    labels: Sequence[str],
    frame_rate: float,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """mir_eval scores of each song and their means."""
    per_song = []
    for o, ref in zip(outputs, references, strict=True):
        est = song_segments(o, params, labels, frame_rate)
        per_song.append(M.segment_metrics(ref, est))
    keys = per_song[0].keys()
    mean = {k: float(np.nanmean([s[k] for s in per_song])) for k in keys}
    return mean, per_song


def _hit_rates(outputs, references, params, frame_rate) -> float:
    """HR.5F + HR3F averaged over songs (mir_eval's detection), for the peak grid search."""
    import mir_eval

    total = 0.0
    for o, ref in zip(outputs, references, strict=True):
        peaks = pick_peaks(o.activation, frame_rate, params)
        edges = np.r_[0.0, o.times[0] + peaks / frame_rate, o.duration]
        edges = np.unique(np.clip(edges, 0.0, o.duration))
        est = np.c_[edges[:-1], edges[1:]]
        ref_edges = np.array(sorted({t for s in ref for t in (s.start, s.end)}))
        ref_iv = np.c_[ref_edges[:-1], ref_edges[1:]]
        for window in (0.5, 3.0):
            total += mir_eval.segment.detection(ref_iv, est, window=window)[2]
    return total / len(outputs)


def tune_peaks(
    outputs: Sequence[SongOutputs], references: Sequence[Sequence[Section]], frame_rate: float
) -> tuple[PeakParams, float]:
    """The peak-picking parameters of :data:`PEAK_GRID` with the best mean HR.5F + HR3F."""
    best, best_score = PeakParams(), -1.0
    for values in itertools.product(*PEAK_GRID.values()):
        params = PeakParams(*values)
        if params.mean_window_s == 0.0 and params.offset > 0.0:
            continue
        score = _hit_rates(outputs, references, params, frame_rate)
        if score > best_score + 1e-9:
            best, best_score = params, score
    return best, best_score / 2.0


# ---------------------------------------------------------------------------------------------------------
# Training


@dataclass
class TrainResult:
    """What a training run produced."""

    run_dir: Path
    checkpoint: Path
    spec: ModelSpec
    model: StructureNet
    metrics: dict[str, Any]


def _song_tensors(songs: SongSet, pool: int, frontend: FrontendConfig, sigma: float):
    items = []
    for mel, sections, duration in zip(songs.mels, songs.sections, songs.durations, strict=True):
        padded = _pad_to_pool(mel, pool)
        n = padded.shape[1] // pool
        times = frame_times(n, pool, frontend.hop_length, frontend.sample_rate)
        target, label = make_targets(sections, duration, times, sigma=sigma)
        items.append((torch.from_numpy(padded), torch.from_numpy(target), torch.from_numpy(label)))
    return items


def _batch(items: Sequence[tuple[Tensor, Tensor, Tensor]], pool: int, silence: int):
    """Stack songs into one batch, each padded at its end to the longest: mel with the dB floor, the
    boundary target with 0 and the label target with ``silence`` (padding sounds like silence)."""
    n = max(len(t) for _, t, _ in items)
    mel = torch.full((len(items), 1, items[0][0].shape[0], n * pool), -100.0)
    target = torch.zeros(len(items), n)
    label = torch.full((len(items), n), silence, dtype=torch.int64)
    for row, (m, t, lab) in enumerate(items):
        mel[row, 0, :, : m.shape[1]] = m
        target[row, : len(t)] = t
        label[row, : len(lab)] = lab
    return mel, target, label


def loss_fn(boundary: Tensor, labels: Tensor, target: Tensor, label_target: Tensor, label_weight: float):
    bce = F.binary_cross_entropy_with_logits(boundary, target)
    ce = F.cross_entropy(labels.reshape(-1, labels.shape[-1]), label_target.reshape(-1), ignore_index=-100)
    return bce + label_weight * ce, bce, ce


def train_segmenter(
    cfg: SegmentConfig, train: SongSet, valid: SongSet, data_info: dict, log: TextIO = sys.stderr
) -> TrainResult:
    """Train, keep the best epoch on validation (HR.5F + HR3F + frame accuracy), tune peak picking."""
    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    frontend = cfg.frontend
    model = StructureNet(
        n_labels=len(TAXONOMY),
        n_mels=frontend.n_mels,
        pool=cfg.pool,
        dim=cfg.dim,
        layers=cfg.layers,
        heads=cfg.heads,
        dropout=cfg.dropout,
    ).to(device)
    frame_rate = frontend.sample_rate / (frontend.hop_length * cfg.pool)
    items = _song_tensors(train, cfg.pool, frontend, cfg.sigma)
    silence = TAXONOMY.index("silence")
    n_batches = -(-len(items) // cfg.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * n_batches
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, cfg.lr, total_steps=steps, pct_start=0.1)
    generator = np.random.default_rng(cfg.seed)
    cfg.out.mkdir(parents=True, exist_ok=True)
    spec = _spec(cfg, model, PeakParams(), data_info, {})
    best_score, best_epoch, history = -1.0, 0, []
    started = time.perf_counter()
    default_peaks = PeakParams(threshold=0.3, min_distance_s=3.0)
    lengths = np.array([len(t) for _, t, _ in items], dtype=np.float64)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        totals = np.zeros(3)
        # Batches of songs of similar length (sorted with jitter), padded at the end with silence.
        order = np.argsort(lengths + generator.uniform(0, 0.1 * lengths.mean(), len(lengths)))
        batches = [order[i : i + cfg.batch_size] for i in range(0, len(order), cfg.batch_size)]
        for b in generator.permutation(len(batches)):
            mel, target, label = _batch([items[i] for i in batches[b]], cfg.pool, silence)
            gain = torch.from_numpy(generator.uniform(-cfg.gain_db, cfg.gain_db, (len(mel), 1, 1, 1)))
            x = torch.where(mel > -100.0, mel + gain.float(), mel).to(device)
            boundary, labels = model(x)
            loss, bce, ce = loss_fn(boundary, labels, target.to(device), label.to(device), cfg.label_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            totals += [loss.item(), bce.item(), ce.item()]
        totals /= len(batches)
        outputs = torch_outputs(model, valid, frontend)
        scores, _ = score_songs(outputs, valid.sections, default_peaks, TAXONOMY, frame_rate)
        score = scores["F-measure@0.5"] + scores["F-measure@3.0"] + scores["Frame accuracy"]
        row = {
            "epoch": epoch,
            "loss": float(totals[0]),
            "bce": float(totals[1]),
            "ce": float(totals[2]),
            **{COLUMNS[k]: scores[k] for k in ("F-measure@0.5", "F-measure@3.0", "Frame accuracy")},
            "seconds": time.perf_counter() - started,
        }
        history.append(row)
        improved = score > best_score
        if improved:
            best_score, best_epoch = score, epoch
            save_checkpoint(cfg.out / "best.pt", model, spec, epoch=epoch, metrics=row)
        print(
            " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
            + (" *" if improved else ""),
            file=log,
            flush=True,
        )
    train_seconds = time.perf_counter() - started
    state = torch.load(cfg.out / "best.pt", map_location=device, weights_only=True)["state_dict"]
    model.load_state_dict(state)
    model.eval()
    outputs = torch_outputs(model, valid, frontend)
    params, tuned = tune_peaks(outputs, valid.sections, frame_rate)
    valid_scores, _ = score_songs(outputs, valid.sections, params, TAXONOMY, frame_rate)
    print(f"peak picking tuned on validation: {params} (mean HR.5F/HR3F {tuned:.4f})", file=log)
    metrics = {
        "valid": {COLUMNS.get(k, k): v for k, v in valid_scores.items() if k in COLUMNS},
        "best_epoch": best_epoch,
        "epochs_run": cfg.epochs,
        "train_seconds": round(train_seconds, 1),
        "parameters": model.num_parameters(),
        "history": history,
        "peak_params": params.__dict__,
        "data": data_info,
    }
    spec = _spec(cfg, model, params, data_info, metrics["valid"], epochs=best_epoch)
    save_checkpoint(cfg.out / "best.pt", model, spec, epoch=best_epoch, metrics=metrics["valid"])
    return TrainResult(cfg.out, cfg.out / "best.pt", spec, model, metrics)


def _spec(
    cfg: SegmentConfig,
    model: StructureNet,
    params: PeakParams,
    data_info: dict,
    valid: dict,
    epochs: int = 0,
) -> ModelSpec:
    extra = {
        "pool": str(cfg.pool),
        "min_segment_s": "1.0",
        "model_class": model_class_path(model),
        "model_kwargs": json.dumps(model.model_kwargs, sort_keys=True),
        "outputs": "boundary: (B, T/pool) boundary logits; labels: (B, T/pool, C) section label logits",
        "boundary_sigma_s": repr(cfg.sigma),
        **params.to_extra(),
    }
    return ModelSpec(
        task="segment",
        frontend=cfg.frontend,
        window_frames=WINDOW_FRAMES,
        hop_frames=HOP_FRAMES,
        model_name=cfg.name,
        model_version=cfg.version,
        labels=TAXONOMY,
        training={"data": data_info, "epochs": epochs, "metrics": valid},
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------------------
# Evaluation


def evaluate_torch(model: StructureNet, songs: SongSet, params: PeakParams, frontend: FrontendConfig):
    """Per-song and mean scores of a torch model (the runtime's post-processing)."""
    frame_rate = frontend.sample_rate / (frontend.hop_length * model.pool)
    outputs = torch_outputs(model, songs, frontend)
    return score_songs(outputs, songs.sections, params, TAXONOMY, frame_rate)


def evaluate_runtime(
    model: str | Path,
    songs: Sequence[tuple[str, Path, tuple[Section, ...]]],
    *,
    labelled: bool = True,
    threads: int | None = 1,
) -> tuple[dict[str, dict[str, float]], list[Any]]:
    """Score a segment model through the runtime (:class:`musicedge.segment.Segmenter`) on songs.

    Returns ``({song id: metrics, ..., "mean": means}, results)``; with ``labelled=False`` (letter
    references) the frame label accuracy is left out.
    """
    from musicedge.segment import Segmenter

    segmenter = Segmenter.load(model, device="cpu", threads=threads)
    rows: dict[str, dict[str, float]] = {}
    results = []
    for song_id, path, reference in songs:
        result = segmenter.analyze(path)
        results.append(result)
        rows[song_id] = score_row(reference, result.segments, labelled=labelled)
    return rows, results


def eval_table(rows: dict[str, dict[str, float]], *, labelled: bool = True) -> str:
    columns = list(TABLE_COLUMNS)
    if not labelled:
        columns.remove("Acc")
    return M.markdown_table(rows, columns=columns, index="track", mean="mean")


# ---------------------------------------------------------------------------------------------------------
# Command line


def _split(
    songs: list[tuple[str, Path, tuple[Section, ...]]], valid_fraction: float, seed: int
) -> tuple[list, list]:
    from ..layouts import Track

    tracks = [Track(id=s[0], split="train", audio_path=s[1], duration=0.0) for s in songs]
    assigned = assign_splits(tracks, (1.0 - valid_fraction, valid_fraction, 0.0), seed=seed)
    split_of = {t.id: t.split for t in assigned}
    train = [s for s in songs if split_of[s[0]] == "train"]
    valid = [s for s in songs if split_of[s[0]] == "valid"]
    if not train or not valid:
        raise DataError(f"{len(songs)} songs are too few to split into train and valid")
    return train, valid


def run(cfg: SegmentConfig, log: TextIO = sys.stderr) -> dict:
    """The whole ``python -m training segment`` run; returns the metrics written to metrics.json."""
    if cfg.layout == "synthetic":
        data = cfg.data or cfg.out / "corpus-train"
        cfg.data = _ensure_synthetic(cfg, data, cfg.tracks, 1, log)
        if cfg.test_data is None:
            test_dir = cfg.data.parent / (cfg.data.name + "-test")
            cfg.test_data = _ensure_synthetic(cfg, test_dir, max(4, cfg.tracks // 5), 2, log)
    if cfg.data is None:
        raise ParameterError("--data is required with --layout salami")
    frontend = cfg.frontend
    songs = read_songs("salami", cfg.data, frontend, log=log)
    if cfg.test_data is not None:
        train_songs, valid_songs = _split(songs, cfg.valid_fraction, cfg.seed)
        test_songs = read_songs("salami", cfg.test_data, frontend, log=log)
    else:
        pool, test_songs = _split(songs, 0.15, cfg.seed + 1)
        train_songs, valid_songs = _split(pool, cfg.valid_fraction, cfg.seed)
    started = time.perf_counter()
    train, valid, test = (load_songset(s, frontend) for s in (train_songs, valid_songs, test_songs))
    print(
        f"features: {len(train)} train, {len(valid)} valid, {len(test)} test songs "
        f"({sum(train.durations) / 60:.1f} min of training audio) in {time.perf_counter() - started:.1f} s",
        file=log,
    )
    data_info = {
        "layout": cfg.layout,
        "root": str(cfg.data),
        "test_data": str(cfg.test_data) if cfg.test_data else None,
        "n_songs": {"train": len(train), "valid": len(valid), "test": len(test)},
        "train_minutes": round(sum(train.durations) / 60, 1),
        "targets": f"Gaussian sigma {cfg.sigma} s around each boundary, cut at +-2 s",
    }
    result = train_segmenter(cfg, train, valid, data_info, log)
    mean, per_song = evaluate_torch(result.model, test, PeakParams(**result.metrics["peak_params"]), frontend)
    result.metrics["test_torch"] = {COLUMNS[k]: mean[k] for k in COLUMNS}
    print("test (torch): " + json.dumps(result.metrics["test_torch"]), file=log)
    if cfg.export:
        from export.onnx_export import export_model

        onnx_path = cfg.out / "model.onnx"
        report = export_model(result.model, result.spec, onnx_path, source=str(result.checkpoint))
        print(report.summary(), file=log)
        rows, _ = evaluate_runtime(onnx_path, test_songs)
        result.metrics["test_onnx"] = mean_row(rows)
        result.metrics["onnx_bytes"] = onnx_path.stat().st_size
        (cfg.out / "report.md").write_text(eval_table(rows) + "\n")
        print(eval_table(rows), file=log)
    (cfg.out / "metrics.json").write_text(json.dumps(result.metrics, indent=2, default=str))
    return result.metrics


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "segment",
        help="train the structure model (boundaries + section labels)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--layout", choices=LAYOUTS, required=True)
    p.add_argument("--data", type=Path, help="SALAMI-style folder (synthetic: generated here when empty)")
    p.add_argument("--test-data", type=Path, help="a second folder of the same layout: the test songs")
    p.add_argument("--model", choices=["structure"], default="structure", help="architecture (StructureNet)")
    p.add_argument("--epochs", type=positive_int, default=30)
    p.add_argument("--device", default="auto")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dim", type=positive_int, default=64)
    p.add_argument("--layers", type=positive_int, default=2)
    p.add_argument("--heads", type=positive_int, default=4)
    p.add_argument("--pool", type=positive_int, default=8, help="raw frames per output frame")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=positive_int, default=4, help="songs per step")
    p.add_argument("--sigma", type=float, default=0.5, help="boundary target width (s)")
    p.add_argument("--tracks", type=positive_int, default=200, help="synthetic: songs to generate")
    p.add_argument("--seconds", type=float, default=120.0, help="synthetic: least song length")
    p.add_argument("--threads", type=positive_int, default=2, help="torch CPU threads")
    p.add_argument("--name", default="structure")
    p.add_argument("--export", action="store_true", help="also write model.onnx and score it")
    p.set_defaults(func=_main)

    e = subparsers.add_parser(
        "segment-eval",
        help="score a segment model on a labelled folder (mir_eval, markdown)",
        description="Score a segment model through the runtime: mir_eval metrics per track and averaged.",
    )
    e.add_argument("--model", default="structure", help="a bundled model's name or an ONNX file")
    e.add_argument("--data", type=Path, required=True)
    e.add_argument("--layout", choices=EVAL_LAYOUTS, required=True)
    e.add_argument("-o", "--output", type=Path, help="write the markdown table here too")
    e.add_argument("--json", type=Path, help="write the per-track metrics as JSON")
    e.add_argument(
        "--write-references",
        type=Path,
        metavar="DIR",
        help="also write each song's reference sections as DIR/<id>.lab (for musicedge segment --reference)",
    )
    e.set_defaults(func=_eval_main)


def _main(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(SegmentConfig, args)
        metrics = run(cfg)
    except MusicEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: metrics[k] for k in ("valid", "test_torch", "test_onnx") if k in metrics}))
    return 0


def _eval_main(args: argparse.Namespace) -> int:
    try:
        frontend = FrontendConfig.preset(PRESET)
        songs = read_songs(args.layout, args.data, frontend)
        labelled = args.layout != "csv"
        if args.write_references:
            args.write_references.mkdir(parents=True, exist_ok=True)
            for song_id, _, sections in songs:
                lines = "".join(f"{x.start:.3f}\t{x.end:.3f}\t{x.label}\n" for x in sections)
                (args.write_references / f"{song_id}.lab").write_text(lines)
        rows, _ = evaluate_runtime(args.model, songs, labelled=labelled)
    except MusicEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    table = eval_table(rows, labelled=labelled)
    print(table)
    if args.output:
        args.output.write_text(table + "\n")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


# ---------------------------------------------------------------------------------------------------------
# The bundled model (``python -m training.bundle structure``)

BUNDLE_EPOCHS = 16
BUNDLE_TRACKS = 240
BUNDLE_TEST_TRACKS = 40
BUNDLE_SECONDS = 120.0
REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real"


def bundle_structure(
    work: Path,
    *,
    epochs: int | None = None,
    tracks: int | None = None,
    reuse_run: Path | None = None,
    log: TextIO = sys.stderr,
) -> dict:
    """Generate the corpora, train (or adopt ``reuse_run``, a finished run of these settings), export,
    copy ``structure.onnx`` into ``musicedge/models/``, score it through the runtime on the held-out
    songs and the real recordings, and write the model card ``structure.md``."""
    import shutil

    from musicedge.models import MODELS_DIR

    from ..corpus import write_layout

    started = time.perf_counter()
    work = Path(work)
    n_tracks = tracks or BUNDLE_TRACKS
    n_test = max(4, n_tracks // 6) if tracks else BUNDLE_TEST_TRACKS
    folders = {}
    generated = 0.0
    for name, count, seed in (("salami-train", n_tracks, 1), ("salami-test", n_test, 2)):
        folder = work / name
        if not (folder / "corpus.json").exists():
            print(f"generating {count} songs into {folder} (seed {seed})", file=log)
            begun = time.perf_counter()
            write_layout("salami", str(folder), tracks=count, seconds=BUNDLE_SECONDS, seed=seed)
            generated += time.perf_counter() - begun
        folders[name] = folder
    run_dir = work / "run-structure"
    cfg = SegmentConfig(
        layout="salami",
        out=run_dir,
        data=folders["salami-train"],
        test_data=folders["salami-test"],
        epochs=epochs or BUNDLE_EPOCHS,
        export=True,
    )
    if reuse_run is not None:
        if run_dir.exists():
            shutil.rmtree(run_dir)
        shutil.copytree(reuse_run, run_dir)
        metrics = json.loads((run_dir / "metrics.json").read_text())
    else:
        metrics = run(cfg, log)
    target = MODELS_DIR / "structure.onnx"
    shutil.copyfile(run_dir / "model.onnx", target)
    frontend = FrontendConfig.preset(PRESET)
    test_rows, _ = evaluate_runtime(target, read_songs("salami", folders["salami-test"], frontend))
    real_rows: dict[str, dict[str, float]] = {}
    if (REAL / "structure").is_dir():
        real_rows, _ = evaluate_runtime(
            target, read_songs("csv", REAL / "structure", frontend), labelled=False
        )
    nonmusic = []
    if (REAL / "nonmusic").is_dir():
        from musicedge.audio import find_audio
        from musicedge.segment import Segmenter

        segmenter = Segmenter.load(target, device="cpu", threads=1)
        for path in find_audio([REAL / "nonmusic"]):
            result = segmenter.analyze(path)
            nonmusic.append((path.name, result.duration_s, [s.to_dict() for s in result.segments]))
    summary = {
        "metrics": {k: v for k, v in metrics.items() if k != "history"},
        "history": metrics.get("history", []),
        "test_rows": test_rows,
        "real_rows": real_rows,
        "nonmusic": nonmusic,
        "bytes": target.stat().st_size,
        "seconds": round(time.perf_counter() - started + (metrics["train_seconds"] if reuse_run else 0.0), 1),
        "corpus_seconds": round(generated, 1),
        "command": "python -m training.bundle structure",
        "n_test": len(test_rows),
    }
    (run_dir / "bundle.json").write_text(json.dumps(summary, indent=2, default=str))
    write_structure_card(summary, MODELS_DIR / "structure.md")
    return summary


def write_structure_card(summary: dict, path: Path) -> None:
    """The model card: what the model does, its data, measured metrics, limits."""
    metrics = summary["metrics"]
    data = metrics["data"]
    test_mean = mean_row(summary["test_rows"])
    peak = metrics["peak_params"]
    lines = [
        "# `structure`: section boundaries and section functions of a song",
        "",
        '- Task `segment`: `Segmenter.load("structure").segment(path)` gives contiguous sections '
        "(start, end, label, confidence) from 0 to the end of the song.",
        f"- Architecture: `StructureNet` ({metrics['parameters']:,} parameters, "
        f"{summary['bytes'] / 1024:.0f} KiB): log-mel (gtzan22k) pooled to 5.4 frames per second, "
        "dilated temporal convolutions (about +-5.6 s), the relative position in the song, two "
        "transformer blocks with self-attention over the whole song; one ONNX file with two outputs, "
        "`boundary` (boundary logits per frame) and `labels` (label logits per frame).",
        "- Labels (the taxonomy): " + ", ".join(TAXONOMY) + " (pre-chorus folded into verse, as SALAMI's "
        "functions are mapped by `training.layouts.salami.FUNCTION_TAXONOMY`).",
        f"- Boundaries: peaks of the activation, picked with threshold {peak['threshold']}, minimum "
        f"distance {peak['min_distance_s']} s, local-mean window {peak['mean_window_s']} s and offset "
        f"{peak['offset']}, tuned by grid search on the validation songs and stored in the metadata "
        "(`musicedge.extra.peak_*`). Section label: the argmax of the mean frame log-probability over the "
        "section; confidence: the mean probability of that label over its frames.",
        "- Trained on: musicedge's generated songs only (`python -m training corpus --layout salami "
        f"--seconds {BUNDLE_SECONDS:g} --seed 1`: {data['n_songs']['train']} training and "
        f"{data['n_songs']['valid']} validation songs, {data['train_minutes']} minutes of training audio, "
        "complete songs of ten styles rendered from MIDI with a General MIDI soundfont, boundaries exact on "
        "bar lines); never on real recordings. Targets: a Gaussian (sigma 0.5 s, cut at +-2 s) around each "
        "boundary, and the section's class at every frame.",
        f"- Epochs: {metrics['epochs_run']} (best {metrics['best_epoch']}), {metrics['train_seconds']:.0f} s "
        "of training on this project's shared 2-core CPU machine.",
        "",
        f"## Held-out generated songs ({summary['n_test']} songs, corpus seed 2, never seen in training)",
        "",
        "Through the runtime (ONNX Runtime, `Segmenter`), scored by mir_eval "
        "(`python -m training segment-eval --model structure --data DIR --layout salami`):",
        "",
        "| HR.5F | HR3F | pairwise F | NCE F (Sf) | frame label accuracy | target |",
        "|---:|---:|---:|---:|---:|---|",
        f"| {test_mean['HR.5F']:.3f} | {test_mean['HR3F']:.3f} | {test_mean['PWF']:.3f} | "
        f"{test_mean['Sf']:.3f} | {test_mean['Acc']:.3f} | HR3F >= 0.95, HR.5F >= 0.80, accuracy >= 0.85 |",
        "",
        "Per song:",
        "",
        eval_table(summary["test_rows"]),
        "",
        "Validation (the songs the peak picking was tuned on): "
        + ", ".join(f"{k} {v:.3f}" for k, v in metrics["valid"].items())
        + ".",
        "",
        "## The real Chopin prelude (`../shared/data/real/structure/`, one track, not tuned to)",
        "",
    ]
    if summary["real_rows"]:
        lines += [
            "Op. 28 No. 11 (SMD recording, 38 s, FMP's reference A A B A A C D in letters): the labels are "
            "letters, so frame label accuracy does not apply; the other metrics compare boundaries and the "
            "grouping of sections "
            "(`python -m training segment-eval --model structure --data ../shared/data/real/structure "
            "--layout csv`).",
            "",
            eval_table(summary["real_rows"], labelled=False),
            "",
        ]
    else:
        lines += ["The recording was not present when the card was written.", ""]
    if summary["nonmusic"]:
        lines += ["## Non-music (`../shared/data/real/nonmusic/`): what it answers", ""]
        for name, duration, segments in summary["nonmusic"]:
            parts = ", ".join(f"{s['label']} {s['start']:.1f}-{s['end']:.1f} s" for s in segments[:6])
            more = f" ... ({len(segments)} sections)" if len(segments) > 6 else ""
            lines.append(f"- `{name}` ({duration:.0f} s): {parts}{more}")
        lines.append("")
    lines += [
        "## Limits",
        "",
        "- Generated MIDI music only: no vocals, no production, no tempo changes; on real recordings expect "
        "much lower scores (the Chopin prelude above).",
        "- The labels are a fixed song taxonomy; there is no 'not music' label: speech or animal sounds "
        "still get sections and song-function labels (above).",
        "- Songs longer than 8 minutes run in 8-minute windows every 4 minutes (blended), so the relative "
        "position that helps tell intros from outros is relative to the window there.",
        "",
        f"Reproduce with `{summary['command']}`: it generates both corpora (into `--work`, default "
        "`out/bundle`), trains, exports, and scores. This card's run: training, export and scoring "
        f"{summary['seconds']:.0f} s on the shared 2-core machine while other jobs used it; "
        + (
            f"corpus generation {summary['corpus_seconds']:.0f} s more."
            if summary.get("corpus_seconds")
            else "the corpora had been generated before (by the same seeded commands)."
        ),
        "",
    ]
    path.write_text("\n".join(lines))
