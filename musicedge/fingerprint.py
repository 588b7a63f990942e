"""Query-by-example retrieval at run time: ``Fingerprinter`` (audio -> fingerprints) and matching.

A fingerprint model (``musicedge.task == "fingerprint"``) maps one window of ``spec.window_frames`` mel
frames (about 1 s) to an L2-normalised embedding. A track is fingerprinted every ``spec.hop_frames``
frames (the library grid); a query every ``extra.query_hop_frames`` frames, a divisor of the library
hop, so that some query window lies within half a query hop of every library window.

Matching (:func:`match_embeddings`):

1. every query window is searched (``k`` nearest library fingerprints by inner product);
2. each neighbour votes for (track, offset) with offset = library window time - query window time,
   in query hops, weighted by its similarity; votes are smoothed over neighbouring offsets;
3. the best-voted candidates are verified: each library window inside the query's span is compared
   with the query windows aligned to it and its two neighbours; the best of those similarities is
   the window's peak, and a parabola through the three refines the offset below one query hop;
4. a candidate's score is the mean peak similarity over its ``m`` library windows, its offset the
   median refined offset. A match needs ``score + margin_weight * (score - runner-up's score)`` to
   reach a threshold that falls as ``m`` grows (:class:`MatchRule`): the mean of a few windows is
   noisier than the mean of many, so a short query must score higher, and a track that stands out
   from the next best is likelier the right one. The rule is calibrated when the model is trained,
   on audio that is in no library (``extra.match_rule``), so such audio returns no match; a fixed
   ``threshold`` on the score replaces it when given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .audio import load_input
from .errors import AudioError, ModelError, ParameterError
from .frontend import FrameBatcher, MelFrontend
from .model import OnnxModel
from .models import resolve
from .windows import silence_floor

__all__ = [
    "Fingerprinter",
    "Fingerprints",
    "Match",
    "MatchConfig",
    "MatchRule",
    "Reranker",
    "match_embeddings",
]

#: A window whose loudest mel bin is this far under 0 dB is silence: never a query, never a vote.
SILENT_DB = -75.0


@dataclass(frozen=True)
class Match:
    """One library track that a query matches: ``offset_s`` is where the query starts in the track."""

    track: str
    offset_s: float
    score: float
    track_id: int = -1

    def to_dict(self) -> dict:
        return {"track": self.track, "offset_s": round(self.offset_s, 3), "score": round(self.score, 4)}


@dataclass(frozen=True)
class MatchRule:
    """When a verified candidate is a match: ``score + margin_weight * (score - runner_up)`` must reach
    :meth:`threshold` of ``m``, the library windows its score averages (``runner_up``: the best score of
    the query's other candidates, 0 when there is none).

    ``points`` are ``(m, threshold)`` pairs; between them the threshold is linear in ``1 / sqrt(m)``
    (the spread of a mean of ``m`` windows), beyond them it goes on along the nearest segment. The
    default accepts any positive score."""

    margin_weight: float = 0.0
    points: tuple[tuple[float, float], ...] = ((1.0, 0.0),)

    def __post_init__(self) -> None:
        if not self.points or any(m < 1 for m, _ in self.points):
            raise ParameterError(f"match rule points need m >= 1, got {self.points}")
        # (x = 1 / sqrt(m), threshold), by x: the line segments :meth:`threshold` reads
        object.__setattr__(self, "_by_x", tuple(sorted((1.0 / np.sqrt(pm), t) for pm, t in self.points)))

    def threshold(self, m: float) -> float:
        points = self._by_x
        if len(points) == 1:
            return float(points[0][1])
        x = 1.0 / np.sqrt(max(1.0, m))
        i = int(np.clip(np.searchsorted([px for px, _ in points], x) - 1, 0, len(points) - 2))
        (x0, y0), (x1, y1) = points[i], points[i + 1]
        return float(y0 + (x - x0) * (y1 - y0) / (x1 - x0))

    def accepts(self, score: float, runner_up: float, m: int) -> bool:
        return score + self.margin_weight * (score - runner_up) >= self.threshold(m)

    def to_json(self) -> str:
        return json.dumps({"margin_weight": self.margin_weight, "points": [list(p) for p in self.points]})

    @classmethod
    def from_spec(cls, spec, where: str = "") -> MatchRule:
        """The rule in a fingerprint model's metadata (``extra.match_rule``); the default without one."""
        text = spec.extra.get("match_rule")
        if text is None:
            return cls()
        try:
            value = json.loads(text)
            return cls(float(value["margin_weight"]), tuple((float(m), float(t)) for m, t in value["points"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{where}: musicedge.extra.match_rule is not a match rule ({exc})") from None


@dataclass(frozen=True)
class MatchConfig:
    """Matching settings in frames (``window_frames``, ``hop_frames`` of the library grid,
    ``query_hop_frames`` for queries), neighbours per query window, candidates verified, and the
    frame rate to turn frames into seconds."""

    window_frames: int
    hop_frames: int
    query_hop_frames: int
    neighbours: int = 8
    candidates: int = 12
    frame_rate: float = 64.0
    rule: MatchRule = MatchRule()
    threshold: float | None = None

    def accepts(self, score: float, runner_up: float, m: int) -> bool:
        """Whether a candidate scoring ``score`` over ``m`` library windows is a match, when the
        query's best other candidate scores ``runner_up``."""
        if self.threshold is not None:
            return score >= self.threshold
        return self.rule.accepts(score, runner_up, m)

    def __post_init__(self) -> None:
        if self.query_hop_frames < 1 or self.hop_frames % self.query_hop_frames:
            raise ParameterError(
                f"query hop ({self.query_hop_frames} frames) must divide the library hop ({self.hop_frames})"
            )
        if self.neighbours < 1 or self.candidates < 1:
            raise ParameterError("neighbours and candidates must be positive")


@dataclass(frozen=True)
class Fingerprints:
    """Embeddings ``(n, dim)`` float32 of windows starting every ``hop_frames`` frames (window ``i`` at
    frame ``i * hop_frames``); ``silent`` marks windows of silence; ``duration_s`` of the audio."""

    embeddings: np.ndarray
    hop_frames: int
    silent: np.ndarray
    duration_s: float


def _vote(
    tracks: np.ndarray, windows: np.ndarray, sims: np.ndarray, config: MatchConfig
) -> list[tuple[int, int, float]]:
    """(track, offset in query hops, votes) of the best candidates, one offset per track, best first."""
    n = tracks.shape[0]
    ratio = config.hop_frames // config.query_hop_frames
    query_pos = np.arange(n)[:, None]
    valid = (tracks >= 0) & (sims > 0)
    if not valid.any():
        return []
    t = tracks[valid].astype(np.int64)
    bins = (windows * ratio - query_pos)[valid].astype(np.int64)
    w = sims[valid].astype(np.float64)
    # One vote per (query window, track, offset): the best neighbour's similarity.
    lo = int(bins.min()) - 1
    span = int(bins.max()) - lo + 2
    keys = t * span + (bins - lo)
    order = np.lexsort((-w, keys, np.broadcast_to(query_pos, valid.shape)[valid]))
    q_sorted = np.broadcast_to(query_pos, valid.shape)[valid][order]
    k_sorted = keys[order]
    first = np.ones(len(order), bool)
    first[1:] = (q_sorted[1:] != q_sorted[:-1]) | (k_sorted[1:] != k_sorted[:-1])
    keys, w = k_sorted[first], w[order][first]
    unique, inverse = np.unique(keys, return_inverse=True)
    totals = np.bincount(inverse, weights=w)
    # Smooth over the neighbouring offsets of the same track (a true offset between two bins).
    smooth = totals.copy()
    for step in (-1, 1):
        pos = np.searchsorted(unique, unique + step)
        ok = (pos < len(unique)) & (unique[np.minimum(pos, len(unique) - 1)] == unique + step)
        smooth[ok] += 0.5 * totals[pos[ok]]
    best: dict[int, tuple[float, int]] = {}
    for idx in np.argsort(-smooth, kind="stable"):
        track = int(unique[idx] // span)
        if track not in best:
            best[track] = (float(smooth[idx]), int(unique[idx] % span) + lo)
            if len(best) >= config.candidates:
                break
    return [(track, offset, score) for track, (score, offset) in best.items()]


def _verify(
    query: np.ndarray,
    usable: np.ndarray,
    track: int,
    offset_q: int,
    n_windows: int,
    lookup: Callable[[int, int, int], np.ndarray],
    config: MatchConfig,
) -> tuple[float, float, int] | None:
    """(score, refined offset in frames, library windows compared) of ``track`` at ``offset_q`` query
    hops, or None."""
    qh, h = config.query_hop_frames, config.hop_frames
    ratio = h // qh
    n = len(query)
    # Library windows j whose aligned query window i = j * ratio - offset_q lies in [0, n).
    j_first = max(0, -(-offset_q // ratio))
    j_last = min(n_windows - 1, (n - 1 + offset_q) // ratio)
    if j_last < j_first:
        return None
    js = np.arange(j_first, j_last + 1)
    centre = js * ratio - offset_q
    keep = usable[centre]
    if not keep.any():
        return None
    js, centre = js[keep], centre[keep]
    sims = lookup(track, j_first, j_last - j_first + 1)[js - j_first] @ query.T  # (m, n)
    rows = np.arange(len(js))
    # Similarity of each library window with the aligned query window and its two neighbours.
    three = np.full((len(js), 3), -np.inf)
    for d in (-1, 0, 1):
        idx = centre + d
        ok = (idx >= 0) & (idx < n)
        ok[ok] &= usable[idx[ok]]
        three[ok, d + 1] = sims[rows[ok], idx[ok]]
    best = np.argmax(three, axis=1)
    peaks = three[rows, best]
    delta = np.zeros(len(js))
    curved = (best == 1) & np.isfinite(three).all(axis=1)
    left, mid, right = three[curved, 0], three[curved, 1], three[curved, 2]
    denom = left - 2 * mid + right
    with np.errstate(divide="ignore", invalid="ignore"):
        delta[curved] = np.where(denom < 0, np.clip(0.5 * (left - right) / denom, -0.5, 0.5), 0.0)
    offsets = js * h - (centre + best - 1 + delta) * qh
    # A query must lie mostly inside the track: half the library windows its span covers, at least.
    expected = (n - 1) * qh // h + 1
    if 2 * len(peaks) < expected:
        return None
    return float(np.mean(peaks)), float(np.median(offsets)), len(peaks)


def match_embeddings(
    query: np.ndarray,
    usable: np.ndarray,
    sims: np.ndarray,
    tracks: np.ndarray,
    windows: np.ndarray,
    n_windows: Callable[[int], int],
    lookup: Callable[[int, int, int], np.ndarray],
    config: MatchConfig,
    top_k: int = 5,
) -> list[tuple[int, float, float, int]]:
    """Rank library tracks for one query.

    Args:
        query: ``(n, dim)`` query window embeddings, window ``i`` at frame ``i * query_hop_frames``.
        usable: ``(n,)`` bool, False for silent windows (they neither vote nor verify).
        sims, tracks, windows: ``(n, k)`` the neighbours of each query window: similarity, track key
            (-1 for none) and library window number in that track.
        n_windows: a track key -> its number of library windows.
        lookup: ``(track, first, count)`` -> ``(count, dim)`` library embeddings of that track.
        config: the grid and the acceptance rule (:meth:`MatchConfig.accepts`; the runner-up of a
            candidate is the best score among the query's other verified candidates).

    Returns:
        ``[(track, offset_s, score, m), ...]`` best first, at most ``top_k``, all accepted by the
        config (``m``: the library windows the score averages).
    """
    sims = np.where(usable[:, None], sims, 0.0)
    verified = []
    for track, offset_q, _ in _vote(tracks, windows, sims, config):
        found = _verify(query, usable, track, offset_q, n_windows(track), lookup, config)
        if found is not None:
            score, offset_frames, m = found
            verified.append((track, offset_frames / config.frame_rate, score, m))
    verified.sort(key=lambda r: -r[2])
    # Best first, so the runner-up of the first is the second, and of any other the first.
    runner_ups = [verified[1][2] if len(verified) > 1 else 0.0] + [verified[0][2]] * (len(verified) - 1)
    results = [r for r, other in zip(verified, runner_ups, strict=True) if config.accepts(r[2], other, r[3])]
    return results[:top_k]


class Fingerprinter:
    """A fingerprint model, ready to turn audio into fingerprints.

    ``Fingerprinter.load("fingerprint")`` takes a bundled model's name or an ONNX file written by
    ``python -m export`` (or ``python -m training fingerprint --export``).
    """

    def __init__(self, model: OnnxModel, *, batch_size: int = 1024) -> None:
        spec = model.spec
        if spec.task != "fingerprint" or spec.extra.get("role", "embedder") != "embedder":
            kind = spec.extra.get("role") if spec.task == "fingerprint" else spec.task
            raise ModelError(f"{model.path}: a {kind!r} model, not a fingerprint model")
        if batch_size < 1:
            raise ParameterError(f"batch_size must be positive, got {batch_size}")
        self.model = model
        self.spec = spec
        self.batch_size = batch_size
        self.name = spec.model_name
        self.version = spec.model_version
        self.dim = int(spec.embedding_dim)
        self.window_frames = spec.window_frames
        self.hop_frames = spec.hop_frames
        self.query_hop_frames = spec.extra_int("query_hop_frames", spec.hop_frames)
        self.rule = MatchRule.from_spec(spec, str(model.path))
        self.frontend_config = spec.frontend
        self._floor = silence_floor(spec)
        self.match_config = MatchConfig(
            window_frames=spec.window_frames,
            hop_frames=spec.hop_frames,
            query_hop_frames=self.query_hop_frames,
            frame_rate=spec.frontend.frame_rate,
            rule=self.rule,
        )

    @classmethod
    def load(
        cls, name_or_path: str | os.PathLike, *, device: str = "auto", threads: int | None = None
    ) -> Fingerprinter:
        return cls(OnnxModel(resolve(name_or_path), device=device, threads=threads))

    @property
    def sample_rate(self) -> int:
        return self.frontend_config.sample_rate

    @property
    def window_s(self) -> float:
        return self.window_frames / self.frontend_config.frame_rate

    def decode(self, item: str | os.PathLike | np.ndarray, sr: int | None = None) -> np.ndarray:
        """Float32 mono samples at the model's rate from a path or ``(array, sr)``."""
        return load_input(item, sr, self.sample_rate)[0]

    def embed_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings ``(B, dim)`` of model-ready windows ``(B, 1, n_mels, window_frames)``, and which of
        them are silence."""
        silent = windows.reshape(len(windows), -1).max(axis=1) < SILENT_DB
        return next(iter(self.model.run({self.model.input_names[0]: windows}).values())), silent

    def embed_frames(self, frames: np.ndarray, hop_frames: int, *, pad_tail: bool) -> Fingerprints:
        """Fingerprints of mel ``frames`` ``(n_mels, n_frames)`` every ``hop_frames``; ``pad_tail``
        keeps a last, floor-padded window (library tracks), else only whole windows (queries)."""
        n_frames = frames.shape[1]
        w = self.window_frames
        if n_frames < w and not pad_tail:
            raise AudioError(
                f"clip of {n_frames / self.frontend_config.frame_rate:.2f} s is shorter than one "
                f"fingerprint window ({self.window_s:.2f} s)"
            )
        batcher = FrameBatcher(
            self.frontend_config.n_mels,
            w,
            hop_frames,
            batch_size=self.batch_size,
            tail="pad" if pad_tail else "drop",
            pad_value=self._floor,
        )
        parts, silent = [], []
        for batch, _ in batcher.batches(frames):
            embeddings, quiet = self.embed_windows(batch)
            parts.append(embeddings)
            silent.append(quiet)
        if not parts:
            raise AudioError("no whole fingerprint window in the clip")
        emb = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
        return Fingerprints(
            emb, hop_frames, np.concatenate(silent), n_frames / self.frontend_config.frame_rate
        )

    def fingerprint(
        self, item: str | os.PathLike | np.ndarray, sr: int | None = None, *, query: bool = False
    ) -> Fingerprints:
        """Fingerprints of a track (every ``hop_frames``) or, with ``query``, of a query clip (every
        ``query_hop_frames``, whole windows only: a clip shorter than one window is an AudioError)."""
        y = self.decode(item, sr)
        return self.fingerprint_samples(
            y, query=query, name=str(item) if not isinstance(item, np.ndarray) else ""
        )

    def fingerprint_samples(self, y: np.ndarray, *, query: bool = False, name: str = "") -> Fingerprints:
        frames = MelFrontend(self.frontend_config).compute(y)
        try:
            if query:
                return self.embed_frames(frames, self.query_hop_frames, pad_tail=False)
            return self.embed_frames(frames, self.hop_frames, pad_tail=True)
        except AudioError as exc:
            raise AudioError(f"{name}: {exc}" if name else str(exc)) from None

    def match(
        self,
        query: Fingerprints,
        search: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray, np.ndarray]],
        n_windows: Callable[[int], int],
        lookup: Callable[[int, int, int], np.ndarray],
        *,
        top_k: int = 5,
        threshold: float | None = None,
    ) -> list[tuple[int, float, float, int]]:
        """Rank tracks for ``query`` (see :func:`match_embeddings`); ``search(vectors, k)`` returns
        ``(sims, tracks, windows)``, each ``(n, k)``."""
        usable = ~query.silent
        if not usable.any():
            return []
        config = self.match_config
        if threshold is not None:
            config = MatchConfig(**{**config.__dict__, "threshold": float(threshold)})
        sims, tracks, windows = search(query.embeddings, config.neighbours)
        return match_embeddings(
            query.embeddings, usable, sims, tracks, windows, n_windows, lookup, config, top_k=top_k
        )


class Reranker:
    """The second stage: a cross-attention model (``extra.role == "reranker"``) that scores a query's
    fingerprint sequence against each candidate's aligned library excerpt and re-orders the candidates.
    The scores reported stay the verifier's (the threshold applies to them)."""

    def __init__(self, model: OnnxModel) -> None:
        spec = model.spec
        if spec.task != "fingerprint" or spec.extra.get("role") != "reranker":
            raise ModelError(f"{model.path}: not a fingerprint re-ranker (musicedge.extra.role)")
        self.model = model
        self.spec = spec
        self.query_hop_frames = spec.extra_int("query_hop_frames", spec.hop_frames)

    @classmethod
    def load(cls, name_or_path: str | os.PathLike, *, threads: int | None = None) -> Reranker:
        return cls(OnnxModel(resolve(name_or_path), threads=threads))

    def rerank(self, query: Fingerprints, matches: Sequence[Match], library) -> list[Match]:
        """``matches`` re-ordered by the re-ranker (``library``: the :class:`~musicedge.library.Library`
        they came from)."""
        if len(matches) < 2:
            return list(matches)
        frame_rate = self.spec.frontend.frame_rate
        ratio = self.spec.hop_frames // self.query_hop_frames
        pairs_q, pairs_c = [], []
        for m in matches:
            position = library.position(m.track_id)
            offset_q = int(round(m.offset_s * frame_rate / self.query_hop_frames))
            n_lib = library.tracks[position].n_fingerprints
            js = [j for j in range(n_lib) if 0 <= j * ratio - offset_q < len(query.embeddings)]
            if not js:
                pairs_q.append(np.zeros((0, query.embeddings.shape[1]), np.float32))
                pairs_c.append(pairs_q[-1])
                continue
            pairs_q.append(query.embeddings[[j * ratio - offset_q for j in js]])
            pairs_c.append(library.vectors(position, js[0], len(js)))
        length = min(len(p) for p in pairs_q)
        if length == 0:
            return list(matches)
        q = np.stack([p[:length] for p in pairs_q]).astype(np.float32)
        c = np.stack([p[:length] for p in pairs_c]).astype(np.float32)
        logits = next(iter(self.model.run({"query": q, "candidate": c}).values())).reshape(-1)
        return [matches[i] for i in np.argsort(-logits, kind="stable")]
