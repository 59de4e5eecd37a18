"""Checkpoints written atomically and read back with a clear message when they do not fit."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from helpers.ops.shapes import count_parameters
from helpers.torch.device import CHECKPOINT_FORMAT

__all__ = ["load_checkpoint", "save_checkpoint"]

_FORMAT_FAMILY = CHECKPOINT_FORMAT.rsplit(" ", 1)[0]


# ── Checkpoints ──────────────────────────────────────────────────────────────────────────────


def _architecture(model: nn.Module) -> dict:
    return {
        "class": type(model).__name__,
        "parameters": count_parameters(model),
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

    Returns the whole checkpoint dict (``epoch``, ``history``, ``config``, ...).
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
            f"not written by helpers.torch ({type(error).__name__}: {error}).{fallback}"
        ) from error
    written = state.get("format") if isinstance(state, dict) else None
    if (
        isinstance(written, str)
        and written.startswith(_FORMAT_FAMILY)
        and written != CHECKPOINT_FORMAT
    ):
        raise ValueError(
            f"{path} was written by an older helpers.torch ('{written}', not "
            f"'{CHECKPOINT_FORMAT}'): it cannot be resumed, so train afresh. Its weights alone "
            "load with model.load_state_dict(torch.load(path, weights_only=True)['model'])."
        )
    if not isinstance(state, dict) or written != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is a torch file but not a helpers.torch checkpoint (it lacks the "
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
