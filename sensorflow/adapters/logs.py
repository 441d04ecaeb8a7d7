"""The adapters' logger: a Powertools child of ``sensorflow.observability.logger``.

A child shares the parent's handler, formatter and appended keys (the Lambda context), so adapter logs are
the same structured JSON, while the adapters import nothing outside ``sensorflow.core``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

SERVICE = "sensorflow"  # the parent's service name (sensorflow.observability.SERVICE)

logger = Logger(service=SERVICE, child=True)
