"""The trained network the capstone's fake students hand in beside their notebooks."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# The specification's parameter names for the toolkit's ReferenceNet layers.
TOOLKIT_NAMES = {
    "features.conv1": "conv1",
    "features.conv2": "conv2",
    "features.conv3": "conv3",
    "classifier.dense1": "fc1",
    "classifier.dense2": "fc2",
}


@dataclass(frozen=True)
class DigitnetCheckpoint:
    """A digitnet.pt trained with the toolkit's recipe, handed in as is or spoilt on purpose."""

    path: Path
    accuracy: float
    seconds: float

    @property
    def note(self) -> str:
        return (
            f"Checkpoint for the fake students: toolkit recipe, {self.accuracy:.2%} test "
            f"accuracy, {self.seconds:.1f} s of training on 1 thread."
        )

    def hand_in(self, folder: Path, files: str) -> None:
        if files:
            _bad_checkpoint(files, self.path, folder / self.path.name)
        else:
            shutil.copy2(self.path, folder / self.path.name)


def _trained_checkpoint(folder: Path, data_dir: Path) -> DigitnetCheckpoint:
    """Train the specified network with the toolkit's recipe, under the spec's names."""
    import torch
    from assignments.cases_07_capstone import CHECKPOINT

    from helpers.data import load_mnist
    from helpers.torch import DeviceData, evaluate, fit, seed_everything
    from helpers.torch.models import ReferenceNet

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x, y = load_mnist("train", data_dir=data_dir)
        xt, yt = load_mnist("test", data_dir=data_dir)
        seed_everything(0)
        model = ReferenceNet()
        start = time.perf_counter()
        history = fit(model, DeviceData.from_numpy(x, y), epochs=2, seed=0, progress=False)
        seconds = time.perf_counter() - start
        _, accuracy = evaluate(model, DeviceData.from_numpy(xt, yt))
    finally:
        torch.set_num_threads(threads)
    weights = {}
    for name, tensor in model.state_dict().items():
        layer, kind = name.rsplit(".", 1)
        weights[f"{TOOLKIT_NAMES[layer]}.{kind}"] = tensor.detach().contiguous().clone()
    path = folder / CHECKPOINT
    torch.save({"model": weights, "history": history.as_dict()}, path)
    return DigitnetCheckpoint(path, accuracy, seconds)


def _bad_checkpoint(kind: str, good: Path, dest: Path) -> None:
    import torch

    if kind == "missing":
        return
    if kind == "corrupt":
        data = good.read_bytes()
        dest.write_bytes(data[: len(data) // 2])
        return
    state = torch.load(good, weights_only=True)
    weights = dict(state["model"])
    if kind == "architecture":
        generator = torch.Generator().manual_seed(1)
        weights["fc1.weight"] = torch.randn(128, 576, generator=generator) * 0.05
        weights["fc1.bias"] = torch.zeros(128)
        weights["fc2.weight"] = torch.randn(10, 128, generator=generator) * 0.05
    elif kind == "untrained":
        generator = torch.Generator().manual_seed(2)
        weights = {k: torch.randn(v.shape, generator=generator) * 0.05 for k, v in weights.items()}
    else:
        raise ValueError(kind)
    torch.save({"model": weights, "history": state["history"]}, dest)


@pytest.fixture(scope="session")
def digitnet_checkpoint(tmp_path_factory, data_dir) -> DigitnetCheckpoint:
    """One trained digitnet.pt for every capstone test of the session (about 20-40 s)."""
    trained = _trained_checkpoint(tmp_path_factory.mktemp("checkpoint"), data_dir)
    # Below the bar, the honest fake students would fail Part 5 for the recipe's fault.
    # evaluate() reports accuracy as a fraction (the course's one unit, see helpers.history).
    assert trained.accuracy >= 0.99, (
        f"the toolkit's recipe reached only {trained.accuracy:.2%} (needs 99.00%)"
    )
    return trained
