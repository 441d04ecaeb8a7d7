"""Logger, metrics and tracer, defined once. Creating them makes no network call and needs no env var."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "sensorflow"
NAMESPACE = "sensorflow"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
