"""Data augmentation on the device: flips, rotations, shifts and zoom in one warp; brightness."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["Augment"]


class Augment:
    """Random flips, rotations, shifts and zoom for a training batch, computed on its device.

    One affine warp per image (``affine_grid`` + ``grid_sample``) does everything at once; the
    border pixels are repeated outwards, so a white photo background stays white and a black
    MNIST background stays black. ``brightness=(low, high)`` also multiplies every image by a
    random factor between ``low`` and ``high`` (the light of the photo), clipped to [0, 1];
    the default ``(1.0, 1.0)`` leaves brightness alone and draws no random numbers for it.
    """

    def __init__(
        self,
        *,
        flip_horizontal: bool = True,
        flip_vertical: bool = False,
        max_degrees: float = 15.0,
        max_shift: float = 0.1,
        zoom: tuple[float, float] = (0.9, 1.1),
        brightness: tuple[float, float] = (1.0, 1.0),
    ) -> None:
        if max_degrees < 0 or max_shift < 0:
            raise ValueError("max_degrees and max_shift must not be negative.")
        if not 0 < zoom[0] <= zoom[1]:
            raise ValueError(f"zoom must be (smallest, largest) with 0 < smallest; got {zoom}.")
        if not 0 <= brightness[0] <= brightness[1]:
            raise ValueError(
                f"brightness must be (lowest, highest) factors with 0 <= lowest; got {brightness}."
            )
        self.flip_horizontal, self.flip_vertical = flip_horizontal, flip_vertical
        self.max_degrees, self.max_shift, self.zoom = max_degrees, max_shift, zoom
        self.brightness = (float(brightness[0]), float(brightness[1]))

    def __repr__(self) -> str:
        # A checkpoint's recipe keeps this text: brightness shows only when it is used, so
        # runs recorded before it existed still resume.
        extra = f", brightness={self.brightness}" if self.brightness != (1.0, 1.0) else ""
        return (
            f"Augment(flip_horizontal={self.flip_horizontal}, flip_vertical={self.flip_vertical},"
            f" max_degrees={self.max_degrees}, max_shift={self.max_shift}, zoom={self.zoom}"
            f"{extra})"
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
        out = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        low, high = self.brightness
        if (low, high) != (1.0, 1.0):
            light = low + torch.rand(N, generator=generator, dtype=torch.float64) * (high - low)
            factor = light.to(device=x.device, dtype=x.dtype).view(N, *([1] * (x.dim() - 1)))
            out = (out * factor).clamp(0.0, 1.0)
        return out
