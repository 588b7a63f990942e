"""Training checkpoints that rebuild their model without a registry.

A checkpoint is a ``torch.save``'d dict of builtins and tensors (so ``torch.load(weights_only=True)``
reads it)::

    {
        "format": "musicedge.checkpoint", "version": 1,
        "model_class": "package.module:QualName",   # imported to rebuild the model
        "model_kwargs": {...},                       # JSON-serialisable constructor arguments
        "state_dict": {...},                         # CPU tensors
        "spec": ModelSpec.to_dict(),                 # what export writes into the ONNX metadata
        "epoch": int, "metrics": {...}, "history": [{...}, ...],
    }

The model class must be importable by its module path (not defined in ``__main__`` or inside a
function), and its constructor must accept ``**model_kwargs``. A model declares those arguments with
a ``model_kwargs`` attribute (a dict), or they are passed to :func:`save_checkpoint` /
``training.loop.fit``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from musicedge.errors import ModelError, ParameterError
from musicedge.spec import ModelSpec

FORMAT = "musicedge.checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "model_class", "model_kwargs", "state_dict", "spec", "epoch")

__all__ = [
    "FORMAT",
    "VERSION",
    "build_model",
    "import_model_class",
    "load_checkpoint",
    "model_class_path",
    "resolve_model_kwargs",
    "save_checkpoint",
]


def model_class_path(model: nn.Module) -> str:
    """``"module:QualName"`` of the model's class; refuses classes that cannot be imported back."""
    cls = type(model)
    module, qualname = cls.__module__, cls.__qualname__
    if module == "__main__" or "<locals>" in qualname:
        raise ParameterError(
            f"model class {qualname} (module {module}) cannot be imported by another process; "
            "define it at the top level of an importable module"
        )
    return f"{module}:{qualname}"


def import_model_class(path: str) -> type[nn.Module]:
    """The class named by ``"module:QualName"``; a ``ModelError`` naming it when it is not there."""
    module_name, sep, qualname = path.partition(":")
    if not sep or not module_name or not qualname:
        raise ModelError(f"checkpoint model_class must look like 'module:QualName', got {path!r}")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"cannot import checkpoint model_class {path!r}: {exc}") from None
    if not (isinstance(obj, type) and issubclass(obj, nn.Module)):
        raise ModelError(f"checkpoint model_class {path!r} is not a torch.nn.Module subclass")
    return obj


def resolve_model_kwargs(model: nn.Module, model_kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The constructor arguments that rebuild ``model``: ``model_kwargs`` if given, else the model's
    ``model_kwargs`` attribute, else ``{}`` when the constructor needs no argument.

    Raises:
        ParameterError: none of these applies, or the arguments are not JSON-serialisable.
    """
    if model_kwargs is None:
        model_kwargs = getattr(model, "model_kwargs", None)
    if model_kwargs is None:
        try:
            inspect.signature(type(model)).bind()
        except TypeError:
            raise ParameterError(
                f"cannot tell how to rebuild {type(model).__qualname__}: pass model_kwargs or give the model "
                "a `model_kwargs` dict attribute holding its constructor arguments"
            ) from None
        model_kwargs = {}
    if not isinstance(model_kwargs, Mapping):
        raise ParameterError(f"model_kwargs must be a dict, got {type(model_kwargs).__name__}")
    try:
        text = json.dumps(dict(model_kwargs), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"model_kwargs must be JSON-serialisable: {exc}") from None
    return json.loads(text)


def build_model(model_class: str, model_kwargs: Mapping[str, Any]) -> nn.Module:
    """Instantiate ``model_class`` (``"module:QualName"``) with ``model_kwargs``."""
    cls = import_model_class(model_class)
    try:
        return cls(**model_kwargs)
    except TypeError as exc:
        raise ModelError(f"cannot build {model_class} with {dict(model_kwargs)}: {exc}") from None


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    spec: ModelSpec,
    *,
    model_kwargs: Mapping[str, Any] | None = None,
    epoch: int,
    metrics: Mapping[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    state_dict: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Write a checkpoint atomically (a temporary file, then a rename); returns its path.

    ``state_dict`` defaults to the model's own, copied to the CPU.
    """
    if not isinstance(spec, ModelSpec):
        raise ParameterError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    if state_dict is None:
        state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    checkpoint = {
        "format": FORMAT,
        "version": VERSION,
        "model_class": model_class_path(model),
        "model_kwargs": resolve_model_kwargs(model, model_kwargs),
        "state_dict": dict(state_dict),
        "spec": spec.to_dict(),
        "epoch": int(epoch),
        "metrics": dict(metrics or {}),
        "history": list(history or []),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(checkpoint, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelSpec, dict[str, Any]]:
    """Rebuild the model of a checkpoint, with its weights, in eval mode.

    Returns:
        ``(model, spec, checkpoint)``: the rebuilt model (on ``map_location``), its :class:`ModelSpec`
        and the whole checkpoint dict.

    Raises:
        ModelError: the file is missing or not a musicedge checkpoint, a key is missing, the model
            class cannot be imported, or the weights do not fit the rebuilt model.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and runtime errors alike
        raise ModelError(f"{path} is not a readable torch checkpoint: {exc}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ModelError(f"{path} is not a musicedge checkpoint (no format {FORMAT!r})")
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise ModelError(f"checkpoint {path} is missing key(s): {', '.join(missing)}")
    if not isinstance(checkpoint["version"], int) or checkpoint["version"] > VERSION:
        raise ModelError(
            f"checkpoint {path} has format version {checkpoint['version']!r}; "
            f"this musicedge reads up to {VERSION}"
        )
    spec = ModelSpec.from_dict(checkpoint["spec"])
    model = build_model(checkpoint["model_class"], checkpoint["model_kwargs"])
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as exc:
        raise ModelError(f"checkpoint {path} weights do not fit {checkpoint['model_class']}: {exc}") from None
    return model.to(map_location).eval(), spec, checkpoint
