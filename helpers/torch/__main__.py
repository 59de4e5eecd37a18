"""``python -m helpers.torch --model reference --dataset mnist``: train a course model."""

import sys

from helpers.torch.cli import main

sys.exit(main())
