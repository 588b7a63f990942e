"""``ModelSpec``: everything the runtime must know about a model, stored in the model file itself.

A spec travels in two forms:

* the ONNX file's ``metadata_props``: a flat ``dict[str, str]`` of ``musicedge.*`` keys
  (:meth:`ModelSpec.to_metadata` / :meth:`ModelSpec.from_metadata`), the contract of DESIGN.md;
* a training checkpoint: a plain nested dict (:meth:`ModelSpec.to_dict` / :meth:`ModelSpec.from_dict`).

Metadata keys and their encoding (every value is a string):

=============================  ===========================================================
``musicedge.schema``           integer, :data:`SCHEMA_VERSION` when written by this version
``musicedge.task``             one of :data:`TASKS`
``musicedge.frontend``         ``FrontendConfig.to_json()``
``musicedge.labels``           JSON list of strings
``musicedge.multilabel``       ``true`` or ``false``
``musicedge.window_frames``    integer, frames per model input window
``musicedge.hop_frames``       integer, frames between successive windows
``musicedge.embedding_dim``    integer, or ``null`` when the model has no embedding output
``musicedge.model_name``       string
``musicedge.model_version``    string
``musicedge.training``         JSON object (``data``, ``epochs``, ``metrics``)
``musicedge.extra.<key>``      string, one per entry of :attr:`ModelSpec.extra`
=============================  ===========================================================

This module must stay importable without torch (the runtime imports it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .config import FrontendConfig
from .errors import ModelError, ParameterError

SCHEMA_VERSION = 1
"""The metadata schema this version writes, and the newest it reads."""

TASKS = ("classify", "segment", "fingerprint", "latent_encoder", "latent_decoder")
"""The model tasks the runtime knows."""

EMBEDDING_TASKS = ("fingerprint", "latent_encoder", "latent_decoder")
"""Tasks whose models have an embedding (or latent) vector, so ``embedding_dim`` is required."""

PREFIX = "musicedge."
EXTRA_PREFIX = PREFIX + "extra."

# The core keys, in the order they are written (field name == key without the prefix).
METADATA_FIELDS = (
    "schema",
    "task",
    "frontend",
    "labels",
    "multilabel",
    "window_frames",
    "hop_frames",
    "embedding_dim",
    "model_name",
    "model_version",
    "training",
)
METADATA_KEYS = tuple(PREFIX + name for name in METADATA_FIELDS)

_EXTRA_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class _FieldError(ParameterError):
    """A ParameterError that remembers which field was wrong, so readers can name their own key."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.field = name
        self.detail = message


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class ModelSpec:
    """The setup of one trained model, as the runtime reads it.

    Attributes:
        task: what the model does, one of :data:`TASKS`.
        frontend: the mel frontend settings the model was trained on.
        window_frames: frames per model input window (the model sees ``(B, 1, n_mels, window_frames)``).
        hop_frames: frames between the starts of successive windows.
        model_name: short name, e.g. ``"genre-cnn"``.
        model_version: free-form version string, e.g. ``"1.0.0"``.
        labels: class or section labels, in output order (required for ``classify``).
        multilabel: outputs are independent sigmoids (tagging) rather than one softmax.
        embedding_dim: size of the embedding or latent vector; required for the tasks in
            :data:`EMBEDDING_TASKS`, ``None`` otherwise allowed.
        schema: metadata schema version, :data:`SCHEMA_VERSION`.
        training: how the model was trained, a JSON-serialisable dict with the keys ``data``
            (what it was trained on), ``epochs`` and ``metrics`` (validation scores).
        extra: task-specific settings as strings (thresholds, peak-picking parameters ...); keys use
            letters, digits, ``_``, ``.`` and ``-``. Read them with :meth:`extra_float` / :meth:`extra_int`.

    A spec holds dicts, so it compares by value but is not hashable.
    """

    task: str
    frontend: FrontendConfig
    window_frames: int
    hop_frames: int
    model_name: str
    model_version: str
    labels: tuple[str, ...] = ()
    multilabel: bool = False
    embedding_dim: int | None = None
    schema: int = SCHEMA_VERSION
    training: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise _FieldError("task", f"unknown task {self.task!r}; known: {', '.join(TASKS)}")
        if not isinstance(self.frontend, FrontendConfig):
            raise _FieldError("frontend", f"must be a FrontendConfig, got {type(self.frontend).__name__}")
        for name in ("window_frames", "hop_frames"):
            value = getattr(self, name)
            if not _is_int(value) or value <= 0:
                raise _FieldError(name, f"must be a positive integer, got {value!r}")
        for name in ("model_name", "model_version"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise _FieldError(name, f"must be a non-empty string, got {value!r}")

        if isinstance(self.labels, str) or not isinstance(self.labels, (list, tuple)):
            raise _FieldError("labels", f"must be a sequence of strings, got {type(self.labels).__name__}")
        labels = tuple(self.labels)
        if not all(isinstance(label, str) and label for label in labels):
            raise _FieldError("labels", "every label must be a non-empty string")
        if len(set(labels)) != len(labels):
            duplicates = sorted({label for label in labels if labels.count(label) > 1})
            raise _FieldError("labels", f"duplicate label(s): {', '.join(duplicates)}")
        if self.task == "classify" and not labels:
            raise _FieldError("labels", "a classify model needs at least one label")
        object.__setattr__(self, "labels", labels)

        if not isinstance(self.multilabel, bool):
            raise _FieldError("multilabel", f"must be a bool, got {self.multilabel!r}")
        if self.embedding_dim is not None and (not _is_int(self.embedding_dim) or self.embedding_dim <= 0):
            raise _FieldError(
                "embedding_dim", f"must be a positive integer or None, got {self.embedding_dim!r}"
            )
        if self.embedding_dim is None and self.task in EMBEDDING_TASKS:
            raise _FieldError("embedding_dim", f"a {self.task} model needs an embedding_dim")
        if not _is_int(self.schema) or self.schema < 1:
            raise _FieldError("schema", f"must be a positive integer, got {self.schema!r}")
        if self.schema > SCHEMA_VERSION:
            raise _FieldError(
                "schema",
                f"schema {self.schema} is newer than the newest this musicedge supports ({SCHEMA_VERSION}); "
                "upgrade musicedge",
            )

        if not isinstance(self.training, Mapping):
            raise _FieldError("training", f"must be a dict, got {type(self.training).__name__}")
        try:  # a JSON round trip: a deep copy, normalised as a metadata round trip would (tuples to lists)
            training = json.loads(json.dumps(dict(self.training), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise _FieldError("training", f"must be JSON-serialisable with finite numbers: {exc}") from None
        object.__setattr__(self, "training", training)

        if not isinstance(self.extra, Mapping):
            raise _FieldError("extra", f"must be a dict of strings, got {type(self.extra).__name__}")
        for key, value in self.extra.items():
            if not isinstance(key, str) or not _EXTRA_KEY.match(key):
                raise _FieldError("extra", f"bad key {key!r}: use letters, digits, '_', '.' and '-'")
            if not isinstance(value, str):
                raise _FieldError(f"extra.{key}", f"must be a string, got {type(value).__name__}")
        object.__setattr__(self, "extra", dict(self.extra))

    # -- helpers -----------------------------------------------------------------------------

    def replace(self, **changes: Any) -> ModelSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def extra_float(self, key: str, default: float | None = None) -> float:
        """``extra[key]`` as a finite float; ``default`` when absent (a ``ModelError`` if no default)."""
        return self._extra_number(key, default, float)

    def extra_int(self, key: str, default: int | None = None) -> int:
        """``extra[key]`` as an int; ``default`` when absent (a ``ModelError`` if no default)."""
        return self._extra_number(key, default, int)

    def _extra_number(self, key: str, default: Any, kind: type) -> Any:
        if key not in self.extra:
            if default is None:
                raise ModelError(f"model metadata has no '{EXTRA_PREFIX}{key}'")
            return default
        text = self.extra[key]
        try:
            value = kind(text)
        except ValueError:
            raise ModelError(
                f"metadata key '{EXTRA_PREFIX}{key}' must be {'an integer' if kind is int else 'a number'}, "
                f"got {text!r}"
            ) from None
        if kind is float and not math.isfinite(value):
            raise ModelError(f"metadata key '{EXTRA_PREFIX}{key}' must be finite, got {text!r}")
        return value

    # -- ONNX metadata ---------------------------------------------------------------------------

    def to_metadata(self) -> dict[str, str]:
        """The ``musicedge.*`` keys for the ONNX file's ``metadata_props`` (every value a string)."""
        meta = {
            PREFIX + "schema": str(self.schema),
            PREFIX + "task": self.task,
            PREFIX + "frontend": self.frontend.to_json(),
            PREFIX + "labels": json.dumps(list(self.labels)),
            PREFIX + "multilabel": "true" if self.multilabel else "false",
            PREFIX + "window_frames": str(self.window_frames),
            PREFIX + "hop_frames": str(self.hop_frames),
            PREFIX + "embedding_dim": "null" if self.embedding_dim is None else str(self.embedding_dim),
            PREFIX + "model_name": self.model_name,
            PREFIX + "model_version": self.model_version,
            PREFIX + "training": json.dumps(self.training, sort_keys=True, allow_nan=False),
        }
        meta.update({EXTRA_PREFIX + key: value for key, value in sorted(self.extra.items())})
        return meta

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> ModelSpec:
        """Read a spec from ONNX ``metadata_props``; keys outside ``musicedge.*`` are ignored.

        Raises:
            ModelError: a key is missing or malformed (the message names it), or the file's schema
                is newer than :data:`SCHEMA_VERSION`.
        """
        if not isinstance(metadata, Mapping):
            raise ModelError(f"model metadata must be a mapping, got {type(metadata).__name__}")
        reader = _MetadataReader(metadata)
        schema = reader.integer("schema", minimum=1)
        if schema > SCHEMA_VERSION:
            raise ModelError(
                f"model metadata 'musicedge.schema' is {schema}, newer than the newest this musicedge "
                f"reads ({SCHEMA_VERSION}); upgrade musicedge to use this model"
            )
        embedding_text = reader.text("embedding_dim")
        values: dict[str, Any] = {
            "schema": schema,
            "task": reader.text("task"),
            "frontend": reader.frontend(),
            "labels": reader.json("labels", list),
            "multilabel": reader.boolean("multilabel"),
            "window_frames": reader.integer("window_frames", minimum=1),
            "hop_frames": reader.integer("hop_frames", minimum=1),
            "embedding_dim": None
            if embedding_text.strip() == "null"
            else reader.integer("embedding_dim", minimum=1),
            "model_name": reader.text("model_name"),
            "model_version": reader.text("model_version"),
            "training": reader.json("training", dict),
            "extra": {
                key[len(EXTRA_PREFIX) :]: value
                for key, value in metadata.items()
                if isinstance(key, str) and key.startswith(EXTRA_PREFIX)
            },
        }
        try:
            return cls(**values)
        except _FieldError as exc:
            raise ModelError(f"model metadata '{PREFIX}{exc.field}' is malformed: {exc.detail}") from None

    # -- checkpoints -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of builtins (lists, not tuples) for checkpoints and JSON."""
        return {
            "schema": self.schema,
            "task": self.task,
            "frontend": self.frontend.to_dict(),
            "labels": list(self.labels),
            "multilabel": self.multilabel,
            "window_frames": self.window_frames,
            "hop_frames": self.hop_frames,
            "embedding_dim": self.embedding_dim,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "training": json.loads(json.dumps(self.training)),  # a deep copy
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        """The inverse of :meth:`to_dict`.

        Raises:
            ModelError: a key is missing, unknown or malformed (the message names it), or the schema
                is newer than :data:`SCHEMA_VERSION`.
        """
        if not isinstance(data, Mapping):
            raise ModelError(f"model spec must be a mapping, got {type(data).__name__}")
        all_fields = dataclasses.fields(cls)
        unknown = sorted(set(data) - {f.name for f in all_fields})
        if unknown:
            raise ModelError(f"model spec has unknown key(s): {', '.join(map(str, unknown))}")
        # The fields without a default, and the schema (a spec must say which schema it follows).
        required = {
            f.name
            for f in all_fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(name for name in required | {"schema"} if name not in data)
        if missing:
            raise ModelError(f"model spec is missing key(s): {', '.join(missing)}")
        values = dict(data)
        if _is_int(values["schema"]) and values["schema"] > SCHEMA_VERSION:
            raise ModelError(
                f"model spec schema {values['schema']} is newer than the newest this musicedge reads "
                f"({SCHEMA_VERSION}); upgrade musicedge"
            )
        try:
            values["frontend"] = FrontendConfig.from_dict(values["frontend"])
        except (ParameterError, TypeError) as exc:
            raise ModelError(f"model spec key 'frontend' is malformed: {exc}") from None
        try:
            return cls(**values)
        except _FieldError as exc:
            raise ModelError(f"model spec key '{exc.field}' is malformed: {exc.detail}") from None


class _MetadataReader:
    """Reads one ``musicedge.<name>`` key at a time, raising ``ModelError`` that names the key."""

    def __init__(self, metadata: Mapping[str, str]) -> None:
        self.metadata = metadata

    def fail(self, name: str, message: str) -> ModelError:
        return ModelError(f"model metadata '{PREFIX}{name}' is malformed: {message}")

    def text(self, name: str) -> str:
        key = PREFIX + name
        if key not in self.metadata:
            raise ModelError(f"model metadata has no '{key}' (is this a musicedge model file?)")
        value = self.metadata[key]
        if not isinstance(value, str):
            raise self.fail(name, f"expected a string, got {type(value).__name__}")
        return value

    def integer(self, name: str, minimum: int) -> int:
        text = self.text(name).strip()
        if not re.fullmatch(r"[+-]?\d+", text):
            raise self.fail(name, f"expected an integer, got {text!r}")
        value = int(text)
        if value < minimum:
            raise self.fail(name, f"expected an integer >= {minimum}, got {value}")
        return value

    def boolean(self, name: str) -> bool:
        text = self.text(name).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise self.fail(name, f"expected true or false, got {text!r}")

    def json(self, name: str, kind: type) -> Any:
        text = self.text(name)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(name, f"not valid JSON ({exc})") from None
        if not isinstance(value, kind):
            expected = "array" if kind is list else "object"
            raise self.fail(name, f"expected a JSON {expected}, got {text[:80]!r}")
        return value

    def frontend(self) -> FrontendConfig:
        text = self.text("frontend")
        try:
            return FrontendConfig.from_json(text)
        except (ParameterError, TypeError) as exc:
            raise self.fail("frontend", str(exc)) from None
