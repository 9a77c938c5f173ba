"""eval/fit_selection.py --leave-one-out: refitting checked on a set the fit never saw."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "eval"))
from fit_selection import leave_one_out


def test_each_set_is_checked_on_weights_fitted_on_the_others_only() -> None:
    # In sets a and b the first feature marks the answer; in set c the second does.
    marks_first = [([[1.0, 0.0], [0.0, 1.0]], [1, 0])]
    marks_second = [([[1.0, 0.0], [0.0, 1.0]], [0, 1])]
    data = {"a": marks_first, "b": marks_first, "c": marks_second}
    shipped = np.asarray([0.0, 0.0, 1.0])  # bias, then weights: the second feature wins
    hits = leave_one_out(data, shipped, l2=0.01)
    # a's fit (on b and c) ties the features, and a tie goes to the first candidate; c's fit
    # (on a and b) learns the first feature, which c does not reward.
    assert hits == {"a": (0.0, 1.0), "b": (0.0, 1.0), "c": (1.0, 0.0)}


def test_leave_one_out_needs_a_set_to_hold_out() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "eval/fit_selection.py",
            "--leave-one-out",
            "--train",
            "eval/blind10.jsonl",
        ],
        cwd=Path(__file__).parents[1],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "fit_selection.py: error: --leave-one-out needs two or more --train sets:"
        " one is held out of each fit"
    )
