"""The capacity and cost planner behind ``sensorflow plan``: pure arithmetic over the AWS limits and prices
(``service_limits``, ``prices``, each cited) and the benchmark's measured figures (``measured``). It runs
outside Lambda and is kept out of the deployment package (serverless.yml ``package.patterns``)."""

from __future__ import annotations

from sensorflow.planner.errors import PlanInputError
from sensorflow.planner.fleet_plan import Plan, make_plan
from sensorflow.planner.measured import COMMITTED, Measured, load
from sensorflow.planner.workload import PlanInputs

__all__ = ["COMMITTED", "Measured", "Plan", "PlanInputError", "PlanInputs", "load", "make_plan"]
