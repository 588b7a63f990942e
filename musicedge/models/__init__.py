"""The models bundled with musicedge: small ONNX files beside this module, each with a model card.

A bundled model's name is its file stem (``genre-cnn.onnx`` is ``"genre-cnn"``) and its card is
``<name>.md`` (data, metrics, limits). ``probe.onnx`` is not a model: it is the tiny graph that
:mod:`musicedge.providers` runs to learn which ONNX Runtime providers work here.

    >>> from musicedge import models
    >>> models.available()                  # {'genre-cnn': PosixPath('.../genre-cnn.onnx'), ...}
    >>> models.resolve("genre-cnn")         # a bundled name -> its path
    >>> models.resolve("runs/my.onnx")      # a path to an existing file -> that path
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelError

__all__ = ["MODELS_DIR", "PROBE_NAME", "available", "card", "resolve"]

MODELS_DIR = Path(__file__).resolve().parent
"""The folder that holds the bundled ``.onnx`` files and their cards."""

PROBE_NAME = "probe.onnx"
"""The provider probe graph, kept beside the models but never listed as one."""


def available() -> dict[str, Path]:
    """The bundled models, ``{name: path}``, sorted by name (an empty dict when none is bundled)."""
    return {
        path.stem: path
        for path in sorted(MODELS_DIR.glob("*.onnx"))
        if path.name != PROBE_NAME and path.is_file()
    }


def card(name: str) -> Path | None:
    """The model card of a bundled model: ``<name>.md``, else the card of the model it is a variant
    or a part of (the stem before its first ``.`` or ``-``: ``genre.int8`` has ``genre.md``,
    ``latent-encoder`` has ``latent.md``); ``None`` when there is neither.

    Raises:
        ModelError: ``name`` is not a bundled model.
    """
    path = _bundled(name)
    stems = [name] + [name.split(sep)[0] for sep in (".", "-") if sep in name]
    for stem in stems:
        card_path = path.with_name(stem + ".md")
        if card_path.is_file():
            return card_path
    return None


def _looks_like_path(text: str) -> bool:
    return (
        os.sep in text
        or (os.altsep is not None and os.altsep in text)
        or text.lower().endswith(".onnx")
        or text.startswith(("~", "."))
    )


def _bundled(name: str) -> Path:
    models = available()
    if name in models:
        return models[name]
    known = ", ".join(models) if models else "none are installed"
    raise ModelError(f"unknown model {name!r}: not a file, nor a bundled model (bundled: {known})")


def resolve(name_or_path: str | os.PathLike[str]) -> Path:
    """The model file that ``name_or_path`` names.

    * a path (a ``Path``, or a string with a folder separator or ending in ``.onnx``) must be an
      existing file, and is returned as it is;
    * otherwise a bundled model's name is looked up first, then an existing file of that name.

    Raises:
        ModelError: a path that is missing or a folder, or a name that is neither bundled nor an
            existing file (the message lists the bundled names).
    """
    if isinstance(name_or_path, os.PathLike):
        text = os.fspath(name_or_path)
        is_path = True
    elif isinstance(name_or_path, str):
        text = name_or_path
        is_path = _looks_like_path(text)
    else:
        raise ModelError(f"a model is named by a string or a path, got {type(name_or_path).__name__}")
    if not text.strip():
        raise ModelError("empty model name")

    if is_path:
        path = Path(text).expanduser()
        if path.is_dir():
            raise ModelError(f"{path}: is a folder, not an ONNX model file")
        if not path.is_file():
            raise ModelError(f"{path}: no such model file")
        return path

    models = available()
    if text in models:
        return models[text]
    path = Path(text)
    if path.is_file():
        return path
    return _bundled(text)
