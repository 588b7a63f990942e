"""ModelSpec: the ONNX metadata contract of DESIGN.md and the checkpoint dict form."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from musicedge.config import FrontendConfig
from musicedge.errors import ModelError, ParameterError
from musicedge.spec import METADATA_KEYS, SCHEMA_VERSION, TASKS, ModelSpec

DESIGN_KEYS = {
    "musicedge.schema",
    "musicedge.task",
    "musicedge.frontend",
    "musicedge.labels",
    "musicedge.multilabel",
    "musicedge.window_frames",
    "musicedge.hop_frames",
    "musicedge.embedding_dim",
    "musicedge.model_name",
    "musicedge.model_version",
    "musicedge.training",
}


def make_spec(**changes) -> ModelSpec:
    values = dict(
        task="classify",
        frontend=FrontendConfig.preset("gtzan22k"),
        window_frames=128,
        hop_frames=64,
        model_name="genre-cnn",
        model_version="1.2.0",
        labels=("blues", "jazz", "rock"),
        multilabel=False,
        training={"data": "synthetic gtzan layout, seed 0", "epochs": 12, "metrics": {"accuracy": 0.91}},
        extra={"threshold": "0.5"},
    )
    values.update(changes)
    return ModelSpec(**values)


SPECS = {
    "classify": make_spec(),
    "tagging": make_spec(multilabel=True, labels=("drums", "vocals"), extra={}),
    "segment": make_spec(
        task="segment",
        labels=(),
        frontend=FrontendConfig.preset("melon16k"),
        extra={"peak.threshold": "0.3", "peak.min_distance_s": "4.0", "median_filter": "9"},
    ),
    "fingerprint": make_spec(task="fingerprint", labels=(), embedding_dim=128, training={}),
    "latent": make_spec(
        task="latent_encoder",
        labels=(),
        embedding_dim=16,
        frontend=FrontendConfig(
            sample_rate=16000,
            n_fft=1024,
            win_length=640,
            window="hamming",
            htk=True,
            norm=None,
            fmin=30.0,
            fmax=7000.0,
            power=1.0,
            log="db",
            amin=1e-8,
        ),
    ),
}


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_metadata_round_trip(spec: ModelSpec) -> None:
    meta = spec.to_metadata()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items())
    assert set(METADATA_KEYS) == DESIGN_KEYS
    assert set(meta) == DESIGN_KEYS | {f"musicedge.extra.{key}" for key in spec.extra}
    assert ModelSpec.from_metadata(meta) == spec
    # Keys of other tools in the same metadata_props are ignored.
    assert ModelSpec.from_metadata({**meta, "producer": "export", "sherpa.version": "1"}) == spec


def test_metadata_encoding_is_the_documented_one() -> None:
    spec = SPECS["classify"]
    meta = spec.to_metadata()
    assert meta["musicedge.schema"] == str(SCHEMA_VERSION) == "1"
    assert meta["musicedge.task"] == "classify"
    assert meta["musicedge.frontend"] == spec.frontend.to_json()
    assert json.loads(meta["musicedge.labels"]) == ["blues", "jazz", "rock"]
    assert meta["musicedge.multilabel"] == "false"
    assert meta["musicedge.window_frames"] == "128"
    assert meta["musicedge.hop_frames"] == "64"
    assert meta["musicedge.embedding_dim"] == "null"
    assert meta["musicedge.model_name"] == "genre-cnn"
    assert meta["musicedge.model_version"] == "1.2.0"
    assert json.loads(meta["musicedge.training"]) == {
        "data": "synthetic gtzan layout, seed 0",
        "epochs": 12,
        "metrics": {"accuracy": 0.91},
    }
    assert meta["musicedge.extra.threshold"] == "0.5"
    assert SPECS["fingerprint"].to_metadata()["musicedge.embedding_dim"] == "128"
    assert SPECS["tagging"].to_metadata()["musicedge.multilabel"] == "true"


def test_metadata_reader_accepts_hand_written_variants() -> None:
    meta = SPECS["classify"].to_metadata()
    meta.update({"musicedge.multilabel": "1", "musicedge.window_frames": " 128 "})
    spec = ModelSpec.from_metadata(meta)
    assert spec.multilabel is True and spec.window_frames == 128


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_dict_round_trip(spec: ModelSpec) -> None:
    data = spec.to_dict()
    assert json.loads(json.dumps(data)) == data  # builtins only
    assert ModelSpec.from_dict(data) == spec
    assert ModelSpec.from_dict(json.loads(json.dumps(data))) == spec


@pytest.mark.parametrize("key", sorted(DESIGN_KEYS))
def test_missing_metadata_key_is_named(key: str) -> None:
    meta = SPECS["classify"].to_metadata()
    del meta[key]
    with pytest.raises(ModelError, match=key.replace(".", r"\.")):
        ModelSpec.from_metadata(meta)


MALFORMED = [
    ("musicedge.schema", "one"),
    ("musicedge.schema", "0"),
    ("musicedge.task", "transcribe"),
    ("musicedge.frontend", "{not json"),
    ("musicedge.frontend", '{"sample_rate": 22050, "n_fft": 1000}'),
    ("musicedge.frontend", '{"sample_rate": 22050, "colour": "red"}'),
    ("musicedge.labels", '"blues"'),
    ("musicedge.labels", '["blues", 3]'),
    ("musicedge.labels", '["blues", "blues"]'),
    ("musicedge.labels", "[]"),  # a classifier needs labels
    ("musicedge.multilabel", "maybe"),
    ("musicedge.window_frames", "0"),
    ("musicedge.window_frames", "12.5"),
    ("musicedge.hop_frames", ""),
    ("musicedge.embedding_dim", "-3"),
    ("musicedge.model_name", ""),
    ("musicedge.model_version", "  "),
    ("musicedge.training", "[1, 2]"),
    ("musicedge.training", "{"),
]


@pytest.mark.parametrize(("key", "value"), MALFORMED)
def test_malformed_metadata_key_is_named(key: str, value: str) -> None:
    meta = SPECS["classify"].to_metadata()
    meta[key] = value
    with pytest.raises(ModelError, match=key.replace(".", r"\.")):
        ModelSpec.from_metadata(meta)


def test_embedding_task_needs_embedding_dim_in_metadata() -> None:
    meta = SPECS["fingerprint"].to_metadata()
    meta["musicedge.embedding_dim"] = "null"
    with pytest.raises(ModelError, match=r"musicedge\.embedding_dim"):
        ModelSpec.from_metadata(meta)


def test_non_string_metadata_value_is_refused() -> None:
    meta: dict = SPECS["classify"].to_metadata()
    meta["musicedge.window_frames"] = 128
    with pytest.raises(ModelError, match=r"musicedge\.window_frames"):
        ModelSpec.from_metadata(meta)
    meta = {**SPECS["classify"].to_metadata(), "musicedge.extra.threshold": 0.5}
    with pytest.raises(ModelError, match=r"musicedge\.extra\.threshold"):
        ModelSpec.from_metadata(meta)
    meta = {**SPECS["classify"].to_metadata(), "musicedge.extra.bad key": "1"}
    with pytest.raises(ModelError, match=r"musicedge\.extra.*bad key"):
        ModelSpec.from_metadata(meta)
    with pytest.raises(ModelError, match="mapping"):
        ModelSpec.from_metadata([("musicedge.task", "classify")])  # type: ignore[arg-type]


def test_newer_schema_is_refused_clearly() -> None:
    meta = SPECS["classify"].to_metadata()
    meta["musicedge.schema"] = str(SCHEMA_VERSION + 1)
    del meta["musicedge.labels"]  # a newer schema may have other keys: the schema is checked first
    with pytest.raises(ModelError, match="newer.*upgrade musicedge"):
        ModelSpec.from_metadata(meta)
    data = SPECS["classify"].to_dict()
    data["schema"] = SCHEMA_VERSION + 1
    with pytest.raises(ModelError, match="newer.*upgrade musicedge"):
        ModelSpec.from_dict(data)
    with pytest.raises(ParameterError, match="schema"):
        make_spec(schema=SCHEMA_VERSION + 1)


def test_from_dict_errors_name_the_key() -> None:
    data = SPECS["classify"].to_dict()
    with pytest.raises(ModelError, match="missing.*task"):
        ModelSpec.from_dict({k: v for k, v in data.items() if k != "task"})
    with pytest.raises(ModelError, match="unknown.*colour"):
        ModelSpec.from_dict({**data, "colour": "red"})
    with pytest.raises(ModelError, match="'frontend'"):
        ModelSpec.from_dict({**data, "frontend": {"n_fft": 1000}})
    with pytest.raises(ModelError, match="'hop_frames'"):
        ModelSpec.from_dict({**data, "hop_frames": "64"})
    with pytest.raises(ModelError, match="mapping"):
        ModelSpec.from_dict(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"task": "dance"}, "task"),
        ({"frontend": {"sample_rate": 22050}}, "frontend"),
        ({"window_frames": 0}, "window_frames"),
        ({"hop_frames": 2.0}, "hop_frames"),
        ({"hop_frames": True}, "hop_frames"),
        ({"model_name": ""}, "model_name"),
        ({"labels": "blues"}, "labels"),
        ({"labels": ("a", "")}, "labels"),
        ({"labels": ("a", "b", "a")}, "labels"),
        ({"multilabel": "yes"}, "multilabel"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"task": "latent_decoder", "embedding_dim": None}, "embedding_dim"),
        ({"training": {"loss": float("nan")}}, "training"),
        ({"training": {"when": object()}}, "training"),
        ({"extra": {"bad key": "1"}}, "extra"),
        ({"extra": {"threshold": 0.5}}, "extra.threshold"),
    ],
)
def test_constructor_validates(changes: dict, field: str) -> None:
    with pytest.raises(ParameterError, match=field):
        make_spec(**changes)


def test_normalises_and_replaces() -> None:
    metrics = {"accuracy": 0.5, "per_class": (0.4, 0.6)}
    spec = make_spec(labels=["a", "b"], training={"metrics": metrics})
    assert spec.labels == ("a", "b")
    metrics["accuracy"] = 1.0  # the spec holds its own copy, normalised as JSON would
    assert spec.training == {"metrics": {"accuracy": 0.5, "per_class": [0.4, 0.6]}}
    assert ModelSpec.from_metadata(spec.to_metadata()) == spec
    other = spec.replace(model_version="2.0.0")
    assert other.model_version == "2.0.0" and other.labels == spec.labels
    with pytest.raises(ParameterError):
        spec.replace(window_frames=-1)
    assert set(TASKS) >= {"classify", "segment", "fingerprint", "latent_encoder", "latent_decoder"}


def test_extra_values() -> None:
    spec = SPECS["segment"]
    assert spec.extra_float("peak.threshold") == 0.3
    assert spec.extra_int("median_filter") == 9
    assert spec.extra_float("absent", default=1.5) == 1.5
    with pytest.raises(ModelError, match=r"musicedge\.extra\.absent"):
        spec.extra_float("absent")
    bad = spec.replace(extra={"median_filter": "nine", "gain": "inf"})
    with pytest.raises(ModelError, match=r"musicedge\.extra\.median_filter"):
        bad.extra_int("median_filter")
    with pytest.raises(ModelError, match="finite"):
        bad.extra_float("gain")


def test_spec_module_does_not_import_torch() -> None:
    code = "import sys, musicedge.spec; sys.exit(int('torch' in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
