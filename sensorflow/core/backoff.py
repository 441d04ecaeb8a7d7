"""Capped exponential backoff with full jitter, the one schedule every retry loop here uses.

Full jitter (a uniform draw below the capped exponential) spreads the retries of many callers that
failed together, so they do not come back in step:
aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter
"""

from __future__ import annotations

import random
from collections.abc import Callable


def jittered_delay(
    attempt: int,
    base_s: float,
    cap_s: float,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 for the first retry): ``uniform(0, min(cap,
    base * 2**attempt))``; 0 before the first attempt (``attempt`` 0)."""
    if attempt <= 0:
        return 0.0
    return uniform(0.0, min(cap_s, base_s * 2**attempt))
