"""helpers.ops.numpy_cnn: the momentum step, a short real training run, a gradient check.

The full-length run (>= 98 % test accuracy in under 120 s) is benchmarks/bench_numpy_net.py;
here 200 SGD steps on 12,800 training digits must already reach 85 % on 2,000 test digits,
which an untrained network (about 10 %) or one with a broken backward pass cannot reach.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from helpers import ops
from helpers.data import load_mnist
from helpers.history import History
from helpers.ops.gradcheck import numerical_gradient, rel_error
from helpers.ops.numpy_cnn import (
    NumpyCNN,
    evaluate_numpy_cnn,
    prepare_images,
    sgd_momentum_step,
    train_numpy_cnn,
    train_step_numpy_cnn,
)


@pytest.fixture(scope="module")
def mnist_subset():
    x, y = load_mnist("train")
    x_test, y_test = load_mnist("test")
    return prepare_images(x[:12_800]), y[:12_800], prepare_images(x_test[:2_000]), y_test[:2_000]


def test_prepare_images():
    x = prepare_images(np.full((3, 28, 28), 255, np.uint8))
    assert x.shape == (3, 1, 28, 28) and x.dtype == np.float32 and x.max() == 1.0
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        prepare_images(np.zeros((28, 28)))


def test_architecture_summary():
    net = NumpyCNN(filters=8, hidden=64)
    rows = ops.summarize_network(net.layer_specs, (1, 28, 28))
    assert [r.output_shape for r in rows] == [(8, 26, 26), (8, 13, 13), (1352,), (64,), (10,)]
    assert ops.count_parameters(net.layer_specs) == sum(p.size for p in net.params.values())


def test_backward_of_the_whole_network_matches_numerical_gradient():
    rng = np.random.default_rng(0)
    net = NumpyCNN(filters=2, hidden=8, seed=1)
    net.params = {k: v.astype(np.float64) for k, v in net.params.items()}
    x = rng.random((2, 1, 28, 28))
    y = np.array([3, 7])
    _, _, grads = net.loss_and_grads(x, y)

    for name in ("w1", "b1", "b2", "w3", "b3"):
        original = net.params[name]

        def loss_at(value, name=name):
            net.params[name] = value
            return ops.cross_entropy_forward(net.forward(x)[0], y)[0]

        num = numerical_gradient(loss_at, original)
        net.params[name] = original
        assert rel_error(grads[name], num) < 1e-5, name


def test_sgd_momentum_step_updates_weights_and_velocity_in_place():
    params = {"w": np.array([1.0, 2.0]), "b": np.array([0.5])}
    velocity = {"w": np.array([0.1, 0.0]), "b": np.zeros(1)}
    grads = {"w": np.array([1.0, -2.0]), "b": np.array([4.0])}
    w, v = params["w"], velocity["w"]
    sgd_momentum_step(params, grads, velocity, lr=0.1, momentum=0.9)
    # v = 0.9 * v - 0.1 * grad, then w += v
    np.testing.assert_allclose(velocity["w"], [0.09 - 0.1, 0.2])
    np.testing.assert_allclose(params["w"], [1.0 - 0.01, 2.2])
    np.testing.assert_allclose(params["b"], [0.5 - 0.4])
    assert params["w"] is w and velocity["w"] is v


def test_train_step_counts_right_answers_before_the_step():
    net = NumpyCNN(filters=2, hidden=8, seed=1)
    x = np.random.default_rng(0).random((5, 1, 28, 28), dtype=np.float32)
    y = np.array([0, 1, 2, 3, 4])
    before = net.predict(x)
    velocity = {k: np.zeros_like(v) for k, v in net.params.items()}
    w1 = net.params["w1"].copy()
    loss, right = train_step_numpy_cnn(net, x, y, velocity, lr=0.05, momentum=0.9)
    assert right == int((before == y).sum()) and loss > 0
    assert not np.array_equal(w1, net.params["w1"])


def test_short_training_run_learns_digits(mnist_subset):
    x, y, x_test, y_test = mnist_subset
    net = NumpyCNN(filters=8, hidden=64, seed=0)
    _, untrained = evaluate_numpy_cnn(net, x_test, y_test)
    assert untrained < 0.3  # untrained: close to chance
    with threadpool_limits(1):
        history = train_numpy_cnn(
            net, x, y, epochs=2, max_steps=200, batch_size=64, learning_rate=0.05
        )
    loss, acc = evaluate_numpy_cnn(net, x_test, y_test)
    assert history.steps[-1] == 200 and not history.stopped_by_budget
    assert history.train_loss[0] < 2.3  # below the chance-level loss ln(10)
    assert loss < 2.3 and all(np.isnan(history.val_accuracy))
    assert acc >= 0.85, f"200 steps should reach 85 % test accuracy, got {acc:.1%}"
    assert np.mean(net.predict(x_test) == y_test) == acc


def test_training_respects_the_time_budget_and_records_history(mnist_subset):
    x, y, x_test, y_test = mnist_subset
    net = NumpyCNN(filters=4, hidden=16, seed=0)
    history = train_numpy_cnn(
        net, x[:2000], y[:2000], val=(x_test[:500], y_test[:500]), epochs=50, time_budget_s=0.5
    )
    assert isinstance(history, History) and history.stopped_by_budget
    assert sum(history.seconds) < 3.0 and len(history.epoch) < 50
    assert all(0 <= a <= 1 for a in history.train_accuracy + history.val_accuracy)
    assert history.lr[0] == 0.05
    assert all(a > b for a, b in zip(history.lr, history.lr[1:], strict=False))
    rows = history.as_rows()
    assert len(rows) == len(history.epoch) and set(rows[0]) >= {"train_loss", "val_accuracy"}


def test_train_explains_bad_input():
    net = NumpyCNN(filters=2, hidden=4)
    with pytest.raises(ValueError, match="prepare_images"):
        train_numpy_cnn(net, np.zeros((4, 28, 28), np.float32), np.zeros(4, int))
    with pytest.raises(ValueError, match="one label per image"):
        train_numpy_cnn(net, np.zeros((4, 1, 28, 28), np.float32), np.zeros(3, int))
    with pytest.raises(ValueError, match="pair"):
        images = np.zeros((4, 1, 28, 28), np.float32)
        train_numpy_cnn(net, images, np.zeros(4, int), val=(images, np.zeros(3, int)))
    with pytest.raises(ValueError, match="filters"):
        NumpyCNN(filters=0)
