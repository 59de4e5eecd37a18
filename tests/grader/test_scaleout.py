"""Grading a class on several machines gives the gradebook one machine would have given.

The recipes of docs/cluster/ run here on the toy course: two shards in separate processes,
each in its own copy of the course sharing one ``submitted/``, one of them killed and
rerun; GNU parallel over a stand-in for SSH to two "hosts" (local folders); the
Kubernetes Job checked against the Kubernetes schema. Each ends in ``merge`` and is
compared, score for score, with one single-machine ``autograde`` of the same submissions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from kubernetes_validate import ValidationError, validate
from nbgrader_tools import ROOT, course_cli
from toy_course import make_course, student

from grader.autograde import Record, load_course, save_record
from grader.sandbox import available

CLUSTER = ROOT / "docs" / "cluster"
K8S_VERSION = "1.37.0"  # a recent Kubernetes whose schema kubernetes-validate bundles

# Six students, varied scores: the visible test is worth 1 point, the hidden one 2.
ANSWERS = {
    "ada": ("return 2 * x", 3),
    "bob": ("return 4", 1),
    "cyd": ("return 0", 0),
    "dee": ("return x + x", 3),
    "eli": ("raise NotImplementedError()", 0),
    "fay": ("return 42 if x == 21 else 0", 2),
}
# The same flags everywhere; the cross-check only adds time to a one-function toy.
GRADE = ("toy", "--cell-timeout", "10", "--no-crosscheck", "--quiet")


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout + proc.stderr


def gradebook(course: Path) -> dict[tuple[str, str, str], tuple[float, str]]:
    """Return every (student, notebook, cell) score in the gradebook, with its timestamp.

    Fails if any student has more than one submission: a merge must never duplicate one.
    """
    with sqlite3.connect(course / "gradebook.db") as db:
        counts = db.execute(
            "SELECT student_id, COUNT(*) FROM submitted_assignment GROUP BY student_id"
        ).fetchall()
        rows = db.execute(
            "SELECT a.student_id, nb.name, c.name, g.auto_score, a.timestamp FROM grade g "
            "JOIN submitted_notebook n ON g.notebook_id = n.id "
            "JOIN notebook nb ON n.notebook_id = nb.id "
            "JOIN submitted_assignment a ON n.assignment_id = a.id "
            "JOIN base_cell c ON g.cell_id = c.id"
        ).fetchall()
    assert all(count == 1 for _, count in counts), counts
    scores = {(s, nb, cell): (score, stamp) for s, nb, cell, score, stamp in rows}
    assert len(scores) == len(rows)
    return scores


def totals(scores: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for (name, _, _), (score, _) in scores.items():
        out[name] = out.get(name, 0.0) + score
    return out


def tree_state(folder: Path) -> dict[str, tuple[str, int]]:
    """Return each file's hash and modification time: what a read-only share must keep."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a toy course, released, with the six submissions collected (not graded)."""
    reason = available()
    if reason:
        pytest.fail(f"the grading sandbox is not available: {reason}")
    base = tmp_path_factory.mktemp("scaleout")
    course = make_course(base / "course")
    ok(course_cli(course, "release"))
    inbox = base / "inbox"
    inbox.mkdir()
    for name, (body, _) in ANSWERS.items():
        nbformat.write(student(f"def double(x):\n    {body}\n"), inbox / f"{name}.ipynb")
    ok(course_cli(course, "collect", "toy", "--from", str(inbox)))
    return course


@pytest.fixture(scope="module")
def single_machine(collected: Path) -> dict:
    """Return the gradebook of one ``autograde`` of the collected class on this machine."""
    course = collected.parent / "single"
    shutil.copytree(collected, course)
    ok(course_cli(course, "autograde", *GRADE, "--jobs", "2"))
    scores = gradebook(course)
    assert totals(scores) == {name: float(points) for name, (_, points) in ANSWERS.items()}
    return scores


def node_copy(head: Path, node: Path) -> Path:
    """Make a node's course folder: the head's without gradebook, sharing its submitted/."""
    # What stays at the head: the gradebook, and the results and logs of earlier runs.
    stays = {
        head: {"gradebook.db", "gradebook.db.lock", "submitted"},
        head / "grading": {"results", "runs"},
    }
    shutil.copytree(head, node, ignore=lambda at, names: stays.get(Path(at), set()) & set(names))
    # The nodes only read the submissions (a read-only NFS share on a real cluster).
    (node / "submitted").symlink_to(head / "submitted", target_is_directory=True)
    return node


def start_shard(node: Path, shard: str) -> subprocess.Popen:
    """Start ``autograde --shard K/N --no-gradebook`` in a node's folder, one at a time."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYDEVD_DISABLE_FILE_VALIDATION="1")
    command = [sys.executable, "-m", "grader", "autograde", *GRADE, "--jobs", "1"]
    return subprocess.Popen(
        [*command, "--shard", shard, "--no-gradebook"],
        cwd=node,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def results(course: Path) -> list[Path]:
    return sorted((course / "grading" / "results" / "toy").glob("*/toy.json"))


def bring_back(node: Path, head: Path) -> None:
    """Copy a node's results and executed notebooks into the head's course (as rsync -a)."""
    for folder in ("grading/results", "autograded"):
        if (node / folder).is_dir():
            shutil.copytree(node / folder, head / folder, dirs_exist_ok=True)


@pytest.mark.slow
def test_two_shards_one_killed_and_rerun_merge_to_the_single_machine_gradebook(
    collected: Path, single_machine: dict, tmp_path: Path
) -> None:
    head = tmp_path / "head"
    shutil.copytree(collected, head)
    shared = tree_state(head / "submitted")
    nodes = [node_copy(head, tmp_path / f"node{k}") for k in (1, 2)]
    shards = [start_shard(node, f"{k}/2") for k, node in enumerate(nodes, 1)]

    # Node 2 is lost (SIGKILL, nothing cleaned up) after its first result, before its last.
    deadline = time.monotonic() + 300
    while not results(nodes[1]) and time.monotonic() < deadline:
        assert shards[1].poll() is None, shards[1].stdout.read()
        time.sleep(0.05)
    os.killpg(shards[1].pid, signal.SIGKILL)
    shards[1].wait()
    written = results(nodes[1])
    assert 1 <= len(written) < 3, f"the kill came too late: {written}"
    assert shards[0].wait(timeout=300) == 0, shards[0].stdout.read()

    # The head merges what it has so far, then again once the lost shard is rerun.
    for node in nodes:
        bring_back(node, head)
    ok(course_cli(head, "merge"))
    rerun = start_shard(nodes[1], "2/2")
    assert rerun.wait(timeout=300) == 0, rerun.stdout.read()
    bring_back(nodes[1], head)
    log = ok(course_cli(head, "merge"))
    assert f"merged {len(ANSWERS)} graded" in log

    assert sorted(p.parent.name for p in results(head)) == sorted(ANSWERS)
    assert gradebook(head) == single_machine
    assert tree_state(head / "submitted") == shared  # the nodes never wrote to it
    # Each node graded its own half: together everyone, nobody twice.
    halves = [{p.parent.name for p in results(node)} for node in nodes]
    assert halves[0] | halves[1] == set(ANSWERS) and not halves[0] & halves[1]


FAKE_SSH = """#!/usr/bin/env bash
# fake-ssh HOST COMMAND: run COMMAND "on HOST", a machine whose course folder is HOSTS/HOST.
# A private mount namespace shows that folder at the course's own path, as on a real node.
host=$1; shift
exec unshare --mount bash -c 'mount --bind "$1" "$2" && cd && exec bash -c "$3"' \\
  fake-ssh "{hosts}/$host" "{course}" "$*"
"""


@pytest.mark.slow
def test_parallel_ssh_grades_on_two_hosts_like_one_machine(
    collected: Path, single_machine: dict, tmp_path: Path
) -> None:
    head = tmp_path / "head"
    shutil.copytree(collected, head)
    hosts = tmp_path / "hosts"
    for name in ("node1", "node2"):
        (hosts / name).mkdir(parents=True)
    (tmp_path / "hosts.txt").write_text("node1\nnode2\n")
    ssh = tmp_path / "fake-ssh"
    ssh.write_text(FAKE_SSH.format(hosts=hosts, course=head))
    ssh.chmod(0o755)
    env = dict(
        os.environ,
        SYNC="1",
        SSH=str(ssh),
        COURSE=str(head),
        PYTHON=sys.executable,
        PYTHONPATH=str(ROOT),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    proc = subprocess.run(
        ["bash", str(CLUSTER / "parallel_ssh.sh"), "toy", str(tmp_path / "hosts.txt"), "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = ok(proc)
    assert f"merged {len(ANSWERS)} graded" in log and "failed: 0" in log, log
    assert gradebook(head) == single_machine
    # Each host graded its own shard in its own folder, then sent the results back.
    halves = [{p.parent.name for p in results(hosts / name)} for name in ("node1", "node2")]
    assert halves[0] | halves[1] == set(ANSWERS) and not halves[0] & halves[1]
    assert all(len(half) == 3 for half in halves)
    assert not (hosts / "node1" / "gradebook.db").exists()
    assert len(list((head / "autograded").glob("*/toy/toy.ipynb"))) == len(ANSWERS)


def test_a_result_file_is_never_seen_half_written(tmp_path: Path) -> None:
    """A reader (``merge``, or a node's copy being rsynced) sees the old record or the new."""
    make_course(tmp_path)
    (tmp_path / "exercises").mkdir()
    course = load_course(tmp_path)
    bulky = ["x" * 200_000] * 5  # a record as long as a chatty notebook's notes
    save_record(course, Record("toy", "ada", "toy.ipynb", notes=bulky))
    path = course.grading / "results" / "toy" / "ada" / "toy.json"
    stop = threading.Event()
    torn: list[str] = []

    def read() -> None:
        while not stop.is_set():
            try:
                json.loads(path.read_text())
            except json.JSONDecodeError as error:
                torn.append(str(error))

    reader = threading.Thread(target=read)
    reader.start()
    for score in range(200):
        save_record(course, Record("toy", "ada", "toy.ipynb", score=score, notes=bulky))
    stop.set()
    reader.join()
    assert not torn, f"{len(torn)} reads saw a half-written result: {torn[0]}"
    assert json.loads(path.read_text())["score"] == 199
    assert [p.name for p in path.parent.iterdir()] == ["toy.json"]  # no leftovers


# --- the Kubernetes Job ----------------------------------------------------------------------


def job_manifest() -> dict:
    return yaml.safe_load((CLUSTER / "k8s-indexed-job.yaml").read_text())


def test_the_kubernetes_job_is_valid_and_its_pods_cover_every_shard() -> None:
    job = job_manifest()
    validate(job, K8S_VERSION, strict=True)
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    (container,) = spec["template"]["spec"]["containers"]
    command = " ".join(container["args"])
    shard = re.search(r"--shard \$\(\(JOB_COMPLETION_INDEX \+ 1\)\)/(\d+)\b", command)
    assert shard, f"pod i must grade shard i+1 of N: {command}"
    # Indices 0..completions-1 become shards 1..N: every shard once, all at the same time.
    assert spec["completions"] == spec["parallelism"] == int(shard.group(1))
    assert "--no-gradebook" in command


@pytest.mark.parametrize(
    "break_it",
    [
        lambda job: job["spec"].update(completionsMode="Indexed"),  # a misspelt field
        lambda job: job["spec"].update(parallelism="eight"),  # a wrong type
        lambda job: job["spec"]["template"]["spec"].pop("containers"),  # a required field
    ],
    ids=["misspelt", "wrong-type", "missing"],
)
def test_a_broken_kubernetes_job_is_refused(break_it) -> None:
    job = job_manifest()
    break_it(job)
    with pytest.raises(ValidationError):
        validate(job, K8S_VERSION, strict=True)
