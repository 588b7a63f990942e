"""Classification and tagging models, by name.

==========  ======================  ==========================================================
name        input                   what
==========  ======================  ==========================================================
``cnn5``    mel                     seed 004's baseline: 5 conv-BN-ReLU-pool blocks
``resnet``  mel                     a small ResNet (basic blocks)
``ast``     mel                     a small Audio Spectrogram Transformer
``hubert``  wave                    strided 1-D conv feature encoder + transformer (HuBERT-like)
``fusion``  mel + meta              the CNN5 trunk joined with metadata token embeddings
==========  ======================  ==========================================================

Every model implements the protocol of :mod:`training.models.common` (``input_names``,
``output_names``, ``dynamic_axes``, ``example_inputs``, ``model_kwargs``), which ``export`` and the
runtime rely on. Build one with :func:`create_model`, which maps the task's settings (classes, mel
bands, window) onto the model's own arguments.
"""

from __future__ import annotations

import json
from typing import Any

from musicedge.errors import ParameterError

from .ast import AST
from .cnn import CNN5, ResNet
from .common import DB_FLOOR, ProtocolModel
from .fusion import Fusion
from .hubert import HuBERT

#: Model name -> class.
MODELS: dict[str, type[ProtocolModel]] = {
    "cnn5": CNN5,
    "resnet": ResNet,
    "ast": AST,
    "hubert": HuBERT,
    "fusion": Fusion,
}

__all__ = [
    "AST",
    "CNN5",
    "DB_FLOOR",
    "MODELS",
    "Fusion",
    "HuBERT",
    "ProtocolModel",
    "ResNet",
    "create_model",
    "input_kind",
    "parse_model_args",
]


def _model_class(name: str) -> type[ProtocolModel]:
    try:
        return MODELS[name]
    except KeyError:
        raise ParameterError(f"unknown model {name!r}; known: {', '.join(MODELS)}") from None


def input_kind(name: str) -> str:
    """What model ``name`` takes: ``"mel"``, ``"wave"`` or ``"mel+meta"``."""
    return _model_class(name).input_kind


def create_model(
    name: str,
    *,
    n_classes: int,
    n_mels: int,
    window_frames: int,
    hop_length: int,
    vocab_size: int | None = None,
    **kwargs: Any,
) -> ProtocolModel:
    """Model ``name`` for ``n_classes`` outputs on windows of ``window_frames`` frames.

    ``hop_length`` (samples per frame) sizes the waveform window of ``hubert``
    (``window_frames * hop_length`` samples); ``vocab_size`` is required by ``fusion``. ``kwargs`` are
    the model's own arguments (channels, depth ...), e.g. from :func:`parse_model_args`.

    Raises:
        ParameterError: an unknown model or argument, or a value out of its domain.
    """
    cls = _model_class(name)
    task: dict[str, Any] = {"n_classes": n_classes}
    if cls.input_kind == "wave":
        task["window_samples"] = window_frames * hop_length
    else:
        task.update(n_mels=n_mels, window_frames=window_frames)
    if cls.input_kind == "mel+meta":
        if vocab_size is None:
            raise ParameterError(f"model {name!r} needs a metadata vocabulary (vocab_size)")
        task["vocab_size"] = vocab_size
    clash = sorted(set(kwargs) & set(task))
    if clash:
        raise ParameterError(f"model argument(s) {', '.join(clash)} are set by the task; leave them out")
    try:
        return cls(**task, **kwargs)
    except TypeError as exc:
        raise ParameterError(f"bad argument for model {name!r}: {exc}") from None


def parse_model_args(items: list[str] | None) -> dict[str, Any]:
    """``["depth=2", "channels=[8,16,32,64,64]", "dropout=0.2"]`` -> a kwargs dict.

    Each value is read as JSON when it parses (numbers, lists, booleans), else kept as a string.
    """
    kwargs: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key.isidentifier():
            raise ParameterError(f"model argument must look like NAME=VALUE, got {item!r}")
        try:
            kwargs[key] = json.loads(text)
        except json.JSONDecodeError:
            kwargs[key] = text
    return kwargs
