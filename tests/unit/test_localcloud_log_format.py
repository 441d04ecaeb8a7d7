"""The local cloud's runtime.log lines: the message plus its structured keys (the old format string named
``%(__dict__)s``, which a LogRecord does not have, so every line failed to format)."""

from __future__ import annotations

import logging

from sensorflow.localcloud.cloud import ExtrasFormatter


def test_a_runtime_log_line_carries_the_structured_keys() -> None:
    record = logging.LogRecord(
        "sensorflow.localcloud.x", logging.WARNING, __file__, 1, "batch discarded", None, None
    )
    record.shard = "shardId-000000000000"
    record.first = "49"
    line = ExtrasFormatter("%(levelname)s %(name)s %(message)s").format(record)
    assert (
        line
        == 'WARNING sensorflow.localcloud.x batch discarded {"shard": "shardId-000000000000", "first": "49"}'
    )
