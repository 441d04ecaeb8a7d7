"""The CLI's one error type and its one translation of AWS failures into a line that says the fix.

Every sub-command raises ``UsageError`` for bad flags, config or environment; ``cli.main`` prints it as
``sensorflow <command>: error: <message>`` (exit 2), never as a traceback. It lives here, not in
``cli.main``, so the sub-commands do not import the entry point that imports them.

``aws_errors(action)`` is the one place where botocore's exceptions (and the pipeline's
``TransientError``) become such a line, prefixed with what was being done; ``cli.main`` applies its set-up
half (region, credentials, endpoint), without a prefix, to such an error raised outside any block.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sensorflow.core.errors import TransientError


class UsageError(Exception):
    """A user-facing error: bad flags, config or environment. Printed without a traceback."""


def aws_setup_message(exc: BaseException) -> str | None:
    """The fix for an AWS set-up problem any sub-command can hit (region, credentials, profile, endpoint);
    ``None`` for anything else."""
    from botocore.exceptions import (
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
        ProfileNotFound,
    )

    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region or export AWS_DEFAULT_REGION (e.g. us-east-1)"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return (
            "no AWS credentials: set AWS_PROFILE (aws configure) or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY; for the local cloud, run the exports `local up --detach` prints"
        )
    if isinstance(exc, ProfileNotFound):
        return f"{exc}: check AWS_PROFILE"
    if isinstance(exc, EndpointConnectionError):
        endpoint = exc.kwargs.get("endpoint_url", "the endpoint")
        return f"cannot reach {endpoint}: is `sensorflow local up` running, or is AWS_ENDPOINT_URL stale?"
    return None


def aws_error_message(exc: BaseException) -> str | None:
    """``aws_setup_message``, else the code and message of an AWS answer, else ``None``."""
    from botocore.exceptions import BotoCoreError, ClientError

    setup = aws_setup_message(exc)
    if setup is not None:
        return setup
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}"
    if isinstance(exc, TransientError | BotoCoreError):
        return str(exc)
    return None


@contextlib.contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn an AWS failure inside the block into ``UsageError("<action>: <what and the fix>")``."""
    try:
        yield
    except UsageError:
        raise
    except Exception as exc:
        message = aws_error_message(exc)
        if message is None:
            raise
        raise UsageError(f"{action}: {message}") from None
