"""``sensorflow console``: a small operator web page for one stage, served on 127.0.0.1 only.

Modules, one concept each: ``guard`` (who may talk to it: Host, Origin, CSRF), ``html`` (escaping and the
page layout), ``chart`` (the readings' inline SVG), ``views`` (one renderer per page), ``model`` (the
rows the views show and the ``ConsoleSource`` port), ``stage`` (the real source: a stage's stack through
the existing adapters), ``readings`` / ``transitions`` / ``quarantine`` / ``health`` (what ``stage``
reads), ``actions`` (operator actions through the CLI's own code), ``routes`` (requests to pages) and
``app`` (the HTTP server). It lives under ``sensorflow/cli/`` so ``package.patterns`` keeps it out of
the Lambda zip.
"""

from __future__ import annotations

__all__: list[str] = []
