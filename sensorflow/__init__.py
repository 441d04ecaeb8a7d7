"""sensorflow: a serverless IoT ingestion pipeline for AWS.

Lambda code lives in ``sensorflow.core`` (pure), ``sensorflow.adapters`` (one module per AWS role),
``sensorflow.ingest`` (the batch service) and ``sensorflow.bootstrap`` (wiring). The simulator,
local cloud and CLI (``sensorflow.simulate``, ``sensorflow.localcloud``, ``sensorflow.cli``) run
outside Lambda and are excluded from the deployment package.
"""

__version__ = "0.1.0"
