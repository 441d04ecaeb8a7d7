"""A dependency-free progress bar on stderr, drawn over device time (start..end of the simulation)."""

from __future__ import annotations

import time
from typing import TextIO

_WIDTH = 28
_MIN_REDRAW_S = 0.1


class ProgressBar:
    """Redraws one line at most ten times a second; silent when disabled (``--quiet`` or not a terminal)."""

    def __init__(self, stream: TextIO, start_ms: int, end_ms: int, enabled: bool) -> None:
        self._stream = stream
        self._start_ms = start_ms
        self._span_ms = max(end_ms - start_ms, 1)
        self._enabled = enabled
        self._t0 = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False
        self.device_ms = start_ms

    def update(self, sent: int, failed: int, nbytes: int, final: bool = False) -> None:
        if not self._enabled:
            return
        now = time.monotonic()
        if not final and now - self._last_draw < _MIN_REDRAW_S:
            return
        self._last_draw = now
        fraction = 1.0 if final else min(max((self.device_ms - self._start_ms) / self._span_ms, 0.0), 1.0)
        filled = round(fraction * _WIDTH)
        rate = sent / max(now - self._t0, 1e-9)
        self._stream.write(
            f"\r[{'#' * filled}{'.' * (_WIDTH - filled)}] {fraction:4.0%} device time  "
            f"sent {sent:,}  failed {failed:,}  {nbytes / 1e6:,.1f} MB  {rate:,.0f} rec/s "
        )
        self._stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
