"""How the local SQS mapping reads a function's result (docs.aws.amazon.com/lambda/latest/dg/
services-sqs-errorhandling.html): success, partial, or the whole batch failed."""

from __future__ import annotations

from typing import Any

import pytest

from sensorflow.localcloud.emulator.sqs_esm import SqsVerdict, judge
from sensorflow.localcloud.emulator.worker_pool import InvokeResult

IDS = ["a", "b", "c"]
EVERY = frozenset(IDS)


def ok(payload: Any) -> InvokeResult:
    return InvokeResult(request_id="r", ok=True, payload=payload)


@pytest.mark.parametrize("payload", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}])
def test_an_empty_or_null_response_is_success(payload: Any):
    assert judge(ok(payload), IDS, True) == SqsVerdict("ok")


def test_the_reported_messages_are_kept_and_only_those():
    verdict = judge(ok({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}), IDS, True)
    assert verdict == SqsVerdict("partial", frozenset({"b", "c"}))


@pytest.mark.parametrize(
    "payload",
    [
        "done",  # not a JSON object
        ["a"],
        {"batchItemFailures": "a"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"messageId": "a"}]},  # a wrong key name
        {"batchItemFailures": [{"itemIdentifier": "z"}]},  # not in the batch
        {"batchItemFailures": [{"itemIdentifier": "a"}, "b"]},
    ],
)
def test_an_invalid_response_fails_the_whole_batch(payload: Any):
    assert judge(ok(payload), IDS, True) == SqsVerdict("error", EVERY, "invalid_response")


def test_a_function_error_fails_the_whole_batch():
    result = InvokeResult(request_id="r", ok=False, error_type="Runtime.ExitError")
    assert judge(result, IDS, True) == SqsVerdict("error", EVERY, "Runtime.ExitError")


def test_without_report_batch_item_failures_the_response_is_ignored():
    assert judge(ok({"batchItemFailures": [{"itemIdentifier": "b"}]}), IDS, False) == SqsVerdict("ok")
    assert judge(ok("done"), IDS, False) == SqsVerdict("ok")
