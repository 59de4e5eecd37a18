"""Training a PyTorch model: its configuration, evaluation, prediction and the training loop."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.history import History
from helpers.torch.augment import Augment
from helpers.torch.checkpoints import _architecture, load_checkpoint, save_checkpoint
from helpers.torch.device import (
    CHECKPOINT_FORMAT,
    OPTIMIZERS,
    SCHEDULES,
    DeviceData,
    bf16_supported,
)

__all__ = [
    "FitHistory",
    "TrainConfig",
    "TrainingLog",
    "confusion_matrix",
    "evaluate",
    "fit",
    "predict",
]


# ── Evaluation ───────────────────────────────────────────────────────────────────────────────


def _scores(model: nn.Module, data: DeviceData, batch_size: int) -> torch.Tensor:
    """Class scores for every example, in float32, model in eval mode (restored afterwards)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            chunks = []
            for start in range(0, len(data), batch_size):
                index = torch.arange(start, min(start + batch_size, len(data)), device=data.device)
                x, _ = data.batch(index)
                chunks.append(model(x).float())
    finally:
        model.train(was_training)
    return torch.cat(chunks)


def evaluate(model: nn.Module, data: DeviceData, *, batch_size: int = 1000) -> tuple[float, float]:
    """Measure mean cross-entropy loss and accuracy on un-augmented data, in float32.

    Returns ``(loss, accuracy)``, the accuracy as a fraction from 0 to 1.
    """
    scores = _scores(model, data, batch_size)
    loss = F.cross_entropy(scores, data.labels).item()
    accuracy = (scores.argmax(1) == data.labels).float().mean().item()
    return loss, accuracy


def predict(model: nn.Module, data: DeviceData, *, batch_size: int = 1000) -> np.ndarray:
    """Predict a class for every example.

    **Shapes:** returns (N,) int64 on the CPU, as a NumPy array.
    """
    return _scores(model, data, batch_size).argmax(1).cpu().numpy()


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, *, num_classes: int) -> np.ndarray:
    """Count how often each true class was predicted as each class.

    **Shapes:** y_true (N,), y_pred (N,) → (num_classes, num_classes); row = true class,
    column = predicted class.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D and equally long; got {y_true.shape} and "
            f"{y_pred.shape}."
        )
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} holds labels outside 0..{num_classes - 1}.")
    counts = np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


# ── The training configuration ───────────────────────────────────────────────────────────────

# Settings a resumed run may change: the precision suits the machine it resumes on, and the
# random state comes from the checkpoint, not from the seed.
_FREE_ON_RESUME = {"free_on_resume": True}


@dataclass(frozen=True)
class TrainConfig:
    """The recipe ``fit`` follows: epochs, batch size, optimiser, schedule, smoothing, ...

    ``optimizer`` is one of ``OPTIMIZERS`` ("adamw", "adam", or "sgd" with Nesterov momentum
    0.9); ``schedule`` one of ``SCHEDULES`` ("onecycle", "cosine", "step" (×0.7 per epoch),
    "constant"); ``augment`` is called on every training batch as
    ``augment(x, generator=...)`` (an ``Augment``, or a function of your own);
    ``mixed_precision=None`` uses bfloat16 autocast where the device supports it.

    A run is resumed only with the recipe it was started with: ``fit(resume=True)`` refuses a
    checkpoint whose recipe differs, except in ``mixed_precision`` and ``seed``.
    """

    epochs: int
    batch_size: int = 128
    lr: float = 5e-3
    optimizer: str = "adamw"
    weight_decay: float = 1e-4
    schedule: str = "onecycle"
    label_smoothing: float = 0.1
    augment: Callable[..., torch.Tensor] | None = None
    mixed_precision: bool | None = field(default=None, metadata=_FREE_ON_RESUME)
    seed: int = field(default=0, metadata=_FREE_ON_RESUME)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(
                f"epochs and batch_size must be at least 1; got {self.epochs}, {self.batch_size}."
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Unknown schedule {self.schedule!r}; choose one of {SCHEDULES}.")

    def recipe(self) -> dict[str, Any]:
        """Return the settings a resumed run must share, as plain data for a checkpoint."""
        recipe = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if not f.metadata.get("free_on_resume")
        }
        augment = self.augment
        # A function's repr holds its memory address, which changes between runs; its name
        # does not.
        if augment is not None and not isinstance(augment, Augment):
            recipe["augment"] = getattr(augment, "__qualname__", type(augment).__name__)
        else:
            recipe["augment"] = repr(augment)
        return recipe


def _as_config(config: TrainConfig | None, settings: dict[str, Any]) -> TrainConfig:
    names = [f.name for f in fields(TrainConfig)]
    if config is not None and settings:
        raise TypeError(
            f"fit takes config=TrainConfig(...) or the settings as keywords, not both; got "
            f"config and {sorted(settings)}."
        )
    unknown = sorted(set(settings) - set(names))
    if unknown:
        raise TypeError(f"fit does not know the settings {unknown}; TrainConfig has {names}.")
    if config is None and "epochs" not in settings:
        raise TypeError("fit needs epochs=N (or config=TrainConfig(epochs=N, ...)).")
    return config if config is not None else TrainConfig(**settings)


# ── What a run records ───────────────────────────────────────────────────────────────────────

LOG_COLUMNS = ("epoch", "step", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
"""The columns of a ``TrainingLog``, in order."""


@dataclass
class TrainingLog:
    """A run measured several times per epoch: one row per logging point.

    Two points per curve (one per epoch) hide how training goes; ``fit(log_every=0.1)``
    records a row every tenth of an epoch. The columns:

    * ``epoch``: epochs done at that point, a fraction (0.1, 0.2, ..., 1.0, 1.1, ...);
    * ``step``: optimiser steps taken so far;
    * ``train_loss``, ``train_accuracy``: averages over the training batches since the
      previous point (a moving window, not the whole epoch), accuracy from 0 to 1;
    * ``val_loss``, ``val_accuracy``: measured on the validation data at that point, NaN where
      validation was not measured (see ``fit``'s ``val_every``) or there is none;
    * ``lr``: the learning rate at that point.
    """

    epoch: list[float] = field(default_factory=list)
    step: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    def append(self, **row: float) -> None:
        """Add one row; every column must be given (NaN for what was not measured)."""
        if sorted(row) != sorted(LOG_COLUMNS):
            raise ValueError(f"a log row needs exactly the columns {list(LOG_COLUMNS)}.")
        for name in LOG_COLUMNS:
            value = row[name]
            getattr(self, name).append(int(value) if name == "step" else float(value))

    def as_dict(self) -> dict[str, list]:
        """Return the columns as a dict of plain lists (JSON- and checkpoint-friendly)."""
        return {name: list(getattr(self, name)) for name in LOG_COLUMNS}

    @classmethod
    def from_dict(cls, columns: dict[str, list]) -> TrainingLog:
        """Rebuild a log from ``as_dict()`` output."""
        log = cls()
        for name in LOG_COLUMNS:
            setattr(log, name, list(columns[name]))
        return log


@dataclass
class FitHistory(History):
    """The ``History`` that ``fit`` returns: one row per epoch, plus a finer ``log``.

    ``log`` is a ``TrainingLog`` of the same run, one row at every logging point (``fit``'s
    ``log_every``); everything a ``History`` does (``to_csv``, ``as_dict``, ...) still covers
    the rows per epoch only.
    """

    log: TrainingLog = field(default_factory=TrainingLog)


# ── The training loop ────────────────────────────────────────────────────────────────────────


def _make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    params, lr, decay = model.parameters(), config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=decay)
    return torch.optim.AdamW(params, lr=lr, weight_decay=decay)


def _make_schedule(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler:
    # All schedules step once per batch.
    total = steps_per_epoch * config.epochs
    if config.schedule == "onecycle":
        if total < 2:
            raise ValueError(
                "The 'onecycle' schedule needs at least 2 batches in all (it warms up, then "
                "cools down); use more data or epochs, a smaller batch, or schedule='constant'."
            )
        # A quarter of the steps warm up; very short runs need at least one step per phase.
        warmup = min(max(0.25, 1.5 / total), 0.75)
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, total_steps=total, pct_start=warmup
        )
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if config.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=steps_per_epoch, gamma=0.7)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


def _rng_state(generator: torch.Generator) -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "data": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"].cpu())
    generator.set_state(state["data"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


@dataclass
class _Run:
    """What one training run sets up once and carries from epoch to epoch."""

    device: torch.device
    mixed_precision: bool
    channels_last: bool
    steps_per_epoch: int
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    generator: torch.Generator
    history: FitHistory = field(default_factory=FitHistory)
    first_epoch: int = 1


def _set_up(
    model: nn.Module, train: DeviceData, val: DeviceData | None, config: TrainConfig
) -> _Run:
    if len(train) == 0:
        raise ValueError("The training set is empty.")
    device = train.device
    if val is not None and val.device != device:
        raise ValueError(f"train is on {device} but val on {val.device}: put both on one device.")
    model.to(device)
    # Channels-last lets oneDNN/cuDNN pick their fastest convolution kernels.
    channels_last = device.type in ("cpu", "cuda")
    if channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    steps = math.ceil(len(train) / config.batch_size)
    optimizer = _make_optimizer(model, config)
    scheduler = _make_schedule(optimizer, config, steps)
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    mixed = config.mixed_precision
    return _Run(
        device=device,
        mixed_precision=bf16_supported(device) if mixed is None else mixed,
        channels_last=channels_last,
        steps_per_epoch=steps,
        optimizer=optimizer,
        scheduler=scheduler,
        generator=generator,
    )


def _resume(
    run: _Run, model: nn.Module, checkpoint: str | os.PathLike, recipe: dict[str, Any]
) -> None:
    state = load_checkpoint(
        checkpoint, model=model, optimizer=run.optimizer, scheduler=run.scheduler
    )
    saved = state["config"]
    changes = [
        f"{k} was {saved.get(k)!r}, now {v!r}" for k, v in recipe.items() if saved.get(k) != v
    ]
    if changes:
        raise ValueError(
            f"Cannot resume from {checkpoint}: the training settings differ "
            f"({', '.join(changes)}). Resume with the settings it was started with, or start "
            "afresh."
        )
    run.history = FitHistory.from_dict(state["history"])
    if "log" in state:  # checkpoints written before the log existed have none
        run.history.log = TrainingLog.from_dict(state["log"])
    _restore_rng(state["rng"], run.generator)
    run.first_epoch = state["epoch"] + 1


class _EpochBar:
    """The progress callback of ``fit``: one tqdm bar per epoch, numbers read back rarely."""

    def __init__(self, epoch: int, epochs: int, steps: int, *, enabled: bool) -> None:
        self.steps, self.enabled = steps, enabled
        self.bar = tqdm(
            total=steps, desc=f"epoch {epoch}/{epochs}", unit="batch", disable=not enabled
        )

    def __call__(self, step: int, seen: int, loss_sum: torch.Tensor, correct: torch.Tensor) -> None:
        self.bar.update()
        # Reading a number back forces a device sync: do it rarely.
        if self.enabled and (step % 50 == 0 or step == self.steps - 1):
            self.bar.set_postfix(
                loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.2%}"
            )

    def close(self, history: History) -> None:
        if not math.isnan(history.val_accuracy[-1]):
            self.bar.set_postfix(
                loss=f"{history.train_loss[-1]:.4f}",
                acc=f"{history.train_accuracy[-1]:.2%}",
                val_acc=f"{history.val_accuracy[-1]:.2%}",
            )
        self.bar.close()


def _points(steps: int, every: float) -> set[int]:
    """The batches (counted from 1) after which something is measured: every ``every`` epoch."""
    count = math.ceil(1 / every - 1e-9)
    return {min(steps, max(1, round(k * every * steps))) for k in range(1, count + 1)} | {steps}


class _Logger:
    """The logging callback of ``fit``: a ``TrainingLog`` row at each logging point in an epoch.

    The row at the end of the epoch is left to ``fit``, which evaluates there anyway.
    """

    def __init__(
        self,
        model: nn.Module,
        val: DeviceData | None,
        run: _Run,
        epoch: int,
        *,
        log_every: float,
        val_every: float,
    ) -> None:
        self.model, self.val, self.run, self.epoch = model, val, run, epoch
        steps = run.steps_per_epoch
        self.val_points = _points(steps, val_every) if val is not None else set()
        self.points = _points(steps, log_every) | self.val_points
        self.loss, self.correct, self.seen = 0.0, 0, 0  # totals at the previous point
        self.eval_seconds = 0.0  # evaluation time, kept out of the epoch's training seconds

    def window(self, seen: int, loss_total: float, correct_total: float) -> tuple[float, float]:
        """Mean loss and accuracy of the batches since the previous point."""
        n = max(seen - self.seen, 1)
        out = (loss_total - self.loss) / n, (correct_total - self.correct) / n
        self.loss, self.correct, self.seen = loss_total, correct_total, seen
        return out

    def row(self, done: int, train: tuple[float, float], val: tuple[float, float]) -> None:
        steps = self.run.steps_per_epoch
        self.run.history.log.append(
            epoch=self.epoch - 1 + done / steps,
            step=(self.epoch - 1) * steps + done,
            train_loss=train[0],
            train_accuracy=train[1],
            val_loss=val[0],
            val_accuracy=val[1],
            lr=self.run.optimizer.param_groups[0]["lr"],
        )

    def __call__(self, step: int, seen: int, loss_sum: torch.Tensor, correct: torch.Tensor) -> None:
        done = step + 1
        if done == self.run.steps_per_epoch or done not in self.points:
            return
        # Reading the running sums back forces a device sync: only at logging points.
        train = self.window(seen, loss_sum.item(), correct.item())
        val = (math.nan, math.nan)
        if done in self.val_points and self.val is not None:
            started = time.perf_counter()
            val = evaluate(self.model, self.val)  # eval mode inside, training mode restored
            self.eval_seconds += time.perf_counter() - started
        self.row(done, train, val)


def _both(*callbacks: Callable[..., None]) -> Callable[..., None]:
    """One batch callback that calls each of ``callbacks`` in turn."""

    def call(*args: Any) -> None:
        for callback in callbacks:
            callback(*args)

    return call


def _train_epoch(
    model: nn.Module,
    train: DeviceData,
    config: TrainConfig,
    run: _Run,
    on_batch: Callable[[int, int, torch.Tensor, torch.Tensor], None],
) -> tuple[float, float, float]:
    """One shuffled pass over ``train``; return mean loss, accuracy (0 to 1) and seconds."""
    model.train()
    started = time.perf_counter()
    order = torch.randperm(len(train), generator=run.generator).to(run.device)
    loss_sum = torch.zeros((), device=run.device)
    correct = torch.zeros((), device=run.device, dtype=torch.long)
    for step in range(run.steps_per_epoch):
        index = order[step * config.batch_size : (step + 1) * config.batch_size]
        x, y = train.batch(index)
        if config.augment is not None:
            x = config.augment(x, generator=run.generator)
        if run.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=run.mixed_precision):
            scores = model(x)
            loss = F.cross_entropy(scores.float(), y, label_smoothing=config.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        loss_sum += loss.detach() * len(y)
        correct += (scores.argmax(1) == y).sum()
        on_batch(step, min((step + 1) * config.batch_size, len(train)), loss_sum, correct)
    if run.device.type == "cuda":
        torch.cuda.synchronize(run.device)
    seconds = time.perf_counter() - started
    return loss_sum.item() / len(train), correct.item() / len(train), seconds


def _save(
    checkpoint: str | os.PathLike, model: nn.Module, run: _Run, recipe: dict[str, Any]
) -> None:
    save_checkpoint(
        checkpoint,
        {
            "format": CHECKPOINT_FORMAT,
            "architecture": _architecture(model),
            "model": model.state_dict(),
            "optimizer": run.optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict(),
            "epoch": run.history.epoch[-1],
            "history": run.history.as_dict(),
            "log": run.history.log.as_dict(),
            "config": recipe,
            "rng": _rng_state(run.generator),
        },
    )


def fit(
    model: nn.Module,
    train: DeviceData,
    *,
    val: DeviceData | None = None,
    config: TrainConfig | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[int, History], None] | None = None,
    log_every: float = 1.0,
    val_every: float | None = None,
    **settings: Any,
) -> FitHistory:
    """Train a model in place on data held on the device, one shuffled pass per epoch.

    The recipe is a ``TrainConfig``: pass ``config=TrainConfig(epochs=2, ...)``, or its fields
    as keywords (``fit(model, train, epochs=2, lr=1e-3)``), the others keeping their defaults.
    Each epoch shuffles the training set by index, augments training batches if the recipe
    says so (never validation batches), steps the learning-rate schedule after every batch,
    evaluates on ``val`` and, if ``checkpoint`` is a path, saves everything needed to resume
    there. With ``resume=True`` and an existing checkpoint, training continues after the last
    saved epoch, with the optimizer, schedule, history and random state it had. ``progress``
    shows a bar per epoch; ``on_epoch_end(epoch, history)`` runs after every epoch's save.
    The model's initial weights are the caller's: seed before building it for a repeatable run.

    Besides one row per epoch, the history's ``log`` (a ``TrainingLog``) records a row every
    ``log_every`` epoch (0.1: ten times per epoch) with the training loss and accuracy of the
    batches since the previous row, and measures ``val`` every ``val_every`` epoch (default:
    at every row; each measurement costs a pass over ``val``). Logging changes nothing in the
    training itself: the same seed gives the same weights with or without it.

    Returns the ``FitHistory`` of all epochs (those before a resume included).
    """
    for name, every in (("log_every", log_every), ("val_every", val_every)):
        if every is not None and not 0 < every <= 1:
            raise ValueError(f"{name} is a fraction of an epoch in (0, 1]; got {every!r}.")
    config = _as_config(config, settings)
    recipe = {**config.recipe(), "train_size": len(train)}
    run = _set_up(model, train, val, config)
    if resume and checkpoint is not None and Path(checkpoint).is_file():
        _resume(run, model, checkpoint, recipe)
    for epoch in range(run.first_epoch, config.epochs + 1):
        bar = _EpochBar(epoch, config.epochs, run.steps_per_epoch, enabled=progress)
        logger = _Logger(
            model,
            val,
            run,
            epoch,
            log_every=log_every,
            val_every=log_every if val_every is None else val_every,
        )
        loss, accuracy, seconds = _train_epoch(
            model, train, config, run, on_batch=_both(bar, logger)
        )
        seconds -= logger.eval_seconds
        val_loss, val_accuracy = (math.nan, math.nan) if val is None else evaluate(model, val)
        window = logger.window(len(train), loss * len(train), accuracy * len(train))
        logger.row(run.steps_per_epoch, window, (val_loss, val_accuracy))
        run.history.append(
            epoch=epoch,
            steps=epoch * run.steps_per_epoch,
            train_loss=loss,
            train_accuracy=accuracy,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            lr=run.optimizer.param_groups[0]["lr"],
            seconds=seconds,
        )
        bar.close(run.history)
        if checkpoint is not None:
            _save(checkpoint, model, run, recipe)
        if on_epoch_end is not None:
            on_epoch_end(epoch, run.history)
    model.eval()
    return run.history
