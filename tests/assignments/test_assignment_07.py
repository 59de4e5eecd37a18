"""nbgrader round trip of assignment 07_capstone, and the hygiene of its notebooks.

The capstone grades a trained network that students hand in as ``digitnet.pt`` next to the
notebook; nothing is trained at grading time. The slow test therefore first trains a real
checkpoint (the toolkit's recipe: ReferenceNet, 2 epochs, ≥ 99.0 % on the MNIST test set)
and renames its parameters to the specification's names (``conv1.weight`` … ``fc2.bias``).
It then generates the student version in a temporary copy of the course, checks it equals the
committed exercises/, and autogrades in one nbgrader run: the solution with the checkpoint
(full marks), the untouched student version with the checkpoint (0, no crash), one plausible
wrong answer per graded part (with the checkpoint), and four bad checkpoints next to the
solution (missing, corrupt, another architecture, untrained), each of which must lose exactly
the points of the test cells it names. The mutation table is printed and written to
_build/mutations-07_capstone.md, with the mean time one capstone submission takes to grade.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbgrader_tools import (
    BLANK_STUDENT,
    HIDDEN_BEGIN,
    HIDDEN_END,
    SOLUTION_BEGIN,
    SOLUTION_STUDENT,
    Mutation,
    autograde,
    cell_by_id,
    course_cli,
    different_files,
    failure_messages,
    format_mutation_table,
    generate,
    graded_cells,
    make_course,
    mutation_problems,
    nbgrader_meta,
    scores,
    solution_cells,
    submit,
    with_cell_source,
)

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "07_capstone"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
SOURCE = ROOT / "solutions" / ASSIGNMENT / NOTEBOOK
RELEASE = ROOT / "exercises" / ASSIGNMENT / NOTEBOOK
CHECKPOINT = "digitnet.pt"

PARTS = {  # solution cell -> (visible tests, hidden tests)
    "digitnet_solution": ("digitnet_tests", "digitnet_hidden_tests"),
    "train_solution": ("train_tests", "train_hidden_tests"),
    "evaluate_solution": ("evaluate_tests", "evaluate_hidden_tests"),
    "checkpoint_solution": ("checkpoint_tests", "checkpoint_hidden_tests"),
    "run_solution": ("run_tests", "run_hidden_tests"),
    "results_solution": ("results_tests", "results_hidden_tests"),
    "maps_solution": ("maps_tests", "maps_hidden_tests"),
    "augment_solution": ("augment_tests", "augment_hidden_tests"),
}

# The specification's parameter names for the toolkit's ReferenceNet layers.
TOOLKIT_NAMES = {
    "features.conv1": "conv1",
    "features.conv2": "conv2",
    "features.conv3": "conv3",
    "classifier.dense1": "fc1",
    "classifier.dense2": "fc2",
}

_SOLUTION_SOURCES = {
    gid: cell_by_id(nbformat.read(SOURCE, as_version=4), gid).source for gid in PARTS
}


def _edit(cell: str, old: str, new: str) -> str:
    """Return the solution of ``cell`` with ``old`` replaced by ``new`` (which must occur)."""
    source = _SOLUTION_SOURCES[cell]
    if old not in source:
        raise AssertionError(f"mutation target {old!r} not found in {cell}: update the mutation")
    return source.replace(old, new)


def _loses(*cells: str, hidden_only: bool = False) -> frozenset[str]:
    lost = set()
    for cell in cells:
        visible, hidden = PARTS[cell]
        lost |= {hidden} if hidden_only else {visible, hidden}
    return frozenset(lost)


@dataclass(frozen=True)
class CheckpointCase:
    """A bad digitnet.pt handed in next to the (otherwise correct) solution."""

    name: str
    kind: str  # "missing", "corrupt", "architecture", "untrained"
    loses: frozenset[str]
    reason: str

    @property
    def mutation(self) -> Mutation:
        # The table helpers take Mutations; the notebook is the solution's, unchanged.
        cell = "run_solution"
        return Mutation(self.name, cell, _SOLUTION_SOURCES[cell], self.loses, self.reason)


MUTATIONS = [
    Mutation(
        "DigitNet: fc1 has 128 units instead of 64 (wrong layer size)",
        "digitnet_solution",
        _edit(
            "digitnet_solution", "nn.Linear(64 * 3 * 3, 64)", "nn.Linear(64 * 3 * 3, 128)"
        ).replace("nn.Linear(64, 10)", "nn.Linear(128, 10)"),
        # The handed-in checkpoint (of the specified network) no longer fits the class.
        _loses("digitnet_solution", "run_solution"),
    ),
    Mutation(
        "DigitNet: no ReLU after conv2",
        "digitnet_solution",
        _edit(
            "digitnet_solution",
            "F.max_pool2d(F.relu(self.conv2(x)), 2)",
            "F.max_pool2d(self.conv2(x), 2)",
        ),
        # Same parameters, so the checkpoint loads, but it no longer computes 99 %.
        _loses("digitnet_solution", hidden_only=True) | {"run_hidden_tests"},
    ),
    Mutation(
        "DigitNet: softmax at the end of forward (applied twice with CrossEntropyLoss)",
        "digitnet_solution",
        _edit(
            "digitnet_solution", "return self.fc2(x)", "return torch.softmax(self.fc2(x), dim=1)"
        ),
        _loses("digitnet_solution", hidden_only=True),
        "softmax",
    ),
    Mutation(
        "train_one_epoch forgets optimizer.zero_grad()",
        "train_solution",
        _edit("train_solution", "        optimizer.zero_grad()\n", ""),
        _loses("train_solution"),
        "zero_grad",
    ),
    Mutation(
        "evaluate forgets model.eval() (dropout stays on)",
        "evaluate_solution",
        _edit("evaluate_solution", "    model.eval()\n", ""),
        _loses("evaluate_solution"),
        "training mode",
    ),
    Mutation(
        "save_checkpoint pickles the whole model object",
        "checkpoint_solution",
        _edit(
            "checkpoint_solution",
            'torch.save({"model": model.state_dict(), "history": history}, path)',
            'torch.save({"model": model, "history": history}, path)',
        ),
        _loses("checkpoint_solution"),
        "weights_only=True",
    ),
    Mutation(
        "confusion_counts puts predicted classes in rows (transposed)",
        "results_solution",
        _edit(
            "results_solution",
            "(np.asarray(y_true), np.asarray(y_pred))",
            "(np.asarray(y_pred), np.asarray(y_true))",
        ),
        _loses("results_solution"),
    ),
    Mutation(
        "rectified_maps returns the conv outputs before the ReLU",
        "maps_solution",
        _edit("maps_solution", "a1 = F.relu(model.conv1(x))", "a1 = model.conv1(x)").replace(
            "a3 = F.relu(model.conv3(F.max_pool2d(a2, 2)))", "a3 = model.conv3(F.max_pool2d(a2, 2))"
        ),
        _loses("maps_solution"),
        "ReLU",
    ),
    Mutation(
        "prepare_batch augments evaluation batches too",
        "augment_solution",
        _edit(
            "augment_solution",
            "    if train:\n        x = augment",
            "    if True:\n        x = augment",
        ),
        _loses("augment_solution"),
        "evaluation batch",
    ),
]

CHECKPOINT_CASES = [
    CheckpointCase(
        "digitnet.pt missing", "missing", _loses("run_solution"), "digitnet.pt is missing"
    ),
    CheckpointCase(
        "digitnet.pt cut in half (corrupt)", "corrupt", _loses("run_solution"), "cannot be read"
    ),
    CheckpointCase(
        "digitnet.pt of another architecture (fc1 with 128 units)",
        "architecture",
        _loses("run_solution"),
        "another architecture",
    ),
    CheckpointCase(
        "digitnet.pt of an untrained network",
        "untrained",
        _loses("run_solution", hidden_only=True),
        "99.0% is needed",
    ),
]


@pytest.fixture(scope="module")
def source_nb() -> nbformat.NotebookNode:
    return nbformat.read(SOURCE, as_version=4)


@pytest.fixture(scope="module")
def release_nb() -> nbformat.NotebookNode:
    return nbformat.read(RELEASE, as_version=4)


# --- hygiene (fast) -------------------------------------------------------------------------


def test_no_checkpoint_or_data_file_lives_in_the_assignment_folders():
    for folder in (SOURCE.parent, RELEASE.parent):
        files = sorted(p.name for p in folder.rglob("*") if p.is_file())
        assert files == [NOTEBOOK], f"{folder} should hold only the notebook, holds {files}"


def test_points_sum_to_100_and_every_part_has_visible_and_hidden_tests(source_nb):
    points = graded_cells(source_nb)
    assert sum(points.values()) == 100
    assert solution_cells(source_nb) == list(PARTS)
    assert list(points) == [gid for pair in PARTS.values() for gid in pair]
    for visible, hidden in PARTS.values():
        assert HIDDEN_BEGIN not in cell_by_id(source_nb, visible).source
        assert HIDDEN_BEGIN in cell_by_id(source_nb, hidden).source
        assert HIDDEN_END in cell_by_id(source_nb, hidden).source
    intro = cell_by_id(source_nb, "intro").source
    for visible, hidden in PARTS.values():
        row = f"| {points[visible]:g} | {points[hidden]:g} | {points[visible] + points[hidden]:g} |"
        assert row in intro, f"the introduction's points table lacks {row}"


def test_hidden_tests_switch_off_the_toolkit_and_use_fresh_inputs(source_nb):
    for solution, (_, hidden) in PARTS.items():
        source = cell_by_id(source_nb, hidden).source
        assert "helpers.ops" not in source, f"{hidden} relies on a helper a student could patch"
        if solution == "run_solution":
            # Grades the handed-in file with the grader's own loading and evaluation loop.
            assert "weights_only=True" in source and 'load_mnist("test")' in source
            continue
        assert "FORBID = (" in source and '"helpers.torch"' in source, (
            f"{hidden} does not switch off the course's training toolkit"
        )
        assert "forbidden_calls(FORBID)" in source or "forbid=FORBID" in source
        assert "manual_seed(" in source or "default_rng(" in source, f"{hidden}: no fresh inputs"


def test_the_grading_rule_is_documented_and_the_training_cell_obeys_it(source_nb):
    intro = cell_by_id(source_nb, "intro").source
    for phrase in ("NBGRADER_EXECUTION", "weights_only=True", "digitnet.pt", "scores 0 on Part 5"):
        assert phrase in intro, f"the introduction does not explain the grading rule ({phrase})"
    setup = cell_by_id(source_nb, "setup").source
    assert 'GRADING = bool(os.environ.get("NBGRADER_EXECUTION"))' in setup
    assert "threads=1" in setup, "grading should run torch on one thread"
    run = cell_by_id(source_nb, "run_solution").source
    guard, trained = run.index("if GRADING or SELF_CHECK:"), run.index(SOLUTION_BEGIN)
    assert guard < trained, "the training code must sit behind the grading guard"


def test_solution_cells_have_markers_and_release_has_none(source_nb, release_nb):
    for grade_id in PARTS:
        assert SOLUTION_BEGIN in cell_by_id(source_nb, grade_id).source
        student = cell_by_id(release_nb, grade_id).source
        assert "raise NotImplementedError()" in student and SOLUTION_BEGIN not in student
    release_text = RELEASE.read_text()
    leaks = (
        "BEGIN HIDDEN",
        "FORBID",
        "_expected",
        "_SpecNet",
        "np.add.at",
        "optimizer.zero_grad()\\n",
        "F.max_pool2d(F.relu(self.conv1(x)), 2)",
        "torch.roll(image",
    )
    for leak in leaks:
        assert leak not in release_text, f"the student version leaks {leak!r}"
    for cell in release_nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    for _, hidden in PARTS.values():
        assert ast.parse(cell_by_id(release_nb, hidden).source).body == []
    # The training cell keeps its grading guard in the student version.
    assert "if GRADING or SELF_CHECK:" in cell_by_id(release_nb, "run_solution").source


def test_mutations_cover_every_graded_cell(source_nb):
    cases = MUTATIONS + [c.mutation for c in CHECKPOINT_CASES]
    covered = set().union(*(m.loses for m in cases))
    assert covered == set(graded_cells(source_nb))
    assert {m.cell for m in MUTATIONS} | {"run_solution"} == set(PARTS)
    assert len({m.student for m in cases}) == len(cases)
    for m in MUTATIONS:
        ast.parse(m.source)  # a mutation must be wrong, not a syntax error
        assert m.source != _SOLUTION_SOURCES[m.cell]


# --- nbgrader itself (slow) -----------------------------------------------------------------


def _trained_checkpoint(folder: Path, data_dir: Path) -> tuple[Path, float, float]:
    """Train the specified network with the toolkit's recipe; return (path, accuracy, seconds)."""
    import torch

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
    return path, accuracy, seconds


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


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir) -> tuple[Path, float, float]:
    """One trained digitnet.pt for every slow test of this module (about 20-40 s)."""
    return _trained_checkpoint(tmp_path_factory.mktemp("checkpoint"), data_dir)


@pytest.mark.slow
def test_round_trip_and_mutation_table(tmp_path, trained):
    good, accuracy, train_seconds = trained
    assert accuracy >= 99.0, f"the toolkit's recipe reached only {accuracy:.2f}% (needs 99.0%)"

    course = make_course(ROOT, tmp_path / "course", [ASSIGNMENT])
    generated = generate(course, ASSIGNMENT)
    stale = different_files(generated, ROOT / "exercises" / ASSIGNMENT)
    assert not stale, f"exercises/{ASSIGNMENT} is out of date ({stale}): run `make exercises`"

    source = nbformat.read(course / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    blank = nbformat.read(generated / NOTEBOOK, as_version=4)

    def hand_in(student: str, nb: nbformat.NotebookNode, checkpoint: str = "good") -> None:
        submit(course, ASSIGNMENT, student, nb, NOTEBOOK)
        dest = course / "submitted" / student / ASSIGNMENT / CHECKPOINT
        if checkpoint == "good":
            shutil.copy2(good, dest)
        else:
            _bad_checkpoint(checkpoint, good, dest)

    hand_in(SOLUTION_STUDENT, source)
    hand_in(BLANK_STUDENT, blank)
    for m in MUTATIONS:
        hand_in(m.student, with_cell_source(source, m.cell, m.source))
    for case in CHECKPOINT_CASES:
        hand_in(case.mutation.student, source, case.kind)

    start = time.perf_counter()
    autograde(course, ASSIGNMENT)
    seconds = time.perf_counter() - start
    cases = MUTATIONS + [c.mutation for c in CHECKPOINT_CASES]
    students = [SOLUTION_STUDENT, BLANK_STUDENT] + [m.student for m in cases]
    table = scores(course, ASSIGNMENT, ASSIGNMENT, students)
    messages = {m.student: failure_messages(course, ASSIGNMENT, m.student, NOTEBOOK) for m in cases}

    report = format_mutation_table(cases, table, messages)
    report += (
        f"\n\nCheckpoint for the fake students: toolkit recipe, {accuracy:.2f}% test accuracy, "
        f"{train_seconds:.1f} s of training on 1 thread.\n"
        f"Autograded {len(students)} submissions in {seconds:.1f} s on {os.cpu_count()} cores "
        f"({seconds / len(students):.1f} s per capstone submission).\n"
    )
    out = ROOT / "_build" / f"mutations-{ASSIGNMENT}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(report)
    print("\n" + report)

    points = graded_cells(source)
    assert table[SOLUTION_STUDENT] == {g: (p, p) for g, p in points.items()}
    assert table[BLANK_STUDENT] == {g: (0.0, p) for g, p in points.items()}
    problems = mutation_problems(cases, table, messages)
    assert not problems, "mutations scored unexpectedly:\n" + "\n".join(problems)
    per_submission = seconds / len(students)
    assert per_submission < 180, f"one capstone autograde took {per_submission:.0f} s (limit 3 min)"


# --- the instructor's grading command on the capstone (slow) ----------------------------------


@pytest.mark.slow
def test_course_command_grades_the_capstone_against_the_reference_network(tmp_path, trained):
    from grader.sandbox import available

    reason = available()
    if reason:
        pytest.fail(f"grading the capstone needs the sandbox: {reason}")
    good, _, _ = trained
    course = make_course(ROOT, tmp_path / "course", [ASSIGNMENT])

    # A checkpoint in the source folder would be released to students: refused.
    shutil.copy2(good, course / "solutions" / ASSIGNMENT / CHECKPOINT)
    proc = course_cli(course, "release")
    assert proc.returncode == 1 and "grading/reference" in proc.stderr, proc.stderr
    assert not (course / "exercises").exists()
    (course / "solutions" / ASSIGNMENT / CHECKPOINT).unlink()
    proc = course_cli(course, "release")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list((course / "exercises" / ASSIGNMENT).glob("*.pt"))

    release = nbformat.read(course / "exercises" / ASSIGNMENT / NOTEBOOK, as_version=4)
    source = nbformat.read(course / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    answers = {gid: cell_by_id(source, gid).source for gid in PARTS}
    honest = copy.deepcopy(release)
    for cell in honest.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    for student, nb in [("ada", honest), ("bob", release)]:
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / NOTEBOOK)
        shutil.copy2(good, folder / CHECKPOINT)

    # Without the instructor's network nobody is graded, and the fault says what to do.
    proc = course_cli(course, "autograde", "--jobs", "2", "--quiet")
    assert proc.returncode == 1 and "make capstone-checkpoint" in proc.stdout + proc.stderr, (
        proc.stdout + proc.stderr
    )

    reference = course / "grading" / "reference" / ASSIGNMENT
    reference.mkdir(parents=True)
    shutil.copy2(good, reference / CHECKPOINT)
    started = time.perf_counter()
    proc = course_cli(course, "autograde", "--jobs", "2", "--quiet")
    seconds = time.perf_counter() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {
        p.parent.name: json.loads(p.read_text())
        for p in (course / "grading" / "results" / ASSIGNMENT).glob(f"*/{ASSIGNMENT}.json")
    }
    ada, bob = results["ada"], results["bob"]
    assert ada["status"] == "graded" and ada["score"] == ada["max_score"] == 100, ada
    assert not ada["flags"] and not ada["refuted"], ada
    # The untouched release, even with a good network beside it, earns nothing (Part 5 loads
    # the network into the student's DigitNet), and its grading guard, which reads
    # NBGRADER_EXECUTION, is the course's code and not held against the student.
    assert bob["status"] == "graded" and bob["score"] == 0, bob
    assert not bob["flags"], bob["flags"]
    print(f"course autograde of 2 capstone submissions (+ the reference run): {seconds:.0f} s")
