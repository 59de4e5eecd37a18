"""The PyTorch toolkit of the capstone: devices, data on the device, augmentation, training.

:mod:`~helpers.torch.models` holds the course's networks, :mod:`~helpers.torch.zoo` the
landmark architectures of chapter 8, :mod:`~helpers.torch.plots` pictures of a training
run, and ``python -m helpers.torch`` trains a model from the command line. ``History`` (the
record of a run, accuracies as fractions from 0 to 1) and ``count_parameters`` are shared with
the NumPy side and re-exported here; ``fit`` returns a ``FitHistory``, a ``History`` whose
``log`` (a ``TrainingLog``) also measures the run within each epoch.
"""

from __future__ import annotations

from helpers.history import History
from helpers.ops.shapes import count_parameters
from helpers.torch.augment import Augment
from helpers.torch.checkpoints import load_checkpoint, save_checkpoint
from helpers.torch.device import (
    CHECKPOINT_FORMAT,
    OPTIMIZERS,
    SCHEDULES,
    DeviceData,
    bf16_supported,
    pick_device,
    seed_everything,
)
from helpers.torch.fit import (
    FitHistory,
    TrainConfig,
    TrainingLog,
    confusion_matrix,
    evaluate,
    fit,
    predict,
)

__all__ = [
    "Augment",
    "CHECKPOINT_FORMAT",
    "DeviceData",
    "FitHistory",
    "History",
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainConfig",
    "TrainingLog",
    "bf16_supported",
    "confusion_matrix",
    "count_parameters",
    "evaluate",
    "fit",
    "load_checkpoint",
    "pick_device",
    "predict",
    "save_checkpoint",
    "seed_everything",
]
