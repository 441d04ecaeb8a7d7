"""The redrive ledger beside the quarantine: ``redrives/<content hash>/<attempt>.{claim,outcome}.json`` in the
quarantine bucket (``core.redrive`` says why and what the objects hold).

A claim is written with ``If-None-Match: *``, S3's conditional write: it fails with 412 PreconditionFailed
when the key exists (and 409 ConditionalRequestConflict while a concurrent write of it is in flight), so one
caller wins each attempt number:
docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html. Objects are never overwritten.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from sensorflow.adapters import clients
from sensorflow.adapters.errors import transient
from sensorflow.core.redrive import LEDGER_PREFIX, RedriveAttempt, claim_key, from_docs, outcome_key

# S3's answers to a conditional write that lost: the key exists, or another conditional write is in flight.
LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


class S3RedriveLedger:
    def __init__(self, bucket: str, client: Any = None) -> None:
        self._bucket = bucket
        self._client = client

    client = clients.lazy_client("s3")

    def attempts(self, content_hash: str) -> list[RedriveAttempt]:
        """Every recorded attempt of one payload, by attempt number."""
        keys = self._list(f"{LEDGER_PREFIX}{content_hash}/")
        docs = {key: self._get(key) for key in keys}
        out = []
        for key, doc in docs.items():
            if key.endswith(".claim.json"):
                out.append(from_docs(doc, docs.get(key.replace(".claim.json", ".outcome.json"))))
        return sorted(out, key=lambda a: a.attempt)

    def attempt_counts(self) -> Counter[str]:
        """How many attempts each content hash has (from the listing alone)."""
        counts: Counter[str] = Counter()
        for key in self._list(LEDGER_PREFIX):
            if key.endswith(".claim.json"):
                counts[key[len(LEDGER_PREFIX) :].split("/", 1)[0]] += 1
        return counts

    def claim(self, attempt: RedriveAttempt) -> bool:
        """Write the attempt's claim unless that attempt number is taken (then False)."""
        return self._put_new(claim_key(attempt.content_hash, attempt.attempt), attempt.claim_doc())

    def record_outcome(self, attempt: RedriveAttempt) -> None:
        self._put_new(outcome_key(attempt.content_hash, attempt.attempt), attempt.outcome_doc())

    def _put_new(self, key: str, doc: dict[str, Any]) -> bool:
        body = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        with transient("s3:PutObject redrive ledger"):
            try:
                self.client.put_object(
                    Bucket=self._bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*"
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in LOST_RACE:
                    return False
                raise
        return True

    def _list(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        with transient("s3:ListObjectsV2 redrive ledger"):
            return [
                obj["Key"]
                for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix)
                for obj in page.get("Contents", [])
            ]

    def _get(self, key: str) -> dict[str, Any]:
        with transient("s3:GetObject redrive ledger"):
            doc: dict[str, Any] = json.loads(
                self.client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
            )
        return doc
