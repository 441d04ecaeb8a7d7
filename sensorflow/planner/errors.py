"""The planner's one error: an input it cannot plan for. The CLI prints it as one line."""

from __future__ import annotations


class PlanInputError(ValueError):
    """A bad input (a count below its minimum, a rate outside 0..1, an unreadable bench file); the message
    names the flag and says what is allowed."""
