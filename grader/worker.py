"""Grade ONE submission: run its notebook in a sandboxed kernel and score the test cells.

The grading command starts one worker process per student × assignment
(``python -m grader.worker JOB.json``). The worker itself is trusted course code:
it drives the kernel from outside the sandbox, so the notebook file with the hidden tests
never exists where student code can read it; the kernel (the student's code) runs inside
bubblewrap with the limits of :mod:`grader.sandbox`, and so does the cross-check harness,
the only file of this package a sandbox ever sees: once the notebook's last cell has run,
its cases are called in the same kernel (or, when the kernel was stopped before, in a
fresh sandbox). The worker writes the executed notebook and a JSON result; the grading
command scores it by nbgrader's own rule (:func:`nbgrader.utils.determine_grade`) and
writes the gradebook.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import nbformat
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from grader.notebooks import nbgrader_meta
from grader.sandbox import (
    Limits,
    Sandbox,
    die_with_parent,
    kill_uid,
    prepare_workdir,
    processes_of,
    sandbox_python,
)

KERNEL_NAME = "course-sandbox"
# How long a kernel gets to answer an interrupt before the whole sandbox is killed.
INTERRUPT_GRACE_S = 5.0
# How often a runaway or crashed kernel is replaced by a fresh one per notebook.
MAX_RESTARTS = 3
# More live processes than this in one sandbox is treated as a fork bomb.
FORK_BOMB = 32
# Run as the kernel starts: the test cells' helpers are loaded before any cell's clock runs,
# so their import time never counts against a student's cell (or the capture hook's).
PRELOAD = "import helpers.check"


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


# Evaluated as a user expression when a kernel starts. IPython's ``exit()`` (and ``quit()``)
# stops the kernel once the cell's reply is sent: the grader would see the next cell die
# and replay the exiting cell after every restart. Here it only leaves a note in the reply
# (a ``blocked`` ask_exit payload) and the kernel goes on.
BLOCK_EXIT = """(lambda ip: setattr(ip, "ask_exit", lambda: ip.payload_manager.write_payload(
    {"source": "ask_exit", "keepkernel": True, "blocked": True})))(
    __import__("IPython").core.interactiveshell.InteractiveShell.instance())"""


# The course's shared reference constants: read-only arrays that test cells import as
# their expected values. Read-only is no protection (``arr.setflags(write=True)``), and
# everything in the kernel is within a submission's reach, so the worker, outside the
# kernel, keeps their fingerprints from before any student code ran, compares after
# every answer cell and before every test cell, and has the modules re-imported from the
# read-only disk copy when they differ.
CONSTANT_MODULES = ("helpers.kernels",)
CONSTANTS_CODE = """
import hashlib, importlib, sys
import numpy as np

def _feed(h, value):
    if isinstance(value, np.ndarray):
        h.update(repr((value.dtype.str, value.shape, value.flags.writeable)).encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, dict):
        for key in sorted(value, key=repr):
            h.update(repr(key).encode())
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        for item in value:
            _feed(h, item)
    elif hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        _feed(h, dict(vars(value)))
    else:
        h.update(repr(value).encode())

if RESTORE:
    for name in MODULES:
        for loaded in [m for m in list(sys.modules) if m == name or m.startswith(name + ".")]:
            del sys.modules[loaded]
answer = {}
for name in MODULES:
    for attr, value in sorted(vars(importlib.import_module(name)).items()):
        if attr.isupper():
            h = hashlib.sha256()
            _feed(h, value)
            answer[name + "." + attr] = h.hexdigest()
"""


def constants_expression(restore: bool) -> str:
    """Return the user expression that fingerprints (and first re-imports) the constants."""
    scope = {"MODULES": CONSTANT_MODULES, "RESTORE": restore}
    return (
        f'(lambda g: (__import__("builtins").exec({CONSTANTS_CODE!r}, g), g["answer"])[1])'
        f"({scope!r})"
    )


def is_grade(cell: nbformat.NotebookNode) -> bool:
    """Return True for a cell nbgrader scores (nbgrader's ``is_grade``, without its import).

    Importing ``nbgrader`` loads its server extensions, about 2 s per worker process; the
    worker only needs this test, and the scores are computed by the grading command.
    """
    return bool(nbgrader_meta(cell).get("grade", False))


def is_test_cell(cell: nbformat.NotebookNode) -> bool:
    """Return True for an autograded test cell (graded, and not an answer)."""
    return cell.cell_type == "code" and is_grade(cell) and not nbgrader_meta(cell).get("solution")


def kernel_spec(box: Sandbox, folder: Path) -> Path:
    """Write a kernelspec whose kernel starts inside ``box``; return the kernels folder."""
    argv = box.argv(
        [
            str(sandbox_python()),
            "-m",
            "ipykernel_launcher",
            f"--IPKernelApp.exec_lines={PRELOAD}",
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
        """Write the connection file and hand it to the sandbox's user."""
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
        """Keep one output message unless the cap is reached (errors are always kept)."""
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


class SandboxedRun:
    """One notebook run cell by cell in a sandboxed kernel that is replaced when it runs away.

    A cell that ignores the interrupt, kills the kernel or forks too much costs only the
    tests that depend on it: the kernel is replaced (at most :data:`MAX_RESTARTS` times)
    and the cells that worked are replayed in the new one. :meth:`execute` returns notes
    on what went wrong; ``job["runaway_cells"]`` lists the cells that ran away.
    """

    def __init__(self, nb: nbformat.NotebookNode, job: dict, box: Sandbox) -> None:
        self.nb = nb
        self.job = job
        self.box = box
        self.timeout = float(job["cell_timeout"])
        self.limit = self.timeout + INTERRUPT_GRACE_S
        self.km = self._kernel_manager()
        self.notes: list[str] = []
        self.exits_seen: dict[int, bool] = {}
        self.constants: dict[str, str] = {}  # fingerprints before any student code ran
        self.client = self._client()
        self.kernel_pids: set[int] = set()  # the kernel's own processes, spared after a cell
        self.bombs: list[int] = []  # process counts the watchdog stopped
        self.hooks_found: set[str] = set()
        self.replay: list[int] = []  # cells a fresh kernel runs again
        self.runaway: list[int] = job.setdefault("runaway_cells", [])
        self.restarts = 0
        self.flags: list[str] = []  # what asks for a human look (the record's flags)
        self.stopped = ""  # why the remaining cells are not run, once that is so
        self.crosscheck: dict | None = None  # the in-kernel cross-check's result, once run

    def _kernel_manager(self) -> SandboxKernelManager:
        kernels = kernel_spec(self.box, Path(self.job["jobdir"]))
        folder = self.box.workdir / ".kernel"
        km = SandboxKernelManager(
            kernel_name=KERNEL_NAME,
            transport="ipc",
            ip=str(folder / "ipc"),
            connection_file=str(folder / "connection.json"),
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels)]),
        )
        km.sandbox_uid = self.box.uid
        folder.mkdir(exist_ok=True)
        prepare_workdir(self.box.workdir, self.box.uid)
        return km

    def _client(self) -> CappedClient:
        client = CappedClient(
            self.nb,
            km=self.km,
            timeout=self.job["cell_timeout"],
            interrupt_on_timeout=True,
            raise_on_iopub_timeout=False,
            iopub_timeout=4,
            allow_errors=True,
            extra_arguments=self.job.get("kernel_arguments", []),
            startup_timeout=60,
            resources={"metadata": {"path": str(self.box.workdir)}},
            kernel_name=KERNEL_NAME,
        )
        client.output_cap = self.job["output_cap"]
        client.on_cell_executed = self._on_executed
        return client

    def _on_executed(
        self, cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict
    ) -> None:
        """Remember a cell whose reply asks the front end to exit (IPython's ``exit()``)."""
        for payload in execute_reply.get("content", {}).get("payload", []) or []:
            if payload.get("source") == "ask_exit":
                self.exits_seen[cell_index] = bool(payload.get("blocked"))

    @property
    def _kc(self) -> AsyncKernelClient:
        return cast(AsyncKernelClient, self.client.kc)

    async def execute(self) -> list[str]:
        """Run every code cell of the notebook; return notes about what went wrong."""
        try:
            async with self.client.async_setup_kernel(env=self.box.env):
                self._remember_kernel()
                await self._block_exit()
                start = await self._fingerprints(restore=False)
                if isinstance(start, str):
                    self.notes.append(f"the course's constants are not watched: {start}")
                self.constants = start if isinstance(start, dict) else {}
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type == "code":
                        await self._cell(index, cell)
                if self.job.get("crosscheck") and not self.stopped:
                    self.crosscheck = await self._crosscheck()
        finally:
            await self._finish()
        return self.notes

    async def _crosscheck(self) -> dict:
        """Call the cross-check's cases in this kernel, after the notebook's last cell.

        The cases (fresh inputs) reach the kernel only now, when no student code runs
        any more except the functions called on them; the values go out through a file
        the worker reads and the grading command compares outside the sandbox.
        """
        check = self.job["crosscheck"]
        work = self.box.workdir
        cases, out = work / ".crosscheck-cases.pkl", work / "crosscheck.jsonl"
        for path in (cases, out, work / "crosscheck-files"):
            _remove(path)
        shutil.copyfile(check["cases"], cases)
        cases.chmod(0o644)
        source = Path(check["harness"]).read_text()
        expression = (
            f'(lambda g: (__import__("builtins").exec({source!r}, g), '
            f'g["in_kernel"]({str(cases)!r}, {str(out)!r}))[1])({{"__name__": "crosscheck"}})'
        )
        started = time.monotonic()
        status = "exit 0"
        try:
            reply = await asyncio.wait_for(
                self._kc.execute_interactive(
                    "", silent=True, store_history=False,
                    user_expressions={"crosscheck": expression}, timeout=check["timeout"],
                ),
                check["timeout"] + INTERRUPT_GRACE_S,
            )  # fmt: skip
            answer = reply.get("content", {}).get("user_expressions", {}).get("crosscheck", {})
            if answer.get("status") != "ok":
                status = f"{answer.get('ename', 'no answer')}: {str(answer.get('evalue'))[:200]}"
        except Exception as error:  # noqa: BLE001 - the records written so far still count
            status = f"stopped ({type(error).__name__})"
        return {
            "status": status,
            "seconds": round(time.monotonic() - started, 2),
            "records": read_records(out, check["max_cases"]),
            "log": "(run in the notebook's kernel after its last cell)",
        }

    async def _cell(self, index: int, cell: nbformat.NotebookNode) -> None:
        if self.stopped:
            cell.outputs = [_error_output("NotRun", self.stopped)] if is_grade(cell) else []
            return
        if is_test_cell(cell):
            await self._reset_hooks()
            label = cell.metadata.nbgrader.get("grade_id", f"cell {index}")
            await self._check_constants(f"something run before the test {label}")
        outcome = await self._run(cell, index)
        if outcome == "error" and any(o.get("ename") == "MemoryError" for o in cell.outputs):
            # The cell may still hold nearly all the memory the sandbox allows (a list of
            # chunks kept until the allocator said no): every later cell, the tests
            # included, would fail or kill the kernel. A fresh kernel replays what worked.
            outcome = "memory"
        if not is_grade(cell) and outcome in ("ok", "error"):
            label = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            await self._check_constants(label or f"cell {index}")
        if index in self.exits_seen:
            outcome = self._exit_called(index, cell, outcome)
        if outcome == "memory":
            self.runaway.append(index)
            await self._recover(index, cell, "memory")
        elif outcome == "ok" and not is_grade(cell):
            self.replay.append(index)
        elif outcome == "error" and _interrupted(cell):
            self.runaway.append(index)
            if self._memory_held() > self.box.limits.memory_bytes // 2:
                # Stopped on its way to the memory limit: what it holds would starve the rest.
                await self._recover(index, cell, "memory")
        elif outcome in ("hung", "died"):
            self.runaway.append(index)
            await self._recover(index, cell, outcome)
        elif outcome == "exited":
            await self._recover(index, cell, outcome)

    def _exit_called(self, index: int, cell: nbformat.NotebookNode, outcome: str) -> str:
        """Flag a cell that called ``exit()``; return 'exited' if its kernel is stopping."""
        kept = self.exits_seen.pop(index)
        label = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or f"cell {index}"
        if kept:
            self.flags.append(
                f"{label} called exit(), which stops the kernel in Jupyter: ignored while "
                "grading (remove it from the notebook)"
            )
            return outcome
        self.flags.append(f"{label} called exit() and stopped the kernel")
        return "exited" if outcome in ("ok", "error") else outcome

    async def _fingerprints(self, restore: bool) -> dict[str, str] | str:
        """Return the constants' fingerprints as the kernel sees them, or why there are none.

        The reason starts with "no reply" when the kernel did not answer (busy, dying),
        else it is the error the expression raised (something broke what it uses).
        """
        try:
            reply = await asyncio.wait_for(
                self._kc.execute_interactive(
                    "", silent=True, store_history=False,
                    user_expressions={"c": constants_expression(restore)}, timeout=self.timeout,
                ),
                self.limit,
            )  # fmt: skip
        except Exception as error:  # noqa: BLE001 - any failure to answer is reported
            return f"no reply ({type(error).__name__})"
        answer = reply.get("content", {}).get("user_expressions", {}).get("c", {})
        if answer.get("status") != "ok":
            return f"{answer.get('ename', 'no answer')}: {str(answer.get('evalue'))[:100]}"
        try:
            return dict(ast.literal_eval(answer["data"]["text/plain"]))
        except (KeyError, ValueError, SyntaxError, TypeError):
            return "an answer that is not a dict of fingerprints"

    async def _check_constants(self, who: str) -> None:
        """Flag and undo a change of the course's constants since the kernel started."""
        if not self.constants:
            return
        now = await self._fingerprints(restore=False)
        if now == self.constants:
            return
        if isinstance(now, str) and now.startswith("no reply"):
            self.notes.append(f"the course's constants could not be checked after {who}: {now}")
            return
        if isinstance(now, str):
            what = f"the course's constants (the check failed: {now})"
        else:
            what = ", ".join(k for k in sorted(self.constants) if now.get(k) != self.constants[k])
        restored = await self._fingerprints(restore=True) == self.constants
        self.flags.append(
            f"{who} changed {what} that the tests compare against "
            + ("(restored from disk before the tests)" if restored else "(could not be restored)")
        )

    async def _block_exit(self) -> None:
        """Make ``exit()`` in this kernel a note instead of a shutdown (see BLOCK_EXIT)."""
        try:
            await asyncio.wait_for(
                self._kc.execute_interactive(
                    "", silent=True, store_history=False,
                    user_expressions={"exit": BLOCK_EXIT}, timeout=self.timeout,
                ),
                self.limit,
            )  # fmt: skip
        except Exception as error:  # noqa: BLE001 - the run goes on; exit() stays harmful
            self.notes.append(f"exit() could not be disarmed ({type(error).__name__})")

    async def _run(self, cell: nbformat.NotebookNode, index: int) -> str:
        """Run one cell; return 'ok', 'error', 'hung' or 'died'."""
        guard = asyncio.create_task(self._watchdog())
        started = time.monotonic()
        try:
            await asyncio.wait_for(self.client.async_execute_cell(cell, index), self.limit)
        except (TimeoutError, DeadKernelError):
            return "hung" if time.monotonic() - started >= self.limit - 0.5 else "died"
        finally:
            guard.cancel()
            self._end_background_processes()
        return "error" if any(o.get("output_type") == "error" for o in cell.outputs) else "ok"

    async def _watchdog(self) -> None:
        # Too many processes at once is a fork bomb: stop the whole kernel at once,
        # before it starves the other submissions graded beside it.
        while self.box.uid is not None:
            await asyncio.sleep(0.3)
            if len(processes_of(self.box.uid)) > FORK_BOMB:
                self.bombs.append(len(processes_of(self.box.uid)))
                kill_uid(self.box.uid, wait=2)

    def _end_background_processes(self) -> None:
        # Whatever a cell started in the background ends with the cell.
        if self.box.uid is not None and self.kernel_pids:
            for pid in set(processes_of(self.box.uid)) - self.kernel_pids:
                _kill(pid)

    def _memory_held(self) -> int:
        """Return the resident bytes of the sandbox's processes (0 without a sandbox user)."""
        if self.box.uid is None:
            return 0
        total = 0
        for pid in processes_of(self.box.uid):
            try:
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf(
                    "SC_PAGE_SIZE"
                )
            except (OSError, ValueError, IndexError):
                continue
        return total

    def _remember_kernel(self) -> None:
        self.kernel_pids = set(processes_of(self.box.uid)) if self.box.uid is not None else set()

    async def _reset_hooks(self) -> None:
        """Undo IPython hooks a submission installed, before a test cell runs."""
        try:
            reply = await asyncio.wait_for(
                self._kc.execute_interactive(
                    "",
                    silent=True,
                    store_history=False,
                    user_expressions={"hooks": RESET_HOOKS},
                    timeout=self.timeout,
                ),
                self.limit,
            )
        except Exception as error:  # noqa: BLE001 - any failure here is worth a note
            self.hooks_found.add(f"the hook reset did not answer ({type(error).__name__})")
            return
        answer = reply.get("content", {}).get("user_expressions", {}).get("hooks", {})
        if answer.get("status") != "ok":
            self.hooks_found.add(f"the hook reset failed ({answer.get('ename', 'no answer')})")
            return
        text = answer.get("data", {}).get("text/plain", "[]")
        self.hooks_found.update(h.strip(" '\"") for h in text.strip("[]").split(",") if h.strip())

    async def _recover(self, index: int, cell: nbformat.NotebookNode, outcome: str) -> None:
        """Report a cell that hung or killed the kernel; go on in a fresh kernel if allowed."""
        what = self._what_stopped(index, outcome)
        cell.outputs.append(_error_output("KernelStopped", what))
        self.notes.append(what)
        if self.restarts >= MAX_RESTARTS:
            self.stopped = f"{what}; later cells did not run"
            return
        self.restarts += 1
        await self._restart()
        # The fresh kernel replays the cells that worked, so one runaway cell costs only
        # the tests that depend on it.
        for j in self.replay:
            if await self._run(copy.deepcopy(self.nb.cells[j]), j) in ("hung", "died"):
                self.stopped = f"{what}; replaying cell {j} failed too, later cells did not run"
                return

    def _what_stopped(self, index: int, outcome: str) -> str:
        if self.bombs:
            count = self.bombs[0]
            self.bombs.clear()
            return f"cell {index} started {count} processes (a fork bomb) and was stopped"
        if outcome == "hung":
            return f"cell {index} ignored the interrupt after {self.timeout:g} s"
        if outcome == "exited":
            return f"cell {index} called exit(), which stopped the kernel"
        if outcome == "memory":
            return f"cell {index} ran out of memory; the kernel was replaced after it"
        return f"the kernel died in cell {index} (a crash, os._exit or a kill)"

    async def _restart(self) -> None:
        self._kc.stop_channels()
        kill_uid(self.box.uid)
        await self.km.restart_kernel(now=True)
        await self.client.async_start_new_kernel_client()
        self._remember_kernel()
        await self._block_exit()
        # A fresh kernel's constants are the disk's again.
        start = await self._fingerprints(restore=False)
        self.constants = start if isinstance(start, dict) else self.constants

    async def _finish(self) -> None:
        try:
            if await self.km.is_alive():
                await self.km.shutdown_kernel(now=True)
        except Exception as error:  # noqa: BLE001 - a broken kernel must not stop the report
            self.notes.append(f"kernel shutdown: {error}")
        if self.client.truncated:
            self.notes.append(f"output above {self.job['output_cap']} bytes was dropped")
        if self.hooks_found:
            self.notes.append(
                "IPython hooks removed before the test cells: "
                + ", ".join(sorted(self.hooks_found))
            )


async def execute(
    nb: nbformat.NotebookNode, job: dict, box: Sandbox
) -> tuple[list[str], list[str], dict | None]:
    """Run every cell of ``nb`` in a sandboxed kernel; return (notes, flags, cross-check).

    The cross-check result is None when the job asks for none or the kernel was stopped
    before the end (then :func:`run_harness` runs it in a fresh sandbox).
    """
    run = SandboxedRun(nb, job, box)
    notes = await run.execute()
    return notes, run.flags, run.crosscheck


def scores(nb: nbformat.NotebookNode) -> dict[str, list[float]]:
    """Return {grade_id: [score, max_score]} of the autograded cells, nbgrader's way.

    The grading command calls it on the executed notebook (it has nbgrader loaded already).
    """
    from nbgrader.utils import determine_grade

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
    """Run the cross-check harness on the student's answer cells in a fresh sandbox.

    ``job["crosscheck"]["folder"]`` holds a copy of the harness with its cells and cases
    (see :func:`grader.autograde.crosscheck_job`); it is bound read-only, so the sandbox
    sees that one file of the grader and nothing else of it.
    """
    check = job["crosscheck"]
    folder = Path(check["folder"])
    out = box.workdir / "crosscheck.jsonl"
    _remove(out)
    command = [
        str(sandbox_python()),
        "-I",
        check["harness"],
        check["cells"],
        check["cases"],
        str(out),
    ]
    prepare_workdir(box.workdir, box.uid)
    started = time.monotonic()
    status, log = _run_boxed(replace(box, readonly=(*box.readonly, folder)), command, check)
    kill_uid(box.uid)
    return {
        "status": status,
        "seconds": round(time.monotonic() - started, 2),
        "records": read_records(out, check["max_cases"]),
        "log": log.decode(errors="replace")[-4000:],
    }


def read_records(out: Path, max_cases: int) -> list[dict]:
    """Read the cross-check's JSON lines (at most one per case, up to the first bad line)."""
    records = []
    for line in _read_private(out).splitlines()[:max_cases]:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def _run_boxed(box: Sandbox, command: list[str], check: dict) -> tuple[str, bytes]:
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
        return f"exit {proc.returncode}", log
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        return f"stopped after {check['timeout']} s", log


def _remove(path: Path) -> None:
    # Whatever the kernel left at this name (a link, a folder) must not catch the output.
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _read_private(path: Path, limit: int = 64 * 2**20) -> str:
    """Read a file the sandbox wrote, never through a link or a pipe planted in its place."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return handle.read(limit).decode(errors="replace")


def main(job_path: str) -> int:
    """Grade the job described in ``job_path``: run, score, cross-check, write the result."""
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
    notes, flags, crosscheck = asyncio.run(execute(nb, job, box))
    survivors = kill_uid(box.uid)
    # No scores here: the grading command reads them from the executed notebook.
    result: dict[str, Any] = {
        "status": "graded",
        "notes": notes,
        "flags": flags,
        "survivors": survivors,
    }
    nbformat.write(nb, job["executed"])
    if crosscheck is not None:
        result["crosscheck"] = crosscheck
    elif job.get("crosscheck"):
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
