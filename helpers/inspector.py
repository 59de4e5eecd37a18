"""Inspect one unit of a trained reference network: what it sees, computes and sends back.

A **unit** is one number of a convolution's output, ``out[channel, row, col]`` of ``conv1``,
``conv2`` or ``conv3``, taken before its ReLU. ``inspect_unit`` answers four questions about
it for one image, with the course's NumPy ops only (PyTorch merely hands over the weights):

1. *Which pixels can it see?* Its receptive field, from chapter 4's recurrence, and the same
   field measured by backpropagation;
2. *How does it compute its value?* The input patch, one kernel per input channel, one
   partial sum per channel, the bias, then ReLU and the max-pool it feeds;
3. *How much does the class score care about it?* The gradient of the score with respect to
   the unit, backpropagated from the score through the dense head, the ReLUs and the
   max-pool arg-maxes, op by op;
4. *Which pixels move it, and which pixels matter for the class?* The saliency (the gradient
   of the unit with respect to every input pixel) and an occlusion map (how much the class
   score drops when a square of zeros, black, hides each part of the image).

``top_patches`` finds, over many images, where one channel responds most, and crops each
place to the unit's receptive field. Networks shaped like ``ReferenceNet`` (three valid 3×3
convolutions, a 2×2 max-pool after the first two, two dense layers) are understood whatever
their layer names, so a ``DigitNet`` written in assignment 7 works too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from helpers.ops import (
    Conv2dSpec,
    PoolSpec,
    as_layer_spec,
    conv2d_backward,
    conv2d_forward,
    dense_backward,
    dense_forward,
    flatten_backward,
    flatten_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_backward,
    relu_forward,
    sum_pool2d_backward,
    sum_pool2d_forward,
)

__all__ = [
    "LAYERS",
    "NumpyNet",
    "TopPatch",
    "UnitInspection",
    "gradient_field",
    "inspect_unit",
    "numpy_layers",
    "occlusion_map",
    "receptive_field",
    "top_patches",
]

LAYERS = ("conv1", "conv2", "conv3")
"""The layers whose units can be inspected, by the names ``ReferenceNet`` gives them."""

POOLED = ("conv1", "conv2")  # a 2×2 max-pool follows these two convolutions


# ---------------------------------------------------------------------------------------------
# The weights, as NumPy arrays in the course's layout
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumpyNet:
    """A reference-shaped network's weights as float64 NumPy arrays, ready for ``helpers.ops``.

    **Shapes:** ``params["conv1"]`` is (w (F, C, 3, 3), b (F,)), likewise conv2 and conv3;
    ``params["dense1"]`` and ``params["dense2"]`` are (w (D, M), b (M,)), inputs by outputs
    as ``dense_forward`` wants them (PyTorch stores them outputs by inputs).
    """

    params: dict[str, tuple[np.ndarray, np.ndarray]]
    image_size: int

    @property
    def in_channels(self) -> int:
        """The number of channels of an input image."""
        return int(self.params["conv1"][0].shape[1])

    @property
    def num_classes(self) -> int:
        """The number of class scores the network outputs."""
        return int(self.params["dense2"][0].shape[1])

    def specs(self) -> list[Any]:
        """Return the feature extractor as chapter 4's layer specs: conv, pool, conv, pool, conv."""
        specs: list[Any] = []
        for name in LAYERS:
            f, c, k, _ = self.params[name][0].shape
            specs.append(Conv2dSpec(c, f, k))
            if name in POOLED:
                specs.append(PoolSpec(2))
        return specs


def _unsupported(model: Any, why: str) -> ValueError:
    return ValueError(
        f"{type(model).__name__} is not shaped like ReferenceNet (three valid 3×3 convolutions "
        f"with bias, a 2×2 max-pool after the first two, two dense layers): {why}."
    )


def numpy_layers(model: Any, *, image_size: int | None = None) -> NumpyNet:
    """Copy a ReferenceNet's weights (or a network built the same way) into NumPy arrays.

    Any ``in_channels``, ``num_classes`` and ``image_size`` works. A network without an
    ``image_size`` attribute (a ``DigitNet`` of assignment 7) is taken to read 28×28 digits
    unless ``image_size`` says otherwise. The network is checked by running random images
    through it and through the NumPy ops: the scores must agree, so a network with another
    ``forward`` (no pooling, another order) is refused.

    Returns a ``NumpyNet``; a ``NumpyNet`` passed in comes back as it is.
    """
    if isinstance(model, NumpyNet):
        return model
    import torch  # only to read the weights and run the one check
    from torch import nn

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    dense = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(convs) != 3 or len(dense) != 2:
        raise _unsupported(model, f"it has {len(convs)} convolutions and {len(dense)} dense layers")
    for conv in convs:
        plain = conv.stride == (1, 1) and conv.padding == (0, 0) and conv.dilation == (1, 1)
        if not plain or conv.groups != 1 or conv.bias is None:
            raise _unsupported(model, f"{conv} has a stride, padding, groups or no bias")

    def array(t: torch.Tensor | None) -> np.ndarray:
        assert t is not None  # every bias was checked above
        return t.detach().to("cpu", torch.float64).numpy().copy()

    params = {name: (array(c.weight), array(c.bias)) for name, c in zip(LAYERS, convs, strict=True)}
    for name, layer in zip(("dense1", "dense2"), dense, strict=True):
        params[name] = (array(layer.weight).T.copy(), array(layer.bias))
    size = image_size or getattr(model, "image_size", 28)
    if isinstance(size, bool) or not isinstance(size, int) or size < 18:
        raise ValueError(f"image_size must be a whole number of pixels, 18 or more; got {size!r}.")
    net = NumpyNet(params, size)

    x = np.random.default_rng(0).random((2, net.in_channels, size, size))
    was_training = model.training
    first = next(model.parameters())
    try:
        model.eval()
        with torch.no_grad():
            theirs = model(torch.from_numpy(x).to(first)).double().cpu().numpy()
    except Exception as error:  # a wrong shape anywhere in their forward
        raise _unsupported(model, f"its forward pass failed ({error})") from None
    finally:
        model.train(was_training)
    try:
        ours = _scores(net, x)
    except ValueError as error:
        raise _unsupported(model, str(error)) from None
    if theirs.shape != ours.shape or not np.allclose(theirs, ours, rtol=1e-3, atol=1e-4):
        raise _unsupported(model, "its scores differ from the reference computation")
    return net


# ---------------------------------------------------------------------------------------------
# Forward and backward with the course's ops, keeping every cache
# ---------------------------------------------------------------------------------------------


@dataclass
class _Step:
    """One conv block of a forward pass: its input, output, caches and pooled output."""

    x: np.ndarray  # (N, C, H, W) the conv's input
    out: np.ndarray  # (N, F, OH, OW) the conv's output, before ReLU: the units
    act: np.ndarray  # (N, F, OH, OW) after ReLU
    conv_cache: Any
    relu_cache: Any
    pooled: np.ndarray | None = None  # (N, F, OH // 2, OW // 2) after the max-pool
    pool_cache: Any = None


@dataclass
class _Tape:
    """Everything a forward pass computed, so that backward passes can start anywhere."""

    steps: dict[str, _Step]
    head: tuple[Any, ...] = ()
    scores: np.ndarray | None = None


def _forward(net: NumpyNet, x: np.ndarray, *, upto: str | None = None) -> _Tape:
    """Run a batch through the network with the course's ops, up to ``upto`` or to the scores.

    **Shapes:** x (N, C, H, W) → tape.scores (N, num_classes).
    """
    tape = _Tape({})
    a = x
    for name in LAYERS:
        out, conv_cache = conv2d_forward(a, *net.params[name])
        act, relu_cache = relu_forward(out)
        step = tape.steps[name] = _Step(a, out, act, conv_cache, relu_cache)
        a = act
        if name in POOLED:
            a, step.pool_cache = max_pool2d_forward(act, size=2)
            step.pooled = a
        if name == upto:
            return tape
    flat, flat_cache = flatten_forward(a)
    hidden, dense1_cache = dense_forward(flat, *net.params["dense1"])
    hidden_act, relu4_cache = relu_forward(hidden)
    tape.scores, dense2_cache = dense_forward(hidden_act, *net.params["dense2"])
    tape.head = (flat_cache, dense1_cache, relu4_cache, dense2_cache)
    return tape


def _scores(net: NumpyNet, x: np.ndarray) -> np.ndarray:
    """Return the class scores of a batch (a forward pass run to the end).

    **Shapes:** x (N, C, H, W) → (N, num_classes).
    """
    scores = _forward(net, x).scores
    assert scores is not None  # a pass with no ``upto`` always reaches the scores
    return scores


def _score_to_layer(tape: _Tape, dscores: np.ndarray, layer: str) -> np.ndarray:
    """Backpropagate a gradient on the scores down to a conv layer's output (before ReLU).

    **Shapes:** dscores (N, K) → dout (N, F, OH, OW) of ``layer``. Every max-pool sends each
    window's gradient to its arg-max only; every ReLU blocks it where its input was <= 0.
    """
    flat_cache, dense1_cache, relu4_cache, dense2_cache = tape.head
    dhidden = relu_backward(dense_backward(dscores, dense2_cache)[0], relu4_cache)
    da = flatten_backward(dense_backward(dhidden, dense1_cache)[0], flat_cache)
    for name in reversed(LAYERS):
        step = tape.steps[name]
        if step.pool_cache is not None:
            da = max_pool2d_backward(da, step.pool_cache)
        dout = relu_backward(da, step.relu_cache)
        if name == layer:
            return dout
        da = conv2d_backward(dout, step.conv_cache)[0]
    raise AssertionError(layer)  # unreachable: layer is checked by the callers


def _layer_to_input(tape: _Tape, dout: np.ndarray, layer: str) -> np.ndarray:
    """Backpropagate a gradient on a conv layer's output (before ReLU) down to the input.

    **Shapes:** dout (N, F, OH, OW) of ``layer`` → dx (N, C, H, W).
    """
    below = LAYERS[: LAYERS.index(layer) + 1]
    dx = conv2d_backward(dout, tape.steps[layer].conv_cache)[0]
    for name in reversed(below[:-1]):
        step = tape.steps[name]
        dx = max_pool2d_backward(dx, step.pool_cache)
        dx = relu_backward(dx, step.relu_cache)
        dx = conv2d_backward(dx, step.conv_cache)[0]
    return dx


# ---------------------------------------------------------------------------------------------
# Receptive fields: predicted by chapter 4's recurrence, measured by backpropagation
# ---------------------------------------------------------------------------------------------


def receptive_field(
    specs: list[Any], row: int, col: int, *, image_size: int
) -> tuple[int, int, int, int]:
    """Return the input pixels a unit of the last layer in ``specs`` sees (chapter 4's recurrence).

    Each conv or pool layer with window k and stride s updates the field size r and the jump
    j (input pixels between neighbouring units): r ← r + (k − 1)·j, j ← j·s, from r = j = 1.
    The field of unit 0 starts at input pixel 0, or before it by p·j for a layer padded by p;
    unit (row, col) starts j·row and j·col pixels further. The part of the field that falls
    on padding, outside the image, is cut off.

    **Shapes:** specs are layer specs (``Conv2dSpec``, ``PoolSpec`` or their tuples); the
    answer is (top, left, bottom, right), inclusive, clipped to the image_size × image_size
    input.
    """
    r, j, start = 1, 1, 0
    for spec in map(as_layer_spec, specs):
        if isinstance(spec, Conv2dSpec):
            k, s, pad = spec.kernel_size, spec.stride, spec.padding
            if isinstance(pad, str):
                pad = {"valid": 0, "same": (k - 1) // 2}[pad]
        elif isinstance(spec, PoolSpec):
            k, s, pad = spec.size, spec.stride or spec.size, 0
        else:
            continue
        r, j, start = r + (k - 1) * j, j * s, start - pad * j
    last = image_size - 1
    top, left = start + row * j, start + col * j
    return max(top, 0), max(left, 0), min(top + r - 1, last), min(left + r - 1, last)


def gradient_field(net: NumpyNet, layer: str, row: int, col: int) -> tuple[int, int, int, int]:
    """Measure a unit's receptive field as the pixels its gradient reaches with every path open.

    One image of ones goes through convolutions whose weights are all 1, without ReLU, with
    every pooling window sending its gradient to all its positions (sum-pooling): the input
    for which nothing is switched off. The pixels with a non-zero gradient are the ones the
    unit can depend on at all, for some input.

    **Shapes:** the answer is (top, left, bottom, right), inclusive, in input pixels.
    """
    _check_layer(layer)
    a = np.ones((1, 1, net.image_size, net.image_size))
    caches = []
    for name in LAYERS[: LAYERS.index(layer) + 1]:
        k = net.params[name][0].shape[-1]
        a, conv_cache = conv2d_forward(a, np.ones((1, 1, k, k)))
        pool = None
        if name in POOLED and name != layer:
            a, pool = sum_pool2d_forward(a, size=2)
        caches.append((conv_cache, pool))
    dx = np.zeros_like(a)
    dx[0, 0, row, col] = 1.0
    for conv_cache, pool in reversed(caches):
        if pool is not None:
            dx = sum_pool2d_backward(dx, pool)
        dx = conv2d_backward(dx, conv_cache)[0]
    rows, cols = np.nonzero(dx[0, 0])
    return int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())


# ---------------------------------------------------------------------------------------------
# Checking what the caller asks for
# ---------------------------------------------------------------------------------------------


def _check_layer(layer: Any) -> str:
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {', '.join(LAYERS)}; got {layer!r}.")
    return layer


def _check_index(value: Any, name: str, size: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number, got {value!r}.")
    if not 0 <= value < size:
        raise ValueError(f"{name} must be from 0 to {size - 1} ({what}); got {value}.")
    return int(value)


def _as_batch(images: Any, net: NumpyNet) -> np.ndarray:
    """Turn images into the float64 batch (N, C, S, S) the network reads.

    uint8 images are pixel values and are scaled to [0, 1] as the data loaders' images are
    for training; float images are taken as they are. A batch is (N, S, S) or (N, C, S, S);
    colour uint8 photos may be channels last, (N, S, S, C), as the loaders return them.
    """
    if hasattr(images, "detach"):  # a torch tensor
        images = images.detach().cpu().numpy()
    x = np.asarray(images)
    c, s = net.in_channels, net.image_size
    if x.dtype.kind not in "biuf":
        raise TypeError(f"images must hold numbers, got dtype {x.dtype}.")
    scaled = x.astype(np.float64) / 255 if x.dtype == np.uint8 else x.astype(np.float64)
    if x.ndim == 3 and c == 1 and x.shape[1:] == (s, s):
        scaled = scaled[:, None]
    elif x.ndim == 4 and x.dtype == np.uint8 and x.shape[1:] == (s, s, c):
        scaled = scaled.transpose(0, 3, 1, 2)
    if scaled.ndim != 4 or scaled.shape[1:] != (c, s, s) or len(scaled) == 0:
        raise ValueError(
            f"this network reads images of shape ({c}, {s}, {s}) (channels first; (H, W) "
            f"works for greyscale); got {x.shape[1:] if x.ndim else x.shape} per image."
        )
    if not np.all(np.isfinite(scaled)):
        raise ValueError("the image holds NaN or infinite values.")
    return np.ascontiguousarray(scaled)


def _as_image(image: Any, net: NumpyNet) -> np.ndarray:
    """Turn one image, (S, S), (C, S, S) or (S, S, C) uint8, into a batch of one (1, C, S, S)."""
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.ndim not in (2, 3):
        raise ValueError(
            f"inspect one image at a time, shaped (H, W) or (C, H, W); got shape {arr.shape}."
        )
    return _as_batch(arr[None], net)


# ---------------------------------------------------------------------------------------------
# Occlusion: which parts of the image does the class score need?
# ---------------------------------------------------------------------------------------------


def occlusion_map(
    model: Any, image: Any, *, target: int, patch: int = 5, fill: float = 0.0, batch: int = 256
) -> np.ndarray:
    """Hide a square around every pixel in turn and record how much the class score drops.

    All occluded copies of the image go through the NumPy network ``batch`` at a time; the
    square is cut off where it passes the border.

    **Shapes:** image as ``inspect_unit``; the answer is (H, W), entry (i, j) the target
    score of the clean image minus its score with the square centred on pixel (i, j) filled
    with ``fill``. Positive: hiding there hurts the class.
    """
    net = numpy_layers(model)
    x = _as_image(image, net)
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < 1:
        raise ValueError(f"patch must be a positive whole number of pixels, got {patch!r}.")
    target = _check_index(target, "target", net.num_classes, "a class index")
    h, w = x.shape[2:]
    clean = float(_scores(net, x)[0, target])
    # covers[i, r]: does the square centred on row i cover row r? (the same for columns)
    offsets = np.arange(h)[None, :] - np.arange(h)[:, None] + patch // 2
    covers_rows = (offsets >= 0) & (offsets < patch)
    offsets = np.arange(w)[None, :] - np.arange(w)[:, None] + patch // 2
    covers_cols = (offsets >= 0) & (offsets < patch)
    hidden = (covers_rows[:, None, :, None] & covers_cols[None, :, None, :]).reshape(h * w, h, w)
    drops = np.empty(h * w)
    for start in range(0, h * w, batch):
        mask = hidden[start : start + batch, None]
        occluded = np.where(mask, fill, x)
        drops[start : start + batch] = clean - _scores(net, occluded)[:, target]
    return drops.reshape(h, w)


# ---------------------------------------------------------------------------------------------
# One unit, forward and backward
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitInspection:
    """Everything ``inspect_unit`` found out about one unit for one image.

    **Shapes:** image (C, H, W) as the network read it; patch and kernels (C_in, k, k),
    partial_sums (C_in,) with C_in the layer's input channels; unit_map and score_map
    (OH, OW), the unit's whole channel; saliency (C, H, W); occlusion (H, W). Fields are
    (top, left, bottom, right), inclusive, in input pixels.
    """

    layer: str
    channel: int
    row: int
    col: int
    image: np.ndarray
    field: tuple[int, int, int, int]
    measured_field: tuple[int, int, int, int]
    patch: np.ndarray
    kernels: np.ndarray
    partial_sums: np.ndarray
    bias: float
    pre_relu: float
    post_relu: float
    pooled: float | None  # the value of the pool window it feeds; None where no pool follows
    pool_window: tuple[int, int] | None  # (row, col) of that window in the pooled map
    won_pool: bool | None  # did this unit hold its window's maximum (the arg-max)?
    unit_map: np.ndarray
    target: int
    predicted: int
    probabilities: np.ndarray
    score: float
    score_gradient: float  # d score / d unit, through ReLU and the pool routing
    score_map: np.ndarray  # d score / d every unit of this channel
    saliency: np.ndarray  # d unit / d every input pixel
    occlusion: np.ndarray
    occlusion_size: int  # the side of the square hidden for each pixel of ``occlusion``


def inspect_unit(
    model: Any,
    image: Any,
    *,
    layer: str,
    channel: int,
    row: int,
    col: int,
    target: int | None = None,
    patch: int = 5,
    occlusion: np.ndarray | None = None,
) -> UnitInspection:
    """Take one unit of a trained network apart for one image, forward and backward.

    The unit is ``out[channel, row, col]`` of the convolution ``layer``, before its ReLU.
    Everything is computed with :mod:`helpers.ops`: the forward pass caches every layer, the
    class score ``target`` (the predicted class by default) is backpropagated down to this
    layer, and a one-hot gradient on the unit is backpropagated down to the pixels.
    ``patch`` is the side of the occluding square (see ``occlusion_map``); the occlusion map
    depends on the image and the target only, so one computed before may be passed in as
    ``occlusion`` instead of being recomputed for every unit.

    **Shapes:** image (H, W) greyscale or (C, H, W) floats as the network reads them, or
    uint8 pixel values (scaled to [0, 1]), for a model built for C×H×W inputs.

    Returns a ``UnitInspection``.
    """
    net = numpy_layers(model)
    layer = _check_layer(layer)
    x = _as_image(image, net)
    tape = _forward(net, x)
    step = tape.steps[layer]
    f, oh, ow = step.out.shape[1:]
    channel = _check_index(channel, "channel", f, f"{layer} has {f} channels")
    row = _check_index(row, "row", oh, f"{layer}'s maps are {oh}×{ow}")
    col = _check_index(col, "col", ow, f"{layer}'s maps are {oh}×{ow}")
    assert tape.scores is not None  # the pass above ran to the end
    scores = tape.scores[0]
    predicted = int(np.argmax(scores))
    target = predicted if target is None else target
    target = _check_index(target, "target", net.num_classes, "a class index")

    # Forward: the patch under the kernel, one partial sum per input channel, plus the bias.
    w, b = net.params[layer]
    k = w.shape[-1]
    patch_values = step.x[0, :, row : row + k, col : col + k]
    kernels = w[channel]
    partial_sums = (patch_values * kernels).sum(axis=(1, 2))
    pooled = pool_window = won = None
    # An odd-sized map loses its last row and column to the pool: those units feed no window.
    if step.pooled is not None and all(np.array([row, col]) // 2 < step.pooled.shape[2:]):
        pool_window = (row // 2, col // 2)
        pooled = float(step.pooled[0, channel, row // 2, col // 2])
        # Ask the max-pool's own backward where it sends its window's gradient.
        probe = np.zeros_like(step.pooled)
        probe[0, channel, row // 2, col // 2] = 1.0
        won = bool(max_pool2d_backward(probe, step.pool_cache)[0, channel, row, col] == 1.0)

    # Backward from the class score down to this layer, and from the unit down to the pixels.
    dscores = np.zeros_like(tape.scores)
    dscores[0, target] = 1.0
    score_map = _score_to_layer(tape, dscores, layer)[0, channel]
    dunit = np.zeros_like(step.out)
    dunit[0, channel, row, col] = 1.0
    saliency = _layer_to_input(tape, dunit, layer)[0]

    if occlusion is None:
        occluded = occlusion_map(net, x[0], target=target, patch=patch)
    else:
        occluded = np.asarray(occlusion, dtype=np.float64)
        if occluded.shape != x.shape[2:]:
            raise ValueError(f"occlusion must be an {x.shape[2:]} map, got shape {occluded.shape}.")
    probabilities = np.exp(scores - scores.max())
    specs = net.specs()[: 2 * LAYERS.index(layer) + 1]
    return UnitInspection(
        layer=layer,
        channel=channel,
        row=row,
        col=col,
        image=x[0],
        field=receptive_field(specs, row, col, image_size=net.image_size),
        measured_field=gradient_field(net, layer, row, col),
        patch=patch_values.copy(),
        kernels=kernels.copy(),
        partial_sums=partial_sums,
        bias=float(b[channel]),
        pre_relu=float(step.out[0, channel, row, col]),
        post_relu=float(step.act[0, channel, row, col]),
        pooled=pooled,
        pool_window=pool_window,
        won_pool=won,
        unit_map=step.out[0, channel].copy(),
        target=target,
        predicted=predicted,
        probabilities=probabilities / probabilities.sum(),
        score=float(scores[target]),
        score_gradient=float(score_map[row, col]),
        score_map=score_map,
        saliency=saliency,
        occlusion=occluded,
        occlusion_size=patch,
    )


# ---------------------------------------------------------------------------------------------
# Where does one channel respond most?
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopPatch:
    """One of the strongest responses of a channel: where it happened and what it saw.

    **Shapes:** crop (C, fh, fw), the image cut to the unit's receptive field ``field``
    (top, left, bottom, right, inclusive).
    """

    image_index: int
    row: int
    col: int
    value: float
    field: tuple[int, int, int, int]
    crop: np.ndarray


def top_patches(model: Any, images: Any, *, layer: str, channel: int, k: int = 9) -> list[TopPatch]:
    """Find the ``k`` places, over all images and positions, where one channel responds most.

    The response is the convolution's output before ReLU; each place is cropped to the
    receptive field of its unit, which shows what the channel looks for: edges in conv1,
    strokes and their junctions in conv2, parts of digits in conv3.

    **Shapes:** images (N, H, W) greyscale or (N, C, H, W), floats as the network reads
    them or uint8 pixel values.

    Returns a list of ``TopPatch``, strongest first.
    """
    net = numpy_layers(model)
    layer = _check_layer(layer)
    x = _as_batch(images, net)
    f = net.params[layer][0].shape[0]
    channel = _check_index(channel, "channel", f, f"{layer} has {f} channels")
    maps = _forward(net, x, upto=layer).steps[layer].out[:, channel]  # (N, OH, OW)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= maps.size:
        raise ValueError(f"k must be from 1 to {maps.size} (every unit of every image); got {k!r}.")
    flat = maps.ravel()
    best = np.argpartition(-flat, k - 1)[:k]
    best = best[np.argsort(-flat[best], kind="stable")]
    specs = net.specs()[: 2 * LAYERS.index(layer) + 1]
    found = []
    for index in best:
        n, row, col = np.unravel_index(index, maps.shape)
        top, left, bottom, right = receptive_field(specs, row, col, image_size=net.image_size)
        crop = x[n, :, top : bottom + 1, left : right + 1].copy()
        field = (top, left, bottom, right)
        found.append(TopPatch(int(n), int(row), int(col), float(flat[index]), field, crop))
    return found
