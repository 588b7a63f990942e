"""``python -m training fingerprint``: self-supervised training of the neural audio fingerprint model.

    python -m training fingerprint --data CORPUS [--extra-audio DIR ...] --out RUN_DIR \\
        [--epochs N] [--steps S] [--batch B] [--export MODEL.onnx]

No labels: every training example is a pair (a clean window of a track, a degraded copy of the same
moment: :class:`training.degrade.Degrader`, cut at a small time shift), and the loss is NT-Xent with
in-batch negatives (:func:`training.models.fingerprint.info_nce`). The audio (``--data``: a retrieval
layout, whose ``train`` origins train and ``valid`` origins validate, or any folder of audio;
``--extra-audio``: more folders, every ``--extra-holdout``-th file of which is kept out of training) is
decoded once at the model's sample rate and cached as ``.npy`` beside the run. Mel frames are computed
by the torch twin of the runtime frontend, windows cut on the runtime's frame grid.

Validation: top-1 of degraded windows of the validation tracks among their clean windows (every
other validation window a distractor). After training the matcher's acceptance rule is calibrated
(:func:`calibrate_rule`: the runtime's own matcher on torch embeddings, a library of the training
tracks, clips of the held-out and validation tracks as negatives) and stored in the model
(``musicedge.extra.match_rule``, a :class:`musicedge.fingerprint.MatchRule`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from musicedge.audio import find_audio, load
from musicedge.config import FrontendConfig
from musicedge.errors import MusicEdgeError, ParameterError
from musicedge.fingerprint import SILENT_DB, MatchConfig, match_embeddings
from musicedge.spec import ModelSpec

from ..argtypes import config_from_args
from ..checkpoint import save_checkpoint
from ..degrade import Degrader
from ..features import TorchMelFrontend
from ..loop import resolve_device, seed_everything
from ..models.fingerprint import FingerprintNet, info_nce

#: The fingerprint frontend: 8 kHz, 64 ms window, 64 frames per second (hop 125 samples), 64 mel
#: bands over 300-4000 Hz, dB. One 64-frame window is exactly 1 s; the library hop, 32 frames, 0.5 s.
FRONTEND = FrontendConfig(
    sample_rate=8000, n_fft=512, hop_length=125, n_mels=64, fmin=300.0, fmax=4000.0, log="db"
)
WINDOW_FRAMES = 64
HOP_FRAMES = 32
QUERY_HOP_FRAMES = 8


@dataclass
class FingerprintConfig:
    data: str
    out: str
    extra_audio: list[str] = field(default_factory=list)
    extra_holdout: int = 4
    epochs: int = 6
    steps: int = 150
    batch: int = 256
    lr: float = 2e-3
    temperature: float = 0.05
    dim: int = 64
    channels: tuple[int, ...] = (8, 16, 32, 64, 128)
    max_shift_s: float = 0.07
    max_seconds: float = 0.0  # per file, 0: whole files
    val_windows: int = 1024
    seed: int = 0
    threads: int = 2
    device: str = "cpu"
    model_name: str = "fingerprint"
    model_version: str = "1"
    export: str | None = None
    cache: str | None = None
    tonal_noise: bool = False


@dataclass
class AudioSet:
    """Decoded tracks at the model's rate: ``names[i]`` and ``audio[i]`` (float32, 1-D)."""

    names: list[str]
    audio: list[np.ndarray]

    @property
    def seconds(self) -> float:
        return sum(len(a) for a in self.audio) / FRONTEND.sample_rate


def split_files(cfg: FingerprintConfig) -> tuple[list[Path], list[Path], list[Path]]:
    """(train, valid, held-out) audio files: a retrieval layout's train and valid origins (or a plain
    folder, validated on every tenth file), and the extra folders with every ``extra_holdout``-th file
    held out."""
    root = Path(cfg.data)
    if not root.is_dir():
        raise ParameterError(f"--data {root}: no such folder")
    if (root / "train" / "origin").is_dir():
        train = find_audio([root / "train" / "origin"])
        valid = find_audio([root / "valid" / "origin"]) if (root / "valid" / "origin").is_dir() else []
    else:
        files = find_audio([root])
        valid = files[9::10]
        train = [f for f in files if f not in set(valid)]
    held: list[Path] = []
    for folder in cfg.extra_audio:
        if not Path(folder).is_dir():
            raise ParameterError(f"--extra-audio {folder}: no such folder")
        files = find_audio([folder])
        n = cfg.extra_holdout
        held += [f for i, f in enumerate(files) if n > 0 and i % n == n - 1]
        train += [f for i, f in enumerate(files) if not (n > 0 and i % n == n - 1)]
    if not train:
        raise ParameterError(f"no training audio in {cfg.data} {' '.join(cfg.extra_audio)}")
    if not valid:
        valid = held or train[-max(1, len(train) // 10) :]
    return train, valid, held


def decode_all(files: list[Path], cache: Path, max_seconds: float = 0.0) -> AudioSet:
    """Decode each file at the frontend's rate once; later runs read the cached ``.npy``."""
    cache.mkdir(parents=True, exist_ok=True)
    names, audio = [], []
    for path in files:
        st = path.stat()
        key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
        cached = cache / f"{key}.npy"
        if cached.exists():
            y = np.load(cached)
        else:
            try:
                y, _ = load(path, sr=FRONTEND.sample_rate)
            except MusicEdgeError as exc:
                print(f"skipping {path}: {exc}", file=sys.stderr)
                continue
            np.save(cached, y.astype(np.float32))
        if max_seconds > 0:
            y = y[: int(max_seconds * FRONTEND.sample_rate)]
        if len(y) >= 2 * FRONTEND.sample_rate:
            names.append(str(path))
            audio.append(np.ascontiguousarray(y, dtype=np.float32))
    return AudioSet(names, audio)


# -- batches -------------------------------------------------------------------------------------------

HOP = FRONTEND.hop_length
SPAN = (WINDOW_FRAMES - 1) * HOP + FRONTEND.n_fft  # samples under one window's frames (center=False)
PRE = FRONTEND.n_fft // 2  # a frame centred at sample c covers [c - PRE, c - PRE + n_fft)
CONTEXT = FRONTEND.sample_rate // 2  # audio before a degraded window, for the reverb tail


class PairSampler:
    """Random (clean, degraded) window pairs from an :class:`AudioSet`, as mel ``(B, 1, M, W)`` each."""

    def __init__(self, data: AudioSet, cfg: FingerprintConfig, generator: torch.Generator) -> None:
        self.data = data
        self.generator = generator
        self.degrader = Degrader(FRONTEND.sample_rate, tonal=cfg.tonal_noise)
        self.max_shift = int(cfg.max_shift_s * FRONTEND.sample_rate)
        self.mel = TorchMelFrontend(FRONTEND.replace(center=False))
        lengths = np.array([len(a) for a in data.audio], dtype=np.float64)
        self.weights = torch.from_numpy(lengths / lengths.sum())
        self.margin = CONTEXT + self.max_shift + PRE

    def _starts(self, n: int) -> list[tuple[int, int]]:
        picks = []
        while len(picks) < n:
            t = int(torch.multinomial(self.weights, 1, generator=self.generator))
            y = self.data.audio[t]
            room = len(y) - SPAN - 2 * self.margin
            if room <= 0:
                continue
            s = self.margin + int(torch.randint(room, (1,), generator=self.generator))
            if np.sqrt(np.mean(np.square(y[s : s + SPAN]))) < 1e-3:  # silence teaches nothing
                continue
            picks.append((t, s))
        return picks

    def clean_and_degraded(
        self, picks: list[tuple[int, int]], degrade: bool = True
    ) -> tuple[torch.Tensor, ...]:
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (len(picks),), generator=self.generator)
        clean = torch.stack([torch.from_numpy(self.data.audio[t][s : s + SPAN]) for t, s in picks])
        long = torch.stack(
            [
                torch.from_numpy(self.data.audio[t][s + int(d) - CONTEXT : s + int(d) + SPAN])
                for (t, s), d in zip(picks, shifts, strict=True)
            ]
        )
        degraded = self.degrader(long, self.generator)[:, CONTEXT:] if degrade else long[:, CONTEXT:]
        return self.to_mel(clean), self.to_mel(degraded)

    def to_mel(self, wave: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.mel(wave)[:, :, :WINDOW_FRAMES].unsqueeze(1).contiguous()

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.clean_and_degraded(self._starts(n))


def embed(model: FingerprintNet, mel: torch.Tensor, batch: int = 512) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(mel[i : i + batch]) for i in range(0, len(mel), batch)]).numpy()


def validation_top1(model: FingerprintNet, clean: torch.Tensor, degraded: torch.Tensor) -> float:
    a, b = embed(model, clean), embed(model, degraded)
    return float(np.mean(np.argmax(b @ a.T, axis=1) == np.arange(len(a))))


# -- whole-track embeddings and threshold calibration ---------------------------------------------------


def track_mel(y: np.ndarray) -> torch.Tensor:
    """The runtime's frames of a whole track (centred framing) as ``(n_mels, n_frames)``."""
    from musicedge.frontend import MelFrontend

    return torch.from_numpy(MelFrontend(FRONTEND).compute(y))


def windows_of(frames: torch.Tensor, hop: int) -> torch.Tensor:
    """``(n, 1, M, W)`` windows every ``hop`` frames (whole windows only; at least one, floor-padded)."""
    if frames.shape[1] < WINDOW_FRAMES:
        pad = torch.full((frames.shape[0], WINDOW_FRAMES - frames.shape[1]), -100.0)
        frames = torch.cat([frames, pad], dim=1)
    return frames.unfold(1, WINDOW_FRAMES, hop).permute(1, 0, 2).unsqueeze(1).contiguous()


#: Query lengths of the calibration clips (seconds): the rule gets one point per length.
CALIBRATION_SECONDS = (2.0, 3.0, 5.0, 10.0)
#: Margin weights tried; the one accepting the most positives is kept.
MARGIN_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def fit_rule(negatives: list[tuple[float, float, int, float]], margin_weight: float, slack: float = 0.01):
    """The :class:`MatchRule` that accepts no negative: for each query length, the point (median
    ``m``, the highest ``score + margin_weight * (score - runner_up)`` of that length's negatives +
    ``slack``), made never to rise as ``m`` grows. ``negatives``: ``(seconds, score, m, runner_up)``."""
    from musicedge.fingerprint import MatchRule

    points = []
    for seconds in sorted({n[0] for n in negatives}):
        rows = np.array([n[1:] for n in negatives if n[0] == seconds], dtype=np.float64)
        value = rows[:, 0] + margin_weight * (rows[:, 0] - rows[:, 2])
        points.append((float(np.median(rows[:, 1])), float(value.max()) + slack))
    points.sort()
    for i in range(len(points) - 2, -1, -1):  # a shorter query never needs less than a longer one
        points[i] = (points[i][0], max(points[i][1], points[i + 1][1]))
    merged: dict[float, float] = {}
    for m, t in points:
        merged[m] = max(t, merged.get(m, t))
    return MatchRule(margin_weight, tuple((m, round(t, 4)) for m, t in sorted(merged.items())))


def calibrate_rule(
    model: FingerprintNet, library: AudioSet, outside: AudioSet, seed: int, clips: int = 3
) -> dict:
    """Fit the runtime matcher's acceptance rule (:class:`musicedge.fingerprint.MatchRule`).

    ``library`` is indexed (torch embeddings, the runtime's matcher); clips of 2, 3, 5 and 10 s of
    ``outside`` (audio in no library: clean and at 10 dB SNR, ``clips`` of each per track) give the
    negatives, noisy clips of ``library`` (2 and 10 s at 10 and 0 dB) the positives. For each margin
    weight the rule is the tightest that accepts none of the negatives at any length
    (:func:`fit_rule`); the weight kept is the one that accepts the most positives. Returns the rule
    (``rule``, JSON) with the counts and acceptance rates."""
    from training.degrade import degrade_query

    rng = np.random.default_rng(seed)
    vectors = [embed(model, windows_of(track_mel(y), HOP_FRAMES)) for y in library.audio]
    vectors_all = np.concatenate(vectors)
    owner_all = np.concatenate([np.full(len(v), t) for t, v in enumerate(vectors)])
    window_all = np.concatenate([np.arange(len(v)) for v in vectors])
    config = MatchConfig(
        window_frames=WINDOW_FRAMES, hop_frames=HOP_FRAMES, query_hop_frames=QUERY_HOP_FRAMES, threshold=-2.0
    )

    def best(y: np.ndarray) -> tuple[int, float, int, float]:
        """(track, score, m, runner-up score) of the query's best candidate."""
        frames = track_mel(y)
        windows = windows_of(frames, QUERY_HOP_FRAMES)
        q = embed(model, windows)
        usable = windows.flatten(1).amax(dim=1).numpy() >= SILENT_DB
        sims = q @ vectors_all.T
        k = min(config.neighbours, sims.shape[1])
        ids = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        matches = match_embeddings(
            q,
            usable,
            np.take_along_axis(sims, ids, axis=1),
            owner_all[ids],
            window_all[ids],
            lambda t: len(vectors[t]),
            lambda t, first, n: vectors[t][first : first + n],
            config,
            top_k=2,
        )
        if not matches:
            return -1, 0.0, 1, 0.0
        runner_up = matches[1][2] if len(matches) > 1 else 0.0
        return matches[0][0], matches[0][2], matches[0][3], runner_up

    sr = FRONTEND.sample_rate
    negatives, positives = [], []
    for y in outside.audio:
        for seconds in CALIBRATION_SECONDS:
            n = int(seconds * sr)
            for snr in (None, 10.0):
                for _ in range(clips if len(y) > n else 0):
                    s = int(rng.integers(len(y) - n))
                    _, score, m, runner_up = best(degrade_query(y[s : s + n], snr, None, rng))
                    negatives.append((seconds, score, m, runner_up))
    for t in rng.permutation(len(library.audio))[:40]:
        y = library.audio[t]
        for seconds, snr in ((2.0, 10.0), (2.0, 0.0), (10.0, 10.0), (10.0, 0.0)):
            n = int(seconds * sr)
            if len(y) > n:
                s = int(rng.integers(len(y) - n))
                track, score, m, runner_up = best(degrade_query(y[s : s + n], snr, None, rng))
                positives.append((score if track == t else -np.inf, m, runner_up))
    negatives = negatives or [(CALIBRATION_SECONDS[0], 0.0, 1, 0.0)]
    acceptance = {}
    for weight in MARGIN_WEIGHTS:
        rule = fit_rule(negatives, weight)
        acceptance[weight] = float(np.mean([rule.accepts(s, r, m) for s, m, r in positives] or [0.0]))
    weight = max(MARGIN_WEIGHTS, key=lambda w: (acceptance[w], -w))
    rule = fit_rule(negatives, weight)
    return {
        "rule": rule.to_json(),
        "negatives": len(negatives),
        "positives": len(positives),
        "positive_acceptance": acceptance[weight],
        "positive_acceptance_by_margin_weight": {str(w): round(a, 4) for w, a in acceptance.items()},
    }


def write_synthetic_tracks(
    folder: str | Path, n: int = 6, seconds: float = 20.0, seed: int = 0
) -> list[Path]:
    """``n`` distinct note sequences (harmonic tones with decays and noise hits) as 8 kHz PCM16 wav files:
    music-like audio in seconds, for tests and smoke runs where the corpus generator is too slow."""
    import soundfile as sf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sr = FRONTEND.sample_rate
    paths = []
    for k in range(n):
        rng = np.random.default_rng([seed, k])
        y = np.zeros(int(seconds * sr), np.float32)
        t = 0
        while t < len(y):
            dur = int(rng.uniform(0.08, 0.4) * sr)
            f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
            tt = np.arange(dur) / sr
            note = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 6) if f0 * h < sr / 2)
            note = note * np.exp(-tt * rng.uniform(2, 12))
            if rng.random() < 0.3:
                note = note + rng.standard_normal(dur) * np.exp(-tt * 40)
            end = min(len(y), t + dur)
            y[t:end] += 0.2 * note[: end - t]
            t += int(dur * rng.uniform(0.5, 1.0))
        path = folder / f"synthetic_{seed}_{k:02d}.wav"
        sf.write(path, np.clip(y, -1, 1), sr, subtype="PCM_16")
        paths.append(path)
    return paths


# -- the re-ranker (second stage) -----------------------------------------------------------------------


def _aligned(query: np.ndarray, library: np.ndarray, offset_q: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (query window, library window) of a candidate at ``offset_q`` query hops, as the runtime
    verifier forms them: library window ``j`` with query window ``j * ratio - offset_q``."""
    ratio = HOP_FRAMES // QUERY_HOP_FRAMES
    n = len(query)
    js = [j for j in range(len(library)) if 0 <= j * ratio - offset_q < n]
    if not js:
        return np.zeros((0, query.shape[1]), np.float32), np.zeros((0, query.shape[1]), np.float32)
    return query[[j * ratio - offset_q for j in js]], library[js]


def train_reranker(
    checkpoint: str,
    cfg: FingerprintConfig,
    *,
    steps: int = 300,
    clips: int = 32,
    export: str | None = None,
) -> dict:
    """Train :class:`training.models.fingerprint.Reranker` on the fingerprints of a trained model: a
    degraded query (2-10 s, 0-20 dB) against its true aligned excerpt (label 1) and against hard
    negatives (label 0): the other track whose fingerprint is nearest the query's middle window, the
    same track 2-20 s away, and a random track."""
    from ..checkpoint import load_checkpoint
    from ..models.fingerprint import Reranker

    seed_everything(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    model, spec, _ = load_checkpoint(checkpoint)
    model.eval()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_files, valid_files, _ = split_files(cfg)
    cache = Path(cfg.cache) if cfg.cache else out / "audio-cache"
    train = decode_all(train_files, cache, cfg.max_seconds)
    library = [embed(model, windows_of(track_mel(y), HOP_FRAMES)) for y in train.audio]
    flat = np.concatenate(library)
    owner = np.concatenate([np.full(len(v), t) for t, v in enumerate(library)])
    window = np.concatenate([np.arange(len(v)) for v in library])
    generator = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    degrader = Degrader(FRONTEND.sample_rate)
    mel = TorchMelFrontend(FRONTEND)
    reranker = Reranker(dim=spec.embedding_dim)
    optimizer = torch.optim.AdamW(reranker.parameters(), lr=2e-3, weight_decay=1e-4)
    sr = FRONTEND.sample_rate
    history = []

    def examples() -> list[tuple[np.ndarray, np.ndarray, float]]:
        seconds = float(rng.choice([2.0, 3.0, 5.0, 10.0]))
        n = int(seconds * sr)
        picks = []
        while len(picks) < clips:
            t = int(rng.integers(len(train.audio)))
            y = train.audio[t]
            if len(y) < n + 2 * CONTEXT:
                continue
            s = int(rng.integers(CONTEXT, len(y) - n))
            if np.sqrt(np.mean(np.square(y[s : s + n]))) >= 1e-3:
                picks.append((t, s))
        wave = torch.stack([torch.from_numpy(train.audio[t][s - CONTEXT : s + n]) for t, s in picks])
        with torch.no_grad():
            degraded = degrader(wave, generator)[:, CONTEXT:]
            frames = mel(degraded)
        out_examples = []
        for b, (t, s) in enumerate(picks):
            q = embed(model, windows_of(frames[b], QUERY_HOP_FRAMES))
            offset_q = int(round(s / HOP / QUERY_HOP_FRAMES))
            out_examples.append((*_aligned(q, library[t], offset_q), 1.0))
            mid = q[len(q) // 2]
            sims = flat @ mid
            sims[owner == t] = -2.0
            best = int(np.argmax(sims))
            hard_q = int(window[best]) * (HOP_FRAMES // QUERY_HOP_FRAMES) - len(q) // 2
            out_examples.append((*_aligned(q, library[int(owner[best])], hard_q), 0.0))
            shift = int(rng.integers(2, 20) * sr / HOP / QUERY_HOP_FRAMES) * int(rng.choice([-1, 1]))
            out_examples.append((*_aligned(q, library[t], offset_q + shift), 0.0))
            other = int(rng.integers(len(library)))
            if other != t and len(library[other]) > 2:
                start = int(rng.integers(0, max(1, len(library[other]) * 4 - len(q))))
                out_examples.append((*_aligned(q, library[other], start), 0.0))
        return [e for e in out_examples if len(e[0]) >= 1]

    def batch(items: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        length = max(len(e[0]) for e in items)
        q = torch.zeros(len(items), length, spec.embedding_dim)
        c = torch.zeros(len(items), length, spec.embedding_dim)
        for i, (qq, cc, _) in enumerate(items):
            q[i, : len(qq)] = torch.from_numpy(qq)
            c[i, : len(cc)] = torch.from_numpy(cc)
        return q, c, torch.tensor([e[2] for e in items])

    started = time.perf_counter()
    for step in range(1, steps + 1):
        items = examples()
        # one length per batch: the shortest of the clip set (the re-ranker sees any length)
        length = min(len(e[0]) for e in items)
        items = [(q[:length], c[:length], y) for q, c, y in items]
        q, c, y = batch(items)
        reranker.train()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(reranker(q, c), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 50 == 0 or step == steps:
            history.append({"step": step, "loss": loss.item()})
            print(f"re-ranker step {step}/{steps}: loss {loss.item():.4f}", file=sys.stderr)
    reranker.eval()
    rerank_spec = ModelSpec(
        task="fingerprint",
        frontend=FRONTEND,
        window_frames=WINDOW_FRAMES,
        hop_frames=HOP_FRAMES,
        model_name=f"{spec.model_name}-rerank",
        model_version=spec.model_version,
        embedding_dim=spec.embedding_dim,
        training={"data": spec.training.get("data", {}), "epochs": steps, "metrics": {"history": history}},
        extra={"role": "reranker", "query_hop_frames": str(QUERY_HOP_FRAMES)},
    )
    save_checkpoint(out / "rerank.pt", reranker, rerank_spec, epoch=steps, history=history)
    summary = {"steps": steps, "history": history, "seconds": round(time.perf_counter() - started, 1)}
    if export:
        from export.onnx_export import export_model

        print(export_model(reranker, rerank_spec, export).summary(), file=sys.stderr)
        summary["onnx"] = export
    return summary


# -- training -------------------------------------------------------------------------------------------


def weights_hash(model: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:10]


def train_fingerprint(cfg: FingerprintConfig) -> dict:
    seed_everything(cfg.seed)
    torch.set_num_threads(max(1, cfg.threads))
    device = resolve_device(cfg.device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cfg.cache) if cfg.cache else out / "audio-cache"
    started = time.perf_counter()
    train_files, valid_files, held_files = split_files(cfg)
    train = decode_all(train_files, cache, cfg.max_seconds)
    valid = decode_all(valid_files, cache, cfg.max_seconds)
    held = decode_all(held_files, cache, cfg.max_seconds) if held_files else AudioSet([], [])
    print(
        f"audio: train {len(train.names)} files ({train.seconds / 60:.1f} min), valid {len(valid.names)} "
        f"({valid.seconds / 60:.1f} min), held out {len(held.names)} ({time.perf_counter() - started:.0f} s)",
        file=sys.stderr,
    )
    generator = torch.Generator().manual_seed(cfg.seed)
    sampler = PairSampler(train, cfg, generator)
    val_sampler = PairSampler(valid, cfg, torch.Generator().manual_seed(cfg.seed + 1))
    val_clean, val_degraded = val_sampler.batch(cfg.val_windows)

    model = FingerprintNet(
        n_mels=FRONTEND.n_mels, window=WINDOW_FRAMES, dim=cfg.dim, channels=list(cfg.channels)
    ).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    total = cfg.epochs * cfg.steps
    warmup = max(1, total // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(step, total) / total)),
    )
    history = []
    best, best_state = -1.0, None
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        losses = []
        t0 = time.perf_counter()
        for _ in range(cfg.steps):
            clean, degraded = sampler.batch(cfg.batch)
            loss = info_nce(model(clean.to(device)), model(degraded.to(device)), cfg.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
        top1 = validation_top1(model.cpu(), val_clean, val_degraded)
        model.to(device)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_top1": top1})
        print(
            f"epoch {epoch}/{cfg.epochs}: loss {np.mean(losses):.4f}  val top-1 {top1:.4f}  "
            f"({time.perf_counter() - t0:.0f} s)",
            file=sys.stderr,
        )
        if top1 >= best:
            best, best_state = top1, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.cpu().eval()

    # Calibrated against a library of the training tracks; the held-out and validation tracks are in it
    # nowhere, so their clips are the negatives.
    outside = AudioSet(held.names + valid.names, held.audio + valid.audio)
    calibration = calibrate_rule(model, train, outside, cfg.seed)
    print(f"match rule calibration: {calibration}", file=sys.stderr)
    version = f"{cfg.model_version}+{weights_hash(model)}"
    spec = ModelSpec(
        task="fingerprint",
        frontend=FRONTEND,
        window_frames=WINDOW_FRAMES,
        hop_frames=HOP_FRAMES,
        model_name=cfg.model_name,
        model_version=version,
        embedding_dim=cfg.dim,
        training={
            "data": {
                "corpus": str(cfg.data),
                "extra_audio": [str(p) for p in cfg.extra_audio],
                "train_files": len(train.names),
                "train_minutes": round(train.seconds / 60, 1),
                "held_out_files": [Path(n).name for n in held.names],
            },
            "epochs": cfg.epochs,
            "steps_per_epoch": cfg.steps,
            "batch": cfg.batch,
            "metrics": {"val_top1": best, "calibration": calibration},
            "seconds": round(time.perf_counter() - started, 1),
        },
        extra={
            "query_hop_frames": str(QUERY_HOP_FRAMES),
            "match_rule": calibration["rule"],
        },
    )
    checkpoint = save_checkpoint(
        out / "best.pt", model, spec, epoch=cfg.epochs, metrics={"val_top1": best}, history=history
    )
    summary = {
        "checkpoint": str(checkpoint),
        "model_version": version,
        "val_top1": best,
        "calibration": calibration,
        "history": history,
        "seconds": round(time.perf_counter() - started, 1),
    }
    if cfg.export:
        from export.onnx_export import export_model

        calibration_files = [str(p) for p in (valid_files[:2] or train_files[:2])]
        report = export_model(model, spec, cfg.export, calibration=calibration_files)
        print(report.summary(), file=sys.stderr)
        summary["onnx"] = str(cfg.export)
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def recalibrate(checkpoint: str, cfg: FingerprintConfig) -> dict:
    """Calibrate a trained checkpoint's acceptance rule again (the data split of ``cfg``), write the
    checkpoint beside the original as ``recalibrated.pt`` and export it when ``cfg.export`` is set."""
    from ..checkpoint import load_checkpoint

    torch.set_num_threads(max(1, cfg.threads))
    model, spec, ckpt = load_checkpoint(checkpoint)
    train_files, valid_files, held_files = split_files(cfg)
    cache = Path(cfg.cache) if cfg.cache else Path(cfg.out) / "audio-cache"
    train = decode_all(train_files, cache, cfg.max_seconds)
    valid = decode_all(valid_files, cache, cfg.max_seconds)
    held = decode_all(held_files, cache, cfg.max_seconds) if held_files else AudioSet([], [])
    outside = AudioSet(held.names + valid.names, held.audio + valid.audio)
    calibration = calibrate_rule(model, train, outside, cfg.seed)
    print(f"match rule calibration: {calibration}", file=sys.stderr)
    extra = {k: v for k, v in spec.extra.items() if not k.startswith("match_")}  # earlier rules' keys
    extra["match_rule"] = calibration["rule"]
    training = dict(spec.training)
    training["metrics"] = {**training.get("metrics", {}), "calibration": calibration}
    spec = spec.replace(extra=extra, training=training)
    out = Path(cfg.out)
    save_checkpoint(
        out / "recalibrated.pt",
        model,
        spec,
        epoch=ckpt["epoch"],
        metrics=ckpt["metrics"],
        history=ckpt["history"],
    )
    summary = {"checkpoint": str(out / "recalibrated.pt"), "calibration": calibration}
    if cfg.export:
        from export.onnx_export import export_model

        report = export_model(model, spec, cfg.export, calibration=[str(p) for p in valid_files[:2]] or None)
        print(report.summary(), file=sys.stderr)
        summary["onnx"] = cfg.export
    return summary


def tiny_model(folder: str | Path, *, seed: int = 0) -> tuple[Path, list[Path]]:
    """A tiny fingerprint model trained in seconds on :func:`write_synthetic_tracks` (for tests), exported
    to ``folder/tiny.onnx``; reused when already there. Returns ``(model path, the training tracks)``."""
    folder = Path(folder)
    tracks = write_synthetic_tracks(folder / "tracks", n=6, seconds=20.0, seed=seed)
    onnx_path = folder / "tiny.onnx"
    if not onnx_path.exists():
        cfg = FingerprintConfig(
            data=str(folder / "tracks"),
            out=str(folder / "run"),
            epochs=1,
            steps=6,
            batch=32,
            dim=16,
            channels=(4, 8, 16, 16, 16),
            val_windows=32,
            seed=seed,
            threads=1,
            model_name="fingerprint-tiny",
            export=str(onnx_path),
        )
        train_fingerprint(cfg)
    return onnx_path, tracks


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fingerprint",
        help="train the neural audio fingerprint model (self-supervised, contrastive)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument(
        "--data", required=True, help="a retrieval layout (train/valid origins) or a folder of audio"
    )
    p.add_argument(
        "--extra-audio", action="append", default=[], metavar="DIR", help="more audio (repeatable)"
    )
    p.add_argument("--extra-holdout", type=int, default=4, help="keep every N-th extra file out (0: none)")
    p.add_argument("--out", required=True, help="run folder (checkpoint, summary.json, audio cache)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--steps", type=int, default=150, help="steps per epoch")
    p.add_argument("--batch", type=int, default=256, help="pairs per step (in-batch negatives)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--temperature", type=float, default=0.05)
    p.add_argument("--dim", type=int, default=64, help="embedding size (<= 128)")
    p.add_argument("--channels", default="8,16,32,64,128", help="conv channels, comma-separated")
    p.add_argument("--max-seconds", type=float, default=0.0, help="use at most this much of each file")
    p.add_argument("--val-windows", type=int, default=1024)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    p.add_argument("--model-name", default="fingerprint")
    p.add_argument("--model-version", default="1", help="version prefix; a hash of the weights is added")
    p.add_argument("--cache", help="decoded-audio cache folder (default RUN_DIR/audio-cache)")
    p.add_argument(
        "--tonal-noise", action="store_true", help="also train against gliding tones (calls, sirens)"
    )
    p.add_argument("--export", metavar="MODEL.onnx", help="export the trained model (verified) here")
    p.add_argument(
        "--rerank-from",
        metavar="CHECKPOINT",
        help="instead: train the cross-attention re-ranker on this fingerprint checkpoint's embeddings "
        "(--export names the re-ranker's ONNX file; --steps counts its steps)",
    )
    p.add_argument(
        "--recalibrate",
        metavar="CHECKPOINT",
        help="instead: calibrate this checkpoint's match rule again (same data split) and export it",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        channels = tuple(int(c) for c in args.channels.split(","))
    except ValueError:
        print(
            f"error: --channels must be integers separated by commas, got {args.channels!r}", file=sys.stderr
        )
        return 2
    if not 0 < args.dim <= 128 or args.batch < 2 or args.epochs < 1 or args.steps < 1:
        print("error: need 0 < --dim <= 128, --batch >= 2, --epochs >= 1, --steps >= 1", file=sys.stderr)
        return 2
    cfg = config_from_args(FingerprintConfig, args, channels=channels)
    try:
        if args.recalibrate:
            summary = recalibrate(args.recalibrate, cfg)
        elif args.rerank_from:
            summary = train_reranker(args.rerank_from, cfg, steps=args.steps, export=args.export)
        else:
            summary = train_fingerprint(cfg)
    except MusicEdgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
    return 0
