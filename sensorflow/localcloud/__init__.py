"""A local cloud for sensorflow: moto server + the real ``serverless.yml`` + a Lambda runtime.

moto stores Lambda functions and event source mappings but cannot run code without Docker, so this
package runs them: it reads what was deployed from the local Lambda API, polls Kinesis shards with the
event-source-mapping semantics AWS documents (batching, partial batch responses, retries, bisection,
record age, on-failure destinations), and delivers SNS, EventBridge and schedule events that moto's
CloudFormation leaves unwired. Nothing here ships in the Lambda zip.
"""

from __future__ import annotations

from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.runtime import LocalRuntime

__all__ = ["Endpoint", "LocalRuntime"]
