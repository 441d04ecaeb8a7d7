"""Write ``resources/monitoring.yml``: the ops topic, CloudWatch alarms and dashboard of the stack.

Generated from ``sensorflow/monitoring`` (the definition) and ``serverless.yml`` (the functions, the
queues that receive failures, the tables, the metric namespace). Run it after changing either:

    .venv/bin/python scripts/monitoring.py            # rewrite resources/monitoring.yml
    .venv/bin/python scripts/monitoring.py --check    # exit 1 if it is stale

``tests/integration/test_monitoring.py`` fails while the committed file is stale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sensorflow.monitoring import read_stack, render  # noqa: E402

SERVERLESS = ROOT / "serverless.yml"
OUTPUT = ROOT / "resources" / "monitoring.yml"


def generated(serverless: Path = SERVERLESS) -> str:
    return render(read_stack(serverless))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if resources/monitoring.yml is stale")
    args = parser.parse_args(argv)
    text = generated()
    if args.check:
        if not OUTPUT.is_file() or OUTPUT.read_text(encoding="utf-8") != text:
            sys.stderr.write(
                "resources/monitoring.yml is stale: run `.venv/bin/python scripts/monitoring.py`\n"
            )
            return 1
        return 0
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
