"""The shared training loop and its checkpoints, on a tiny model that learns in well under a second."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from musicedge.config import FrontendConfig  # noqa: E402
from musicedge.errors import ModelError, ParameterError  # noqa: E402
from musicedge.spec import ModelSpec  # noqa: E402
from training.checkpoint import save_checkpoint  # noqa: E402
from training.loop import fit, load_checkpoint, resolve_device, seed_everything  # noqa: E402

torch.set_num_threads(1)

LABELS = ("low", "mid", "high")


class TinyClassifier(nn.Module):
    """A two-layer perceptron; ``model_kwargs`` records its constructor arguments for checkpoints."""

    def __init__(self, in_dim: int = 2, hidden: int = 16, n_classes: int = 3) -> None:
        super().__init__()
        self.model_kwargs = {"in_dim": in_dim, "hidden": hidden, "n_classes": n_classes}
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class NeedsArguments(nn.Module):
    """A model that does not say how to rebuild it."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.layer = nn.Linear(2, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def blobs(n: int, seed: int) -> TensorDataset:
    """Three Gaussian blobs in 2-D, one per class."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 3, (n,), generator=g)
    centres = torch.tensor([[-2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    return TensorDataset(centres[labels] + 0.6 * torch.randn(n, 2, generator=g), labels)


def loaders(batch_size: int = 32) -> tuple[DataLoader, DataLoader]:
    return (
        DataLoader(blobs(320, seed=1), batch_size=batch_size, shuffle=True),
        DataLoader(blobs(160, seed=2), batch_size=64),
    )


def accuracy(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    return {"accuracy": float((outputs.argmax(dim=1) == targets).float().mean())}


def make_spec() -> ModelSpec:
    return ModelSpec(
        task="classify",
        frontend=FrontendConfig.preset("melon16k"),
        window_frames=64,
        hop_frames=32,
        model_name="tiny-blobs",
        model_version="0.1.0",
        labels=LABELS,
        training={"data": "three Gaussian blobs (test)"},
        extra={"threshold": "0.5"},
    )


def train(tmp_path, **overrides) -> tuple[TinyClassifier, object]:
    seed_everything(0)
    model = TinyClassifier()
    train_loader, valid_loader = loaders()
    kwargs = dict(epochs=6, lr=0.05, out_dir=tmp_path, spec=make_spec(), seed=0, device="cpu")
    kwargs.update(overrides)
    return model, fit(model, train_loader, valid_loader, nn.functional.cross_entropy, accuracy, **kwargs)


def test_fit_learns_and_writes_reloadable_checkpoints(tmp_path, capsys) -> None:
    model, result = train(tmp_path)
    history = result.history
    assert result.epochs_run == 6 and not result.stopped_early
    assert history[-1]["train_loss"] < 0.5 * history[0]["train_loss"]
    assert result.monitor == "accuracy" and result.mode == "max"
    assert result.best_score == max(row["accuracy"] for row in history) > 0.9
    assert result.best_path == tmp_path / "best.pt" and result.best_path.is_file()
    assert result.last_path == tmp_path / "last.pt" and result.last_path.is_file()

    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch")]
    assert len(lines) == 6
    assert (
        lines[0].startswith("epoch   1/6  train_loss ")
        and "accuracy" in lines[0]
        and lines[0].count("s") >= 1
    )

    # best.pt rebuilds the model with identical outputs (fit restored the best weights)
    loaded, spec, checkpoint = load_checkpoint(result.best_path)
    assert isinstance(loaded, TinyClassifier) and not loaded.training
    x = torch.randn(10, 2)
    assert torch.equal(loaded(x), model(x))
    assert checkpoint["model_class"].endswith(":TinyClassifier")
    assert checkpoint["model_kwargs"] == {"in_dim": 2, "hidden": 16, "n_classes": 3}
    assert checkpoint["epoch"] == result.best_epoch
    assert checkpoint["metrics"]["accuracy"] == result.best_score
    assert len(checkpoint["history"]) == result.best_epoch

    # the spec round-trips, with the training record of the saved epoch
    assert spec == make_spec().replace(
        training={
            "data": "three Gaussian blobs (test)",
            "epochs": result.best_epoch,
            "metrics": checkpoint["metrics"],
        }
    )
    assert ModelSpec.from_metadata(spec.to_metadata()) == spec
    _, last_spec, last = load_checkpoint(result.last_path)
    assert last["epoch"] == 6 and last_spec.training["epochs"] == 6 and len(last["history"]) == 6


def test_early_stopping_on_a_stalled_metric(tmp_path, capsys) -> None:
    seed_everything(0)
    train_loader, valid_loader = loaders()
    calls = iter([0.5, 0.7, 0.7, 0.6, 0.9, 0.9, 0.9, 0.9])  # best at epoch 2, then no improvement

    def stalled(outputs, targets) -> float:
        return next(calls)

    result = fit(
        TinyClassifier(),
        train_loader,
        valid_loader,
        nn.functional.cross_entropy,
        stalled,
        epochs=8,
        lr=0.01,
        out_dir=tmp_path,
        spec=make_spec(),
        device="cpu",
        patience=2,
        monitor="score",
    )
    assert result.stopped_early and result.epochs_run == 4 and result.best_epoch == 2
    assert result.monitor == "score" and result.best_score == 0.7
    assert "early stop" in capsys.readouterr().err
    _, _, checkpoint = load_checkpoint(result.best_path)
    assert checkpoint["epoch"] == 2


def test_lower_is_better(tmp_path) -> None:
    seed_everything(0)
    train_loader, valid_loader = loaders()
    result = fit(
        TinyClassifier(),
        train_loader,
        valid_loader,
        nn.functional.cross_entropy,
        None,
        epochs=3,
        lr=0.05,
        out_dir=tmp_path,
        spec=make_spec(),
        device="cpu",
        schedule="onecycle",
    )
    assert result.monitor == "valid_loss" and result.mode == "min"
    assert result.best_score == min(row["valid_loss"] for row in result.history)
    errors = iter([0.3, 0.2, 0.25])
    result = fit(
        TinyClassifier(),
        train_loader,
        valid_loader,
        nn.functional.cross_entropy,
        lambda o, t: {"error": next(errors)},
        epochs=3,
        lr=0.05,
        out_dir=tmp_path,
        spec=make_spec(),
        device="cpu",
        mode="min",
        schedule="constant",
    )
    assert result.best_epoch == 2 and result.best_score == 0.2


def test_seeded_runs_are_identical(tmp_path) -> None:
    first_model, first = train(tmp_path / "a", epochs=2)
    second_model, second = train(tmp_path / "b", epochs=2)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in first.history]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in second.history]
    for (name, a), (_, b) in zip(
        first_model.state_dict().items(), second_model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_schedules_shape_the_learning_rate(tmp_path) -> None:
    _, cosine = train(tmp_path / "cos", epochs=4, lr=0.1, schedule="cosine")
    lrs = [row["lr"] for row in cosine.history]
    assert lrs == sorted(lrs, reverse=True) and math.isclose(lrs[-1], 0.1 * 1e-2, rel_tol=1e-6)
    _, onecycle = train(tmp_path / "one", epochs=4, lr=0.1, schedule="onecycle")
    lrs = [row["lr"] for row in onecycle.history]
    assert max(lrs) > lrs[-1] and lrs[-1] < 1e-3


def test_model_that_cannot_be_rebuilt_is_refused_before_training(tmp_path) -> None:
    train_loader, valid_loader = loaders()
    with pytest.raises(ParameterError, match="model_kwargs"):
        fit(
            NeedsArguments(3),
            train_loader,
            valid_loader,
            nn.functional.cross_entropy,
            epochs=1,
            lr=0.1,
            out_dir=tmp_path,
            spec=make_spec(),
            device="cpu",
        )
    with pytest.raises(ParameterError, match="does not rebuild"):
        fit(
            NeedsArguments(3),
            train_loader,
            valid_loader,
            nn.functional.cross_entropy,
            epochs=1,
            lr=0.1,
            out_dir=tmp_path,
            spec=make_spec(),
            device="cpu",
            model_kwargs={"width": 5},
        )

    class Local(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ParameterError, match="cannot be imported"):
        fit(
            Local(),
            train_loader,
            valid_loader,
            nn.functional.cross_entropy,
            epochs=1,
            lr=0.1,
            out_dir=tmp_path,
            spec=make_spec(),
            device="cpu",
        )
    assert not (tmp_path / "best.pt").exists()
    # explicit kwargs make it work
    result = fit(
        NeedsArguments(3),
        train_loader,
        valid_loader,
        nn.functional.cross_entropy,
        epochs=1,
        lr=0.1,
        out_dir=tmp_path,
        spec=make_spec(),
        device="cpu",
        model_kwargs={"width": 3},
    )
    loaded, _, _ = load_checkpoint(result.best_path)
    assert isinstance(loaded, NeedsArguments) and loaded.layer.out_features == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": 0}, "epochs"),
        ({"lr": float("nan")}, "lr"),
        ({"patience": 0}, "patience"),
        ({"schedule": "step"}, "schedule"),
        ({"grad_clip": 0.0}, "grad_clip"),
        ({"mode": "best"}, "mode"),
        ({"monitor": "valid_loss", "mode": "max"}, "lower-is-better"),
        ({"monitor": "f1"}, "not among the scores"),
        ({"spec": {"task": "classify"}}, "ModelSpec"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_arguments(tmp_path, overrides: dict, message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        train(tmp_path, **overrides)


def test_non_finite_loss_stops_training(tmp_path) -> None:
    train_loader, valid_loader = loaders()

    def exploding(outputs, targets):
        return nn.functional.cross_entropy(outputs, targets) * float("inf")

    with pytest.raises(FloatingPointError, match="epoch 1, step 0"):
        fit(
            TinyClassifier(),
            train_loader,
            valid_loader,
            exploding,
            epochs=1,
            lr=0.1,
            out_dir=tmp_path,
            spec=make_spec(),
            device="cpu",
        )


def test_resolve_device() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ParameterError, match="CUDA is not available"):
            resolve_device("cuda")
    with pytest.raises(ParameterError, match="device"):
        resolve_device("gpu")


def test_load_checkpoint_errors(tmp_path) -> None:
    with pytest.raises(ModelError, match="no checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="not a readable"):
        load_checkpoint(tmp_path / "garbage.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ModelError, match="not a musicedge checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    path = save_checkpoint(tmp_path / "ok.pt", TinyClassifier(), make_spec(), epoch=1)
    checkpoint = torch.load(path, weights_only=True)
    for key, value, message in [
        ("model_class", "training.nowhere:Model", "cannot import"),
        ("model_class", "no_colon", "module:QualName"),
        ("model_class", "torch:Tensor", "not a torch.nn.Module"),
        ("model_kwargs", {"hidden": 8}, "do not fit"),
        ("model_kwargs", {"depth": 3}, "cannot build"),
        ("spec", {"task": "classify"}, "missing"),
        ("version", 99, "format version"),
    ]:
        torch.save({**checkpoint, key: value}, tmp_path / "bad.pt")
        with pytest.raises(ModelError, match=message):
            load_checkpoint(tmp_path / "bad.pt")
    del checkpoint["state_dict"]
    torch.save(checkpoint, tmp_path / "bad.pt")
    with pytest.raises(ModelError, match="state_dict"):
        load_checkpoint(tmp_path / "bad.pt")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_precision_on_cuda(tmp_path) -> None:
    model, result = train(tmp_path, device="cuda", amp=True)
    assert result.device.type == "cuda" and result.best_score > 0.9
    loaded, _, _ = load_checkpoint(result.best_path)  # saved on the CPU, loads anywhere
    x = torch.randn(10, 2)
    torch.testing.assert_close(loaded(x), model(x.cuda()).cpu(), rtol=1e-5, atol=1e-5)
