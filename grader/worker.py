"""Grade ONE submission: run its notebook in a sandboxed kernel and score the test cells.

The grading command starts one worker process per student × assignment
(``python -m grader.worker JOB.json``). The worker itself is trusted course code:
it drives the kernel from outside the sandbox, so the notebook file with the hidden tests
never exists where student code can read it; the kernel (the student's code) runs inside
bubblewrap with the limits of :mod:`grader.sandbox`. Scores follow nbgrader's own rule
(:func:`nbgrader.utils.determine_grade`). The worker writes the executed notebook and a
JSON result; it never touches the gradebook.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbgrader.utils import determine_grade, is_grade

from grader.sandbox import (
    Limits,
    Sandbox,
    die_with_parent,
    kill_uid,
    prepare_workdir,
    processes_of,
)

KERNEL_NAME = "course-sandbox"
# How long a kernel gets to answer an interrupt before the whole sandbox is killed.
INTERRUPT_GRACE_S = 5.0
# How often a runaway or crashed kernel is replaced by a fresh one per notebook.
MAX_RESTARTS = 3
# More live processes than this in one sandbox is treated as a fork bomb.
FORK_BOMB = 32


# Evaluated as a user expression before every test cell. User expressions reach the kernel
# without passing through IPython's input transformers, so a submission that installed a
# transformer (emptying the test cells), an AST transformer or a custom exception handler
# (swallowing failed asserts) cannot stop this from taking them out again. It answers with
# the names of the hooks it found, so the submission can be flagged.
RESET_HOOKS = """(lambda ip, TM: (
    [n for n, bad in (
        ("input transformers", bool(ip.input_transformers_post)),
        ("cleanup transformers", [getattr(t, "__name__", type(t).__name__)
            for t in ip.input_transformers_cleanup] != [getattr(t, "__name__", type(t).__name__)
            for t in TM().cleanup_transforms]),
        ("AST transformers", bool(ip.ast_transformers)),
        ("custom exception handler", bool(ip.custom_exceptions)),
    ) if bad],
    ip.input_transformers_post.clear(),
    setattr(ip, "input_transformer_manager", TM()),
    ip.ast_transformers.clear(),
    setattr(ip, "custom_exceptions", ()),
    setattr(ip, "CustomTB", None),
)[0])(
    __import__("IPython").core.interactiveshell.InteractiveShell.instance(),
    __import__("IPython").core.inputtransformer2.TransformerManager,
)"""


def is_test_cell(cell: nbformat.NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and is_grade(cell) and not meta.get("solution", False)


def kernel_spec(box: Sandbox, folder: Path) -> Path:
    """Write a kernelspec whose kernel starts inside ``box``; return the kernels folder."""
    argv = box.argv(
        [
            str(Path(sys.prefix) / "bin" / "python"),
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ]
    )
    spec = {
        "argv": argv,
        "display_name": "Python 3 (grading sandbox)",
        "language": "python",
        # Signals cannot cross the sandbox's pid namespace; interrupts go as messages.
        "interrupt_mode": "message",
    }
    kernels = folder / "kernels"
    (kernels / KERNEL_NAME).mkdir(parents=True, exist_ok=True)
    (kernels / KERNEL_NAME / "kernel.json").write_text(json.dumps(spec, indent=1))
    return kernels


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose connection file the sandbox's user may read."""

    sandbox_uid: int | None = None

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if self.sandbox_uid is not None:
            os.chown(self.connection_file, self.sandbox_uid, self.sandbox_uid)


class CappedClient(NotebookClient):
    """A notebook client that keeps at most ``output_cap`` bytes of output.

    Errors and the first stderr message of a cell are always kept, because nbgrader's
    scoring reads them.
    """

    output_cap: int = 2 * 2**20
    _kept: int = 0
    truncated: bool = False

    def output(self, outs, msg, display_id, cell_index):  # type: ignore[override]
        size = len(json.dumps(msg.get("content", {}), default=str))
        kind = msg["msg_type"]
        is_stderr = kind == "stream" and msg["content"].get("name") == "stderr"
        if self._kept + size > self.output_cap and kind != "error":
            self.truncated = True
            if is_stderr and not any(o.get("name") == "stderr" for o in outs):
                outs.append(
                    nbformat.v4.new_output("stream", name="stderr", text="[stderr truncated]\n")
                )
            return None
        self._kept += size
        out = super().output(outs, msg, display_id, cell_index)
        return out


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _interrupted(cell: nbformat.NotebookNode) -> bool:
    return any(o.get("ename") == "KeyboardInterrupt" for o in cell.outputs)


def _error_output(ename: str, evalue: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]
    )


async def execute(nb: nbformat.NotebookNode, job: dict, box: Sandbox) -> list[str]:
    """Run every cell of ``nb`` in a sandboxed kernel; return notes about what went wrong."""
    notes: list[str] = []
    kernels = kernel_spec(box, Path(job["jobdir"]))
    km = SandboxKernelManager(
        kernel_name=KERNEL_NAME,
        transport="ipc",
        ip=str(box.workdir / ".kernel" / "ipc"),
        connection_file=str(box.workdir / ".kernel" / "connection.json"),
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
    )
    km.sandbox_uid = box.uid
    (box.workdir / ".kernel").mkdir(exist_ok=True)
    prepare_workdir(box.workdir, box.uid)
    client = CappedClient(
        nb,
        km=km,
        timeout=job["cell_timeout"],
        interrupt_on_timeout=True,
        raise_on_iopub_timeout=False,
        iopub_timeout=4,
        allow_errors=True,
        extra_arguments=job.get("kernel_arguments", []),
        startup_timeout=60,
        resources={"metadata": {"path": str(box.workdir)}},
        kernel_name=KERNEL_NAME,
    )
    client.output_cap = job["output_cap"]
    limit = job["cell_timeout"] + INTERRUPT_GRACE_S

    kernel: set[int] = set()
    bombs: list[int] = []

    async def watchdog() -> None:
        # Too many processes at once is a fork bomb: stop the whole kernel at once,
        # before it starves the other submissions graded beside it.
        while box.uid is not None:
            await asyncio.sleep(0.3)
            if len(processes_of(box.uid)) > FORK_BOMB:
                bombs.append(len(processes_of(box.uid)))
                kill_uid(box.uid, wait=2)

    async def run(cell: nbformat.NotebookNode, index: int) -> str:
        """Run one cell; return 'ok', 'error', 'hung' or 'died'."""
        guard = asyncio.create_task(watchdog())
        started = time.monotonic()
        try:
            await asyncio.wait_for(client.async_execute_cell(cell, index), limit)
        except (TimeoutError, DeadKernelError):
            return "hung" if time.monotonic() - started >= limit - 0.5 else "died"
        finally:
            guard.cancel()
            if box.uid is not None and kernel:
                # Whatever a cell started in the background ends with the cell.
                for pid in set(processes_of(box.uid)) - kernel:
                    _kill(pid)
        return "error" if any(o.get("output_type") == "error" for o in cell.outputs) else "ok"

    hooks_found: set[str] = set()

    async def reset_hooks() -> None:
        """Undo IPython hooks a submission installed, before a test cell runs."""
        try:
            reply = await asyncio.wait_for(
                client.kc.execute_interactive(
                    "",
                    silent=True,
                    store_history=False,
                    user_expressions={"hooks": RESET_HOOKS},
                    timeout=job["cell_timeout"],
                ),
                job["cell_timeout"] + INTERRUPT_GRACE_S,
            )
        except Exception as error:  # noqa: BLE001 - any failure here is worth a note
            hooks_found.add(f"the hook reset did not answer ({type(error).__name__})")
            return
        answer = reply.get("content", {}).get("user_expressions", {}).get("hooks", {})
        if answer.get("status") != "ok":
            hooks_found.add(f"the hook reset failed ({answer.get('ename', 'no answer')})")
            return
        text = answer.get("data", {}).get("text/plain", "[]")
        hooks_found.update(h.strip(" '\"") for h in text.strip("[]").split(",") if h.strip())

    async def restart() -> None:
        client.kc.stop_channels()
        kill_uid(box.uid)
        await km.restart_kernel(now=True)
        await client.async_start_new_kernel_client()
        kernel.clear()
        kernel.update(processes_of(box.uid) if box.uid is not None else [])

    replay: list[int] = []
    restarts = 0
    runaway = job.setdefault("runaway_cells", [])
    stopped = ""
    try:
        async with client.async_setup_kernel(env=box.env):
            kernel.update(processes_of(box.uid) if box.uid is not None else [])
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                if stopped:
                    cell.outputs = [_error_output("NotRun", stopped)] if is_grade(cell) else []
                    continue
                if is_test_cell(cell):
                    await reset_hooks()
                outcome = await run(cell, index)
                if outcome == "ok" and not is_grade(cell):
                    replay.append(index)
                if outcome == "error" and _interrupted(cell):
                    runaway.append(index)
                if outcome not in ("hung", "died"):
                    continue
                runaway.append(index)
                what = (
                    f"cell {index} ignored the interrupt after {job['cell_timeout']:g} s"
                    if outcome == "hung"
                    else f"the kernel died in cell {index} (a crash, os._exit or a kill)"
                )
                if bombs:
                    what = (
                        f"cell {index} started {bombs[0]} processes (a fork bomb) and was stopped"
                    )
                    bombs.clear()
                cell.outputs.append(_error_output("KernelStopped", what))
                notes.append(what)
                if restarts >= MAX_RESTARTS:
                    stopped = f"{what}; later cells did not run"
                    continue
                # A fresh kernel replays the cells that worked, so one runaway cell
                # costs only the tests that depend on it.
                restarts += 1
                await restart()
                for j in replay:
                    again = await run(copy.deepcopy(nb.cells[j]), j)
                    if again in ("hung", "died"):
                        stopped = f"{what}; replaying cell {j} failed too, later cells did not run"
                        break
    finally:
        try:
            if await km.is_alive():
                await km.shutdown_kernel(now=True)
        except Exception as error:  # noqa: BLE001 - a broken kernel must not stop the report
            notes.append(f"kernel shutdown: {error}")
        if client.truncated:
            notes.append(f"output above {job['output_cap']} bytes was dropped")
        if hooks_found:
            notes.append(
                "IPython hooks removed before the test cells: " + ", ".join(sorted(hooks_found))
            )
    return notes


def scores(nb: nbformat.NotebookNode) -> dict[str, list[float]]:
    """Return {grade_id: [score, max_score]} of the autograded cells, nbgrader's way."""
    result = {}
    for cell in nb.cells:
        if is_grade(cell) and cell.cell_type == "code":
            score, max_score = determine_grade(cell)
            result[cell.metadata.nbgrader["grade_id"]] = [float(score or 0.0), float(max_score)]
    return result


def harness_cells(nb: nbformat.NotebookNode, runaway: list[int]) -> list[str]:
    """The cells the cross-check runs: every non-test code cell that did not run away."""
    return [
        cell.source
        for index, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and not is_grade(cell) and index not in runaway
    ]


def run_harness(job: dict, box: Sandbox) -> dict:
    """Run the cross-check harness on the student's answer cells in a fresh sandbox."""
    check = job["crosscheck"]
    out = box.workdir / "crosscheck.jsonl"
    command = [
        str(Path(sys.prefix) / "bin" / "python"),
        "-m",
        "grader.harness",
        check["cells"],
        check["cases"],
        str(out),
    ]
    prepare_workdir(box.workdir, box.uid)
    started = time.monotonic()
    proc = subprocess.Popen(
        box.argv(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=box.env,
        preexec_fn=die_with_parent,
    )
    try:
        log, _ = proc.communicate(timeout=check["timeout"])
        status = f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        log, _ = proc.communicate()
        status = f"stopped after {check['timeout']} s"
    kill_uid(box.uid)
    lines = out.read_text(errors="replace").splitlines() if out.exists() else []
    records = []
    for line in lines[: check["max_cases"]]:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return {
        "status": status,
        "seconds": round(time.monotonic() - started, 2),
        "records": records,
        "log": log.decode(errors="replace")[-4000:],
    }


def main(job_path: str) -> int:
    job = json.loads(Path(job_path).read_text())
    started = time.monotonic()
    box = Sandbox(
        workdir=Path(job["workdir"]),
        readonly=tuple(Path(p) for p in job["readonly"]),
        env=job["env"],
        limits=Limits(**job["limits"]),
        uid=job["uid"],
    )
    nb = nbformat.read(job["notebook"], as_version=4)
    notes = asyncio.run(execute(nb, job, box))
    survivors = kill_uid(box.uid)
    result: dict[str, Any] = {
        "status": "graded",
        "cells": scores(nb),
        "notes": notes,
        "survivors": survivors,
    }
    nbformat.write(nb, job["executed"])
    if job.get("crosscheck"):
        # Cells that hung or crashed the kernel would only do it again in the harness.
        source = nbformat.read(job["notebook"], as_version=4)
        cells = harness_cells(source, job["runaway_cells"])
        Path(job["crosscheck"]["cells"]).write_text(json.dumps(cells))
        result["crosscheck"] = run_harness(job, box)
        result["survivors"] += kill_uid(box.uid)
    result["seconds"] = round(time.monotonic() - started, 2)
    tmp = Path(job["result"]).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(job["result"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
