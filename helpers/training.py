"""Train the capstone networks: device choice, data kept on the device, a loop, checkpoints.

The whole data set lives on the device as one uint8 tensor; each epoch shuffles it by indexing
with a random permutation, which costs a fraction of what a ``DataLoader`` does for small images.
Training batches can be augmented on the device (flips, shifts, rotations, zoom); evaluation
batches never are. Accuracies are in percent throughout.
"""

from __future__ import annotations

import csv
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

__all__ = [
    "CHECKPOINT_FORMAT",
    "Augment",
    "DeviceData",
    "History",
    "bf16_supported",
    "confusion_matrix",
    "evaluate",
    "fit",
    "load_checkpoint",
    "pick_device",
    "predict",
    "save_checkpoint",
    "seed_everything",
]

CHECKPOINT_FORMAT = "pixels-to-predictions checkpoint v1"
OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("onecycle", "cosine", "step", "constant")


# ── Device and seeds ─────────────────────────────────────────────────────────────────────────


def bf16_supported(device: torch.device) -> bool:
    """Tell whether bfloat16 mixed precision is fast and safe on this device.

    Returns True for CUDA GPUs with bf16 support and CPUs with bf16 instructions (AVX-512 BF16,
    AMX); False elsewhere (Apple MPS, older CPUs), where training stays in float32.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def pick_device(
    preferred: str | None = None, *, threads: int | None = None, verbose: bool = True
) -> torch.device:
    """Choose where to train: a CUDA GPU, else Apple's MPS, else the CPU; print what was chosen.

    ``preferred`` ("cuda", "mps" or "cpu") insists on one of them; ``threads`` sets how many CPU
    threads torch uses (on a busy 2-core machine, 1 can be faster than 2).

    Returns the ``torch.device``.
    """
    available = {
        "cuda": torch.cuda.is_available(),
        "mps": hasattr(torch.backends, "mps") and torch.backends.mps.is_available(),
        "cpu": True,
    }
    if preferred in (None, "auto"):
        kind = next(k for k, ok in available.items() if ok)
    elif preferred not in available:
        raise ValueError(f"Unknown device {preferred!r}; choose 'cuda', 'mps', 'cpu' or 'auto'.")
    elif not available[preferred]:
        raise ValueError(
            f"Device {preferred!r} is not available on this machine (this torch build sees "
            f"{', '.join(k for k, ok in available.items() if ok)}); use 'auto' to pick the best."
        )
    else:
        kind = preferred
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1; got {threads}.")
        torch.set_num_threads(threads)
    device = torch.device(kind)
    if verbose:
        if kind == "cuda":
            props = torch.cuda.get_device_properties(device)
            what = f"CUDA GPU {props.name} ({props.total_memory / 2**30:.0f} GiB)"
        elif kind == "mps":
            what = "Apple GPU (MPS)"
        else:
            what = f"CPU ({torch.get_num_threads()} threads of {os.cpu_count()} cores)"
        precision = "bfloat16 mixed precision" if bf16_supported(device) else "float32"
        print(f"Device: {what}; torch {torch.__version__}; {precision} available.")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python's, NumPy's and torch's random generators so that runs repeat exactly.

    Returns a fresh CPU ``torch.Generator`` seeded with ``seed``, for shuffling and augmentation.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


# ── Data on the device ───────────────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class DeviceData:
    """A whole labelled image set held on one device as uint8 images and int64 labels.

    **Shapes:** images (N, C, H, W) uint8, labels (N,) int64.
    """

    images: torch.Tensor
    labels: torch.Tensor

    @classmethod
    def from_numpy(
        cls, images: np.ndarray, labels: np.ndarray, *, device: torch.device | str = "cpu"
    ) -> DeviceData:
        """Copy images and labels (as the ``helpers.data`` loaders return them) to the device.

        **Shapes:** images (N, H, W) greyscale or (N, H, W, C) channels-last uint8;
        labels (N,) integers.

        Returns a ``DeviceData`` with channels-first images; the inputs are not modified.
        """
        images, labels = np.asarray(images), np.asarray(labels)
        if images.dtype != np.uint8:
            raise TypeError(
                f"DeviceData expects uint8 images with values 0–255 (as load_mnist and "
                f"load_fruits return them); got dtype {images.dtype}."
            )
        if images.ndim == 3:
            images = images[:, None, :, :]
        elif images.ndim == 4:
            images = images.transpose(0, 3, 1, 2)
        else:
            raise ValueError(
                f"images must be shaped (N, H, W) or (N, H, W, C); got {images.shape}."
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise ValueError(
                f"labels must be one integer per image, shaped ({len(images)},); "
                f"got {labels.shape}."
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"labels must be integers; got dtype {labels.dtype}.")
        x = torch.from_numpy(np.array(images, order="C")).to(device)
        y = torch.from_numpy(labels.astype(np.int64)).to(device)
        return cls(x, y)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def device(self) -> torch.device:
        """The device the tensors live on."""
        return self.images.device

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather the images at ``index`` as floats in [0, 1], with their labels.

        **Shapes:** index (B,) → x (B, C, H, W) float32, y (B,) int64.
        """
        return self.images[index].float().div_(255.0), self.labels[index]

    def subset(self, count: int, *, seed: int = 0) -> DeviceData:
        """Pick ``count`` examples at random (the same ones for the same seed).

        Returns a new ``DeviceData``; this one is left as it is.
        """
        if not 0 < count <= len(self):
            raise ValueError(f"count must be between 1 and {len(self)}; got {count}.")
        generator = torch.Generator().manual_seed(seed)
        index = torch.randperm(len(self), generator=generator)[:count].to(self.device)
        return DeviceData(self.images[index], self.labels[index])


class Augment:
    """Random flips, rotations, shifts and zoom for a training batch, computed on its device.

    One affine warp per image (``affine_grid`` + ``grid_sample``) does everything at once; the
    border pixels are repeated outwards, so a white photo background stays white and a black
    MNIST background stays black.
    """

    def __init__(
        self,
        *,
        flip_horizontal: bool = True,
        flip_vertical: bool = False,
        max_degrees: float = 15.0,
        max_shift: float = 0.1,
        zoom: tuple[float, float] = (0.9, 1.1),
    ) -> None:
        if max_degrees < 0 or max_shift < 0:
            raise ValueError("max_degrees and max_shift must not be negative.")
        if not 0 < zoom[0] <= zoom[1]:
            raise ValueError(f"zoom must be (smallest, largest) with 0 < smallest; got {zoom}.")
        self.flip_horizontal, self.flip_vertical = flip_horizontal, flip_vertical
        self.max_degrees, self.max_shift, self.zoom = max_degrees, max_shift, zoom

    def __repr__(self) -> str:
        return (
            f"Augment(flip_horizontal={self.flip_horizontal}, flip_vertical={self.flip_vertical},"
            f" max_degrees={self.max_degrees}, max_shift={self.max_shift}, zoom={self.zoom})"
        )

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
        """Return a randomly warped copy of a batch; ``x`` itself is not changed.

        **Shapes:** x (N, C, H, W) float → (N, C, H, W).
        """
        N = x.shape[0]
        # Draw on the CPU generator (so a checkpoint can store its state), then move the few
        # numbers to the batch's device.
        r = torch.rand((N, 6), generator=generator, dtype=torch.float64)
        angle = (2 * r[:, 0] - 1) * math.radians(self.max_degrees)
        scale = self.zoom[0] + r[:, 1] * (self.zoom[1] - self.zoom[0])
        # affine_grid works in [-1, 1] coordinates: a shift by a fraction f of the width is 2f.
        shift_x = (2 * r[:, 2] - 1) * 2 * self.max_shift
        shift_y = (2 * r[:, 3] - 1) * 2 * self.max_shift
        flip_x = torch.where((r[:, 4] < 0.5) & self.flip_horizontal, -1.0, 1.0)
        flip_y = torch.where((r[:, 5] < 0.5) & self.flip_vertical, -1.0, 1.0)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.stack(
            [
                torch.stack([cos * flip_x, -sin * flip_y, shift_x], dim=1),
                torch.stack([sin * flip_x, cos * flip_y, shift_y], dim=1),
            ],
            dim=1,
        ).to(device=x.device, dtype=x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


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


# ── Checkpoints ──────────────────────────────────────────────────────────────────────────────


def _architecture(model: nn.Module) -> dict:
    return {
        "class": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "shapes": {name: list(t.shape) for name, t in model.state_dict().items()},
    }


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write a checkpoint atomically; the checkpoint it replaces is kept as ``<path>.prev``.

    The new file is written under a temporary name, flushed and fsynced, then renamed over
    ``path``, so an interrupted save never leaves a half-written checkpoint behind.

    Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    previous = path.with_name(path.name + ".prev")
    try:
        with temporary.open("wb") as file:
            torch.save(state, file)
            file.flush()
            os.fsync(file.fileno())
        if path.exists():
            # A hard link keeps the old checkpoint under .prev without a moment where `path`
            # is missing; a plain copy does where links are not supported.
            linked = previous.with_name(previous.name + ".tmp")
            linked.unlink(missing_ok=True)
            try:
                os.link(path, linked)
            except OSError:
                linked.write_bytes(path.read_bytes())
            os.replace(linked, previous)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    _fsync_directory(path.parent)
    return path


def _describe_mismatch(saved: dict, wanted: dict) -> str:
    saved_shapes, wanted_shapes = saved["shapes"], wanted["shapes"]
    differences = []
    for name in sorted(set(saved_shapes) | set(wanted_shapes)):
        a, b = saved_shapes.get(name), wanted_shapes.get(name)
        if a != b:
            saved_text = str(tuple(a)) if a else "absent"
            wanted_text = str(tuple(b)) if b else "absent"
            differences.append(f"{name}: checkpoint {saved_text}, model {wanted_text}")
    listed = "; ".join(differences[:4]) + (" …" if len(differences) > 4 else "")
    return (
        f"The checkpoint holds a {saved['class']} with {saved['parameters']:,} parameters, but "
        f"the model is a {wanted['class']} with {wanted['parameters']:,}: build the same "
        f"architecture (same class, channels, classes and image size) before loading. "
        f"Differences: {listed or 'layer names'}."
    )


def load_checkpoint(
    path: str | os.PathLike,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> dict:
    """Load a checkpoint written by ``fit``/``save_checkpoint`` into a model (and its optimizer).

    Only tensors and plain Python data are unpickled (``weights_only=True``). A missing file, a
    corrupt or truncated file, or a checkpoint of another architecture raises a clear error and
    leaves the model untouched.

    Returns the whole checkpoint dict (``epoch``, ``history``, ``settings``, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"There is no checkpoint at {path}.")
    previous = path.with_name(path.name + ".prev")
    fallback = f" The previous checkpoint is still at {previous}." if previous.is_file() else ""
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        raise ValueError(
            f"{path} is not a readable checkpoint: the file is corrupt, was cut short, or was "
            f"not written by helpers.training ({type(error).__name__}: {error}).{fallback}"
        ) from error
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is a torch file but not a helpers.training checkpoint (it lacks the "
            f"'{CHECKPOINT_FORMAT}' marker); a bare state_dict loads with "
            f"model.load_state_dict(torch.load(path, weights_only=True)).{fallback}"
        )
    wanted = _architecture(model)
    if state["architecture"]["class"] != wanted["class"] or (
        state["architecture"]["shapes"] != wanted["shapes"]
    ):
        raise ValueError(_describe_mismatch(state["architecture"], wanted))
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    return state


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
