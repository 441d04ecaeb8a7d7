"""Local Lambda execution environments: warm worker processes, one invocation at a time each.

Each function gets a pool of environments. An environment is a
``python -m sensorflow.localcloud.emulator.worker_process``
process started with the function's deployed ``Environment`` plus the variables Lambda sets itself, and it
is reused between invocations like a warm Lambda sandbox. A run past the function's ``Timeout`` is killed;
the environment is discarded and the invocation counts as a function error ("Task timed out").
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sensorflow.localcloud.emulator.discovery import FunctionConfig
from sensorflow.localcloud.emulator.endpoint import FAKE_ACCESS_KEY_ID, FAKE_SECRET_ACCESS_KEY
from sensorflow.localcloud.emulator.worker_process import read_message, write_message

logger = logging.getLogger(__name__)

# Lambda's init phase is limited to 10 s; a local Python start under load (2 cores, moto busy) can be
# slower, so an environment gets more time to import its handler before it is declared broken.
# Source: docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html (Init phase)
INIT_TIMEOUT_S = 30.0
# The only variables a worker takes from the parent: what the Python runtime needs to start. Nothing else
# (the user's real AWS_* credentials or profile, tokens, proxies) reaches a local function.
_INHERITED = ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")
# HOME is inherited, so botocore would read ~/.aws/config and ~/.aws/credentials (a profile's
# credential_process, sso, endpoints): point both at an empty file, and keep it off the instance metadata.
_NO_AWS_FILES = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass(frozen=True, slots=True)
class InvokeResult:
    """What one invocation returned: a payload, or a function error as Lambda reports it."""

    request_id: str
    ok: bool
    payload: Any = None
    error_type: str | None = None
    error_message: str | None = None
    duration_ms: float = 0.0
    timed_out: bool = False


def lambda_environment(
    function: FunctionConfig, endpoint_url: str, region: str, task_root: Path
) -> dict[str, str]:
    """The process environment of an execution environment for ``function``: its deployed ``Environment``,
    then what Lambda sets itself (which the function's own variables cannot override: Lambda reserves them,
    docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime), the
    local cloud's endpoint and fake credentials, and from the parent only ``_INHERITED``."""
    env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    # Powertools Tracer would try to reach an X-Ray daemon; off unless the function asks otherwise.
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    env.update(function.environment)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "AWS_SESSION_TOKEN": "testing",
            **_NO_AWS_FILES,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(Path(sys.executable).parent),
            "_HANDLER": function.handler,
            "TZ": ":UTC",
            "PYTHONPATH": str(task_root),
            "PYTHONUNBUFFERED": "1",
            "SENSORFLOW_LOCAL_FUNCTION_ARN": function.arn,
        }
    )
    return env


class ExecutionEnvironment:
    """One warm worker process for one function."""

    def __init__(self, function: FunctionConfig, env: dict[str, str], task_root: Path, log: IO[str]) -> None:
        self.function = function
        request_r, self._request_w = os.pipe()
        self._response_r, response_w = os.pipe()
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sensorflow.localcloud.emulator.worker_process",
                str(request_r),
                str(response_w),
            ],
            env=env,
            cwd=task_root,
            pass_fds=(request_r, response_w),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        os.close(request_r)
        os.close(response_w)
        self._requests = os.fdopen(self._request_w, "wb")
        self._responses = os.fdopen(self._response_r, "rb", buffering=0)
        self._init_error: dict[str, Any] | None = None
        ready = self._await(INIT_TIMEOUT_S)
        if ready is None:
            self.close()
            self._init_error = {"errorType": "Runtime.InitTimeout", "errorMessage": "init phase timed out"}
        elif not ready.get("ready"):
            self.close()
            self._init_error = ready

    @property
    def alive(self) -> bool:
        return self._init_error is None and self._proc.poll() is None

    def _await(self, timeout_s: float) -> dict[str, Any] | None:
        readable, _, _ = select.select([self._responses], [], [], max(0.0, timeout_s))
        if not readable:
            return None
        return read_message(self._responses)

    def invoke(self, event: Any, request_id: str | None = None) -> InvokeResult:
        # An asynchronous event keeps its request id across Lambda's retries (invocation-async.html).
        request_id = request_id or str(uuid.uuid4())
        if self._init_error is not None:
            return InvokeResult(
                request_id,
                ok=False,
                error_type=self._init_error.get("errorType"),
                error_message=self._init_error.get("errorMessage"),
            )
        timeout_s = float(self.function.timeout_s)
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000 + timeout_s * 1000)
        try:
            write_message(
                self._requests, {"requestId": request_id, "deadlineMs": deadline_ms, "event": event}
            )
        except (BrokenPipeError, OSError):
            self.close()
            return InvokeResult(request_id, ok=False, error_type="Runtime.ExitError", error_message="exited")
        reply = self._await(timeout_s - (time.monotonic() - started))
        duration_ms = (time.monotonic() - started) * 1000
        if reply is None:
            timed_out = self._proc.poll() is None
            self.close()
            if timed_out:
                return InvokeResult(
                    request_id,
                    ok=False,
                    error_type="Sandbox.Timedout",
                    error_message=f"Task timed out after {timeout_s:.2f} seconds",
                    duration_ms=duration_ms,
                    timed_out=True,
                )
            return InvokeResult(
                request_id,
                ok=False,
                error_type="Runtime.ExitError",
                error_message="RequestId: " + request_id + " Error: Runtime exited",
                duration_ms=duration_ms,
            )
        if reply.get("ok"):
            return InvokeResult(request_id, ok=True, payload=reply.get("result"), duration_ms=duration_ms)
        return InvokeResult(
            request_id,
            ok=False,
            error_type=reply.get("errorType"),
            error_message=reply.get("errorMessage"),
            duration_ms=duration_ms,
        )

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        for stream in (self._requests, self._responses):
            with contextlib.suppress(OSError):
                stream.close()


class FunctionPool:
    """Execution environments of one function: reuse an idle one, else start another."""

    def __init__(
        self, function: FunctionConfig, env: dict[str, str], task_root: Path, log_path: Path
    ) -> None:
        self.function = function
        self._env = env
        self._task_root = task_root
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("a", encoding="utf-8")
        self._idle: list[ExecutionEnvironment] = []
        self._lock = threading.Lock()
        self._closed = False

    def _acquire(self) -> ExecutionEnvironment:
        with self._lock:
            while self._idle:
                environment = self._idle.pop()
                if environment.alive:
                    return environment
        return ExecutionEnvironment(self.function, self._env, self._task_root, self._log)

    def invoke(self, event: Any, request_id: str | None = None) -> InvokeResult:
        environment = self._acquire()
        result = environment.invoke(event, request_id)
        with self._lock:
            if environment.alive and not self._closed:
                self._idle.append(environment)
            else:
                environment.close()
        return result

    def warm(self) -> None:
        """Start one environment ahead of the first event (Lambda's provisioned-concurrency feel)."""
        environment = self._acquire()
        with self._lock:
            self._idle.append(environment)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.close()
        self._log.close()
