"""Silences: matching, parsing, active windows, the stored list's pure operations and the reader cache."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensorflow.adapters.dynamodb_silences import CachingSilenceStore, silences_attr, silences_from
from sensorflow.core import silences as sl
from sensorflow.core.errors import TransientError
from sensorflow.core.ports import SilenceStore
from sensorflow.core.silences import (
    MATCH_FIELDS,
    Silence,
    SilenceError,
    SilenceLimitError,
    UnknownSilenceError,
    active_silence,
    parse_matchers,
    suppression_of,
)
from tests.fakes import FakeSilenceStore

NOW = 1_790_000_000_000  # 2026-09-21T14:13:20.000Z
HOUR = 3_600_000
PLANT_A = {"device_id": "dev-00001", "site": "plant-a", "owner_team": "ops", "location": "hall-1"}


def silence(
    silence_id: str = "s-1",
    matchers: dict[str, str] | None = None,
    starts: int = NOW,
    ends: int = NOW + HOUR,
    created_at: int = NOW,
) -> Silence:
    return Silence(
        silence_id=silence_id,
        matchers=matchers or {"site": "plant-a"},
        starts_at_ms=starts,
        ends_at_ms=ends,
        created_by="ana",
        caller_arn="arn:aws:sts::123456789012:assumed-role/Ops/ana",
        comment="boiler maintenance",
        created_at_ms=created_at,
    )


# --- parse_matchers -------------------------------------------------------------------------------------


def test_matchers_parse_into_a_field_to_value_map():
    assert parse_matchers(["site=plant-a", "sensor_type = co2", "site=plant-a"]) == {
        "site": "plant-a",
        "sensor_type": "co2",
    }


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (
            [],
            "a silence needs at least one --match FIELD=VALUE "
            "(fields: site, owner_team, sensor_type, device_id)",
        ),
        (["plant-a"], "--match 'plant-a' is not FIELD=VALUE, e.g. site=plant-a"),
        (["=plant-a"], "--match '=plant-a' is not FIELD=VALUE, e.g. site=plant-a"),
        (
            ["room=101"],
            "--match 'room=101': unknown field 'room'; use one of site, owner_team, sensor_type, device_id",
        ),
        (["site="], "--match 'site=' has no value; e.g. site=plant-a"),
        (["site=" + "x" * 129], f"--match 'site={'x' * 129}': the value is longer than 128 characters"),
        (
            ["site=a", "site=b"],
            "--match 'site=b': site is already matched to 'a'; a silence needs all its matchers to hold, so "
            "give each field one value (create one silence per value)",
        ),
    ],
)
def test_a_bad_matcher_is_named_with_the_fix(items: list[str], message: str):
    with pytest.raises(SilenceError) as exc:
        parse_matchers(items)
    assert str(exc.value) == message


# --- matching -------------------------------------------------------------------------------------------

values = st.text(alphabet="abcdefgh-0123", min_size=1, max_size=6)
contexts = st.fixed_dictionaries(
    {"site": st.none() | values, "owner_team": st.none() | values}, optional={"location": values}
)


def target(ctx: dict[str, str | None], sensor_type: str, device_id: str) -> dict[str, str | None]:
    return {**ctx, "sensor_type": sensor_type, "device_id": device_id}


@given(
    ctx=contexts,
    sensor_type=values,
    device_id=values,
    matchers=st.dictionaries(st.sampled_from(MATCH_FIELDS), values, min_size=1),
)
def test_a_silence_matches_exactly_when_every_matcher_equals_the_transitions_value(
    ctx, sensor_type, device_id, matchers
):
    actual = target(ctx, sensor_type, device_id)
    expected = all(actual[k] == v for k, v in matchers.items())
    assert silence(matchers=matchers).matches(ctx, sensor_type, device_id) is expected


@given(
    ctx=contexts,
    sensor_type=values,
    device_id=values,
    fields=st.sets(st.sampled_from(MATCH_FIELDS), min_size=1),
    data=st.data(),
)
def test_a_silence_made_from_a_transition_matches_it_and_any_changed_value_breaks_the_match(
    ctx, sensor_type, device_id, fields, data
):
    # GIVEN a silence on known values of the transition itself
    actual = target(ctx, sensor_type, device_id)
    fields = {f for f in fields if actual[f] is not None}
    if not fields:
        return
    matchers = {f: str(actual[f]) for f in fields}
    s = silence(matchers=matchers)
    assert s.matches(ctx, sensor_type, device_id)
    # WHEN one matched field of the transition takes another value THEN it no longer matches
    changed = data.draw(st.sampled_from(sorted(fields)))
    other = {**actual, changed: str(actual[changed]) + "x"}
    other_ctx = {k: other[k] for k in ctx}
    assert not s.matches(other_ctx, str(other["sensor_type"]), str(other["device_id"]))


def test_an_unknown_site_never_matches_a_site_matcher():
    assert not silence(matchers={"site": "unknown"}).matches({"site": None}, "co2", "dev-00001")
    assert not silence(matchers={"owner_team": "ops"}).matches({}, "co2", "dev-00001")


def test_active_from_start_inclusive_to_end_exclusive():
    s = silence(starts=NOW, ends=NOW + HOUR)
    assert [s.active_at(t) for t in (NOW - 1, NOW, NOW + HOUR - 1, NOW + HOUR)] == [False, True, True, False]
    assert [s.status(t) for t in (NOW - 1, NOW, NOW + HOUR)] == ["scheduled", "active", "expired"]


def test_the_active_silence_is_the_matching_one_ending_last_whatever_the_order():
    # GIVEN silences that match, one that does not, one not begun and one ended
    short = silence("s-short", ends=NOW + HOUR)
    long_b = silence("s-long-b", ends=NOW + 3 * HOUR)
    long_a = silence("s-long-a", matchers={"owner_team": "ops"}, ends=NOW + 3 * HOUR)
    others = [
        silence("s-other", matchers={"site": "plant-b"}, ends=NOW + 9 * HOUR),
        silence("s-later", starts=NOW + HOUR, ends=NOW + 9 * HOUR),
        silence("s-ended", starts=NOW - 2 * HOUR, ends=NOW, created_at=NOW - 2 * HOUR),
    ]
    everything = [short, long_b, long_a, *others]
    for seed in range(20):
        random.Random(seed).shuffle(everything)
        # THEN the one ending last wins, ties broken by id
        assert active_silence(everything, PLANT_A, "co2", "dev-00001", NOW) == long_a
    assert active_silence(everything, PLANT_A, "co2", "dev-00001", NOW + 3 * HOUR).silence_id == "s-later"
    assert active_silence(everything, PLANT_A, "co2", "dev-00001", NOW + 9 * HOUR) is None
    assert active_silence(others, PLANT_A, "co2", "dev-00001", NOW) is None
    # a maintenance window begins on time
    assert active_silence(others, PLANT_A, "co2", "dev-00001", NOW + HOUR).silence_id == "s-later"


def test_the_suppressed_document_of_a_silence():
    assert suppression_of(silence(ends=1_790_003_600_000)) == {
        "reason": "silenced",
        "silence_id": "s-1",
        "created_by": "ana",
        "comment": "boiler maintenance",
        "ends_at": "2026-09-21T15:13:20.000Z",
    }


@given(
    matchers=st.dictionaries(st.sampled_from(MATCH_FIELDS), values, min_size=1),
    starts=st.integers(0, 2**42),
    length=st.integers(1, 2**32),
    comment=st.text(min_size=1, max_size=40),
    arn=st.none() | st.text(max_size=30),
    expired_by=st.none() | values,
)
def test_the_stored_form_round_trips(matchers, starts, length, comment, arn, expired_by):
    s = Silence("s-9", matchers, starts, starts + length, "bo", arn, comment, starts, expired_by, None)
    assert Silence.from_doc(s.to_doc()) == s
    assert silences_from(silences_attr([s], starts)) == [s]


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"silence_id": "s", "matchers": {}},
        {"silence_id": "s", "matchers": {"site": "a"}, "starts_at_ms": "x"},
    ],
)
def test_a_stored_entry_that_is_not_a_silence_is_refused_and_skipped_on_read(doc):
    with pytest.raises(SilenceError, match="not a stored silence"):
        Silence.from_doc(doc)
    good = silence()
    assert silences_from(json.dumps([doc, good.to_doc()])) == [good]


def test_a_list_too_big_for_the_item_drops_the_expired_ones_first(monkeypatch: pytest.MonkeyPatch):
    from sensorflow.adapters import dynamodb_silences

    live = [silence("s-1"), silence("s-2")]
    ended = silence("s-0", starts=NOW - 2 * HOUR, ends=NOW - HOUR)
    size = len(silences_attr(live, NOW).encode())
    monkeypatch.setattr(dynamodb_silences, "ITEM_MAX_BYTES", dynamodb_silences.ITEM_OVERHEAD_BYTES + size)
    assert silences_from(silences_attr([*live, ended], NOW)) == live
    with pytest.raises(SilenceLimitError) as exc:
        silences_attr([*live, silence("s-3")], NOW)
    assert str(exc.value) == (
        "the stage's 3 silences no longer fit in one DynamoDB item (400 KB); "
        "expire some or use shorter comments"
    )


# --- the stored list ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"comment": "  "}, "a silence needs a --comment saying why (it goes with every suppressed event)"),
        ({"comment": "x" * 281}, "--comment is longer than 280 characters; shorten it"),
        ({"created_by": ""}, "a silence needs who creates it (--by NAME)"),
        (
            {"ends_at_ms": NOW},
            "the silence would end at 2026-09-21T14:13:20.000Z, which is not in the future",
        ),
        (
            {"starts_at_ms": NOW + 2 * HOUR},
            "the silence would end at 2026-09-21T15:13:20.000Z, not after it starts at "
            "2026-09-21T16:13:20.000Z; pass a later --until or a shorter --starts",
        ),
        (
            {"matchers": {"room": "1"}},
            "--match 'room=1': unknown field 'room'; use one of site, owner_team, sensor_type, device_id",
        ),
    ],
)
def test_a_silence_that_cannot_be_created_says_why(change, message):
    with pytest.raises(SilenceError) as exc:
        sl.with_added([], replace(silence(), **change), NOW)
    assert str(exc.value) == message


def test_adding_prunes_what_ended_past_the_retention_and_keeps_recently_expired():
    long_gone = silence("s-gone", starts=NOW - 30 * HOUR, ends=NOW - 25 * HOUR, created_at=NOW - 30 * HOUR)
    recent = silence("s-recent", starts=NOW - 3 * HOUR, ends=NOW - HOUR, created_at=NOW - 3 * HOUR)
    live = silence("s-live", ends=NOW + 2 * HOUR)
    stored = sl.with_added([long_gone, recent, live], silence("s-new"), NOW)
    assert [s.silence_id for s in stored] == ["s-live", "s-new", "s-recent"]


def test_the_500th_active_silence_is_the_last_one():
    stored = [silence(f"s-{i:03d}") for i in range(499)]
    stored += [silence(f"s-old-{i}", starts=NOW - 2 * HOUR, ends=NOW - HOUR) for i in range(3)]
    full = sl.with_added(stored, silence("s-499"), NOW)
    assert sum(s.status(NOW) == "active" for s in full) == 500
    with pytest.raises(SilenceLimitError) as exc:
        sl.with_added(full, silence("s-500"), NOW)
    assert str(exc.value) == (
        "this stage already has 500 active or scheduled silences (at most 500); expire some "
        "(`sensorflow silences list` shows them) or use a broader matcher"
    )
    # an expired one frees a place
    after, _ = sl.with_expired(full, "s-000", NOW, "bo")
    assert len([s for s in sl.with_added(after, silence("s-500"), NOW) if s.status(NOW) == "active"]) == 500


def test_a_duplicate_id_is_refused():
    with pytest.raises(SilenceError, match="a silence with id 's-1' already exists"):
        sl.with_added([silence()], silence(), NOW)


def test_expiring_ends_a_silence_now_and_records_who():
    stored, ended = sl.with_expired([silence()], "s-1", NOW + 10, "bo", "arn:aws:iam::123456789012:user/bo")
    assert (ended.ends_at_ms, ended.expired_by, ended.expired_by_arn) == (
        NOW + 10,
        "bo",
        "arn:aws:iam::123456789012:user/bo",
    )
    assert stored == [ended] and ended.status(NOW + 10) == "expired"
    with pytest.raises(UnknownSilenceError, match="silence 's-1' is already expired"):
        sl.with_expired(stored, "s-1", NOW + 20, "bo")
    with pytest.raises(UnknownSilenceError, match="silence 's-9' is not found; `sensorflow silences list`"):
        sl.with_expired(stored, "s-9", NOW + 20, "bo")


def test_an_expired_maintenance_window_never_starts():
    window = silence(starts=NOW + HOUR, ends=NOW + 2 * HOUR)
    _, ended = sl.with_expired([window], "s-1", NOW, "bo")
    assert not any(ended.active_at(t) for t in (NOW, NOW + HOUR, NOW + 2 * HOUR - 1))


# --- the fake store and the reader cache --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_fake_store_keeps_the_port():
    store: SilenceStore = FakeSilenceStore()
    store.add(silence("s-1"))
    store.add(silence("s-2", starts=NOW + HOUR, ends=NOW + 2 * HOUR))
    assert [s.silence_id for s in store.active(NOW)] == ["s-1"]
    assert [s.silence_id for s in store.list_all(NOW)] == ["s-2", "s-1"]
    assert store.expire("s-1", NOW + 1, "bo").expired_by == "bo"
    assert store.active(NOW + 1) == []


def test_readers_read_the_store_once_per_ttl_and_a_window_still_begins_on_time():
    # GIVEN a maintenance window starting in 10 s, and a cache with a 30 s TTL
    inner, clock = FakeSilenceStore([silence(starts=NOW + 10_000, ends=NOW + HOUR)]), Clock()
    cache = CachingSilenceStore(inner, ttl_s=30, clock=clock)
    # WHEN readers ask before and after the start within one TTL
    assert cache.active(NOW) == []
    clock.now += 15
    assert [s.silence_id for s in cache.active(NOW + 15_000)] == ["s-1"]
    # THEN the store was read once, and again only after the TTL
    assert inner.reads == 1
    clock.now += 15
    cache.active(NOW + 30_000)
    assert inner.reads == 2


def test_a_failed_refresh_serves_the_copy_and_retries_soon_but_a_first_read_fails():
    inner, clock = FakeSilenceStore([silence()]), Clock()
    cache = CachingSilenceStore(inner, ttl_s=30, clock=clock)
    inner.fail_reads = 1
    with pytest.raises(TransientError):
        cache.active(NOW)
    assert len(cache.active(NOW)) == 1
    clock.now += 31
    inner.fail_reads = 1
    assert len(cache.active(NOW)) == 1  # the copy, while the store fails
    clock.now += 4
    cache.active(NOW)
    assert inner.reads == 3  # no new read before the retry delay
    clock.now += 1
    cache.active(NOW)
    assert inner.reads == 4


def test_a_write_through_the_cache_drops_its_copy():
    inner, clock = FakeSilenceStore(), Clock()
    cache = CachingSilenceStore(inner, ttl_s=30, clock=clock)
    assert cache.active(NOW) == []
    cache.add(silence())
    assert [s.silence_id for s in cache.active(NOW)] == ["s-1"]
    cache.expire("s-1", NOW + 1, "bo")
    assert cache.active(NOW + 1) == []
