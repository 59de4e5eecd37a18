"""Training a PyTorch model: the history of a run, evaluation, prediction and the training loop."""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from helpers.torch.augment import Augment
from helpers.torch.checkpoints import _architecture, load_checkpoint, save_checkpoint
from helpers.torch.device import (
    CHECKPOINT_FORMAT,
    OPTIMIZERS,
    SCHEDULES,
    DeviceData,
    bf16_supported,
)

__all__ = ["History", "confusion_matrix", "evaluate", "fit", "predict"]


# ── History ──────────────────────────────────────────────────────────────────────────────────


@dataclass
class History:
    """Per-epoch training record: losses, accuracies (percent), learning rate and seconds.

    ``seconds`` is the time of the training pass alone; validation is not counted. Validation
    columns hold NaN when no validation data was given. Train loss and accuracy are running
    averages over the epoch's (possibly augmented) batches.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epoch)

    def append(self, **row: float) -> None:
        """Add one epoch's row; every column must be given."""
        names = [f.name for f in fields(self)]
        if sorted(row) != sorted(names):
            raise ValueError(f"a history row needs exactly the columns {names}; got {list(row)}.")
        for name in names:
            getattr(self, name).append(int(row[name]) if name == "epoch" else float(row[name]))

    def as_dict(self) -> dict[str, list]:
        """Return the columns as a dict of plain lists (JSON- and checkpoint-friendly)."""
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, columns: dict[str, list]) -> History:
        """Rebuild a history from ``as_dict()`` output."""
        return cls(**{f.name: list(columns[f.name]) for f in fields(cls)})

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the history as a CSV table, one row per epoch, with a header line.

        Returns the path written.
        """
        path = Path(path)
        names = [f.name for f in fields(self)]
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(names)
            writer.writerows(zip(*(getattr(self, n) for n in names), strict=True))
        return path

    @classmethod
    def from_csv(cls, path: str | os.PathLike) -> History:
        """Read a history written by ``to_csv``."""
        with Path(path).open(newline="") as file:
            rows = list(csv.DictReader(file))
        history = cls()
        for row in rows:
            history.append(**{name: float(value) for name, value in row.items()})
        return history


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
    """Measure mean cross-entropy loss and accuracy (percent) on un-augmented data, in float32.

    Returns ``(loss, accuracy)``.
    """
    scores = _scores(model, data, batch_size)
    loss = F.cross_entropy(scores, data.labels).item()
    accuracy = (scores.argmax(1) == data.labels).float().mean().item() * 100
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


# ── The training loop ────────────────────────────────────────────────────────────────────────


def _make_optimizer(
    model: nn.Module, name: str, lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay
        )
    raise ValueError(f"Unknown optimizer {name!r}; choose one of {OPTIMIZERS}.")


def _make_schedule(
    optimizer: torch.optim.Optimizer, name: str, lr: float, steps_per_epoch: int, epochs: int
) -> torch.optim.lr_scheduler.LRScheduler:
    # All schedules step once per batch.
    total = steps_per_epoch * epochs
    if name == "onecycle":
        if total < 2:
            raise ValueError(
                "The 'onecycle' schedule needs at least 2 batches in all (it warms up, then "
                "cools down); use more data or epochs, a smaller batch, or schedule='constant'."
            )
        # A quarter of the steps warm up; very short runs need at least one step per phase.
        warmup = min(max(0.25, 1.5 / total), 0.75)
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=total, pct_start=warmup
        )
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=steps_per_epoch, gamma=0.7)
    if name == "constant":
        return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)
    raise ValueError(f"Unknown schedule {name!r}; choose one of {SCHEDULES}.")


def _rng_state(generator: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "data": generator.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _restore_rng(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"].cpu())
    generator.set_state(state["data"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def fit(
    model: nn.Module,
    train: DeviceData,
    *,
    val: DeviceData | None = None,
    epochs: int,
    batch_size: int = 128,
    lr: float = 5e-3,
    optimizer: str = "adamw",
    weight_decay: float = 1e-4,
    schedule: str = "onecycle",
    label_smoothing: float = 0.1,
    augment: Callable[..., torch.Tensor] | None = None,
    mixed_precision: bool | None = None,
    seed: int = 0,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[int, History], None] | None = None,
) -> History:
    """Train a model in place on data held on the device, one shuffled pass per epoch.

    Each epoch shuffles the training set by index, augments training batches if ``augment`` is
    given (never validation batches), steps the learning-rate ``schedule`` after every batch,
    evaluates on ``val`` and, if ``checkpoint`` is a path, saves everything needed to resume
    there. With ``resume=True`` and an existing checkpoint, training continues after the last
    saved epoch, with the optimizer, schedule, history and random state it had.
    ``mixed_precision=None`` uses bfloat16 autocast where the device supports it. The model's
    initial weights are the caller's: seed before building it for a repeatable run.

    Returns the ``History`` of all epochs (those before a resume included).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1; got {epochs}, {batch_size}.")
    if len(train) == 0:
        raise ValueError("The training set is empty.")
    device = train.device
    if val is not None and val.device != device:
        raise ValueError(f"train is on {device} but val on {val.device}: put both on one device.")
    model.to(device)
    if mixed_precision is None:
        mixed_precision = bf16_supported(device)
    # Channels-last lets oneDNN/cuDNN pick their fastest convolution kernels.
    channels_last = device.type in ("cpu", "cuda")
    if channels_last:
        model.to(memory_format=torch.channels_last)

    steps = math.ceil(len(train) / batch_size)
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    scheduler = _make_schedule(opt, schedule, lr, steps, epochs)
    settings = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "optimizer": optimizer,
        "weight_decay": weight_decay,
        "schedule": schedule,
        "label_smoothing": label_smoothing,
        "train_size": len(train),
        # A function's repr holds its memory address, which changes between runs; its name
        # does not.
        "augment": (
            repr(augment)
            if augment is None or isinstance(augment, Augment)
            else getattr(augment, "__qualname__", type(augment).__name__)
        ),
    }
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    history = History()
    first_epoch = 1

    if resume and checkpoint is not None and Path(checkpoint).is_file():
        state = load_checkpoint(checkpoint, model=model, optimizer=opt, scheduler=scheduler)
        changed = {k: (state["settings"].get(k), v) for k, v in settings.items()}
        changed = {k: pair for k, pair in changed.items() if pair[0] != pair[1]}
        if changed:
            described = ", ".join(f"{k} was {a!r}, now {b!r}" for k, (a, b) in changed.items())
            raise ValueError(
                f"Cannot resume from {checkpoint}: the training settings differ ({described}). "
                "Resume with the settings it was started with, or start afresh."
            )
        history = History.from_dict(state["history"])
        _restore_rng(state["rng"], generator)
        first_epoch = state["epoch"] + 1

    for epoch in range(first_epoch, epochs + 1):
        model.train()
        started = time.perf_counter()
        order = torch.randperm(len(train), generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", unit="batch", disable=not progress)
        for step in range(steps):
            index = order[step * batch_size : (step + 1) * batch_size]
            x, y = train.batch(index)
            if augment is not None:
                x = augment(x, generator=generator)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mixed_precision):
                scores = model(x)
                loss = F.cross_entropy(scores.float(), y, label_smoothing=label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            scheduler.step()
            loss_sum += loss.detach() * len(y)
            correct += (scores.argmax(1) == y).sum()
            bar.update()
            # Reading a number back forces a device sync: do it rarely.
            if progress and (step % 50 == 0 or step == steps - 1):
                seen = min((step + 1) * batch_size, len(train))
                bar.set_postfix(
                    loss=f"{loss_sum.item() / seen:.4f}",
                    acc=f"{correct.item() / seen * 100:.2f}%",
                )
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - started
        val_loss, val_accuracy = evaluate(model, val) if val is not None else (math.nan,) * 2
        history.append(
            epoch=epoch,
            train_loss=loss_sum.item() / len(train),
            train_accuracy=correct.item() / len(train) * 100,
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            lr=opt.param_groups[0]["lr"],
            seconds=seconds,
        )
        if val is not None:
            bar.set_postfix(
                loss=f"{history.train_loss[-1]:.4f}",
                acc=f"{history.train_accuracy[-1]:.2f}%",
                val_acc=f"{val_accuracy:.2f}%",
            )
        bar.close()
        if checkpoint is not None:
            save_checkpoint(
                checkpoint,
                {
                    "format": CHECKPOINT_FORMAT,
                    "architecture": _architecture(model),
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "epoch": epoch,
                    "history": history.as_dict(),
                    "settings": settings,
                    "rng": _rng_state(generator),
                },
            )
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    model.eval()
    return history
