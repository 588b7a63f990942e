"""``OnnxModel``: one exported model file, its ONNX Runtime session and its ``ModelSpec``.

The runtime side of the export contract (DESIGN.md): ``python -m export`` writes the model's whole
setup into the file's ``metadata_props`` under ``musicedge.*``; this class reads it back into a
typed :class:`~musicedge.spec.ModelSpec` and refuses files it cannot trust::

    model = OnnxModel("genre-cnn.onnx", device="auto", threads=1)
    model.spec.labels, model.spec.window_frames   # ('blues', ...), 128
    model.provider                                  # 'CPUExecutionProvider': the one really running
    frames = model.frontend.compute(y)              # float32 (n_mels, n_frames)
    logits = model.run({"mel": windows})["logits"]  # (B, 1, n_mels, W) -> (B, n_classes)

Only numpy and onnxruntime are imported here (never torch or onnx), so the runtime stays light.
A session is safe to share across threads: :meth:`OnnxModel.run` keeps no state of its own and ONNX
Runtime's ``InferenceSession.run`` may be called concurrently.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError, ParameterError
from .frontend import MelFrontend
from .providers import choose_providers
from .spec import ModelSpec

__all__ = ["OnnxModel", "TensorInfo", "session_threads"]

# ONNX Runtime's tensor type strings -> numpy dtypes (the element types a model input may have).
_ORT_DTYPES: dict[str, np.dtype] = {
    "tensor(float)": np.dtype(np.float32),
    "tensor(double)": np.dtype(np.float64),
    "tensor(float16)": np.dtype(np.float16),
    "tensor(int64)": np.dtype(np.int64),
    "tensor(int32)": np.dtype(np.int32),
    "tensor(int16)": np.dtype(np.int16),
    "tensor(int8)": np.dtype(np.int8),
    "tensor(uint8)": np.dtype(np.uint8),
    "tensor(bool)": np.dtype(np.bool_),
}


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as the ONNX graph declares it.

    Attributes:
        name: the tensor's name in the graph (``"mel"``, ``"logits"`` ...).
        dtype: its numpy element type (``None`` for a type the runtime does not map, e.g. strings).
        shape: one entry per axis: an ``int`` for a fixed size, a ``str`` (``"batch"``, ``"time"``)
            or ``None`` for a dynamic one.
    """

    name: str
    dtype: np.dtype | None
    shape: tuple[int | str | None, ...]

    @property
    def rank(self) -> int:
        return len(self.shape)

    def describe(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        kind = self.dtype.name if self.dtype is not None else "?"
        return f"{self.name} {kind} ({dims})"


def _tensor_info(arg: Any) -> TensorInfo:
    shape = tuple(d if isinstance(d, (int, str)) else None for d in (arg.shape or ()))
    return TensorInfo(arg.name, _ORT_DTYPES.get(arg.type), shape)


def session_threads(sessions: int = 1) -> int:
    """Intra-op threads for each of ``sessions`` ONNX Runtime sessions (or other busy parties, such as
    a pool of decoders) that share the cores this process may use: its share, at least one. ONNX
    Runtime's own default (every physical core for each session) oversubscribes the cores when
    decoders or other sessions run beside it, and its spinning threads then take CPU from them."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks on this platform
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, sessions))


def session_options(threads: int | None = None):
    """ONNX Runtime options for every musicedge session: full graph optimisation, quiet logs, and with
    ``threads`` that many intra-op threads and one inter-op thread. The memory arena stays on: a run
    reuses the memory of the one before instead of faulting in fresh pages (see
    :meth:`OnnxModel.run`'s ``release_memory`` for the odd run much larger than the others)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Fatal only: every error ONNX Runtime would log also comes back as an exception, re-raised here
    # as a ModelError naming the file (a logged copy would only be noise on stderr).
    options.log_severity_level = 4
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return options


def cpu_session(path: str | os.PathLike[str], threads: int | None = None):
    """A bare ONNX Runtime CPU session with :func:`session_options` (no metadata needed): for export's
    checks, quantisation and benchmarks."""
    import onnxruntime as ort

    return ort.InferenceSession(
        os.fspath(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
    )


class OnnxModel:
    """An exported musicedge model: its ONNX Runtime session and its :class:`ModelSpec`.

    Args:
        path: the ``.onnx`` file (see :func:`musicedge.models.resolve` for bundled names).
        device: ``"auto"`` (the best provider that really runs here), ``"cpu"`` or ``"cuda"``
            (a :class:`~musicedge.errors.ParameterError` when CUDA does not run here).
        threads: ONNX Runtime's intra-op threads; ``None`` lets ONNX Runtime choose (one per
            physical core). Use 1 when several models or workers run side by side.

    Raises:
        ModelError: the file is missing, not an ONNX model ONNX Runtime can load, or its
            ``musicedge.*`` metadata is missing or malformed (the message names the file and the
            key); an invalid frontend configuration is one of these (``musicedge.frontend``).
        ParameterError: a bad ``device`` or ``threads``.

    Attributes (read-only properties): :attr:`path`, :attr:`spec`, :attr:`provider`,
    :attr:`input_names`, :attr:`output_names`, :attr:`inputs`, :attr:`outputs`, :attr:`frontend`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        device: str = "auto",
        threads: int | None = None,
    ) -> None:
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
            raise ParameterError(f"threads must be a positive integer or None, got {threads!r}")
        self._path = Path(path)
        self._session = None
        self._frontend: MelFrontend | None = None
        self._lock = threading.Lock()
        self._release = None  # the RunOptions of release_memory, made on first use
        self.threads = threads
        self.device = device

        try:
            st = self._path.stat()
        except FileNotFoundError:
            raise ModelError(f"{self._path}: no such model file") from None
        except OSError as exc:
            raise ModelError(f"{self._path}: cannot access the model file ({exc.strerror})") from None
        if self._path.is_dir():
            raise ModelError(f"{self._path}: is a folder, not an ONNX model file")
        if st.st_size == 0:
            raise ModelError(f"{self._path}: empty file (0 bytes), not an ONNX model")

        providers = choose_providers(device)  # ParameterError for a bad or unusable device
        import onnxruntime as ort

        try:
            session = ort.InferenceSession(
                str(self._path),
                sess_options=session_options(threads),
                providers=providers,
            )
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own classes, all Exception
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self._path}: not an ONNX model ONNX Runtime can load ({message})") from None

        metadata = session.get_modelmeta().custom_metadata_map or {}
        try:
            self._spec = ModelSpec.from_metadata(metadata)
        except ModelError as exc:
            raise ModelError(f"{self._path}: {exc}") from None

        self._session = session
        self._inputs = tuple(_tensor_info(arg) for arg in session.get_inputs())
        self._outputs = tuple(_tensor_info(arg) for arg in session.get_outputs())
        self._provider = session.get_providers()[0]

    # -- properties ------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The model file."""
        return self._path

    @property
    def spec(self) -> ModelSpec:
        """The model's setup, read from the file's ``musicedge.*`` metadata."""
        return self._spec

    @property
    def provider(self) -> str:
        """The execution provider that really runs the model (e.g. ``"CPUExecutionProvider"``)."""
        return self._provider

    @property
    def inputs(self) -> tuple[TensorInfo, ...]:
        """The graph's inputs, in order (name, dtype, shape with dynamic axes as names)."""
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorInfo, ...]:
        """The graph's outputs, in order."""
        return self._outputs

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(info.name for info in self._inputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(info.name for info in self._outputs)

    @property
    def frontend(self) -> MelFrontend:
        """A :class:`~musicedge.MelFrontend` built from ``spec.frontend``, made on first use.

        It is shared: call only its stateless, thread-safe ``compute(y)`` on it. For streaming,
        make one per stream with :meth:`create_frontend`.
        """
        if self._frontend is None:
            with self._lock:
                if self._frontend is None:
                    self._frontend = MelFrontend(self._spec.frontend)
        return self._frontend

    def create_frontend(self) -> MelFrontend:
        """A new :class:`~musicedge.MelFrontend` for ``spec.frontend`` (one per stream)."""
        return MelFrontend(self._spec.frontend)

    @property
    def closed(self) -> bool:
        return self._session is None

    @property
    def session(self):
        """The underlying ``onnxruntime.InferenceSession`` (for I/O binding, profiling ...)."""
        if self._session is None:
            raise ModelError(f"{self._path}: the model is closed")
        return self._session

    # -- running ---------------------------------------------------------------------------------

    def run(self, feeds: Mapping[str, np.ndarray], *, release_memory: bool = False) -> dict[str, np.ndarray]:
        """Run the model once.

        Args:
            feeds: one array per graph input, by name (:attr:`input_names`), each of the input's
                dtype and rank, with its fixed axes at their sizes; e.g. ``{"mel": float32 (B, 1,
                n_mels, W)}`` or ``{"mel": ..., "meta": int64 (B, L)}``.
            release_memory: give the memory arena's free chunks back after this run. For a run far
                larger than the usual ones (a long song through a model whose memory grows with the
                input), whose memory the session would otherwise keep for its whole life. Off, the
                next run reuses the memory, which for a model's usual input is much cheaper than
                faulting in fresh pages.

        Returns:
            ``{output name: array}`` in :attr:`output_names` order, e.g. ``{"logits": (B, C)}``.

        Raises:
            ParameterError: a missing or unknown input name, a wrong dtype, rank or fixed axis size
                (the message names the input and what it expects).
            ModelError: the model is closed, or ONNX Runtime fails on these inputs.
        """
        session = self._session
        if session is None:
            raise ModelError(f"{self._path}: the model is closed")
        prepared = self._check_feeds(feeds)
        try:
            values = session.run(None, prepared, self._release_options() if release_memory else None)
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime's own exception classes
            shapes = ", ".join(f"{name} {tuple(array.shape)}" for name, array in prepared.items())
            message = " ".join(str(exc).split())
            raise ModelError(f"{self._path}: ONNX Runtime failed on inputs {shapes}: {message}") from None
        return dict(zip(self.output_names, values, strict=True))

    def _release_options(self):
        if self._release is None:
            import onnxruntime as ort

            self._release = ort.RunOptions()
            arenas = "gpu:0;cpu:0" if self._provider == "CUDAExecutionProvider" else "cpu:0"
            self._release.add_run_config_entry("memory.enable_memory_arena_shrinkage", arenas)
        return self._release

    def _check_feeds(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not isinstance(feeds, Mapping):
            raise ParameterError(
                f"feeds must be a dict of input name -> array, got {type(feeds).__name__}; "
                f"inputs: {', '.join(self.input_names)}"
            )
        expected = self.input_names
        missing = [name for name in expected if name not in feeds]
        unknown = sorted(str(name) for name in feeds if name not in expected)
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing input(s) {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown input(s) {', '.join(unknown)}")
            described = "; ".join(info.describe() for info in self._inputs)
            raise ParameterError(f"{'; '.join(parts)}; the model takes: {described}")

        prepared: dict[str, np.ndarray] = {}
        for info in self._inputs:
            array = feeds[info.name]
            if not isinstance(array, np.ndarray):
                raise ParameterError(f"input {info.name!r} must be a numpy array, got {type(array).__name__}")
            if info.dtype is not None and array.dtype != info.dtype:
                raise ParameterError(
                    f"input {info.name!r} must be {info.dtype.name}, got {array.dtype.name} "
                    f"(convert with .astype(np.{info.dtype.name}))"
                )
            if array.ndim != info.rank:
                raise ParameterError(
                    f"input {info.name!r} must have rank {info.rank} {self._shape_text(info)}, "
                    f"got shape {tuple(array.shape)}"
                )
            for axis, (size, want) in enumerate(zip(array.shape, info.shape, strict=True)):
                if isinstance(want, int) and want >= 0 and size != want:
                    raise ParameterError(
                        f"input {info.name!r} axis {axis} must be {want} {self._shape_text(info)}, "
                        f"got shape {tuple(array.shape)}"
                    )
            if array.size == 0:
                raise ParameterError(f"input {info.name!r} is empty (shape {tuple(array.shape)})")
            prepared[info.name] = np.ascontiguousarray(array)
        return prepared

    @staticmethod
    def _shape_text(info: TensorInfo) -> str:
        return "(" + ", ".join("?" if d is None else str(d) for d in info.shape) + ")"

    # -- life cycle ------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the session; :meth:`run` raises afterwards. Calling it twice is harmless."""
        self._session = None

    def __enter__(self) -> OnnxModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self._provider
        return (
            f"OnnxModel({str(self._path)!r}, {self._spec.model_name} {self._spec.model_version}, "
            f"task={self._spec.task}, {state})"
        )
