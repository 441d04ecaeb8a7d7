"""The README's emulation table is generated from fidelity.BEHAVIOURS and must not drift from it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_readme_emulation_table_is_the_generated_one() -> None:
    proc = subprocess.run(
        [sys.executable, "scripts/emulation_table.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
