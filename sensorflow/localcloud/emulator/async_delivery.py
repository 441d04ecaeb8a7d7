"""SNS subscriptions, EventBridge rules and schedules that target Lambda functions, delivered locally.

moto's CloudFormation reports ``AWS::SNS::Subscription`` as created but never creates it, and moto cannot
invoke Lambda without Docker. So every subscription the deployed template declares (read back with
``cloudformation.get_template``) is created here: one with protocol ``sqs`` as declared (queue, raw
delivery, filter policy), and for one with protocol ``lambda`` a tap SQS queue is subscribed to the topic
with the same filter policy; moto then applies the filter and wraps each message in SNS's JSON envelope,
which is re-shaped into the exact Lambda SNS event. For an EventBridge rule with a Lambda target, the target
is replaced (same target Id) by a tap SQS queue, so moto's own pattern matching decides what the function
sees: moto 5.2.5 answers PutEvents with HTTP 500 (NotImplementedError in ``send_to_targets``) when a
matching rule has a Lambda target, so the Lambda target cannot stay in place. The tap queue is tagged with
the function name, so a restarted runtime finds the route again. Schedule rules (``rate``/``cron``) fire on
a local timer with the scheduled-event shape.

Invocations are asynchronous, like on AWS (``async_invoke.AsyncInvoker``): each function's
``EventInvokeConfig`` from the template decides the retries, the event age and the destinations.
Source: docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.localcloud.emulator.async_invoke import (
    AWS_RETRY_DELAYS_S,
    AsyncInvoker,
    InvokeConfig,
    invoke_configs,
)
from sensorflow.localcloud.emulator.discovery import FunctionConfig
from sensorflow.localcloud.emulator.endpoint import LOCAL_ACCOUNT_ID
from sensorflow.localcloud.emulator.event_documents import eventbridge_event, scheduled_event, sns_event
from sensorflow.localcloud.emulator.runtime_stats import RuntimeStats
from sensorflow.localcloud.emulator.schedules import ScheduleError, now_utc, parse
from sensorflow.localcloud.emulator.worker_pool import InvokeResult

logger = logging.getLogger(__name__)

RECEIVE_WAIT_S = 1  # SQS long-poll wait for tap queues
SQS_RECEIVE_MAX = 10  # ReceiveMessage MaxNumberOfMessages limit (SQS API reference)
TAP_PREFIX = "sensorflow-localcloud-tap-"
TAP_FUNCTION_TAG = "sensorflow:localcloud:function"


class FunctionRuntime(Protocol):
    """What async delivery needs of the runtime that owns it (``runtime.LocalRuntime`` is one): the
    deployed functions, clients on the local endpoint, an asynchronous invoke and the counters.

    A protocol rather than an import, so the runtime can import and type its ``Fanout`` without a cycle."""

    @property
    def functions(self) -> Mapping[str, FunctionConfig]: ...

    @property
    def stats(self) -> RuntimeStats: ...

    def client(self, service: str) -> Any: ...

    def invoke_async(
        self, function_name: str, event: dict[str, Any], source: str, request_id: str | None = None
    ) -> InvokeResult: ...

    def send_to_destination(self, arn: str, document: dict[str, Any]) -> None: ...

    def reserved_concurrency(self, function_name: str) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """One emulated route: a source (topic, rule) to a function."""

    kind: str  # "sns", "events", "schedule"
    name: str
    function: str
    source_arn: str
    queue_url: str | None = None
    subscription_arn: str | None = None
    schedule: str | None = None
    constant_input: str | None = None
    filter_policy: str | None = None  # an SNS route's filter policy, as subscribed


@dataclass(frozen=True, slots=True)
class QueueSubscription:
    """An SNS -> SQS subscription from the template, created as declared."""

    name: str
    topic_arn: str
    queue_arn: str
    subscription_arn: str


class Fanout:
    def __init__(
        self,
        runtime: FunctionRuntime,
        stack_name: str,
        *,
        async_retry_delays_s: tuple[float, ...] = AWS_RETRY_DELAYS_S,
    ) -> None:
        self.runtime = runtime
        self.stack_name = stack_name
        self.invoke_configs: dict[str, InvokeConfig] = {}
        self.async_invoker = AsyncInvoker(
            self._invoke_function,
            self._send_to_destination,
            lambda: self.invoke_configs,
            lambda name: self.runtime.functions[name].arn,
            retry_delays_s=async_retry_delays_s,
            on_outcome=lambda source, function, outcome: self.runtime.stats.add("delivery", source, outcome),
            throttled=lambda function: self.runtime.reserved_concurrency(function) == 0,
        )
        self.deliveries: list[Delivery] = []
        self.queue_subscriptions: list[QueueSubscription] = []
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy: dict[str, bool] = {}
        self._kinds: dict[str, str] = {}  # delivery name -> its kind, for the invocation history
        self._lock = threading.Lock()

    # -- discovery ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.invoke_configs = self.read_invoke_configs()
        self.deliveries = [*self._sns_deliveries(), *self._rule_deliveries()]
        for delivery in self.deliveries:
            target = self._poll if delivery.queue_url else self._timer
            thread = threading.Thread(
                target=target, args=(delivery,), name=f"fanout-{delivery.name}", daemon=True
            )
            self._busy[delivery.name] = delivery.queue_url is not None
            self._threads.append(thread)
            thread.start()

    def function_names(self) -> set[str]:
        return {d.function for d in self.deliveries}

    def _function_for(self, arn_or_ref: Any, physical: dict[str, str]) -> str | None:
        if isinstance(arn_or_ref, dict) and "Fn::GetAtt" in arn_or_ref:
            logical = arn_or_ref["Fn::GetAtt"][0]
            name = physical.get(logical)
        elif isinstance(arn_or_ref, str) and ":function:" in arn_or_ref:
            name = arn_or_ref.split(":function:", 1)[1].split(":", 1)[0]
        else:
            return None
        return name if name in self.runtime.functions else None

    def _tap_queue(self, name: str, function: str) -> tuple[str, str]:
        sqs = self.runtime.client("sqs")
        digest = hashlib.sha1(name.encode()).hexdigest()[:10]
        url = sqs.create_queue(QueueName=f"{TAP_PREFIX}{digest}", tags={TAP_FUNCTION_TAG: function})[
            "QueueUrl"
        ]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _tapped_function(self, arn: str) -> str | None:
        """The function behind a tap queue this runtime (or an earlier one) put in place of a target."""
        if not arn.startswith("arn:aws:sqs:") or TAP_PREFIX not in arn:
            return None
        sqs = self.runtime.client("sqs")
        url = sqs.get_queue_url(QueueName=arn.split(":")[5])["QueueUrl"]
        function = sqs.list_queue_tags(QueueUrl=url).get("Tags", {}).get(TAP_FUNCTION_TAG)
        return function if function in self.runtime.functions else None

    def _template(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The deployed template and the physical id of each of its resources."""
        cloudformation = self.runtime.client("cloudformation")
        body = cloudformation.get_template(StackName=self.stack_name)["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        resources = cloudformation.get_paginator("list_stack_resources").paginate(StackName=self.stack_name)
        physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for p in resources
            for r in p["StackResourceSummaries"]
        }
        return template, physical

    def read_invoke_configs(self) -> dict[str, InvokeConfig]:
        template, physical = self._template()

        def resolve(value: Any) -> str | None:
            if (
                isinstance(value, dict) and "Ref" in value
            ):  # a topic's Ref is its ARN; a function's is its name
                ref = physical.get(value["Ref"], "")
                return self.runtime.functions[ref].arn if ref in self.runtime.functions else ref or None
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                name = physical.get(value["Fn::GetAtt"][0], "")
                if name in self.runtime.functions:
                    return self.runtime.functions[name].arn
                return self._queue_arn(value, physical)
            return value if isinstance(value, str) and value else None

        return invoke_configs(template, physical, resolve)

    def _template_subscriptions(self) -> list[tuple[str, dict[str, Any], str, dict[str, str]]]:
        """``(logical id, properties, topic ARN, physical ids)`` of every SNS subscription the deployed
        template declares (``AWS::SNS::Subscription`` and a topic's inline ``Subscription`` list), minus
        those whose ``Condition`` left them out of the stack."""
        template, physical = self._template()
        found: list[tuple[str, dict[str, Any]]] = []
        for logical, resource in template.get("Resources", {}).items():
            props = resource.get("Properties", {})
            if resource.get("Condition") and logical not in physical:
                continue  # its condition was false: CloudFormation did not create it
            if resource.get("Type") == "AWS::SNS::Subscription":
                found.append((logical, props))
            if resource.get("Type") == "AWS::SNS::Topic":
                for i, inline in enumerate(props.get("Subscription", [])):
                    found.append((f"{logical}-{i}", {**inline, "TopicArn": {"Ref": logical}}))
        out = []
        for logical, props in found:
            topic = props.get("TopicArn")
            topic_arn = physical.get(topic["Ref"]) if isinstance(topic, dict) and "Ref" in topic else topic
            if isinstance(topic_arn, str) and topic_arn:
                out.append((logical, props, topic_arn, physical))
            else:
                logger.warning("SNS subscription not emulated", extra={"subscription": logical})
        return out

    @staticmethod
    def _subscription_attributes(props: dict[str, Any], raw: bool) -> dict[str, str]:
        attributes = {"RawMessageDelivery": "true" if raw else "false"}
        if props.get("FilterPolicy"):
            policy = props["FilterPolicy"]
            attributes["FilterPolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
            attributes["FilterPolicyScope"] = props.get("FilterPolicyScope", "MessageAttributes")
        return attributes

    def _sns_deliveries(self) -> list[Delivery]:
        """Lambda subscriptions become tap queues polled by the runtime; SQS subscriptions are created as
        declared (moto's CloudFormation records them without subscribing anything)."""
        sns = self.runtime.client("sns")
        out = []
        for logical, props, topic_arn, physical in self._template_subscriptions():
            protocol = props.get("Protocol")
            if protocol == "sqs":
                queue_arn = self._queue_arn(props.get("Endpoint"), physical)
                if queue_arn is None:
                    logger.warning("SNS subscription not emulated", extra={"subscription": logical})
                    continue
                raw = str(props.get("RawMessageDelivery", "false")).lower() == "true"
                subscription_arn = sns.subscribe(
                    TopicArn=topic_arn,
                    Protocol="sqs",
                    Endpoint=queue_arn,
                    Attributes=self._subscription_attributes(props, raw),
                    ReturnSubscriptionArn=True,
                )["SubscriptionArn"]
                self.queue_subscriptions.append(
                    QueueSubscription(logical, topic_arn, queue_arn, subscription_arn)
                )
                continue
            if protocol != "lambda":
                continue  # email, https, ...: nothing local to deliver to
            function = self._function_for(props.get("Endpoint"), physical)
            if function is None:
                logger.warning("SNS subscription not emulated", extra={"subscription": logical})
                continue
            url, queue_arn = self._tap_queue(f"sns:{logical}", function)
            # The tap wraps each message in SNS's JSON envelope, which becomes the Lambda SNS record.
            attributes = self._subscription_attributes(props, raw=False)
            subscription_arn = sns.subscribe(
                TopicArn=topic_arn,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes=attributes,
                ReturnSubscriptionArn=True,
            )["SubscriptionArn"]
            out.append(
                Delivery(
                    "sns",
                    logical,
                    function,
                    topic_arn,
                    url,
                    subscription_arn,
                    filter_policy=attributes.get("FilterPolicy"),
                )
            )
        return out

    def _queue_arn(self, endpoint: Any, physical: dict[str, str]) -> str | None:
        """The queue ARN of an SQS subscription's ``Endpoint`` (an ARN, or ``Fn::GetAtt [Queue, Arn]``)."""
        if isinstance(endpoint, str) and endpoint.startswith("arn:"):
            return endpoint
        if not (isinstance(endpoint, dict) and "Fn::GetAtt" in endpoint):
            return None
        queue = physical.get(endpoint["Fn::GetAtt"][0])
        if not queue:
            return None
        sqs = self.runtime.client("sqs")
        url = queue if queue.startswith("http") else sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return arn

    def _rule_deliveries(self) -> list[Delivery]:
        events = self.runtime.client("events")
        out = []
        buses = [b["Name"] for b in events.list_event_buses().get("EventBuses", [])]
        for bus in buses:
            for rule in events.list_rules(EventBusName=bus).get("Rules", []):
                if rule.get("State") != "ENABLED":
                    continue
                targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus).get("Targets", [])
                for target in targets:
                    function = self._function_for(target["Arn"], {}) or self._tapped_function(target["Arn"])
                    if function is None:
                        continue
                    name = f"{bus}/{rule['Name']}/{target['Id']}"
                    if rule.get("ScheduleExpression"):
                        out.append(
                            Delivery(
                                "schedule",
                                name,
                                function,
                                rule["Arn"],
                                schedule=rule["ScheduleExpression"],
                                constant_input=target.get("Input"),
                            )
                        )
                        continue
                    url, queue_arn = self._tap_queue(f"events:{name}", function)
                    tap: dict[str, Any] = {"Id": target["Id"], "Arn": queue_arn}
                    for key in ("Input", "InputPath", "InputTransformer"):
                        if key in target:
                            tap[key] = target[key]
                    events.put_targets(Rule=rule["Name"], EventBusName=bus, Targets=[tap])
                    out.append(Delivery("events", name, function, rule["Arn"], url))
        return out

    # -- delivery -------------------------------------------------------------------------------------
    def _invoke(self, delivery: Delivery, event: Any) -> None:
        """Hand the event to the function's asynchronous queue (retries and destinations happen there)."""
        self._kinds[delivery.name] = delivery.kind
        self.async_invoker.submit(delivery.function, event, delivery.name)

    def _invoke_function(
        self, function: str, event: dict[str, Any], request_id: str, source: str
    ) -> InvokeResult:
        return self.runtime.invoke_async(function, event, self._kinds.get(source, source), request_id)

    def _send_to_destination(self, arn: str, record: dict[str, Any]) -> None:
        """An async invocation record to its destination: SQS, SNS, a Lambda function or an event bus."""
        service = arn.split(":")[2]
        if service == "lambda":
            function = arn.split(":function:", 1)[1].split(":", 1)[0]
            self.async_invoker.submit(function, record, "destination")
        elif service == "events":
            # Source: invocation-async-retain-records.html (EventBridge destination event shape)
            condition = record["requestContext"]["condition"]
            detail_type = "Lambda Function Invocation Result - " + (
                "Success" if condition == "Success" else "Failure"
            )
            self.runtime.client("events").put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": detail_type,
                        "Detail": json.dumps(record),
                        "EventBusName": arn,
                        "Resources": [record["requestContext"]["functionArn"], arn],
                    }
                ]
            )
        else:
            self.runtime.send_to_destination(arn, record)

    def _poll(self, delivery: Delivery) -> None:
        sqs = self.runtime.client("sqs")
        while not self._stopping.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=delivery.queue_url,
                    MaxNumberOfMessages=SQS_RECEIVE_MAX,
                    WaitTimeSeconds=RECEIVE_WAIT_S,
                ).get("Messages", [])
            except (ClientError, BotoCoreError) as exc:
                if self._stopping.is_set():
                    return
                logger.warning(
                    "tap queue receive failed", extra={"delivery": delivery.name, "error": str(exc)}
                )
                self._stopping.wait(1.0)
                continue
            with self._lock:
                self._busy[delivery.name] = bool(messages)
            for message in messages:
                body = json.loads(message["Body"])
                if delivery.kind == "sns":
                    # One record per invocation, as Lambda delivers SNS notifications.
                    event = sns_event(delivery.subscription_arn or delivery.source_arn, [body])
                else:
                    event = eventbridge_event(body, LOCAL_ACCOUNT_ID)
                self._invoke(delivery, event)
                sqs.delete_message(QueueUrl=delivery.queue_url, ReceiptHandle=message["ReceiptHandle"])
            with self._lock:
                self._busy[delivery.name] = False if not messages else self._busy[delivery.name]

    def _timer(self, delivery: Delivery) -> None:
        assert delivery.schedule is not None
        try:
            schedule = parse(delivery.schedule)
        except ScheduleError as exc:
            logger.warning("schedule not emulated", extra={"rule": delivery.name, "error": str(exc)})
            return
        due: datetime = schedule.next_after(now_utc())
        region = delivery.source_arn.split(":")[3]
        while not self._stopping.wait(max(0.0, (due - now_utc()).total_seconds())):
            if delivery.constant_input is not None:
                event = json.loads(delivery.constant_input)
            else:
                event = scheduled_event(delivery.source_arn, region, LOCAL_ACCOUNT_ID, due.timestamp())
            self._invoke(delivery, event)  # asynchronous: a slow run never delays the next one
            due = schedule.next_after(due)
            now = now_utc()
            while due <= now:
                # The runtime fell behind (suspended, overloaded): EventBridge does not fire the missed
                # runs back to back once it catches up, so neither does this (counted, not replayed).
                self.runtime.stats.add("delivery", delivery.name, "missed_runs")
                due = schedule.next_after(due)

    # -- observation ----------------------------------------------------------------------------------
    def idle(self) -> bool:
        with self._lock:
            busy = any(self._busy.values())
        return not busy and self.async_invoker.idle()

    def status(self) -> dict[str, Any]:
        snap = self.runtime.stats.snapshot().get("delivery", {})
        return {
            d.name: {
                "kind": d.kind,
                "function": d.function,
                "delivered": snap.get(d.name, {}).get("delivered", 0),
                "dropped": snap.get(d.name, {}).get("dropped", 0),
            }
            for d in self.deliveries
        }

    def settled(self) -> bool:
        """Idle, and every tap queue empty with nothing in flight (asks SQS: for an end-of-run check,
        not a tight loop)."""
        if not self.idle():
            return False
        sqs = self.runtime.client("sqs")
        names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        for delivery in self.deliveries:
            if delivery.queue_url is None:
                continue
            attributes = sqs.get_queue_attributes(QueueUrl=delivery.queue_url, AttributeNames=list(names))
            if any(int(attributes["Attributes"].get(n, 0)) for n in names):
                return False
        return self.idle()

    def stop(self) -> None:
        self._stopping.set()
        self.async_invoker.stop()
        for thread in self._threads:
            thread.join(RECEIVE_WAIT_S + 5)
