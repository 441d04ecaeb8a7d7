"""AWS behaviour moto lacks (Lambda event source mappings, async delivery, schedules, a worker pool),
knowing nothing about sensorflow."""

from __future__ import annotations
