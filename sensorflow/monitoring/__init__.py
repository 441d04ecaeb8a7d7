"""The stack's CloudWatch monitoring, defined once: the ops topic, the alarms and the dashboard.

``scripts/monitoring.py`` writes them to ``resources/monitoring.yml``, which ``serverless.yml`` includes;
the tests check the committed file is the generated one and that every metric shown is one the code
emits. A tool: it runs at development time and stays out of the Lambda zip (``package.patterns``).
"""

from sensorflow.monitoring.alarm_definitions import Alarm, alarms
from sensorflow.monitoring.emitted_metrics import Emitted, emitted_metrics
from sensorflow.monitoring.resources_file import OPS_TOPIC, document, render
from sensorflow.monitoring.stack_facts import Function, StackFacts, read_stack

__all__ = [
    "OPS_TOPIC",
    "Alarm",
    "Emitted",
    "Function",
    "StackFacts",
    "alarms",
    "document",
    "emitted_metrics",
    "read_stack",
    "render",
]
