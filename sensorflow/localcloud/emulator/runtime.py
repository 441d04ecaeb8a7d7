"""The local Lambda runtime: runs deployed functions for their event sources.

Everything it runs comes from the local Lambda API (functions, handlers, environment, timeout, memory,
event source mappings) and the deployed CloudFormation template, never from ``serverless.yml``: what was
deployed is the truth, exactly as on AWS.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sensorflow.localcloud.emulator.async_delivery import Fanout
from sensorflow.localcloud.emulator.async_invoke import AWS_RETRY_DELAYS_S
from sensorflow.localcloud.emulator.discovery import (
    FunctionConfig,
    KinesisMapping,
    SqsMapping,
    list_functions,
    list_kinesis_mappings,
    list_sqs_mappings,
)
from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.kinesis_esm import KinesisEventSourceMapping, ResumePoint
from sensorflow.localcloud.emulator.runtime_stats import Invocation, RuntimeStats
from sensorflow.localcloud.emulator.sqs_esm import SqsEventSourceMapping
from sensorflow.localcloud.emulator.unemulated import Unemulated, mapping_settings, report, template_settings
from sensorflow.localcloud.emulator.worker_pool import FunctionPool, InvokeResult, lambda_environment

logger = logging.getLogger(__name__)

CONCURRENCY_REFRESH_S = 2.0  # how often a function's reserved concurrency is re-read
# How often what is deployed is read again: Lambda applies mapping updates "within seconds"
# (docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parameters.html), and a redeploy lands the same way.
RECONCILE_S = 3.0


class LocalRuntime:
    """Execution environments per function plus the pollers and taps that invoke them."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        task_root: Path,
        log_dir: Path,
        worker_endpoint_url: str | None = None,
        clock: Callable[[], float] = time.time,
        retry_backoff: Callable[[int], float] | None = None,
        stack_name: str | None = None,
        async_retry_delays_s: tuple[float, ...] = AWS_RETRY_DELAYS_S,
    ) -> None:
        self.endpoint = endpoint
        self.task_root = task_root
        self.log_dir = log_dir
        self.worker_endpoint_url = worker_endpoint_url or endpoint.url
        self.clock = clock
        self.retry_backoff = retry_backoff
        self.stack_name = stack_name
        self.async_retry_delays_s = async_retry_delays_s
        self._concurrency: dict[str, tuple[float, int | None]] = {}  # function -> (read at, reserved)
        self.stats = RuntimeStats()
        self.functions: dict[str, FunctionConfig] = {}
        self.mappings: list[KinesisEventSourceMapping] = []
        self.queue_mappings: list[SqsEventSourceMapping] = []  # SQS event source mappings
        self.fanout: Fanout | None = None
        self._pools: dict[str, FunctionPool] = {}
        self._pools_lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._started = False
        self._resume: dict[str, dict[str, ResumePoint]] = {}  # mapping uuid -> shard -> where to carry on
        self._reconciling = threading.Event()
        self._reconciler: threading.Thread | None = None
        self._reconcile_lock = threading.Lock()
        self.unemulated: list[str] = []  # what the last reconcile found deployed but not emulated
        self._template_unemulated: list[Unemulated] = []
        self._stack_version: str | None = None  # the stack's last update time, as last seen

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.endpoint.client(service, max_pool_connections=50)
        return self._clients[service]

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self, *, warm: bool = True) -> None:
        """Read what is deployed and start delivering events to it."""
        lambda_client = self.client("lambda")
        self.functions = list_functions(lambda_client)
        mappings = list_kinesis_mappings(lambda_client)
        for mapping in mappings:
            self._start_mapping(mapping)
        for queue_mapping in list_sqs_mappings(lambda_client):
            self._start_queue_mapping(queue_mapping)
        if self.stack_name:
            self.fanout = Fanout(self, self.stack_name, async_retry_delays_s=self.async_retry_delays_s)
            self.fanout.start()
        if warm:
            targets = {m.function.name for m in self.mappings} | {
                q.function.name for q in self.queue_mappings
            }
            if self.fanout is not None:
                targets |= self.fanout.function_names()
            threads = [threading.Thread(target=self.pool(name).warm) for name in sorted(targets)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        self._started = True
        self._reconciler = threading.Thread(target=self._reconcile_loop, name="reconcile", daemon=True)
        self._reconciler.start()

    # -- reconcile --------------------------------------------------------------------------------------
    def _reconcile_loop(self) -> None:
        while not self._reconciling.wait(RECONCILE_S):
            try:
                self.reconcile()
            except (ClientError, BotoCoreError) as exc:
                logger.warning("reconcile failed", extra={"error": str(exc)})

    def reconcile(self) -> None:
        """Apply what is deployed now: a disabled, deleted or changed mapping stops (keeping its
        checkpoint); a new or re-enabled one starts from its checkpoint or starting position; a function
        whose configuration changed gets new execution environments; invoke configs are re-read."""
        with self._reconcile_lock:
            lambda_client = self.client("lambda")
            functions = list_functions(lambda_client)
            changed = {
                name for name, config in functions.items() if self.functions.get(name) not in (None, config)
            }
            self.functions = functions
            for name in changed:
                self._retire_pool(name)
            self._reconcile_streams(list_kinesis_mappings(lambda_client), changed)
            self._reconcile_queues(list_sqs_mappings(lambda_client), changed)
            deployed_again = self._stack_changed()
            if self.fanout is not None and deployed_again:
                self.fanout.invoke_configs = self.fanout.read_invoke_configs()
            self._report_unemulated(deployed_again)
            self.stats.add("runtime", "reconcile", "runs")

    def _reconcile_streams(self, deployed: list[KinesisMapping], changed: set[str]) -> None:
        wanted = {m.uuid: m for m in deployed}
        for esm in list(self.mappings):
            current = wanted.get(esm.mapping.uuid)
            if current == esm.mapping and esm.function.name not in changed:
                del wanted[esm.mapping.uuid]
                continue
            esm.stop()
            self._resume[esm.mapping.uuid] = esm.resume_points()
            self.mappings.remove(esm)
            logger.info(
                "stream mapping stopped", extra={"uuid": esm.mapping.uuid, "enabled": current is not None}
            )
        for mapping in wanted.values():
            self._start_mapping(mapping)

    def _reconcile_queues(self, deployed: list[SqsMapping], changed: set[str]) -> None:
        wanted = {m.uuid: m for m in deployed}
        for esm in list(self.queue_mappings):
            current = wanted.get(esm.mapping.uuid)
            if current == esm.mapping and esm.function.name not in changed:
                del wanted[esm.mapping.uuid]
                continue
            esm.stop()
            self.queue_mappings.remove(esm)
        for mapping in wanted.values():
            self._start_queue_mapping(mapping)

    def _stack_changed(self) -> bool:
        """Whether the stack was (re)deployed since the last look: its template is re-read only then."""
        if not self.stack_name:
            return False
        stack = self.client("cloudformation").describe_stacks(StackName=self.stack_name)["Stacks"][0]
        version = str(stack.get("LastUpdatedTime") or stack.get("CreationTime"))
        changed, self._stack_version = version != self._stack_version, version
        return changed

    def _report_unemulated(self, deployed_again: bool) -> None:
        """A deploy against the running cloud may add settings the runtime cannot honour: say so once each.
        Mappings are read every time (the Lambda API changes them without a deploy); the template only
        after a deploy."""
        if deployed_again and self.stack_name:
            self._template_unemulated = template_settings(self.client("cloudformation"), self.stack_name)
        lines = report(mapping_settings(self.client("lambda")) + self._template_unemulated)
        for line in sorted(set(lines) - set(self.unemulated)):
            logger.warning("setting not emulated", extra={"setting": line})
        self.unemulated = lines

    def _retire_pool(self, function_name: str) -> None:
        with self._pools_lock:
            pool = self._pools.pop(function_name, None)
        if pool is not None:
            pool.close()

    def _start_mapping(self, mapping: KinesisMapping) -> None:
        function = self.functions.get(mapping.function_name)
        if function is None:
            logger.warning("mapping targets an unknown function", extra={"function": mapping.function_arn})
            return
        esm = KinesisEventSourceMapping(
            mapping,
            function,
            self.client("kinesis"),
            self.invoke,
            self.send_to_destination,
            self.stats,
            clock=self.clock,
            retry_backoff=self.retry_backoff,
            reserved_concurrency=self.reserved_concurrency,
            iterator_age_sink=self.put_iterator_age,
            resume=self._resume.get(mapping.uuid),
        )
        self.mappings.append(esm)
        esm.start()

    def _start_queue_mapping(self, mapping: SqsMapping) -> None:
        function = self.functions.get(mapping.function_name)
        if function is None:
            logger.warning("mapping targets an unknown function", extra={"function": mapping.function_arn})
            return
        esm = SqsEventSourceMapping(mapping, function, self.client("sqs"), self.invoke, self.stats)
        try:
            esm.start()
        except (ClientError, BotoCoreError) as exc:  # a queue deleted since: the other sources still run
            logger.warning("SQS mapping not started", extra={"queue": mapping.queue_arn, "error": str(exc)})
            return
        self.queue_mappings.append(esm)

    def stop(self) -> None:
        self._reconciling.set()
        if self._reconciler is not None:
            self._reconciler.join(10)
        if self.fanout is not None:
            self.fanout.stop()
        for queue_esm in self.queue_mappings:
            queue_esm.stopping.set()  # all pollers stop together, then each is joined
        for queue_esm in self.queue_mappings:
            queue_esm.stop()
        for esm in self.mappings:
            esm.stop()
        with self._pools_lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    # -- invocation -----------------------------------------------------------------------------------
    def pool(self, function_name: str) -> FunctionPool:
        with self._pools_lock:
            pool = self._pools.get(function_name)
            if pool is None:
                function = self.functions[function_name]
                env = lambda_environment(
                    function, self.worker_endpoint_url, self.endpoint.region, self.task_root
                )
                pool = FunctionPool(function, env, self.task_root, self.log_dir / f"{function_name}.log")
                self._pools[function_name] = pool
            return pool

    def invoke(self, function_name: str, event: dict[str, Any]) -> InvokeResult:
        return self.pool(function_name).invoke(event)

    def invoke_async(
        self, function_name: str, event: dict[str, Any], source: str, request_id: str | None = None
    ) -> InvokeResult:
        """One attempt of an asynchronous invoke (SNS, EventBridge, schedules): recorded, errors logged."""
        result = self.pool(function_name).invoke(event, request_id)
        self.stats.record_invocation(
            Invocation(
                function=function_name,
                source=source,
                shard_id=None,
                sequence_numbers=(),
                outcome="ok" if result.ok else ("timeout" if result.timed_out else "error"),
                error_type=result.error_type,
                duration_ms=result.duration_ms,
            )
        )
        if not result.ok:
            logger.warning(
                "async invocation failed",
                extra={"function": function_name, "error_type": result.error_type, "source": source},
            )
        return result

    def reserved_concurrency(self, function_name: str) -> int | None:
        """The function's reserved concurrency (None: unreserved), re-read every few seconds so that
        ``aws lambda put-function-concurrency --reserved-concurrent-executions 0`` pauses it live."""
        now = time.monotonic()
        read_at, value = self._concurrency.get(function_name, (0.0, None))
        if now - read_at >= CONCURRENCY_REFRESH_S:
            try:
                response = self.client("lambda").get_function_concurrency(FunctionName=function_name)
                value = response.get("ReservedConcurrentExecutions")
            except (ClientError, BotoCoreError) as exc:
                logger.warning(
                    "GetFunctionConcurrency failed", extra={"function": function_name, "error": str(exc)}
                )
            self._concurrency[function_name] = (now, value)
        return value

    def put_iterator_age(self, function_name: str, age_ms: float) -> None:
        """The AWS/Lambda ``IteratorAge`` metric (Maximum per minute is what alarms read), to CloudWatch."""
        try:
            self.client("cloudwatch").put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": "IteratorAge",
                        "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
                        "Value": age_ms,
                        "Unit": "Milliseconds",
                    }
                ],
            )
        except (ClientError, BotoCoreError) as exc:
            logger.warning("PutMetricData failed", extra={"function": function_name, "error": str(exc)})

    def send_to_destination(self, arn: str, document: dict[str, Any]) -> None:
        """Deliver an on-failure record to an SQS queue or SNS topic destination."""
        body = json.dumps(document)
        service = arn.split(":")[2]
        if service == "sqs":
            sqs = self.client("sqs")
            account, name = arn.split(":")[4], arn.split(":")[5]
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            self.client("sns").publish(TopicArn=arn, Message=body)
        else:
            logger.warning("unsupported on-failure destination", extra={"destination": arn})

    # -- observation ----------------------------------------------------------------------------------
    def idle(self) -> bool:
        """True when every shard is read to its end and no batch, queue message or notification is waiting."""
        streams_idle = all(esm.idle() for esm in self.mappings)
        queues_idle = all(esm.idle() for esm in self.queue_mappings)
        fanout_idle = self.fanout is None or self.fanout.idle()
        return streams_idle and queues_idle and fanout_idle

    def wait_idle(self, timeout_s: float, settle_s: float = 0.6) -> bool:
        """Wait until :meth:`idle` has held for ``settle_s``; False on timeout."""
        deadline = time.monotonic() + timeout_s
        since: float | None = None
        while time.monotonic() < deadline:
            if self.idle():
                since = since or time.monotonic()
                if time.monotonic() - since >= settle_s:
                    return True
            else:
                since = None
            time.sleep(0.1)
        return False

    def status(self) -> dict[str, Any]:
        snap = self.stats.snapshot()
        streams: dict[str, Any] = {}
        for esm in self.mappings:
            name = esm.mapping.stream_name
            entry = streams.setdefault(
                name, {"records_seen": 0, "pending": 0, "iterator_age_ms": 0.0, "shards": 0}
            )
            entry["records_seen"] = snap.get("stream", {}).get(name, {}).get("records_seen", 0)
            entry["pending"] += esm.pending()
            entry["iterator_age_ms"] = max(entry["iterator_age_ms"], round(esm.iterator_age_ms(), 1))
            entry["shards"] = max(entry["shards"], len(esm.consumers))
        functions = {
            name: {
                "invocations": snap.get("function", {}).get(name, {}).get("invocations", 0),
                "failures": snap.get("function", {}).get(name, {}).get("failures", 0),
                "timeouts": snap.get("function", {}).get(name, {}).get("timeouts", 0),
            }
            for name in sorted(self.functions)
        }
        mappings = {
            esm.mapping.uuid: {
                "function": esm.function.name,
                "stream": esm.mapping.stream_name,
                **{
                    k: snap.get("mapping", {}).get(esm.mapping.uuid, {}).get(k, 0)
                    for k in (
                        "records_delivered",
                        "failed_invocations",
                        "retries",
                        "bisections",
                        "batches_discarded",
                        "records_discarded",
                    )
                },
            }
            for esm in self.mappings
        }
        out = {"streams": streams, "functions": functions, "mappings": mappings}
        if self.queue_mappings:
            out["queue_mappings"] = {q.mapping.uuid: q.status() for q in self.queue_mappings}
        if self.fanout is not None:
            out["subscriptions"] = self.fanout.status()
            out["queue_subscriptions"] = {
                q.name: {"topic": q.topic_arn, "queue": q.queue_arn} for q in self.fanout.queue_subscriptions
            }
        return out
