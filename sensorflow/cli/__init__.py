"""The ``sensorflow`` command line. Runs outside Lambda; never packaged."""

from __future__ import annotations
