"""The one way the tools find a stage's resources: the outputs of CloudFormation stack ``sensorflow-<stage>``.

``serverless.yml`` names every resource from service and stage and exports what the tools need as stack
outputs (``SensorStreamName``, ``AlarmsTableName``, ...), so ``sensorflow simulate --stage``, ``sensorflow
alarms`` and the local cloud read them back here instead of rebuilding names.
"""

from __future__ import annotations

import re
from typing import Any

from sensorflow.cli.errors import UsageError, aws_errors

SERVICE = "sensorflow"  # serverless.yml's `service`
# A stack name is at most 128 characters, letters, digits and hyphens, starting with a letter:
# docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html. "sensorflow-" supplies
# the letter; a stage is what osls accepts (lib/config-schema/utils/stage-pattern.js: ^[A-Za-z0-9-]+$) in
# the characters left.
STACK_NAME_MAX = 128
STAGE_PATTERN = re.compile(rf"[A-Za-z0-9-]{{1,{STACK_NAME_MAX - len(SERVICE) - 1}}}")


def stack_name(stage: str) -> str:
    return f"{SERVICE}-{stage}"


def check_stage(stage: str) -> str:
    """``stage`` itself, or a usage error when no stack of it can exist."""
    if not STAGE_PATTERN.fullmatch(stage):
        raise UsageError(f"--stage {stage!r} is not a stage name (letters, digits and '-')")
    return stage


def read_outputs(cloudformation: Any, stage: str) -> dict[str, str]:
    """The Outputs of stack ``sensorflow-<stage>`` as ``{OutputKey: OutputValue}``.

    A missing stack is a usage error that says how to deploy it; other AWS failures go through
    ``aws_errors``.
    """
    from botocore.exceptions import ClientError

    name = stack_name(check_stage(stage))
    with aws_errors(f"read stack {name}"):
        try:
            stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
        except ClientError as exc:
            # CloudFormation answers a missing stack with ValidationError "Stack with id ... does not exist".
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
                raise UsageError(
                    f"stack {name} not found in this region; deploy it (npx sls deploy --stage {stage}) "
                    "or check --stage, --region and AWS_ENDPOINT_URL"
                ) from None
            raise
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def require_output(outputs: dict[str, str], key: str, stage: str, fix: str) -> str:
    """``outputs[key]``, or a usage error naming the stack, the output and ``fix``."""
    if key not in outputs:
        raise UsageError(f"stack {stack_name(stage)} has no output {key}; {fix}")
    return outputs[key]


def add_stage_arguments(parser: Any, what: str = "to use") -> None:
    """``--stage`` (required) and ``--region``: the stack ``sensorflow-STAGE`` a command works against."""
    parser.add_argument("--stage", required=True, help=f"the stage whose stack sensorflow-STAGE {what}")
    parser.add_argument("--region", help="AWS region (default: the standard boto3 resolution)")
