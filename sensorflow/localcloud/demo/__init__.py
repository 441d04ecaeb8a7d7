"""``sensorflow demo``'s machinery: ``drive`` runs the pipeline on a local cloud, ``verify`` checks what it
did, ``report`` prints it. The CLI (``sensorflow.cli.demo_command``) only parses flags and calls it."""

from __future__ import annotations
