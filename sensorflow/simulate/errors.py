"""Errors the simulator raises on purpose. The CLI turns them into one-line usage errors."""

from __future__ import annotations


class SimulationError(ValueError):
    """A simulation that cannot run as configured: bad fleet, bad rates, bad scenario mix."""


class ProducerError(Exception):
    """Publishing stopped for a reason retrying cannot fix (no stream, access denied, no endpoint).

    ``report`` holds what was delivered before it stopped, when anything was attempted.
    """

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report
