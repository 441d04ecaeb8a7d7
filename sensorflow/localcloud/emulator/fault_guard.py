"""Fault injection never runs against a deployed stage.

Both injectors call :func:`refuse_deployed` before they inject anything: inside a Lambda function
(``AWS_LAMBDA_FUNCTION_NAME`` set) whose endpoint is not loopback, or with any endpoint that is not
127.0.0.1 / localhost / ::1, they raise :class:`FaultInjectionRefusedError` instead. The in-process
injector also accepts no endpoint at all when moto's in-process mock is what answers (checked per call).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class FaultInjectionRefusedError(RuntimeError):
    """Fault injection was asked for where it could hit a real AWS account."""


def is_loopback(url: str) -> bool:
    host = urlsplit(url if "//" in url else f"//{url}").hostname or ""
    return host in LOOPBACK_HOSTS


def refuse_deployed(
    endpoint_url: str | None, environ: Mapping[str, str] | None = None, *, mocked: bool = False
) -> None:
    """Raise unless faults can only reach a local backend: ``endpoint_url`` (default: ``AWS_ENDPOINT_URL``)
    is loopback, or there is none and ``mocked`` (moto's in-process mock answers every call)."""
    env = os.environ if environ is None else environ
    url = endpoint_url if endpoint_url is not None else env.get("AWS_ENDPOINT_URL")
    function = env.get("AWS_LAMBDA_FUNCTION_NAME")
    if url:
        if not is_loopback(url):
            where = f" in Lambda function {function}" if function else ""
            raise FaultInjectionRefusedError(
                f"fault injection refused{where}: endpoint {url} is not loopback (127.0.0.1); "
                "fault plans run only against the local cloud or moto"
            )
        return
    if function:
        raise FaultInjectionRefusedError(
            f"fault injection refused in Lambda function {function}: no loopback AWS_ENDPOINT_URL, so calls "
            "would reach AWS; fault plans run only against the local cloud or moto"
        )
    if not mocked:
        raise FaultInjectionRefusedError(
            "fault injection refused: no AWS_ENDPOINT_URL and moto's mock is not active, so calls would "
            "reach AWS; start mock_aws() first or point AWS_ENDPOINT_URL at 127.0.0.1"
        )
