"""``make audit``: known vulnerabilities in what ships, and a plain word when that cannot be known.

Two audits, of the runtime dependencies only (what goes into the Lambda zip and its npm counterpart):

- ``pip-audit -r requirements.txt``: resolves the pinned runtime requirements and asks an advisory
  service (PyPI's JSON API by default, or OSV with ``--vulnerability-service osv``) about each;
- ``npm audit --omit=dev``: the npm registry's bulk advisory endpoint, for package.json's
  ``dependencies`` (it has none: osls and its plugin are build tools, never shipped).

Both tools can report success without having asked anyone: pip-audit prints "No known vulnerabilities
found" and exits 0 when the service answered "not found" for every package (a registry mirror without
the JSON API), skipping them all. So the verdict comes from their JSON, not their exit code:

- exit 0: every dependency was checked and none has a known vulnerability;
- exit 1: known vulnerabilities (listed, with the versions that fix them);
- exit 2: INCOMPLETE, an advisory source could not be reached or skipped dependencies. This is not a
  pass and says nothing either way; run it where the source is reachable.

SECURITY.md ("Dependency audits") says how to act on a finding.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLEAN, FINDINGS, INCOMPLETE = 0, 1, 2
TIMEOUT_S = 600


@dataclass(frozen=True, slots=True)
class Outcome:
    source: str
    status: int  # CLEAN, FINDINGS or INCOMPLETE
    lines: tuple[str, ...]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


def pip_audit_outcome(returncode: int, stdout: str, stderr: str, source: str = "pip-audit") -> Outcome:
    """The verdict of ``pip-audit -f json``'s output."""
    try:
        report = json.loads(stdout)
        dependencies: list[dict[str, Any]] = report["dependencies"]
    except (ValueError, KeyError, TypeError):
        reason = _last_line(stderr or stdout)
        return Outcome(source, INCOMPLETE, (f"no report (exit {returncode}): {reason}",))
    skipped = [d for d in dependencies if d.get("skip_reason")]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    lines = []
    for d in vulnerable:
        for v in d["vulns"]:
            fixes = ", ".join(v.get("fix_versions") or []) or "no fixed version yet"
            aliases = ", ".join(v.get("aliases") or [])
            lines.append(
                f"{d['name']} {d['version']}: {v['id']}{f' ({aliases})' if aliases else ''}; fixed in {fixes}"
            )
    if skipped:
        why = skipped[0]["skip_reason"]
        which = "every dependency" if len(skipped) == len(dependencies) else f"{len(skipped)} dependencies"
        lines.append(
            f"{which} could not be checked, e.g. {why!r}: the advisory service did not answer for "
            f"{', '.join(sorted(d['name'] for d in skipped))}"
        )
    if vulnerable:
        return Outcome(source, FINDINGS, tuple(lines))
    if skipped or not dependencies:
        return Outcome(source, INCOMPLETE, tuple(lines) or ("the report lists no dependency",))
    return Outcome(source, CLEAN, (f"{len(dependencies)} dependencies checked, no known vulnerabilities",))


def npm_audit_outcome(
    returncode: int, stdout: str, stderr: str, runtime_dependencies: int | None, source: str = "npm audit"
) -> Outcome:
    """The verdict of ``npm audit --json``'s output. ``runtime_dependencies`` counts package.json's
    ``dependencies`` when the audit omits dev ones (with none, npm has nothing to ask the registry about);
    ``None`` when it audits them all."""
    try:
        report = json.loads(stdout)
    except ValueError:
        return Outcome(
            source, INCOMPLETE, (f"no report (exit {returncode}): {_last_line(stderr or stdout)}",)
        )
    if not isinstance(report, dict) or "error" in report or "metadata" not in report:
        reason = report.get("message") if isinstance(report, dict) else None
        return Outcome(source, INCOMPLETE, (f"advisory endpoint error: {reason or _last_line(stderr)}",))
    counts = report["metadata"].get("vulnerabilities", {})
    total = int(counts.get("total", 0))
    if total:
        lines = [
            f"{name}: {v.get('severity')} ({', '.join(_titles(v))}); fix: {bool(v.get('fixAvailable'))}"
            for name, v in sorted(report.get("vulnerabilities", {}).items())
        ]
        return Outcome(source, FINDINGS, (f"{total} known vulnerabilities", *lines))
    if runtime_dependencies == 0:
        nothing = (
            "package.json has no production dependencies (its npm packages are build tools): nothing to audit"
        )
        return Outcome(source, CLEAN, (nothing,))
    checked = runtime_dependencies
    if checked is None:
        checked = int(report["metadata"].get("dependencies", {}).get("total", 0))
    return Outcome(source, CLEAN, (f"{checked} dependencies checked, no known vulnerabilities",))


def _titles(vulnerability: dict[str, Any]) -> list[str]:
    return [v.get("title", "") if isinstance(v, dict) else str(v) for v in vulnerability.get("via", [])][:3]


def verdict(outcomes: Sequence[Outcome]) -> tuple[int, str]:
    """The exit status and the last line: findings win, then an incomplete audit, then a pass."""
    if any(o.status == FINDINGS for o in outcomes):
        return FINDINGS, "make audit: FAILED, known vulnerabilities above; see SECURITY.md, Dependency audits"
    if any(o.status == INCOMPLETE for o in outcomes):
        return INCOMPLETE, (
            "make audit: INCOMPLETE, an advisory source could not be reached or skipped dependencies. "
            "This is NOT a pass and says nothing about vulnerabilities; run it where the source is reachable"
        )
    return CLEAN, "make audit: every runtime dependency checked, no known vulnerabilities"


def _run(command: Sequence[str]) -> tuple[int, str, str]:
    try:
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", f"{command[0]}: {exc}"
    return proc.returncode, proc.stdout, proc.stderr


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--pip-audit", default=str(ROOT / ".venv/bin/pip-audit"))
    parser.add_argument("--pip-audit-args", default="", help="extra pip-audit arguments, one string")
    parser.add_argument("--npm-audit-args", default="--omit=dev", help="npm audit arguments, one string")
    args = parser.parse_args(argv)
    pip_cmd = [args.pip_audit, "-r", "requirements.txt", "-f", "json", "--progress-spinner", "off"]
    pip_cmd += shlex.split(args.pip_audit_args)
    npm_cmd = ["npm", "audit", "--json", *shlex.split(args.npm_audit_args)]
    package = json.loads((ROOT / "package.json").read_text())
    runtime = len(package.get("dependencies", {})) if "--omit=dev" in npm_cmd else None
    outcomes = [
        pip_audit_outcome(*_run(pip_cmd), source=" ".join(["pip-audit -r requirements.txt", *pip_cmd[7:]])),
        npm_audit_outcome(
            *_run(npm_cmd), runtime_dependencies=runtime, source=" ".join(npm_cmd[:2] + npm_cmd[3:])
        ),
    ]
    labels = {CLEAN: "ok", FINDINGS: "VULNERABLE", INCOMPLETE: "INCOMPLETE"}
    for outcome in outcomes:
        sys.stdout.write(f"{outcome.source}: {labels[outcome.status]}\n")
        for line in outcome.lines:
            sys.stdout.write(f"  {line}\n")
    status, last = verdict(outcomes)
    sys.stdout.write(last + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
