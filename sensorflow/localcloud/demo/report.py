"""How the demo reports: the summary table, the one-line JSON, and the ``--profile`` tables of moto's time
per AWS operation and the functions' invocation times."""

from __future__ import annotations

import json
from typing import Any

from sensorflow.localcloud.cloud import LocalCloud

# The keys of the --json line: the ones the README documents, plus alarms, incidents and lifecycle.
JSON_KEYS = (
    "published",
    "enriched",
    "quarantined",
    "duplicates",
    "alerts",
    "notifications_delivered",
    "batches_retried",
    "latency_ms",
    "records_per_second",
    "alarms",
    "incidents",
    "lifecycle",
    "formats",
)


def render(summary: dict[str, Any], checks: dict[str, bool | None]) -> str:
    quarantined = summary["quarantined"]
    alarms = summary["alarms"]
    incidents = summary["incidents"]
    rows = [
        ("published", summary["published"]),
        ("enriched (stored readings)", summary["enriched"]),
        ("quarantined", sum(quarantined.values())),
        *((f"  {reason}", count) for reason, count in quarantined.items()),
        ("stored twice", summary["duplicates"]),
        ("per format: published / enriched / quarantined", ""),
        *(
            (f"  {name}", f"{f['published']} / {f['enriched']} / {f['quarantined']}")
            for name, f in summary["formats"].items()
        ),
        ("alarm transitions", sum(alarms.values())),
        *((f"  {name}", count) for name, count in alarms.items()),
        ("alerts (raised + escalated)", sum(summary["alerts"].values())),
        *((f"  {severity}", count) for severity, count in summary["alerts"].items()),
        ("notifications delivered", summary["notifications_delivered"]),
        ("  expected (notify's filter)", summary["notifications_expected"]),
        ("incidents opened", incidents["opened"]),
        ("incidents resolved", incidents["resolved"]),
        (
            "critical transitions queued",
            "-" if summary["critical_queue"] is None else summary["critical_queue"],
        ),
        ("transient faults injected", summary["faults_injected"]),
        ("batches retried", summary["batches_retried"]),
        ("records sent to on-failure", summary["records_discarded"]),
        (
            "latency p50 / p95 (ms)",
            f"{summary['latency_ms']['p50']:.0f} / {summary['latency_ms']['p95']:.0f}",
        ),
        ("records per second", summary["records_per_second"]),
        ("processing time (s)", summary["processing_s"]),
        ("deploy time (s)", summary["deploy_s"]),
        ("total time (s)", summary["wall_s"]),
    ]
    width = max(len(label) for label, _ in rows) + 2
    lines = ["", "sensorflow demo summary", "-" * (width + 12)]
    lines += [f"{label:<{width}}{value!s:>12}" for label, value in rows]
    lines.append("-" * (width + 12))
    expected = summary["expected"]
    lines.append(f"simulator ground truth: {', '.join(f'{k} {v}' for k, v in sorted(expected.items()))}")
    crossing = summary["crossing_readings"]
    lines.append(
        f"alarm lifecycle: {sum(alarms.values())} transitions for {summary['enriched']} readings, "
        f"{crossing} of them past a threshold (one alert per crossing reading would have sent {crossing})"
    )
    truth = summary["truth"]
    if truth["ok"] is None:
        lines.append(f"transitions vs ground truth: not checked ({truth['why']})")
    else:
        stale = "" if truth["stale_checked"] else " (Device Stale not checked: a heartbeat ran mid-replay)"
        lines.append(
            f"transitions vs ground truth: {'match' if truth['ok'] else 'MISMATCH'}{stale}; "
            f"expected {truth['expected']}, seen {truth['seen']}"
        )
        for m in truth["mismatches"][:10]:
            lines.append(f"  {m['alarm_id']}: expected {m['expected']}, seen {m['seen']}")
    lines += lifecycle_lines(summary["lifecycle"])
    lines += fault_plan_lines(summary.get("fault_plan"))
    short = [n for n, f in summary["formats"].items() if f["published"] != f["enriched"] + f["quarantined"]]
    if short:
        lines.append(f"wire formats: MISMATCH: not every record accounted for in {', '.join(short)}")
    problems = summary["notifications_problems"]
    if not summary["notifications_match"]:
        lines.append(
            f"webhook: MISMATCH: {len(problems['missing'])} missing, {len(problems['twice'])} sent twice, "
            f"{len(problems['unexpected'])} not routed to notify"
        )
    verdict = "every published record accounted for exactly once" if checks["accounted"] else "MISMATCH"
    failed = [name for name, value in checks.items() if value is False]
    lines.append(
        f"{'OK' if not failed else 'FAILED (' + ', '.join(failed) + ')'}: enriched {summary['enriched']} "
        f"+ quarantined {sum(quarantined.values())} "
        f"= {summary['accounted']} of {summary['published']} published, {summary['duplicates']} stored twice "
        f"({verdict})"
    )
    return "\n".join(lines)


def lifecycle_lines(life: dict[str, Any]) -> list[str]:
    """The lifecycle the demo forced: one line each, saying MISSING when a planned one did not show."""
    planned = life["planned"]
    reminders, latched, silenced = life["reminders"], life["latched"], life["silenced"]
    lines = []
    if planned["reminder"]:
        every = f"repeat_every {life['repeat_every_s']} s"
        lines.append(
            f"reminders: {reminders['observed']} ({reminders['delivered']} delivered; {every})"
            if reminders["observed"]
            else f"reminders: MISSING (an alarm held ACTIVE past its {every}, no Alarm Reminder seen)"
        )
    if planned["latched"]:
        if not latched["acknowledged"]:
            lines.append("latched alarms acknowledged: MISSING (no LATCHED alarm found after the drain)")
        else:
            cleared = "cleared" if latched["cleared"] else "Alarm Cleared NOT delivered"
            lines.append(
                f"latched alarms acknowledged: {latched['acknowledged']} ({cleared}: {latched['alarm_id']}; "
                f"{latched['latched']} latched)"
            )
    if planned["silenced"]:
        matchers = ", ".join(f"{k}={v}" for k, v in silenced["matchers"].items())
        verdict = "" if silenced["published"] and not silenced["delivered"] else ": MISMATCH"
        lines.append(
            f"silenced notifications: {silenced['published']} ({silenced['delivered']} delivered; "
            f"silence {silenced['silence_id']} over {matchers}){verdict}"
        )
    return lines


def fault_plan_lines(plan: dict[str, Any] | None) -> list[str]:
    """What ``--faults`` injected, per rule (``FaultProxy.status()["plan"]``); nothing without a plan."""
    if not plan:
        return []
    total = sum(r["injected"] for r in plan["rules"])
    lines = [f"fault plan {plan['plan']} (seed {plan['seed']}): {total} faults injected"]
    for r in plan["rules"]:
        entries = f" ({r['entries_failed']} entries failed)" if r["kind"] == "partial" else ""
        lines.append(f"  {r['label']}: {r['injected']} of {r['calls']} calls{entries}")
    return lines


def json_line(summary: dict[str, Any], checks: dict[str, bool | None]) -> str:
    """The --json line; ``faults`` (the plan's per-rule counters) only when ``--faults`` was given."""
    extra = {"faults": summary["fault_plan"]} if summary.get("fault_plan") else {}
    return json.dumps({**{k: summary[k] for k in JSON_KEYS}, **extra, "checks": checks})


LONG_POLL = "sqs:ReceiveMessage"  # not serialized: its time is mostly waiting for messages


def function_profile(cloud: LocalCloud) -> dict[str, dict[str, float]]:
    """Invocations per function with their mean and p50/max duration (ms), from the runtime's history."""
    assert cloud.runtime is not None
    out: dict[str, dict[str, float]] = {}
    for name in sorted(cloud.runtime.functions):
        durations = sorted(i.duration_ms for i in cloud.runtime.stats.history(name))
        if durations:
            out[name] = {
                "invocations": len(durations),
                "mean_ms": round(sum(durations) / len(durations), 1),
                "p50_ms": round(durations[len(durations) // 2], 1),
                "max_ms": round(durations[-1], 1),
            }
    return out


def render_profile(profile: dict[str, Any], top: int = 25) -> str:
    """moto's time per AWS operation, busiest first (where the local cloud's one moto core goes), and the
    functions' invocation times."""
    operations = {k: v for k, v in profile["operations"].items() if k != LONG_POLL}
    total = sum(o["service_s"] for o in operations.values()) or 1.0
    polls = profile["operations"].get(LONG_POLL, {"count": 0})
    lines = [
        "",
        f"moto profile: {sum(o['count'] for o in operations.values())} serialized requests, {total:.1f} s "
        f"in moto over {profile['uptime_s']:.0f} s up (plus {polls['count']} SQS long polls, not serialized)",
        f"{'operation':<40} {'requests':>8} {'moto s':>8} {'share':>6} {'mean ms':>8} {'queued s':>9}",
    ]
    ranked = sorted(operations.items(), key=lambda kv: kv[1]["service_s"], reverse=True)
    for name, o in ranked[:top]:
        lines.append(
            f"{name[:40]:<40} {o['count']:>8} {o['service_s']:>8.2f} {o['service_s'] / total:>6.1%} "
            f"{1000 * o['service_s'] / max(1, o['count']):>8.2f} {o['wait_s']:>9.2f}"
        )
    functions = profile.get("functions", {})
    if functions:
        lines += ["", f"{'function':<40} {'invocations':>11} {'mean ms':>9} {'p50 ms':>9} {'max ms':>9}"]
        for name, f in functions.items():
            lines.append(
                f"{name[:40]:<40} {f['invocations']:>11} {f['mean_ms']:>9.0f} {f['p50_ms']:>9.0f} "
                f"{f['max_ms']:>9.0f}"
            )
    return "\n".join(lines)
