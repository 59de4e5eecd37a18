"""Run untrusted student code in a bubblewrap sandbox with hard limits.

A sandboxed process sees a fresh root: the Python installation, the course's ``helpers``
package and the data folder (all read-only), a private working folder (the only thing it
may write), its own ``/tmp``, ``/proc`` and ``/dev``; no network, no other processes, no
``solutions/``, no gradebook, nothing of the grader (:func:`exposed` tells which private
paths a set of read-only folders would show). Limits come from ``prlimit``: address space (memory),
process count, file size, no core dumps. When the grader runs as root (a container, a CI
machine) the process also drops to a dedicated unprivileged user id per worker slot,
because Linux does not apply the process-count limit to root; a fork bomb then stops at
the limit. The sandbox's pid namespace dies with its first process, so killing that one
process ends everything the student started.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

BWRAP = "/usr/bin/bwrap"
# Unprivileged user ids for the worker slots (only used when the grader runs as root).
FIRST_UID = 61000
UID_COUNT = 1024
# Where grading runs on one machine claim their user ids (one lock file per id).
UID_LOCKS = Path(tempfile.gettempdir()) / "p2p-grader-uids"


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed process tree."""

    memory_bytes: int = 4 * 2**30
    processes: int = 96
    file_bytes: int = 256 * 2**20
    open_files: int = 512


@dataclass(frozen=True)
class Sandbox:
    """Where a sandboxed process may read and write, and as whom it runs.

    ``workdir`` is bound read-write; ``readonly`` paths are bound read-only at the same
    place; ``env`` is the whole environment the process gets.
    """

    workdir: Path
    readonly: tuple[Path, ...]
    env: dict[str, str]
    limits: Limits = field(default_factory=Limits)
    uid: int | None = None

    def argv(self, command: list[str]) -> list[str]:
        """Return the command line that runs ``command`` inside this sandbox."""
        return sandbox_argv(self, command)


def available() -> str:
    """Return '' if bubblewrap sandboxes can be started here, else the reason why not."""
    if not sys.platform.startswith("linux"):
        return "the grading sandbox needs Linux (bubblewrap)"
    for tool in (BWRAP, shutil.which("prlimit") or ""):
        if not tool or not os.access(tool, os.X_OK):
            return (
                "bubblewrap or prlimit is missing: install them (Debian/Ubuntu: "
                "apt-get install bubblewrap util-linux)"
            )
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        return "setpriv (util-linux) is missing: it drops root inside the sandbox"
    return ""


def slot_uid(slot: int) -> int | None:
    """Return the user id a worker slot runs student code as (None when not root)."""
    return FIRST_UID + slot if os.geteuid() == 0 else None


def claim_uids(count: int) -> tuple[list[int | None], list[int]]:
    """Claim ``count`` user ids no other grading run on this machine holds.

    Cleaning up after a submission kills every process of its user id, so two runs on one
    machine (shards, a second course) must never share one. Each id is an exclusive lock on
    a file; the kernel drops the lock when the claiming process ends, even by SIGKILL.
    Returns (user ids, lock file descriptors to keep open); the ids are None when not root.
    """
    if os.geteuid() != 0:
        return [None] * count, []
    UID_LOCKS.mkdir(mode=0o700, exist_ok=True)
    uids: list[int | None] = []
    fds: list[int] = []
    for uid in range(FIRST_UID, FIRST_UID + UID_COUNT):
        fd = os.open(UID_LOCKS / str(uid), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        uids.append(uid)
        fds.append(fd)
        if len(uids) == count:
            return uids, fds
    for fd in fds:
        os.close(fd)
    raise SystemExit(f"no free sandbox user id: {UID_COUNT} are held by other grading runs")


def python_paths() -> tuple[Path, ...]:
    """Return the folders the grading Python needs: its installation and its virtualenv.

    Every path is resolved: a sandbox shows folders at their real place only, so a
    virtualenv reached through a symlink (or living outside the course) is bound where
    it really is, with the folder of the real interpreter binary its ``bin/python`` points to.
    """
    paths = {
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix).resolve(),
        Path(sys.executable).resolve().parent,
    }
    # A folder inside another bound one is shown already.
    return tuple(sorted(p for p in paths if not any(q in p.parents for q in paths)))


def sandbox_python() -> Path:
    """Return the interpreter a sandbox runs: this one, at a path the sandbox shows.

    A virtualenv's ``bin/python`` is kept (not resolved to the base interpreter, which
    would leave the virtualenv's packages behind), but its folder is resolved.
    """
    python = Path(sys.prefix).resolve() / "bin" / "python"
    return python if python.exists() else Path(sys.executable).resolve()


def _parents(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


def sandbox_argv(box: Sandbox, command: list[str]) -> list[str]:
    """Build ``prlimit … bwrap … [setpriv …] command`` for ``box``."""
    lim = box.limits
    argv = [
        shutil.which("prlimit") or "prlimit",
        f"--as={lim.memory_bytes}",
        f"--fsize={lim.file_bytes}",
        f"--nofile={lim.open_files}",
        "--core=0",
    ]
    if box.uid is not None or os.geteuid() != 0:
        # Root is exempt from RLIMIT_NPROC; it only bites for an unprivileged user.
        argv.append(f"--nproc={lim.processes}")
    argv += [
        "--",
        BWRAP,
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--hostname",
        "sandbox",
    ]
    if os.geteuid() != 0:
        argv.append("--unshare-user")
    # A world-writable /tmp in memory, as big as one file may be.
    argv += ["--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--size", str(lim.file_bytes)]
    argv += ["--tmpfs", "/tmp"]
    made: set[Path] = {Path("/tmp"), Path("/dev"), Path("/proc")}
    # bwrap creates missing parent folders with mode 0700; an unprivileged user
    # could not walk through them, so they are created explicitly (0755).
    system = [Path(p) for p in ("/usr", "/etc") if Path(p).exists()]
    for path in [*system, *box.readonly, box.workdir]:
        for parent in _parents(path):
            if parent not in made and not parent.is_symlink():
                argv += ["--dir", str(parent)]
                made.add(parent)
        made.add(path)
    for path in system:
        argv += ["--ro-bind", str(path), str(path)]
    for name in ("lib", "lib64", "bin", "sbin"):
        link = Path("/") / name
        if link.is_symlink():
            argv += ["--symlink", os.readlink(link), str(link)]
        elif link.is_dir():
            argv += ["--ro-bind", str(link), str(link)]
    for path in box.readonly:
        argv += ["--ro-bind", str(path), str(path)]
    argv += [
        "--bind",
        str(box.workdir),
        str(box.workdir),
        "--chdir",
        str(box.workdir),
        "--clearenv",
    ]
    for key, value in sorted(box.env.items()):
        argv += ["--setenv", key, value]
    argv.append("--")
    if box.uid is not None:
        argv += [
            shutil.which("setpriv") or "setpriv",
            f"--reuid={box.uid}",
            f"--regid={box.uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]
    return argv + command


PREFLIGHT = "import helpers, numpy"


def preflight(box: Sandbox, timeout: float = 120) -> str:
    """Start one sandboxed ``python -c "import helpers, numpy"``; return '' or what to fix.

    Run before anyone is graded: a sandbox that cannot start the interpreter, or whose
    interpreter cannot import the course's package, would fail every student alike.
    """
    python = sandbox_python()
    prepare_workdir(box.workdir, box.uid)
    try:
        proc = subprocess.run(
            box.argv([str(python), "-c", PREFLIGHT]),
            capture_output=True,
            text=True,
            env=box.env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f"a sandboxed `python -c '{PREFLIGHT}'` did not finish in {timeout:g} s"
    if proc.returncode == 0:
        return ""
    lines = (proc.stderr + proc.stdout).strip().splitlines() or [f"exit {proc.returncode}"]
    detail = lines[-1].strip()
    if "No module named 'helpers'" in detail:
        fix = (
            f"install the course into that interpreter from the course folder "
            f"(`{python} -m pip install -e .`) and grade with it"
        )
    elif "No module named" in detail:
        fix = f"install the course's requirements into {python} (`make install`)"
    elif "failed to execute" in detail or proc.returncode in (126, 127):
        fix = (
            "give the sandbox user read access to the interpreter's folders "
            f"({', '.join(map(str, python_paths()))}) or grade with a Python installed elsewhere"
        )
    else:
        fix = "run that command with this Python to see why it fails"
    return f"a sandboxed `{python} -c '{PREFLIGHT}'` fails ({detail[:200]}): {fix}."


def clean_env(workdir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return the minimal environment a sandboxed kernel or harness gets."""
    env = {
        "PATH": f"{sandbox_python().parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "USER": "student",
        "LOGNAME": "student",
        "LANG": "C.UTF-8",
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(workdir / ".config" / "matplotlib"),
        "IPYTHONDIR": str(workdir / ".ipython"),
        "JUPYTER_CONFIG_DIR": str(workdir / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(workdir / ".runtime"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "NBGRADER_EXECUTION": "autograde",
        # One thread per kernel: N kernels share the machine's cores.
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "CNN_COURSE_CACHE": str(workdir / ".cache" / "course"),
    }
    env.update(extra or {})
    return env


def prepare_workdir(workdir: Path, uid: int | None) -> None:
    """Hand the private working folder (and everything in it) to the sandbox's user."""
    if uid is None:
        return
    for path in [workdir, *workdir.rglob("*")]:
        if not path.is_symlink():
            os.chown(path, uid, uid)


def processes_of(uid: int) -> list[int]:
    """Return the ids of the live processes that run as ``uid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                if int(line.split()[1]) == uid:
                    pids.append(int(entry.name))
                break
    return pids


def kill_uid(uid: int | None, *, wait: float = 5.0) -> list[int]:
    """Kill every process running as ``uid``; return those still alive afterwards."""
    if uid is None:
        return []
    deadline = time.monotonic() + wait
    while True:
        pids = processes_of(uid)
        if not pids or time.monotonic() > deadline:
            return pids
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (use as ``preexec_fn``)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def kill_group(pid: int) -> None:
    """Kill the process group led by ``pid`` (a worker and the sandboxes it started)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def exposed(readonly: Iterable[Path], private: Iterable[Path]) -> list[Path]:
    """Return the ``private`` paths that a sandbox binding ``readonly`` would let it read.

    A bound folder shows everything below it, and a folder bound from inside a private one
    shows part of it; either way the private path is returned.
    """
    bound = [Path(p).resolve() for p in readonly]
    shown = set()
    for path in (Path(p).resolve() for p in private):
        if any(path == b or b in path.parents or path in b.parents for b in bound):
            shown.add(path)
    return sorted(shown)
