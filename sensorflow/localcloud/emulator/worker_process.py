"""The runtime inside a local Lambda execution environment (a worker process).

The parent (``sensorflow.localcloud.emulator.worker_pool``) starts
``python -m sensorflow.localcloud.emulator.worker_process`` with the
function's deployed environment and two pipe descriptors. Like the Lambda Python runtime, this imports
the handler once (the init phase) and then serves invocations one at a time, so module state stays warm
between them. Messages are length-prefixed JSON; the handler's own stdout/stderr go to the function log.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")


def write_message(stream: BinaryIO, message: dict[str, Any]) -> None:
    body = json.dumps(message, separators=(",", ":")).encode()
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_message(stream: BinaryIO) -> dict[str, Any] | None:
    header = _read_exact(stream, _HEADER.size)
    if header is None:
        return None
    body = _read_exact(stream, _HEADER.unpack(header)[0])
    if body is None:
        return None
    message: dict[str, Any] = json.loads(body)
    return message


class LambdaContext:
    """The context object the Lambda Python runtime passes to a handler."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = env["SENSORFLOW_LOCAL_FUNCTION_ARN"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request_id
        self.log_group_name = env["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = env["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(kind: str, exc: BaseException) -> dict[str, Any]:
    # The shape of the Lambda runtime's error response: errorType, errorMessage, stackTrace.
    return {
        "ok": False,
        "errorType": kind or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def load_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Resolve ``handlers/ingest.handler`` (osls style) or ``pkg.module.func`` like the Lambda runtime."""
    module_path, _, func_name = handler.rpartition(".")
    if not module_path or not func_name:
        raise ValueError(f"Bad handler '{handler}': expected 'module.function'")
    module = importlib.import_module(module_path.replace("/", "."))
    func: Callable[[Any, Any], Any] = getattr(module, func_name)
    return func


def main() -> int:
    request_fd, response_fd = int(sys.argv[1]), int(sys.argv[2])
    requests = os.fdopen(request_fd, "rb")
    responses = os.fdopen(response_fd, "wb")
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    try:
        handler = load_handler(os.environ["_HANDLER"])
    except Exception as exc:  # init failure: reported like Runtime.ImportModuleError, then exit
        traceback.print_exc()
        write_message(responses, _error("Runtime.ImportModuleError", exc))
        return 1
    write_message(responses, {"ready": True})
    while (message := read_message(requests)) is not None:
        context = LambdaContext(message["requestId"], int(message["deadlineMs"]))
        try:
            result = handler(message["event"], context)
        except Exception as exc:  # an unhandled function error, as Lambda reports it
            traceback.print_exc()
            write_message(responses, _error("", exc))
            continue
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        try:
            write_message(responses, {"ok": True, "result": result})
        except (TypeError, ValueError) as exc:
            write_message(responses, _error("Runtime.MarshalError", exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
