"""``sensorflow rules import-iotevents FILE...``: AWS IoT Events alarm models -> a sensorflow rules file.

FILE is what ``aws iotevents describe-alarm-model`` returns (one model, a list, or ``{"alarmModels": [...]}``)
or a CloudFormation/SAM template (JSON or YAML, short-form intrinsics accepted) with
``AWS::IoTEvents::AlarmModel`` resources. The rules document goes to ``--out`` (default stdout); the
report goes to stdout, or to stderr when the rules do. Exit 1 if anything was not convertible (the
convertible rules are still written) unless ``--allow-partial``; 2 for bad flags or files.

IoT Events severity is "a non-negative integer"; lower is read as more severe: at or below
``--critical-severity`` (default 1) a rule's one level is ``critical``, above it ``warning``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from sensorflow.cli import iotevents
from sensorflow.cli.errors import UsageError

DESCRIPTION = __doc__


def add_parser(rules_subparsers: Any) -> None:
    """Register ``import-iotevents`` under the ``rules`` group's sub-parsers."""
    p = rules_subparsers.add_parser(
        "import-iotevents",
        help="convert AWS IoT Events alarm models (describe-alarm-model JSON or a template) into rules",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="describe-alarm-model JSON or template"
    )
    p.add_argument("--out", type=Path, help="write the rules document here (default: stdout)")
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="INPUT_PROPERTY=SENSOR_TYPE",
        help="the sensor type of an inputProperty (exact string; repeatable); default: its last segment",
    )
    p.add_argument(
        "--critical-severity",
        type=int,
        default=iotevents.DEFAULT_CRITICAL_SEVERITY,
        metavar="N",
        help="IoT Events severities <= N become critical, others warning (default: %(default)s)",
    )
    p.add_argument(
        "--merge",
        type=Path,
        metavar="RULES_FILE",
        help="start from this rules file's rules (an imported id that collides with one is refused)",
    )
    p.add_argument(
        "--allow-partial", action="store_true", help="exit 0 even if something was not convertible"
    )
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from sensorflow.config import SENSOR_TYPES

    if args.critical_severity < 0:
        raise UsageError(f"--critical-severity must be a non-negative integer, got {args.critical_severity}")
    sensor_map = _parse_map(args.map, SENSOR_TYPES)
    base_rules = _read_merge(args.merge) if args.merge else []
    models, findings = [], []
    for path in args.files:
        try:
            found_models, found = iotevents.alarm_models(load_document(path), str(path))
        except iotevents.ImportInputError as exc:
            raise UsageError(str(exc)) from None
        models.extend(found_models)
        findings.extend(found)
    if not models and not findings:
        raise UsageError(f"no IoT Events alarm models in {', '.join(map(str, args.files))}")
    conversion = iotevents.convert(
        models,
        sensor_types=SENSOR_TYPES,
        sensor_map=sensor_map,
        critical_severity=args.critical_severity,
    )
    _refuse_collisions(conversion, base_rules, args.merge)
    doc = {**conversion.document(), "rules": [*base_rules, *conversion.rules]}
    _validate(doc, SENSOR_TYPES)
    text = render_rules(doc)
    if args.out:
        _write(args.out, text)
    else:
        sys.stdout.write(text)
    report_to = sys.stdout if args.out else sys.stderr
    files = [str(p) for p in args.files]
    findings = sorted(  # stable: each file's own findings, then its models', in input order
        [*findings, *conversion.findings],
        key=lambda f: files.index(f.source.split("#")[0]) if f.source.split("#")[0] in files else len(files),
    )
    complete = not any(f.status == iotevents.NOT_CONVERTIBLE for f in findings)
    _report(report_to, findings, len(conversion.rules), args, complete)
    return 0 if complete or args.allow_partial else 1


def render_rules(doc: dict[str, Any]) -> str:
    """The rules document as written: 2-space JSON, keys in rule order, a final newline."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def load_document(path: Path) -> Any:
    """A JSON or YAML file (CloudFormation short-form intrinsics become their long forms)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} cannot be read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if path.suffix.lower() == ".json":
            raise UsageError(
                f"{path} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
            ) from None
    import yaml

    from sensorflow.monitoring.stack_facts import load_cloudformation_yaml

    try:
        return load_cloudformation_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f": line {mark.line + 1} column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc
        raise UsageError(f"{path} is neither JSON nor YAML{where}: {problem}") from None


def _parse_map(pairs: Sequence[str], sensor_types: frozenset[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        prop, sep, sensor_type = pair.rpartition("=")
        if not sep or not prop or not sensor_type:
            raise UsageError(f"--map {pair!r}: expected INPUT_PROPERTY=SENSOR_TYPE")
        if sensor_type not in sensor_types:
            raise UsageError(f"--map {pair!r}: sensor type must be one of {', '.join(sorted(sensor_types))}")
        out[prop] = sensor_type
    return out


def _read_merge(path: Path) -> list[dict[str, Any]]:
    from sensorflow.jsonfile import read_json

    doc = read_json(path, f"rules file {path}", UsageError)
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise UsageError(f"rules file {path}: top level must be an object with a 'rules' list")
    return list(doc["rules"])


def _refuse_collisions(
    conversion: iotevents.Conversion, base: list[dict[str, Any]], path: Path | None
) -> None:
    existing = {r.get("id") for r in base if isinstance(r, dict)}
    clash = [r["id"] for r in conversion.rules if r["id"] in existing]
    if clash:
        raise UsageError(
            f"rule id {clash[0]!r} is already in {path}; rename the alarm model or that rule and import again"
        )


def _validate(doc: dict[str, Any], sensor_types: frozenset[str]) -> None:
    """The written file must pass ``sensorflow rules check``: the same parser the functions run at start."""
    from sensorflow.core.errors import ConfigError
    from sensorflow.core.rules import parse_rule_book

    try:
        parse_rule_book(doc, set(sensor_types))
    except ConfigError as exc:
        raise UsageError(f"the converted rules do not validate: {exc}") from None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc}") from None


def _report(
    out: TextIO, findings: list[iotevents.Finding], written: int, args: argparse.Namespace, complete: bool
) -> None:
    where = str(args.out) if args.out else "stdout"
    if args.json:
        doc = {
            "rules_written": written,
            "out": str(args.out) if args.out else None,
            "complete": complete,
            "findings": [f.as_dict() for f in findings],
        }
        out.write(json.dumps(doc, indent=2) + "\n")
        return
    rows = [("MODEL", "ITEM", "STATUS", "DETAIL")] + [(f.model, f.item, f.status, f.detail) for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        out.write(
            "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  " + row[3] + "\n"
        )
    missing = sum(f.status == iotevents.NOT_CONVERTIBLE for f in findings)
    replace = sum(f.status == iotevents.REPLACE for f in findings)
    summary = (
        f"\n{written} rule(s) written to {where}; {replace} action(s) to replace with a sensorflow consumer"
    )
    if missing:
        summary += f"; {missing} item(s) not convertible" + (
            " (accepted: --allow-partial)"
            if args.allow_partial
            else " (exit 1; --allow-partial accepts this)"
        )
    out.write(summary + "\n")
