"""The local cloud serves local programs only: no web page, no other user, no leak into the functions.

- the moto server and the fault proxy refuse what a browser sends (an ``Origin``, a ``Sec-Fetch-Site``
  other than same-origin, a ``Host`` that is not their loopback address: DNS rebinding);
- the control port wants the token of the state file, which only the user can read (0600);
- a worker sees its function's environment and the runtime's, never a variable of the parent's.
"""

from __future__ import annotations

import http.client
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from sensorflow.cli.errors import UsageError
from sensorflow.cli.local_command import fetch_status
from sensorflow.localcloud.cloud import STATE_FILE, CloudInfo, LocalCloud, control_headers, read_state
from sensorflow.localcloud.emulator.discovery import FunctionConfig
from sensorflow.localcloud.emulator.endpoint import Endpoint
from sensorflow.localcloud.emulator.fault_proxy import FaultProxy
from sensorflow.localcloud.emulator.moto_server import MotoServer
from sensorflow.localcloud.emulator.worker_pool import FunctionPool, lambda_environment

BROWSER_REQUESTS = [
    pytest.param({"Origin": "http://evil.example"}, id="cross-origin fetch"),
    pytest.param({"Origin": "null"}, id="sandboxed frame or file page"),
    pytest.param({"Origin": "http://localhost:8000"}, id="another local port"),
    pytest.param({"Sec-Fetch-Site": "cross-site"}, id="no-cors GET from another site"),
    pytest.param({"Sec-Fetch-Site": "same-site"}, id="no-cors GET from another localhost port"),
]


def request(port: int, method: str, path: str, headers: dict[str, str], host: str | None = None) -> int:
    """The status of one raw HTTP request to 127.0.0.1:port, ``Host`` as given (default: the real one)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host or f"127.0.0.1:{port}")
        for key, value in headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@pytest.fixture(scope="module")
def guarded() -> Iterator[tuple[MotoServer, FaultProxy]]:
    """A moto server and the fault proxy in front of it, wired as ``LocalCloud.up`` wires them."""
    proxy = FaultProxy(0)
    with MotoServer(0, also_ports=(proxy.port,)) as server:
        assert server.port is not None
        proxy.upstream_port = server.port
        proxy.start()
        try:
            yield server, proxy
        finally:
            proxy.stop()


@pytest.mark.parametrize("headers", BROWSER_REQUESTS)
@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_the_moto_server_refuses_browser_requests(guarded, headers: dict[str, str], method: str):
    server, _ = guarded
    assert server.port is not None
    # WHEN a page in the user's browser lists the local S3 buckets (or sends CORS' preflight)
    # THEN moto's answer never reaches it (moto itself allows any origin)
    assert request(server.port, method, "/", headers) == 403


@pytest.mark.parametrize("headers", BROWSER_REQUESTS)
def test_the_fault_proxy_refuses_browser_requests(guarded, headers: dict[str, str]):
    _, proxy = guarded
    assert request(proxy.port, "GET", "/", headers) == 403


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "127.0.0.1:1", "127.0.0.1", "localhost.evil.example:{port}"]
)
def test_a_rebound_host_name_is_refused(guarded, host: str):
    # GIVEN a DNS-rebinding page: its name resolves to 127.0.0.1, so the browser sends that name as Host
    server, proxy = guarded
    assert server.port is not None
    for port in (server.port, proxy.port):
        assert request(port, "GET", "/", {}, host=host.format(port=port)) == 403


def test_local_programs_still_get_through(guarded):
    # GIVEN the SDK's requests: loopback Host, no Origin, no Sec-Fetch-*
    server, proxy = guarded
    # WHEN a client talks to moto directly and another through the proxy (which forwards Host as it came)
    Endpoint(server.url).client("s3").create_bucket(Bucket="through-moto")
    through_proxy = Endpoint(proxy.url).client("s3")
    through_proxy.create_bucket(Bucket="through-proxy")
    # THEN both work, and a page served by the local cloud itself (same origin) is not refused
    assert {b["Name"] for b in through_proxy.list_buckets()["Buckets"]} == {"through-moto", "through-proxy"}
    assert server.port is not None
    same_origin = {"Origin": f"http://localhost:{server.port}", "Sec-Fetch-Site": "same-origin"}
    assert request(server.port, "GET", "/", same_origin, host=f"localhost:{server.port}") == 200


# --- the control port --------------------------------------------------------------------------------


@pytest.fixture
def control(tmp_path: Path) -> Iterator[LocalCloud]:
    cloud = LocalCloud(root=tmp_path)
    cloud.status = lambda: {"streams": {}}  # type: ignore[method-assign]  # no runtime in this test
    cloud._start_control()
    try:
        yield cloud
    finally:
        cloud.down()


def test_a_control_request_without_the_token_is_refused(control: LocalCloud):
    port, token = control.control_port, control.control_token
    assert len(token) >= 43  # 32 random bytes, base64url
    # WHEN a request comes without the token, with a wrong one, or from a browser with the right one
    assert request(port, "GET", "/status", {}) == 401
    assert request(port, "POST", "/shutdown", {"Content-Length": "0"}) == 401
    assert request(port, "GET", "/status", {"Authorization": "Bearer " + "x" * len(token)}) == 401
    assert request(port, "GET", "/status", {**control_headers(token), "Origin": "http://evil.example"}) == 403
    # THEN only the token's holder is served
    assert request(port, "GET", "/status", control_headers(token)) == 200


def test_local_status_sends_the_token_of_the_state_file(control: LocalCloud):
    info = CloudInfo(
        "http://127.0.0.1:1", "us-east-1", "local", "sensorflow-local", {}, control.control_port, 1, ""
    )
    assert fetch_status(CloudInfo(**{**info.to_dict(), "control_token": control.control_token})) == {
        "streams": {}
    }
    with pytest.raises(UsageError, match="does not answer on its control port"):
        fetch_status(CloudInfo(**{**info.to_dict(), "control_token": "wrong"}))


def test_the_state_file_holds_the_token_and_only_the_user_can_read_it(tmp_path: Path):
    # GIVEN a state file left by an earlier run, readable by anyone
    cloud = LocalCloud(root=tmp_path)
    (tmp_path / ".sensorflow").mkdir()
    (tmp_path / ".sensorflow" / STATE_FILE).write_text("{}")
    os.chmod(tmp_path / ".sensorflow" / STATE_FILE, 0o644)
    cloud.info = CloudInfo(
        "http://127.0.0.1:5050",
        "us-east-1",
        "local",
        "sensorflow-local",
        {},
        1,
        os.getpid(),
        "",
        control_token=cloud.control_token,
    )
    # WHEN the cloud writes its state
    path = cloud.write_state()
    # THEN the file is the user's alone and carries the token `local status` sends
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    restored = read_state(tmp_path)
    assert restored is not None and restored.control_token == cloud.control_token
    assert json.loads(path.read_text())["control_token"] == cloud.control_token


# --- the worker environment --------------------------------------------------------------------------

ENV_HANDLER = """
import os


def handler(event, context):
    return dict(os.environ)
"""


def test_a_worker_sees_none_of_the_parents_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # GIVEN a user shell with real AWS credentials, a profile and some other secret
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_PROFILE", "prod-admin")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    (tmp_path / "envdump.py").write_text(ENV_HANDLER)
    function = FunctionConfig(
        name="sensorflow-local-envdump",
        arn="arn:aws:lambda:us-east-1:123456789012:function:sensorflow-local-envdump",
        handler="envdump.handler",
        role="",
        timeout_s=30,
        memory_mb=128,
        environment={"TABLE_NAME": "t"},
    )
    env = lambda_environment(function, "http://127.0.0.1:1", "us-east-1", tmp_path)
    pool = FunctionPool(function, env, tmp_path, tmp_path / "envdump.log")
    try:
        # WHEN the function runs in a worker
        result = pool.invoke({})
    finally:
        pool.close()
    assert result.ok, result.error_message
    seen: dict[str, str] = result.payload
    # THEN it has its own variable and the local cloud's fake credentials, and nothing of the parent's
    assert seen["TABLE_NAME"] == "t"
    assert (seen["AWS_ACCESS_KEY_ID"], seen["AWS_SECRET_ACCESS_KEY"]) == ("testing", "testing")
    assert "AWS_PROFILE" not in seen and "GITHUB_TOKEN" not in seen
    assert "real-secret" not in json.dumps(seen) and "AKIAREALKEY" not in json.dumps(seen)
    # and botocore in it reads no ~/.aws file (HOME is inherited for Python's sake)
    assert (seen["AWS_CONFIG_FILE"], seen["AWS_SHARED_CREDENTIALS_FILE"]) == (os.devnull, os.devnull)
    runtime = {"PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV"}
    parents_own = {k for k in os.environ if k not in runtime} - set(env)
    assert parents_own & set(seen) == set()
    assert seen["LAMBDA_RUNTIME_DIR"] == str(Path(sys.executable).parent)


def test_the_worker_botocore_resolves_only_the_fake_credentials(tmp_path: Path, monkeypatch):
    # GIVEN a profile file with real-looking credentials in the user's HOME
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    function = FunctionConfig("f", "arn:aws:lambda:us-east-1:123456789012:function:f", "x.h", "", 3, 128)
    env = lambda_environment(function, "http://127.0.0.1:1", "us-east-1", tmp_path)
    # WHEN botocore resolves credentials with the worker's environment, minus the fake keys
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        env.pop(key)
    monkeypatch.setattr(os, "environ", env)
    # THEN the file in HOME is not read
    assert boto3.session.Session().get_credentials() is None
