"""Devices, seeds and data that lives on the device (CUDA, MPS or the CPU)."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "DeviceData",
    "OPTIMIZERS",
    "SCHEDULES",
    "bf16_supported",
    "pick_device",
    "seed_everything",
]


# v2: accuracies in the history are fractions (0 to 1), and the recipe is stored as "config".
CHECKPOINT_FORMAT = "pixels-to-predictions checkpoint v2"
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
