"""The red-team script (tools/red_team.py) is a regression suite: every hostile-input class of
issue 18, end to end against the CLI in separate processes. It runs here in full."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "red_team.py"


def test_every_red_team_case_holds():
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAILED" not in done.stdout and " red-team cases hold" in done.stdout


def test_the_script_lists_its_cases():
    done = subprocess.run([sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "planted_journal_line:" in done.stdout and len(done.stdout.splitlines()) >= 16
