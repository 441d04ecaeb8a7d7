"""SQS event source mappings with the semantics AWS documents, run against a local SQS API.

A poller long-polls ``ReceiveMessage`` (attributes ``All``) and gathers up to ``BatchSize`` messages, or
what arrived within ``MaximumBatchingWindowInSeconds`` of the first (with no window, what one receive
returned), then invokes the function synchronously with the SQS event:
- success: every message of the batch is deleted;
- a function error (or a timeout): none is; each becomes visible again when the queue's visibility timeout
  (set at receive) runs out, and is received again;
- with ``ReportBatchItemFailures``, ``batchItemFailures`` names the messages to keep: the others are
  deleted. An empty or null list is success; a response that is no JSON object, a null or empty
  ``itemIdentifier``, a wrong key or an id not in the batch fail the whole batch;
- without it, the response is ignored.
The queue's redrive policy is moto's own: a receive finding a message already received ``maxReceiveCount``
times moves it to the dead-letter queue instead of returning it (moto 5.2.5 ``sqs.models.receive_message``,
as SQS does: docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html).
Sources:
- docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (polling, batching window, the event)
- docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html (partial batch responses, retries)
- docs.aws.amazon.com/lambda/latest/dg/services-sqs-parameters.html (BatchSize default 10, window)
Simplification: one poller and one batch in flight per mapping (AWS scales pollers and concurrent
invocations up to ``MaximumConcurrency``); order and at-least-once delivery are unaffected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.localcloud.emulator.discovery import FunctionConfig, SqsMapping
from sensorflow.localcloud.emulator.event_documents import sqs_event_record
from sensorflow.localcloud.emulator.runtime_stats import Invocation, RuntimeStats
from sensorflow.localcloud.emulator.worker_pool import InvokeResult

logger = logging.getLogger(__name__)

# ReceiveMessage returns at most 10 messages and long-polls at most 20 s (SQS API reference).
RECEIVE_MAX_MESSAGES = 10
RECEIVE_MAX_WAIT_S = 20
# The idle long-poll: short, so stop() and idle() answer promptly.
RECEIVE_WAIT_S = 1
# DeleteMessageBatch takes at most 10 entries (SQS API reference).
DELETE_BATCH_MAX = 10
# Synchronous invoke payload limit; a batch stops growing before it.
# Source: docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
INVOKE_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024
SQS_RECORD_OVERHEAD_BYTES = 1_000  # the record's keys, ids, receipt handle and attributes around the body
DEFAULT_VISIBILITY_TIMEOUT_S = 30  # CreateQueue's default

Invoker = Callable[[str, dict[str, Any]], InvokeResult]


@dataclass(frozen=True, slots=True)
class SqsVerdict:
    """How Lambda reads an invocation's result for an SQS batch: the message ids to keep in the queue."""

    kind: str  # "ok", "partial", "error"
    keep: frozenset[str] = frozenset()
    reason: str = ""


def judge(result: InvokeResult, message_ids: Sequence[str], report_item_failures: bool) -> SqsVerdict:
    """Source: docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html (success and failure
    conditions of a partial batch response)."""
    every = frozenset(message_ids)
    if not result.ok:
        return SqsVerdict("error", every, result.error_type or "Unhandled")
    if not report_item_failures or result.payload is None:
        return SqsVerdict("ok")
    if not isinstance(result.payload, dict):
        return SqsVerdict("error", every, "invalid_response")
    failures = result.payload.get("batchItemFailures")
    if failures is None or failures == []:
        return SqsVerdict("ok")
    if not isinstance(failures, list):
        return SqsVerdict("error", every, "invalid_response")
    keep: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in every:
            return SqsVerdict("error", every, "invalid_response")
        keep.add(identifier)
    return SqsVerdict("partial", frozenset(keep))


class SqsEventSourceMapping:
    """One mapping: a poller that receives, invokes and deletes."""

    def __init__(
        self,
        mapping: SqsMapping,
        function: FunctionConfig,
        sqs: Any,
        invoker: Invoker,
        stats: RuntimeStats,
        *,
        receive_wait_s: int = RECEIVE_WAIT_S,
    ) -> None:
        self.mapping = mapping
        self.function = function
        self.sqs = sqs
        self.invoker = invoker
        self.stats = stats
        self.receive_wait_s = receive_wait_s
        self.stopping = threading.Event()
        self.queue_url = ""
        self.visibility_timeout_s = DEFAULT_VISIBILITY_TIMEOUT_S
        self._lock = threading.Lock()
        self._busy = True  # until the first receive has answered
        # Messages left in the queue by a failed batch: id -> monotonic time they are visible again.
        self._awaiting: dict[str, float] = {}
        self._thread = threading.Thread(target=self._run, name=f"sqs-esm-{mapping.uuid[:8]}", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> None:
        m = self.mapping
        self.queue_url = self.sqs.get_queue_url(QueueName=m.queue_name, QueueOwnerAWSAccountId=m.account)[
            "QueueUrl"
        ]
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"]
        )
        self.visibility_timeout_s = int(
            attributes.get("Attributes", {}).get("VisibilityTimeout", DEFAULT_VISIBILITY_TIMEOUT_S)
        )
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(self.receive_wait_s + 5)

    # -- observation ----------------------------------------------------------------------------------
    def idle(self) -> bool:
        """No batch in flight, the last receive found nothing, and no failed message still due back (one
        left by a failed batch counts until it was received again or, past its visibility timeout and one
        more poll, the redrive policy moved it to the dead-letter queue)."""
        now = time.monotonic()
        grace = self.receive_wait_s + 1.0
        with self._lock:
            self._awaiting = {k: at for k, at in self._awaiting.items() if at + grace > now}
            return not self._busy and not self._awaiting

    def status(self) -> dict[str, Any]:
        snap = self.stats.snapshot().get("mapping", {}).get(self.mapping.uuid, {})
        counters = ("messages_delivered", "messages_deleted", "messages_returned", "failed_invocations")
        return {
            "function": self.function.name,
            "queue": self.mapping.queue_name,
            **{k: snap.get(k, 0) for k in counters},
        }

    # -- polling --------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                messages = self._gather()
                if messages:
                    self._deliver(messages)
                else:
                    with self._lock:
                        self._busy = False
            except (ClientError, BotoCoreError) as exc:
                if self.stopping.is_set():
                    return
                logger.warning("SQS poll failed", extra={"queue": self.mapping.queue_name, "error": str(exc)})
                self.stopping.wait(1.0)
            except Exception:  # keep the poller alive; a bug here must not stop the queue silently
                logger.exception("SQS batch handling failed", extra={"queue": self.mapping.queue_name})
                self.stopping.wait(1.0)

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            with self._lock:
                self._busy = True  # until a later receive finds the queue empty
                for message in messages:
                    self._awaiting.pop(message["MessageId"], None)
        return messages

    def _gather(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages: what the first receive returns, then, with a batching window, more until
        the window closes, the batch is full or the payload nears the invoke limit.
        Source: docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#sqs-polling-behavior (batching window)"""
        m = self.mapping
        batch = self._receive(min(RECEIVE_MAX_MESSAGES, m.batch_size), self.receive_wait_s)
        if not batch or m.batching_window_s <= 0:
            return batch
        closes = time.monotonic() + m.batching_window_s
        while len(batch) < m.batch_size and _payload(batch) < INVOKE_PAYLOAD_MAX_BYTES:
            left = closes - time.monotonic()
            if left <= 0 or self.stopping.is_set():
                break
            more = self._receive(
                min(RECEIVE_MAX_MESSAGES, m.batch_size - len(batch)), min(RECEIVE_MAX_WAIT_S, int(left))
            )
            if not more and int(left) == 0:
                self.stopping.wait(min(left, 0.1))  # under a second left: short polls
            batch.extend(more)
        return batch

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        m = self.mapping
        event = {"Records": [sqs_event_record(msg, m.queue_arn, m.region) for msg in messages]}
        ids = [msg["MessageId"] for msg in messages]
        result = self.invoker(self.function.name, event)
        verdict = judge(result, ids, m.report_batch_item_failures)
        self._note(ids, result, verdict)
        done = [msg for msg in messages if msg["MessageId"] not in verdict.keep]
        self._delete(done)
        kept_until = time.monotonic() + self.visibility_timeout_s
        with self._lock:
            for identifier in verdict.keep:
                self._awaiting[identifier] = kept_until
        if verdict.keep:
            logger.warning(
                "SQS messages left for redelivery",
                extra={"queue": m.queue_name, "messages": len(verdict.keep), "reason": verdict.reason},
            )

    def _delete(self, messages: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(messages), DELETE_BATCH_MAX):
            chunk = messages[start : start + DELETE_BATCH_MAX]
            response = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": msg["ReceiptHandle"]} for i, msg in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                logger.warning(
                    "SQS delete failed",
                    extra={"queue": self.mapping.queue_name, "failed": response["Failed"]},
                )
            self.stats.add(
                "mapping", self.mapping.uuid, "messages_deleted", len(response.get("Successful", []))
            )

    def _note(self, ids: Sequence[str], result: InvokeResult, verdict: SqsVerdict) -> None:
        outcome = verdict.kind
        if result.timed_out:
            outcome = "timeout"
        elif verdict.reason == "invalid_response":
            outcome = "invalid_response"
        self.stats.record_invocation(
            Invocation(
                function=self.function.name,
                source="sqs",
                shard_id=None,
                sequence_numbers=tuple(ids),  # the batch's message ids
                outcome=outcome,
                error_type=result.error_type,
                duration_ms=result.duration_ms,
            )
        )
        uuid = self.mapping.uuid
        self.stats.add("mapping", uuid, "messages_delivered", len(ids))
        self.stats.add("mapping", uuid, "messages_returned", len(verdict.keep))
        if outcome != "ok":
            self.stats.add("mapping", uuid, "failed_invocations")


def _payload(batch: Sequence[dict[str, Any]]) -> int:
    return sum(len(msg.get("Body", "")) + SQS_RECORD_OVERHEAD_BYTES for msg in batch)
