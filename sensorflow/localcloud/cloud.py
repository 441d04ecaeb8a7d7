"""The whole local cloud: moto server, fault proxy, deployed stack, seeded registry, runtime, control port.

``LocalCloud.up()`` brings it up in this process (the foreground ``sensorflow local up`` and the demo);
``python -m sensorflow.localcloud.cloud`` is the detached daemon ``sensorflow local up --detach`` starts.
State for ``status``/``down`` lives in ``.sensorflow/state.json`` in the project root, readable by the
user only (mode 0600): it holds the control port's token, which every control request must carry
(``Authorization: Bearer <token>``), so another local user or a web page cannot arm faults or stop it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sensorflow.cli.stack_outputs import stack_name
from sensorflow.localcloud.deploy import (
    DeployError,
    deploy,
    deployed_outputs,
    fleet_registry_items,
    publish_schemas,
    seed_registry,
)
from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.fault_proxy import Fault, FaultProxy
from sensorflow.localcloud.emulator.moto_server import MotoServer
from sensorflow.localcloud.emulator.origin_guard import FORBIDDEN_STATUS, refusal
from sensorflow.localcloud.emulator.runtime import LocalRuntime
from sensorflow.localcloud.emulator.unemulated import unemulated_settings
from sensorflow.localcloud.faults.plan import FaultPlan, FaultPlanError
from sensorflow.localcloud.webhook_receiver import WebhookReceiver

logger = logging.getLogger(__name__)

DEFAULT_PORT = 5050
DEFAULT_STAGE = "local"
STATE_DIR = ".sensorflow"
STATE_FILE = "state.json"
WEBHOOK_LOG = "webhook.jsonl"  # every message the loopback webhook receiver accepted, in the log dir
STATE_MODE = 0o600  # the state file holds the control token
CONTROL_TOKEN_BYTES = 32


_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class ExtrasFormatter(logging.Formatter):
    """A log line with the record's structured keys (``extra=``) appended as JSON."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}
        return f"{line} {json.dumps(extras, default=str)}" if extras else line


def control_headers(token: str) -> dict[str, str]:
    """The header a control request carries (``sensorflow local status`` and tests send it)."""
    return {"Authorization": f"Bearer {token}"}


def webhook_parameter_name(stage: str) -> str:
    """serverless.yml's ``custom.webhookUrlParameter`` (also the stack output WebhookUrlParameterName)."""
    return f"/sensorflow/{stage}/webhook-url"


def project_root() -> Path:
    """The directory holding ``serverless.yml``: the working directory or the package's checkout."""
    for candidate in (Path.cwd(), *Path.cwd().parents, Path(__file__).resolve().parents[2]):
        if (candidate / "serverless.yml").is_file():
            return candidate
    raise FileNotFoundError("serverless.yml not found; run from the sensorflow checkout")


@dataclass(slots=True)
class CloudInfo:
    """What a user (or the demo) needs to talk to a running local cloud."""

    endpoint: str
    region: str
    stage: str
    stack: str
    outputs: dict[str, str]
    control_port: int
    pid: int
    log_dir: str
    timings_s: dict[str, float] = field(default_factory=dict)
    ready: bool = True
    webhook_log: str | None = None  # JSON Lines of the messages notify delivered to the local webhook
    control_token: str = ""  # required on every control request (control_headers)

    def exports(self) -> dict[str, str]:
        """The local endpoint's environment, plus ``VIRTUAL_ENV``: osls puts ``$VIRTUAL_ENV/bin`` first on
        ``PATH``, so ``npx sls invoke local`` runs the project's Python with these exports set."""
        return {
            **Endpoint(self.endpoint, self.region).environ(),
            "VIRTUAL_ENV": str(project_root() / ".venv"),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "region": self.region,
            "stage": self.stage,
            "stack": self.stack,
            "outputs": self.outputs,
            "control_port": self.control_port,
            "pid": self.pid,
            "log_dir": self.log_dir,
            "timings_s": self.timings_s,
            "ready": self.ready,
            "webhook_log": self.webhook_log,
            "control_token": self.control_token,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CloudInfo:
        return cls(**raw)


class LocalCloud:
    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        stage: str = DEFAULT_STAGE,
        root: Path | None = None,
        state_dir: Path | None = None,
        seed_items: Callable[[], list[dict[str, Any]]] = fleet_registry_items,
        faults: FaultPlan | None = None,
        allow_unemulated: bool = False,
    ) -> None:
        """``allow_unemulated``: run a stack that uses settings the runtime does not emulate (reported as
        warnings) instead of refusing it.
        ``faults``: a fault plan the proxy in front of moto applies to the functions' AWS calls from the
        moment the runtime is ready (its windows count from then); ``proxy.apply_plan`` restarts it."""
        self.root = root or project_root()
        self.state_dir = state_dir or self.root / STATE_DIR
        self.log_dir = self.state_dir / "logs"
        self.port = port
        self.stage = stage
        self.seed_items = seed_items
        self.faults = faults
        self.allow_unemulated = allow_unemulated
        self.unemulated: list[str] = []
        self.moto: MotoServer | None = None
        self.proxy: FaultProxy | None = None
        self.runtime: LocalRuntime | None = None
        self.webhook: WebhookReceiver | None = None
        self.endpoint: Endpoint | None = None
        self.info: CloudInfo | None = None
        self._control: ThreadingHTTPServer | None = None
        self.control_token = secrets.token_urlsafe(CONTROL_TOKEN_BYTES)
        self.control_port = 0

    # -- lifecycle ------------------------------------------------------------------------------------
    def _log_to_file(self) -> None:
        """Runtime warnings (discarded batches, failed polls) go to logs/runtime.log, not the terminal."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        package_logger = logging.getLogger("sensorflow.localcloud")
        if not any(isinstance(h, logging.FileHandler) for h in package_logger.handlers):
            handler = logging.FileHandler(self.log_dir / "runtime.log")
            handler.setFormatter(ExtrasFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
            package_logger.addHandler(handler)
            package_logger.setLevel(logging.INFO)
            package_logger.propagate = False

    def up(self, progress: Callable[[str], None] = lambda _: None) -> CloudInfo:
        self._log_to_file()
        timings: dict[str, float] = {}
        t = time.monotonic()
        # The proxy listens first: moto serves only its own port and the proxy's (the Host it forwards).
        self.proxy = FaultProxy(0)
        self.moto = MotoServer(self.port, self.log_dir / "moto.log", also_ports=(self.proxy.port,)).start()
        self.proxy.upstream_port = self.moto.port or 0
        self.proxy.start()
        self.endpoint = Endpoint(self.moto.url)
        timings["moto"] = time.monotonic() - t
        progress(f"moto server listening on {self.moto.url}")
        progress(f"deploying serverless.yml (stage {self.stage}) with npx sls deploy ...")
        timings["deploy"] = deploy(self.endpoint, self.root, self.stage, self.log_dir / "deploy.log")
        outputs = deployed_outputs(self.endpoint, self.stage)
        progress(f"stack {stack_name(self.stage)} deployed in {timings['deploy']:.1f}s")
        self._check_unemulated(progress)
        t = time.monotonic()
        table = outputs.get("DeviceTableName")
        if table:
            count = seed_registry(self.endpoint, table, self.seed_items())
            progress(f"device registry {table} seeded with {count} devices")
        timings["seed"] = time.monotonic() - t
        t = time.monotonic()
        published = publish_schemas(self.endpoint, self.stage, outputs)
        if published:
            new = sum(p.new for p in published)
            progress(
                f"schemas published to Glue registry {outputs.get('SchemaRegistryName')}: "
                f"{len(published)} version(s), {new} new"
            )
        timings["schemas"] = time.monotonic() - t
        # Before the runtime: notify reads the URL from SSM on its first event.
        parameter = self._start_webhook(outputs)
        progress(
            f"webhook receiver on 127.0.0.1:{self.webhook.port if self.webhook else 0}, URL in {parameter}"
        )
        t = time.monotonic()
        self.runtime = LocalRuntime(
            self.endpoint,
            task_root=self.root,
            log_dir=self.log_dir,
            worker_endpoint_url=self.proxy.url,
            stack_name=stack_name(self.stage),
        )
        self.runtime.start()
        timings["runtime"] = time.monotonic() - t
        if self.faults is not None:
            self.proxy.apply_plan(self.faults)
            progress(
                f"fault plan {self.faults.source or 'inline'} applied: {len(self.faults.rules)} rule(s), "
                f"seed {self.faults.seed}"
            )
        progress(
            f"local Lambda runtime ready: {len(self.runtime.functions)} function(s), "
            f"{len(self.runtime.mappings)} stream mapping(s)"
        )
        control_port = self._start_control()
        self.info = CloudInfo(
            endpoint=self.moto.url,
            region=self.endpoint.region,
            stage=self.stage,
            stack=stack_name(self.stage),
            outputs=outputs,
            control_port=control_port,
            pid=os.getpid(),
            log_dir=str(self.log_dir),
            timings_s={k: round(v, 2) for k, v in timings.items()},
            webhook_log=str(self.log_dir / WEBHOOK_LOG),
            control_token=self.control_token,
        )
        return self.info

    def _check_unemulated(self, progress: Callable[[str], None]) -> None:
        """Refuse (or, allowed, report) what the deployed stack uses that the runtime would not honour."""
        assert self.endpoint is not None
        self.unemulated = unemulated_settings(
            self.endpoint.client("lambda"), self.endpoint.client("cloudformation"), stack_name(self.stage)
        )
        if not self.unemulated:
            return
        if not self.allow_unemulated:
            raise DeployError(
                "the stack uses settings the local runtime does not emulate:\n  "
                + "\n  ".join(self.unemulated)
                + "\nremove them from the stage, or run anyway with `sensorflow local up --allow-unemulated`"
            )
        for line in self.unemulated:
            progress(f"warning: {line}")

    def _start_webhook(self, outputs: dict[str, str]) -> str:
        """Start the loopback webhook receiver (Slack's stand-in) and store its URL where notify reads it:
        the SSM SecureString the stack names, encrypted with the stack's data key as on AWS."""
        assert self.endpoint is not None
        log = self.log_dir / WEBHOOK_LOG
        log.unlink(missing_ok=True)
        self.webhook = WebhookReceiver(log).start()
        name = outputs.get("WebhookUrlParameterName") or webhook_parameter_name(self.stage)
        request: dict[str, Any] = {
            "Name": name,
            "Value": self.webhook.url,
            "Type": "SecureString",
            "Overwrite": True,
            "Description": "sensorflow local cloud: the loopback webhook receiver",
        }
        if outputs.get("DataKeyArn"):
            request["KeyId"] = outputs["DataKeyArn"]
        self.endpoint.client("ssm").put_parameter(**request)
        return name

    def down(self) -> None:
        if self._control is not None:
            self._control.shutdown()
            self._control.server_close()
            self._control = None
        if self.runtime is not None:
            self.runtime.stop()
            self.runtime = None
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.webhook is not None:
            self.webhook.stop()
            self.webhook = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None

    def write_state(self) -> Path:
        assert self.info is not None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        path = self.state_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)  # created anew, so the mode below is the one it gets
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, STATE_MODE)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(self.info.to_dict(), indent=2))
        tmp.replace(path)
        return path

    def clear_state(self) -> None:
        path = self.state_dir / STATE_FILE
        if path.is_file():
            state = json.loads(path.read_text())
            if state.get("pid") == os.getpid():
                path.unlink()

    # -- observation and control ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        assert self.runtime is not None and self.info is not None and self.endpoint is not None
        out = self.runtime.status()
        out["quarantine"] = self._quarantine_status()
        out["faults"] = self.proxy.status() if self.proxy else {}
        out["webhook"] = {
            "messages": len(self.webhook.messages()) if self.webhook else 0,
            "log": self.info.webhook_log,
        }
        out["endpoint"] = self.info.endpoint
        out["stack"] = self.info.stack
        return out

    def _quarantine_status(self) -> dict[str, Any]:
        assert self.info is not None and self.endpoint is not None
        s3 = self.endpoint.client("s3")
        bucket = self.info.outputs.get("QuarantineBucketName")
        objects = 0
        size = 0
        if bucket:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="quarantine/"):
                for obj in page.get("Contents", []):
                    objects += 1
                    size += obj["Size"]
        failures = 0
        queue = self.info.outputs.get("FailureQueueUrl")
        if queue:
            sqs = self.endpoint.client("sqs")
            url = sqs.get_queue_url(QueueName=queue.rsplit("/", 1)[-1])["QueueUrl"]
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
            )
            failures = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        return {"objects": objects, "bytes": size, "on_failure_messages": failures}

    def apply_fault_plan(self, raw: Any) -> tuple[int, dict[str, Any]]:
        """``POST /faults/plan``: apply a plan (a plan file's JSON) from now on; (HTTP status, body)."""
        assert self.proxy is not None
        try:
            self.proxy.apply_plan(FaultPlan.from_dict(raw, source="posted fault plan"))
        except FaultPlanError as exc:
            return 400, {"error": str(exc)}
        return 200, self.proxy.status()

    def _start_control(self) -> int:
        cloud = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _refused(self) -> bool:
                """Answer 403 to a browser's request and 401 to one without the token."""
                h = self.headers
                ports = {cloud.control_port}
                if refusal(h.get("Host"), h.get("Origin"), h.get("Sec-Fetch-Site"), ports) is not None:
                    self._reply(FORBIDDEN_STATUS, {"error": "refused: not a local program's request"})
                    return True
                scheme, _, token = (h.get("Authorization") or "").partition(" ")
                if scheme != "Bearer" or not secrets.compare_digest(
                    token.encode(), cloud.control_token.encode()
                ):
                    self._reply(401, {"error": "missing or wrong control token (see the state file)"})
                    return True
                return False

            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self._refused():
                    return
                if self.path == "/status":
                    self._reply(200, cloud.status())
                elif self.path == "/info":
                    self._reply(200, cloud.info.to_dict() if cloud.info else {})
                else:
                    self._reply(404, {"error": "unknown path"})

            def do_POST(self) -> None:
                if self._refused():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/faults" and cloud.proxy is not None:
                    cloud.proxy.arm(Fault(**body))
                    self._reply(200, cloud.proxy.status())
                elif self.path == "/faults/plan" and cloud.proxy is not None:
                    self._reply(*cloud.apply_fault_plan(body))
                elif self.path == "/shutdown":
                    self._reply(200, {"stopping": True})
                    os.kill(os.getpid(), signal.SIGTERM)
                else:
                    self._reply(404, {"error": "unknown path"})

        self._control = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._control.daemon_threads = True
        self.control_port = int(self._control.server_address[1])
        threading.Thread(target=self._control.serve_forever, name="control", daemon=True).start()
        return self.control_port


def read_state(root: Path | None = None) -> CloudInfo | None:
    path = (root or project_root()) / STATE_DIR / STATE_FILE
    if not path.is_file():
        return None
    return CloudInfo.from_dict(json.loads(path.read_text()))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def daemon_main(argv: list[str] | None = None) -> int:
    """Entry point of the detached local cloud: up, write state, serve until SIGTERM, down."""
    parser = argparse.ArgumentParser(prog="python -m sensorflow.localcloud.cloud")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--stage", default=DEFAULT_STAGE)
    parser.add_argument("--faults", default=None, help="a fault plan file (sensorflow.localcloud.faults)")
    parser.add_argument("--allow-unemulated", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    faults = FaultPlan.from_file(args.faults) if args.faults else None
    cloud = LocalCloud(
        port=args.port, stage=args.stage, faults=faults, allow_unemulated=args.allow_unemulated
    )
    try:
        cloud.up(progress=lambda line: logger.info(line))
        cloud.write_state()
        stop.wait()
    finally:
        cloud.clear_state()
        cloud.down()
    return 0


if __name__ == "__main__":
    sys.exit(daemon_main())
