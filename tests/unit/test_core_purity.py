"""sensorflow.core must stay pure: no AWS SDK, no Powertools, so it runs anywhere in milliseconds."""

from __future__ import annotations

import ast
from pathlib import Path

FORBIDDEN = ("boto3", "botocore", "aws_lambda_powertools", "moto")


def test_core_imports_no_sdk_or_framework():
    offenders = []
    for path in Path("sensorflow/core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
