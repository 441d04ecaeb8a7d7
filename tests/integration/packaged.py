"""The packaged CloudFormation template, built once per test process by ``npx sls package``.

``test_packaging.py`` packages in its own module fixture; the tests that only read the template
(``test_operator_policy.py``, ``test_security_doc.py``) share this one build instead of one per module.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_FILE = "cloudformation-template-update-stack.json"


def package(out: Path, stage: str) -> Path:
    """``npx sls package --stage <stage>`` into ``out``, offline and with no AWS credentials at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(out / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(out / "no-credentials"),
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
    )
    proc = subprocess.run(
        ["npx", "sls", "package", "--stage", stage, "--package", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


@functools.cache
def packaged_dir(stage: str = "ci") -> Path:
    """``stage`` packaged once per test process (a temporary directory): the zip and the template."""
    out = Path(tempfile.mkdtemp(prefix=f"sls-package-{stage}-"))
    atexit.register(shutil.rmtree, out, True)
    return package(out, stage)


@functools.cache
def packaged_template(stage: str = "ci") -> dict[str, Any]:
    """The template of ``stage`` (``packaged_dir``). Shared: a test that changes it works on a copy."""
    template: dict[str, Any] = json.loads((packaged_dir(stage) / TEMPLATE_FILE).read_text())
    return template
