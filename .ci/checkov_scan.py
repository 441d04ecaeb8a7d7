"""`make scan`: checkov on the packaged CloudFormation template, zero failed checks allowed.

    checkov_scan.py TEMPLATE [--checkov BIN] [--config .ci/checkov.yaml] [--policies .ci/checkov_policies]

The suppressions in the config (check, resources, reason) go into a copy of TEMPLATE as checkov's inline
skips (``Metadata.checkov.skip`` with the reason as the comment), so checkov itself counts them as skipped
and prints the reason. The scan fails (exit 1) on any failed check, a parsing error, a suppression that names
a resource the template lacks or a check that does not apply to it, or a Lambda function the custom
checks (``--policies``) did not evaluate. It prints checkov's passed / failed / skipped counts.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKOV = ROOT / ".venv-scan" / "bin" / "checkov"
DEFAULT_CONFIG = ROOT / ".ci" / "checkov.yaml"
DEFAULT_POLICIES = ROOT / ".ci" / "checkov_policies"
CUSTOM_CHECK_PREFIX = "CKV_SF_"
CHECKOV_TIMEOUT_S = 600


class ScanConfigError(Exception):
    """The suppressions file is malformed or does not match the template."""


@dataclass(frozen=True, slots=True)
class Suppression:
    check: str
    resource: str
    reason: str


def load_suppressions(path: Path) -> list[Suppression]:
    """One ``Suppression`` per (check, resource); an entry needs a check, resources, a one-line reason."""
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[Suppression] = []
    for n, entry in enumerate(document.get("suppressions") or [], start=1):
        check, resources, reason = entry.get("check"), entry.get("resources"), entry.get("reason")
        if not (isinstance(check, str) and check):
            raise ScanConfigError(f"{path}: suppression {n} has no check")
        if not (isinstance(resources, list) and resources and all(isinstance(r, str) for r in resources)):
            raise ScanConfigError(f"{path}: suppression {n} ({check}) lists no resources")
        if not (isinstance(reason, str) and reason.strip() and "\n" not in reason.strip()):
            raise ScanConfigError(f"{path}: suppression {n} ({check}) needs a one-line reason")
        out += [Suppression(check, resource, reason.strip()) for resource in resources]
    return out


def annotate(template: dict[str, Any], suppressions: list[Suppression]) -> dict[str, Any]:
    """A copy of ``template`` carrying each suppression as a checkov inline skip on its resource."""
    annotated = json.loads(json.dumps(template))
    resources = annotated.get("Resources") or {}
    for s in suppressions:
        if s.resource not in resources:
            raise ScanConfigError(
                f"suppression {s.check} names {s.resource}, which the template does not have"
            )
        checkov_meta = resources[s.resource].setdefault("Metadata", {}).setdefault("checkov", {})
        checkov_meta.setdefault("skip", []).append({"id": s.check, "comment": s.reason})
    return annotated


def run_checkov(checkov: Path, template_path: Path, policies: Path) -> dict[str, Any]:
    """checkov's JSON report for one CloudFormation file (exit 1 just means failed checks)."""
    cmd = [
        str(checkov),
        "--framework",
        "cloudformation",
        "--file",
        str(template_path),
        "--external-checks-dir",
        str(policies),
        "--output",
        "json",
        "--skip-download",
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CHECKOV_TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise ScanConfigError(f"{checkov} not found: run `make setup` (it creates .venv-scan)") from exc
    if proc.returncode not in (0, 1):
        raise ScanConfigError(f"checkov exited {proc.returncode}: {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    if isinstance(report, list):  # one report per framework; we ask for one
        [report] = report
    if "results" not in report:  # nothing scanned at all: checkov prints only a summary
        raise ScanConfigError(f"checkov scanned nothing in {template_path}: {proc.stdout[-500:]}")
    return report


def problems_in(
    report: dict[str, Any], template: dict[str, Any], suppressions: list[Suppression]
) -> list[str]:
    """Everything that fails the gate, one line each."""
    results = report["results"]
    problems = [
        f"FAILED {c['check_id']} {c['resource']}: {c['check_name']}" for c in results.get("failed_checks", [])
    ]
    problems += [f"parsing error: {p}" for p in results.get("parsing_errors", [])]
    skipped = {(c["check_id"], c["resource"].split(".")[-1]) for c in results.get("skipped_checks", [])}
    problems += [
        f"suppression {s.check} on {s.resource} matched no check result (the check does not apply)"
        for s in suppressions
        if (s.check, s.resource) not in skipped
    ]
    evaluated = {
        c["resource"].split(".")[-1]
        for c in results.get("passed_checks", []) + results.get("failed_checks", [])
        if c["check_id"].startswith(CUSTOM_CHECK_PREFIX)
    }
    functions = {k for k, v in template["Resources"].items() if v.get("Type") == "AWS::Lambda::Function"}
    problems += [f"custom checks did not evaluate {fn}" for fn in sorted(functions - evaluated)]
    return problems


def summary_lines(report: dict[str, Any]) -> list[str]:
    s = report["summary"]
    lines = [
        f"checkov {s.get('checkov_version', '?')}: passed {s['passed']}, failed {s['failed']}, "
        f"skipped {s['skipped']} ({s['resource_count']} resources)"
    ]
    for c in report["results"].get("skipped_checks", []):
        reason = (c.get("check_result") or {}).get("suppress_comment", "")
        lines.append(f"  skipped {c['check_id']} {c['resource']}: {reason}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path)
    parser.add_argument("--checkov", type=Path, default=DEFAULT_CHECKOV)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--policies", type=Path, default=DEFAULT_POLICIES)
    args = parser.parse_args(argv)
    template = json.loads(args.template.read_text(encoding="utf-8"))
    try:
        suppressions = load_suppressions(args.config)
        with tempfile.TemporaryDirectory(prefix="checkov-scan-") as tmp:
            annotated = Path(tmp) / args.template.name
            annotated.write_text(json.dumps(annotate(template, suppressions), indent=1), encoding="utf-8")
            report = run_checkov(args.checkov, annotated, args.policies)
    except ScanConfigError as exc:
        print(f"scan: {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary_lines(report)))
    problems = problems_in(report, template, suppressions)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
