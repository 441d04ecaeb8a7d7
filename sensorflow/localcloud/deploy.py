"""Deploy the real ``serverless.yml`` to the local endpoint and read the stack back."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from sensorflow.adapters.dynamodb_registry import device_from_plain
from sensorflow.cli.errors import UsageError
from sensorflow.cli.stack_outputs import read_outputs, stack_name
from sensorflow.config import load_rule_book
from sensorflow.core.errors import ConfigError
from sensorflow.core.limits import check_device
from sensorflow.core.rules import RuleBook, validate_device_overrides
from sensorflow.localcloud.emulator.endpoint import Endpoint

DEPLOY_TIMEOUT_S = 900
SLS_BIN = Path("node_modules/.bin/sls")
# BatchWriteItem takes at most 25 put requests per call.
# Source: docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
BATCH_WRITE_MAX_ITEMS = 25


class DeployError(Exception):
    """``sls deploy`` failed (the message carries the tail of its log), or the registry seed was refused."""


def deploy(endpoint: Endpoint, project_root: Path, stage: str, log_path: Path) -> float:
    """Run the project's ``npx sls deploy --stage <stage>`` against ``endpoint``; returns the seconds taken.

    It packages into the checkout's ``.serverless/`` like any ``sls deploy``.
    """
    if not (project_root / SLS_BIN).exists():
        # npx would otherwise run a global `sls` (another Serverless Framework) or fail obscurely.
        raise DeployError(f"osls is not installed ({SLS_BIN} is missing): run `make setup`")
    env = {
        **os.environ,
        **endpoint.environ(),
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
    }
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        env.pop(var, None)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with log_path.open("w", encoding="utf-8") as log:
        try:
            proc = subprocess.run(
                ["npx", "--no-install", "sls", "deploy", "--stage", stage],
                cwd=project_root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=DEPLOY_TIMEOUT_S,
                check=False,
            )
        except FileNotFoundError as exc:
            raise DeployError("npx not found: install Node.js >= 20 and run `make setup`") from exc
        except subprocess.TimeoutExpired as exc:
            raise DeployError(f"sls deploy took longer than {DEPLOY_TIMEOUT_S}s (log: {log_path})") from exc
    if proc.returncode != 0:
        tail = "\n".join(log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:])
        raise DeployError(
            f"sls deploy --stage {stage} failed (exit {proc.returncode}); log {log_path}:\n{tail}"
        )
    return time.monotonic() - started


def deployed_outputs(endpoint: Endpoint, stage: str, timeout_s: float = 15.0) -> dict[str, str]:
    """The stack's Outputs (``cli.stack_outputs``). moto can answer a moment without them right after the
    update completes, so this waits for them."""
    cloudformation = endpoint.client("cloudformation")
    deadline = time.monotonic() + timeout_s
    while True:
        outputs = read_outputs(cloudformation, stage)
        if "SensorStreamName" in outputs or time.monotonic() > deadline:
            return outputs
        time.sleep(0.5)


def publish_schemas(endpoint: Endpoint, stage: str, outputs: Mapping[str, str]) -> list[Any]:
    """What the README has one run after ``sls deploy``: ``sensorflow schemas publish --stage <stage>``
    (``cli.schemas_publish_command.Published`` per kept version; none for a stack without a registry).

    moto's CloudFormation reports ``AWS::Glue::Registry`` created without creating it, so the registries
    the deployed template declares are created here first, as CloudFormation would on AWS."""
    from sensorflow.cli import schemas_publish_command as publish_command

    registry = outputs.get(publish_command.REGISTRY_OUTPUT)
    if not registry:
        return []
    glue = endpoint.client("glue")
    _create_template_registries(endpoint, stage, glue)
    try:
        return publish_command.publish(glue, registry, publish_command.checked_history())
    except UsageError as exc:
        raise DeployError(f"sensorflow schemas publish --stage {stage}: {exc}") from None


def _create_template_registries(endpoint: Endpoint, stage: str, glue: Any) -> None:
    body = endpoint.client("cloudformation").get_template(StackName=stack_name(stage))["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    existing = {r["RegistryName"] for r in glue.list_registries().get("Registries", [])}
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Glue::Registry" and props.get("Name") not in existing:
            glue.create_registry(RegistryName=props["Name"], Description=props.get("Description", ""))


def seed_registry(
    endpoint: Endpoint, table: str, items: Sequence[Mapping[str, Any]], rules: RuleBook | None = None
) -> int:
    """Write the device registry items; returns how many were written. Every item is checked before any
    is written: its strings and overrides against the size caps (``core.limits.check_device``), its
    ``thresholds`` against ``rules`` (default: the packaged rules file the stack runs). A bad item raises
    ``DeployError`` naming the device and the field (and the rule, or the cap)."""
    book = rules if rules is not None else load_rule_book()
    for item in items:
        device = device_from_plain(item)
        try:
            check_device(device)
        except ValueError as exc:
            raise DeployError(
                f"device registry not seeded: device {device.device_id[:80]!r}: {exc}"
            ) from None
        try:
            validate_device_overrides(book, device)
        except ConfigError as exc:
            raise DeployError(f"device registry not seeded: {exc}") from None
    dynamodb = endpoint.client("dynamodb")
    serializer = TypeSerializer()
    for start in range(0, len(items), BATCH_WRITE_MAX_ITEMS):
        chunk = items[start : start + BATCH_WRITE_MAX_ITEMS]
        requests: dict[str, Any] = {
            table: [
                {"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}
                for item in chunk
            ]
        }
        while requests:
            response = dynamodb.batch_write_item(RequestItems=requests)
            requests = response.get("UnprocessedItems") or {}
    return len(items)


def fleet_registry_items() -> list[dict[str, Any]]:
    """The committed simulator fleet (sensorflow/simulate/fleet.json) as registry items."""
    from sensorflow.simulate import load_fleet, registry_items

    return registry_items(load_fleet())
