"""``python -m training latent``: a VAE over fixed-length log-mel excerpts (seed 002), its export and
its held-out numbers.

::

    python -m training latent --data DIR [--test-data DIR] [--extra-audio DIR ...] --out RUN_DIR \\
        [--epochs N] [--steps-per-epoch S] [--channels 1|3] [--latent-dim D] [--frames T] \\
        [--beta B] [--free-bits NATS] [--anneal-epochs E] [--mix-weight W] [--no-augment] [--export] \\
        [--bundle] [--init BEST_PT]

What it does:

1. reads a GTZAN-style folder (the generated corpus: ``python -m training corpus --layout gtzan``; the
   style is the genre folder, the tempo comes from ``corpus.json``), splits it into train / valid
   (and test, unless ``--test-data`` names a second corpus), and adds every audio file under each
   ``--extra-audio`` folder (no labels; the first ``--extra-seconds`` of each) to training;
2. computes log-mel frames once per track with the C++ ``MelFrontend`` (``gtzan22k`` with
   ``--n-mels`` bands); with ``--channels 3`` also the same bands with 1024- and 512-sample analysis
   windows (seed 002's three stacked spectrograms; the decoder reconstructs the first);
3. trains :class:`training.models.vae.LatentVAE` on excerpts of ``--frames`` frames cropped at random
   positions (a track shorter than one excerpt is left out: nothing is zero-padded), with the seed's
   image-style augmentations (colour jitter of level and contrast on input and target; Gaussian blur
   and random erasing on the input only, so the model learns to undo them), a Gaussian likelihood on
   dB with one scale for every bin, the KL term weighted by ``beta`` annealed linearly from 0 over
   ``--anneal-epochs`` and floored per dimension at ``--free-bits`` nats; with ``--mix-weight`` also
   an interpolation-consistency term (:func:`mix_loss`: the loudness, spectral centroid and bass ratio
   of the excerpt decoded a fraction of the way between two latents should be that fraction of the
   way between the decoded ends' values); keeps the epoch with the lowest validation reconstruction
   error (``--keep last``: the last epoch; ``--keep balanced``: of the epochs whose validation error
   is below PCA's, the one whose validation interpolations are the most monotonic, see
   :class:`BalancedSelection`); ``--init`` starts from an earlier run's ``best.pt``
   instead (:func:`warm_start`: its weights and band statistics, the KL term at full weight from the
   first step), so a term can be added once the reconstruction has converged;
4. measures on held-out excerpts (four per test track, evenly spaced): reconstruction RMSE in dB
   against PCA with as many components as latent dimensions (fitted on training excerpts), active
   units (dimensions whose posterior mean varies across excerpts by more than 0.01), and fits the
   probes the runtime's ``explain()`` uses (style: multinomial logistic regression on ``mu``; tempo:
   ridge regression), scored on the test excerpts;
5. with ``--export``: writes ``RUN_DIR/latent-encoder.onnx`` and ``latent-decoder.onnx`` (verified
   against PyTorch), then measures through the runtime (:class:`musicedge.latent.LatentModel`):
   interpolation monotonicity, dimension traversals, ONNX Runtime against PyTorch eager (batch 1, one
   thread) and Griffin-Lim speed; ``--bundle`` also copies both files into ``musicedge/models/`` and
   writes the model card ``latent.md``.

Everything measured goes to ``RUN_DIR/metrics.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch import Tensor

from musicedge.config import FrontendConfig
from musicedge.errors import DataError, MusicEdgeError, ParameterError
from musicedge.spec import ModelSpec

from .. import augment as A
from ..argtypes import config_from_args, positive_int
from ..checkpoint import save_checkpoint
from ..layouts import assign_splits, load_gtzan
from ..loop import resolve_device, seed_everything
from ..models.vae import LEVELS, LatentVAE, kl_per_dim, loudness_db

__all__ = [
    "LatentConfig",
    "Prepared",
    "SpectrumDescriptors",
    "add_parser",
    "decode_with_running_stats",
    "frontends_for",
    "mix_loss",
    "mix_points",
    "pca_rmse",
    "prepare_data",
    "run",
    "train_vae",
    "warm_start",
]

#: Analysis windows (samples) of the three stacked channels; the first is the frontend's own n_fft.
WIN_LENGTHS = (2048, 1024, 512)
SPLITS = ("train", "valid", "test")
#: The likelihood's scale: one for every bin (dB) or each band's own standard deviation.
LOSS_SCALES = ("db", "band")
#: Which epoch's model a run keeps: the lowest validation reconstruction error, the last, or the
#: balance of issue 7's two targets on the validation excerpts (:class:`BalancedSelection`).
KEEP = ("best", "last", "balanced")
#: Fixed held-out excerpts per track (evenly spaced over it).
EXCERPTS_PER_TRACK = 4
#: Fixed training excerpts per track that the PCA baseline is fitted on (validation and test alike).
PCA_EXCERPTS_PER_TRACK = 8


@dataclass
class LatentConfig:
    """Every setting of one run (the command line's options, by the same names)."""

    data: Path
    out: Path
    test_data: Path | None = None
    extra_audio: list[Path] = field(default_factory=list)
    extra_seconds: float = 120.0
    epochs: int = 20
    steps_per_epoch: int = 50
    batch_size: int = 32
    lr: float = 2e-3
    latent_dim: int = 8  # the bundled model's (16 until session 14: docs/latent.md has both)
    frames: int = 128
    n_mels: int = 64
    channels: int = 1
    widths: tuple[int, ...] = (16, 32, 48, 64)
    rnn: int = 64
    beta: float = 1.0
    free_bits: float = 0.1
    anneal_epochs: int | None = None
    augment: bool = True
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    name: str = "latent"
    version: str = "1.0.0"
    export: bool = False
    bundle: bool = False
    reuse: Path | None = None
    init: Path | None = None
    keep: str = "best"
    pca_init: bool = False
    loss: str = "db"
    mix_weight: float = 0.0
    level: str = "free"
    ema: float = 0.0
    compare: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("epochs", "steps_per_epoch", "batch_size", "latent_dim", "frames", "n_mels", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")
        if self.keep not in KEEP:
            raise ParameterError(f"keep must be one of {', '.join(KEEP)}, got {self.keep!r}")
        if self.loss not in LOSS_SCALES:
            raise ParameterError(f"loss must be one of {', '.join(LOSS_SCALES)}, got {self.loss!r}")
        if self.level not in LEVELS:
            raise ParameterError(f"level must be one of {', '.join(LEVELS)}, got {self.level!r}")
        if self.channels not in (1, 3):
            raise ParameterError(f"channels must be 1 or 3, got {self.channels!r}")
        for name in ("beta", "free_bits", "mix_weight"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} must be a number >= 0, got {value!r}")
        if not (isinstance(self.ema, (int, float)) and 0 <= self.ema < 1):
            raise ParameterError(f"ema must be a number in [0, 1), got {self.ema!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ParameterError(f"lr must be a positive number, got {self.lr!r}")
        if not self.extra_seconds > 0:
            raise ParameterError(f"extra_seconds must be positive, got {self.extra_seconds!r}")
        if self.init is not None and self.reuse is not None:
            raise ParameterError("init and reuse exclude each other (reuse skips training)")
        if self.anneal_epochs is None:
            # a warm start continues a trained model: the KL term at its full weight from the start
            self.anneal_epochs = 0 if self.init is not None else max(1, self.epochs // 4)
        self.data = Path(self.data)
        self.out = Path(self.out)
        self.test_data = Path(self.test_data) if self.test_data is not None else None
        self.init = Path(self.init) if self.init is not None else None
        self.extra_audio = [Path(p) for p in self.extra_audio]
        self.bundle = bool(self.bundle)
        self.export = bool(self.export or self.bundle)

    @property
    def frontend(self) -> FrontendConfig:
        return FrontendConfig.preset("gtzan22k").replace(n_mels=self.n_mels)

    def model_kwargs(self) -> dict[str, Any]:
        return {
            "n_mels": self.n_mels,
            "frames": self.frames,
            "latent_dim": self.latent_dim,
            "widths": list(self.widths),
            "rnn": self.rnn,
            "channels": self.channels,
            "level": self.level,
        }


def frontends_for(config: FrontendConfig, channels: int) -> list[FrontendConfig]:
    """The frontend of each input channel: the model's own, then shorter analysis windows."""
    if channels == 1:
        return [config]
    return [config] + [config.replace(win_length=w) for w in WIN_LENGTHS[1:channels]]


# ---------------------------------------------------------------------------------------------------
# Data


@dataclass
class TrackFeatures:
    """One track's frames ``(C, M, T)`` and its labels (``None`` for unlabelled audio)."""

    id: str
    frames: np.ndarray
    style: str | None = None
    tempo: float | None = None


@dataclass
class Prepared:
    """The frames of every split, and what was read."""

    frontend: FrontendConfig
    channels: int
    frames: int
    train: list[TrackFeatures]
    valid: list[TrackFeatures]
    test: list[TrackFeatures]
    styles: tuple[str, ...]
    info: dict[str, Any]


def _corpus_tempos(root: Path) -> dict[str, float]:
    path = root / "corpus.json"
    if not path.is_file():
        return {}
    try:
        items = json.loads(path.read_text()).get("items", [])
    except (OSError, ValueError, AttributeError):
        raise DataError(f"{path}: not a readable corpus.json") from None
    return {str(i["id"]): float(i["tempo"]) for i in items if "id" in i and "tempo" in i}


def _features(path: Path, frontends: list[FrontendConfig], seconds: float | None) -> np.ndarray:
    from musicedge.audio import load
    from musicedge.frontend import MelFrontend

    y, _ = load(path, sr=frontends[0].sample_rate)
    if seconds is not None:
        y = y[: int(seconds * frontends[0].sample_rate)]
    return np.stack([np.asarray(MelFrontend(f).compute(y), dtype=np.float32) for f in frontends])


def _read_folder(root: Path, frontends: list[FrontendConfig], log: TextIO) -> list[tuple[Any, np.ndarray]]:
    dataset = load_gtzan(root, seed=0)
    out = []
    for track in dataset.tracks:
        out.append((track, _features(track.audio_path, frontends, None)))
    print(f"latent: {len(out)} tracks read from {root}", file=log, flush=True)
    return out


def prepare_data(cfg: LatentConfig, log: TextIO = sys.stderr) -> Prepared:
    """Read the corpus (and extra audio), split it, compute the frames of every track."""
    from musicedge.audio import find_audio

    frontends = frontends_for(cfg.frontend, cfg.channels)
    tracks = _read_folder(cfg.data, frontends, log)
    tempos = _corpus_tempos(cfg.data)
    fractions = (0.9, 0.1, 0.0) if cfg.test_data is not None else (0.8, 0.1, 0.1)
    listed = [t for t, _ in tracks]
    assigned = assign_splits(listed, fractions, seed=cfg.seed, key=lambda t: t.label)
    if any(
        f > 0 and not any(t.split == name for t in assigned)
        for f, name in zip(fractions, SPLITS, strict=True)
    ):
        assigned = assign_splits(listed, fractions, seed=cfg.seed)  # too few tracks per style to stratify
    split = {t.id: t.split for t in assigned}
    parts: dict[str, list[TrackFeatures]] = {"train": [], "valid": [], "test": []}
    short = 0
    for track, frames in tracks:
        if frames.shape[2] < cfg.frames:
            short += 1
            continue
        parts[split[track.id]].append(TrackFeatures(track.id, frames, track.label, tempos.get(track.id)))
    if cfg.test_data is not None:
        test_tempos = _corpus_tempos(cfg.test_data)
        for track, frames in _read_folder(cfg.test_data, frontends, log):
            if frames.shape[2] < cfg.frames:
                short += 1
                continue
            parts["test"].append(TrackFeatures(track.id, frames, track.label, test_tempos.get(track.id)))
    extra_files = find_audio(list(cfg.extra_audio)) if cfg.extra_audio else []
    n_extra = 0
    for path in extra_files:
        try:
            frames = _features(path, frontends, cfg.extra_seconds)
        except MusicEdgeError as exc:
            print(f"latent: skipped {path}: {exc}", file=log)
            continue
        if frames.shape[2] < cfg.frames:
            short += 1
            continue
        parts["train"].append(TrackFeatures(f"extra:{path.name}", frames))
        n_extra += 1
    for name, part in parts.items():
        if not part:
            raise DataError(f"{cfg.data}: the {name} split has no track of at least {cfg.frames} frames")
    styles = tuple(sorted({t.style for t in parts["train"] if t.style is not None}))
    info = {
        "data": str(cfg.data),
        "test_data": str(cfg.test_data) if cfg.test_data else None,
        "extra_audio": [str(p) for p in cfg.extra_audio],
        "n_tracks": {k: len(v) for k, v in parts.items()},
        "n_extra_files": n_extra,
        "extra_seconds_per_file": cfg.extra_seconds,
        "left_out_short": short,
        "train_minutes": round(
            sum(t.frames.shape[2] for t in parts["train"]) / cfg.frontend.frame_rate / 60.0, 1
        ),
    }
    print(f"latent: data {json.dumps(info)}", file=log, flush=True)
    return Prepared(
        cfg.frontend, cfg.channels, cfg.frames, parts["train"], parts["valid"], parts["test"], styles, info
    )


def fixed_excerpts(tracks: list[TrackFeatures], frames: int, per_track: int = EXCERPTS_PER_TRACK):
    """``(N, C, M, frames)`` excerpts evenly spaced over each track, with their tracks' index."""
    out, owner = [], []
    for i, t in enumerate(tracks):
        starts = np.unique(np.linspace(0, t.frames.shape[2] - frames, per_track).round().astype(int))
        for s in starts:
            out.append(t.frames[:, :, s : s + frames])
            owner.append(i)
    return np.stack(out).astype(np.float32), np.asarray(owner)


def random_batch(
    tracks: list[TrackFeatures], frames: int, batch: int, rng: np.random.Generator
) -> np.ndarray:
    """``(batch, C, M, frames)`` crops at random positions of random tracks (uniform over all crops)."""
    lengths = np.array([t.frames.shape[2] - frames + 1 for t in tracks], dtype=np.float64)
    picks = rng.choice(len(tracks), size=batch, p=lengths / lengths.sum())
    out = np.empty((batch, *tracks[0].frames.shape[:2], frames), np.float32)
    for row, i in enumerate(picks):
        start = rng.integers(0, lengths[i])
        out[row] = tracks[i].frames[:, :, start : start + frames]
    return out


# ---------------------------------------------------------------------------------------------------
# Training


def augment_batch(x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """The seed's image-style augmentations: ``(input, target)`` from a batch ``(B, C, M, T)`` dB.

    Colour jitter (level +-6 dB, contrast +-20 %) makes new excerpts, so it goes into the target as
    well; Gaussian blur and random erasing only damage the input (the model learns to undo them).
    """
    jittered = A.random_brightness_contrast(x, generator, brightness_db=6.0, contrast=0.2).clamp_min(-100.0)
    damaged = A.random_gaussian_blur(jittered, generator, sigma_range=(0.3, 1.5), p=0.3)
    damaged = A.random_erasing(damaged, generator, p=0.3, area=(0.02, 0.12), value="mean")
    return damaged, jittered[:, :1]


def vae_loss(
    model: LatentVAE,
    target: Tensor,
    recon: Tensor,
    mu: Tensor,
    logvar: Tensor,
    beta: float,
    free_bits: float,
    scale: str = "db",
) -> tuple[Tensor, Tensor, Tensor]:
    """``(loss, recon_nll, kl)`` per example: a Gaussian likelihood summed over bins, plus ``beta``
    times the KL with each dimension's batch mean floored at ``free_bits`` nats.

    ``scale="db"``: one scale for every bin (the mean of the bands' standard deviations), so the loss
    weighs bins as the dB error does; ``"band"``: each band in its own standard units (quiet, steady
    bands weigh more)."""
    std = model.decoder.band_std[:1]
    if scale not in LOSS_SCALES:
        raise ParameterError(f"loss scale must be one of {', '.join(LOSS_SCALES)}, got {scale!r}")
    nll = 0.5 * ((recon - target) / (std.mean() if scale == "db" else std)).square().sum(dim=(1, 2, 3)).mean()
    kl = kl_per_dim(mu, logvar)
    kl_term = torch.clamp(kl, min=free_bits).sum()
    return nll + beta * kl_term, nll, kl.sum()


#: ln(10) / 10: dB -> natural log of power.
_DB_TO_LN = math.log(10.0) / 10.0
#: The descriptors :func:`mix_loss` keeps linear along straight lines (those of the long-term spectrum).
MIX_DESCRIPTORS = ("loudness_db", "centroid_hz", "bass_ratio")


class SpectrumDescriptors(torch.nn.Module):
    """Differentiable twins of :func:`musicedge.descriptors.describe_batch`'s loudness (dB), spectral
    centroid (Hz) and bass ratio: ``(B, 1, M, T)`` dB -> ``(B, 3)`` in :data:`MIX_DESCRIPTORS` order."""

    def __init__(self, config: FrontendConfig) -> None:
        from musicedge.descriptors import BASS_HZ, band_frequencies

        super().__init__()
        freqs = torch.from_numpy(band_frequencies(config)).float()
        self.register_buffer("freqs", freqs)
        self.register_buffer("bass", (freqs < BASS_HZ).float())

    def forward(self, mel: Tensor) -> Tensor:
        log_power = mel[:, 0] * _DB_TO_LN  # (B, M, T)
        frames = mel.shape[-1]
        loudness = (torch.logsumexp(log_power.flatten(1), dim=1) - math.log(frames)) / _DB_TO_LN
        share = torch.softmax(torch.logsumexp(log_power, dim=2), dim=1)  # each band's share of the power
        return torch.stack([loudness, share @ self.freqs, share @ self.bass], dim=1)


def mix_points(z: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``(z_mix, lam)``: for each latent of the batch ``(B, D)`` a point a fraction ``lam`` ``(B, 1)``
    (uniform) of the way from the next one (rolled by one) to it; detached."""
    lam = torch.rand(z.shape[0], 1, generator=generator).to(z.device)
    z = z.detach()
    return lam * z + (1.0 - lam) * z.roll(1, dims=0), lam


def decode_with_running_stats(decoder: torch.nn.Module, z: Tensor) -> Tensor:
    """``decoder(z)`` with its batch normalisation layers in eval mode (their running statistics:
    neither read from nor written by this batch), the rest as it is; gradients flow as usual."""
    norms = [m for m in decoder.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    modes = [m.training for m in norms]
    for m in norms:
        m.eval()
    try:
        return decoder(z)
    finally:
        for m, mode in zip(norms, modes, strict=True):
            m.train(mode)


def mix_loss(
    recon: Tensor, mixed: Tensor, lam: Tensor, describe: SpectrumDescriptors, scales: Tensor
) -> Tensor:
    """Latent interpolation consistency (``--mix-weight``): along the straight line between two latents
    of the batch (:func:`mix_points`), the decoded excerpt (``mixed``) should have loudness, spectral
    centroid and bass ratio ``lam`` of the way between those of the two decoded ends (``recon`` and
    ``recon`` rolled by one). The squared differences are in units of ``scales`` (each descriptor's
    standard deviation over training excerpts), summed, and counted once per bin of the excerpt (so a
    weight of 1 makes one standard deviation off cost what one likelihood scale off in every bin does).
    The training loop decodes the mixed points with the batch normalisation on its running statistics
    (:func:`decode_with_running_stats`): decoded in train mode, apart, their statistics entered the
    running averages as a second kind of batch; decoded in one batch with the excerpts' latents, the
    term reached the encoder through the batch statistics and spread the latents (KL from 60 to over
    1000 nats); either way the reconstruction fell apart.

    Why: a decoder close to linear in dB (PCA is one) gives, half way, the geometric mean of the two
    ends' power in every bin; a log-sum-exp is convex, so the loudness dips below both ends and the
    centroid falls toward the bass where the ends differ in their spectra more than in their level,
    and the descriptors go down and up again along the interpolation. Ends and targets are detached:
    the term only shapes what the decoder does between latents."""
    ends = describe(recon.detach())
    target = lam * ends + (1.0 - lam) * ends.roll(1, dims=0)
    bins = recon.shape[-2] * recon.shape[-1]
    return 0.5 * bins * ((describe(mixed) - target) / scales).square().sum(dim=1).mean()


@torch.no_grad()
def encode_all(encoder: torch.nn.Module, x: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    encoder.eval()
    mus, lvs = [], []
    for i in range(0, len(x), batch):
        mu, lv = encoder(torch.from_numpy(x[i : i + batch]))
        mus.append(mu.numpy())
        lvs.append(lv.numpy())
    return np.concatenate(mus), np.concatenate(lvs)


@torch.no_grad()
def decode_all(decoder: torch.nn.Module, z: np.ndarray, batch: int = 64) -> np.ndarray:
    decoder.eval()
    return np.concatenate(
        [
            decoder(torch.from_numpy(z[i : i + batch].astype(np.float32)))[:, 0].numpy()
            for i in range(0, len(z), batch)
        ]
    )


def rmse_db(truth: np.ndarray, estimate: np.ndarray) -> float:
    """Root-mean-square difference in dB, both clamped at the frontend's -100 dB floor."""
    return float(np.sqrt(np.mean((np.maximum(truth, -100.0) - np.maximum(estimate, -100.0)) ** 2)))


def vae_rmse(model: LatentVAE, x: np.ndarray) -> float:
    mu, _ = encode_all(model.encoder, x)
    return rmse_db(x[:, 0], decode_all(model.decoder, mu))


class BalancedSelection:
    """``--keep balanced``: issue 7's two targets, reconstruction below PCA and monotonic
    interpolations, measured on the validation excerpts after every epoch. An epoch whose validation
    error is below that of PCA with as many components (fitted on training excerpts, as the held-out
    comparison is) ranks above every other, and among those the higher mean Spearman of the linear
    interpolations between 40 fixed pairs wins (:func:`musicedge.latent.interpolation_monotonicity`,
    9 steps, decoded by the torch model); until one is, the lowest error."""

    def __init__(self, cfg: LatentConfig, prepared: Prepared, valid_x: np.ndarray, pairs: int = 40) -> None:
        from musicedge.descriptors import describe_batch

        train_x, _ = fixed_excerpts(prepared.train, cfg.frames, per_track=PCA_EXCERPTS_PER_TRACK)
        self.pca_rmse_db = pca_rmse(train_x[:, 0], valid_x[:, 0], cfg.latent_dim)
        self.frontend_config = prepared.frontend
        self.descriptor_std = describe_batch(train_x[:, 0], prepared.frontend).std(axis=0)
        order = np.random.default_rng(cfg.seed).permutation(len(valid_x))
        self.pairs = max(1, min(pairs, len(valid_x) // 2))
        self.a_x, self.b_x = valid_x[order[: self.pairs]], valid_x[order[self.pairs : 2 * self.pairs]]
        self._decoder: torch.nn.Module | None = None

    # what interpolation_monotonicity asks of a LatentModel: its path between two latents, and decode
    @staticmethod
    def interpolate(a: np.ndarray, b: np.ndarray, steps: int, mode: str) -> np.ndarray:
        from musicedge.latent import latent_path

        return latent_path(a, b, steps, mode)

    def decode(self, z: np.ndarray) -> np.ndarray:
        return decode_all(self._decoder, z)

    def spearman(self, model: LatentVAE) -> float:
        """The mean signed Spearman of the validation interpolations (the model on the CPU)."""
        from musicedge.latent import interpolation_monotonicity

        self._decoder = model.decoder
        a, _ = encode_all(model.encoder, self.a_x)
        b, _ = encode_all(model.encoder, self.b_x)
        value = interpolation_monotonicity(self, a, b, steps=9, mode="linear")["spearman_mean"]
        return float(value) if value is not None else 0.0

    def rank(self, rmse_db: float, spearman: float) -> tuple[int, float]:
        return (1, spearman) if rmse_db < self.pca_rmse_db else (0, -rmse_db)


@dataclass
class TrainResult:
    model: LatentVAE
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float
    init: TrainResult | None = None  # the --init checkpoint this run trained on from


@torch.no_grad()
def pca_init(model: LatentVAE, prepared: Prepared, cfg: LatentConfig, rng: np.random.Generator) -> None:
    """Start at PCA: the linear paths become the top principal components (in dB, as the error is
    measured) of 2048 random training crops, scaled so that the coefficients have unit variance as the
    prior wants, and stay fixed; the deep paths' last layers start at zero, so training begins at
    PCA's reconstruction and the CNN and GRU learn what it misses."""
    crops = np.maximum(random_batch(prepared.train, cfg.frames, 2048, rng)[:, 0].astype(np.float64), -100.0)
    enc, dec = model.encoder, model.decoder
    std = np.broadcast_to(enc.band_std[0].double().numpy(), crops.shape[1:]).reshape(-1)  # (M*T,)
    _, basis, singular = pca_basis(crops, cfg.latent_dim)
    sd = singular / np.sqrt(len(crops))  # each coefficient's standard deviation
    # coefficient = basis . (x_db - mean) = (basis * std) . x_standardised (up to the mean's offset)
    enc.linear.weight.copy_(torch.from_numpy(basis * std / sd[:, None]).float())
    # output in standard units: (basis^T coefficient) / std
    dec.linear.weight.copy_(torch.from_numpy((basis * sd[:, None]).T / std[:, None]).float())
    freeze_linear_paths(model)
    enc.head.weight.zero_()
    enc.head.bias.zero_()
    enc.head.bias[cfg.latent_dim :] = -4.0  # small posterior variances to start
    dec.out.weight.zero_()
    dec.out.bias.zero_()
    if dec.gain is not None:
        # the least-squares linear map from the PCA coefficients to the loudness of PCA's reconstruction
        was_training = model.training
        model.eval()
        mel = torch.from_numpy(crops[:, None].astype(np.float32))
        z = torch.cat([enc(part)[0] for part in mel.split(256)])
        loudness = torch.cat([loudness_db(dec.unlevelled(part)) for part in z.split(256)]).double()
        design = torch.cat([z.double(), torch.ones(len(z), 1, dtype=torch.float64)], dim=1)
        solution = torch.linalg.lstsq(design, loudness[:, None]).solution[:, 0]
        dec.gain.weight.copy_(solution[:-1][None].float())
        dec.gain.bias.copy_(solution[-1:].float())
        model.train(was_training)


def freeze_linear_paths(model: LatentVAE) -> None:
    """Keep ``--pca-init``'s linear paths fixed: Adam's steps of ~lr would scramble the projection."""
    model.encoder.linear.weight.requires_grad_(False)
    model.decoder.linear.weight.requires_grad_(False)


def warm_start(cfg: LatentConfig) -> TrainResult:
    """``--init``: an earlier run's ``best.pt``, its model set to train on from (train mode). Its band
    statistics (the standardisation) and linear paths stay as they are, so with ``--pca-init`` the
    fixed PCA paths are the checkpoint's own, not a new fit; a checkpoint of another shape than
    ``cfg`` asks for is refused."""
    start = reuse_checkpoint(cfg.init)
    model = start.model
    if model.model_kwargs != cfg.model_kwargs():
        raise ParameterError(
            f"{cfg.init} holds a VAE of {json.dumps(model.model_kwargs, sort_keys=True)}, "
            f"not the {json.dumps(cfg.model_kwargs(), sort_keys=True)} asked for"
        )
    if cfg.pca_init:
        freeze_linear_paths(model)
    model.train()
    return start


def train_vae(cfg: LatentConfig, prepared: Prepared, log: TextIO = sys.stderr) -> TrainResult:
    """Train the VAE (from scratch, or on from ``cfg.init``); returns the model of the best validation
    epoch (eval mode, on the CPU)."""
    seed_everything(cfg.seed)
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    start = warm_start(cfg) if cfg.init is not None else None
    if start is not None:
        model = start.model
    else:
        model = LatentVAE(**cfg.model_kwargs())
        stats = np.concatenate([t.frames for t in prepared.train], axis=2).clip(min=-100.0)
        model.set_band_stats(torch.from_numpy(stats.mean(axis=2)), torch.from_numpy(stats.std(axis=2)))
        del stats
        if cfg.pca_init:
            pca_init(model, prepared, cfg, np.random.default_rng(cfg.seed + 1))
    if cfg.mix_weight > 0:
        from musicedge.descriptors import DESCRIPTORS, describe_batch

        describe = SpectrumDescriptors(cfg.frontend).to(device)
        crops = random_batch(prepared.train, cfg.frames, 1024, np.random.default_rng(cfg.seed + 2))[:, 0]
        spread = describe_batch(crops, cfg.frontend).std(axis=0)
        scales = torch.tensor([spread[DESCRIPTORS.index(n)] for n in MIX_DESCRIPTORS], device=device)
    model.to(device)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, weight_decay=1e-4)
    total_steps = cfg.epochs * cfg.steps_per_epoch
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=total_steps, pct_start=0.15
    )
    rng = np.random.default_rng(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)
    valid_x, _ = fixed_excerpts(prepared.valid, cfg.frames)
    balanced = BalancedSelection(cfg, prepared, valid_x) if cfg.keep == "balanced" else None
    anneal_steps = cfg.anneal_epochs * cfg.steps_per_epoch
    averaged = None
    if cfg.ema > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
    best, best_state, best_epoch, history = (-1, -math.inf), None, 0, []
    started = time.perf_counter()
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        sums, mix_sum = np.zeros(3), 0.0
        for _ in range(cfg.steps_per_epoch):
            x = torch.from_numpy(random_batch(prepared.train, cfg.frames, cfg.batch_size, rng))
            if cfg.augment:
                inp, target = augment_batch(x, generator)
            else:
                inp, target = x, x[:, :1].clamp_min(-100.0)
            inp, target = inp.to(device), target.to(device)
            beta = cfg.beta * min(1.0, (step + 1) / anneal_steps) if anneal_steps else cfg.beta
            mu, logvar = model.encoder(inp)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
            recon = model.decoder(z)
            if cfg.mix_weight > 0:
                z_mix, lam = mix_points(z, generator)
                mixed = decode_with_running_stats(model.decoder, z_mix)
            loss, nll, kl = vae_loss(model, target, recon, mu, logvar, beta, cfg.free_bits, cfg.loss)
            if cfg.mix_weight > 0:
                mix = mix_loss(recon, mixed, lam, describe, scales.float())
                loss = loss + cfg.mix_weight * mix
                mix_sum += mix.item()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 5.0)
            optimizer.step()
            scheduler.step()
            if averaged is not None:
                averaged.update_parameters(model)
            step += 1
            sums += (loss.item(), nll.item(), kl.item())
        measured = model if averaged is None else averaged.module  # what is scored is what is kept
        measured.cpu()
        score = vae_rmse(measured, valid_x)
        spearman = balanced.spearman(measured) if balanced is not None else None
        measured.to(device)
        row = {
            "epoch": epoch,
            "loss": float(sums[0] / cfg.steps_per_epoch),
            "nll": float(sums[1] / cfg.steps_per_epoch),
            "kl": float(sums[2] / cfg.steps_per_epoch),
            "beta": float(beta),
            "mix": float(mix_sum / cfg.steps_per_epoch),
            "valid_rmse_db": float(score),
            "seconds": time.perf_counter() - started,
        }
        if balanced is not None:
            row["valid_spearman"] = spearman
            row["valid_pca_rmse_db"] = balanced.pca_rmse_db
        history.append(row)
        extra = "" if balanced is None else f" (PCA {balanced.pca_rmse_db:.3f}), spearman {spearman:.3f}"
        print(
            f"latent: epoch {epoch}/{cfg.epochs} loss {row['loss']:.1f} nll {row['nll']:.1f} "
            f"kl {row['kl']:.1f} mix {row['mix']:.1f} "
            f"beta {beta:.2f} valid rmse {score:.3f} dB{extra} ({row['seconds']:.0f} s)",
            file=log,
            flush=True,
        )
        rank = balanced.rank(score, spearman) if balanced is not None else (0, -score)
        if rank > best or cfg.keep == "last":
            best, best_epoch = rank, epoch
            best_state = copy.deepcopy(measured.state_dict())
    model.load_state_dict(best_state)
    return TrainResult(model.cpu().eval(), history, best_epoch, time.perf_counter() - started, init=start)


def reuse_checkpoint(path: Path) -> TrainResult:
    """The model, history and best epoch of an earlier run's ``best.pt`` (same settings)."""
    from ..checkpoint import load_checkpoint

    # runs before the history's numbers were plain floats saved numpy scalars: allow those
    with torch.serialization.safe_globals([np._core.multiarray.scalar, np.dtype, type(np.dtype(np.float64))]):
        model, _, checkpoint = load_checkpoint(path)
    if not isinstance(model, LatentVAE):
        raise ParameterError(f"{path} holds a {type(model).__name__}, not a LatentVAE")
    history = checkpoint.get("history", [])
    seconds = history[-1]["seconds"] if history else 0.0
    return TrainResult(model, history, int(checkpoint["epoch"]), seconds)


# ---------------------------------------------------------------------------------------------------
# Held-out numbers


def pca_basis(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA in dB of excerpts ``x`` ``(N, M, T)`` (clamped at -100 dB): their mean ``(M*T,)``, the top
    ``k`` principal directions as orthonormal rows ``(k, M*T)`` and their singular values ``(k,)``."""
    a = np.maximum(x.reshape(len(x), -1), -100.0).astype(np.float64)
    mean = a.mean(axis=0)
    centred = a - mean
    # the top k right singular vectors through the (N, N) Gram matrix: N is far below the bins
    values, vectors = np.linalg.eigh(np.dot(centred, centred.T))
    top = np.argsort(values)[::-1][:k]
    singular = np.sqrt(np.maximum(values[top], 1e-12))
    return mean, np.dot(vectors[:, top].T, centred) / singular[:, None], singular


def pca_rmse(train_x: np.ndarray, test_x: np.ndarray, k: int) -> float:
    """RMSE (dB) of PCA with ``k`` components fitted on ``train_x`` ``(N, M, T)``, on ``test_x``."""
    mean, basis, _ = pca_basis(train_x, k)
    b = np.maximum(test_x.reshape(len(test_x), -1), -100.0).astype(np.float64) - mean
    recon = (b @ basis.T) @ basis + mean
    return rmse_db(test_x, recon.reshape(test_x.shape))


def _standardise(z: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (z - mean) / std


def fit_probes(
    train_z: np.ndarray,
    train_tracks: list[TrackFeatures],
    train_owner: np.ndarray,
    test_z: np.ndarray,
    test_tracks: list[TrackFeatures],
    test_owner: np.ndarray,
    styles: tuple[str, ...],
) -> dict[str, Any]:
    """Style (multinomial logistic regression) and tempo (ridge) probes on ``mu``, with test scores.

    The probes act on raw ``mu``; weights are stored already folded with the standardisation."""
    mean, std = train_z.mean(axis=0), train_z.std(axis=0) + 1e-6
    probes: dict[str, Any] = {}
    index = {s: i for i, s in enumerate(styles)}
    rows = [r for r, o in enumerate(train_owner) if train_tracks[o].style in index]
    if rows and len(styles) > 1:
        x = torch.from_numpy(_standardise(train_z[rows], mean, std)).float()
        y = torch.tensor([index[train_tracks[train_owner[r]].style] for r in rows])
        linear = torch.nn.Linear(x.shape[1], len(styles))
        opt = torch.optim.LBFGS(linear.parameters(), max_iter=200, line_search_fn="strong_wolfe")

        def closure() -> Tensor:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(linear(x), y) + 1e-3 * linear.weight.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
        w = linear.weight.detach().numpy().astype(np.float64) / std
        b = linear.bias.detach().numpy().astype(np.float64) - w @ mean
        test_rows = [r for r, o in enumerate(test_owner) if test_tracks[o].style in index]
        acc = None
        if test_rows:
            pred = (test_z[test_rows] @ w.T + b).argmax(axis=1)
            truth = np.array([index[test_tracks[test_owner[r]].style] for r in test_rows])
            acc = float((pred == truth).mean())
        probes["style"] = {
            "labels": list(styles),
            "weight": w.tolist(),
            "bias": b.tolist(),
            "test_accuracy": acc,
        }
    rows = [r for r, o in enumerate(train_owner) if train_tracks[o].tempo is not None]
    if rows:
        x = _standardise(train_z[rows], mean, std)
        y = np.array([train_tracks[train_owner[r]].tempo for r in rows])
        design = np.hstack([x, np.ones((len(x), 1))])
        coef = np.linalg.solve(design.T @ design + 1.0 * np.eye(design.shape[1]), design.T @ y)
        w = coef[:-1] / std
        b = float(coef[-1] - w @ mean)
        test_rows = [r for r, o in enumerate(test_owner) if test_tracks[o].tempo is not None]
        mae = r2 = None
        if test_rows:
            pred = test_z[test_rows] @ w + b
            truth = np.array([test_tracks[test_owner[r]].tempo for r in test_rows])
            mae = float(np.abs(pred - truth).mean())
            spread = np.square(truth - truth.mean()).sum()
            r2 = float(1.0 - np.square(pred - truth).sum() / spread) if spread > 0 else None
        probes["tempo"] = {"weight": w.tolist(), "bias": b, "test_mae_bpm": mae, "test_r2": r2}
    return probes


def held_out_metrics(
    cfg: LatentConfig, prepared: Prepared, model: LatentVAE, log: TextIO
) -> tuple[dict, dict]:
    """The torch-side numbers (reconstruction against PCA, active units, probes) and the decoder's
    metadata (latent statistics, reference points, probes)."""
    train_x, train_owner = fixed_excerpts(prepared.train, cfg.frames, per_track=PCA_EXCERPTS_PER_TRACK)
    test_x, test_owner = fixed_excerpts(prepared.test, cfg.frames)
    train_mu, _ = encode_all(model.encoder, train_x)
    test_mu, test_lv = encode_all(model.encoder, test_x)
    reconstructions = decode_all(model.decoder, test_mu)
    vae = rmse_db(test_x[:, 0], reconstructions)
    pca = pca_rmse(train_x[:, 0], test_x[:, 0], cfg.latent_dim)
    mean_only = rmse_db(
        test_x[:, 0], np.broadcast_to(np.maximum(train_x[:, 0], -100).mean(axis=0), test_x[:, 0].shape)
    )
    activity = test_mu.var(axis=0)
    kl = 0.5 * (np.square(test_mu) + np.exp(test_lv) - 1.0 - test_lv).mean(axis=0)
    probes = fit_probes(
        train_mu, prepared.train, train_owner, test_mu, prepared.test, test_owner, prepared.styles
    )
    from musicedge.descriptors import DESCRIPTORS, describe_batch

    onsets = DESCRIPTORS.index("onset_density")
    metrics = {
        "n_test_excerpts": int(len(test_x)),
        # what the decoded excerpts keep of the excerpts' events (onsets per second, mean)
        "onset_density_excerpts": float(describe_batch(test_x[:, 0], prepared.frontend)[:, onsets].mean()),
        "onset_density_reconstructions": float(
            describe_batch(reconstructions, prepared.frontend)[:, onsets].mean()
        ),
        "n_pca_train_excerpts": int(len(train_x)),
        "recon_rmse_db": vae,
        "pca_rmse_db": pca,
        "mean_spectrogram_rmse_db": mean_only,
        "active_units": int((activity > 0.01).sum()),
        "latent_dim": cfg.latent_dim,
        "posterior_mean_variance": [round(float(v), 4) for v in activity],
        "kl_per_dim_nats": [round(float(v), 3) for v in kl],
        "probe_style_test_accuracy": probes.get("style", {}).get("test_accuracy"),
        "probe_tempo_test_mae_bpm": probes.get("tempo", {}).get("test_mae_bpm"),
        "probe_tempo_test_r2": probes.get("tempo", {}).get("test_r2"),
    }
    print(
        f"latent: held-out rmse {vae:.2f} dB (PCA-{cfg.latent_dim} {pca:.2f} dB, mean spectrogram "
        f"{mean_only:.2f} dB), active units {metrics['active_units']}/{cfg.latent_dim}",
        file=log,
        flush=True,
    )
    picks = np.linspace(0, len(train_mu) - 1, 8).round().astype(int)
    decoder_extra = {
        "z_mean": json.dumps([round(float(v), 5) for v in train_mu.mean(axis=0)]),
        "z_std": json.dumps([round(float(v), 5) for v in train_mu.std(axis=0)]),
        "reference_z": json.dumps([[round(float(v), 5) for v in row] for row in train_mu[picks]]),
        "descriptor_std": json.dumps(
            [round(float(v), 5) for v in describe_batch(train_x[:, 0], prepared.frontend).std(axis=0)]
        ),
        "probes": json.dumps(probes),
    }
    return metrics, decoder_extra


# ---------------------------------------------------------------------------------------------------
# Export and the runtime's numbers


def build_specs(cfg: LatentConfig, prepared: Prepared, model: LatentVAE, training: dict, decoder_extra: dict):
    pair = secrets.token_hex(8)
    common = {
        "pair": pair,
        "channels": str(cfg.channels),
        "win_lengths": ",".join(str(w) for w in WIN_LENGTHS[: cfg.channels]),
        "model_kwargs": json.dumps(model.model_kwargs, sort_keys=True),
    }
    base = {
        "frontend": prepared.frontend,
        "window_frames": cfg.frames,
        "hop_frames": cfg.frames,
        "model_name": cfg.name,
        "model_version": cfg.version,
        "embedding_dim": cfg.latent_dim,
        "training": training,
    }
    encoder = ModelSpec(
        task="latent_encoder",
        extra={
            **common,
            "model_class": "training.models.vae.VaeEncoder",
            "inputs": model.encoder.input_names[0],
        },
        **base,
    )
    decoder = ModelSpec(
        task="latent_decoder",
        extra={**common, "model_class": "training.models.vae.VaeDecoder", **decoder_extra},
        **base,
    )
    return encoder, decoder


def export_pair(model: LatentVAE, encoder_spec: ModelSpec, decoder_spec: ModelSpec, out: Path, name: str):
    """Write ``<name>-encoder.onnx`` and ``<name>-decoder.onnx`` into ``out`` (verified)."""
    from export.onnx_export import export_model

    enc_path, dec_path = out / f"{name}-encoder.onnx", out / f"{name}-decoder.onnx"
    reports = [
        export_model(model.encoder, encoder_spec, enc_path, atol=1e-3),
        export_model(model.decoder, decoder_spec, dec_path, atol=1e-2),
    ]
    return enc_path, dec_path, reports


def _median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000.0 * float(np.median(times))


def speed_metrics(model: LatentVAE, enc_path: Path, dec_path: Path, repeats: int = 50) -> dict[str, Any]:
    """ONNX Runtime against PyTorch eager, batch 1, one thread, same weights; and Griffin-Lim's speed."""
    from musicedge.model import cpu_session

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.from_numpy(
            np.random.default_rng(0).normal(-50, 20, (1, *model_input_shape(model))).astype(np.float32)
        )
        z = torch.zeros(1, model.decoder.latent_dim)
        out: dict[str, Any] = {}
        for part, path, value in (("encoder", enc_path, x), ("decoder", dec_path, z)):
            net = getattr(model, part).eval()
            session = cpu_session(path, threads=1)
            feed = {session.get_inputs()[0].name: value.numpy()}
            with torch.inference_mode():
                eager = _median_ms(lambda net=net, value=value: net(value), repeats)
            ort = _median_ms(lambda session=session, feed=feed: session.run(None, feed), repeats)
            out[part] = {
                "onnxruntime_ms": round(ort, 3),
                "torch_eager_ms": round(eager, 3),
                "ratio": round(eager / ort, 2),
            }
        # in a child process with single-threaded BLAS: this process's thread pools (torch, OpenBLAS)
        # would otherwise add their own spinning to the CPU time of one core
        code = (
            "import json; from training.tasks.latent import to_audio_speed; "
            f"print(json.dumps(to_audio_speed({str(enc_path)!r})))"
        )
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        child = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600
        )
        if child.returncode != 0:
            raise ParameterError(f"measuring to_audio failed: {child.stderr.strip()[-500:]}")
        out["to_audio"] = json.loads(child.stdout.strip().splitlines()[-1])
        return out
    finally:
        torch.set_num_threads(threads)


def to_audio_speed(encoder_path: str, repeats: int = 10) -> dict[str, float]:
    """CPU and wall time of :meth:`LatentModel.to_audio` on one decoded excerpt (the training latents'
    mean), against the excerpt's duration."""
    from musicedge.latent import LatentModel

    latent = LatentModel.load(encoder_path, threads=1)
    mel = latent.decode(latent.z_mean.astype(np.float32))
    seconds = (mel.shape[1] - 1) * latent.frontend_config.hop_length / latent.sample_rate
    latent.to_audio(mel)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        latent.to_audio(mel)
    wall, cpu = (time.perf_counter() - wall) / repeats, (time.process_time() - cpu) / repeats
    return {
        "seconds_of_audio": round(seconds, 3),
        "cpu_seconds": round(cpu, 4),
        "wall_seconds": round(wall, 4),
        "times_real_time": round(seconds / cpu, 1),
        "times_real_time_wall": round(seconds / wall, 1),
    }


def model_input_shape(model: LatentVAE) -> tuple[int, int, int]:
    e = model.encoder
    return (e.channels, e.n_mels, e.frames)


def held_out_pairs(n: int, rng: np.random.Generator, pairs: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the held-out interpolation pairs among ``n`` excerpts: ``pairs`` (at most
    ``n // 2``) disjoint pairs drawn with ``rng``."""
    order = rng.permutation(n)
    pairs = max(1, min(pairs, n // 2))
    return order[:pairs], order[pairs : 2 * pairs]


#: Random pairings of every held-out excerpt (each excerpt in one pair) beside the card's 40 pairs:
#: 40 pairs are a small sample (the 16-dimension model scored 0.886 on them, 0.846 over these five).
#: The same pairings for every run, whatever its seed.
ALL_EXCERPT_PAIRINGS = 5


def runtime_metrics(enc_path: Path, test_x: np.ndarray, seed: int = 0, pairs: int = 40) -> dict[str, Any]:
    """Through the runtime: interpolation monotonicity (the card's ``pairs`` pairs, and the mean over
    :data:`ALL_EXCERPT_PAIRINGS` pairings of every excerpt) and dimension traversals on held-out
    excerpts."""
    from musicedge.latent import LatentModel, interpolation_monotonicity

    latent = LatentModel.load(enc_path, threads=1)
    z = latent.encode_batch(test_x)
    rng = np.random.default_rng(seed)
    first, second = held_out_pairs(len(z), rng, pairs)
    a, b = z[first], z[second]
    result: dict[str, Any] = {}
    for mode in ("linear", "slerp"):
        result[f"interpolation_{mode}"] = interpolation_monotonicity(latent, a, b, steps=9, mode=mode)
    means = []
    for k in range(ALL_EXCERPT_PAIRINGS):
        first, second = held_out_pairs(len(z), np.random.default_rng(1000 + k), len(z) // 2)
        means.append(interpolation_monotonicity(latent, z[first], z[second], steps=9)["spearman_mean"])
    result["interpolation_linear_all_excerpts"] = {
        "pairings": ALL_EXCERPT_PAIRINGS,
        "pairs": len(z) // 2,
        "spearman_means": means,
        "spearman_mean": float(np.mean(means)),
    }
    bases = z[rng.choice(len(z), min(8, len(z)), replace=False)]
    table = latent.explain(bases=bases)
    result["traversal"] = [row.to_dict() for row in table]
    result["dims_with_strong_descriptor"] = strong_dimensions(table, latent.descriptor_std)
    return result


def strong_dimensions(table, descriptor_std: np.ndarray, threshold: float = 0.8) -> list[dict[str, Any]]:
    """The dimensions whose traversal moves a descriptor with mean ``|r| >= threshold``: for each, that
    descriptor (the one that moves most, in training standard deviations, when several do)."""
    from musicedge.descriptors import DESCRIPTORS

    out = []
    for row in table:
        candidates = [
            (abs(change) / max(float(descriptor_std[i]), 1e-9), name, r, change)
            for i, name in enumerate(DESCRIPTORS)
            for r, change in [row.effects[name]]
            if abs(r) >= threshold
        ]
        if candidates:
            change_sd, name, r, change = max(candidates)
            out.append(
                {
                    "dim": row.dim,
                    "descriptor": name,
                    "r": round(r, 3),
                    "change": round(change, 4),
                    "change_sd": round(change_sd, 3),
                    "style": None if row.style is None else [row.style[0], round(row.style[1], 3)],
                    "tempo_change_bpm": None if row.tempo_change is None else round(row.tempo_change, 2),
                }
            )
    return sorted(out, key=lambda d: -d["change_sd"])


# ---------------------------------------------------------------------------------------------------
# Command line


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``latent`` command to ``python -m training``."""
    p = subparsers.add_parser("latent", help="train the latent-space VAE over short excerpts (seed 002)")
    p.add_argument("--data", type=Path, required=True, metavar="DIR", help="a GTZAN-style corpus folder")
    p.add_argument(
        "--layout", default="gtzan", choices=["gtzan", "synthetic"], help="layout of --data (gtzan)"
    )
    p.add_argument(
        "--test-data", type=Path, default=None, metavar="DIR", help="a second corpus: the test split"
    )
    p.add_argument(
        "--extra-audio",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="unlabelled audio for training",
    )
    p.add_argument("--extra-seconds", type=float, default=120.0, help="seconds read per extra file (120)")
    p.add_argument("--out", type=Path, required=True, metavar="RUN_DIR")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--steps-per-epoch", type=positive_int, default=50)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--latent-dim", type=positive_int, default=8, help="latent dimensions (8)")
    p.add_argument("--frames", type=positive_int, default=128, help="excerpt length in frames (128: 2.97 s)")
    p.add_argument("--n-mels", type=positive_int, default=64)
    p.add_argument("--channels", type=int, choices=[1, 3], default=1, help="3: three window sizes stacked")
    p.add_argument("--widths", default="16,32,48,64", help="CNN widths per stage (16,32,48,64)")
    p.add_argument("--rnn", type=positive_int, default=64, help="GRU size per direction (64)")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight after annealing (1)")
    p.add_argument("--free-bits", type=float, default=0.1, help="KL floor per dimension, nats (0.1)")
    p.add_argument(
        "--anneal-epochs",
        type=positive_int,
        default=None,
        help="epochs of KL warm-up (epochs/4; none with --init)",
    )
    p.add_argument(
        "--mix-weight",
        type=float,
        default=0.0,
        help="weight of the interpolation-consistency term: loudness, centroid and bass ratio decoded "
        "between two latents should be interpolated linearly between the ends' values (0: off)",
    )
    p.add_argument("--no-augment", action="store_true", help="no colour jitter, blur or erasing")
    p.add_argument(
        "--loss",
        choices=LOSS_SCALES,
        default="db",
        help="likelihood scale: one for all bins (db) or per band",
    )
    p.add_argument(
        "--pca-init",
        action="store_true",
        help="start the linear paths at PCA, the deep ones at 0, and keep the linear ones fixed "
        "(with --init: the checkpoint's own PCA paths, kept fixed)",
    )
    p.add_argument(
        "--init",
        type=Path,
        default=None,
        metavar="BEST_PT",
        help="train on from an earlier run's best.pt (its weights and band statistics; same "
        "--latent-dim, --frames, --n-mels, --channels, --widths, --rnn), e.g. to add --mix-weight "
        "after the reconstruction has converged",
    )
    p.add_argument(
        "--level",
        choices=LEVELS,
        default="free",
        help="the decoder's loudness: the network's own (free), or the output re-levelled to a linear "
        "function of z (linear), so that it moves monotonically along a straight latent path",
    )
    p.add_argument(
        "--ema",
        type=float,
        default=0.0,
        metavar="DECAY",
        help="measure and keep an exponential moving average of the weights (and batch-norm "
        "statistics), updated after every step with this decay (e.g. 0.995); 0: the weights themselves",
    )
    p.add_argument(
        "--keep",
        choices=KEEP,
        default="best",
        help="the epoch kept: lowest validation reconstruction error (best), the last (a fine-tune "
        "whose extra term costs reconstruction would otherwise keep its first epoch), or balanced: of "
        "the epochs whose validation error is below PCA's, the one with the most monotonic "
        "validation interpolations",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=positive_int, default=2)
    p.add_argument("--name", default="latent")
    p.add_argument("--export", action="store_true", help="write the two ONNX files and measure them")
    p.add_argument("--bundle", action="store_true", help="--export, then install as the bundled model + card")
    p.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        metavar="METRICS_JSON",
        help="--bundle: other runs' metrics.json to set beside this one in the card",
    )
    p.add_argument(
        "--reuse",
        type=Path,
        default=None,
        metavar="BEST_PT",
        help="skip training: this run's best.pt, same settings",
    )
    p.set_defaults(func=run)
    return p


def _widths(text: str) -> tuple[int, ...]:
    try:
        widths = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise ParameterError(f"--widths must be comma-separated integers, got {text!r}") from None
    return widths


def run(args: argparse.Namespace) -> int:
    try:
        cfg = config_from_args(LatentConfig, args, widths=_widths(args.widths), augment=not args.no_augment)
        summary = train_and_export(cfg)
    except MusicEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: summary[k] for k in ("recon_rmse_db", "pca_rmse_db", "active_units")}))
    return 0


def train_and_export(cfg: LatentConfig, log: TextIO = sys.stderr) -> dict[str, Any]:
    """The whole run: data, training, held-out numbers, and (``cfg.export``) the ONNX pair and the
    runtime's numbers. Returns (and writes as ``metrics.json``) the summary."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    prepared = prepare_data(cfg, log)
    if cfg.reuse is not None:
        result = reuse_checkpoint(cfg.reuse)
    else:
        result = train_vae(cfg, prepared, log)
    metrics, decoder_extra = held_out_metrics(cfg, prepared, result.model, log)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    settings["extra_audio"] = [str(p) for p in cfg.extra_audio]
    training = {
        "data": prepared.info,
        "epochs": cfg.epochs,
        "metrics": {k: metrics[k] for k in ("recon_rmse_db", "pca_rmse_db", "active_units")},
    }
    encoder_spec, decoder_spec = build_specs(cfg, prepared, result.model, training, decoder_extra)
    save_checkpoint(
        cfg.out / "best.pt",
        result.model,
        encoder_spec,
        epoch=result.best_epoch,
        metrics=metrics,
        history=result.history,
    )
    summary: dict[str, Any] = {
        **metrics,
        "settings": settings,
        "data": prepared.info,
        "best_epoch": result.best_epoch,
        "train_seconds": round(result.seconds, 1),
        "history": result.history,
        "parameters": {
            "encoder": result.model.encoder.num_parameters(),
            "decoder": result.model.decoder.num_parameters(),
        },
    }
    if result.init is not None:
        start = result.init
        summary["init"] = {
            "checkpoint": str(cfg.init),
            "best_epoch": start.best_epoch,
            "epochs": len(start.history),
            "train_seconds": round(start.seconds, 1),
        }
    if cfg.export:
        enc_path, dec_path, reports = export_pair(result.model, encoder_spec, decoder_spec, cfg.out, cfg.name)
        for report in reports:
            print(report.summary(), file=log)
        summary["onnx"] = {
            "encoder": {"path": str(enc_path), "bytes": enc_path.stat().st_size},
            "decoder": {"path": str(dec_path), "bytes": dec_path.stat().st_size},
        }
        test_x, _ = fixed_excerpts(prepared.test, cfg.frames)
        summary["runtime"] = runtime_metrics(enc_path, test_x, seed=cfg.seed)
        summary["speed"] = speed_metrics(result.model, enc_path, dec_path)
        print(
            "latent: runtime "
            + json.dumps({k: v for k, v in summary["runtime"].items() if k != "traversal"}),
            file=log,
        )
        print(f"latent: speed {json.dumps(summary['speed'])}", file=log)
    (cfg.out / "metrics.json").write_text(json.dumps(summary, indent=2, default=str))
    if cfg.bundle:
        from musicedge.models import MODELS_DIR

        for path in (enc_path, dec_path):
            shutil.copyfile(path, MODELS_DIR / path.name)
        compare = [json.loads(Path(p).read_text()) for p in cfg.compare]
        write_card(summary, MODELS_DIR / f"{cfg.name}.md", compare)
    return summary


# ---------------------------------------------------------------------------------------------------
# The model card


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _per_descriptor(m: dict[str, Any]) -> str:
    """``loudness_db 0.92 (40), ...`` from an :func:`~musicedge.latent.interpolation_monotonicity`
    result: each descriptor's mean over the paths where it changes (a constant one is left out)."""
    parts = []
    for name, value in m["spearman_per_descriptor"].items():
        n = m["n_per_descriptor"][name]
        parts.append(f"{name} {value:.3f} ({n})" if n else f"{name}: constant on every path, left out")
    return "; ".join(parts)


def write_card(summary: dict[str, Any], path: Path, compare: list[dict[str, Any]] | None = None) -> Path:
    """The bundled model's card from a run's measured summary (and other runs to compare with)."""
    s = summary
    settings, data, runtime, speed = s["settings"], s["data"], s.get("runtime", {}), s.get("speed", {})
    dim = s["latent_dim"]
    lines = [
        f"# `{settings['name']}`: a latent space over {settings['frames']}-frame log-mel excerpts",
        "",
        "Two files, `latent-encoder.onnx` (`latent_encoder`: log-mel excerpt -> posterior mean and "
        "log-variance)",
        "and `latent-decoder.onnx` (`latent_decoder`: latent vector -> log-mel excerpt in dB), sharing one",
        f"frontend (`gtzan22k` with {settings['n_mels']} mel bands: 22 050 Hz, n_fft 2048, hop 512) and a "
        "latent",
        f"size of {dim}. Excerpts are {settings['frames']} frames "
        f"({settings['frames'] * 512 / 22050:.2f} s), cropped, never padded. Run time: "
        "`musicedge.latent.LatentModel`,",
        "`musicedge latent interpolate | tweak | explain` (see `docs/latent.md`).",
        "",
        "## Model",
        "",
        "A VAE (`training/models/vae.py`): encoder = ResNet-style CNN (strided stem, residual stages of "
        "widths "
        f"{settings['widths']}) -> bidirectional GRU ({settings['rnn']} per direction) over the remaining "
        "time steps "
        "-> mean over time -> mu, log sigma^2, plus a linear path from the standardised mel to mu; decoder = "
        "the "
        "inverse (linear map to the time steps, bidirectional GRU, linear map to the last feature map, "
        "upsampling residual stages, a transposed convolution) plus a linear path from z. "
        f"Input channels: {settings['channels']}. Parameters: encoder {s['parameters']['encoder']:,}, "
        "decoder "
        f"{s['parameters']['decoder']:,}; files {s['onnx']['encoder']['bytes'] / 1024:.0f} KiB and "
        f"{s['onnx']['decoder']['bytes'] / 1024:.0f} KiB.",
        "",
        f"Training: {settings['epochs']} epochs x {settings['steps_per_epoch']} steps of "
        f"{settings['batch_size']} "
        f"random crops (AdamW, one-cycle lr {settings['lr']}), Gaussian likelihood "
        + (
            "on dB (one scale for every bin), "
            if settings.get("loss", "db") == "db"
            else "in each band's own standard units, "
        )
        + f"KL weight beta = {settings['beta']} annealed linearly from 0 over {settings['anneal_epochs']} "
        "epochs, "
        f"free bits {settings['free_bits']} nats per dimension; augmentations (seed 002): colour jitter "
        "(level +-6 dB, contrast +-20 %, input and target), Gaussian blur (p 0.3) and random erasing (p 0.3) "
        "on "
        f"the input only. Best validation epoch: {s['best_epoch']} of {settings['epochs']} "
        f"({s['train_seconds'] / 60:.0f} min on 1 CPU thread of a shared 2-core machine)."
        + (
            " `--pca-init`: the linear paths are the PCA (in dB) of 2048 training crops, kept fixed; "
            "the deep paths' last layers start at zero, so training starts at PCA's reconstruction and the "
            "CNN and GRU learn what it misses."
            if settings.get("pca_init")
            else ""
        )
        + (
            f" `--mix-weight {settings['mix_weight']:g}`: an interpolation-consistency term; at a random "
            "point on the straight line between two latents of the batch, the decoded excerpt's loudness, "
            "spectral centroid and bass ratio should lie as far between those of the two decoded ends "
            "(a decoder linear in dB makes them dip half way)."
            if settings.get("mix_weight")
            else ""
        ),
        "",
        "## Data (all generated or free; nothing downloaded)",
        "",
        f"- training: {data['n_tracks']['train'] - data['n_extra_files']} tracks of the generated corpus "
        "(`python -m training corpus --layout gtzan --tracks 200 --seconds 30 --seed 0`, rendered by "
        "fluidsynth "
        f"with TimGM6mb; 10 styles), {data['n_tracks']['valid']} more for validation, plus "
        f"{data['n_extra_files']} real recordings, the first {data['extra_seconds_per_file']:g} s of each: "
        "Debian's Wesnoth game music (`/usr/share/games/wesnoth/1.16/data/core/music/`, GPL) and "
        f"`../shared/data/real/music/` (CC-licensed); {data['train_minutes']} minutes of audio in all;",
        f"- test (held out): {data['n_tracks']['test']} tracks of a second corpus (`--seed 1`, 40 tracks), "
        f"{s['n_test_excerpts']} excerpts (four per track, evenly spaced).",
        "",
        "## Measured on the held-out excerpts",
        "",
        "| measure | value |",
        "|---|---|",
        f"| reconstruction RMSE, log-mel dB (decoding mu) | **{s['recon_rmse_db']:.2f}** |",
        f"| PCA with {dim} components (fitted on {s['n_pca_train_excerpts']} training excerpts) | "
        f"{s['pca_rmse_db']:.2f} |",
        f"| the training excerpts' mean spectrogram | {s['mean_spectrogram_rmse_db']:.2f} |",
        f"| active units (variance of mu across excerpts > 0.01) | {s['active_units']} of {dim} |",
    ]
    for mode in ("linear", "slerp"):
        m = runtime.get(f"interpolation_{mode}")
        if m:
            lines.append(
                f"| interpolation ({mode}, {m['pairs']} pairs, {m['steps']} steps): mean signed Spearman of "
                "the "
                f"4 descriptors | **{m['spearman_mean']:.3f}** (pairs whose ends differ by > 0.5 sd: "
                f"{_fmt(m['spearman_mean_distinct'], 3)}, n = {m['n_distinct']}) |"
            )
            if mode == "linear":
                lines.append(
                    f"| the same, per descriptor (paths where it changes at all) | {_per_descriptor(m)} |"
                )
                every = runtime.get("interpolation_linear_all_excerpts")
                if every:
                    lines.append(
                        f"| interpolation (linear) over every held-out excerpt, {every['pairings']} random "
                        f"pairings of {every['pairs']} pairs | **{every['spearman_mean']:.3f}** (pairings "
                        f"{', '.join(f'{v:.3f}' for v in every['spearman_means'])}) |"
                    )
    strong = runtime.get("dims_with_strong_descriptor", [])
    lines.append(
        f"| dimensions whose traversal moves one descriptor with mean \\|r\\| >= 0.8 | **{len(strong)}** |"
    )
    lines.append(
        f"| style probe (logistic regression on mu), test accuracy | {_fmt(s['probe_style_test_accuracy'])} |"
    )
    lines.append(
        f"| tempo probe (ridge on mu), test MAE / R^2 | {_fmt(s['probe_tempo_test_mae_bpm'], 1)} BPM / "
        f"{_fmt(s['probe_tempo_test_r2'])} |"
    )
    for part in ("encoder", "decoder"):
        if part in speed:
            p = speed[part]
            lines.append(
                f"| {part}, batch 1, one thread: ONNX Runtime / PyTorch eager | {p['onnxruntime_ms']:.2f} ms "
                "/ "
                f"{p['torch_eager_ms']:.2f} ms = **{p['ratio']:.1f}x** |"
            )
    if "to_audio" in speed:
        t = speed["to_audio"]
        lines.append(
            f"| `to_audio` (NNLS + 32 fast Griffin-Lim iterations) on {t['seconds_of_audio']:.2f} s: CPU "
            "time of a single-threaded process (numpy's BLAS on one thread) | "
            f"{t['cpu_seconds'] * 1000:.0f} ms = **{t['times_real_time']:.0f}x real time** "
            f"(wall {t['wall_seconds'] * 1000:.0f} ms on the shared machine) |"
        )
    if compare:
        lines += [
            "",
            "### This model beside other runs",
            "",
            "Same data and held-out excerpts; the decoder reconstructs the first channel in every run; PCA "
            "has as many components as the run has latent dimensions:",
            "",
            "| run | latent dims | channels | epochs | epoch kept | seed | init | loss | mix weight | "
            "recon RMSE dB | PCA dB | interpolation Spearman, 40 pairs | every excerpt | "
            "dims \\|r\\| >= 0.8 |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for label, other in [("this model", s)] + [(f"comparison {k}", o) for k, o in enumerate(compare, 1)]:
            o_run, o_set = other.get("runtime", {}), other["settings"]
            lines.append(
                f"| {label} | {other['latent_dim']} | {o_set['channels']} | {o_set['epochs']} | "
                f"{other['best_epoch']} (`--keep {o_set.get('keep', 'best')}`) | {o_set.get('seed', 0)} | "
                f"{'PCA' if o_set.get('pca_init') else 'random'} | {o_set.get('loss', 'db')} | "
                f"{o_set.get('mix_weight', 0.0):g} | "
                f"{other['recon_rmse_db']:.3f} | {other['pca_rmse_db']:.3f} | "
                f"{_fmt(o_run.get('interpolation_linear', {}).get('spearman_mean'), 3)} | "
                f"{_fmt(o_run.get('interpolation_linear_all_excerpts', {}).get('spearman_mean'), 3)} | "
                f"{len(o_run.get('dims_with_strong_descriptor', []))} |"
            )
    if strong:
        lines += [
            "",
            "## Named dimensions",
            "",
            "Each dimension swept over the training latents' mean +- 2 sd from 8 held-out excerpts; r is",
            "the mean correlation between the dimension's value and the decoded excerpt's descriptor, the",
            "change is over the whole sweep (and in training standard deviations of that descriptor):",
            "",
        ]
        for d in strong:
            style = d.get("style") or ["-", None]
            lines.append(
                f"- dim {d['dim']}: **{d['descriptor']}** (r {d['r']:+.2f}, change {d['change']:+.3g} = "
                f"{d['change_sd']:.2f} sd); style probe rising most: {style[0]} {_fmt(style[1])}; "
                f"tempo probe {_fmt(d.get('tempo_change_bpm'), 1)} BPM"
            )
    lines += [
        "",
        "## Limits",
        "",
        "- Trained on generated music (General MIDI instruments) and "
        f"{data['n_extra_files']} real recordings (mostly game",
        "  music): a recording is encoded, but its decoded excerpt keeps only the coarse picture (level and",
        "  spectral balance), not its notes nor most of its onsets: the held-out excerpts have "
        f"{s['onset_density_excerpts']:.2f} onsets a",
        f"  second, their reconstructions {s['onset_density_reconstructions']:.2f}, so onset density rarely "
        "changes along an",
        "  interpolation (a path where it stays constant is left out of the Spearman mean).",
        "- The decoded mel is smooth; audio from it (Griffin-Lim, no neural vocoder) sounds phasey.",
        "- Descriptors are measured on decoded excerpts; the style and tempo columns of `explain` come from",
        "  linear probes on the latent of the decoded excerpt, encoded again.",
        "",
        "Reproduce: see `docs/latent.md` (commands and the numbers of each run).",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def speed_main(argv: list[str] | None = None) -> int:
    """``python -m training.tasks.latent RUN_DIR``: measure a finished run's speed again (ONNX Runtime
    against PyTorch eager, batch 1, one thread; ``to_audio`` against real time) and print it as JSON.
    Pin it to one core for the figures: ``taskset -c 0 env OPENBLAS_NUM_THREADS=1 python -m ...``."""
    parser = argparse.ArgumentParser(prog="python -m training.tasks.latent", description=speed_main.__doc__)
    parser.add_argument("run_dir", type=Path, help="a run folder with best.pt and the two ONNX files")
    parser.add_argument("--name", default="latent")
    parser.add_argument("--repeats", type=positive_int, default=100)
    args = parser.parse_args(argv)
    result = reuse_checkpoint(args.run_dir / "best.pt")
    enc, dec = args.run_dir / f"{args.name}-encoder.onnx", args.run_dir / f"{args.name}-decoder.onnx"
    print(json.dumps(speed_metrics(result.model, enc, dec, repeats=args.repeats), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(speed_main())
