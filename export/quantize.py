"""int8 copies of exported models with ``onnxruntime.quantization``, the method chosen by measurement.

Two methods, because neither wins everywhere on a CPU. Speed-ups over the fp32 file at batch 1, one
thread (AVX-512 VNNI, ONNX Runtime 1.31), for the models of ``training.models`` on 128x128 mel windows
(HuBERT: 65536 samples), as ``python -m export --int8`` measured them on seeded random weights (the
speed does not depend on them); ``python -m benchmarks.inference int8`` makes this table again:

=========  =====================================================  =====  ======  =====  ======
method     what                                                   CNN5   ResNet  AST    HuBERT
=========  =====================================================  =====  ======  =====  ======
static     QDQ, uint8 activations calibrated (MinMax) on real     2.2x   1.65x   0.7x   0.9x
           windows, int8 per-channel weights, the stem float
           (below); ONNX Runtime fuses it into QLinearConv /
           QGemm / QLinearMatMul
dynamic    int8 weights of MatMul / Gemm only, activations        1.0x   1.0x    1.4x   1.06x
           quantised on the fly (Conv stays float: its
           ConvInteger kernel is 8x slower than float here)
=========  =====================================================  =====  ======  =====  ======

Static keeps the *stem* in float: the nodes before the first convolution (the input normalisation)
and, when that convolution reads fewer than ``FEW_CHANNELS`` channels (the one-channel mel image,
the raw waveform), the convolution too, with the Relu / MaxPool chain right after it. The int8
kernel over one input channel is ten times slower than float's NCHWc one here (0.74 against
0.07 ms in the bundled genre model). In that chain the MaxPool is moved ahead of the Relu (the same
numbers: max commutes with a non-decreasing function), because ONNX Runtime's QDQ propagation would
otherwise lift the QuantizeLinear above the pool into a slow uint8 NCHW MaxPool. With the whole graph
quantized, static was 1.0x for CNN5 and 1.06x for ResNet.

So ``method="auto"`` (the default) makes both, times each against the fp32 file on one window at
batch 1 with one thread, and keeps the fastest whose top-1 agreement with fp32 on the real windows
is at least ``target_agreement`` (the most faithful one when none is).

The copy carries the fp32 file's metadata plus ``musicedge.extra.quantization``, a JSON object:
``{"method", "format", "activations", "weights", "calibration", "float"}`` (static: the float nodes).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from musicedge.errors import ModelError, ParameterError
from musicedge.model import cpu_session
from musicedge.spec import ModelSpec

from . import IR_VERSION, OPSET
from .onnx_export import save_checked, write_metadata
from .verify import compare_onnx

__all__ = ["FEW_CHANNELS", "METHODS", "QuantizeResult", "float_stem", "measure_latency", "quantize"]

METHODS = ("auto", "static", "dynamic")

# A convolution reading fewer input channels than this stays float in static int8 (see above).
FEW_CHANNELS = 4

_DESCRIPTIONS = {
    "static": {
        "method": "static",
        "format": "QDQ",
        "activations": "uint8, MinMax calibration",
        "weights": "int8 per-channel",
    },
    "dynamic": {
        "method": "dynamic",
        "format": "QOperator (MatMulInteger)",
        "activations": "uint8, dynamic",
        "weights": "int8 per-tensor, MatMul/Gemm only",
    },
}


@dataclass
class QuantizeResult:
    """What :func:`quantize` wrote and measured.

    Attributes:
        path: the int8 file.
        method: the method kept (``"static"`` or ``"dynamic"``).
        description: one line about it.
        latency_ms: median latency at batch 1, one thread, ``{"fp32", "static", "dynamic"}`` (the
            candidates that were made).
        speedup: fp32 latency / kept latency.
        candidates: per candidate ``{"top1_agreement", "cosine_min", "max_abs_diff", "latency_ms"}``.
        comparison: :func:`export.verify.compare_onnx` of fp32 and the kept file on ``eval_feeds``.
        notes: why a candidate was dropped, and similar.
    """

    path: Path
    method: str
    description: str
    latency_ms: dict[str, float]
    speedup: float
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)
    comparison: dict[str, Any] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data.pop("comparison")
        return data


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantization tool logs warnings on the root logger (e.g. a BatchNorm scale it does not
    quantize per channel); they say nothing the measurements below do not."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        logging.disable(previous)


class _Reader:
    """A ``CalibrationDataReader`` over a list of feeds."""

    def __init__(self, feeds: Sequence[Mapping[str, np.ndarray]]) -> None:
        self._feeds = list(feeds)
        self._index = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._index >= len(self._feeds):
            return None
        self._index += 1
        return dict(self._feeds[self._index - 1])

    def rewind(self) -> None:
        self._index = 0


def measure_latency(
    paths: Mapping[str, str | os.PathLike[str]],
    feeds: Mapping[str, np.ndarray],
    *,
    threads: int = 1,
    budget_s: float = 2.0,
    min_rounds: int = 15,
    max_rounds: int = 300,
) -> dict[str, float]:
    """Median latency in ms of each file on the same ``feeds``, runs interleaved round by round so that
    load from other processes falls on all alike. About ``budget_s`` seconds in all."""
    sessions = {name: cpu_session(path, threads) for name, path in paths.items()}
    feeds = dict(feeds)
    for session in sessions.values():
        for _ in range(3):
            session.run(None, feeds)
    start = time.perf_counter()
    for session in sessions.values():
        session.run(None, feeds)
    one_round = max(time.perf_counter() - start, 1e-6)
    rounds = int(min(max_rounds, max(min_rounds, budget_s / one_round)))
    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            t0 = time.perf_counter()
            session.run(None, feeds)
            times[name].append(time.perf_counter() - t0)
    return {name: float(np.median(values) * 1e3) for name, values in times.items()}


def _preprocess(fp32: Path, out: Path, notes: list[str]) -> Path:
    """``quant_pre_process`` (symbolic shape inference and graph clean-up), as the ORT docs advise;
    the fp32 file itself when that fails."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    try:
        with _quiet_quantizer():
            quant_pre_process(os.fspath(fp32), os.fspath(out))
        return out
    except Exception as exc:  # noqa: BLE001 - the pre-processor raises assorted errors on odd graphs
        notes.append(f"quantization pre-processing skipped ({type(exc).__name__}: {str(exc)[:200]})")
        return fp32


def float_stem(proto: onnx.ModelProto) -> list[str]:
    """Rewrite ``proto`` in place for static int8 and return the names of the nodes to keep float.

    The stem is every node before the first Conv (ONNX graphs are stored in topological order) and,
    when that Conv reads fewer than ``FEW_CHANNELS`` channels, the Conv and the chain of sole-consumer
    Relu / MaxPool nodes after it; a Relu feeding a MaxPool there is moved behind it. Unnamed stem
    nodes are given names, which ``nodes_to_exclude`` needs.
    """
    graph = proto.graph
    nodes = list(graph.node)
    first = next((i for i, node in enumerate(nodes) if node.op_type == "Conv"), None)
    if first is None:
        return []
    stem = nodes[:first]
    conv = nodes[first]
    weights = {t.name: t for t in graph.initializer}
    group = next((a.i for a in conv.attribute if a.name == "group"), 1)
    weight = weights.get(conv.input[1]) if len(conv.input) > 1 else None
    if weight is not None and weight.dims[1] * group < FEW_CHANNELS:
        stem.append(conv)
        stem.extend(_swap_relu_pool(graph, _activation_chain(graph, conv)))
    for i, node in enumerate(stem):
        if not node.name:
            node.name = f"musicedge_float_stem_{i}"
    return [node.name for node in stem]


def _consumers(graph: onnx.GraphProto, tensor: str) -> list[onnx.NodeProto]:
    return [node for node in graph.node if tensor in node.input]


def _activation_chain(graph: onnx.GraphProto, conv: onnx.NodeProto) -> list[onnx.NodeProto]:
    """The Relu / MaxPool nodes that follow ``conv`` one after another, each its producer's only
    consumer (and the producer's output not a graph output)."""
    outputs = {o.name for o in graph.output}
    chain, node = [], conv
    while True:
        if node.output[0] in outputs:
            return chain
        following = _consumers(graph, node.output[0])
        if len(following) != 1 or following[0].op_type not in ("Relu", "MaxPool"):
            return chain
        node = following[0]
        if node.op_type == "MaxPool" and len([o for o in node.output if o]) != 1:
            return chain  # a MaxPool that also returns indices is left as it is
        chain.append(node)


def _swap_relu_pool(graph: onnx.GraphProto, chain: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Within ``chain``, turn each Relu -> MaxPool into MaxPool -> Relu (the same values), keeping
    the tensor names the rest of the graph reads; returns the chain in its new order."""
    chain = list(chain)
    for i in range(len(chain) - 1):
        relu, pool = chain[i], chain[i + 1]
        if relu.op_type != "Relu" or pool.op_type != "MaxPool":
            continue
        source, pooled = relu.input[0], pool.output[0]
        inner = f"{pooled}_before_relu"
        pool.input[0], pool.output[0] = source, inner
        relu.input[0], relu.output[0] = inner, pooled
        order = list(graph.node)
        a, b = order.index(relu), order.index(pool)
        order[a], order[b] = order[b], order[a]
        del graph.node[:]
        graph.node.extend(order)
        chain[i], chain[i + 1] = pool, relu
    return chain


def _make(method: str, source: Path, out: Path, calibration: Sequence[Mapping[str, np.ndarray]]) -> list[str]:
    """Write the ``method`` int8 copy of ``source`` to ``out``; returns the nodes kept float."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    with _quiet_quantizer():
        if method == "static":
            proto = onnx.load(os.fspath(source))
            kept_float = float_stem(proto)
            stemmed = out.with_name(f"{out.stem}.stem.onnx")
            onnx.save(proto, os.fspath(stemmed))
            quantize_static(
                os.fspath(stemmed),
                os.fspath(out),
                _Reader(calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=kept_float,
            )
            return kept_float
        quantize_dynamic(
            os.fspath(source),
            os.fspath(out),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm"],
        )
        return []


def _finish(path: Path, spec: ModelSpec, description: dict[str, Any]) -> None:
    """Pin versions, write the metadata (the fp32 spec plus ``extra.quantization``), check and save."""
    proto = onnx.load(os.fspath(path))
    opsets = {e.domain: e.version for e in proto.opset_import}
    if opsets.get("", OPSET) != OPSET:
        raise ModelError(f"quantization changed the opset to {opsets.get('')}; expected {OPSET}")
    proto.ir_version = IR_VERSION
    int8_spec = spec.replace(extra={**spec.extra, "quantization": json.dumps(description, sort_keys=True)})
    write_metadata(proto, int8_spec.to_metadata())
    save_checked(proto, path)


def quantize(
    fp32_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    calibration: Sequence[Mapping[str, np.ndarray]] | None,
    eval_feeds: Sequence[Mapping[str, np.ndarray]],
    method: str = "auto",
    target_agreement: float = 0.99,
    calibration_source: str = "",
) -> QuantizeResult:
    """Write an int8 copy of an exported fp32 file (see the module docstring for the methods).

    Args:
        fp32_path: the exported, metadata-carrying fp32 file.
        out_path: the int8 file to write.
        calibration: feeds for static calibration (e.g. :meth:`export.verify.RealInputs.feeds`);
            ``None`` or empty leaves static out.
        eval_feeds: feeds on which each candidate is compared with fp32 (real windows when there are).
        method: ``"auto"``, ``"static"`` or ``"dynamic"``.
        target_agreement: the top-1 agreement with fp32 a candidate needs for ``auto`` to prefer it
            for speed.
        calibration_source: said in the metadata (what the calibration windows came from).

    Raises:
        ParameterError: a bad ``method``, ``static`` without calibration feeds, no ``eval_feeds``.
        ModelError: the fp32 file lacks metadata, or no candidate could be made.
    """
    from musicedge.model import OnnxModel

    if method not in METHODS:
        raise ParameterError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if not eval_feeds:
        raise ParameterError("quantize needs eval_feeds to compare the int8 copy with fp32")
    if method == "static" and not calibration:
        raise ParameterError("static quantization needs calibration feeds (real windows)")
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    with OnnxModel(fp32_path, device="cpu") as fp32_model:
        spec = fp32_model.spec
    notes: list[str] = []
    wanted = ["static", "dynamic"] if method == "auto" else [method]
    if method == "auto" and not calibration:
        wanted = ["dynamic"]
        notes.append("int8: no calibration windows, so only dynamic quantization was tried")

    with tempfile.TemporaryDirectory(prefix="musicedge-int8-") as tmp:
        tmp_dir = Path(tmp)
        source = _preprocess(fp32_path, tmp_dir / "pre.onnx", notes)
        made: dict[str, Path] = {}
        for name in wanted:
            candidate = tmp_dir / f"{name}.onnx"
            try:
                kept_float = _make(name, source, candidate, calibration or [])
                description = dict(_DESCRIPTIONS[name])
                if name == "static":
                    description["float"] = ", ".join(kept_float) or "nothing"
                    windows = sum(len(next(iter(f.values()))) for f in calibration or [])
                    description["calibration"] = f"{windows} windows" + (
                        f" ({calibration_source})" if calibration_source else ""
                    )
                _finish(candidate, spec, description)
            except Exception as exc:  # noqa: BLE001 - the quantizer's own failures, reported
                if method != "auto":
                    raise ModelError(f"{name} int8 quantization failed: {exc}") from None
                notes.append(f"int8 {name} candidate dropped: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            made[name] = candidate
        if not made:
            raise ModelError("no int8 candidate could be made: " + "; ".join(notes))

        comparisons = {name: compare_onnx(fp32_path, path, list(eval_feeds)) for name, path in made.items()}
        first_window = {k: np.ascontiguousarray(v[:1]) for k, v in eval_feeds[0].items()}
        latency = measure_latency({"fp32": fp32_path, **made}, first_window)

        candidates = {}
        for name, comparison in comparisons.items():
            candidates[name] = {
                "top1_agreement": comparison["top1_agreement"],
                "cosine_min": comparison["cosine_min"],
                "max_abs_diff": comparison["max_abs_diff"],
                "latency_ms": latency[name],
                "errors": comparison["errors"][:3],
            }

        def fidelity(name: str) -> float:
            c = comparisons[name]
            if c["errors"] or c["nonfinite"]:
                return -1.0
            value = c["top1_agreement"] if c["top1_agreement"] is not None else c["cosine_min"]
            return float(value) if value is not None else 0.0

        faithful = [n for n in made if fidelity(n) >= target_agreement]
        if faithful:
            chosen = min(faithful, key=lambda n: latency[n])
        else:
            chosen = max(made, key=lambda n: (fidelity(n), -latency[n]))
            if method == "auto":
                notes.append(
                    f"int8: no method reached {target_agreement:.0%} agreement with fp32; kept the most "
                    f"faithful ({chosen})"
                )
        if latency[chosen] >= latency["fp32"]:
            notes.append(
                f"int8 is not faster than fp32 for this model (fp32 {latency['fp32']:.3f} ms, int8 "
                f"{latency[chosen]:.3f} ms at batch 1, one thread): too small for int8 kernels to pay off"
            )
        out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(made[chosen], out_path)

    description = json.loads(spec_extra(out_path)["quantization"])
    text = (
        f"{description['method']} {description['format']}, activations {description['activations']}, "
        f"weights {description['weights']}"
        + (f", calibrated on {description['calibration']}" if "calibration" in description else "")
    )
    return QuantizeResult(
        path=out_path,
        method=chosen,
        description=text,
        latency_ms=latency,
        speedup=latency["fp32"] / latency[chosen],
        candidates=candidates,
        comparison=comparisons[chosen],
        notes=notes,
    )


def spec_extra(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``musicedge.extra.*`` entries of an exported file, without the prefix."""
    proto = onnx.load(os.fspath(path), load_external_data=False)
    prefix = "musicedge.extra."
    return {p.key[len(prefix) :]: p.value for p in proto.metadata_props if p.key.startswith(prefix)}
