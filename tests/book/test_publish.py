"""Publishing: `make publish` on small fake sites, and a dry run of the GitHub Actions workflow.

The workflow (.github/workflows/publish.yml) cannot run here, so it is checked twice over:
against GitHub's published workflow schema (check-jsonschema's bundled copy), and step by step
-- every ``make`` target it runs exists, every script it calls is in the repository, every action
is one we expect at a pinned major version, and the folder it uploads is the one `make publish`
writes. `make publish` itself runs for real (its book build skipped with ``make -o book``) on
fake sites written into a temporary folder.
"""

from __future__ import annotations

import glob
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from site_tools import repository_files

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"

# The actions the workflow may use, and only these: a typo'd or look-alike name would run
# someone else's code with the token that deploys the site.
EXPECTED_ACTIONS = {
    "actions/checkout",
    "actions/setup-python",
    "actions/setup-node",
    "actions/cache",
    "actions/configure-pages",
    "actions/upload-pages-artifact",
    "actions/deploy-pages",
}
MAJOR_VERSION = re.compile(r"^v\d+$")


# --- helpers ------------------------------------------------------------------------------


def load_workflow(path: Path = WORKFLOW) -> dict[str, Any]:
    assert path.is_file(), f"{path.relative_to(ROOT)} does not exist"
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in workflow:
        workflow["on"] = workflow.pop(True)
    return workflow


def all_steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in workflow["jobs"].items() for step in job["steps"]]


def step_using(workflow: dict[str, Any], action: str) -> tuple[str, dict[str, Any]]:
    found = [(j, s) for j, s in all_steps(workflow) if s.get("uses", "").split("@")[0] == action]
    assert len(found) == 1, f"the workflow should use {action} exactly once, found {len(found)}"
    return found[0]


def run_commands(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for _, step in all_steps(workflow) if "run" in step]


def course_config() -> dict[str, Any]:
    path = ROOT / "course.toml"
    assert path.is_file(), "course.toml (the course's deployment settings) does not exist"
    return tomllib.loads(path.read_text())


def check_jsonschema() -> str:
    found = Path(sys.executable).with_name("check-jsonschema")
    if found.is_file():
        return str(found)
    on_path = shutil.which("check-jsonschema")
    if on_path:
        return on_path
    pytest.fail("check-jsonschema is not installed: `make install` (it is in the dev extra)")


def schema_errors(paths: list[Path]) -> dict[str, list[str]]:
    """Validate workflow files against GitHub's schema in one run; return errors per file."""
    result = subprocess.run(
        [check_jsonschema(), "--builtin-schema", "vendor.github-workflows", "-o", "json"]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    errors: dict[str, list[str]] = {str(p): [] for p in paths}
    for error in report.get("errors", []) + report.get("parse_errors", []):
        errors.setdefault(error.get("filename", "?"), []).append(
            error.get("best_deep_match", {}).get("message") or error.get("message", "")
        )
    assert (result.returncode == 0) == (not any(errors.values())), result.stdout + result.stderr
    return errors


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def publish_command() -> list[str]:
    """Return the command `make publish` runs after the book build, split into words."""
    dry = make("-n", "publish")
    assert dry.returncode == 0, f"make -n publish failed:\n{dry.stderr}"
    lines = [line for line in dry.stdout.splitlines() if "tools/publish_site.py" in line]
    assert len(lines) == 1, f"make publish should run tools/publish_site.py once:\n{dry.stdout}"
    return shlex.split(lines[0])


# --- the workflow file --------------------------------------------------------------------


# Plausible mistakes, each of which GitHub would reject (it runs none of the workflow).
BROKEN_WORKFLOWS = {
    "a misspelt permission level": ("pages: write", "pages: writ"),
    "runs_on for runs-on": ("runs-on: ubuntu-latest", "runs_on: ubuntu-latest"),
    "an unknown trigger": ("workflow_dispatch:", "workflow-dispatch:"),
    "a step key that does not exist": ("- id: deployment", "- idd: deployment"),
    "a job without steps": (
        "    steps:\n      - id: deployment",
        "    stepz:\n      - id: deployment",
    ),
}


@pytest.fixture(scope="module")
def schema_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    folder = tmp_path_factory.mktemp("workflows")
    text = WORKFLOW.read_text()
    paths = [WORKFLOW]
    for number, (before, after) in enumerate(BROKEN_WORKFLOWS.values()):
        assert before in text, f"the workflow no longer contains {before!r}: update this test"
        paths.append(folder / f"broken{number}.yml")
        paths[-1].write_text(text.replace(before, after, 1))
    return schema_errors(paths)


def test_workflow_matches_githubs_schema(schema_report: dict[str, list[str]]) -> None:
    assert schema_report[str(WORKFLOW)] == []


@pytest.mark.parametrize("number", range(len(BROKEN_WORKFLOWS)), ids=list(BROKEN_WORKFLOWS))
def test_schema_check_catches_a_broken_workflow(
    schema_report: dict[str, list[str]], number: int
) -> None:
    # The real workflow passes the check above; this shows the check would not pass a mistake.
    broken = [
        errors for path, errors in schema_report.items() if path.endswith(f"broken{number}.yml")
    ]
    assert broken and broken[0], f"the schema check accepted {list(BROKEN_WORKFLOWS)[number]}"


def test_workflow_runs_on_pushes_to_the_course_branch_and_by_hand() -> None:
    on = load_workflow()["on"]
    branch = course_config()["repository"]["branch"]
    assert on["push"]["branches"] == [branch], f"push should trigger on {branch!r} only: {on}"
    assert "workflow_dispatch" in on, "the workflow cannot be started by hand"
    assert "pull_request" not in on, "a pull request must never deploy the site"


def test_every_action_is_expected_and_pinned_to_a_major_version() -> None:
    used = {}
    for job, step in all_steps(load_workflow()):
        if "uses" in step:
            name, _, ref = step["uses"].partition("@")
            assert name in EXPECTED_ACTIONS, f"job {job} uses an unexpected action {name}"
            assert MAJOR_VERSION.match(ref), f"{step['uses']}: pin a major version (@vN)"
            used[name] = ref
    assert set(used) == EXPECTED_ACTIONS, f"actions missing: {EXPECTED_ACTIONS - set(used)}"


def test_only_the_deploy_job_can_deploy() -> None:
    workflow = load_workflow()
    assert workflow["permissions"] == {"contents": "read"}, "the default token must be read-only"
    job_name, _ = step_using(workflow, "actions/deploy-pages")
    job = workflow["jobs"][job_name]
    assert job["permissions"] == {"pages": "write", "id-token": "write"}
    build_job, _ = step_using(workflow, "actions/upload-pages-artifact")
    needs = [job["needs"]] if isinstance(job["needs"], str) else job["needs"]
    assert build_job != job_name and build_job in needs, "deploy only what the build uploaded"
    assert job["environment"]["name"] == "github-pages"
    assert job["environment"]["url"] == "${{ steps.deployment.outputs.page_url }}"
    # One deployment at a time, and a running one is never cancelled halfway.
    assert workflow["concurrency"] == {"group": "pages", "cancel-in-progress": False}


def test_run_steps_name_make_targets_and_scripts_that_exist() -> None:
    files = repository_files(ROOT)
    targets = []
    for command in run_commands(load_workflow()):
        syntax = subprocess.run(["bash", "-n"], input=command, capture_output=True, text=True)
        assert syntax.returncode == 0, f"bash cannot parse {command!r}: {syntax.stderr}"
        for line in command.splitlines():
            words = shlex.split(line, comments=True)
            if words[:1] == ["make"]:
                targets += [w for w in words[1:] if not w.startswith("-") and "=" not in w]
            for word in words:
                if word.endswith((".py", ".sh")) and "/" in word:
                    assert word in files, f"the workflow runs {word}, which is not in the repo"
    assert {"book", "publish"} <= set(targets), (
        f"the workflow should make book and publish: {targets}"
    )
    for target in targets:
        dry = make("-n", target)
        assert dry.returncode == 0, f"make -n {target} fails:\n{dry.stderr}"


def test_the_repository_check_runs_first_and_stops_a_fork() -> None:
    commands = run_commands(load_workflow())
    check = [i for i, c in enumerate(commands) if "verify-repository" in c]
    build = [i for i, c in enumerate(commands) if c.strip() == "make book"]
    assert check and build and check[0] < build[0], f"check before building: {commands}"
    assert '"$GITHUB_REPOSITORY"' in commands[check[0]]
    # A dry run of that step as GitHub would run it, here and in a fork.
    url = course_config()["repository"]["url"].rstrip("/")
    here = "/".join(url.split("/")[-2:])
    script = shlex.split(commands[check[0]])[1]
    for repository, expected in ((here, 0), ("someone-else/a-fork", 1)):
        proc = subprocess.run(
            [sys.executable, script, "verify-repository", repository],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == expected, f"{repository}: exit {proc.returncode}\n{proc.stdout}"
    assert "course.toml" in proc.stdout + proc.stderr, "a fork is not told to edit course.toml"


def test_setup_steps_match_the_project() -> None:
    workflow = load_workflow()
    files = repository_files(ROOT)
    _, python = step_using(workflow, "actions/setup-python")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    version = python["with"]["python-version"]
    assert isinstance(version, str), "quote python-version: YAML reads 3.10 as 3.1"
    requires = pyproject["project"]["requires-python"]
    major, minor = map(int, version.split("."))
    low, high = (tuple(map(int, v.split("."))) for v in re.findall(r"[\d.]+", requires))
    assert low <= (major, minor) < high, f"Python {version} is outside {requires}"
    assert python["with"]["cache-dependency-path"] in files
    _, node = step_using(workflow, "actions/setup-node")
    assert node["with"]["cache-dependency-path"] == "vendor/package-lock.json"
    assert "vendor/package-lock.json" in files


def test_the_data_cache_is_where_the_loaders_download_and_keyed_on_checksums() -> None:
    workflow = load_workflow()
    job_name, cache = step_using(workflow, "actions/cache")
    folder = workflow["jobs"][job_name]["env"]["CNN_COURSE_CACHE"]
    assert folder == "${{ github.workspace }}/" + cache["with"]["path"]
    patterns = re.findall(r"'([^']+)'", cache["with"]["key"])
    assert "hashFiles(" in cache["with"]["key"] and patterns, cache["with"]["key"]
    for pattern in patterns:
        matches = glob.glob(pattern, root_dir=ROOT, recursive=True)
        assert any((ROOT / m).is_file() for m in matches), f"{pattern} matches no file"
    keyed = {p for p in patterns if "manifests" in p or "mnist" in p}
    assert len(keyed) >= 2, (
        f"the key should cover the manifests and the MNIST checksums: {patterns}"
    )


def test_the_uploaded_folder_is_what_make_publish_writes() -> None:
    command = publish_command()
    assert command[-3:] == ["tools/publish_site.py", "_build/html", "_build/publish"], command
    _, upload = step_using(load_workflow(), "actions/upload-pages-artifact")
    assert upload["with"]["path"] == command[-1]
    # Only hidden file make publish leaves is .nojekyll; without this the upload drops it.
    assert upload["with"]["include-hidden-files"] is True


# --- make publish on fake sites -----------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head><link rel="stylesheet" href="{up}_static/p2p.css"></head>
<body><a href="{up}index.html">home</a> <img src="{up}_images/fig.png" alt="">
<a href="https://mybinder.org/v2/gh/owner/course/main?urlpath=lab/tree/book/01.ipynb">Binder</a>
<a href="{up}_sources/book/01.ipynb" download>notebook</a>
<pre>make serve   # then open http://127.0.0.1:8000 in a browser</pre>
{extra}</body></html>
"""


def write_site(folder: Path, extra: str = "") -> Path:
    files = {
        "index.html": PAGE.format(up="", extra=""),
        "book/01.html": PAGE.format(up="../", extra=extra),
        "_static/p2p.css": "body { color: black; }",
        "_images/fig.png": "not really a png",
        "_sources/book/01.ipynb": "{}",
        ".buildinfo": "# Sphinx build info version 1",
    }
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def make_publish(site: Path, dest: Path) -> subprocess.CompletedProcess[str]:
    # The real target; -o book skips the (eight-minute) book build it depends on.
    return make("-o", "book", "publish", f"SITE_DIR={site}", f"PUBLISH_DIR={dest}")


def test_make_publish_prepares_a_clean_site(tmp_path: Path) -> None:
    site, dest = write_site(tmp_path / "html"), tmp_path / "out" / "publish"
    result = make_publish(site, dest)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (dest / ".nojekyll").is_file(), "no .nojekyll: Jekyll would drop _static and friends"
    published = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    expected = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    assert published == expected - {".buildinfo"} | {".nojekyll"}
    for name in published - {".nojekyll"}:
        assert (dest / name).read_bytes() == (site / name).read_bytes(), name
    assert "ready for static hosting" in result.stdout
    # Nothing left next to the result (an interrupted copy's staging folder, say).
    assert [p.name for p in dest.parent.iterdir()] == ["publish"]


LOCAL_LINKS = [
    '<a href="http://127.0.0.1:8000/book/02.html">next</a>',
    '<a href="http://localhost:8888/lab/tree/book/01.ipynb">JupyterLab</a>',
    '<a href="file:///work/main/_build/html/book/02.html">next</a>',
    '<img src="/work/main/_build/html/_images/fig.png" alt="">',
    '<img srcset="../_images/fig.png 1x, http://127.0.0.1:8000/_images/fig@2x.png 2x">',
]
PLACEHOLDERS = [
    '<a href="https://hub.example.org/hub/user-redirect/lab">JupyterHub</a>',
    '<a href="https://your-hub.university.edu/">JupyterHub</a>',
    "<pre>pip install --find-links https://example.com/wheels/ pixels-to-predictions</pre>",
    '<a href="https://placeholder.invalid/course">course</a>',
]


@pytest.mark.parametrize("extra", LOCAL_LINKS + PLACEHOLDERS)
def test_make_publish_refuses_links_to_this_machine_or_a_placeholder(
    tmp_path: Path, extra: str
) -> None:
    site, dest = write_site(tmp_path / "html", extra), tmp_path / "publish"
    # Yesterday's good artefact must not survive to be deployed instead.
    (dest / "old").mkdir(parents=True)
    result = make_publish(site, dest)
    assert result.returncode != 0, f"make publish accepted a page with {extra}"
    assert "refused" in result.stderr and "book/01.html" in result.stderr, result.stderr
    assert not dest.exists(), "a refused site left a folder a later step could deploy"


def test_make_publish_without_a_built_site_says_to_build_it(tmp_path: Path) -> None:
    result = make_publish(tmp_path / "nothing", tmp_path / "publish")
    assert result.returncode != 0
    assert "make book" in result.stderr, result.stderr


def test_every_line_of_the_message_names_a_page_and_a_reason(tmp_path: Path) -> None:
    site = write_site(tmp_path / "html", LOCAL_LINKS[0] + PLACEHOLDERS[0])
    result = make_publish(site, tmp_path / "publish")
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert problems == [
        "book/01.html: http://127.0.0.1:8000/book/02.html  (loopback host: this machine, "
        "not the reader's)",
        "book/01.html: hub.example.org  (placeholder host)",
    ], result.stderr
