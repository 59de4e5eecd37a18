"""The training toolkit: data on the device, the loop, checkpoints, the command line, plots."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

import helpers.torch.checkpoints as checkpoints
from helpers.data import load_mnist
from helpers.torch import (
    Augment,
    DeviceData,
    FitHistory,
    History,
    TrainConfig,
    TrainingLog,
    confusion_matrix,
    evaluate,
    fit,
    load_checkpoint,
    pick_device,
    predict,
    save_checkpoint,
    seed_everything,
)
from helpers.torch.models import FruitNet, LeNet5, ReferenceNet
from helpers.torch.plots import (
    plot_class_frequencies,
    plot_confusion_matrix,
    plot_feature_maps,
    plot_first_layer_filters,
    plot_history,
    plot_misclassified,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Two threads on a shared 2-core machine are often slower than one.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def mnist_train(data_dir) -> DeviceData:
    return DeviceData.from_numpy(*load_mnist("train", data_dir=data_dir)).subset(2000, seed=0)


@pytest.fixture(scope="module")
def mnist_test(data_dir) -> DeviceData:
    return DeviceData.from_numpy(*load_mnist("test", data_dir=data_dir)).subset(1000, seed=0)


@pytest.fixture(scope="module")
def tiny(mnist_train) -> DeviceData:
    return mnist_train.subset(256, seed=1)


# ── Device, seeds, data ──────────────────────────────────────────────────────────────────────


def test_pick_device_prints_a_summary(capsys):
    device = pick_device("cpu")
    assert device == torch.device("cpu")
    out = capsys.readouterr().out
    assert out.startswith("Device: CPU (") and "torch" in out
    auto = pick_device(verbose=False)
    assert auto.type in ("cuda", "mps", "cpu")
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            pick_device("cuda")


def test_seed_everything_repeats_random_numbers():
    g = seed_everything(7)
    first = (torch.rand(3), np.random.rand(3), torch.rand(3, generator=g))
    g = seed_everything(7)
    second = (torch.rand(3), np.random.rand(3), torch.rand(3, generator=g))
    assert torch.equal(first[0], second[0]) and torch.equal(first[2], second[2])
    np.testing.assert_array_equal(first[1], second[1])


def test_device_data_from_numpy_layouts_and_errors():
    grey = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)
    colour = np.zeros((2, 4, 5, 3), dtype=np.uint8)
    colour[1, 2, 3] = (10, 20, 30)
    labels = np.array([0, 1])
    data = DeviceData.from_numpy(grey, labels)
    assert data.images.shape == (2, 1, 4, 5) and data.images.dtype == torch.uint8
    x, y = data.batch(torch.tensor([1]))
    assert x.dtype == torch.float32 and x.max().item() == pytest.approx(39 / 255)
    assert y.tolist() == [1]
    rgb = DeviceData.from_numpy(colour, labels)
    assert rgb.images.shape == (2, 3, 4, 5)
    assert rgb.images[1, :, 2, 3].tolist() == [10, 20, 30]
    with pytest.raises(TypeError, match="uint8"):
        DeviceData.from_numpy(grey.astype(np.float64), labels)
    with pytest.raises(ValueError, match="one integer per image"):
        DeviceData.from_numpy(grey, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        DeviceData.from_numpy(grey[0], labels)


def test_confusion_matrix_counts_pairs():
    matrix = confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), num_classes=3)
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.array([0, 3]), np.array([0, 1]), num_classes=3)


def test_history_round_trips_through_csv(tmp_path):
    history = History()
    history.append(
        epoch=1,
        steps=10,
        train_loss=0.5,
        train_accuracy=0.9,
        val_loss=math.nan,
        val_accuracy=math.nan,
        lr=1e-3,
        seconds=1.5,
    )
    history.append(
        epoch=2,
        steps=20,
        train_loss=0.25,
        train_accuracy=0.955,
        val_loss=0.3,
        val_accuracy=0.94,
        lr=5e-4,
        seconds=1.25,
    )
    path = history.to_csv(tmp_path / "history.csv")
    assert path.read_text().splitlines()[0] == (
        "epoch,steps,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds"
    )
    again = History.from_csv(path)
    assert again.epoch == [1, 2] and again.steps == [10, 20]
    assert again.train_accuracy == [0.9, 0.955]
    assert again.as_rows()[1]["val_accuracy"] == 0.94
    assert math.isnan(again.val_loss[0]) and again.val_loss[1] == 0.3
    with pytest.raises(ValueError, match="exactly the columns"):
        history.append(epoch=3, train_loss=0.1)


# ── Augmentation ─────────────────────────────────────────────────────────────────────────────


def test_augment_warps_a_copy_reproducibly():
    x = torch.rand(8, 3, 20, 20)
    before = x.clone()
    augment = Augment(flip_vertical=True)
    a = augment(x, generator=torch.Generator().manual_seed(3))
    b = augment(x, generator=torch.Generator().manual_seed(3))
    assert a.shape == x.shape and torch.equal(x, before)
    assert torch.equal(a, b)
    assert (a - x).abs().amax(dim=(1, 2, 3)).min() > 0.01, "every image should change"


def test_augment_with_everything_off_is_the_identity():
    x = torch.rand(4, 1, 28, 28)
    still = Augment(flip_horizontal=False, max_degrees=0, max_shift=0, zoom=(1.0, 1.0))
    torch.testing.assert_close(still(x, generator=torch.Generator()), x, atol=1e-5, rtol=0)


def test_augment_flip_mirrors_the_image():
    x = torch.rand(16, 1, 12, 12)
    flip = Augment(flip_horizontal=True, max_degrees=0, max_shift=0, zoom=(1.0, 1.0))
    out = flip(x, generator=torch.Generator().manual_seed(0))
    mirrored = [torch.allclose(o, xi.flip(-1), atol=1e-5) for o, xi in zip(out, x, strict=True)]
    same = [torch.allclose(o, xi, atol=1e-5) for o, xi in zip(out, x, strict=True)]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert any(mirrored) and any(same)


def test_augment_brightness_scales_each_image_and_is_off_by_default():
    x = torch.rand(32, 3, 8, 8) * 0.5
    still = dict(flip_horizontal=False, max_degrees=0, max_shift=0, zoom=(1.0, 1.0))
    lit = Augment(**still, brightness=(0.5, 1.5))
    out = lit(x, generator=torch.Generator().manual_seed(0))
    factor = out.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    scaled = out / factor.view(-1, 1, 1, 1)
    torch.testing.assert_close(scaled, x, atol=1e-4, rtol=1e-4)  # one factor per image
    assert 0.5 - 1e-4 <= factor.min() and factor.max() <= 1.5 + 1e-4
    assert factor.max() - factor.min() > 0.5, "each image draws its own factor"
    assert out.max() <= 1.0 and "brightness=(0.5, 1.5)" in repr(lit)
    bright = Augment(**still, brightness=(3.0, 3.0))(x, generator=torch.Generator())
    assert bright.max() == 1.0, "brighter than white is clipped"
    # The default draws nothing more: runs (and recipes) from before brightness are unchanged.
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    a, b = Augment()(x, generator=g1), Augment(brightness=(1.0, 1.0))(x, generator=g2)
    assert torch.equal(a, b) and torch.equal(g1.get_state(), g2.get_state())
    assert "brightness" not in repr(Augment())
    with pytest.raises(ValueError, match="brightness"):
        Augment(brightness=(1.2, 0.8))


class Recorder(nn.Module):
    """A tiny trainable model that keeps every batch it sees, with the mode it was in."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = nn.Linear(28 * 28, 10)
        self.seen: list[tuple[bool, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, x.detach().float().clone()))
        return self.dense(x.flatten(1))


def _matches_some_image(batch: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    distance = (batch.flatten(1)[:, None, :] - images.flatten(1)[None, :, :]).abs().amax(-1)
    return distance.min(dim=1).values < 1e-6


@pytest.mark.parametrize("augmented", [True, False])
def test_augmentation_changes_train_batches_but_never_eval_batches(tiny, augmented):
    train, val = tiny.subset(64, seed=2), tiny.subset(48, seed=3)
    model = Recorder()
    augment = Augment(flip_horizontal=False, max_degrees=10) if augmented else None
    fit(model, train, val=val, epochs=1, batch_size=16, augment=augment, progress=False)
    raw_train = train.images.float() / 255
    train_batches = [x for mode, x in model.seen if mode]
    eval_batches = [x for mode, x in model.seen if not mode]
    assert sum(len(x) for x in train_batches) == len(train)
    matched = torch.cat([_matches_some_image(x, raw_train) for x in train_batches])
    if augmented:
        assert not matched.any(), "training batches should be augmented"
    else:
        assert matched.all(), "without augment, training batches are the raw images"
    torch.testing.assert_close(torch.cat(eval_batches), val.images.float() / 255, rtol=0, atol=0)


# ── Training ─────────────────────────────────────────────────────────────────────────────────


def test_short_training_beats_an_untrained_net(mnist_train, mnist_test):
    seed_everything(0)
    model = ReferenceNet()
    _, untrained = evaluate(model, mnist_test)
    assert untrained < 0.3, "accuracy is a fraction from 0 to 1"
    history = fit(model, mnist_train, val=mnist_test, epochs=3, batch_size=64, progress=False)
    assert len(history) == 3 and history.epoch == [1, 2, 3]
    steps = math.ceil(len(mnist_train) / 64)
    assert history.steps == [steps, 2 * steps, 3 * steps]
    assert history.val_accuracy[-1] >= 0.88, history.val_accuracy
    assert 0 < history.train_accuracy[-1] <= 1
    assert history.train_loss[-1] < history.train_loss[0]
    _, accuracy = evaluate(model, mnist_test)
    assert accuracy == pytest.approx(history.val_accuracy[-1])
    predicted = predict(model, mnist_test)
    agree = (predicted == mnist_test.labels.numpy()).mean()
    assert agree == pytest.approx(accuracy, abs=1e-5)


def test_the_log_measures_within_epochs_and_changes_nothing(tiny):
    train, val = tiny.subset(192, seed=4), tiny.subset(40, seed=5)
    settings = dict(epochs=2, batch_size=16, progress=False)  # 12 batches per epoch
    seed_everything(3)
    plain_model = ReferenceNet()
    plain = fit(plain_model, train, val=val, **settings)
    seed_everything(3)
    logged_model = ReferenceNet()
    logged = fit(logged_model, train, val=val, log_every=0.25, val_every=0.5, **settings)

    assert isinstance(logged, FitHistory) and isinstance(logged, History)
    for (name, a), b in zip(
        plain_model.state_dict().items(), logged_model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), f"logging changed the training ({name})"
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        assert getattr(plain, name) == getattr(logged, name), name

    log = logged.log
    assert isinstance(log, TrainingLog) and len(log) == 8
    assert log.epoch == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert log.step == [3, 6, 9, 12, 15, 18, 21, 24]
    measured = [not math.isnan(v) for v in log.val_accuracy]
    assert measured == [False, True, False, True] * 2, "validation every half epoch"
    assert [log.val_accuracy[3], log.val_accuracy[7]] == logged.val_accuracy
    assert [log.lr[3], log.lr[7]] == logged.lr
    # Each row averages the batches since the previous one: equal windows average to the epoch.
    for epoch in (0, 1):
        rows = slice(4 * epoch, 4 * epoch + 4)
        assert np.mean(log.train_loss[rows]) == pytest.approx(logged.train_loss[epoch])
        assert np.mean(log.train_accuracy[rows]) == pytest.approx(logged.train_accuracy[epoch])
    assert len(plain.log) == 2 and plain.log.epoch == [1.0, 2.0], "default: a row per epoch"
    # A mid-epoch measurement returns the model to training mode.
    recorder = Recorder()
    fit(recorder, train, val=val, epochs=1, batch_size=16, log_every=0.5, progress=False)
    modes = [mode for mode, x in recorder.seen]
    assert modes.count(True) == 12 and modes.count(False) == 2 * math.ceil(len(val) / 1000)
    assert modes[:6] == [True] * 6 and modes[6] is False and modes[7] is True
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match="fraction of an epoch"):
            fit(ReferenceNet(), train, epochs=1, log_every=bad, progress=False)


def test_fit_rejects_bad_settings(tiny):
    with pytest.raises(ValueError, match="at least 1"):
        fit(ReferenceNet(), tiny, epochs=0, progress=False)
    with pytest.raises(ValueError, match="Unknown optimizer"):
        fit(ReferenceNet(), tiny, epochs=1, optimizer="lion", progress=False)
    with pytest.raises(ValueError, match="Unknown schedule"):
        fit(ReferenceNet(), tiny, epochs=1, schedule="warp", progress=False)
    with pytest.raises(ValueError, match="at least 2 batches"):
        fit(ReferenceNet(), tiny.subset(10), epochs=1, batch_size=64, progress=False)


def test_the_recipe_is_a_frozen_train_config(tiny):
    config = TrainConfig(epochs=1, batch_size=64, schedule="constant")
    with pytest.raises(AttributeError):
        config.epochs = 2  # type: ignore[misc]
    assert TrainConfig(epochs=1).label_smoothing == 0.1
    recipe = TrainConfig(epochs=1, augment=Augment(), seed=3).recipe()
    assert recipe["augment"].startswith("Augment(") and "seed" not in recipe
    with pytest.raises(TypeError, match="not both"):
        fit(ReferenceNet(), tiny, config=config, lr=1e-3, progress=False)
    with pytest.raises(TypeError, match="does not know the settings \\['epoch'\\]"):
        fit(ReferenceNet(), tiny, epoch=1, progress=False)
    with pytest.raises(TypeError, match="needs epochs"):
        fit(ReferenceNet(), tiny, progress=False)
    seed_everything(0)
    by_config = fit(ReferenceNet(), tiny, config=config, progress=False)
    seed_everything(0)
    by_keywords = fit(
        ReferenceNet(), tiny, epochs=1, batch_size=64, schedule="constant", progress=False
    )
    assert by_config.train_loss == by_keywords.train_loss


# ── Checkpoints ──────────────────────────────────────────────────────────────────────────────


class Interrupted(Exception):
    pass


def _stop_after_first_epoch(epoch: int, history: History) -> None:
    if epoch == 1:
        raise Interrupted


def test_resumed_training_equals_uninterrupted_training(tiny, tmp_path):
    settings = dict(
        epochs=3,
        batch_size=64,
        augment=Augment(flip_horizontal=False),
        seed=5,
        progress=False,
        log_every=0.5,
    )
    seed_everything(11)
    straight = ReferenceNet()
    full = fit(straight, tiny, val=tiny, checkpoint=tmp_path / "a.pt", **settings)

    seed_everything(11)
    with pytest.raises(Interrupted):
        fit(
            ReferenceNet(),
            tiny,
            val=tiny,
            checkpoint=tmp_path / "b.pt",
            on_epoch_end=_stop_after_first_epoch,
            **settings,
        )
    assert load_checkpoint(tmp_path / "b.pt", model=ReferenceNet())["epoch"] == 1
    seed_everything(999)  # a different initialisation and RNG: the checkpoint must win
    resumed = ReferenceNet()
    history = fit(resumed, tiny, val=tiny, checkpoint=tmp_path / "b.pt", resume=True, **settings)

    assert history.epoch == [1, 2, 3]
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"):
        assert getattr(history, name) == getattr(full, name), name
    assert len(full.log) == 6 and history.log.as_dict() == full.log.as_dict()
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), f"{name} differs after resuming"


def test_resume_with_changed_settings_is_refused(tiny, tmp_path):
    fit(
        ReferenceNet(), tiny, epochs=1, batch_size=128, checkpoint=tmp_path / "c.pt", progress=False
    )
    with pytest.raises(ValueError, match="batch_size was 128, now 64"):
        fit(
            ReferenceNet(),
            tiny,
            epochs=1,
            batch_size=64,
            checkpoint=tmp_path / "c.pt",
            resume=True,
            progress=False,
        )


@pytest.fixture(scope="module")
def saved(tiny, tmp_path_factory) -> tuple[Path, ReferenceNet]:
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    seed_everything(0)
    model = ReferenceNet()
    fit(model, tiny, epochs=1, batch_size=128, checkpoint=path, progress=False)
    return path, model


def test_checkpoint_loads_into_a_fresh_model(saved, tiny):
    path, model = saved
    fresh = ReferenceNet()
    state = load_checkpoint(path, model=fresh)
    assert state["epoch"] == 1 and len(state["history"]["epoch"]) == 1
    np.testing.assert_array_equal(predict(fresh, tiny), predict(model, tiny))
    # Only tensors and plain data inside: torch's safe loader reads it directly.
    assert torch.load(path, weights_only=True)["format"] == checkpoints.CHECKPOINT_FORMAT


def test_checkpoint_of_another_architecture_is_refused(saved):
    path, _ = saved
    with pytest.raises(ValueError, match="holds a ReferenceNet with 93,322 parameters") as info:
        load_checkpoint(path, model=LeNet5(image_size=28))
    assert "LeNet5" in str(info.value)
    other_head = ReferenceNet(num_classes=8)
    before = [p.clone() for p in other_head.parameters()]
    with pytest.raises(ValueError, match=r"dense2.weight: checkpoint \(10, 64\), model \(8, 64\)"):
        load_checkpoint(path, model=other_head)
    assert all(torch.equal(a, b) for a, b in zip(before, other_head.parameters(), strict=True))


def test_corrupt_or_foreign_checkpoint_gets_a_clear_error(saved, tmp_path):
    path, _ = saved
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable checkpoint: the file is corrupt"):
        load_checkpoint(cut, model=ReferenceNet())
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint at all")
    with pytest.raises(ValueError, match="corrupt"):
        load_checkpoint(garbage, model=ReferenceNet())
    bare = tmp_path / "bare.pt"
    torch.save(ReferenceNet().state_dict(), bare)
    with pytest.raises(ValueError, match="not a helpers.torch checkpoint"):
        load_checkpoint(bare, model=ReferenceNet())
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt", model=ReferenceNet())
    older = tmp_path / "older.pt"
    state = torch.load(path, weights_only=True)
    torch.save({**state, "format": "pixels-to-predictions checkpoint v1"}, older)
    with pytest.raises(ValueError, match="older helpers.torch .* train afresh"):
        load_checkpoint(older, model=ReferenceNet())


def test_checkpoint_with_pickled_code_is_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoints.CHECKPOINT_FORMAT, "payload": Interrupted()}, path)
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        load_checkpoint(path, model=ReferenceNet())


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run" / "checkpoint.pt"
    save_checkpoint(path, {"format": "first", "value": torch.arange(3)})
    first = path.read_bytes()

    def crash_halfway(state, file):
        file.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"format": "second", "value": torch.arange(5)})
    monkeypatch.undo()
    assert path.read_bytes() == first
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt"]

    save_checkpoint(path, {"format": "third", "value": torch.arange(7)})
    assert torch.load(path, weights_only=True)["format"] == "third"
    previous = path.with_name("checkpoint.pt.prev")
    assert previous.read_bytes() == first
    assert sorted(p.name for p in path.parent.iterdir()) == ["checkpoint.pt", "checkpoint.pt.prev"]


# ── Command line ─────────────────────────────────────────────────────────────────────────────


def test_command_line_writes_checkpoint_and_metrics(tmp_path, data_dir):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "helpers.torch",
        "--dataset",
        "mnist",
        "--model",
        "reference",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--data-dir",
        str(data_dir),
        "--train-limit",
        "600",
        "--test-limit",
        "300",
        "--threads",
        "1",
        "--no-progress",
    ]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Device: CPU" in proc.stdout and "Test accuracy" in proc.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test_accuracy", "epochs", "train_seconds", "device"):
        assert key in metrics, key
    assert metrics["epochs"] == 1 and metrics["device"] == "cpu"
    assert metrics["parameters"] == 93_322 and metrics["train_images"] == 600
    assert 0 <= metrics["test_accuracy"] <= 1 and metrics["train_seconds"] > 0
    assert History.from_csv(out / "history.csv").epoch == [1]
    state = load_checkpoint(out / "checkpoint.pt", model=ReferenceNet())
    assert state["epoch"] == 1


def test_command_line_rejects_bad_arguments(tmp_path):
    command = [
        sys.executable,
        "-m",
        "helpers.torch",
        "--dataset",
        "mnist",
        "--epochs",
        "0",
        "--out",
        str(tmp_path),
    ]
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--epochs must be at least 1" in proc.stderr


# ── Plots ────────────────────────────────────────────────────────────────────────────────────


def test_plots_return_figures(saved, tiny):
    path, model = saved
    history = History.from_dict(load_checkpoint(path, model=ReferenceNet())["history"])
    fig = plot_history(history)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 1, "no validation data: only the training curve"
    # A finer log: every training point drawn, validation where it was measured.
    fine = FitHistory.from_dict(history.as_dict())
    fine.log = TrainingLog.from_dict(
        {
            "epoch": [0.5, 1.0],
            "step": [1, 2],
            "train_loss": [2.0, 1.0],
            "train_accuracy": [0.4, 0.7],
            "val_loss": [math.nan, 0.9],
            "val_accuracy": [math.nan, 0.75],
            "lr": [0.1, 0.0],
        }
    )
    fig = plot_history(fine)
    loss_lines, acc_lines = fig.axes[0].lines, fig.axes[1].lines
    assert list(loss_lines[0].get_xdata()) == [0.5, 1.0]
    assert list(loss_lines[1].get_ydata()) == [0.9], "validation only where measured"
    assert list(acc_lines[0].get_ydata()) == [0.4, 0.7]
    as_dict = plot_history(history.as_dict())  # a plain dict of per-epoch lists still works
    assert list(as_dict.axes[0].lines[0].get_xdata()) == history.epoch

    y_true = tiny.labels.numpy()
    y_pred = predict(model, tiny)
    names = [str(d) for d in range(10)]
    fig = plot_confusion_matrix(y_true, y_pred, class_names=names)
    assert isinstance(fig, Figure) and len(fig.axes[0].texts) == 100

    images = tiny.images.numpy()
    fig = plot_misclassified(images, y_true, y_pred, class_names=names, max_images=6)
    wrong = int((y_true != y_pred).sum())
    assert isinstance(fig, Figure)
    assert sum(1 for ax in fig.axes if ax.images) == min(6, wrong)
    assert isinstance(plot_misclassified(images, y_true, y_true, class_names=names), Figure)
    # per_class: a few mistakes of every class instead of the first ones, all counted.
    fig = plot_misclassified(images, y_true, y_pred, class_names=names, per_class=1)
    shown = [ax.get_title().split(" → ")[0] for ax in fig.axes if ax.images]
    assert shown == sorted({names[t] for t in y_true[y_true != y_pred]}, key=names.index)
    assert f"Misclassified: {wrong} of" in fig._suptitle.get_text()

    fig = plot_class_frequencies(y_true, y_pred, class_names=names)
    bars = fig.axes[0].patches
    assert len(bars) == 20 and sum(b.get_height() for b in bars[:10]) == len(y_true)

    fig = plot_first_layer_filters(model)
    assert sum(1 for ax in fig.axes if ax.images) == 32

    fig = plot_feature_maps(model, tiny.images[0, 0].numpy(), max_maps=4)
    assert isinstance(fig, Figure) and len(fig.axes) >= 1 + 12

    colour = plot_first_layer_filters(FruitNet())
    assert colour.axes[0].images[0].get_array().shape == (3, 3, 3)
    fruit_image = np.zeros((100, 100, 3), dtype=np.uint8)
    assert isinstance(plot_feature_maps(FruitNet(), fruit_image), Figure)
