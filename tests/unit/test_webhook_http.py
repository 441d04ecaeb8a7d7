"""The guarded webhook request's pure parts: which URLs are usable and which addresses may be reached.

No socket is opened here: ``vetted_addresses`` runs with an in-memory resolver. The connections
themselves are tested on loopback servers in tests/integration/test_webhook_security.py."""

from __future__ import annotations

import time

import pytest

from sensorflow.adapters.webhook_http import (
    MAX_RESPONSE_BYTES,
    PinnedTransport,
    WebhookRefusedError,
    WebhookUrlError,
    address_refusal,
    parse_target,
)

PARAMETER = "/sensorflow/prod/webhook-url"
SECRET = "XyZ-secret-0123"


def test_a_slack_url_is_split_and_its_path_kept_out_of_repr():
    target = parse_target(f"https://hooks.slack.com/services/T0/B0/{SECRET}?x=1", PARAMETER)
    assert (target.scheme, target.host, target.port) == ("https", "hooks.slack.com", 443)
    assert target.request_path == f"/services/T0/B0/{SECRET}?x=1"
    assert SECRET not in repr(target)
    assert MAX_RESPONSE_BYTES == 65_536


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"https://hooks.slack.com/services/T0/B0/{SECRET} x", "contains a space"),
        (f"https://hooks.slack.com/services/T0/B0/{SECRET}\r\nX-Injected: 1", "contains a space"),
        (f"https://hooks.slack.com/services/T0/B0/{SECRET}\x7f", "control character"),
        (f"https://hooks.slack.com/services/\u00e9/{SECRET}", "non-ASCII character"),
        (f"ftp://hooks.slack.com/services/{SECRET}", "does not start with https://"),
        (f"hooks.slack.com/services/{SECRET}", "does not start with https://"),
        (f"https:///services/{SECRET}", "has no host"),
        (f"https://user:{SECRET}@hooks.slack.com/x", "carries credentials before the host"),
        (f"https://hooks.slack.com:99999/services/{SECRET}", "has an invalid host or port"),
        (f"https://hooks.slack.com:{SECRET}/x", "has an invalid host or port"),
        (f"https://[::1/services/{SECRET}", "has an invalid host or port"),
        (f"https://hooks.slack.com:0/services/{SECRET}", "has port 0"),
        (f"https://hooks_slack!.com/services/{SECRET}", "has an invalid host name"),
        ("", "is empty"),
    ],
)
def test_a_malformed_url_is_named_by_its_parameter_never_quoted(url, reason):
    with pytest.raises(WebhookUrlError) as info:
        parse_target(url, PARAMETER)
    message = str(info.value)
    assert message.startswith(f"SSM parameter {PARAMETER} does not hold a valid webhook URL: it ")
    assert reason in message
    assert SECRET not in message and "slack" not in message
    assert info.value.__context__ is None and info.value.__cause__ is None


def test_plain_http_is_refused_unless_the_stage_allows_loopback():
    with pytest.raises(WebhookRefusedError, match=f"webhook URL in SSM parameter {PARAMETER} is plain http"):
        parse_target(f"http://127.0.0.1:8080/services/{SECRET}", PARAMETER)
    target = parse_target(f"http://127.0.0.1:8080/services/{SECRET}", PARAMETER, allow_loopback=True)
    assert (target.scheme, target.port) == ("http", 8080)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # the instance metadata service
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "private"),  # reserved, and Python counts 240/4 as private too
        ("100.64.0.1", "non-public"),  # shared address space (carrier-grade NAT)
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "private"),  # Teredo, client 10.0.0.1
        ("not-an-address", "unparsable"),
    ],
)
def test_non_public_addresses_are_refused_by_kind(address, kind):
    assert address_refusal(address) == kind


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "1.1.1.1", "64:ff9b::5db8:d70e"]
)
def test_public_addresses_are_allowed(address):
    assert address_refusal(address) is None


def test_the_local_stage_allows_loopback_only():
    assert address_refusal("127.0.0.1", allow_loopback=True) is None
    assert address_refusal("::ffff:127.0.0.1", allow_loopback=True) is None
    assert address_refusal("10.0.0.5", allow_loopback=True) == "private"
    assert address_refusal("169.254.169.254", allow_loopback=True) == "link-local"


class Resolver:
    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int, timeout_s: float) -> list[str]:
        self.calls.append((host, port))
        return self.addresses


def deadline() -> float:
    return time.monotonic() + 5.0


def test_one_non_public_address_among_public_ones_refuses_the_host():
    # GIVEN a name that resolves to a public address and to the metadata service
    resolver = Resolver("93.184.215.14", "169.254.169.254")
    transport = PinnedTransport(resolver=resolver)
    target = parse_target(f"https://hooks.example.com/services/{SECRET}", PARAMETER)
    # WHEN its addresses are vetted THEN the host is refused, the parameter named, the address not
    with pytest.raises(WebhookRefusedError) as info:
        transport.vetted_addresses(target, deadline())
    assert str(info.value) == (
        f"webhook host in SSM parameter {PARAMETER} resolves to a link-local address: "
        "only public addresses are allowed"
    )
    assert resolver.calls == [("hooks.example.com", 443)]


def test_public_addresses_are_returned_as_resolved_once():
    resolver = Resolver("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    target = parse_target("https://hooks.example.com/x", PARAMETER)
    assert PinnedTransport(resolver=resolver).vetted_addresses(target, deadline()) == resolver.addresses
    assert len(resolver.calls) == 1


def test_an_ip_literal_is_vetted_without_a_lookup():
    resolver = Resolver()
    target = parse_target("https://[::ffff:a00:5]/x", PARAMETER)
    with pytest.raises(WebhookRefusedError, match="resolves to a private address"):
        PinnedTransport(resolver=resolver).vetted_addresses(target, deadline())
    assert resolver.calls == []


def test_plain_http_on_the_local_stage_goes_to_loopback_only():
    # GIVEN the local stage's setting and a plain http URL whose host resolves to a public address
    transport = PinnedTransport(allow_loopback=True, resolver=Resolver("93.184.215.14"))
    target = parse_target("http://hooks.example.com/x", PARAMETER, allow_loopback=True)
    # WHEN vetted THEN refused: plain http never leaves the machine
    with pytest.raises(WebhookRefusedError, match="resolves to a non-loopback address for plain http"):
        transport.vetted_addresses(target, deadline())
    # AND https to the same public host is fine there
    https = parse_target("https://hooks.example.com/x", PARAMETER, allow_loopback=True)
    assert transport.vetted_addresses(https, deadline()) == ["93.184.215.14"]
