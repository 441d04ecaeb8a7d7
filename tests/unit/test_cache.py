from __future__ import annotations

import pytest

from sensorflow.core.cache import CachingRegistry
from sensorflow.core.errors import TransientError
from tests.factories import device
from tests.fakes import FakeRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lookups_are_cached_until_the_ttl_expires():
    inner, clock = FakeRegistry([device("dev-00001")]), Clock()
    cache = CachingRegistry(inner, ttl_s=300, negative_ttl_s=60, clock=clock)
    assert cache.get("dev-00001").site == "site-a"
    clock.now += 299
    cache.get("dev-00001")
    assert inner.lookups == ["dev-00001"]
    clock.now += 2
    cache.get("dev-00001")
    assert inner.lookups == ["dev-00001", "dev-00001"]


def test_unknown_devices_are_cached_for_the_shorter_negative_ttl():
    inner, clock = FakeRegistry(), Clock()
    cache = CachingRegistry(inner, ttl_s=300, negative_ttl_s=60, clock=clock)
    assert cache.get("ghost-1") is None
    clock.now += 59
    assert cache.get("ghost-1") is None
    clock.now += 2
    cache.get("ghost-1")
    assert inner.lookups == ["ghost-1", "ghost-1"]


def test_a_failed_lookup_is_not_cached():
    inner = FakeRegistry([device("dev-00001")], failing={"dev-00001"})
    cache = CachingRegistry(inner, clock=Clock())
    with pytest.raises(TransientError):
        cache.get("dev-00001")
    inner.failing.clear()
    assert cache.get("dev-00001") is not None
