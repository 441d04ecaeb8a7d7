"""What a fault looks like on the wire, shared by the botocore injector and the loopback proxy.

Each service answers in its own protocol (botocore's service models): S3 REST-XML, SNS the query protocol
(form body, XML answer), SQS / EventBridge / DynamoDB / Kinesis / Glue JSON with ``X-Amz-Target``. A fault
must be the exact error the service returns, so botocore's retry modes classify it as on AWS: throttling
codes are in ``botocore.retries.standard``'s throttled list, internal errors are HTTP 500 (transient).

A ``partial`` fault is an HTTP 200 whose batch has failed entries. The request is rewritten to the
surviving entries (:func:`rewrite`), those go to the backend, and its answer is merged with the failed
ones in the service's own shape (:func:`merge`), so the backend only stores what the client is told
succeeded. The rewritten body is not re-signed: moto does not check signatures.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

MESSAGE = "injected by the sensorflow fault plan"
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_SNS_NS = "http://sns.amazonaws.com/doc/2010-03-31/"
_SNS_MEMBER = re.compile(r"^PublishBatchRequestEntries\.member\.(\d+)\.(.*)$")

# (HTTP status, error code) per service. Throttling: S3 "SlowDown" 503 (S3 error responses), DynamoDB and
# Kinesis "ProvisionedThroughputExceededException", SNS "Throttling" (the query APIs' common error),
# EventBridge / Glue / SQS "ThrottlingException". Internal errors: S3 "InternalError", DynamoDB
# "InternalServerError", the others "InternalFailure".
THROTTLE = {
    "s3": (503, "SlowDown"),
    "dynamodb": (400, "ProvisionedThroughputExceededException"),
    "kinesis": (400, "ProvisionedThroughputExceededException"),
    "sns": (400, "Throttling"),
    "events": (400, "ThrottlingException"),
    "glue": (400, "ThrottlingException"),
    "sqs": (400, "ThrottlingException"),
}
HTTP500 = {"s3": (500, "InternalError"), "dynamodb": (500, "InternalServerError")}
DEFAULT_HTTP500 = (500, "InternalFailure")
# The code a failed entry of a partial answer carries: retryable for each service's batch call.
ENTRY_CODES = {
    "events": "ThrottlingException",
    "kinesis": "ProvisionedThroughputExceededException",
    "sns": "InternalError",
    "sqs": "InternalError",
}


def describe_request(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str]:
    """``(service, operation)`` of a signed AWS request (the SigV4 scope names the service)."""
    match = _SCOPE.search(headers.get("Authorization", "") or "")
    service = match.group(1) if match else ""
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    if service == "s3":
        parts = urlsplit(path).path.lstrip("/").split("/", 1)
        has_key = len(parts) == 2 and parts[1] != ""
        verbs = {"PUT": "PutObject", "GET": "GetObject", "DELETE": "DeleteObject", "HEAD": "HeadObject"}
        return service, verbs.get(method, method) if has_key else f"{method}Bucket"
    if body and b"Action=" in body:
        return service, parse_qs(body.decode(errors="replace")).get("Action", [""])[0]
    return service, ""


@dataclass(frozen=True, slots=True)
class WireResponse:
    status: int
    headers: dict[str, str]
    body: bytes


def error_code(kind: str, service: str) -> tuple[int, str]:
    if kind == "throttle":
        return THROTTLE.get(service, (400, "ThrottlingException"))
    return HTTP500.get(service, DEFAULT_HTTP500)


def error_response(service: str, status: int, code: str, json_protocol: bool) -> WireResponse:
    """The error ``service`` answers with ``code``, in its protocol."""
    headers = {"x-amzn-ErrorType": code, "x-amzn-RequestId": "sensorflow-faults"}
    if json_protocol:
        body = json.dumps({"__type": code, "message": MESSAGE}).encode()
        if service == "sqs":  # awsQueryCompatible: botocore reads the query-style code from this header
            headers["x-amzn-query-error"] = f"{code};Receiver"
        return WireResponse(status, {**headers, "Content-Type": "application/x-amz-json-1.1"}, body)
    if service == "s3":
        xml = (
            "<?xml version='1.0' encoding='UTF-8'?>"
            f"<Error><Code>{code}</Code><Message>{MESSAGE}</Message></Error>"
        )
        return WireResponse(status, {**headers, "Content-Type": "application/xml"}, xml.encode())
    xml = (
        f"<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>{MESSAGE}</Message>"
        "</Error><RequestId>sensorflow-faults</RequestId></ErrorResponse>"
    )
    return WireResponse(status, {**headers, "Content-Type": "text/xml"}, xml.encode())


# -- partial failures ------------------------------------------------------------------------------------


def entry_count(service: str, operation: str, body: bytes) -> int:
    """How many entries the batch call carries (0 for any other call or an unreadable body)."""
    try:
        return len(_entries(service, operation, body))
    except (ValueError, KeyError, TypeError, AttributeError):
        return 0


def _entries(service: str, operation: str, body: bytes) -> list[Any]:
    if service == "sns" and operation == "PublishBatch":
        return sorted(_sns_members(body)[1])
    doc = json.loads(body or b"{}")
    if service == "events" and operation == "PutEvents":
        return list(doc["Entries"])
    if service == "kinesis" and operation == "PutRecords":
        return list(doc["Records"])
    if service == "sqs" and operation == "SendMessageBatch":
        return list(doc["Entries"])
    if service == "dynamodb" and operation == "BatchWriteItem":
        return [(t, r) for t, reqs in doc["RequestItems"].items() for r in reqs]
    if service == "dynamodb" and operation == "BatchGetItem":
        return [(t, k) for t, spec in doc["RequestItems"].items() for k in spec["Keys"]]
    return []


def _sns_members(body: bytes) -> tuple[list[tuple[str, str]], dict[int, list[tuple[str, str]]]]:
    common: list[tuple[str, str]] = []
    members: dict[int, list[tuple[str, str]]] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        m = _SNS_MEMBER.match(key)
        if m:
            members.setdefault(int(m.group(1)), []).append((m.group(2), value))
        else:
            common.append((key, value))
    return common, members


@dataclass(frozen=True, slots=True)
class PartialRewrite:
    """The surviving request (``None``: every entry failed, nothing to forward) and what failed."""

    service: str
    operation: str
    forward: bytes | None
    failed: tuple[Any, ...]  # the failed entries, in request order
    layout: tuple[bool, ...]  # per original entry: True if it failed
    original: bytes


def rewrite(service: str, operation: str, body: bytes, failed: tuple[int, ...]) -> PartialRewrite:
    """Split a batch request into the entries to forward and the ``failed`` indexes."""
    entries = _entries(service, operation, body)
    fail = set(failed)
    layout = tuple(i in fail for i in range(len(entries)))
    keep = [e for i, e in enumerate(entries) if i not in fail]
    lost = tuple(e for i, e in enumerate(entries) if i in fail)
    forward = _forward_body(service, operation, body, keep) if keep else None
    return PartialRewrite(service, operation, forward, lost, layout, body)


def _forward_body(service: str, operation: str, body: bytes, keep: list[Any]) -> bytes:
    if service == "sns":
        common, members = _sns_members(body)
        pairs = list(common)
        for n, index in enumerate(keep, start=1):
            pairs += [(f"PublishBatchRequestEntries.member.{n}.{k}", v) for k, v in members[index]]
        return urlencode(pairs).encode()
    doc = json.loads(body)
    if operation in ("PutEvents", "SendMessageBatch"):
        doc["Entries"] = keep
    elif operation == "PutRecords":
        doc["Records"] = keep
    elif operation == "BatchWriteItem":
        doc["RequestItems"] = _group(keep)
    elif operation == "BatchGetItem":
        tables = doc["RequestItems"]
        doc["RequestItems"] = {t: {**tables[t], "Keys": keys} for t, keys in _group(keep).items()}
    return json.dumps(doc).encode()


def _group(pairs: list[Any] | tuple[Any, ...]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for table, item in pairs:
        out.setdefault(table, []).append(item)
    return out


def merge(rw: PartialRewrite, backend: bytes | None) -> bytes:
    """The answer to the original request: the backend's for the forwarded entries (``None`` when nothing
    was forwarded), with the failed entries added as the service reports them."""
    if rw.service == "sns":
        return _merge_sns(rw, backend)
    doc = json.loads(backend) if backend else {}
    code = ENTRY_CODES.get(rw.service, "InternalFailure")
    failed_entry = {"ErrorCode": code, "ErrorMessage": MESSAGE}
    if rw.operation in ("PutEvents", "PutRecords"):
        items_key, count_key = (
            ("Entries", "FailedEntryCount")
            if rw.operation == "PutEvents"
            else (
                "Records",
                "FailedRecordCount",
            )
        )
        got = iter(doc.get(items_key, []))
        doc[items_key] = [dict(failed_entry) if lost else next(got) for lost in rw.layout]
        doc[count_key] = int(doc.get(count_key, 0)) + len(rw.failed)
    elif rw.operation == "SendMessageBatch":
        doc.setdefault("Successful", [])
        doc["Failed"] = list(doc.get("Failed", [])) + [
            {"Id": e["Id"], "SenderFault": False, "Code": code, "Message": MESSAGE} for e in rw.failed
        ]
    elif rw.operation == "BatchWriteItem":
        unprocessed = doc.get("UnprocessedItems") or {}
        for table, requests in _group(rw.failed).items():
            unprocessed.setdefault(table, []).extend(requests)
        doc["UnprocessedItems"] = unprocessed
    elif rw.operation == "BatchGetItem":
        tables = json.loads(rw.original)["RequestItems"]
        unprocessed = doc.get("UnprocessedKeys") or {}
        for table, keys in _group(rw.failed).items():
            spec = unprocessed.setdefault(table, {**tables[table], "Keys": []})
            spec["Keys"] = list(spec.get("Keys", [])) + keys
        doc.setdefault("Responses", {t: [] for t in tables})
        doc["UnprocessedKeys"] = unprocessed
    return json.dumps(doc).encode()


def _merge_sns(rw: PartialRewrite, backend: bytes | None) -> bytes:
    ET.register_namespace("", _SNS_NS)
    if backend:
        root = ET.fromstring(backend)
    else:
        root = ET.fromstring(
            f'<PublishBatchResponse xmlns="{_SNS_NS}"><PublishBatchResult><Successful/><Failed/>'
            "</PublishBatchResult><ResponseMetadata><RequestId>sensorflow-faults</RequestId>"
            "</ResponseMetadata></PublishBatchResponse>"
        )
    result = root.find(f"{{{_SNS_NS}}}PublishBatchResult")
    assert result is not None, "PublishBatch answer without PublishBatchResult"
    failed = result.find(f"{{{_SNS_NS}}}Failed")
    if failed is None:
        failed = ET.SubElement(result, f"{{{_SNS_NS}}}Failed")
    _, members = _sns_members(rw.original)
    for index in rw.failed:
        member = ET.SubElement(failed, f"{{{_SNS_NS}}}member")
        entry_id = dict(members[index]).get("Id", "")
        for tag, text in (
            ("Id", entry_id),
            ("Code", ENTRY_CODES["sns"]),
            ("Message", MESSAGE),
            ("SenderFault", "false"),
        ):
            ET.SubElement(member, f"{{{_SNS_NS}}}{tag}").text = text
    return ET.tostring(root, encoding="utf-8", xml_declaration=False)
