"""Check exported files against PyTorch (and int8 copies against fp32) with ONNX Runtime.

Two kinds of input set:

* random: the model's own ``example_inputs`` at batch sizes 1 and 3, and, for each dynamic length axis
  (time, samples, tokens), a shorter and a longer length at batch 2 (the example tiled or cut to
  size). A length that the torch model itself refuses is skipped and noted; one that torch runs but
  ONNX Runtime does not is a failure (a shape baked into the graph).
* real: model-ready windows of real music, exactly as the runtime makes them: ``MelFrontend`` (the C++
  frontend, with the spec's settings) and ``FrameBatcher`` (``window_frames`` every ``hop_frames``,
  the tail padded with the dB floor) for ``mel``; sample windows for ``wave``; zeros ``(B, 1)`` for
  ``meta`` (the runtime's "no metadata"). Sources: audio files, folders, ``.npy`` arrays, or by default
  the real music in ``../shared/data/real/music`` beside the project.

:func:`compare` (torch vs ONNX) and :func:`compare_onnx` (ONNX vs ONNX) return plain dicts; the
``verify_*`` functions turn them into pass/fail checks for :func:`export.export_model`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from musicedge.errors import AudioError, ModelError, ParameterError
from musicedge.frontend import MelFrontend
from musicedge.model import OnnxModel, cpu_session
from musicedge.spec import ModelSpec
from musicedge.windows import mel_windows, wave_windows

__all__ = [
    "DEFAULT_REAL_MUSIC",
    "Case",
    "RealInputs",
    "VerificationError",
    "case_feeds",
    "compare",
    "compare_onnx",
    "random_cases",
    "real_inputs",
    "verify_fp32",
    "verify_int8",
]

DEFAULT_REAL_MUSIC = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "real" / "music"
"""Real music used for verification and calibration when no other source is given."""

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au"}
REAL_BATCH = 16


class VerificationError(ModelError):
    """An exported file does not match its source model within tolerance (``report`` says how)."""

    def __init__(self, message: str, report: Any = None) -> None:
        super().__init__(message)
        self.report = report


# -- input sets --------------------------------------------------------------------------------------


@dataclass
class Case:
    """One set of model inputs, in ``input_names`` order (tensors on the CPU)."""

    name: str
    input_names: tuple[str, ...]
    inputs: tuple[Tensor, ...]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {n: tuple(t.shape) for n, t in zip(self.input_names, self.inputs, strict=True)}

    @property
    def batch(self) -> int:
        return int(self.inputs[0].shape[0])


def case_feeds(case: Case) -> dict[str, np.ndarray]:
    """A case as ONNX Runtime feeds ``{name: array}``."""
    return {n: t.detach().cpu().numpy() for n, t in zip(case.input_names, case.inputs, strict=True)}


def _resize(tensor: Tensor, axis: int, size: int) -> Tensor:
    """``tensor`` tiled (when shorter) and cut to ``size`` along ``axis``."""
    current = tensor.shape[axis]
    if size > current:
        reps = [1] * tensor.ndim
        reps[axis] = -(-size // current)
        tensor = tensor.repeat(*reps)
    return tensor.narrow(axis, 0, size).contiguous()


def random_cases(model: nn.Module, *, batch_sizes: Sequence[int] = (1, 3), seed: int = 0) -> list[Case]:
    """Inputs at several batch sizes and lengths, from the model's ``example_inputs`` (see the module doc).

    Axis 0 is the batch; every other dynamic axis is a length, varied to ``L // 2 + 1`` and
    ``2 * L - 1`` (odd sizes catch off-by-one pooling). Inputs sharing an axis name stay equal.
    """
    names = tuple(model.input_names)
    axes: dict[str, dict[int, str]] = {k: dict(v) for k, v in model.dynamic_axes.items()}
    cases: list[Case] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for batch in batch_sizes:
            inputs = tuple(t.detach().cpu() for t in _as_tuple(model.example_inputs(batch)))
            cases.append(Case(f"batch {batch}", names, inputs))
        base = tuple(t.detach().cpu() for t in _as_tuple(model.example_inputs(2)))
    lengths: dict[str, int] = {}
    for name, tensor in zip(names, base, strict=True):
        for axis, symbol in axes.get(name, {}).items():
            if axis > 0 and axis < tensor.ndim:
                lengths.setdefault(symbol, int(tensor.shape[axis]))
    for symbol, length in lengths.items():
        for size in sorted({length // 2 + 1, 2 * length - 1} - {length}):
            inputs = []
            for name, tensor in zip(names, base, strict=True):
                for axis, other in axes.get(name, {}).items():
                    if other == symbol and 0 < axis < tensor.ndim:
                        tensor = _resize(tensor, axis, size)
                inputs.append(tensor)
            cases.append(Case(f"{symbol} {size}", names, tuple(inputs)))
    return cases


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


@dataclass
class RealInputs:
    """Real, model-ready windows: ``arrays[name]`` is ``(N, ...)`` for every input (N equal);
    ``description`` says where they came from (``"6 file(s) in DIR"``)."""

    input_names: tuple[str, ...]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    description: str = "none"
    notes: list[str] = field(default_factory=list)
    n_files: int = 0

    @property
    def count(self) -> int:
        return len(next(iter(self.arrays.values()))) if self.arrays else 0

    def _pick(self, limit: int | None) -> np.ndarray:
        n = self.count
        if limit is None or limit >= n:
            return np.arange(n)
        return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))

    def split(self, n: int) -> tuple[RealInputs, RealInputs]:
        """``n`` windows spread evenly over all (for the checks) and the others (for calibration);
        when there are no others, the second holds the same windows as the first."""
        index = self._pick(n)
        rest = np.setdiff1d(np.arange(self.count), index)
        if rest.size == 0:
            rest = index
        return self._subset(index), self._subset(rest)

    def _subset(self, index: np.ndarray) -> RealInputs:
        arrays = {name: np.ascontiguousarray(array[index]) for name, array in self.arrays.items()}
        return RealInputs(self.input_names, arrays, self.description, list(self.notes), self.n_files)

    def feeds(self, limit: int | None = None, batch: int = REAL_BATCH) -> list[dict[str, np.ndarray]]:
        """ONNX Runtime feeds of up to ``batch`` windows each, ``limit`` windows in all (spread evenly)."""
        index = self._pick(limit)
        return [
            {name: np.ascontiguousarray(self.arrays[name][index[i : i + batch]]) for name in self.input_names}
            for i in range(0, len(index), batch)
        ]

    def cases(self, limit: int | None = None, batch: int = REAL_BATCH) -> list[Case]:
        """The same windows as :meth:`feeds`, as torch :class:`Case` objects."""
        cases = []
        for i, feeds in enumerate(self.feeds(limit, batch)):
            tensors = tuple(torch.from_numpy(feeds[name]) for name in self.input_names)
            cases.append(Case(f"real {i}", self.input_names, tensors))
        return cases


def _sources(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None,
) -> tuple[list[Path], str]:
    if paths is None:
        if not DEFAULT_REAL_MUSIC.is_dir():
            return [], f"no real audio at {DEFAULT_REAL_MUSIC}"
        paths = [DEFAULT_REAL_MUSIC]
    elif isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    elif not paths:
        return [], "no real inputs asked for"
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES | {".npy"}
                )
            )
        elif path.is_file():
            files.append(path)
        else:
            raise ParameterError(f"calibration source {path}: no such file or folder")
    where = ", ".join(str(Path(p)) for p in paths)
    return files, where


def _read_audio(path: Path, sample_rate: int, seconds: float) -> np.ndarray:
    from musicedge.audio import stream

    blocks = stream(path, sample_rate, block_seconds=min(seconds, 30.0))
    next(blocks)
    parts, total, limit = [], 0, int(seconds * sample_rate)
    for block in blocks:
        parts.append(block)
        total += len(block)
        if total >= limit:
            break
    blocks.close()
    if not parts:
        raise AudioError(f"{path}: no samples")
    return np.concatenate(parts)[:limit]


def _npy_windows(path: Path, kind: str, spec: ModelSpec) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ParameterError(f"calibration file {path}: not a readable .npy array ({exc})") from None
    if not np.issubdtype(array.dtype, np.floating):
        raise ParameterError(f"calibration file {path}: expected floating-point values, got {array.dtype}")
    array = array.astype(np.float32, copy=False)
    if kind == "mel":
        n_mels = spec.frontend.n_mels
        if array.ndim == 4 and array.shape[1:3] == (1, n_mels):
            if array.shape[3] == spec.window_frames:
                return array
            return np.concatenate(
                [mel_windows(np.ascontiguousarray(item[0], np.float32), spec) for item in array]
            )
        if array.ndim == 3 and array.shape[0] == 1:
            array = array[0]
        if array.ndim == 2 and array.shape[0] == n_mels:
            return mel_windows(np.ascontiguousarray(array, np.float32), spec)
        raise ParameterError(
            f"calibration file {path}: expected mel windows (N, 1, {n_mels}, W) or frames "
            f"({n_mels}, T) / (1, {n_mels}, T), got shape {array.shape}"
        )
    samples = spec.window_frames * spec.frontend.hop_length
    if array.ndim == 3 and array.shape[1:] == (1, samples):
        return array
    if array.ndim == 1:
        return wave_windows(array, spec)
    raise ParameterError(
        f"calibration file {path}: expected samples (N,) or windows (N, 1, {samples}), "
        f"got shape {array.shape}"
    )


def real_inputs(
    model: nn.Module,
    spec: ModelSpec,
    sources: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    *,
    max_windows: int = 128,
    seconds_per_file: float = 30.0,
) -> RealInputs:
    """Real model-ready windows for ``model`` (see the module docstring), ``max_windows`` at most,
    spread evenly over all the windows of all the sources.

    Args:
        model: the model (its ``input_names`` say what to make: ``mel``, ``wave``, ``meta``).
        spec: its spec (frontend settings, ``window_frames``, ``hop_frames``).
        sources: audio files, ``.npy`` files (mel frames ``(n_mels, T)`` or ``(1, n_mels, T)``, mel
            windows ``(N, 1, n_mels, W)``, samples ``(N,)`` at the spec's rate, or sample windows
            ``(N, 1, S)``), or folders of them; ``None``: :data:`DEFAULT_REAL_MUSIC` when present.
        seconds_per_file: how much of each audio file is read (from its start).

    Returns:
        :class:`RealInputs`, empty (with a note) when there is no source or an input has no real form.

    Raises:
        ParameterError: a named source that is missing, or a ``.npy`` of the wrong shape.
    """
    names = tuple(model.input_names)
    result = RealInputs(names)
    primary = [n for n in names if n in ("mel", "wave")]
    others = [n for n in names if n not in ("mel", "wave", "meta")]
    if len(primary) != 1 or others:
        result.notes.append(f"no real inputs for a model taking {', '.join(names)}: random inputs only")
        return result
    kind = primary[0]
    files, where = _sources(sources)
    if not files:
        result.notes.append(f"{where}: random inputs only" if not sources else f"no audio or .npy in {where}")
        return result

    frontend = MelFrontend(spec.frontend) if kind == "mel" else None
    parts: list[np.ndarray] = []
    used = 0
    for path in files:
        try:
            if path.suffix.lower() == ".npy":
                windows = _npy_windows(path, kind, spec)
            else:
                y = _read_audio(path, spec.frontend.sample_rate, seconds_per_file)
                if frontend is not None:
                    windows = mel_windows(frontend.compute(y), spec)
                else:
                    windows = wave_windows(y, spec)
        except AudioError as exc:
            result.notes.append(f"skipped {path.name}: {exc}")
            continue
        parts.append(windows)
        used += 1
    if not parts:
        result.notes.append(f"no usable audio in {where}: random inputs only")
        return result
    windows = np.concatenate(parts)
    index = np.unique(
        np.linspace(0, len(windows) - 1, min(max_windows, len(windows))).round().astype(np.int64)
    )
    windows = np.ascontiguousarray(windows[index])
    result.arrays[kind] = windows
    if "meta" in names:
        result.arrays["meta"] = np.zeros((len(windows), 1), np.int64)
    result.description = f"{used} file(s) in {where}"
    result.n_files = used
    return result


# -- comparing ---------------------------------------------------------------------------------------


Runner = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]


def _onnx_runner(model: str | os.PathLike[str] | OnnxModel) -> tuple[Runner, tuple[str, ...]]:
    """``feeds -> outputs`` for an ONNX file (a bare CPU session: no metadata needed) or an OnnxModel."""
    if isinstance(model, OnnxModel):
        return model.run, model.output_names
    session = cpu_session(model)
    names = tuple(o.name for o in session.get_outputs())

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(names, session.run(None, feeds), strict=True))

    return run, names


def _normalise_inputs(inputs: Any, input_names: Sequence[str]) -> list[Case]:
    """Cases from a Case, a tuple of tensors, a dict of tensors/arrays, or a list of those."""
    if (
        isinstance(inputs, (Case, Mapping))
        or (
            isinstance(inputs, tuple)
            and inputs
            and all(torch.is_tensor(t) or isinstance(t, np.ndarray) for t in inputs)
        )
        or torch.is_tensor(inputs)
    ):
        inputs = [inputs]
    cases = []
    for i, item in enumerate(inputs):
        if isinstance(item, Case):
            cases.append(item)
            continue
        if isinstance(item, Mapping):
            missing = [n for n in input_names if n not in item]
            if missing:
                raise ParameterError(f"inputs #{i} lacks {', '.join(missing)}")
            item = tuple(item[n] for n in input_names)
        item = _as_tuple(item)
        if len(item) != len(input_names):
            raise ParameterError(f"inputs #{i} has {len(item)} tensor(s); the model takes {len(input_names)}")
        tensors = tuple(torch.as_tensor(t) for t in item)
        cases.append(Case(f"inputs {i}", tuple(input_names), tensors))
    return cases


def _summarise(
    cases: list[Case],
    run_reference: Callable[[Case], dict[str, np.ndarray] | str],
    run_candidate: Callable[[Case], dict[str, np.ndarray] | str],
    output_names: Sequence[str],
) -> dict[str, Any]:
    per_output = {name: 0.0 for name in output_names}
    records, agree, total, cosines = [], 0, 0, []
    nonfinite = False
    for case in cases:
        record: dict[str, Any] = {"name": case.name, "shapes": case.shapes()}
        reference = run_reference(case)
        if isinstance(reference, str):
            record["skipped"] = reference
            records.append(record)
            continue
        candidate = run_candidate(case)
        if isinstance(candidate, str):
            record["error"] = candidate
            records.append(record)
            continue
        diffs = {}
        for name in output_names:
            ref = np.asarray(reference[name], np.float64)
            got = np.asarray(candidate[name], np.float64)
            if ref.shape != got.shape:
                record["error"] = f"output {name!r} has shape {got.shape}, expected {ref.shape}"
                break
            if not np.isfinite(got).all():
                nonfinite = True
            diffs[name] = float(np.max(np.abs(ref - got))) if ref.size else 0.0
            per_output[name] = max(per_output[name], diffs[name])
        else:
            record["max_abs_diff"] = max(diffs.values()) if diffs else 0.0
            first = output_names[0]
            ref = np.asarray(reference[first], np.float64)
            got = np.asarray(candidate[first], np.float64)
            if ref.ndim == 2 and ref.shape[1] > 1:
                if first == "logits":
                    agree += int((ref.argmax(1) == got.argmax(1)).sum())
                    total += ref.shape[0]
                norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1)
                cosines.extend((np.sum(ref * got, axis=1) / np.maximum(norms, 1e-12)).tolist())
        records.append(record)
    ran = [r for r in records if "max_abs_diff" in r]
    return {
        "max_abs_diff": max((r["max_abs_diff"] for r in ran), default=float("nan")),
        "max_abs_diff_per_output": per_output,
        "top1_agreement": agree / total if total else None,
        "cosine_min": float(min(cosines)) if cosines else None,
        "cosine_mean": float(np.mean(cosines)) if cosines else None,
        "nonfinite": nonfinite,
        "n_cases": len(ran),
        "n_examples": sum(int(next(iter(r["shapes"].values()))[0]) for r in ran),
        "errors": [f"{r['name']} {r['shapes']}: {r['error']}" for r in records if "error" in r],
        "skipped": [f"{r['name']} {r['shapes']}: {r['skipped']}" for r in records if "skipped" in r],
        "cases": records,
    }


def _run_onnx(runner: Runner) -> Callable[[Case], dict[str, np.ndarray] | str]:
    def run(case: Case) -> dict[str, np.ndarray] | str:
        try:
            return runner(case_feeds(case))
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's own classes; reported, not raised
            return " ".join(str(exc).split())[:500]

    return run


def compare(
    torch_model: nn.Module,
    onnx_model: str | os.PathLike[str] | OnnxModel,
    inputs: Any,
) -> dict[str, Any]:
    """Run the torch model and the ONNX file on the same inputs and measure how far apart they are.

    Args:
        torch_model: the source model (a copy of it runs in eval mode, without gradients, on the CPU).
        onnx_model: an ``.onnx`` path (run with a plain CPU session) or an :class:`OnnxModel`.
        inputs: one set of inputs (a tuple of tensors in ``input_names`` order, a ``{name: tensor}``
            dict, a :class:`Case`) or a list of them.

    Returns:
        ``{"max_abs_diff", "max_abs_diff_per_output": {name: diff}, "top1_agreement"`` (argmax
        agreement of a ``logits`` output, else ``None``), ``"cosine_min", "cosine_mean"`` (row-wise,
        first output), ``"nonfinite"``, ``"n_cases", "n_examples", "errors"`` (cases torch ran but ONNX
        Runtime did not), ``"skipped"`` (cases torch itself refused), ``"cases"`` (per case)``}``.
    """
    names = tuple(torch_model.input_names)
    output_names = tuple(torch_model.output_names)
    runner, onnx_outputs = _onnx_runner(onnx_model)
    if tuple(onnx_outputs) != output_names:
        raise VerificationError(f"the ONNX file's outputs are {onnx_outputs}, the model's {output_names}")
    model = copy.deepcopy(torch_model).cpu().eval()  # the caller's model stays where and as it is

    def run_torch(case: Case) -> dict[str, np.ndarray] | str:
        try:
            with torch.no_grad():
                result = _as_tuple(model(*case.inputs))
        except Exception as exc:  # noqa: BLE001 - whatever the model raises for inputs it refuses
            return f"the torch model refuses it ({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        return {n: r.detach().cpu().float().numpy() for n, r in zip(output_names, result, strict=True)}

    return _summarise(_normalise_inputs(inputs, names), run_torch, _run_onnx(runner), output_names)


def compare_onnx(
    reference: str | os.PathLike[str] | OnnxModel,
    candidate: str | os.PathLike[str] | OnnxModel,
    inputs: Any,
    input_names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """:func:`compare` between two ONNX files (e.g. fp32 and its int8 copy); ``inputs`` as there, or
    a list of ``{name: array}`` feeds. ``input_names`` defaults to the reference's inputs."""
    ref_runner, outputs = _onnx_runner(reference)
    cand_runner, cand_outputs = _onnx_runner(candidate)
    if tuple(cand_outputs) != tuple(outputs):
        raise VerificationError(f"outputs differ: {outputs} vs {cand_outputs}")
    if input_names is None:
        if isinstance(reference, OnnxModel):
            input_names = reference.input_names
        else:
            import onnx

            proto = onnx.load(os.fspath(reference), load_external_data=False)
            initializers = {i.name for i in proto.graph.initializer}
            input_names = tuple(v.name for v in proto.graph.input if v.name not in initializers)
    cases = _normalise_inputs(inputs, tuple(input_names))
    return _summarise(cases, _run_onnx(ref_runner), _run_onnx(cand_runner), outputs)


# -- checks ------------------------------------------------------------------------------------------


def _shape_range(comparison: dict[str, Any]) -> str:
    ran = [c for c in comparison["cases"] if "max_abs_diff" in c]
    if not ran:
        return ""
    parts = []
    first = ran[0]["shapes"]
    for name, shape in first.items():
        for axis in range(len(shape)):
            values = sorted({c["shapes"][name][axis] for c in ran})
            if len(values) > 1:
                label = "batch" if axis == 0 else f"{name}[{axis}]"
                if axis == 0 and name != next(iter(first)):
                    continue
                parts.append(f"{label} {values[0]}-{values[-1]}")
    return "(" + ", ".join(parts) + ")" if parts else ""


def _check(
    name: str, comparison: dict[str, Any], tolerance: float | None, problem: str | None
) -> dict[str, Any]:
    check = {k: v for k, v in comparison.items()}
    check.update(name=name, tolerance=tolerance, passed=problem is None, shape_range=_shape_range(comparison))
    if problem:
        check["problem"] = problem
    check["notes"] = [f"{name}: skipped {s}" for s in comparison["skipped"]]
    return check


def verify_fp32(
    torch_model: nn.Module,
    onnx_path: str | os.PathLike[str],
    spec: ModelSpec,
    *,
    real_cases: Sequence[Case] = (),
    atol: float = 1e-4,
) -> list[dict[str, Any]]:
    """The fp32 checks: the file loads in the runtime with ``spec`` as its metadata, and its outputs
    match torch within ``atol`` on random inputs (batch sizes and lengths) and on ``real_cases``.

    Returns:
        One check dict per input set (``"random"``, ``"real"``): :func:`compare`'s dict plus
        ``"name", "tolerance", "passed", "problem"`` (why it failed).
    """
    try:
        runtime = OnnxModel(onnx_path, device="cpu")
    except ModelError as exc:
        raise VerificationError(f"the runtime cannot load the exported file: {exc}") from None
    if runtime.spec != spec:
        raise VerificationError(
            f"{onnx_path}: the metadata does not read back as the spec it was written from"
        )
    checks = []
    sets = [("random", random_cases(torch_model))]
    if real_cases:
        sets.append(("real", list(real_cases)))
    with runtime:
        for name, cases in sets:
            comparison = compare(torch_model, runtime, cases)
            problem = None
            if comparison["errors"]:
                problem = "ONNX Runtime fails where torch runs (a shape baked into the graph?): " + "; ".join(
                    comparison["errors"][:3]
                )
            elif comparison["n_cases"] == 0:
                problem = "the torch model refused every input: " + "; ".join(comparison["skipped"][:3])
            elif comparison["nonfinite"]:
                problem = "the ONNX outputs hold NaN or Inf"
            elif not comparison["max_abs_diff"] <= atol:
                problem = f"max |diff| {comparison['max_abs_diff']:.3e} exceeds {atol:.0e}"
            checks.append(_check(name, comparison, atol, problem))
    return checks


def verify_int8(
    fp32_path: str | os.PathLike[str],
    int8_path: str | os.PathLike[str],
    torch_model: nn.Module,
    *,
    real_cases: Sequence[Case] = (),
    min_agreement: float = 0.9,
    min_cosine: float = 0.98,
    comparison: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The int8 check: the copy loads in the runtime, runs at every random batch size and length, and
    agrees with fp32 on the real windows (random ones without): top-1 agreement of ``logits`` at
    least ``min_agreement``, or, for other outputs, a row-wise cosine similarity of at least ``min_cosine``.

    ``comparison`` reuses :func:`compare_onnx`'s result on those windows when the caller has it.
    """
    try:
        runtime = OnnxModel(int8_path, device="cpu")
    except ModelError as exc:
        raise VerificationError(f"the runtime cannot load the int8 file: {exc}") from None
    with runtime:
        shapes = compare_onnx(fp32_path, runtime, [case_feeds(c) for c in random_cases(torch_model)])
        cases = list(real_cases) or random_cases(torch_model)
        if comparison is None:
            comparison = compare_onnx(fp32_path, runtime, [case_feeds(c) for c in cases])
    name = "int8 real" if real_cases else "int8 random"
    problem = None
    errors = shapes["errors"] + comparison["errors"]
    if errors:
        problem = "the int8 file fails where fp32 runs: " + "; ".join(errors[:3])
    elif comparison["nonfinite"] or shapes["nonfinite"]:
        problem = "the int8 outputs hold NaN or Inf"
    elif comparison["top1_agreement"] is not None:
        if comparison["top1_agreement"] < min_agreement:
            problem = (
                f"top-1 agreement with fp32 {comparison['top1_agreement']:.1%} is below {min_agreement:.0%}"
            )
    elif comparison["cosine_min"] is not None and comparison["cosine_min"] < min_cosine:
        problem = f"cosine similarity with fp32 {comparison['cosine_min']:.4f} is below {min_cosine}"
    check = _check(name, comparison, None, problem)
    check["random_shapes_max_abs_diff"] = shapes["max_abs_diff"]
    return check
