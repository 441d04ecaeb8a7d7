"""Benchmark: simulation speed and PutRecords throughput against a local moto server.

Not collected by pytest (the file name does not start with ``test_``). Run it with

    .venv/bin/python -m tests.bench.bench_simulate [--devices 200] [--duration 3600] [--shards 1]

It starts moto on 127.0.0.1 (a free port; in a thread by default, or ``--subprocess`` for a separate
process that does not share the GIL with the producer), creates a stream, and prints records/s for
generation alone and for publishing (per slice of 10,000 records, then overall), next to one shard's
1,000 records/s write limit. moto 5.2.5 finds a shard's last sequence number by listing all its records,
so each put costs O(records already in the shard): publishing slows as the shard fills, and more
shards go faster. That is moto, not the producer; on AWS the CLI paces to the shards' limits.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.config import Config

from sensorflow.simulate import KinesisProducer, SimConfig, generate
from sensorflow.simulate.producer import SHARD_RECORDS_PER_S

STREAM = "bench-sensors"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server(in_subprocess: bool) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    if in_subprocess:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    else:
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield url
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of device time")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--slice", type=int, default=10_000, help="report records/s per this many records")
    parser.add_argument("--subprocess", action="store_true", help="run moto in a separate process")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the threaded server logs every request
    config = SimConfig(devices=args.devices, duration_s=args.duration, seed=1, start_ms=1_767_225_600_000)

    t0 = time.perf_counter()
    records = list(generate(config))
    gen_s = time.perf_counter() - t0
    payload = sum(len(r.data) for r in records)
    print(
        f"simulated  {len(records):,} records, {payload:,} payload bytes "
        f"({args.devices} devices, {args.duration:g} s of device time)"
    )
    print(f"generate   {len(records) / gen_s:,.0f} records/s ({gen_s:.2f} s, no I/O)")

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    where = "subprocess" if args.subprocess else "thread"
    with moto_server(args.subprocess) as url:
        client = boto3.client(
            "kinesis", endpoint_url=url, region_name="us-east-1", config=Config(retries={"mode": "standard"})
        )
        client.create_stream(StreamName=STREAM, ShardCount=args.shards)
        producer = KinesisProducer(client, STREAM)
        sent = calls = nbytes = 0
        elapsed = 0.0
        for i in range(0, len(records), args.slice):
            report = producer.send(records[i : i + args.slice])
            sent, calls, nbytes, elapsed = (
                sent + report.sent,
                calls + report.calls,
                nbytes + report.bytes,
                elapsed + report.elapsed_s,
            )
            print(
                f"  records {i + 1:>7,}..{i + report.sent + report.failed:<7,} "
                f"{report.records_per_s:>8,.0f} records/s"
            )
    rate = sent / elapsed
    print(
        f"publish    {rate:,.0f} records/s overall, {nbytes / elapsed / 1e6:,.2f} MB/s "
        f"({sent:,} sent in {calls} PutRecords calls, {elapsed:.1f} s; "
        f"moto in a {where}, {args.shards} shard(s))"
    )
    print(
        f"vs shard   {rate / SHARD_RECORDS_PER_S:,.1f}x one shard's "
        f"{SHARD_RECORDS_PER_S:,} records/s write limit"
    )


if __name__ == "__main__":
    main()
