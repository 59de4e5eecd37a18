"""Bad submissions for the red-team test of the grading command (see cases.py)."""
