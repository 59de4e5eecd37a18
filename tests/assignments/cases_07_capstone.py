"""07_capstone: its parts, the rules of its hidden tests and its plausible wrong answers.

The capstone grades a trained network that students hand in as ``digitnet.pt`` next to the
notebook; nothing is trained at grading time. So every fake student hands in a checkpoint
(the ``digitnet_checkpoint`` fixture of conftest.py trains one): the wrong answers are either
a wrong notebook with a good checkpoint, or the solution with a bad checkpoint (missing,
corrupt, another architecture, untrained).
"""

from __future__ import annotations

from functools import partial

import nbgrader_tools as nt

NAME = "07_capstone"
CHECKPOINT = "digitnet.pt"
PARTS = nt.standard_parts(
    "digitnet", "train", "evaluate", "checkpoint", "run", "results", "maps", "augment"
)
_cells = partial(nt.cells_testing, PARTS)
_SOLUTIONS = nt.solution_sources(NAME)
_edit = partial(nt.edit, _SOLUTIONS)


def _checkpoint(name: str, kind: str, loses: frozenset[str], reason: str) -> nt.Mutation:
    return nt.Mutation(name, "run_solution", _SOLUTIONS["run_solution"], loses, reason, kind)


MUTATIONS = [
    nt.Mutation(
        "DigitNet: fc1 has 128 units instead of 64 (wrong layer size)",
        "digitnet_solution",
        _edit(
            "digitnet_solution",
            ("nn.Linear(64 * 3 * 3, 64)", "nn.Linear(64 * 3 * 3, 128)"),
            ("nn.Linear(64, 10)", "nn.Linear(128, 10)"),
        ),
        # The handed-in checkpoint (of the specified network) no longer fits the class.
        _cells("digitnet_solution", "run_solution"),
    ),
    nt.Mutation(
        "DigitNet: no ReLU after conv2",
        "digitnet_solution",
        _edit(
            "digitnet_solution",
            ("F.max_pool2d(F.relu(self.conv2(x)), 2)", "F.max_pool2d(self.conv2(x), 2)"),
        ),
        # Same parameters, so the checkpoint loads, but it no longer computes 99 %.
        _cells("digitnet_solution", hidden_only=True) | {"run_hidden_tests"},
    ),
    nt.Mutation(
        "DigitNet: softmax at the end of forward (applied twice with CrossEntropyLoss)",
        "digitnet_solution",
        _edit(
            "digitnet_solution", ("return self.fc2(x)", "return torch.softmax(self.fc2(x), dim=1)")
        ),
        _cells("digitnet_solution", hidden_only=True),
        "softmax",
    ),
    nt.Mutation(
        "train_one_epoch forgets optimizer.zero_grad()",
        "train_solution",
        _edit("train_solution", ("        optimizer.zero_grad()\n", "")),
        _cells("train_solution"),
        "zero_grad",
    ),
    nt.Mutation(
        "train_one_epoch squeezes the labels (a batch of one becomes a 0-d tensor)",
        "train_solution",
        _edit(
            "train_solution",
            ("x, y = x.to(device), y.to(device)", "x, y = x.to(device), y.squeeze().to(device)"),
        ),
        _cells("train_solution"),
        "raised",
    ),
    nt.Mutation(
        "evaluate forgets model.eval() (dropout stays on)",
        "evaluate_solution",
        _edit("evaluate_solution", ("    model.eval()\n", "")),
        _cells("evaluate_solution"),
        "training mode",
    ),
    nt.Mutation(
        "evaluate squeezes each chunk's predictions (a chunk of one becomes a 0-d tensor)",
        "evaluate_solution",
        _edit(
            "evaluate_solution",
            (
                "chunks.append(scores.argmax(1).cpu())",
                "chunks.append(scores.argmax(1).squeeze().cpu())",
            ),
        ),
        _cells("evaluate_solution"),
        "raised",
    ),
    nt.Mutation(
        "evaluate weighs each chunk's mean loss as a full chunk (a short last chunk counts more)",
        "evaluate_solution",
        _edit(
            "evaluate_solution",
            (
                'loss_sum += F.cross_entropy(scores, yb, reduction="sum").item()',
                "loss_sum += F.cross_entropy(scores, yb).item() * batch_size",
            ),
        ),
        _cells("evaluate_solution"),
    ),
    nt.Mutation(
        "save_checkpoint pickles the whole model object",
        "checkpoint_solution",
        _edit(
            "checkpoint_solution",
            (
                'torch.save({"model": model.state_dict(), "history": history}, path)',
                'torch.save({"model": model, "history": history}, path)',
            ),
        ),
        _cells("checkpoint_solution"),
        "weights_only=True",
    ),
    nt.Mutation(
        "save_checkpoint saves only the parameters (batch norm's running averages are lost)",
        "checkpoint_solution",
        _edit(
            "checkpoint_solution",
            (
                'torch.save({"model": model.state_dict(), "history": history}, path)',
                'torch.save({"model": dict(model.named_parameters()), "history": history}, path)',
            ),
        ),
        _cells("checkpoint_solution", hidden_only=True),
        "raised",
    ),
    nt.Mutation(
        "confusion_counts puts predicted classes in rows (transposed)",
        "results_solution",
        _edit(
            "results_solution",
            (
                "(np.asarray(y_true), np.asarray(y_pred))",
                "(np.asarray(y_pred), np.asarray(y_true))",
            ),
        ),
        _cells("results_solution"),
    ),
    nt.Mutation(
        "confusion_counts sizes the matrix from the largest label seen, not num_classes",
        "results_solution",
        _edit(
            "results_solution",
            (
                "    counts = np.zeros((num_classes, num_classes), dtype=np.int64)\n",
                "    k = int(max(np.max(y_true), np.max(y_pred))) + 1\n"
                "    counts = np.zeros((k, k), dtype=np.int64)\n",
            ),
        ),
        _cells("results_solution", hidden_only=True),
    ),
    nt.Mutation(
        "plot_curves draws against 0, 1, 2, ... instead of the epoch numbers",
        "results_solution",
        _edit(
            "results_solution",
            (
                'ax.plot(history["epoch"], history[f"train_{key}"], "o-", label="training")',
                'ax.plot(history[f"train_{key}"], "o-", label="training")',
            ),
            (
                'ax.plot(history["epoch"], history[f"val_{key}"], "s--", label="validation")',
                'ax.plot(history[f"val_{key}"], "s--", label="validation")',
            ),
        ),
        _cells("results_solution", hidden_only=True),
        "against",
    ),
    nt.Mutation(
        "rectified_maps forgets model.eval() (batch norm uses the one image's statistics)",
        "maps_solution",
        _edit("maps_solution", ("    model.eval()\n", "")),
        _cells("maps_solution", hidden_only=True),
        "evaluation mode",
    ),
    nt.Mutation(
        "rectified_maps returns the conv outputs before the ReLU",
        "maps_solution",
        _edit(
            "maps_solution",
            ("a1 = F.relu(model.conv1(x))", "a1 = model.conv1(x)"),
            (
                "a3 = F.relu(model.conv3(F.max_pool2d(a2, 2)))",
                "a3 = model.conv3(F.max_pool2d(a2, 2))",
            ),
        ),
        _cells("maps_solution"),
        "ReLU",
    ),
    nt.Mutation(
        "prepare_batch augments evaluation batches too",
        "augment_solution",
        _edit(
            "augment_solution",
            ("    if train:\n        x = augment", "    if True:\n        x = augment"),
        ),
        _cells("augment_solution"),
        "evaluation batch",
    ),
    nt.Mutation(
        "augment_batch wraps around with torch.roll (assignment 4: the wrong shift)",
        "augment_solution",
        _edit(
            "augment_solution",
            (
                "        if abs(dy) >= H or abs(dx) >= W:\n            continue",
                "        if False:\n            continue",
            ),
            (
                "out[i, :, max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = image[\n"
                "            :, max(-dy, 0) : H - max(dy, 0), max(-dx, 0) : W - max(dx, 0)\n"
                "        ]",
                "out[i] = torch.roll(image, shifts=(dy, dx), dims=(-2, -1))",
            ),
        ),
        _cells("augment_solution"),
        "torch.roll",
    ),
    nt.Mutation(
        "augment_batch shifts only down and right (randint from 0)",
        "augment_solution",
        _edit(
            "augment_solution",
            ("torch.randint(-max_shift, max_shift + 1,", "torch.randint(0, max_shift + 1,"),
        ),
        _cells("augment_solution", hidden_only=True),
        "from -max_shift to max_shift",
    ),
    nt.Mutation(
        "augment_batch never shifts by +max_shift (randint's upper bound is excluded)",
        "augment_solution",
        _edit(
            "augment_solution",
            ("torch.randint(-max_shift, max_shift + 1,", "torch.randint(-max_shift, max_shift,"),
        ),
        _cells("augment_solution", hidden_only=True),
        "from -max_shift to max_shift",
    ),
    # The notebook is the solution's; the digitnet.pt handed in beside it is not.
    _checkpoint("digitnet.pt missing", "missing", _cells("run_solution"), "digitnet.pt is missing"),
    _checkpoint(
        "digitnet.pt cut in half (corrupt)", "corrupt", _cells("run_solution"), "cannot be read"
    ),
    _checkpoint(
        "digitnet.pt of another architecture (fc1 with 128 units)",
        "architecture",
        _cells("run_solution"),
        "another architecture",
    ),
    _checkpoint(
        "digitnet.pt of an untrained network",
        "untrained",
        _cells("run_solution", hidden_only=True),
        "99.0% is needed",
    ),
]

ASSIGNMENT = nt.Assignment(
    name=NAME,
    parts=PARTS,
    mutations=tuple(MUTATIONS),
    hidden_rules=nt.HiddenRules(
        require=(
            nt.need("does not switch off the course's training toolkit", "FORBID = ("),
            nt.need("does not switch off the course's training toolkit", '"helpers.torch"'),
            nt.need(
                "does not pass the guard to its calls", "forbidden_calls(FORBID)", "forbid=FORBID"
            ),
            nt.need("uses no fresh inputs", "manual_seed(", "default_rng("),
        ),
        refuse=(nt.NO_HELPERS_OPS,),
        # Grades the handed-in file with the grader's own loading and evaluation loop.
        own={
            "run_hidden_tests": (
                nt.need("does not load the handed-in file safely", "weights_only=True"),
                nt.need("does not evaluate on the MNIST test set", 'load_mnist("test")'),
            )
        },
    ),
    leaks=(
        "FORBID",
        "_expected",
        "_SpecNet",
        "np.add.at",
        "optimizer.zero_grad()\\n",
        "F.max_pool2d(F.relu(self.conv1(x)), 2)",
        "torch.roll(image",
        "_moved(",
        "out[i, :, max(dy, 0)",
        "_NormProbe",
        "_normed_net",
    ),
    points_shown=nt.points_table_in_intro,
    # The training cell keeps its grading guard in the student version.
    release_keeps={"run_solution": ("if GRADING or SELF_CHECK:",)},
    hand_in="digitnet_checkpoint",
    seconds_per_submission=180,
)
