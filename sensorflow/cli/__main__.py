"""``python -m sensorflow.cli``: the same entry point as ``.venv/bin/sensorflow``."""

from __future__ import annotations

import sys

from sensorflow.cli.main import main

sys.exit(main())
