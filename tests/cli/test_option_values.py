"""Every numeric option refuses what it cannot use, naming what is allowed (exit 2, no run)."""

from __future__ import annotations

import pytest

from cliptagger import cli


@pytest.mark.parametrize("argv, allowed", [
    (["search", "x", "--top", "-1"], "a whole number, 0 or more"),
    (["search", "x", "--min-score", "inf"], "a number from -1 to 1"),
    (["search", "x", "--min-score", "nan"], "a number from -1 to 1"),
    (["learn", "x", "--target-precision", "5"], "a number from 0.5 to 0.99"),
    (["learn", "x", "--target-precision", "nan"], "a number from 0.5 to 0.99"),
    (["learn", "x", "--min-examples", "0"], "a whole number, 1 or more"),
    (["tag", "x", "--batch-size", "0"], "a whole number from 1 to 4096"),
    (["tag", "x", "--batch-size", "9" * 5000], "a whole number from 1 to 4096"),
    (["demo", "--count", "1e9"], "a whole number from 1 to 100000"),
])
def test_an_option_value_out_of_range_is_refused_with_what_is_allowed(argv, allowed, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert allowed in error and len(error) < 2000  # a 5000-digit value is not echoed whole
