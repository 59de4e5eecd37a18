"""Check (or make) the first use of every glossary term on a page a ``{term}`` link.

Usage::

    python tools/glossary_links.py --check [PAGE.md ...]   # list violations, exit 1 if any
    python tools/glossary_links.py --fix [PAGE.md ...]     # rewrite each first use into a link

Without pages, both modes work on every page a student reads: ``book/*.md`` except the
glossary itself, the bibliography (``references.md``, a generated list) and the instructors'
page (written for teachers, outside the student path). That is the introduction,
``get_started``, every chapter (``00_...`` to ``08_...``) and ``notation``.

The rule. The terms are the names of the entries of the ``{glossary}`` directive in
``book/glossary.md`` (an entry may have several names, one per line: they are synonyms). On
each page, the first *prose* use of an entry, under any of its names, must be a link to it,
``{term}`dense layer``` or ``{term}`dense layers <dense layer>```; a link earlier on the page
counts as that first use. A use is a whole-word, case-insensitive match of a name, of its
plural (+s, +es; a name ending in s also matches without it), of its hyphen/space/joined
spellings (``over-fitting``, ``over fitting``, ``overfitting``), of the -ise/-ize spellings
and of the few aliases in ``ALIASES``. Where two names overlap, the longest wins: "max
pooling" is a use of *max pooling*, not of *pooling*.

Prose is what a reader reads as running text. Not prose: the front matter, code cells and
every fenced block of code, ``$math$``, ``$$`` and ``\\begin{...}`` blocks, headings, labels,
MyST comments (``% ...``), HTML blocks, comments and tags, directive lines with their titles
(admonitions, dropdowns) and option lines, and inline roles (``{glue:text}``, ``{doc}``,
``{term}``...), inline code, links, images and URLs. Phrases in which a term's word has
another meaning (a Jupyter kernel, luminance weights) are listed in ``EXCLUDED_PHRASES``,
and names whose everyday sense dominates ("scaling", "shortcut") in ``EXCLUDED_NAMES``, each
with its reason; they are never taken for a use (a link to them still counts).

``--fix`` turns each offending first use into a link and changes nothing else in the file:
the text keeps its case and its plural (``Dense layers`` becomes
``{term}`Dense layers <dense layer>```); a name broken over two lines is joined by one space
inside the role.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
GLOSSARY = BOOK / "glossary.md"

# Pages under book/ that are not student reading: the glossary itself, the generated
# bibliography and the instructors' page.
NOT_CHECKED = {"glossary.md", "references.md", "instructors.md"}

# Other spellings that mean the same entry (name in the glossary -> extra spellings).
ALIASES: dict[str, tuple[str, ...]] = {
    # The book says "convolutional layer" as often as the glossary's "convolution layer".
    "convolution layer": ("convolutional layer",),
}

# Phrases in which a glossary word has another meaning than its entry; a match inside one
# of them is not a use of the term. Each: (regular expression, reason).
EXCLUDED_PHRASES: tuple[tuple[str, str], ...] = (
    (
        r"\b(?:fresh|python|jupyter|ipython|notebook(?:'s)?)\s+kernels?\b"
        r"|\byour\s+kernel's\s+memory\b"
        r"|\brestart\w*\s+(?:the\s+|your\s+)?kernel\b|\bkernel\s+(?:restart|crash|die|menu)\w*",
        "Jupyter's kernel (the process that runs a notebook), not a convolution kernel",
    ),
    (
        r"\b(?:luminance|colour|color|rgb|greyscale|grayscale)\s+weights?\b",
        "the fixed weights of a greyscale conversion, not learned parameters",
    ),
    (
        r"\b(?:bit|colour|color)\s+depth\b",
        "bits per pixel of an image file, not a layer's channels or a network's layers",
    ),
    (
        r"\btarget\s+(?:size|shape|width|height|resolution|folder|directory|file)s?\b",
        "the size or place something is converted to, not a training label",
    ),
    (
        r"\b(?:systematic|statistical|sampling|selection|inductive)\s+bias(?:es)?\b",
        "a tendency of a model or a sample, not the learned constant of a layer",
    ),
    (
        r"\b(?:would|will|to|does|did|can|could|might|should)\s+score\b",
        "the verb (to score a value), not a class score",
    ),
    (
        r"\b(?:slope|curve|graph|plot|line|loss|function)s?\s+(?:\w+\s+)?flatten(?:s|ed|ing)?\b"
        r"|\bflatten(?:s|ed|ing)?\s+out\b",
        "a curve becoming flat, not unrolling feature maps into a vector",
    ),
    (
        r"\b(?:hue|colour|color)\s+(?:and\s+)?saturation\b",
        "a colour's saturation, not a flat region of an activation",
    ),
)

# Glossary names too common in their everyday sense to be taken for a use in prose; they still
# count when linked. Each: name -> reason.
EXCLUDED_NAMES: dict[str, str] = {
    "scaling": "mostly means multiplying by a factor (scaling a kernel, a linear map scales)",
    "shortcut": "mostly means a quicker way; the book says residual or skip connection",
}

# Directives whose body is not prose (code, maths, raw markup, generated lists).
VERBATIM_DIRECTIVES = {
    "code-cell",
    "code",
    "code-block",
    "sourcecode",
    "literalinclude",
    "math",
    "raw",
    "eval-rst",
    "bibliography",
    "toctree",
    "glossary",
    "mermaid",
    "csv-table",
    "include",
}

MASK = "\x00"
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
OPTION = re.compile(r"^[ \t]*:[\w-]+:(?:[ \t].*)?$")
HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t].*)?$")
LABEL = re.compile(r"^[ \t]*\([^()\s]+\)=[ \t]*$")
COMMENT = re.compile(r"^[ \t]*%")
LINK_DEFINITION = re.compile(r"^[ \t]{0,3}\[[^\]]+\]:[ \t]+\S")
# A CommonMark HTML block: its text is passed through raw, so a role in it would not render.
HTML_BLOCK = re.compile(
    r"^[ \t]{0,3}</?(?:address|article|aside|blockquote|center|details|dialog|div|dl|fieldset"
    r"|figcaption|figure|footer|form|h[1-6]|header|hr|iframe|li|main|nav|ol|p|pre|script"
    r"|section|style|summary|table|tbody|td|th|thead|tr|ul|video)(?:[\s/>]|$)"
    r"|^[ \t]{0,3}</?[A-Za-z][\w-]*(?:\s[^<>]*)?/?>\s*$",
    re.IGNORECASE,
)
BEGIN_MATH = re.compile(r"^[ \t]*\\begin\{(?P<env>[A-Za-z*]+)\}")

# Inline constructs that are not prose. Named groups: a {term} role is recorded as a link.
INLINE = re.compile(
    r"(?P<role>\{(?P<name>[A-Za-z][\w:.+-]*)\}(?P<ticks>`+)(?P<body>[\s\S]*?[^`])(?P=ticks)(?!`))"
    r"|(?P<code>(?P<cticks>`+)[\s\S]*?[^`](?P=cticks)(?!`))"
    r"|(?P<dmath>\$\$[\s\S]+?\$\$)"
    r"|(?P<math>(?<![\\$])\$(?=[^\s$])(?:\\.|[^$\\])+?(?<=[^\s\\])\$(?!\d))"
    r"|(?P<link>!?\[(?:[^\[\]]|\[[^\[\]]*\])*\](?:\([^()]*(?:\([^()]*\)[^()]*)*\)|\[[^\]]*\]))"
    r"|(?P<footnote>\[\^[^\]]+\])"
    r"|(?P<htmlcomment><!--[\s\S]*?-->)"
    r"|(?P<tag></?[A-Za-z!][^>\n]*>)"
    r"|(?P<url>\bhttps?://[^\s)>\]]+)"
    r"|(?P<subst>\{\{[\s\S]*?\}\})"
)
WORD_START = re.compile(r"(?<![\w-])\w")
TERM_ROLE_BODY = re.compile(r"^(?P<text>[\s\S]*?)\s*<(?P<target>[^<>]+)>\s*$")


@dataclass(frozen=True)
class Entry:
    """One glossary entry: its names, the first being how the entry is reported."""

    names: tuple[str, ...]

    @property
    def name(self) -> str:
        """The entry's first name."""
        return self.names[0]


@dataclass(frozen=True)
class Violation:
    """A first use of an entry on a page that is not a link (or a link to no entry)."""

    line: int
    start: int
    end: int
    text: str
    entry: Entry | None
    target: str  # the glossary name this spelling stands for

    def describe(self) -> str:
        """Say what is wrong, for a report line."""
        if self.entry is None:
            return f"{{term}} link to {self.target!r}, which is not in the glossary"
        return f"first use of {self.entry.name!r} ({self.text!r}) is not a {{term}} link"


# ---------------------------------------------------------------------------------------------
# The glossary


def load_entries(glossary_text: str) -> list[Entry]:
    """Return the entries of the ``{glossary}`` directive of a glossary page, in order.

    Term lines start in the directive's first column; definitions are indented below them;
    consecutive term lines name the same entry.
    """
    lines = glossary_text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if re.match(r"^(`{3,}|:{3,})\{glossary\}", line)),
        None,
    )
    if start is None:
        raise ValueError("no {glossary} directive found")
    fence = re.match(r"^(`{3,}|:{3,})", lines[start]).group(1)  # type: ignore[union-attr]
    entries: list[Entry] = []
    names: list[str] = []
    for line in lines[start + 1 :]:
        if line.strip() == fence:
            break
        if not line.strip() or OPTION.match(line):
            if names:  # a blank line ends an entry's names before a definition (not used)
                entries.append(Entry(tuple(names)))
                names = []
            continue
        if line[0].isspace():
            if names:
                entries.append(Entry(tuple(names)))
                names = []
            continue
        names.append(line.split(" : ")[0].strip())  # "term : classifier" is Sphinx syntax
    if names:
        entries.append(Entry(tuple(names)))
    return entries


def _spellings(name: str) -> set[str]:
    """Every spelling of a glossary name that counts as a use (without plurals)."""
    forms = {name, *ALIASES.get(name, ())}
    for form in list(forms):
        if "×" in form:
            forms.add(form.replace("×", "x"))
    for form in list(forms):
        if "-" in form:
            forms.add(form.replace("-", " "))
            parts = form.split("-")
            if all(p.isalnum() for p in parts):
                forms.add("".join(parts))
    for form in list(forms):
        forms.add(re.sub(r"is(ation|ations|er|ers|ed|ing|e)\b", r"iz\1", form))
    return forms


def _word_pattern(form: str) -> str:
    """A regular expression for one spelling: its words, any space or one line break between,
    then the plural endings of its last word."""
    words = form.split()
    last = words[-1]
    if last.lower().endswith("s") and not last.lower().endswith("ss"):
        ending = "?"  # "logits" also matches "logit"
        words[-1] = re.escape(last[:-1]) + "(?:s)" + ending
    elif re.search(r"(?:s|x|z|ch|sh)$", last, re.I):
        words[-1] = re.escape(last) + "(?:es)?"
    elif last[-1:].isalpha():
        words[-1] = re.escape(last) + "s?"
    else:
        words[-1] = re.escape(last)
    body = r"(?:[ \t]+|[ \t]*\n[ \t]*)".join([re.escape(w) for w in words[:-1]] + [words[-1]])
    return body


class Terms:
    """The glossary's names as one matcher: which entry (and name) a spelling stands for."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self.by_name = {name.lower(): entry for entry in entries for name in entry.names}
        alternatives: list[tuple[int, str, str]] = []
        for entry in entries:
            for name in entry.names:
                if name.lower() in EXCLUDED_NAMES:
                    continue
                for form in _spellings(name):
                    alternatives.append((len(form), _word_pattern(form), name))
        # Longest first, so that at one position "max pooling" wins over "max". One pattern per
        # first letter, tried only where a word starts: one huge alternation is slow.
        alternatives.sort(key=lambda a: -a[0])
        self._names: dict[str, list[str]] = {}
        self._patterns: dict[str, re.Pattern[str]] = {}
        by_letter: dict[str, list[tuple[str, str]]] = {}
        for _, pattern, name in alternatives:
            first = pattern.lstrip("\\")[0].lower()
            by_letter.setdefault(first, []).append((pattern, name))
        for first, group in by_letter.items():
            self._names[first] = [name for _, name in group]
            body = "|".join(f"(?P<t{i}>{pattern})" for i, (pattern, _) in enumerate(group))
            self._patterns[first] = re.compile(rf"(?:{body})(?![\w-])", re.IGNORECASE)

    def finditer(self, text: str) -> Iterator[tuple[int, int, str]]:
        """Yield (start, end, glossary name) for every use in ``text``, left to right."""
        end = 0
        for word in WORD_START.finditer(text):
            start = word.start()
            first = text[start].lower()
            if start < end or first not in self._patterns:
                continue
            match = self._patterns[first].match(text, start)
            if match:
                end = match.end()
                yield start, end, self._names[first][int(match.lastgroup[1:])]  # type: ignore[index]


# ---------------------------------------------------------------------------------------------
# Prose


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = MASK


def _fence_closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return len(stripped) >= len(fence) and set(stripped) == {fence[0]}


def _directive_name(info: str) -> str | None:
    match = re.match(r"^\s*\{(?P<name>[^}]+)\}", info)
    return match.group("name").strip() if match else None


class _Lines:
    """A page's lines with a cursor, blanking (line breaks kept) the ones that are not prose."""

    def __init__(self, text: str) -> None:
        self.chars = list(text)
        self.lines = [line.rstrip("\r\n") for line in text.splitlines(keepends=True)]
        self.offsets = []
        pos = 0
        for line in text.splitlines(keepends=True):
            self.offsets.append(pos)
            pos += len(line)
        self.i = 0

    def more(self) -> bool:
        return self.i < len(self.lines)

    @property
    def line(self) -> str:
        return self.lines[self.i]

    def blank(self) -> None:
        """Blank the current line and move to the next."""
        start = self.offsets[self.i]
        _blank(self.chars, start, start + len(self.lines[self.i]))
        self.i += 1

    def blank_through(self, last) -> None:  # noqa: ANN001 (a predicate on a line)
        """Blank lines up to and including the first for which ``last(line)`` holds."""
        while self.more():
            done = last(self.line)
            self.blank()
            if done:
                return


def _open_fence(page: _Lines, mark: str, name: str | None, stack: list[str]) -> None:
    """Handle a fence line: skip a verbatim block, or a directive's options before its body."""
    page.blank()
    if (name is None and mark[0] != ":") or name in VERBATIM_DIRECTIVES:
        page.blank_through(lambda line: _fence_closes(line, mark))
        return
    # Options: a "---" YAML block or ":key: value" lines, right after the fence line.
    if page.more() and page.line.strip() == "---":
        page.blank()
        page.blank_through(lambda line: line.strip() == "---")
    while page.more() and OPTION.match(page.line):
        page.blank()
    stack.append(mark)


def _skip_line(line: str) -> bool:
    return bool(
        HEADING.match(line)
        or LABEL.match(line)
        or COMMENT.match(line)
        or line.startswith("+++")
        or LINK_DEFINITION.match(line)
    )


def _mask_blocks(text: str) -> list[str]:
    """Blank (keeping line breaks) every line that is not prose; return the characters."""
    page = _Lines(text)
    if page.more() and page.line == "---":  # front matter
        page.blank()
        page.blank_through(lambda line: line == "---")
    stack: list[str] = []  # open fences whose body is prose (admonitions, dropdowns...)
    while page.more():
        line = page.line
        fence = FENCE.match(line)
        if stack and _fence_closes(line, stack[-1]):
            stack.pop()
            page.blank()
        elif fence:
            _open_fence(page, fence.group("fence"), _directive_name(fence.group("info")), stack)
        elif line.lstrip().startswith("$$"):
            one_line = "$$" in line.lstrip()[2:]
            page.blank()
            if not one_line:
                page.blank_through(lambda line: "$$" in line)
        elif BEGIN_MATH.match(line):
            end = "\\end{" + BEGIN_MATH.match(line).group("env") + "}"  # type: ignore[union-attr]
            page.blank_through(lambda line, end=end: end in line)
        elif HTML_BLOCK.match(line):
            page.blank_through(lambda line: not line.strip())
        elif _skip_line(line):
            page.blank()
        else:
            page.i += 1
    return page.chars


@dataclass(frozen=True)
class Prose:
    """A page reduced to its prose (other characters masked, offsets kept) and its links."""

    text: str  # same length as the page; non-prose characters are MASK, line breaks kept
    links: list[tuple[int, str]]  # (offset, target name) of every {term} role


def prose(text: str) -> Prose:
    """Mask everything of a MyST page that is not prose, and collect its ``{term}`` links."""
    chars = _mask_blocks(text)
    masked = "".join(chars)
    links: list[tuple[int, str]] = []
    # Paragraphs: runs of lines that still hold prose; inline constructs never cross them.
    for para in re.finditer(r"[^\n\x00]+(?:\n[^\n\x00]+)*", masked):
        if not para.group().strip():
            continue
        for match in INLINE.finditer(para.group()):
            start = para.start() + match.start()
            end = para.start() + match.end()
            if match.group("role") and match.group("name") == "term":
                body = match.group("body")
                target = TERM_ROLE_BODY.match(body)
                links.append((start, (target.group("target") if target else body).strip()))
            _blank(chars, start, end)
    return Prose("".join(chars), links)


# ---------------------------------------------------------------------------------------------
# The check and the fix


def _excluded_spans(masked: str) -> list[tuple[int, int]]:
    spans = []
    for pattern, _reason in EXCLUDED_PHRASES:
        for match in re.finditer(pattern, masked, re.IGNORECASE):
            spans.append(match.span())
    return spans


def find_violations(text: str, entries: list[Entry]) -> list[Violation]:
    """Return, in page order, the first uses of entries that are not links to them."""
    terms = Terms(entries)
    page = prose(text)
    excluded = _excluded_spans(page.text)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(offset: int) -> int:
        lo, hi = 0, len(line_starts)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid
        return lo + 1

    events: list[tuple[int, int, str, bool]] = []  # (start, end, name, is_link)
    violations: list[Violation] = []
    for start, target in page.links:
        if target.lower() not in terms.by_name:
            violations.append(Violation(line_of(start), start, start, target, None, target))
            continue
        events.append((start, start, target, True))
    for start, end, name in terms.finditer(page.text):
        if any(s < end and start < e for s, e in excluded):
            continue
        events.append((start, end, name, False))
    events.sort()
    seen: set[str] = set()
    for start, end, name, is_link in events:
        entry = terms.by_name[name.lower()]
        if entry.name in seen:
            continue
        seen.add(entry.name)
        if not is_link:
            violations.append(Violation(line_of(start), start, end, text[start:end], entry, name))
    violations.sort(key=lambda v: v.start)
    return violations


def term_role(text: str, name: str) -> str:
    """The ``{term}`` role that shows ``text`` and links to the glossary name ``name``."""
    shown = re.sub(r"\s+", " ", text)
    if shown.lower() == name.lower():
        return f"{{term}}`{shown}`"
    return f"{{term}}`{shown} <{name}>`"


def fix_text(text: str, entries: list[Entry]) -> str:
    """Return ``text`` with the first use of every entry turned into a ``{term}`` link."""
    result = text
    for v in sorted(find_violations(text, entries), key=lambda v: -v.start):
        if v.entry is None:
            continue  # a link to a missing entry: a person must decide
        result = result[: v.start] + term_role(v.text, v.target) + result[v.end :]
    return result


def student_pages(book: Path = BOOK) -> list[Path]:
    """Every page a student reads: ``book/*.md`` but the glossary, bibliography, instructors."""
    return sorted(p for p in book.glob("*.md") if p.name not in NOT_CHECKED)


def _shown_path(page: Path) -> str:
    try:
        return str(page.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(page)


def main(argv: list[str] | None = None) -> int:
    """Run the check or the fix from the command line; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="list violations, exit 1 if any")
    mode.add_argument("--fix", action="store_true", help="link every first use in place")
    parser.add_argument("--glossary", type=Path, default=GLOSSARY, help="the glossary page")
    parser.add_argument("pages", nargs="*", type=Path, help="pages (default: student pages)")
    args = parser.parse_args(argv)
    entries = load_entries(args.glossary.read_text(encoding="utf-8"))
    pages = args.pages or student_pages()
    found = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        shown = _shown_path(page)
        violations = find_violations(text, entries)
        if args.fix:
            fixed = fix_text(text, entries)
            if fixed != text:
                page.write_text(fixed, encoding="utf-8")
            left = [v for v in violations if v.entry is None]
            changed = len(violations) - len(left)
            print(f"{shown}: linked {changed} first use(s)")
            violations = left
        for v in violations:
            print(f"{shown}:{v.line}: {v.describe()}")
        found += len(violations)
    if args.check and found:
        print(f"{found} first use(s) of glossary terms are not links", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
