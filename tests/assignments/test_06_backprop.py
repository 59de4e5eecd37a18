"""What only 06_backprop checks: the rule that lets its network train briefly when graded."""

from __future__ import annotations

from assignments.cases_06_backprop import ASSIGNMENT
from nbgrader_tools import cell_by_id, load_notebook, nbgrader_meta


def test_reference_modules_hold_the_numpy_cnn_and_the_gradient_checks():
    from helpers.check import REFERENCE_MODULES

    # The hidden tests switch off REFERENCE_MODULES: numpy_cnn and gradcheck live below it.
    assert "helpers.ops" in REFERENCE_MODULES


def test_training_budget_rule_is_locked_and_documented():
    nb = load_notebook(ASSIGNMENT.source)
    run = cell_by_id(nb, "train_run")
    meta = nbgrader_meta(run)
    assert meta["locked"] and not meta["solution"] and not meta["grade"]
    assert 'os.environ.get("NBGRADER_EXECUTION")' in run.source
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "NBGRADER_EXECUTION" in text and "at least 90 %" in text and "at least 85 %" in text
