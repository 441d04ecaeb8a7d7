"""The Lambda event filter rule syntax (invocation-eventfiltering.html), one rule per case."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorflow.localcloud.emulator.event_filter import FilterCriteria, kinesis_document, matches

RECORD = {
    "device": "dev-1",
    "site": "plant-a",
    "level": 7.5,
    "tags": ["hot", "line-2"],
    "note": None,
    "empty": "",
}


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"site": ["plant-a"]}, True),  # equals
        ({"site": ["plant-b", "plant-a"]}, True),  # or
        ({"site": ["plant-b"]}, False),
        ({"site": [{"equals-ignore-case": "PLANT-A"}]}, True),
        ({"site": [{"prefix": "plant-"}]}, True),
        ({"site": [{"suffix": "-b"}]}, False),
        ({"site": [{"anything-but": ["plant-b"]}]}, True),
        ({"site": [{"anything-but": "plant-a"}]}, False),
        ({"site": [{"anything-but": {"prefix": "plant"}}]}, False),
        ({"level": [{"numeric": [">", 7, "<=", 8]}]}, True),
        ({"level": [{"numeric": ["=", 7.5]}]}, True),
        ({"level": [7.5]}, True),
        ({"level": [{"numeric": ["<", 7]}]}, False),
        ({"site": [{"numeric": [">", 0]}]}, False),  # not a number
        ({"note": [None]}, True),  # null
        ({"empty": [""]}, True),  # empty
        ({"missing": [{"exists": False}]}, True),
        ({"missing": [{"exists": True}]}, False),
        ({"device": [{"exists": True}]}, True),
        ({"tags": ["hot"]}, True),  # any element of a list
        ({"tags": ["cold"]}, False),
        ({"device": ["dev-1"], "site": ["plant-b"]}, False),  # and
        ({"$or": [{"site": ["plant-b"]}, {"level": [{"numeric": [">", 5]}]}]}, True),
        ({"$or": [{"site": ["plant-b"]}, {"level": [{"numeric": [">", 9]}]}]}, False),
        ({"missing": ["x"]}, False),
    ],
)
def test_filter_rules(rule: dict[str, Any], expected: bool) -> None:
    assert matches({"data": rule}, {"data": RECORD}) is expected


def test_a_non_json_payload_matches_only_patterns_without_data() -> None:
    document = kinesis_document("dev-1", "1", b"\x00\x01 avro", 1.0)
    assert "data" not in document
    assert not matches({"data": {"site": [{"exists": True}]}}, document)
    assert matches({"partitionKey": ["dev-1"]}, document)


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(-5, 5), max_size=3), st.integers(-5, 5))
def test_no_filters_deliver_everything_and_a_pattern_is_an_or_of_its_values(
    record: dict[str, int], n: int
) -> None:
    data = json.dumps(record).encode()
    assert FilterCriteria().matches_kinesis("k", "1", data, 0.0)
    criteria = FilterCriteria.from_api({"Filters": [{"Pattern": json.dumps({"data": {"a": [n, n + 1]}})}]})
    assert criteria.matches_kinesis("k", "1", data, 0.0) is (record.get("a") in (n, n + 1))
