"""Read a JSON file a person wrote (rules, fleet, simulator config): one clear error per way it fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: Path, label: str, error: type[Exception]) -> Any:
    """The parsed file; ``error(message)`` naming ``label`` if it is missing, unreadable or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{label} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{label} cannot be read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{label} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
