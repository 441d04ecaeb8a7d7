"""CKV_SF_1: every Lambda function in a CloudFormation template has X-Ray active tracing.

checkov's own check (CKV_AWS_50) covers Terraform only. Loaded by `make scan` with
``--external-checks-dir .ci/checkov_policies``; it runs in the scanner's venv (.venv-scan).
"""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


class LambdaActiveTracing(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure every Lambda function traces with X-Ray (TracingConfig.Mode Active)",
            id="CKV_SF_1",
            categories=[CheckCategories.LOGGING],
            supported_resources=["AWS::Lambda::Function"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        tracing = (conf.get("Properties") or {}).get("TracingConfig") or {}
        # PassThrough (the default when TracingConfig is absent) traces only what a caller sampled.
        return CheckResult.PASSED if tracing.get("Mode") == "Active" else CheckResult.FAILED


check = LambdaActiveTracing()
