"""A latent space over short excerpts at run time: ``LatentModel``, two ONNX files (encoder, decoder).

An excerpt is ``spec.window_frames`` frames of log-mel (2.97 s for the bundled model), cut from a clip
at ``offset`` seconds, never padded: a clip with less audio than that after ``offset`` is refused with
the length it needs. The encoder gives the posterior mean ``z`` (the model's ``mu``), the decoder a
log-mel excerpt in dB from any ``z``, and :meth:`LatentModel.to_audio` turns a log-mel back into audio
(:mod:`musicedge.griffinlim`).

    >>> latent = LatentModel.load("latent")            # latent-encoder.onnx + latent-decoder.onnx
    >>> a, b = latent.encode("a.wav", offset=30.0), latent.encode("b.wav")
    >>> mels = latent.decode(latent.interpolate(a, b, steps=8, mode="slerp"))   # (8, n_mels, frames) dB
    >>> y = latent.to_audio(mels[3])                    # float32 samples at latent.sample_rate
    >>> for row in latent.explain(): print(row.line())  # what each dimension does, strongest first

The two files carry the same ``musicedge.extra.pair`` token, frontend and latent size; the decoder's
metadata also holds the training data's latent statistics, a few reference points and the probes
(style: a linear softmax over ``z``; tempo: a linear map) that :meth:`LatentModel.explain` reports.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .audio import load, validate_audio
from .config import FrontendConfig
from .descriptors import DESCRIPTORS, UNITS, describe_batch
from .errors import AudioError, ModelError, ParameterError
from .frontend import MelFrontend
from .model import OnnxModel
from .models import available, resolve

__all__ = [
    "ExplainRow",
    "LatentModel",
    "interpolation_monotonicity",
    "latent_path",
    "lerp",
    "slerp",
    "write_png_strip",
]

MODES = ("linear", "slerp")
#: Traversals span the training latents' mean +- TRAVERSAL_SPAN standard deviations.
TRAVERSAL_SPAN = 2.0
#: An excerpt whose loudest mel bin is below this level (dB) counts as silence.
SILENCE_DB = -80.0


def _partner(path: Path) -> Path:
    """The other file of a pair: ``x-encoder.onnx`` <-> ``x-decoder.onnx`` (or ``_encoder``...)."""
    stem = path.stem
    for a, b in (("encoder", "decoder"), ("decoder", "encoder")):
        if stem.endswith(a):
            return path.with_name(stem[: -len(a)] + b + path.suffix)
    raise ModelError(
        f"{path}: cannot find its partner: a latent model's files are named <name>-encoder.onnx and "
        "<name>-decoder.onnx"
    )


def _pair_paths(name_or_path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(encoder, decoder)`` paths of a bundled name (``"latent"``) or either file's path."""
    if isinstance(name_or_path, str) and not name_or_path.lower().endswith(".onnx"):
        bundled = available()
        if f"{name_or_path}-encoder" in bundled and f"{name_or_path}-decoder" in bundled:
            return bundled[f"{name_or_path}-encoder"], bundled[f"{name_or_path}-decoder"]
    first = resolve(name_or_path)
    other = _partner(first)
    if not other.is_file():
        raise ModelError(f"{first}: its partner {other.name} is not beside it ({other})")
    return (first, other) if first.stem.endswith("encoder") else (other, first)


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation between rows ``a`` and ``b`` ``(D,)`` at fractions ``t`` ``(S,)``: ``(S, D)``."""
    return a[None] + t[:, None] * (b - a)[None]


def latent_path(a: np.ndarray, b: np.ndarray, steps: int, mode: str = "linear") -> np.ndarray:
    """``(steps, D)`` float32 points from latent ``a`` to ``b``, both included, computed in float64:
    :func:`lerp` for ``"linear"``, :func:`slerp` for ``"slerp"`` (what :meth:`LatentModel.interpolate`
    returns once its arguments are checked)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.linspace(0.0, 1.0, int(steps))
    return (lerp if mode == "linear" else slerp)(a, b, t).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation between rows ``a`` and ``b`` ``(D,)`` at fractions ``t`` ``(S,)``:
    ``(S, D)``; the norms are interpolated linearly, the directions along the great circle (linear
    when ``a`` and ``b`` are parallel)."""
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na < 1e-8 or nb < 1e-8:
        return lerp(a, b, t)
    ua, ub = a / na, b / nb
    omega = float(np.arccos(np.clip(ua @ ub, -1.0, 1.0)))
    if omega < 1e-4:
        return lerp(a, b, t)
    s = np.sin(omega)
    direction = (np.sin((1 - t) * omega)[:, None] * ua + np.sin(t * omega)[:, None] * ub) / s
    return direction * ((1 - t) * na + t * nb)[:, None]


@dataclass(frozen=True)
class ExplainRow:
    """What one latent dimension does along its traversal (see :meth:`LatentModel.explain`).

    ``effects`` maps each descriptor to ``(r, change)``: the Pearson correlation between the dimension's
    value and the decoded excerpt's descriptor (averaged over the base points), and the descriptor's
    change from one end of the traversal to the other (in its own unit). ``descriptor``/``r``/``change``
    are the strongest of them (largest ``|change|`` in training standard deviations among those with
    ``|r| >= 0.5``, else the largest ``|r|``). ``style``: the style whose probe probability rises most
    along the traversal and by how much; ``tempo_change``: the tempo probe's change in BPM (both on the
    decoded excerpt, encoded again).
    """

    dim: int
    descriptor: str
    r: float
    change: float
    strength: float
    effects: dict[str, tuple[float, float]]
    style: tuple[str, float] | None = None
    tempo_change: float | None = None
    values: tuple[float, float] = (0.0, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dim": self.dim,
            "descriptor": self.descriptor,
            "r": round(self.r, 4),
            "change": round(self.change, 4),
            "strength": round(self.strength, 4),
            "effects": {k: {"r": round(r, 4), "change": round(c, 4)} for k, (r, c) in self.effects.items()},
            "style": None
            if self.style is None
            else {"label": self.style[0], "change": round(self.style[1], 4)},
            "tempo_change_bpm": None if self.tempo_change is None else round(self.tempo_change, 2),
            "values": [round(v, 4) for v in self.values],
        }


@dataclass
class _Probes:
    style_labels: tuple[str, ...] = ()
    style_w: np.ndarray | None = None
    style_b: np.ndarray | None = None
    tempo_w: np.ndarray | None = None
    tempo_b: float = 0.0
    scores: dict[str, Any] = field(default_factory=dict)

    def style(self, z: np.ndarray) -> np.ndarray | None:
        if self.style_w is None:
            return None
        logits = z @ self.style_w.T + self.style_b
        logits -= logits.max(axis=-1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=-1, keepdims=True)

    def tempo(self, z: np.ndarray) -> np.ndarray | None:
        return None if self.tempo_w is None else z @ self.tempo_w + self.tempo_b


class LatentModel:
    """An encoder and a decoder ONNX file of one VAE (``latent_encoder``, ``latent_decoder`` tasks).

    ``LatentModel.load("latent")`` loads the bundled pair; a path to either file finds the other
    beside it (``<name>-encoder.onnx``, ``<name>-decoder.onnx``).

    Raises (``load``): ModelError for a missing partner, a file of another task, or two files that are
    not one pair (different ``pair`` token, frontend or latent size).
    """

    def __init__(self, encoder: OnnxModel, decoder: OnnxModel) -> None:
        es, ds = encoder.spec, decoder.spec
        if es.task != "latent_encoder":
            raise ModelError(f"{encoder.path}: a {es.task!r} model, not a latent encoder")
        if ds.task != "latent_decoder":
            raise ModelError(f"{decoder.path}: a {ds.task!r} model, not a latent decoder")
        if es.extra.get("pair") != ds.extra.get("pair"):
            raise ModelError(
                f"{encoder.path} and {decoder.path} are not one pair (musicedge.extra.pair differs)"
            )
        if es.frontend != ds.frontend or es.embedding_dim != ds.embedding_dim:
            raise ModelError(f"{encoder.path} and {decoder.path} differ in frontend or latent size")
        self.encoder, self.decoder = encoder, decoder
        self.spec = es
        self.name = es.model_name
        self.latent_dim = int(es.embedding_dim)
        self.frames = es.window_frames
        self.frontend_config: FrontendConfig = es.frontend
        self.sample_rate = self.frontend_config.sample_rate
        self.channels = es.extra_int("channels", 1)
        wins = [int(w) for w in es.extra.get("win_lengths", str(self.frontend_config.n_fft)).split(",")]
        if len(wins) != self.channels:
            raise ModelError(
                f"{encoder.path}: musicedge.extra.win_lengths does not list {self.channels} windows"
            )
        self._frontends = [MelFrontend(self.frontend_config)] + [
            MelFrontend(self.frontend_config.replace(win_length=w)) for w in wins[1:]
        ]
        self._input = encoder.input_names[0]
        self.z_mean = self._vector(ds, "z_mean", np.zeros(self.latent_dim))
        self.z_std = self._vector(ds, "z_std", np.ones(self.latent_dim))
        self.reference_z = self._matrix(ds, "reference_z")
        self.descriptor_std = self._vector(ds, "descriptor_std", np.ones(len(DESCRIPTORS)), len(DESCRIPTORS))
        self.probes = self._read_probes(ds)

    @classmethod
    def load(
        cls,
        name_or_path: str | os.PathLike[str] = "latent",
        *,
        device: str = "auto",
        threads: int | None = None,
    ) -> LatentModel:
        enc, dec = _pair_paths(name_or_path)
        return cls(
            OnnxModel(enc, device=device, threads=threads), OnnxModel(dec, device=device, threads=threads)
        )

    # -- metadata ---------------------------------------------------------------------------------

    def _json(self, spec, key: str) -> Any:
        raw = spec.extra.get(key)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise ModelError(
                f"{self.decoder.path if hasattr(self, 'decoder') else ''}: musicedge.extra.{key} is not JSON"
            ) from None

    def _vector(self, spec, key: str, default: np.ndarray, size: int | None = None) -> np.ndarray:
        value = self._json(spec, key)
        if value is None:
            return default.astype(np.float64)
        array = np.asarray(value, dtype=np.float64)
        if array.shape != ((size or self.latent_dim),):
            raise ModelError(f"musicedge.extra.{key} must hold {size or self.latent_dim} numbers")
        return array

    def _matrix(self, spec, key: str) -> np.ndarray:
        value = self._json(spec, key)
        if value is None:
            return self.z_mean[None].copy()
        array = np.asarray(value, dtype=np.float64)
        if array.ndim != 2 or array.shape[1] != self.latent_dim:
            raise ModelError(f"musicedge.extra.{key} must be a list of {self.latent_dim}-vectors")
        return array

    def _read_probes(self, spec) -> _Probes:
        raw = self._json(spec, "probes") or {}
        probes = _Probes()
        style, tempo = raw.get("style"), raw.get("tempo")
        if style:
            probes.style_labels = tuple(style["labels"])
            probes.style_w = np.asarray(style["weight"], dtype=np.float64)
            probes.style_b = np.asarray(style["bias"], dtype=np.float64)
            probes.scores["style_test_accuracy"] = style.get("test_accuracy")
        if tempo:
            probes.tempo_w = np.asarray(tempo["weight"], dtype=np.float64)
            probes.tempo_b = float(tempo["bias"])
            probes.scores["tempo_test_mae_bpm"] = tempo.get("test_mae_bpm")
        return probes

    @property
    def excerpt_seconds(self) -> float:
        """The excerpt's length in seconds (``frames`` frames of the frontend's hop)."""
        return self.frames * self.frontend_config.hop_length / self.sample_rate

    # -- excerpts and encoding --------------------------------------------------------------------

    def excerpt(
        self,
        source: str | os.PathLike[str] | np.ndarray,
        offset: float = 0.0,
        *,
        sample_rate: int | None = None,
    ) -> np.ndarray:
        """The model's input cut from a file or samples at ``offset`` seconds: ``(C, n_mels, frames)`` dB.

        Raises:
            AudioError: unreadable audio, too little audio after ``offset`` (the message gives the
                length needed), or a silent excerpt.
            ParameterError: a negative or non-finite offset, or samples without ``sample_rate``.
        """
        if not (isinstance(offset, (int, float)) and np.isfinite(offset) and offset >= 0):
            raise ParameterError(f"offset must be a number of seconds >= 0, got {offset!r}")
        hop = self.frontend_config.hop_length
        need = (self.frames - 1) * hop + (0 if self.frontend_config.center else self.frontend_config.n_fft)
        if isinstance(source, np.ndarray):
            if sample_rate is None:
                raise ParameterError("samples need their sample_rate (sample_rate=...)")
            name = "audio"
            y = validate_audio(source, name=name)
            if int(sample_rate) != self.sample_rate:
                import soxr

                y = soxr.resample(y, int(sample_rate), self.sample_rate).astype(np.float32)
        else:
            name = str(source)
            y, _ = load(source, sr=self.sample_rate)
            y = validate_audio(y, name=name)
        start = int(round(offset * self.sample_rate))
        piece = y[start : start + need + hop]
        if len(piece) < need:
            have = max(0, len(y) - start) / self.sample_rate
            raise AudioError(
                f"{name}: {have:.2f} s of audio from offset {offset:g} s, but the model needs an excerpt of "
                f"{need / self.sample_rate:.2f} s ({self.frames} frames); excerpts are never padded"
            )
        piece = np.ascontiguousarray(piece[:need], dtype=np.float32)
        x = np.stack([fe.compute(piece)[:, : self.frames] for fe in self._frontends])
        if float(x[0].max()) < SILENCE_DB:
            raise AudioError(
                f"{name}: the excerpt at {offset:g} s is silent (no mel bin above {SILENCE_DB:g} dB): "
                "nothing to encode"
            )
        return x.astype(np.float32)

    def encode_batch(self, excerpts: np.ndarray) -> np.ndarray:
        """``(N, C, n_mels, frames)`` dB excerpts -> ``(N, latent_dim)`` float32 posterior means."""
        x = np.asarray(excerpts, dtype=np.float32)
        want = (self.channels, self.frontend_config.n_mels, self.frames)
        if x.ndim != 4 or x.shape[1:] != want:
            raise ParameterError(f"excerpts must be (N, {', '.join(map(str, want))}), got shape {x.shape}")
        return np.concatenate(
            [self.encoder.run({self._input: x[i : i + 64]})["mu"] for i in range(0, len(x), 64)]
        )

    def encode(
        self,
        source: str | os.PathLike[str] | np.ndarray,
        offset: float = 0.0,
        *,
        sample_rate: int | None = None,
    ) -> np.ndarray:
        """``z`` ``(latent_dim,)`` float32 of the excerpt at ``offset`` seconds of a file or of samples
        (``sample_rate`` needed for samples); see :meth:`excerpt` for what is refused."""
        return self.encode_batch(self.excerpt(source, offset, sample_rate=sample_rate)[None])[0]

    def _z(self, z: Any, name: str = "z") -> np.ndarray:
        array = np.asarray(z, dtype=np.float32)
        if array.ndim not in (1, 2) or array.shape[-1] != self.latent_dim:
            raise ParameterError(
                f"{name} must be ({self.latent_dim},) or (N, {self.latent_dim}), got shape {array.shape}"
            )
        if not np.isfinite(array).all():
            raise ParameterError(f"{name} holds NaN or Inf")
        return array

    def decode(self, z: Any) -> np.ndarray:
        """``z`` ``(latent_dim,)`` -> log-mel ``(n_mels, frames)`` dB; ``(N, latent_dim)`` ->
        ``(N, n_mels, frames)``."""
        array = self._z(z)
        batch = array[None] if array.ndim == 1 else array
        out = np.concatenate(
            [self.decoder.run({"z": batch[i : i + 64]})["mel"][:, 0] for i in range(0, len(batch), 64)]
        )
        return out[0] if array.ndim == 1 else out

    def _as_z(self, x: Any, name: str) -> np.ndarray:
        if isinstance(x, (str, os.PathLike)):
            return self.encode(x)
        array = self._z(x, name)
        if array.ndim != 1:
            raise ParameterError(
                f"{name} must be one latent vector ({self.latent_dim},), got shape {array.shape}"
            )
        return array

    # -- moving in the latent space ---------------------------------------------------------------

    def interpolate(self, a: Any, b: Any, steps: int = 8, mode: str = "linear") -> np.ndarray:
        """``(steps, latent_dim)`` points from ``a`` to ``b`` (both included): latent vectors, or paths
        (encoded at offset 0). ``mode``: ``"linear"`` or ``"slerp"`` (:func:`slerp`)."""
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
            raise ParameterError(f"steps must be an integer >= 2 (both ends are included), got {steps!r}")
        if mode not in MODES:
            raise ParameterError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        return latent_path(self._as_z(a, "a"), self._as_z(b, "b"), int(steps), mode)

    def check_dim(self, dim: Any) -> int:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 0 <= dim < self.latent_dim:
            raise ParameterError(f"dim must be an integer from 0 to {self.latent_dim - 1}, got {dim!r}")
        return int(dim)

    def traversal_values(self, dim: int, steps: int = 9, span: float = TRAVERSAL_SPAN) -> np.ndarray:
        """``steps`` values of dimension ``dim`` from ``mean - span * std`` to ``mean + span * std`` of the
        training latents."""
        dim = self.check_dim(dim)
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 2:
            raise ParameterError(f"steps must be an integer >= 2, got {steps!r}")
        if not (np.isfinite(span) and span > 0):
            raise ParameterError(f"span must be a positive number, got {span!r}")
        return self.z_mean[dim] + np.linspace(-span, span, int(steps)) * self.z_std[dim]

    def tweak(self, x: Any, dim: int, values: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
        """``(len(values), latent_dim)``: ``x`` (a latent vector or a path) with dimension ``dim`` set to
        each of ``values`` (default :meth:`traversal_values`)."""
        dim = self.check_dim(dim)
        z = self._as_z(x, "x")
        vals = (
            self.traversal_values(dim) if values is None else np.asarray(values, dtype=np.float64).reshape(-1)
        )
        if vals.size == 0 or not np.isfinite(vals).all():
            raise ParameterError("values must be a non-empty list of finite numbers")
        out = np.repeat(z[None].astype(np.float32), vals.size, axis=0)
        out[:, dim] = vals
        return out

    # -- audio and descriptors --------------------------------------------------------------------

    def to_audio(self, mel: np.ndarray, n_iter: int = 32, seed: int = 0) -> np.ndarray:
        """Log-mel ``(n_mels, T)`` dB -> float32 samples at :attr:`sample_rate` (NNLS mel inversion, then
        fast Griffin-Lim with ``n_iter`` iterations; :mod:`musicedge.griffinlim`)."""
        from .griffinlim import mel_to_audio

        return mel_to_audio(mel, self.frontend_config, n_iter=n_iter, seed=seed)

    def describe(self, mels: np.ndarray) -> dict[str, np.ndarray]:
        """Descriptors of decoded excerpts ``(N, n_mels, frames)`` (or one ``(n_mels, frames)``):
        ``{name: (N,)}`` for :data:`~musicedge.descriptors.DESCRIPTORS`, plus ``style_probs`` ``(N, K)``
        and ``tempo_bpm`` ``(N,)`` from the probes on the excerpts encoded again (when the model has them;
        a three-channel encoder gets the decoded mel in every channel, an approximation)."""
        mels = np.asarray(mels, dtype=np.float32)
        batch = mels[None] if mels.ndim == 2 else mels
        table = describe_batch(batch, self.frontend_config)
        out: dict[str, np.ndarray] = {name: table[:, i] for i, name in enumerate(DESCRIPTORS)}
        if self.probes.style_w is not None or self.probes.tempo_w is not None:
            x = np.repeat(batch[:, None], self.channels, axis=1)
            z = self.encode_batch(x).astype(np.float64)
            style, tempo = self.probes.style(z), self.probes.tempo(z)
            if style is not None:
                out["style_probs"] = style
            if tempo is not None:
                out["tempo_bpm"] = tempo
        return out

    def explain(
        self, bases: np.ndarray | None = None, steps: int = 9, span: float = TRAVERSAL_SPAN
    ) -> list[ExplainRow]:
        """For every latent dimension, how the decoded excerpt changes along it, strongest first.

        Each dimension is swept over :meth:`traversal_values` from each base point (``bases``
        ``(N, latent_dim)``; default the reference latents stored with the model, points of the training
        excerpts); see :class:`ExplainRow` for what is reported. ``strength`` ranks the rows: the
        largest descriptor change in training standard deviations among descriptors with ``|r| >= 0.5``.
        """
        base = self.reference_z if bases is None else self._z(bases, "bases").astype(np.float64)
        base = base[None] if base.ndim == 1 else base
        rows = []
        for dim in range(self.latent_dim):
            values = self.traversal_values(dim, steps, span)
            z = np.repeat(base[:, None], len(values), axis=1)  # (N, S, D)
            z[:, :, dim] = values[None]
            desc = self.describe(
                self.decode(z.reshape(-1, self.latent_dim)).reshape(
                    -1, self.frontend_config.n_mels, self.frames
                )
            )
            rows.append(self._row(dim, values, desc, len(base)))
        return sorted(rows, key=lambda r: -r.strength)

    def _row(self, dim: int, values: np.ndarray, desc: dict[str, np.ndarray], n_base: int) -> ExplainRow:
        effects: dict[str, tuple[float, float]] = {}
        strength, best = -1.0, None
        for i, name in enumerate(DESCRIPTORS):
            v = desc[name].reshape(n_base, -1)
            rs = [_pearson(values, row) for row in v]
            r = float(np.mean(rs))
            change = float(np.mean(v[:, -1] - v[:, 0]))
            effects[name] = (r, change)
            score = abs(change) / max(self.descriptor_std[i], 1e-9)
            key = (abs(r) >= 0.5, score if abs(r) >= 0.5 else abs(r))
            if best is None or key > best[0]:
                best = (key, name, r, change, score if abs(r) >= 0.5 else 0.0)
        style = tempo = None
        if "style_probs" in desc:
            p = desc["style_probs"].reshape(n_base, len(values), -1)
            delta = (p[:, -1] - p[:, 0]).mean(axis=0)
            k = int(np.argmax(delta))
            style = (self.probes.style_labels[k], float(delta[k]))
        if "tempo_bpm" in desc:
            t = desc["tempo_bpm"].reshape(n_base, -1)
            tempo = float((t[:, -1] - t[:, 0]).mean())
        _, name, r, change, strength = best
        return ExplainRow(
            dim, name, r, change, strength, effects, style, tempo, (float(values[0]), float(values[-1]))
        )

    def explain_table(self, rows: list[ExplainRow] | None = None) -> str:
        """:meth:`explain`'s rows as a markdown table."""
        rows = self.explain() if rows is None else rows
        head = ["rank", "dim", "strongest", "r", "change"] + [f"{n} r / change" for n in DESCRIPTORS]
        if self.probes.style_w is not None:
            head.append("style rising")
        if self.probes.tempo_w is not None:
            head.append("tempo (BPM)")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for rank, row in enumerate(rows, 1):
            cells = [
                str(rank),
                str(row.dim),
                row.descriptor,
                f"{row.r:+.2f}",
                f"{row.change:+.3g} {UNITS[row.descriptor]}",
            ]
            cells += [f"{r:+.2f} / {c:+.3g}" for r, c in (row.effects[n] for n in DESCRIPTORS)]
            if self.probes.style_w is not None:
                cells.append("-" if row.style is None else f"{row.style[0]} {row.style[1]:+.2f}")
            if self.probes.tempo_w is not None:
                cells.append("-" if row.tempo_change is None else f"{row.tempo_change:+.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def close(self) -> None:
        self.encoder.close()
        self.decoder.close()

    def __repr__(self) -> str:
        return (
            f"LatentModel({self.name!r}, latent_dim={self.latent_dim}, {self.frames} frames "
            f"= {self.excerpt_seconds:.2f} s, channels={self.channels})"
        )


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else 0.0


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="mergesort")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=np.float64)
        for value in np.unique(v):  # ties share their mean rank
            tied = v == value
            r[tied] = r[tied].mean()
        return r

    return _pearson(ranks(np.asarray(x)), ranks(np.asarray(y)))


def interpolation_monotonicity(
    model: LatentModel, a: np.ndarray, b: np.ndarray, steps: int = 9, mode: str = "linear"
) -> dict[str, Any]:
    """How monotonically the decoded descriptors move from ``a`` to ``b`` (rows of ``(N, D)``).

    Per pair and descriptor: the Spearman correlation between the step index and the descriptor,
    signed so that +1 means it moves all the way in the direction from the decoded ``a`` to the decoded
    ``b``; undefined (and left out, counted in ``n_constant``) where the descriptor does not change
    along the path at all. Returns the mean over every pair and descriptor (``spearman_mean``), per
    descriptor, and over the pairs whose ends differ by more than half the descriptor's training
    standard deviation (``spearman_mean_distinct``: where there is a direction to follow)."""
    per: dict[str, list[float]] = {n: [] for n in DESCRIPTORS}
    distinct: list[float] = []
    constant = 0
    for za, zb in zip(a, b, strict=True):
        path = model.interpolate(za, zb, steps, mode)
        table = describe_batch(model.decode(path), model.frontend_config)
        for i, name in enumerate(DESCRIPTORS):
            col = table[:, i]
            if np.ptp(col) == 0:
                constant += 1
                continue
            sign = 1.0 if col[-1] >= col[0] else -1.0
            rho = sign * _spearman(np.arange(steps), col)
            per[name].append(rho)
            if abs(col[-1] - col[0]) > 0.5 * model.descriptor_std[i]:
                distinct.append(rho)
    everything = [v for values in per.values() for v in values]
    return {
        "pairs": len(a),
        "steps": steps,
        "mode": mode,
        "spearman_mean": float(np.mean(everything)) if everything else None,
        "spearman_per_descriptor": {n: float(np.mean(v)) if v else None for n, v in per.items()},
        "n_per_descriptor": {n: len(v) for n, v in per.items()},
        "n_constant": constant,
        "spearman_mean_distinct": float(np.mean(distinct)) if distinct else None,
        "n_distinct": len(distinct),
    }


# -- PNG strips ----------------------------------------------------------------------------------

_MAGMA = np.array(
    [
        [0, 0, 4],
        [28, 16, 68],
        [79, 18, 123],
        [129, 37, 129],
        [181, 54, 122],
        [229, 80, 100],
        [251, 135, 97],
        [254, 194, 135],
        [252, 253, 191],
    ],
    dtype=np.float64,
)


def _colour(values: np.ndarray) -> np.ndarray:
    """``[0, 1]`` values -> uint8 RGB through a magma-like colour map."""
    pos = np.clip(values, 0.0, 1.0) * (len(_MAGMA) - 1)
    low = np.floor(pos).astype(int).clip(0, len(_MAGMA) - 2)
    frac = (pos - low)[..., None]
    return ((1 - frac) * _MAGMA[low] + frac * _MAGMA[low + 1]).round().astype(np.uint8)


def _png_bytes(rgb: np.ndarray) -> bytes:
    import struct
    import zlib

    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def write_png_strip(
    path: str | os.PathLike[str],
    mels: np.ndarray,
    *,
    dynamic_range_db: float = 80.0,
    scale: int = 2,
    gap: int = 4,
) -> Path:
    """Draw log-mels ``(N, n_mels, frames)`` side by side (low frequencies at the bottom, one colour
    scale for all: the loudest bin down to ``dynamic_range_db`` below it) into a PNG; returns its path.
    Each pixel of the mels is ``scale`` x ``scale`` pixels; white gaps of ``gap`` pixels part them."""
    mels = np.asarray(mels, dtype=np.float64)
    if mels.ndim != 3 or mels.size == 0:
        raise ParameterError(f"mels must be (N, n_mels, frames), got shape {mels.shape}")
    top = mels.max()
    norm = (mels - (top - dynamic_range_db)) / dynamic_range_db
    tiles = [np.kron(_colour(m[::-1]), np.ones((scale, scale, 1), np.uint8)) for m in norm]
    h = tiles[0].shape[0]
    spacer = np.full((h, gap, 3), 255, np.uint8)
    parts = []
    for i, tile in enumerate(tiles):
        if i:
            parts.append(spacer)
        parts.append(tile)
    image = np.concatenate(parts, axis=1)
    path = Path(path)
    path.write_bytes(_png_bytes(image))
    return path


def render_steps(
    model: LatentModel,
    zs: np.ndarray,
    out_dir: str | os.PathLike[str],
    stem: str,
    labels: Sequence[str],
    *,
    n_iter: int = 32,
) -> list[dict[str, Any]]:
    """Decode each latent of ``zs`` ``(S, D)``, write ``<stem>_<i>.wav`` per step and ``<stem>.png`` (the
    strip of decoded mels) into ``out_dir``; returns one record per step (file, label, descriptors)."""
    import soundfile as sf

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParameterError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    mels = model.decode(zs)
    table = describe_batch(mels, model.frontend_config)
    width = max(2, len(str(len(mels) - 1)))
    records = []
    for i, (mel, label) in enumerate(zip(mels, labels, strict=True)):
        path = out / f"{stem}_{i:0{width}d}.wav"
        sf.write(path, model.to_audio(mel, n_iter=n_iter), model.sample_rate, subtype="PCM_16")
        records.append(
            {
                "step": i,
                "file": path.name,
                "label": label,
                **{n: float(v) for n, v in zip(DESCRIPTORS, table[i], strict=True)},
            }
        )
    write_png_strip(out / f"{stem}.png", mels)
    return records


def steps_table(records: list[dict[str, Any]]) -> str:
    """:func:`render_steps`'s records as a markdown table."""
    head = ["step", "file", "what"] + [f"{n} ({UNITS[n]})" for n in DESCRIPTORS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        lines.append(
            "| "
            + " | ".join([str(r["step"]), r["file"], r["label"]] + [f"{r[n]:.3g}" for n in DESCRIPTORS])
            + " |"
        )
    return "\n".join(lines)
