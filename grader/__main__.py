"""``python -m grader VERB``: the instructor's command (see :mod:`grader.cli`)."""

import sys

from grader.cli import main

sys.exit(main())
