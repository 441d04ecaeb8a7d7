"""Benchmark: decode + checks per record, the cost fastavro.validate would add, and the whole
ingest service per batch with in-memory fakes. Prints figures; asserts nothing about speed.

    .venv/bin/python -m tests.bench.bench_decode
"""

from __future__ import annotations

import time
import tracemalloc

import fastavro

from sensorflow.core import schemas
from sensorflow.core.checks import check_reading
from sensorflow.core.decode import ReadingDecoder, encode_reading
from sensorflow.services.ingest import IngestService
from tests.factories import NOW_MS, device, reading, stream_record
from tests.fakes import FakeAlarms, FakeQuarantineSink, FakeReadingSink, FakeRegistry

N = 50_000


def per_second(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    payloads = [
        encode_reading(reading(device_id=f"dev-{i % 200:05d}", seq=i, value=20 + i % 30)) for i in range(N)
    ]
    decoder = ReadingDecoder()
    schema = schemas.load(schemas.READING)

    def decode_only() -> None:
        for p in payloads:
            decoder.decode(p)

    def decode_and_check() -> None:
        for p in payloads:
            check_reading(decoder.decode(p), NOW_MS)

    decoded = [{**reading(device_id=f"dev-{i % 200:05d}", seq=i, value=20 + i % 30)} for i in range(N // 10)]

    def validate() -> None:
        for r in decoded:
            fastavro.validate(r, schema, raise_errors=True)

    svc = IngestService(
        FakeRegistry([device(f"dev-{i:05d}") for i in range(200)]),
        FakeReadingSink(),
        FakeQuarantineSink(),
        FakeAlarms(),
    )
    batch = [stream_record(p, i) for i, p in enumerate(payloads[:500])]

    def service() -> None:
        for _ in range(20):
            svc.process(batch, lambda: 60_000)

    tracemalloc.start()
    svc.process(batch, lambda: 60_000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"payload size            : {sum(map(len, payloads)) / N:.1f} bytes/record")
    print(f"decode                  : {per_second(decode_only, N):,.0f} records/s")
    print(f"decode + checks         : {per_second(decode_and_check, N):,.0f} records/s")
    print(f"fastavro.validate alone : {per_second(validate, N // 10):,.0f} records/s (not used per record)")
    print(f"ingest service (fakes)  : {per_second(service, 20 * 500):,.0f} records/s, batches of 500")
    print(f"peak memory, one batch  : {peak / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
