"""The instructor's grader: release, collect, sandboxed autograding, feedback and grades.

It lives beside the student package ``helpers`` and is never shipped with it nor visible to
a submission: every student notebook runs in a sandbox that mounts ``helpers`` and nothing
of this package (the cross-check runs a read-only copy of :mod:`grader.harness`, a file
that holds no secret). Run it from the course root: ``python -m grader VERB``.
"""

import sys

# jsonschema (under nbformat) imports ``rfc3987_syntax`` whenever it is installed, only to
# check "iri" strings that no notebook schema uses, and building that package's grammar
# costs about 4 s of CPU per process on a 2-core machine. The grader starts a process per
# submission, so it tells Python the package is absent (``import`` then raises ImportError,
# which jsonschema expects). Measured with ``python -X importtime -c "import grader.worker"``.
sys.modules.setdefault("rfc3987_syntax", None)  # pyright: ignore[reportArgumentType]
