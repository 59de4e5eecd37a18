"""The instructor's grader: release, collect, sandboxed autograding, feedback and grades.

It lives beside the student package ``helpers`` and is never shipped with it nor visible to
a submission: every student notebook runs in a sandbox that mounts ``helpers`` and nothing
of this package (the cross-check runs a read-only copy of :mod:`grader.harness`, a file
that holds no secret). Run it from the course root: ``python -m grader VERB``.
"""
