"""Event source mapping filters (``FilterCriteria``), matched as Lambda documents them.

Source: docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html (filter rule syntax; up to 5
filters per mapping, OR between filters, AND between the fields of one) and
docs.aws.amazon.com/lambda/latest/dg/with-kinesis-filtering.html (Kinesis: the pattern matches ``data``,
decoded, only when it is valid JSON; a record that matches no filter is dropped and counts as processed).

A pattern is a JSON object whose leaves are lists of matchers: literal strings, numbers or ``null``
(equality), ``{"prefix": s}``, ``{"suffix": s}``, ``{"equals-ignore-case": s}``, ``{"anything-but": ...}``,
``{"numeric": [op, n, ...]}`` and ``{"exists": bool}``; ``"$or": [pattern, ...]`` combines sub-patterns.
A leaf matches when any of its matchers matches the value (or any element, when the value is a list).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_FILTERS = 5  # per mapping by default (more on request); Lambda refuses the mapping beyond it
MAX_PATTERN_CHARS = 4096  # AWS::Lambda::EventSourceMapping Filter.Pattern maximum length
_NUMERIC_OPS = {"=", "<", "<=", ">", ">="}
_MISSING = object()


class FilterPatternError(ValueError):
    """A filter pattern Lambda would refuse at CreateEventSourceMapping."""


@dataclass(frozen=True, slots=True)
class FilterCriteria:
    """The parsed filters of one mapping; no filters means every record is delivered."""

    patterns: tuple[Mapping[str, Any], ...] = ()

    @classmethod
    def from_api(cls, raw: Mapping[str, Any] | None) -> FilterCriteria:
        filters = list((raw or {}).get("Filters") or [])
        if len(filters) > MAX_FILTERS:
            raise FilterPatternError(f"{len(filters)} filters: a mapping takes at most {MAX_FILTERS}")
        patterns = []
        for item in filters:
            text = item.get("Pattern", "")
            if len(text) > MAX_PATTERN_CHARS:
                raise FilterPatternError(f"a filter pattern is at most {MAX_PATTERN_CHARS} characters")
            try:
                pattern = json.loads(text)
            except json.JSONDecodeError as exc:
                raise FilterPatternError(f"filter pattern is not JSON: {exc.msg}") from None
            validate(pattern)
            patterns.append(pattern)
        return cls(tuple(patterns))

    def matches_kinesis(self, partition_key: str, sequence_number: str, data: bytes, arrival: float) -> bool:
        """Does a Kinesis record match any filter? (Always, with no filters.)"""
        if not self.patterns:
            return True
        document = kinesis_document(partition_key, sequence_number, data, arrival)
        return any(matches(pattern, document) for pattern in self.patterns)


def kinesis_document(partition_key: str, sequence_number: str, data: bytes, arrival: float) -> dict[str, Any]:
    """The record as filters see it: metadata plus ``data`` decoded when it is JSON (absent otherwise, so a
    pattern on ``data`` cannot match a non-JSON payload)."""
    document: dict[str, Any] = {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": partition_key,
        "sequenceNumber": sequence_number,
        "approximateArrivalTimestamp": arrival,
    }
    decoded = _json_data(data)
    if decoded is not _MISSING:
        document["data"] = decoded
    return document


def _json_data(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _MISSING
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return _MISSING


def validate(pattern: Any, path: str = "") -> None:
    """Refuse what Lambda refuses: a pattern must be an object whose leaves are lists of matchers."""
    if not isinstance(pattern, dict) or not pattern:
        raise FilterPatternError(f"{path or 'pattern'}: must be a non-empty JSON object")
    for key, value in pattern.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise FilterPatternError(f"{where}: $or takes a list of at least two patterns")
            for i, sub in enumerate(value):
                validate(sub, f"{where}[{i}]")
        elif isinstance(value, dict):
            validate(value, where)
        elif isinstance(value, list) and value:
            for matcher in value:
                _validate_matcher(matcher, where)
        else:
            raise FilterPatternError(f"{where}: a leaf must be a non-empty list of matchers")


def _validate_matcher(matcher: Any, where: str) -> None:
    if matcher is None or isinstance(matcher, (str, int, float, bool)):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise FilterPatternError(f"{where}: {json.dumps(matcher)} is not a filter rule")
    ((kind, operand),) = matcher.items()
    if kind in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise FilterPatternError(f"{where}: {kind} takes a string")
    elif kind == "exists":
        if not isinstance(operand, bool):
            raise FilterPatternError(f"{where}: exists takes true or false")
    elif kind == "numeric":
        _validate_numeric(operand, where)
    elif kind == "anything-but":
        values = operand if isinstance(operand, list) else [operand]
        for value in values:
            if isinstance(value, dict):
                _validate_matcher(value, where)
    else:
        raise FilterPatternError(f"{where}: unknown filter rule '{kind}'")


def _validate_numeric(operand: Any, where: str) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise FilterPatternError(f"{where}: numeric takes [op, number] or [op, number, op, number]")
    for op, number in zip(operand[::2], operand[1::2], strict=True):
        if op not in _NUMERIC_OPS or isinstance(number, bool) or not isinstance(number, (int, float)):
            raise FilterPatternError(f"{where}: numeric takes operators {sorted(_NUMERIC_OPS)} and numbers")


def matches(pattern: Mapping[str, Any], document: Any) -> bool:
    """Every field of the pattern matches (AND); ``$or`` needs one of its sub-patterns."""
    for key, rule in pattern.items():
        if key == "$or":
            if not any(matches(sub, document) for sub in rule):
                return False
            continue
        value = document.get(key, _MISSING) if isinstance(document, dict) else _MISSING
        if isinstance(rule, dict):
            if value is _MISSING or not _nested_matches(rule, value):
                return False
        elif not _leaf_matches(rule, value):
            return False
    return True


def _nested_matches(rule: Mapping[str, Any], value: Any) -> bool:
    if isinstance(value, list):
        return any(matches(rule, item) for item in value)
    return matches(rule, value)


def _leaf_matches(matchers: Sequence[Any], value: Any) -> bool:
    for matcher in matchers:
        if isinstance(matcher, dict) and "exists" in matcher:
            if matcher["exists"] == (value is not _MISSING):
                return True
            continue
        if value is _MISSING:
            continue
        values = value if isinstance(value, list) else [value]
        if any(_matcher_matches(matcher, v) for v in values):
            return True
    return False


def _matcher_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _equal(matcher, value)
    ((kind, operand),) = matcher.items()
    if kind == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if kind == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if kind == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == operand.lower()
    if kind == "numeric":
        return _numeric(operand, value)
    if kind == "anything-but":
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(
            _matcher_matches(e, value) if isinstance(e, dict) else _equal(e, value) for e in excluded
        )
    return False


def _equal(expected: Any, value: Any) -> bool:
    if expected is None or value is None:
        return expected is value
    if _is_number(expected) and _is_number(value):
        return float(expected) == float(value)
    return type(expected) is type(value) and bool(expected == value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric(operand: Sequence[Any], value: Any) -> bool:
    if not _is_number(value):
        return False
    checks = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return all(checks[op](value, bound) for op, bound in zip(operand[::2], operand[1::2], strict=True))
