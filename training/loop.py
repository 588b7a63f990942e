"""One training loop for every task: AdamW, a cosine or one-cycle schedule, mixed precision on CUDA,
gradient clipping, early stopping on a validation score, and checkpoints that ``export`` can rebuild.

A task calls :func:`fit` with its model, two loaders of ``(inputs, targets)`` batches, a loss and a
validation metric::

    result = fit(model, train_loader, valid_loader, nn.functional.cross_entropy, accuracy,
                 epochs=30, lr=1e-3, out_dir=run_dir, spec=spec, seed=0, patience=5)

and finds ``run_dir/best.pt`` and ``run_dir/last.pt`` (see :mod:`training.checkpoint`).
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch import Tensor, nn

from musicedge.errors import ParameterError
from musicedge.spec import ModelSpec

from .checkpoint import build_model, load_checkpoint, model_class_path, resolve_model_kwargs, save_checkpoint

__all__ = ["FitResult", "fit", "load_checkpoint", "resolve_device", "seed_everything"]

LossFn = Callable[[Any, Any], Tensor]
MetricFn = Callable[[Any, Any], "float | Mapping[str, float]"]
SCHEDULES = ("cosine", "onecycle", "constant")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else the CPU; ``"cuda"``/``"cuda:N"`` must be available."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ParameterError(
                f"device {device!r} was asked for but CUDA is not available (use 'auto' or 'cpu')"
            )
        try:
            resolved = torch.device(device)
        except RuntimeError:
            raise ParameterError(f"invalid device {device!r}") from None
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ParameterError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s)")
        return resolved
    raise ParameterError(f"device must be 'auto', 'cuda', 'cuda:N' or 'cpu', got {device!r}")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, numpy's global generator and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (code that still uses numpy's global generator)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


@dataclass
class FitResult:
    """What :func:`fit` did. ``history`` holds one dict per epoch (the keys of the progress line)."""

    best_epoch: int
    best_score: float
    monitor: str
    mode: str
    epochs_run: int
    stopped_early: bool
    best_path: Path
    last_path: Path
    device: torch.device
    history: list[dict[str, float]] = field(default_factory=list)


def _to_device(obj: Any, device: torch.device) -> Any:
    """Tensors, and tensors inside lists, tuples and dicts, moved to ``device``."""
    if torch.is_tensor(obj):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, Mapping):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def _detach_cpu(obj: Any) -> Any:
    """Tensors (nested as in ``_to_device``) detached, on the CPU, half precision widened to float32."""
    if torch.is_tensor(obj):
        obj = obj.detach().cpu()
        return obj.float() if obj.dtype in (torch.float16, torch.bfloat16) else obj
    if isinstance(obj, Mapping):
        return {k: _detach_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_detach_cpu(v) for v in obj)
    return obj


def _concat(parts: list[Any]) -> Any:
    """Concatenate per-batch outputs (tensors, or tuples / lists / dicts of them) along the batch axis."""
    first = parts[0]
    if torch.is_tensor(first):
        return torch.cat(parts) if first.ndim > 0 else torch.stack(parts)
    if isinstance(first, Mapping):
        return {k: _concat([p[k] for p in parts]) for k in first}
    if isinstance(first, (list, tuple)):
        return type(first)(_concat(list(items)) for items in zip(*parts, strict=True))
    return parts


def _batch_size(targets: Any) -> int:
    """Examples in a batch: the first axis of the first tensor found in ``targets``."""
    if torch.is_tensor(targets):
        return int(targets.shape[0]) if targets.ndim > 0 else 1
    if isinstance(targets, Mapping):
        targets = list(targets.values())
    if isinstance(targets, (list, tuple)):
        for item in targets:
            if torch.is_tensor(item) or isinstance(item, (list, tuple, Mapping)):
                return _batch_size(item)
    return 1


def _split_batch(batch: Any) -> tuple[Any, Any]:
    if not isinstance(batch, (list, tuple)) or len(batch) != 2:
        raise ParameterError("each batch must be an (inputs, targets) pair")
    return batch[0], batch[1]


def _scores(metric_fn: MetricFn | None, outputs: Any, targets: Any, name: str) -> dict[str, float]:
    if metric_fn is None:
        return {}
    result = metric_fn(outputs, targets)
    if isinstance(result, Mapping):
        if not result:
            raise ParameterError("metric_fn returned an empty dict: return at least one score")
        return {str(k): float(v) for k, v in result.items()}
    return {name: float(result)}


def _is_better(score: float, best: float, mode: str, min_delta: float) -> bool:
    if math.isnan(score):
        return False
    if math.isnan(best):
        return True
    return score > best + min_delta if mode == "max" else score < best - min_delta


def _make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, lr: float, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    if schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=lr * 1e-2)
    if schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total_steps)
    return None


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def fit(
    model: nn.Module,
    train_loader: Iterable[Any],
    valid_loader: Iterable[Any],
    loss_fn: LossFn,
    metric_fn: MetricFn | None = None,
    *,
    epochs: int,
    lr: float,
    out_dir: str | os.PathLike[str],
    spec: ModelSpec,
    seed: int = 0,
    device: str | torch.device = "auto",
    model_kwargs: Mapping[str, Any] | None = None,
    monitor: str | None = None,
    mode: str | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    weight_decay: float = 0.01,
    schedule: str = "cosine",
    grad_clip: float | None = 1.0,
    amp: bool = True,
    restore_best: bool = True,
    log: TextIO | None = None,
) -> FitResult:
    """Train ``model``, keep the best epoch by a validation score, and write checkpoints.

    Args:
        model: an ``nn.Module`` whose class is importable (see :mod:`training.checkpoint`); its
            constructor arguments come from ``model_kwargs`` or the model's ``model_kwargs`` attribute.
        train_loader, valid_loader: iterables of ``(inputs, targets)`` batches; ``inputs`` and
            ``targets`` are tensors or lists / tuples / dicts of tensors (moved to the device as they
            are). ``model(inputs)`` gives the outputs. ``train_loader`` must have a ``len`` for the
            cosine and one-cycle schedules (it is stepped once per batch).
        loss_fn: ``loss_fn(outputs, targets)`` -> scalar tensor, used for training and as
            ``valid_loss`` (the batch-size-weighted mean over the validation set).
        metric_fn: ``metric_fn(outputs, targets)`` on the whole validation set (outputs and targets
            concatenated along the batch axis, on the CPU, float32) -> a float or a dict of floats.
            ``None``: only ``valid_loss`` is reported and monitored.
        epochs, lr: the planned number of epochs and the peak learning rate of AdamW.
        out_dir: ``best.pt`` (written on each improvement) and ``last.pt`` (every epoch) go here.
        spec: the model's :class:`ModelSpec`; the saved copies get ``training.epochs`` and
            ``training.metrics`` of their epoch (``training.data`` is kept as given).
        seed: seeds ``random``, numpy and torch at the start (data order, dropout); seed before
            building the model too (:func:`seed_everything`) for identical initial weights.
        device: ``"auto"`` (CUDA when available), ``"cuda"``, ``"cuda:N"`` or ``"cpu"``.
        monitor: the score that picks the best epoch: a key of ``metric_fn``'s dict (default: its
            first key; a float result is named ``monitor or "metric"``) or ``"valid_loss"``
            (the default without ``metric_fn``).
        mode: ``"max"`` (higher is better; the default for a metric) or ``"min"`` (lower is better;
            the default, and the only sense, for ``valid_loss``).
        patience: stop after this many epochs without an improvement larger than ``min_delta``;
            ``None`` trains all ``epochs``.
        weight_decay: AdamW's decoupled weight decay.
        schedule: ``"cosine"`` (from ``lr`` down to ``lr / 100`` over all planned steps),
            ``"onecycle"`` (warm up to ``lr`` then anneal) or ``"constant"``.
        grad_clip: clip the gradients' global L2 norm to this value; ``None`` does not clip.
        amp: float16 autocast with a ``GradScaler`` on CUDA; ignored on the CPU (always float32).
        restore_best: load the best epoch's weights into ``model`` before returning.
        log: where the progress lines go (default ``sys.stderr``), one per epoch.

    Returns:
        A :class:`FitResult`. The model is left on the training device, in eval mode.

    Raises:
        ParameterError: a bad argument (checked before training starts).
        FloatingPointError: the training loss became NaN or infinite.
    """
    if not isinstance(model, nn.Module):
        raise ParameterError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(spec, ModelSpec):
        raise ParameterError(f"spec must be a ModelSpec, got {type(spec).__name__}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ParameterError(f"epochs must be a positive integer, got {epochs!r}")
    if not (lr >= 0 and math.isfinite(lr)):
        raise ParameterError(f"lr must be a finite number >= 0, got {lr!r}")
    if patience is not None and (not isinstance(patience, int) or patience < 1):
        raise ParameterError(f"patience must be a positive integer or None, got {patience!r}")
    if schedule not in SCHEDULES:
        raise ParameterError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if grad_clip is not None and not grad_clip > 0:
        raise ParameterError(f"grad_clip must be positive or None, got {grad_clip!r}")
    if metric_fn is None and monitor not in (None, "valid_loss"):
        raise ParameterError(f"monitor={monitor!r} needs a metric_fn; without one only 'valid_loss' exists")
    if mode not in (None, "max", "min"):
        raise ParameterError(f"mode must be 'max' or 'min', got {mode!r}")
    if monitor == "valid_loss" or metric_fn is None:
        if mode == "max":
            raise ParameterError("valid_loss is lower-is-better: use mode='min' (or leave mode unset)")
        mode = "min"
    mode = mode or "max"
    if schedule != "constant" and not isinstance(train_loader, Sized):
        raise ParameterError(
            f"the {schedule} schedule needs a train_loader with a len(); use schedule='constant'"
        )

    # Fail now, not after training, if the checkpoint could not rebuild the model.
    class_path = model_class_path(model)
    kwargs = resolve_model_kwargs(model, model_kwargs)
    rebuilt = build_model(class_path, kwargs).state_dict()
    own = model.state_dict()
    if {k: tuple(v.shape) for k, v in rebuilt.items()} != {k: tuple(v.shape) for k, v in own.items()}:
        raise ParameterError(
            f"{class_path}(**{kwargs}) does not rebuild this model (its parameters differ): "
            "check model_kwargs"
        )
    del rebuilt

    log = log or sys.stderr
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    best_path, last_path = out / "best.pt", out / "last.pt"
    seed_everything(seed)
    dev = resolve_device(device)
    use_amp = amp and dev.type == "cuda"
    model.to(dev)

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = len(train_loader) if isinstance(train_loader, Sized) else 0
    if schedule != "constant" and steps_per_epoch == 0:
        raise ParameterError("train_loader is empty")
    scheduler = _make_scheduler(optimizer, schedule, lr, max(1, epochs * steps_per_epoch))
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    def autocast() -> torch.autocast:
        return torch.autocast(device_type=dev.type, dtype=torch.float16, enabled=use_amp)

    history: list[dict[str, float]] = []
    best_score, best_epoch, best_state = math.nan, 0, None
    since_best, stopped_early, score_name = 0, False, monitor

    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        model.train()
        loss_sum, seen = 0.0, 0
        for step, batch in enumerate(train_loader):
            inputs, targets = _to_device(_split_batch(batch), dev)
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(model(inputs), targets)
            if not torch.isfinite(loss.detach()).all():
                raise FloatingPointError(
                    f"training loss is {loss.item()} at epoch {epoch}, step {step}: "
                    "lower lr, check the inputs for NaN/Inf, or set grad_clip"
                )
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scale_before = scaler.get_scale() if use_amp else 0.0
            scaler.step(optimizer)
            scaler.update()
            skipped = use_amp and scaler.get_scale() < scale_before  # inf/NaN gradients: no optimizer step
            if scheduler is not None and not skipped:
                scheduler.step()
            n = _batch_size(targets)
            loss_sum += float(loss.detach()) * n
            seen += n
        if seen == 0:
            raise ParameterError("train_loader yielded no batch")

        model.eval()
        valid_sum, valid_seen, outputs_all, targets_all = 0.0, 0, [], []
        with torch.no_grad(), autocast():
            for batch in valid_loader:
                inputs, targets = _to_device(_split_batch(batch), dev)
                outputs = model(inputs)
                n = _batch_size(targets)
                valid_sum += float(loss_fn(outputs, targets)) * n
                valid_seen += n
                outputs_all.append(_detach_cpu(outputs))
                targets_all.append(_detach_cpu(targets))
        if valid_seen == 0:
            raise ParameterError("valid_loader yielded no batch")
        valid_loss = valid_sum / valid_seen
        scores = _scores(metric_fn, _concat(outputs_all), _concat(targets_all), monitor or "metric")
        if score_name is None:
            score_name = next(iter(scores)) if scores else "valid_loss"
        metrics = {"valid_loss": valid_loss, **scores}
        if score_name not in metrics:
            raise ParameterError(f"monitor={score_name!r} is not among the scores: {', '.join(metrics)}")
        score = metrics[score_name]

        improved = _is_better(score, best_score, mode, min_delta)
        seconds = time.perf_counter() - started
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / seen,
            **metrics,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": seconds,
        }
        history.append(row)
        line = f"epoch {epoch:>3}/{epochs}  train_loss {row['train_loss']:.4f}  valid_loss {valid_loss:.4f}"
        if score_name != "valid_loss":
            line += f"  {score_name} {score:.4f}"
        print(
            f"{line}  lr {row['lr']:.2e}  {seconds:.1f}s{'  *best' if improved else ''}", file=log, flush=True
        )

        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        trained = spec.replace(
            training={
                **spec.training,
                "epochs": epoch,
                "metrics": {k: _finite_or_none(v) for k, v in metrics.items()},
            }
        )
        save_kwargs = dict(
            model_kwargs=kwargs, epoch=epoch, metrics=metrics, history=history, state_dict=state
        )
        if improved:
            best_score, best_epoch, best_state, since_best = score, epoch, state, 0
            save_checkpoint(best_path, model, trained, **save_kwargs)
        else:
            since_best += 1
        save_checkpoint(last_path, model, trained, **save_kwargs)
        if patience is not None and since_best >= patience:
            stopped_early = epoch < epochs
            print(
                f"early stop: no {score_name} improvement in {patience} epoch(s); best epoch {best_epoch}",
                file=log,
                flush=True,
            )
            break

    if best_state is None:  # every score was NaN: keep the last epoch as "best"
        best_epoch, best_state = len(history), state
        save_checkpoint(best_path, model, trained, **save_kwargs)
    if restore_best:
        model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        best_epoch=best_epoch,
        best_score=best_score,
        monitor=score_name or "valid_loss",
        mode=mode,
        epochs_run=len(history),
        stopped_early=stopped_early,
        best_path=best_path,
        last_path=last_path,
        device=dev,
        history=history,
    )
