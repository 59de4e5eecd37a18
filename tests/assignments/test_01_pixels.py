"""What only 01_pixels checks: nbgrader's own validator on its two notebooks."""

from __future__ import annotations

import pytest
from assignments.cases_01_pixels import ASSIGNMENT


@pytest.mark.slow
def test_validator_passes_solution_and_fails_blank(tmp_path):
    from nbgrader.validator import Validator

    assert Validator().validate(str(ASSIGNMENT.source)) == {}
    blank = tmp_path / ASSIGNMENT.notebook
    blank.write_bytes(ASSIGNMENT.release.read_bytes())
    result = Validator().validate(str(blank))
    assert len(result.get("failed", [])) == len(ASSIGNMENT.parts), result.keys()
