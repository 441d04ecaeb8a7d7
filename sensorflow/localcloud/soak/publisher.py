"""What the soak publishes and how: the simulator's whole committed fleet, its reporting interval set so
the fleet sends the asked readings per second, device time running on the wall clock from the start of
the soak. Each record is published when its device would send it (a late reading when it is released),
so the rate is steady, staleness is real and nothing reads as minutes old. Every wire format is mixed
in the stream, as in the demo. Producer duplicates are left out of the scenario mix, so "nothing stored
twice" holds exactly (a producer duplicate is a second Kinesis record: ingest stores it again, by
design).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sensorflow.localcloud.cloud import LocalCloud
from sensorflow.localcloud.demo.verify import Tally
from sensorflow.localcloud.soak.options import SoakOptions

# Forced excursions (each raises, escalates and clears inside the run) so alarms show at any rate.
FORCED_EXCURSIONS = 5
START_LEAD_S = 2.0  # device time starts a moment after generation
# The producer's own cap, above the steady rate so the pacing is the device clock's: its batches are then
# a fifth of a second's worth at this cap (KinesisProducer's paced batches).
PRODUCER_CAP_FACTOR = 2.0


def fleet_config(
    options: SoakOptions, start_ms: int, glue_version_ids: Any = None, excursions: int = FORCED_EXCURSIONS
) -> Any:
    """The simulation: the whole committed fleet, one reporting interval chosen so its sensors send
    ``options.rate`` readings per second, device time from ``start_ms`` for the soak's length."""
    from sensorflow.simulate import SimConfig, load_fleet
    from sensorflow.simulate.scenarios import DEFAULT_SCENARIO_MIX, DUPLICATE

    fleet = load_fleet()
    sensors = sum(len(d.sensor_types) for d in fleet)
    return SimConfig(
        duration_s=options.minutes * 60,
        interval_s=max(1.0, sensors / options.rate),
        seed=options.seed,
        start_ms=start_ms,
        scenario_mix={k: v for k, v in DEFAULT_SCENARIO_MIX.items() if k != DUPLICATE},
        min_excursions=min(excursions, len(fleet)),
        formats=options.formats,
        schema_versions=options.schema_versions,
        glue_version_ids=glue_version_ids,
    )


def forced_excursions(options: SoakOptions) -> int:
    """``FORCED_EXCURSIONS`` when they fit in the soak's device time (an excursion takes a few minutes
    of it), else 0: the random scenarios alone. ``SimulationError`` for options nothing fits."""
    from sensorflow.simulate import SimulationError, generate

    start_ms = int(time.time() * 1000)
    try:
        generate(fleet_config(options, start_ms))  # validates and plans; generates nothing yet
        return FORCED_EXCURSIONS
    except SimulationError:
        generate(fleet_config(options, start_ms, excursions=0))
        return 0


def paced(
    records: Iterable[Any],
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
    wait: Callable[[float], object] | None = None,
) -> Iterator[Any]:
    """``records`` (device-time order), each when the wall clock reaches its device tick; ends early when
    ``stop`` is set. A late reading's tick is in the past when it is released: it goes at once."""
    wait = wait or stop.wait
    for record in records:
        if stop.is_set():
            return
        delay = record.truth["tick_ms"] / 1000 - clock()
        if delay > 0:
            wait(delay)
        if stop.is_set():
            return
        yield record


class PacedPublisher:
    """Publishes the fleet's records on a thread as their device time comes; ``published`` holds the
    readings Kinesis accepted (a KPL aggregate's sub-records each), in order."""

    def __init__(self, cloud: LocalCloud, records: list[Any], rate: float, tally: Tally) -> None:
        from sensorflow.simulate import KinesisProducer

        assert cloud.endpoint is not None and cloud.info is not None
        self.records = records
        self.tally = tally
        self.published: list[Any] = []
        self.failed = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()
        self._producer = KinesisProducer(
            cloud.endpoint.client("kinesis"),
            cloud.info.outputs["SensorStreamName"],
            rate=max(rate * PRODUCER_CAP_FACTOR, 5.0),
        )
        self._thread = threading.Thread(target=self._run, name="soak-producer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _done(self, wire_record: Any, error: str | None) -> None:
        if error is None:
            self.published.extend(wire_record.readings)
            self.tally.published = len(self.published)
        else:
            self.failed += len(wire_record.readings)

    def _run(self) -> None:
        from sensorflow.simulate import wire

        try:
            self._producer.send(wire.kinesis_records(paced(self.records, self.stop)), on_done=self._done)
        except BaseException as exc:  # reported by run_soak after the join
            self.error = exc
