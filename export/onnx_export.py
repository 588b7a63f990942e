"""Torch to ONNX: a model that follows the export protocol becomes a self-describing ONNX file.

The export protocol (every musicedge model implements it)::

    input_names: tuple[str, ...]                 # ONNX input names in forward()'s argument order
    output_names: tuple[str, ...]                # e.g. ("logits",) or ("embedding",)
    dynamic_axes: dict[str, dict[int, str]]      # {"mel": {0: "batch", 3: "time"}, "logits": {0: "batch"}}
    def example_inputs(self, batch: int = 2) -> tuple[Tensor, ...]   # valid inputs at the model's window

Inputs are ``mel`` float32 ``(B, 1, n_mels, T)`` (raw frontend dB), ``wave`` float32 ``(B, 1, N)``
and ``meta`` int64 ``(B, L)``; the batch axis (0) of every input and output must be dynamic.

The exporter is torch's TorchScript-based one (``dynamo=False``). On torch 2.13 here it gives a clean,
dynamic graph for convolutional, recurrent (GRU, LSTM, including a conv -> reshape -> GRU CRNN) and
transformer models, at opset 17, without extra packages. The ``torch.export``-based exporter
(``dynamo=True``, torch's default) was tried and is not used: it needs ``onnxscript`` (not a
dependency), fails to decompose a CRNN's GRU ("size of tensor a must match b" in ``aten.gru``), and
writes opset 18, which it cannot convert down to 17 (``ReduceMean`` axes). One TorchScript weakness is
handled here: ``nn.MultiheadAttention`` computes its reshapes from Python ints, which tracing bakes
in as constants (pytorch#117209), so the exported copy of a model uses
:class:`ExportableMultiheadAttention` (the same weights and maths, with shape-agnostic reshapes).
And :mod:`export.verify` runs every file at several batch sizes and lengths, so a shape baked in by
any other module cannot pass unnoticed.

Every file gets ``ir_version`` :data:`export.IR_VERSION`, opset :data:`export.OPSET` and the
``musicedge.*`` keys of :meth:`ModelSpec.to_metadata` in its ``metadata_props``, and passes
``onnx.checker`` (with shape inference).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import math
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from musicedge import __version__ as MUSICEDGE_VERSION
from musicedge.errors import ModelError, ParameterError
from musicedge.spec import PREFIX, ModelSpec

from . import IR_VERSION, OPSET

__all__ = [
    "ExportReport",
    "ExportableMultiheadAttention",
    "check_against_spec",
    "check_protocol",
    "export_checkpoint",
    "export_model",
    "read_metadata",
    "to_onnx",
    "write_metadata",
]

# -- the protocol ------------------------------------------------------------------------------------


def _names(model: nn.Module, attribute: str) -> tuple[str, ...]:
    value = getattr(model, attribute, None)
    kind = type(model).__qualname__
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise ModelError(
            f"{kind} does not follow the export protocol: {attribute} must be a non-empty tuple of "
            f"names, got {value!r}"
        )
    if not all(isinstance(name, str) and name.isidentifier() for name in value):
        raise ModelError(f"{kind}.{attribute} must hold identifier-like names, got {value!r}")
    if len(set(value)) != len(value):
        raise ModelError(f"{kind}.{attribute} has duplicate names: {value!r}")
    return tuple(value)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def check_protocol(model: nn.Module) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, dict[int, str]]]:
    """Check that ``model`` follows the export protocol.

    Returns:
        ``(input_names, output_names, dynamic_axes)``.


    Runs ``model(*model.example_inputs(2))`` once (no gradients) to check the number of outputs and
    that the inputs are tensors of the declared ranks.

    Raises:
        ModelError: an attribute is missing or malformed (the message names it), axis 0 of an input
            or output is not dynamic, ``example_inputs`` gives the wrong number of tensors, or the
            model returns the wrong number of outputs.
    """
    kind = type(model).__qualname__
    inputs = _names(model, "input_names")
    outputs = _names(model, "output_names")
    clash = sorted(set(inputs) & set(outputs))
    if clash:
        raise ModelError(f"{kind}: {', '.join(clash)} named both as input and output")

    axes = getattr(model, "dynamic_axes", None)
    if not isinstance(axes, Mapping):
        raise ModelError(
            f"{kind} does not follow the export protocol: dynamic_axes must be a dict "
            f"{{name: {{axis: axis_name}}}}, got {axes!r}"
        )
    dynamic: dict[str, dict[int, str]] = {}
    for name, spec in axes.items():
        if name not in inputs + outputs:
            raise ModelError(f"{kind}.dynamic_axes names {name!r}, which is neither an input nor an output")
        if not isinstance(spec, Mapping) or not all(
            isinstance(a, int) and not isinstance(a, bool) and a >= 0 and isinstance(n, str) and n
            for a, n in spec.items()
        ):
            raise ModelError(f"{kind}.dynamic_axes[{name!r}] must map axis numbers to names, got {spec!r}")
        dynamic[name] = {int(a): str(n) for a, n in spec.items()}
    not_batched = [name for name in inputs + outputs if 0 not in dynamic.get(name, {})]
    if not_batched:
        raise ModelError(
            f"{kind}.dynamic_axes must make axis 0 (the batch) of every input and output dynamic; "
            f"it does not for: {', '.join(not_batched)}"
        )

    example = getattr(model, "example_inputs", None)
    if not callable(example):
        raise ModelError(f"{kind} does not follow the export protocol: no example_inputs(batch) method")
    args = _as_tuple(example(2))
    if len(args) != len(inputs) or not all(torch.is_tensor(a) for a in args):
        raise ModelError(
            f"{kind}.example_inputs(2) must return {len(inputs)} tensor(s) ({', '.join(inputs)}), "
            f"got {[type(a).__name__ for a in args]}"
        )
    for name, arg in zip(inputs, args, strict=True):
        if arg.ndim == 0 or arg.shape[0] != 2:
            raise ModelError(
                f"{kind}.example_inputs(2): input {name!r} must have the batch (2) on axis 0, "
                f"got shape {tuple(arg.shape)}"
            )
        bad = [a for a in dynamic.get(name, {}) if a >= arg.ndim]
        if bad:
            raise ModelError(
                f"{kind}.dynamic_axes[{name!r}] names axis {bad[0]}, but {name} has rank {arg.ndim}"
            )
    with torch.no_grad():
        result = _as_tuple(model(*args))
    if len(result) != len(outputs) or not all(torch.is_tensor(r) for r in result):
        raise ModelError(
            f"{kind}.forward returned {len(result)} value(s); output_names declares {len(outputs)} "
            f"({', '.join(outputs)})"
        )
    return inputs, outputs, dynamic


def check_against_spec(model: nn.Module, spec: ModelSpec) -> None:
    """Check that the model's inputs and outputs agree with its spec (bands, classes, window, embedding).

    Raises:
        ModelError: naming what disagrees.
    """
    kind = type(model).__qualname__
    inputs, outputs, dynamic = check_protocol(model)
    wave = "wave" in inputs
    if wave != (spec.extra.get("input") == "wave"):
        raise ModelError(
            f"{kind} takes {'wave' if wave else ', '.join(inputs)}, but its spec's extra['input'] is "
            f"{spec.extra.get('input')!r} (musicedge.extra.input): the runtime feeds samples to a model "
            "only when it is 'wave'"
        )
    args = _as_tuple(model.example_inputs(2))
    for name, arg in zip(inputs, args, strict=True):
        if name == "mel":
            if arg.ndim != 4 or arg.shape[1] != 1:
                raise ModelError(f"{kind}: input 'mel' must be (B, 1, n_mels, T), got {tuple(arg.shape)}")
            if arg.shape[2] != spec.frontend.n_mels:
                raise ModelError(
                    f"{kind} takes {arg.shape[2]} mel bands but its spec's frontend makes "
                    f"{spec.frontend.n_mels} (musicedge.frontend n_mels)"
                )
            if 3 not in dynamic.get("mel", {}) and arg.shape[3] != spec.window_frames:
                raise ModelError(
                    f"{kind} has a fixed time axis of {arg.shape[3]} frames but its spec's window_frames "
                    f"is {spec.window_frames}"
                )
        elif name == "wave":
            if arg.ndim != 3 or arg.shape[1] != 1:
                raise ModelError(f"{kind}: input 'wave' must be (B, 1, N), got {tuple(arg.shape)}")
            samples = spec.window_frames * spec.frontend.hop_length
            if 2 not in dynamic.get("wave", {}) and arg.shape[2] != samples:
                raise ModelError(
                    f"{kind} has a fixed window of {arg.shape[2]} samples but its spec's window is "
                    f"{samples} (window_frames {spec.window_frames} x hop_length {spec.frontend.hop_length})"
                )
        elif name == "meta":
            if arg.ndim != 2 or arg.dtype != torch.int64:
                raise ModelError(
                    f"{kind}: input 'meta' must be int64 (B, L), got {arg.dtype} {tuple(arg.shape)}"
                )
    with torch.no_grad():
        result = dict(zip(outputs, _as_tuple(model(*args)), strict=True))
    logits = result.get("logits")
    if logits is not None and spec.labels:
        if logits.ndim != 2 or logits.shape[1] != len(spec.labels):
            raise ModelError(
                f"{kind} outputs logits of shape {tuple(logits.shape)} but its spec has "
                f"{len(spec.labels)} labels (musicedge.labels)"
            )
    embedding = result.get("embedding")
    if embedding is not None and spec.embedding_dim is not None and embedding.shape[-1] != spec.embedding_dim:
        raise ModelError(
            f"{kind} outputs embeddings of size {embedding.shape[-1]} but its spec says "
            f"embedding_dim {spec.embedding_dim} (musicedge.embedding_dim)"
        )


# -- nn.MultiheadAttention, traceable with dynamic shapes ----------------------------------------


class ExportableMultiheadAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` with the same weights and maths, whose reshapes trace with dynamic
    batch and length (torch's own computes ``bsz * num_heads`` in Python, a constant once traced).

    Used only on the copy of a model that is exported; configurations it does not cover
    (``add_bias_kv``, ``add_zero_attn``, different key/value sizes) fall back to torch's forward.
    Shapes: query ``(B, L, E)`` (``(L, B, E)`` unless ``batch_first``), key/value ``(B, S, E)``.
    """

    def forward(  # type: ignore[override]
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        if not self._qkv_same_embed_dim or self.bias_k is not None or self.add_zero_attn:
            return super().forward(
                query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights, is_causal
            )
        self_attention = query is key and key is value
        if not self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        heads, head_dim = self.num_heads, self.head_dim
        weight, bias = self.in_proj_weight, self.in_proj_bias
        if self_attention:
            q, k, v = F.linear(query, weight, bias).chunk(3, dim=-1)
        else:
            w_q, w_k, w_v = weight.chunk(3)
            b_q, b_k, b_v = bias.chunk(3) if bias is not None else (None, None, None)
            q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

        def split(x: Tensor) -> Tensor:  # (B, N, E) -> (B, H, N, Dh)
            return x.reshape(x.shape[0], x.shape[1], heads, head_dim).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(head_dim))  # (B, H, L, S)
        if attn_mask is None and is_causal:
            length = scores.shape[-1]
            attn_mask = torch.ones(length, length, dtype=torch.bool, device=scores.device).triu(1)
        if attn_mask is not None:
            if attn_mask.dim() == 3:  # (B * H, L, S)
                attn_mask = attn_mask.reshape(-1, heads, attn_mask.shape[-2], attn_mask.shape[-1])
            if attn_mask.dtype == torch.bool:
                scores = scores.masked_fill(attn_mask, float("-inf"))
            else:
                scores = scores + attn_mask
        if key_padding_mask is not None:
            padding = key_padding_mask[:, None, None, :]
            if padding.dtype == torch.bool:
                scores = scores.masked_fill(padding, float("-inf"))
            else:
                scores = scores + padding
        attn = torch.softmax(scores, dim=-1)
        if self.training and self.dropout > 0:
            attn = F.dropout(attn, p=self.dropout)
        out = torch.matmul(attn, v).transpose(1, 2)  # (B, L, H, Dh)
        out = out.reshape(out.shape[0], out.shape[1], heads * head_dim)
        out = F.linear(out, self.out_proj.weight, self.out_proj.bias)
        if not self.batch_first:
            out = out.transpose(0, 1)
        weights = None
        if need_weights:
            weights = attn.mean(dim=1) if average_attn_weights else attn
        return out, weights


def _exportable_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` on the CPU in eval mode, its ``nn.MultiheadAttention`` layers made
    traceable (:class:`ExportableMultiheadAttention`)."""
    exported = copy.deepcopy(model).cpu().eval()
    for module in exported.modules():
        if type(module) is nn.MultiheadAttention:
            module.__class__ = ExportableMultiheadAttention
    return exported


@contextlib.contextmanager
def _export_context() -> Iterator[None]:
    """Torch's fused fast paths off (they have no ONNX form), and the warnings that the verification
    makes moot silenced."""
    mha = getattr(torch.backends, "mha", None)
    fastpath = mha.get_fastpath_enabled() if mha is not None else None
    if mha is not None:
        mha.set_fastpath_enabled(False)
    try:
        with warnings.catch_warnings():
            # We choose the TorchScript exporter on purpose (see the module docstring).
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            # Exported RNNs get no initial state input, so every batch size runs; verify checks it.
            warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            # torch 2.13's own TorchScript exporter calls a deprecated logging helper of its own.
            warnings.filterwarnings(
                "ignore", message="The feature will be removed", category=DeprecationWarning
            )
            yield
    finally:
        if mha is not None:
            mha.set_fastpath_enabled(fastpath)


# -- writing -----------------------------------------------------------------------------------------


def to_onnx(model: nn.Module, *, example_inputs: Sequence[Tensor] | None = None) -> onnx.ModelProto:
    """Trace ``model`` (protocol checked) into an ONNX ``ModelProto`` with its declared dynamic axes,
    opset :data:`~export.OPSET`, ``ir_version`` :data:`~export.IR_VERSION`; no metadata yet.

    Args:
        model: a model that follows the export protocol; it is copied, not changed.
        example_inputs: the tensors to trace with (default ``model.example_inputs(2)``).

    Raises:
        ModelError: the model does not follow the protocol, or torch cannot export it.
    """
    inputs, outputs, dynamic = check_protocol(model)
    exported = _exportable_copy(model)
    args = tuple(t.detach().cpu() for t in _as_tuple(example_inputs or exported.example_inputs(2)))
    kind = type(model).__qualname__
    buffer = io.BytesIO()
    try:
        with _export_context(), torch.no_grad():
            torch.onnx.export(
                exported,
                args,
                buffer,
                input_names=list(inputs),
                output_names=list(outputs),
                dynamic_axes=dynamic,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
    except Exception as exc:  # noqa: BLE001 - torch's exporter raises many unrelated classes
        text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split())  # no terminal colours
        raise ModelError(f"torch could not export {kind} to ONNX: {text[:2000]}") from None
    proto = onnx.load_model_from_string(buffer.getvalue())
    opsets = {entry.domain: entry.version for entry in proto.opset_import}
    if opsets.get("") != OPSET:
        raise ModelError(f"{kind}: torch wrote opset {opsets.get('')}, not {OPSET}")
    proto.ir_version = IR_VERSION
    return proto


def write_metadata(proto: onnx.ModelProto, metadata: Mapping[str, str]) -> onnx.ModelProto:
    """Set ``metadata_props`` in place: every ``musicedge.*`` key replaced by ``metadata``'s, other keys kept.

    Also stamps ``producer_name``/``producer_version`` (musicedge) and a one-line ``doc_string``.
    """
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise ParameterError("metadata keys and values must all be strings")
    kept = {p.key: p.value for p in proto.metadata_props if not p.key.startswith(PREFIX)}
    kept.update(metadata)
    del proto.metadata_props[:]
    for key, value in kept.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "musicedge"
    proto.producer_version = MUSICEDGE_VERSION
    name = metadata.get(PREFIX + "model_name")
    if name:
        task, version = metadata.get(PREFIX + "task", ""), metadata.get(PREFIX + "model_version", "")
        proto.doc_string = f"musicedge {task} model {name} {version}".replace("  ", " ").strip()
    return proto


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict (every key, not only ``musicedge.*``)."""
    proto = onnx.load(os.fspath(path), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def save_checked(proto: onnx.ModelProto, path: str | os.PathLike[str]) -> Path:
    """``onnx.checker`` (full check, with shape inference), then an atomic write to ``path``."""
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the exported graph does not pass onnx.checker: {exc}") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        onnx.save_model(proto, os.fspath(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- the report --------------------------------------------------------------------------------------


@dataclass
class ExportReport:
    """What :func:`export_model` did; ``str(report)`` / :meth:`summary` is the printed report.

    Attributes:
        onnx_path: the fp32 file.
        spec: the spec written into it.
        opset, ir_version, size_bytes: what was written.
        inputs, outputs: ``{name: shape}`` of the graph, dynamic axes by name.
        checks: one dict per verified input set (from :func:`export.verify.compare`, plus
            ``"name"``, ``"tolerance"``, ``"passed"``); empty when not verified.
        int8_path, int8_size_bytes: the int8 copy, when asked for.
        quantization: the int8 method and its measurements (:class:`export.quantize.QuantizeResult`
            as a dict), when asked for.
        verified: whether the checks ran (``False`` with ``verify=False``).
        notes: anything worth knowing (no real audio found, lengths the model refused ...).
        seconds: wall time of the whole export.
        source: what was exported (the checkpoint path), for the report.
        real_inputs: where the real windows came from (``None`` when there were none).
    """

    onnx_path: Path
    spec: ModelSpec
    opset: int
    ir_version: int
    size_bytes: int
    inputs: dict[str, tuple[int | str, ...]]
    outputs: dict[str, tuple[int | str, ...]]
    checks: list[dict[str, Any]] = field(default_factory=list)
    int8_path: Path | None = None
    int8_size_bytes: int | None = None
    quantization: dict[str, Any] | None = None
    verified: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    source: str | None = None
    real_inputs: str | None = None

    @property
    def passed(self) -> bool:
        """Every check passed (``True`` when nothing was verified)."""
        return all(check["passed"] for check in self.checks)

    @property
    def max_abs_diff(self) -> float | None:
        """The largest fp32 difference from torch over every fp32 check (``None`` when unverified)."""
        values = [c["max_abs_diff"] for c in self.checks if not c["name"].startswith("int8")]
        return max(values) if values else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the report."""
        return {
            "onnx_path": str(self.onnx_path),
            "model": f"{self.spec.model_name} {self.spec.model_version}",
            "task": self.spec.task,
            "opset": self.opset,
            "ir_version": self.ir_version,
            "size_bytes": self.size_bytes,
            "inputs": {k: list(v) for k, v in self.inputs.items()},
            "outputs": {k: list(v) for k, v in self.outputs.items()},
            "verified": self.verified,
            "passed": self.passed,
            "checks": [{k: v for k, v in c.items() if k != "cases"} for c in self.checks],
            "int8_path": str(self.int8_path) if self.int8_path else None,
            "int8_size_bytes": self.int8_size_bytes,
            "quantization": self.quantization,
            "real_inputs": self.real_inputs,
            "notes": list(self.notes),
            "seconds": self.seconds,
        }

    def summary(self) -> str:
        def shape(dims: tuple[int | str, ...]) -> str:
            return "(" + ", ".join(str(d) for d in dims) + ")"

        spec = self.spec
        lines = [
            f"exported {self.source + ' -> ' if self.source else ''}{self.onnx_path}",
            f"  model    {spec.model_name} {spec.model_version}, task {spec.task}"
            + (f", {len(spec.labels)} labels" if spec.labels else "")
            + (", multilabel" if spec.multilabel else ""),
            f"  graph    {', '.join(f'{k} {shape(v)}' for k, v in self.inputs.items())} -> "
            f"{', '.join(f'{k} {shape(v)}' for k, v in self.outputs.items())}",
            f"  file     {_size_text(self.size_bytes)}, opset {self.opset}, IR {self.ir_version}, "
            f"{len(spec.to_metadata())} musicedge.* metadata keys",
        ]
        if not self.verified:
            lines.append("  verify   skipped (--no-verify)")
        elif self.real_inputs:
            lines.append(f"  inputs   random from the model's example_inputs; real: {self.real_inputs}")
        for check in self.checks:
            lines.append("  " + _check_line(check))
        if self.int8_path is not None:
            q = self.quantization or {}
            size = _size_text(self.int8_size_bytes or 0)
            lines.append(f"  int8     {self.int8_path}, {size}: {q.get('description', '')}")
            timing = q.get("latency_ms") or {}
            if timing:
                parts = ", ".join(f"{name} {ms:.3f} ms" for name, ms in timing.items())
                lines.append(
                    f"           batch 1, 1 thread: {parts}; kept {q.get('method')}: "
                    f"{q.get('speedup', float('nan')):.2f}x the speed of fp32"
                )
        for note in self.notes:
            lines.append(f"  note     {note}")
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(f"  result   {verdict if self.verified else 'not verified'} in {self.seconds:.1f} s")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _size_text(size: int) -> str:
    return f"{size / 1024:.1f} KiB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.2f} MiB"


def _check_line(check: dict[str, Any]) -> str:
    status = "ok" if check["passed"] else "FAILED"
    shapes = f" {check['shape_range']}" if check.get("shape_range") else ""
    line = (
        f"{check['name']:<12} {check['n_cases']} batch(es), {check['n_examples']} example(s){shapes}: "
        f"max |diff| {check['max_abs_diff']:.2e}"
    )
    if check.get("tolerance") is not None:
        line += f" (tol {check['tolerance']:.0e})"
    if check.get("top1_agreement") is not None:
        line += f", top-1 agreement {100 * check['top1_agreement']:.1f}%"
    elif check.get("cosine_min") is not None and check["name"].startswith("int8"):
        line += f", min cosine {check['cosine_min']:.4f}"
    line += f"  {status}"
    if check.get("problem"):
        line += f": {check['problem']}"
    return line


# -- the whole export --------------------------------------------------------------------------------


def _real_text(description: str, checks: int, calibration: int, judged: int, int8: bool) -> str:
    if not int8:
        return f"{checks} windows of {description}"
    if calibration + judged > max(calibration, judged):
        return (
            f"{calibration + judged} windows of {description} ({checks} for the fp32 checks; int8 "
            f"calibrated on {calibration}, judged on the {judged} others)"
        )
    return f"{judged} windows of {description} (too few to keep int8 calibration apart: the same windows)"


def _graph_io(path: Path) -> tuple[dict[str, tuple[int | str, ...]], dict[str, tuple[int | str, ...]]]:
    proto = onnx.load(os.fspath(path), load_external_data=False)

    def dims(value: onnx.ValueInfoProto) -> tuple[int | str, ...]:
        return tuple(
            d.dim_param if d.HasField("dim_param") else int(d.dim_value)
            for d in value.type.tensor_type.shape.dim
        )

    initializers = {i.name for i in proto.graph.initializer}
    inputs = {v.name: dims(v) for v in proto.graph.input if v.name not in initializers}
    outputs = {v.name: dims(v) for v in proto.graph.output}
    return inputs, outputs


def export_model(
    model: nn.Module,
    spec: ModelSpec,
    out_path: str | os.PathLike[str],
    *,
    int8: bool = False,
    verify: bool = True,
    calibration: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    atol: float = 1e-4,
    int8_method: str = "auto",
    int8_min_agreement: float = 0.9,
    max_real_windows: int = 64,
    source: str | None = None,
) -> ExportReport:
    """Export ``model`` with ``spec`` in its metadata to ``out_path``, verify it, optionally add an int8 copy.

    Args:
        model: a trained model that follows the export protocol (left unchanged).
        spec: its :class:`ModelSpec`; every ``musicedge.*`` key goes into the file.
        out_path: the fp32 ``.onnx`` file; the int8 copy is ``<stem>.int8.onnx`` beside it.
        int8: also write the int8 copy (:func:`export.quantize.quantize`), calibrated on real inputs.
        verify: compare ONNX Runtime with torch (fp32: max abs difference below ``atol`` on random
            inputs at several batch sizes and lengths, and on real windows; int8: top-1 agreement with
            fp32 of at least ``int8_min_agreement`` on the real windows). A failed check raises
            :class:`export.verify.VerificationError` and leaves no new file behind.
        calibration: where real inputs come from: audio files, folders of audio or ``.npy`` files, or
            one ``.npy`` (see :func:`export.verify.real_inputs`); default: the real music in
            ``../shared/data/real/music`` when present, else random inputs only.
        atol: the fp32 tolerance.
        int8_method: ``"auto"`` (the faster of static and dynamic among those that keep accuracy),
            ``"static"`` or ``"dynamic"``.
        max_real_windows: real windows used for the checks; int8 calibration uses up to twice as many
            other windows (the same ones when there are no others).
        source: what to call the model in the report (e.g. the checkpoint path).

    Returns:
        An :class:`ExportReport` (print it).

    Raises:
        ModelError: the model does not follow the protocol, disagrees with its spec, or cannot be
            exported; VerificationError (a ModelError) when a check fails.
    """
    from . import quantize as quantize_module
    from . import verify as verify_module

    started = time.perf_counter()
    if not isinstance(spec, ModelSpec):
        raise ParameterError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    if not (isinstance(atol, (int, float)) and atol > 0):
        raise ParameterError(f"atol must be a positive number, got {atol!r}")
    if int8_method not in quantize_module.METHODS:
        raise ParameterError(
            f"int8_method must be one of {', '.join(quantize_module.METHODS)}, got {int8_method!r}"
        )
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".onnx":
        raise ParameterError(f"the output file must end in .onnx, got {out_path}")
    int8_path = out_path.with_name(out_path.stem + ".int8.onnx")
    torch_model = copy.deepcopy(model).cpu().eval()
    check_against_spec(torch_model, spec)

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="musicedge-export-") as tmp_dir:
        tmp_fp32 = Path(tmp_dir) / out_path.name
        tmp_int8 = Path(tmp_dir) / int8_path.name
        proto = to_onnx(torch_model)
        write_metadata(proto, spec.to_metadata())
        save_checked(proto, tmp_fp32)
        del proto

        # Real windows. fp32 is checked on max_real_windows of them. With int8, a third (at most
        # 2 * max_real_windows) calibrate it, and it is judged on all the others, which it was not
        # calibrated on: enough of them (up to 5 * max_real_windows) to resolve 1 point of agreement.
        if verify or int8:
            real = verify_module.real_inputs(
                torch_model,
                spec,
                calibration,
                max_windows=(7 if int8 else 1) * max_real_windows,
                seconds_per_file=60.0 if int8 else 30.0,
            )
        else:
            real = verify_module.RealInputs(tuple(torch_model.input_names), notes=["real inputs not read"])
        notes.extend(real.notes)
        if int8:
            calibration_windows, int8_windows = real.split(min(2 * max_real_windows, max(1, real.count // 3)))
        else:
            calibration_windows, int8_windows = real, real
        check_windows, _ = int8_windows.split(max_real_windows)
        verify_cases = check_windows.cases()
        int8_cases = int8_windows.cases()
        checks: list[dict[str, Any]] = []
        if verify:
            checks.extend(
                verify_module.verify_fp32(torch_model, tmp_fp32, spec, real_cases=verify_cases, atol=atol)
            )
            for check in checks:
                notes.extend(check.get("notes", []))

        quantization = None
        if int8 and all(c["passed"] for c in checks):
            result = quantize_module.quantize(
                tmp_fp32,
                tmp_int8,
                calibration=calibration_windows.feeds(),
                eval_feeds=[verify_module.case_feeds(case) for case in int8_cases]
                or [verify_module.case_feeds(case) for case in verify_module.random_cases(torch_model)],
                method=int8_method,
                calibration_source=f"{real.n_files} file(s)",  # no local paths in the metadata
            )
            quantization = result.to_dict()
            notes.extend(result.notes)
            if verify:
                checks.append(
                    verify_module.verify_int8(
                        tmp_fp32,
                        tmp_int8,
                        torch_model,
                        real_cases=int8_cases,
                        min_agreement=int8_min_agreement,
                        comparison=result.comparison,
                    )
                )

        report = ExportReport(
            onnx_path=out_path,
            spec=spec,
            opset=OPSET,
            ir_version=IR_VERSION,
            size_bytes=tmp_fp32.stat().st_size,
            inputs={},
            outputs={},
            checks=checks,
            verified=verify,
            notes=notes,
            quantization=quantization,
            source=source,
            real_inputs=_real_text(
                real.description, check_windows.count, calibration_windows.count, int8_windows.count, int8
            )
            if real.count
            else None,
        )
        report.inputs, report.outputs = _graph_io(tmp_fp32)
        if int8 and quantization is not None:
            report.int8_path = int8_path
            report.int8_size_bytes = tmp_int8.stat().st_size
        report.seconds = time.perf_counter() - started
        if not report.passed:
            failed = [c for c in checks if not c["passed"]]
            raise verify_module.VerificationError(
                "; ".join(f"{c['name']}: {c.get('problem', 'failed')}" for c in failed)
                + f" (nothing written to {out_path}; --no-verify writes it unchecked)",
                report=report,
            )
        out_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(os.fspath(tmp_fp32), os.fspath(out_path))
        if report.int8_path is not None:
            shutil.move(os.fspath(tmp_int8), os.fspath(int8_path))
    return report


def export_checkpoint(
    checkpoint_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    int8: bool = False,
    verify: bool = True,
    calibration: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    **options: Any,
) -> ExportReport:
    """Rebuild the model of a training checkpoint (:func:`training.checkpoint.load_checkpoint`) and
    export it with :func:`export_model` (same arguments; ``options`` are its keyword options).

    Raises:
        ModelError: the checkpoint cannot be read or rebuilt, or anything :func:`export_model` raises.
    """
    from training.checkpoint import load_checkpoint

    model, spec, _ = load_checkpoint(checkpoint_path)
    unknown = sorted(set(options) - set(inspect.signature(export_model).parameters))
    if unknown:
        raise ParameterError(f"unknown export option(s): {', '.join(unknown)}")
    options.setdefault("source", str(checkpoint_path))
    return export_model(model, spec, out_path, int8=int8, verify=verify, calibration=calibration, **options)
