"""The mutation fuzz in smoke mode (5,000 inputs, the code ``make fuzz`` runs with 100,000): the invariants
hold for every input and each kind of input reaches the handler. Time and memory are figures of the full
run (``make fuzz``), never asserted here."""

from __future__ import annotations

import math

import pytest

from sensorflow.core import kpl
from tests.fuzz import run as fuzz
from tests.fuzz.harness import KNOWN_REASONS

SMOKE_INPUTS = 5_000


@pytest.fixture(scope="module")
def report() -> fuzz.Report:
    return fuzz.run(SMOKE_INPUTS, seed=fuzz.DEFAULT_SEED, traced=200)


def test_every_input_is_enriched_or_quarantined_exactly_once_with_a_known_reason(report):
    assert report.first_violations == [] and report.violations == 0
    assert report.inputs == sum(report.kinds.values()) == SMOKE_INPUTS
    assert set(report.kinds) == {kind for kind, _ in fuzz.KINDS}
    assert set(report.outcomes) - {"enriched"} <= KNOWN_REASONS
    # KPL parents give one outcome per sub-record, so there are more outcomes than records
    assert report.records_out > SMOKE_INPUTS


def test_the_hostile_paths_are_reached(report):
    # the writer-schema bounds, the zlib and KPL checks and plain decoding all see inputs
    for reason in ("schema_unsafe", "glue_bad_zlib", "kpl_bad_digest", "kpl_malformed", "decode_error"):
        assert report.outcomes.get(reason, 0) > 0, reason
    assert report.outcomes["enriched"] > 0


def test_every_figure_is_produced(report):
    for figure in (report.max_ms, report.p99_ms, report.rss_peak_mb, report.traced_max_record_kib):
        assert math.isfinite(figure) and figure > 0
    text = fuzz.markdown(report)
    assert "| Max time for one record (CPU) |" in text and "| schema_unsafe |" in text


def test_the_same_seed_gives_the_same_inputs():
    first = [w.data for _, w in fuzz.generate(7, 200)]
    assert first == [w.data for _, w in fuzz.generate(7, 200)]
    assert first != [w.data for _, w in fuzz.generate(8, 200)]


def test_an_exception_escaping_the_handler_is_a_violation(monkeypatch):
    # GIVEN a bug in de-aggregation (outside the per-record catch): the invariants must catch it
    def broken(data: bytes) -> list[kpl.SubRecord]:
        raise KeyError("a bug")

    monkeypatch.setattr(kpl, "deaggregate", broken)
    report = fuzz.run(300, seed=3, traced=0)
    assert report.violations > 0
    assert any("escaped: KeyError" in v for v in report.first_violations)


def test_a_bad_input_count_is_a_one_line_usage_error(capsys, monkeypatch):
    monkeypatch.setenv("FUZZ_INPUTS", "lots")
    with pytest.raises(SystemExit) as exit_:
        fuzz.main([])
    assert exit_.value.code == 2
    assert "argument --inputs: invalid int value: 'lots'" in capsys.readouterr().err
