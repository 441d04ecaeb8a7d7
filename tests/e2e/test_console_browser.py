"""The operator console in a real browser: Debian's chromium, headless, driven by Selenium through
/usr/bin/chromedriver, against a local cloud whose pipeline has raised an alarm.

GIVEN a local cloud (moto server + ``npx sls deploy`` + the local runtime) and readings of a seeded device
above its humidity rule's critical level, put on the stream, WHEN the console for stage ``local`` is
opened, THEN the table shows the raised alarm; clicking its ack button acknowledges it (in DynamoDB, with
the console's ``--by`` and the STS caller ARN, and on the page); and the transition shows up under recent
transitions. ``CONSOLE_SCREENSHOT=docs/console.png`` also saves the alarms page there (the README's
picture); otherwise the screenshot goes to the test's temporary directory.

chromium must be started with the flags below on a machine without network: without them it tries to
reach Google's services at start-up and hangs on those connections.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sensorflow import bootstrap
from sensorflow.adapters import clients as cached_clients
from sensorflow.core import alarms as am
from sensorflow.localcloud.cloud import CloudInfo, LocalCloud
from sensorflow.localcloud.deploy import seed_registry
from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.simulate.payloads import ReadingEncoder

REPO = Path(__file__).resolve().parents[2]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1500,900",
)
# This test's own devices (the shared cloud's fleet is left to the other tests), with markup and quotes in
# the registry's site: the page must show it as text. Rule humidity-range: critical > 90, warning > 80.
DEVICE, WARNING_DEVICE = "console-e2e-critical", "console-e2e-warning"
SITE = 'lab <i>"north"</i>'
TEAM = "console-team"
DEVICES = [
    {
        "device_id": device,
        "site": site,
        "location": "bench-1",
        "model": "TH-200",
        "owner_team": TEAM,
        "sensor_types": ["humidity"],
    }
    for device, site in ((DEVICE, SITE), (WARNING_DEVICE, "lab-south"))
]
ALARM = f"{DEVICE}#humidity#humidity-range"
BY = "console-e2e"
DEADLINE_S = 60


def wait_for[T](what: str, probe: Callable[[], T | None], deadline_s: float = DEADLINE_S) -> T:
    end = time.monotonic() + deadline_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"not within {deadline_s:.0f} s: {what}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def cloud(local_cloud: LocalCloud) -> CloudInfo:
    """The tier's shared local cloud, with this test's two devices added to its registry."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(
            "chromium and chromium-driver are not installed: run `make setup` as root, or "
            "`sudo apt-get install chromium chromium-driver`"
        )
    info = local_cloud.info
    assert info is not None
    endpoint = Endpoint(info.endpoint, info.region)
    seed_registry(endpoint, info.outputs["DeviceTableName"], [dict(d) for d in DEVICES])
    return info


@pytest.fixture
def stage_env(cloud: CloudInfo, monkeypatch: pytest.MonkeyPatch) -> Iterator[CloudInfo]:
    """The environment `sensorflow console` runs with against this local cloud (its exports)."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for key, value in cloud.exports().items():
        monkeypatch.setenv(key, value)
    cached_clients.reset()
    yield cloud
    cached_clients.reset()


def put_readings(endpoint: Endpoint, stream: str, device: str, values: list[float]) -> None:
    encoder = ReadingEncoder()
    now = time.time_ns() // 1_000_000
    records = [
        {
            "Data": encoder.encode(
                {
                    "device_id": device,
                    "sensor_type": "humidity",
                    "value": value,
                    "unit": "%RH",
                    "timestamp": now - (len(values) - i) * 1000,
                    "seq": i + 1,
                    "battery_pct": 80.0,
                    "firmware": "2.1.0",
                    "firmware_generation": 1,
                    "battery_mv": None,
                }
            ),
            "PartitionKey": device,
        }
        for i, value in enumerate(values)
    ]
    endpoint.client("kinesis").put_records(StreamName=stream, Records=records)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_console_shows_a_raised_alarm_acks_it_in_the_browser_and_lists_the_transition(
    stage_env: CloudInfo, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    from sensorflow.cli.console.app import ConsoleServer
    from sensorflow.cli.console.routes import Console
    from sensorflow.cli.console.stage import open_stage

    # GIVEN readings above the critical humidity level (and another device's above the warning level)
    info = stage_env
    endpoint = Endpoint(info.endpoint, info.region)
    stream = info.outputs["SensorStreamName"]
    put_readings(endpoint, stream, DEVICE, [95.0, 96.0, 97.0, 96.5, 95.5])
    put_readings(endpoint, stream, WARNING_DEVICE, [84.0, 85.0, 86.0])
    store = bootstrap.build_alarm_store(info.outputs["AlarmsTableName"], endpoint.client("dynamodb"))

    def raised() -> am.Alarm | None:
        stored = store.get_alarm(ALARM)
        return stored.alarm if stored is not None and stored.alarm.state == am.ACTIVE else None

    started = time.monotonic()
    wait_for(f"{ALARM} ACTIVE in DynamoDB", raised)
    print(f"alarm raised after {time.monotonic() - started:.1f} s")
    # WHEN the console of stage local is opened (as `sensorflow console --stage local --by console-e2e`)
    source, actions = open_stage(info.stage, info.region, BY)
    server = ConsoleServer(Console(source, actions, 0), 0).start()
    try:
        browser.get(server.url)
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-alarm="{ALARM}"]')
        # THEN the table shows the raised alarm, critical and ACTIVE, with its device's site and last value
        assert row.get_attribute("data-state") == am.ACTIVE
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells[:6] == [
            am.ACTIVE,
            "critical",
            DEVICE,
            "humidity / humidity-range",
            SITE,
            TEAM,
        ]
        assert cells[7] == "95.5"
        # WHEN its ack button is clicked
        row.find_element(By.CSS_SELECTOR, "input[name=note]").send_keys("looking at it")
        row.find_element(By.CSS_SELECTOR, "button.ack").click()
        # THEN the page says so and shows it ACKNOWLEDGED by the console's operator
        outcome = wait_for(
            "the outcome after ack",
            lambda: browser.find_elements(By.CSS_SELECTOR, "#flash, #error"),
        )
        assert outcome[0].text == f"{ALARM}: ACKNOWLEDGED (Alarm Acknowledged)"
        row = browser.find_element(By.CSS_SELECTOR, f'tr[data-alarm="{ALARM}"]')
        assert row.get_attribute("data-state") == am.ACKNOWLEDGED
        # AND DynamoDB holds it acknowledged, with the same identity the CLI records
        stored = store.get_alarm(ALARM)
        assert stored is not None
        acked = stored.alarm
        caller = endpoint.client("sts").get_caller_identity()["Arn"]
        assert (acked.state, acked.acknowledged_by, acked.caller_arn, acked.note) == (
            am.ACKNOWLEDGED,
            BY,
            caller,
            "looking at it",
        )
        shot = tmp_path / "console.png"
        browser.save_screenshot(str(shot))
        if os.environ.get("CONSOLE_SCREENSHOT"):
            shutil.copyfile(shot, REPO / os.environ["CONSOLE_SCREENSHOT"])

        # AND the acknowledgement appears under recent transitions, newest first, once a consumer recorded it
        def acknowledged_listed() -> list[str] | None:
            browser.get(server.url + "transitions")
            rows = browser.find_elements(By.CSS_SELECTOR, "#transitions tbody tr")
            texts = [r.text for r in rows if ALARM in r.text]
            return texts if texts and "Alarm Acknowledged" in texts[0] else None

        started = time.monotonic()
        listed = wait_for("Alarm Acknowledged under recent transitions", acknowledged_listed)
        print(f"transition listed after {time.monotonic() - started:.1f} s")
        assert "Alarm Acknowledged" in listed[0] and BY in listed[0]
        assert any("Alarm Raised" in t for t in listed[1:])
        # AND the device page charts its readings and lists its history
        browser.get(server.url + f"device?id={DEVICE}")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#readings svg circle")) == 5
        assert "Alarm Acknowledged" in browser.find_element(By.ID, "history").text
    finally:
        server.stop()
