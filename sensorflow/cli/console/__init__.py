"""``sensorflow console``: a small operator web page for one stage, served on 127.0.0.1 only.

Modules, one concept each: ``request_guard`` (who may talk to it: Host, Origin, CSRF), ``html`` (escaping
and the page layout), ``chart`` (the readings' inline SVG), ``views`` (one renderer per page), ``filters``
(the alarms table's), ``model`` (the rows the views show and the ``ConsoleSource`` port), ``stage`` (the
real source: a stage's stack through the existing adapters), ``readings`` / ``transition_log`` /
``quarantine`` / ``health`` (what ``stage`` reads), ``operator_actions`` (actions through the CLI's own
code), ``routes`` (requests to pages), ``static`` (its script and stylesheet) and ``app`` (the HTTP
server). It lives under ``sensorflow/cli/`` so ``package.patterns`` keeps it out of the Lambda zip.
"""

from __future__ import annotations

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 5060

__all__ = ["DEFAULT_PORT", "LOOPBACK", "console_url"]


def console_url(port: int = DEFAULT_PORT) -> str:
    """Where ``sensorflow console --port PORT`` serves (``sensorflow local up`` prints it)."""
    return f"http://{LOOPBACK}:{port}/"
