"""Due dates, the late penalty and extensions, read from one small TOML file.

The instructor keeps them in ``grading/late.toml``::

    [defaults]
    penalty_per_day = 0.1   # fraction of the max score lost per started day late
    max_days = 3            # later than this many days: the score becomes zero
    grace_minutes = 5       # this much lateness is forgiven

    [assignments.01_pixels]
    due = 2026-10-01T23:59:00+00:00
    canvas_id = 12345       # optional: the Canvas assignment this one imports into

    [extensions]
    "ada/01_pixels" = 2026-10-03T23:59:00+00:00   # a new due date, or
    "bob/01_pixels" = 2                           # a number of days added to it

An assignment table may override any rule of ``[defaults]``. Nothing here changes a score
in the gradebook: :func:`lateness` works out how late a submission is from the time
``collect`` stamped on it, and the export shows the raw score, the penalty and the final
score side by side. :class:`CoursePenalty` is the same rule as an nbgrader
``LateSubmissionPlugin``, for nbgrader's own ``autograde`` (see its docstring).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nbgrader.plugins import LateSubmissionPlugin
from nbgrader.utils import parse_utc
from traitlets import Unicode

DAY = 86400.0


class PolicyError(ValueError):
    """A late policy file that cannot be read (the message names the file and line)."""


@dataclass(frozen=True)
class Rule:
    """How much a late submission loses: a share of the max score per started day."""

    penalty_per_day: float = 0.0
    max_days: float | None = None
    grace_minutes: float = 0.0

    def penalty(self, score: float, max_score: float, seconds_late: float) -> float:
        """Return the points lost by a submission ``seconds_late`` after its due date.

        Lateness within the grace period costs nothing; each started day after it costs
        ``penalty_per_day`` of the max score; past ``max_days`` the whole score is lost.
        The penalty never exceeds the score (a late zero stays zero, never negative).
        """
        late = seconds_late - 60 * self.grace_minutes
        if late <= 0:
            return 0.0
        days = math.ceil(late / DAY)
        if self.max_days is not None and days > self.max_days:
            return score
        return min(score, round(days * self.penalty_per_day * max_score, 6))


@dataclass(frozen=True)
class Policy:
    """Every assignment's due date and rule, and every student's extension."""

    path: Path | None = None
    due: dict[str, datetime] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    default: Rule = Rule()
    canvas_ids: dict[str, str] = field(default_factory=dict)
    # "student/assignment" -> a new due date, or a timedelta added to the due date.
    extensions: dict[str, datetime | timedelta] = field(default_factory=dict)

    def rule(self, assignment: str) -> Rule:
        """Return the rule of ``assignment`` (the defaults when it has none of its own)."""
        return self.rules.get(assignment, self.default)

    def due_for(self, student: str, assignment: str) -> tuple[datetime | None, str]:
        """Return (the student's due date, the extension as written or '')."""
        due = self.due.get(assignment)
        ext = self.extensions.get(f"{student}/{assignment}")
        if ext is None or due is None:
            return due, ""
        if isinstance(ext, timedelta):
            return due + ext, f"+{ext.total_seconds() / DAY:g} days"
        return ext, iso(ext)


def iso(when: datetime | None) -> str:
    """Return ``when`` as an ISO 8601 UTC string ('' for None)."""
    if when is None:
        return ""
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _line_of(text: str, key: str, table: str = "") -> int:
    """Return the line of ``text`` that sets ``key`` (in ``[table]`` if given; else 1)."""
    pattern = re.compile(rf'^\s*"?{re.escape(key)}"?\s*=')
    header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]") if table else None
    inside = header is None
    for number, line in enumerate(text.splitlines(), 1):
        if header is not None and line.lstrip().startswith("["):
            inside = bool(header.match(line))
        if inside and pattern.match(line):
            return number
    return 1


def _when(value: object, path: Path, text: str, key: str, table: str) -> datetime:
    """Return ``value`` as an aware datetime, or raise a PolicyError naming its line."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise PolicyError(
            f"{path} line {_line_of(text, key, table)}: {key} must be a date and time with its "
            "UTC offset, like 2026-10-01T23:59:00+00:00."
        )
    return value


def _rule(table: dict, base: Rule, path: Path, text: str, where: str) -> Rule:
    """Return ``base`` with the rule keys ``table`` sets, checked to be numbers."""
    values = {}
    for key in ("penalty_per_day", "max_days", "grace_minutes"):
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise PolicyError(
                    f"{path} line {_line_of(text, key, where)}: {key} must be a number >= 0."
                )
            values[key] = float(value)
    return Rule(**{**base.__dict__, **values})


def load_policy(path: Path) -> Policy:
    """Read a late policy file; an absent file is a policy with no due dates."""
    if not path.is_file():
        return Policy(path=None)
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(f"{path}: {err} (fix the TOML there).") from None
    default = _rule(data.get("defaults", {}), Rule(), path, text, "defaults")
    due, rules, canvas_ids = {}, {}, {}
    for name, table in data.get("assignments", {}).items():
        where = f"assignments.{name}"
        if "due" not in table:
            line = next(
                (n for n, ln in enumerate(text.splitlines(), 1) if where in ln.replace('"', "")), 1
            )
            raise PolicyError(f"{path} line {line}: [{where}] has no due date.")
        due[name] = _when(table["due"], path, text, "due", where)
        rules[name] = _rule(table, default, path, text, where)
        if "canvas_id" in table:
            canvas_ids[name] = str(table["canvas_id"])
    extensions: dict[str, datetime | timedelta] = {}
    for key, value in data.get("extensions", {}).items():
        if key.count("/") != 1:
            raise PolicyError(
                f"{path} line {_line_of(text, key, 'extensions')}: extension keys look like "
                '"student/assignment".'
            )
        if isinstance(value, int | float) and not isinstance(value, bool):
            extensions[key] = timedelta(days=value)
        else:
            extensions[key] = _when(value, path, text, key, "extensions")
    return Policy(path, due, rules, default, canvas_ids, extensions)


def submitted_at(folder: Path) -> datetime | None:
    """Return the UTC time ``collect`` stamped on a submission folder (None if unstamped).

    ``collect --from`` writes ``%Y-%m-%d %H:%M:%S.%f`` in UTC; nbgrader's own collect
    writes its timestamp with a zone name, which nbgrader's parser also reads.
    """
    stamp = folder / "timestamp.txt"
    if not stamp.is_file():
        return None
    try:
        return parse_utc(stamp.read_text().strip()).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class Lateness:
    """How late one submission was, and what that costs."""

    submitted: datetime | None
    due: datetime | None  # the assignment's, before any extension
    extension: str  # the student's extension as the policy gives it, or ''
    seconds_late: float
    penalty: float

    def describe(self) -> str:
        """Return "2 days 3 h" style text for the lateness."""
        days, rest = divmod(int(self.seconds_late), 86400)
        hours, rest = divmod(rest, 3600)
        parts = [f"{days} d"] if days else []
        parts += [f"{hours} h"] if hours or days else []
        parts += [] if days else [f"{rest // 60} min"]
        return " ".join(parts)


def lateness(
    policy: Policy, student: str, assignment: str, folder: Path, score: float, max_score: float
) -> Lateness:
    """Return how late ``folder`` (the submission) was and the penalty on ``score``."""
    when = submitted_at(folder)
    due = policy.due.get(assignment)
    deadline, extension = policy.due_for(student, assignment)
    if when is None or deadline is None:
        return Lateness(when, due, extension, 0.0, 0.0)
    seconds = max(0.0, (when - deadline).total_seconds())
    penalty = policy.rule(assignment).penalty(score, max_score, seconds)
    return Lateness(when, due, extension, seconds, penalty)


class CoursePenalty(LateSubmissionPlugin):
    """The course's late rule as an nbgrader late-submission plugin.

    For ``nbgrader autograde`` (it runs ``AssignLatePenalties``), in nbgrader_config.py::

        from grader.late import CoursePenalty
        c.AssignLatePenalties.plugin_class = CoursePenalty
        c.CoursePenalty.policy_file = "grading/late.toml"

    nbgrader passes the seconds late by its own gradebook's due date and extension (set
    them with ``nbgrader db assignment add --duedate``); this plugin supplies the rule:
    the assignment's ``penalty_per_day``, ``max_days`` and ``grace_minutes``.
    """

    policy_file = Unicode(
        "grading/late.toml", help="The course's late policy (TOML), relative to the course root."
    ).tag(config=True)

    def late_submission_penalty(
        self, student_id: str, score: float, total_seconds_late: float
    ) -> float | None:
        """Return the points ``score`` loses for ``total_seconds_late`` (nbgrader's call)."""
        policy = load_policy(Path(self.policy_file))
        if policy.path is None:
            raise PolicyError(f"{self.policy_file} does not exist: set CoursePenalty.policy_file.")
        # nbgrader's AssignLatePenalties is the parent: it knows which notebook this is.
        # Without it (a bare call) the max score is unknown and the score stands in for it.
        parent = self.parent
        assignment = getattr(parent, "assignment_id", "")
        max_score = score
        gradebook = getattr(parent, "gradebook", None)
        if gradebook is not None:
            notebook_id = getattr(parent, "notebook_id", "")
            notebook = gradebook.find_submission_notebook(notebook_id, assignment, student_id)
            max_score = float(notebook.max_score)
        penalty = policy.rule(assignment).penalty(score, max_score, total_seconds_late)
        self.log.info("Late penalty for %s/%s: %s", student_id, assignment, penalty)
        return penalty
