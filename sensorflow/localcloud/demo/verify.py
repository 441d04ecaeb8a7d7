"""What the demo checks after the run: every record accounted for, the transitions the simulator's ground
truth predicts, one webhook message per transition notify's filter accepts and does not find suppressed,
and the alarm lifecycle the demo forced (a reminder, an acknowledged latched alarm, silenced transitions
that notified nobody).

``TransitionObserver`` taps the alerts topic while the demo runs; the rest reads the stack back (S3,
DynamoDB, SQS, the webhook receiver) once it has settled. Only reads: driving the run is ``drive``'s job.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sensorflow.localcloud.cloud import LocalCloud

NOTIFY_FUNCTION_SUFFIX = "-notify"
TRANSITION_KEYS = {
    "Alarm Raised": "raised",
    "Alarm Escalated": "escalated",
    "Alarm Cleared": "cleared",
    "Device Stale": "stale",
}
# Counted with the others, but not the ground truth's: reminders depend on when the heartbeat looks.
REMINDER = "Alarm Reminder"
SILENCED = "silenced"
_EVENT_ID_IN_MESSAGE = re.compile(r"\bevent ([0-9a-f]{32})\b")


@dataclass(slots=True)
class Tally:
    published: int = 0
    # event id -> (transition, severity, alarm id), each transition once however often it was published
    transitions: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    messages: int = 0  # SNS messages on the raw tap, republished ones included
    notify_accepted: set[str] = field(default_factory=set)  # event ids notify's filter policy lets through
    suppressed: dict[str, str] = field(default_factory=dict)  # event id -> reason ("silenced", "inhibited")

    def alarms(self) -> dict[str, int]:
        counts = dict.fromkeys([*TRANSITION_KEYS.values(), "reminder"], 0)
        for transition, _, _ in self.transitions.values():
            key = "reminder" if transition == REMINDER else TRANSITION_KEYS.get(transition)
            if key:
                counts[key] += 1
        return counts

    def of_kind(self, transition: str) -> set[str]:
        return {e for e, (t, _, _) in self.transitions.items() if t == transition}

    def alerts(self) -> dict[str, int]:
        """Raised + Escalated transitions by severity."""
        counts: Counter[str] = Counter(
            severity
            for transition, severity, _ in self.transitions.values()
            if transition in ("Alarm Raised", "Alarm Escalated")
        )
        return dict(sorted(counts.items()))


def function_named(cloud: LocalCloud, suffix: str) -> str | None:
    """The deployed function whose name ends with ``suffix`` (``-heartbeat``, ``-notify``)."""
    assert cloud.runtime is not None
    return next((name for name in cloud.runtime.functions if name.endswith(suffix)), None)


def _delivered(cloud: LocalCloud) -> Counter[str]:
    """Webhook messages per event id (notify's message names the event in its context block)."""
    assert cloud.webhook is not None
    delivered: Counter[str] = Counter()
    for message in cloud.webhook.messages():
        for block in message.get("blocks", []):
            for element in block.get("elements", []) if block.get("type") == "context" else []:
                match = _EVENT_ID_IN_MESSAGE.search(str(element.get("text", "")))
                if match:
                    delivered[match.group(1)] += 1
    return delivered


def delivered_event_ids(cloud: LocalCloud) -> set[str]:
    return set(_delivered(cloud))


def notifications(cloud: LocalCloud, tally: Tally) -> dict[str, Any]:
    """Webhook messages, and whether there is exactly one per transition notify's filter accepts and notify
    does not skip as suppressed (a silenced or inhibited transition notifies nobody)."""
    assert cloud.webhook is not None
    messages = cloud.webhook.messages()
    delivered = _delivered(cloud)
    expected = tally.notify_accepted - set(tally.suppressed)
    twice = sorted(e for e, n in delivered.items() if n > 1)
    missing = sorted(expected - set(delivered))
    unexpected = sorted(set(delivered) - expected)
    return {
        "notifications_delivered": len(messages),
        "notifications_expected": len(expected),
        "notifications_match": len(messages) == len(expected) and not (twice or missing or unexpected),
        "notifications_problems": {"twice": twice, "missing": missing, "unexpected": unexpected},
    }


def lifecycle_counts(
    cloud: LocalCloud, tally: Tally, plan: Any, silence: dict[str, Any], latched: dict[str, Any]
) -> dict[str, Any]:
    """What came of the lifecycle the demo forced (``lifecycle``): reminders seen on the topic and at the
    webhook, the latched alarm acknowledged and its clear delivered, silenced transitions and how many of
    them reached the webhook (none should). ``planned`` says which of them the run was set up to show."""
    delivered = delivered_event_ids(cloud)
    reminders = tally.of_kind(REMINDER)
    silenced = {e for e, reason in tally.suppressed.items() if reason == SILENCED}
    return {
        "planned": {
            "reminder": plan.reminder_type is not None,
            "latched": plan.latch_type is not None,
            "silenced": silence.get("silence_id") is not None,
        },
        "reminders": {"observed": len(reminders), "delivered": len(reminders & delivered)},
        "latched": {k: latched.get(k) for k in ("latched", "acknowledged", "cleared", "alarm_id")},
        "silenced": {
            "published": len(silenced),
            "delivered": len(silenced & delivered),
            "silence_id": silence.get("silence_id"),
            "matchers": silence.get("matchers", {}),
        },
        "repeat_every_s": plan.repeat_every_s,
    }


def read_incidents(cloud: LocalCloud) -> dict[str, int]:
    """Incidents the incidents function opened, and how many are resolved (a Scan: fine for a demo)."""
    assert cloud.endpoint is not None and cloud.info is not None
    table = cloud.info.outputs.get("IncidentsTableName")
    counts = {"opened": 0, "resolved": 0}
    if not table:
        return counts
    dynamodb = cloud.endpoint.client("dynamodb")
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            if item.get("kind", {}).get("S") != "incident":
                continue
            counts["opened"] += 1
            if item.get("status", {}).get("S") == "RESOLVED":
                counts["resolved"] += 1
    return counts


def queue_depth(cloud: LocalCloud, output: str) -> int | None:
    assert cloud.endpoint is not None and cloud.info is not None
    url = cloud.info.outputs.get(output)
    if not url:
        return None
    sqs = cloud.endpoint.client("sqs")
    url = sqs.get_queue_url(QueueName=url.rsplit("/", 1)[-1])["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def truth_check(
    records: list[Any],
    tally: Tally,
    heartbeat_ms: int | None,
    heartbeats_during_replay: int,
    acknowledged: Sequence[str] = (),
) -> dict[str, Any]:
    """Compare the transitions seen with ``sensorflow.simulate.truth`` (when the simulator has it).

    Reading-caused transitions are deterministic (device time, replay-safe high-water marks): they must
    match exactly. ``Device Stale`` depends on when the heartbeat looked: it is checked against the
    first run after the drain, unless a run during the replay saw a half-replayed fleet (then stale
    raises and their clears are timing, not pipeline behaviour, and are reported unchecked).
    ``acknowledged``: the alarm ids of LATCHED alarms the demo acknowledged; each adds the "Alarm Cleared"
    that ends its episode, with the episode's severity (the truth of a latched alarm has no clear)."""
    try:
        from sensorflow.simulate import truth
    except ImportError:
        return {
            "ok": None,
            "why": "the simulator has no ground-truth transitions (sensorflow.simulate.truth)",
        }
    stale_checked = heartbeat_ms is not None and heartbeats_during_replay == 0
    expected = truth.expected_transitions(records, now_ms=heartbeat_ms if stale_checked else None)
    for alarm_id in acknowledged:
        episode = expected.setdefault(alarm_id, [])
        episode.append(("Alarm Cleared", episode[-1][1] if episode else "warning"))
    seen: dict[str, list[tuple[str, str]]] = {}
    for transition, severity, alarm_id in sorted(tally.transitions.values(), key=lambda t: t[2]):
        if transition not in TRANSITION_KEYS:
            continue
        is_stale = transition == "Device Stale" or alarm_id.endswith(f"#{truth.STALE_RULE_ID}")
        if is_stale and not stale_checked:
            continue
        seen.setdefault(alarm_id, []).append((transition, severity))
    expected_counts = truth.summary(expected)
    seen_counts = truth.summary(seen)
    mismatches = []
    for alarm_id in sorted(set(expected) | set(seen)):
        want, got = sorted(expected.get(alarm_id, [])), sorted(seen.get(alarm_id, []))
        if want != got:
            mismatches.append({"alarm_id": alarm_id, "expected": want, "seen": got})
    return {
        "ok": not mismatches,
        "expected": expected_counts,
        "seen": seen_counts,
        "stale_checked": stale_checked,
        "mismatches": mismatches,
    }


@dataclass(slots=True)
class Stored:
    """What the stack holds after a run: readings by (device, seq), quarantined records by where they were
    in the stream, the reason of each (counted once), and the partition key and bytes of each."""

    readings: Counter[tuple[str, int]]
    quarantined: Counter[tuple[str, str, int | None]]
    reasons: Counter[str]
    payloads: list[tuple[str, bytes]]

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.readings.values()) + sum(n - 1 for n in self.quarantined.values())


def read_back(cloud: LocalCloud, records: Sequence[Any]) -> dict[str, Any]:
    """Count each record ``read_stored`` found once. Each is also counted under the wire format it was
    sent in (``formats``: published / enriched / quarantined per format, from the records' truth)."""
    stored = read_stored(cloud)
    return {
        "published": len(records),
        "enriched": len(stored.readings),
        "quarantined": dict(sorted(stored.reasons.items())),
        "duplicates": stored.duplicates,
        "accounted": len(stored.readings) + len(stored.quarantined),
        "formats": format_counts(records, stored.readings, stored.payloads),
    }


def read_stored(cloud: LocalCloud) -> Stored:
    """Read every stored reading and quarantine line from S3: a reading by (device, seq), a quarantined
    record by its shard, sequence number and, for a KPL sub-record, its position (sub-records share the
    parent's sequence number)."""
    import fastavro

    assert cloud.endpoint is not None and cloud.info is not None
    s3 = cloud.endpoint.client("s3")
    readings: Counter[tuple[str, int]] = Counter()
    for key in _keys(s3, cloud.info.outputs["ReadingsBucketName"], "readings/"):
        body = s3.get_object(Bucket=cloud.info.outputs["ReadingsBucketName"], Key=key)["Body"].read()
        for row in fastavro.reader(io.BytesIO(body)):
            assert isinstance(row, dict)
            readings[(row["device_id"], row["seq"])] += 1
    quarantined: Counter[tuple[str, str, int | None]] = Counter()
    reasons: Counter[str] = Counter()
    payloads: list[tuple[str, bytes]] = []
    for key in _keys(s3, cloud.info.outputs["QuarantineBucketName"], "quarantine/year="):
        # Readings only: quarantined transitions (quarantine/transitions/) are not published records.
        body = s3.get_object(Bucket=cloud.info.outputs["QuarantineBucketName"], Key=key)["Body"].read()
        for line in body.decode().splitlines():
            if line.strip():
                entry = json.loads(line)
                where = (entry["shard_id"], entry["sequence_number"], entry.get("sub_sequence_number"))
                quarantined[where] += 1
                if quarantined[where] == 1:
                    reasons[entry["reason"]] += 1
                    payloads.append((entry["partition_key"], base64.b64decode(entry["payload"])))
    return Stored(readings, quarantined, reasons, payloads)


def format_counts(
    records: Sequence[Any], readings: Counter[tuple[str, int]], payloads: list[tuple[str, bytes]]
) -> dict[str, dict[str, int]]:
    """Published, enriched and quarantined records per wire format (``truth["format"]``): a stored reading
    is found by (device, seq), a quarantined one by its partition key and exact bytes."""
    by_reading: dict[tuple[str, int], str] = {}
    by_bytes: dict[tuple[str, bytes], str] = {}
    out: dict[str, dict[str, int]] = {}
    for r in records:
        fmt = r.truth.get("format", "raw")
        out.setdefault(fmt, {"published": 0, "enriched": 0, "quarantined": 0})["published"] += 1
        by_reading.setdefault((r.truth["device_id"], r.truth["seq"]), fmt)
        by_bytes.setdefault((r.partition_key, r.data), fmt)
    for key in readings:
        fmt = by_reading.get(key, "unknown")
        out.setdefault(fmt, {"published": 0, "enriched": 0, "quarantined": 0})["enriched"] += 1
    for sent in payloads:
        fmt = by_bytes.get(sent, "unknown")
        out.setdefault(fmt, {"published": 0, "enriched": 0, "quarantined": 0})["quarantined"] += 1
    return dict(sorted(out.items()))


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []))
    return keys


def expected_outcomes(records: list[Any]) -> dict[str, int]:
    return dict(Counter(r.truth["outcome"] for r in records))


def crossing_readings(records: list[Any]) -> int:
    """Stored readings past a warning or critical bound: what one-alert-per-reading would have sent."""
    return sum(
        1
        for r in records
        if r.truth.get("outcome") == "stored" and r.truth.get("expected_level") in ("warning", "critical")
    )


class TransitionObserver:
    """Two queues on the alerts topic, as any subscriber would have them:

    - a tap with no filter: every transition once per publish (severity from its message attributes,
      event id, transition and alarm from the body); republished events are counted once by event id;
    - a tap with notify's own filter policy (read back from notify's subscription): the transitions SNS
      routes to notify, so "one webhook message per event notify receives" can be checked exactly.
    """

    def __init__(self, cloud: LocalCloud, tally: Tally) -> None:
        assert cloud.endpoint is not None and cloud.info is not None and cloud.runtime is not None
        self.sqs = cloud.endpoint.client("sqs")
        sns = cloud.endpoint.client("sns")
        topic = cloud.info.outputs["AlertsTopicArn"]
        self.tally = tally
        notify = function_named(cloud, NOTIFY_FUNCTION_SUFFIX)
        policy = next(
            (
                d.filter_policy
                for d in (cloud.runtime.fanout.deliveries if cloud.runtime.fanout else [])
                if d.kind == "sns" and d.function == notify and d.source_arn == topic
            ),
            None,
        )
        self.queues: list[tuple[str, str]] = []
        for name, kind, attributes in (
            ("sensorflow-demo-transitions", "all", {}),
            ("sensorflow-demo-notify-filter", "notify", {"FilterPolicy": policy} if policy else {}),
        ):
            url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes=attributes)
            self.queues.append((url, kind))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-transitions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._drain_once()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._drain_once():
                self._stop.wait(0.5)

    def _drain_once(self) -> bool:
        got = False
        for url, kind in self.queues:
            while True:
                messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not messages:
                    break
                got = True
                for message in messages:
                    envelope = json.loads(message["Body"])
                    event = json.loads(envelope["Message"])
                    if kind == "notify":
                        self.tally.notify_accepted.add(event["event_id"])
                        continue
                    self.tally.messages += 1
                    attributes = envelope.get("MessageAttributes", {})
                    severity = attributes.get("severity", {}).get("Value", "unknown")
                    alarm_id = event.get("alarm", {}).get("alarm_id", "")
                    self.tally.transitions[event["event_id"]] = (event["transition"], severity, alarm_id)
                    suppressed = event.get("suppressed")
                    if isinstance(suppressed, dict) and suppressed.get("reason"):
                        self.tally.suppressed[event["event_id"]] = str(suppressed["reason"])
                self.sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
                    ],
                )
        return got


def verdicts(summary: dict[str, Any]) -> dict[str, bool | None]:
    """The checks of the exit code; ``None`` for a check that could not be made (the lifecycle ones when
    the fleet or the rules leave no room for what they show)."""
    accounted = (
        summary["drained"] and summary["duplicates"] == 0 and summary["accounted"] == summary["published"]
    )
    life = summary["lifecycle"]
    planned = life["planned"]
    latched, silenced = life["latched"], life["silenced"]
    formats = summary["formats"]
    return {
        "accounted": accounted,
        # every format's records all enriched or quarantined, and none the demo did not send
        "formats": bool(formats)
        and all(f["published"] == f["enriched"] + f["quarantined"] for f in formats.values()),
        "notifications": summary["notifications_match"],
        "truth": summary["truth"]["ok"],
        "reminders": life["reminders"]["observed"] >= 1 if planned["reminder"] else None,
        "latched": (latched["acknowledged"] or 0) >= 1 and (latched["cleared"] or 0) >= 1
        if planned["latched"]
        else None,
        "silenced": silenced["published"] >= 1 and silenced["delivered"] == 0
        if planned["silenced"]
        else None,
    }
