"""The record of a training run, one row per epoch, kept the same way by every training loop.

The NumPy CNN of chapter 6 (:mod:`helpers.ops.numpy_cnn`) and the PyTorch toolkit of
chapter 7 (:mod:`helpers.torch`) both return a :class:`History`. This module needs neither
torch nor the layers, so both sides can import it.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

__all__ = ["COLUMNS", "History"]

COLUMNS = (
    "epoch",
    "steps",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
)
"""The columns of a history, in the order of a CSV table's header."""

_WHOLE_NUMBERS = ("epoch", "steps")


@dataclass
class History:
    """Per-epoch record of a training run: losses, accuracies, learning rate, steps and seconds.

    **Accuracy is a fraction from 0 to 1** (0.99 means 99 % of the examples are right), in
    ``train_accuracy`` and ``val_accuracy`` alike. This is the course's one unit for accuracy,
    in the NumPy CNN, the PyTorch toolkit, the book and the assignments; text shows it as a
    percentage only when it is printed (``f"{accuracy:.2%}"``).

    The columns, one entry per epoch:

    * ``epoch``: 1, 2, 3, ...;
    * ``steps``: optimiser steps (mini-batches) taken so far, this epoch's included;
    * ``train_loss``, ``train_accuracy``: running averages over the epoch's (possibly
      augmented) training batches;
    * ``val_loss``, ``val_accuracy``: measured on the validation data after the epoch; NaN
      when there is no validation data;
    * ``lr``: the learning rate the epoch ended with;
    * ``seconds``: the time of the epoch's training pass alone, evaluation not counted, so
      ``sum(history.seconds)`` is the whole training time.

    ``stopped_by_budget`` is not a column: it is True when a time budget ended training early,
    in which case the last row holds a partial epoch.
    """

    epoch: list[int] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped_by_budget: bool = False

    def __len__(self) -> int:
        return len(self.epoch)

    def append(self, **row: float) -> None:
        """Add one epoch's row; every column must be given (NaN for what was not measured)."""
        if sorted(row) != sorted(COLUMNS):
            raise ValueError(
                f"a history row needs exactly the columns {list(COLUMNS)}; got {list(row)}."
            )
        for name in COLUMNS:
            value = row[name]
            getattr(self, name).append(int(value) if name in _WHOLE_NUMBERS else float(value))

    def as_dict(self) -> dict[str, list]:
        """Return the columns as a dict of plain lists (JSON- and checkpoint-friendly)."""
        return {name: list(getattr(self, name)) for name in COLUMNS}

    @classmethod
    def from_dict(cls, columns: dict[str, list]) -> Self:
        """Rebuild a history from ``as_dict()`` output."""
        missing = [name for name in COLUMNS if name not in columns]
        if missing:
            raise ValueError(f"a history needs the columns {list(COLUMNS)}; {missing} missing.")
        history = cls()
        for name in COLUMNS:
            setattr(history, name, list(columns[name]))
        return history

    def as_rows(self) -> list[dict[str, float]]:
        """Return the history as a list of dicts, one per epoch (handy for a table)."""
        return [dict(zip(COLUMNS, values, strict=True)) for values in self._row_values()]

    def _row_values(self) -> list[tuple]:
        return list(zip(*(getattr(self, name) for name in COLUMNS), strict=True))

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the history as a CSV table, one row per epoch, with a header line.

        Returns the path written.
        """
        path = Path(path)
        with path.open("w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(COLUMNS)
            writer.writerows(self._row_values())
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
