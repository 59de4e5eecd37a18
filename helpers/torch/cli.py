"""Train a course network from the command line and write its checkpoint and metrics.

Example::

    python -m helpers.torch --dataset mnist --model reference --epochs 2 --out runs/mnist

writes ``checkpoint.pt`` (resumable with ``--resume``), ``history.csv`` and ``metrics.json``
(``test_accuracy`` as a fraction from 0 to 1, like every accuracy of the course, ``epochs``,
``train_seconds``, ``device``, ...) into ``--out``.
The data is found like everywhere else in the course: ``--data-dir``, else the folder named by
the environment variable ``CNN_COURSE_DATA``, else the user cache or a download.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from helpers.data import load_fruits, load_mnist
from helpers.torch import (
    OPTIMIZERS,
    SCHEDULES,
    Augment,
    DeviceData,
    TrainConfig,
    bf16_supported,
    count_parameters,
    evaluate,
    fit,
    pick_device,
    seed_everything,
)
from helpers.torch.models import MODEL_NAMES, build_model

__all__ = ["main", "parse_args", "run"]

# Settings that reach the targets on a CPU (see benchmarks/bench_capstone.py).
DEFAULTS = {
    "mnist": {"model": "reference", "epochs": 2, "batch_size": 128, "augment": False},
    "fruits": {"model": "fruitnet", "epochs": 5, "batch_size": 64, "augment": True},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line; dataset-dependent defaults are filled in afterwards."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.torch",
        description="Train a course CNN on MNIST or Fruits-360; write checkpoint and metrics.",
    )
    parser.add_argument("--dataset", required=True, choices=sorted(DEFAULTS))
    parser.add_argument(
        "--model",
        choices=sorted(MODEL_NAMES),
        help="network (default: reference for mnist, fruitnet for fruits)",
    )
    parser.add_argument("--epochs", type=int, help="passes over the data (default: 2 / 5)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the results")
    parser.add_argument("--batch-size", type=int, help="default: 128 for mnist, 64 for fruits")
    parser.add_argument("--lr", type=float, default=5e-3, help="peak learning rate")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adamw")
    parser.add_argument("--schedule", choices=SCHEDULES, default="onecycle")
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="flip/shift/rotate/zoom training batches (default: on for fruits, off for mnist)",
    )
    parser.add_argument(
        "--mixed-precision",
        action=argparse.BooleanOptionalAction,
        help="bfloat16 autocast (default: where the device supports it)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=["auto", "cuda", "mps", "cpu"])
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--data-dir", type=Path, help="folder holding mnist/ and fruits-360/")
    parser.add_argument("--train-limit", type=int, help="train on this many random images")
    parser.add_argument("--test-limit", type=int, help="test on this many random images")
    parser.add_argument(
        "--resume", action="store_true", help="continue from --out/checkpoint.pt if it exists"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    for name, value in DEFAULTS[args.dataset].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("epochs", "batch_size", "train_limit", "test_limit", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1; got {value}.")
    return args


def _load(args: argparse.Namespace, split: str) -> tuple:
    if args.dataset == "mnist":
        x, y = load_mnist(split, data_dir=args.data_dir)
        return x, y, [str(d) for d in range(10)]
    return load_fruits(split, data_dir=args.data_dir)


def _write_json(path: Path, payload: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w") as file:
        json.dump(payload, file, indent=2)
        file.write("\n")
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def run(args: argparse.Namespace) -> dict:
    """Train as the parsed arguments say; write checkpoint, history and metrics.

    Returns the metrics dict that was written to ``metrics.json``.
    """
    device = pick_device(args.device, threads=args.threads)
    x_train, y_train, names = _load(args, "train")
    x_test, y_test, _ = _load(args, "test")
    train = DeviceData.from_numpy(x_train, y_train, device=device)
    test = DeviceData.from_numpy(x_test, y_test, device=device)
    if args.train_limit and args.train_limit < len(train):
        train = train.subset(args.train_limit, seed=args.seed)
    if args.test_limit and args.test_limit < len(test):
        test = test.subset(args.test_limit, seed=args.seed)

    seed_everything(args.seed)
    channels, size = train.images.shape[1], train.images.shape[2]
    model = build_model(args.model, in_channels=channels, num_classes=len(names), image_size=size)
    augment = None
    if args.augment:
        # Fruit may lie any way up; a flipped digit is another symbol, so digits only wobble.
        fruit = args.dataset == "fruits"
        augment = Augment(
            flip_horizontal=fruit,
            flip_vertical=fruit,
            max_degrees=15.0 if fruit else 10.0,
            max_shift=0.1,
            zoom=(0.9, 1.1),
        )
    print(
        f"{args.model} ({count_parameters(model):,} parameters) on {args.dataset}: "
        f"{len(train):,} training and {len(test):,} test images, {args.epochs} epochs."
    )
    args.out.mkdir(parents=True, exist_ok=True)
    mixed = args.mixed_precision
    if mixed is None:
        mixed = bf16_supported(device)
    started = time.perf_counter()
    # The test set is shown after every epoch to draw the curves; nothing is tuned on it.
    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        weight_decay=args.weight_decay,
        schedule=args.schedule,
        label_smoothing=args.label_smoothing,
        augment=augment,
        mixed_precision=mixed,
        seed=args.seed,
    )
    history = fit(
        model,
        train,
        val=test,
        config=config,
        checkpoint=args.out / "checkpoint.pt",
        resume=args.resume,
        progress=not args.no_progress,
    )
    wall = time.perf_counter() - started
    test_loss, test_accuracy = evaluate(model, test)
    history.to_csv(args.out / "history.csv")
    metrics = {
        "dataset": args.dataset,
        "model": args.model,
        "parameters": count_parameters(model),
        "test_accuracy": round(test_accuracy, 6),
        "test_loss": round(test_loss, 6),
        "epochs": len(history),
        "train_seconds": round(sum(history.seconds), 3),
        "wall_seconds": round(wall, 3),
        "device": str(device),
        "threads": torch.get_num_threads(),
        "mixed_precision": bool(mixed),
        "train_images": len(train),
        "test_images": len(test),
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "augment": repr(augment),
        "seed": args.seed,
        "classes": names,
        "torch": torch.__version__,
    }
    _write_json(args.out / "metrics.json", metrics)
    print(
        f"Test accuracy {test_accuracy:.2%} after {len(history)} epochs; "
        f"{metrics['train_seconds']:.1f} s of training on {device}. Results in {args.out}/."
    )
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = parse_args(argv)
    try:
        run(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
