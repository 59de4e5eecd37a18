"""``python -m helpers.check NOTEBOOK.ipynb``: run a notebook's visible tests, part by part."""

import sys

from helpers.check.notebook import main

sys.exit(main())
