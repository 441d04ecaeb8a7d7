"""``python -m sensorflow.cli``: the same entry point as ``.venv/bin/sensorflow``."""

import sys

from sensorflow.cli.main import main

sys.exit(main())
