"""sensorflow: a serverless IoT ingestion pipeline for AWS.

Lambda code lives in ``sensorflow.core`` (pure), ``sensorflow.adapters`` (one module per AWS role),
``sensorflow.services.ingest`` (the batch service) and ``sensorflow.bootstrap`` (wiring). The simulator,
local cloud and CLI (``sensorflow.simulate``, ``sensorflow.localcloud``, ``sensorflow.cli.main``) run
outside Lambda and are excluded from the deployment package.
"""

__version__ = "0.1.0"
