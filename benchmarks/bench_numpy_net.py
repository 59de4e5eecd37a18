"""Train the NumPy CNN on full MNIST and report test accuracy and training time.

Run from the repository root::

    CNN_COURSE_DATA=/path/to/data python -m benchmarks.bench_numpy_net [--threads 1]

The target: at least 98.0 % test accuracy within 120 s of training on a 2-core machine.
Exits with status 1 when the target is missed, so it can gate CI.
"""

from __future__ import annotations

import argparse
import time

from threadpoolctl import threadpool_limits

from helpers.data import load_mnist
from helpers.ops.numpy_cnn import NumpyCNN, evaluate_numpy_cnn, prepare_images, train_numpy_cnn

TARGET_ACCURACY = 0.980
TARGET_SECONDS = 120.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for NumPy")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--budget", type=float, default=110.0, help="training seconds at most")
    args = parser.parse_args(argv)

    x, y = load_mnist("train")
    x_test, y_test = load_mnist("test")
    x, x_test = prepare_images(x), prepare_images(x_test)
    net = NumpyCNN(filters=args.filters, hidden=args.hidden, seed=0)
    with threadpool_limits(args.threads):
        start = time.perf_counter()
        history = train_numpy_cnn(
            net,
            x,
            y,
            val=(x_test, y_test),
            epochs=args.epochs,
            time_budget_s=args.budget,
            verbose=True,
        )
        wall = time.perf_counter() - start
        _, acc = evaluate_numpy_cnn(net, x_test, y_test)
    train_s = sum(history.seconds)
    print(
        f"\nNumPy CNN ({args.filters} filters, {args.hidden} hidden, {args.threads} thread(s)): "
        f"test accuracy {acc:.2%} after {history.steps[-1]} steps; "
        f"{train_s:.1f} s training, {wall:.1f} s including evaluation"
        + (" (stopped by the time budget)" if history.stopped_by_budget else "")
    )
    ok = acc >= TARGET_ACCURACY and train_s <= TARGET_SECONDS
    print(
        f"target >= {TARGET_ACCURACY:.1%} in <= {TARGET_SECONDS:.0f} s: {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
