"""``make audit`` (scripts/audit.py) reads the tools' JSON: an audit that asked nobody is never a pass.

The outputs are the shapes pip-audit 2.10.1 and npm 10 print (the all-skipped and the 405 ones were
recorded on a machine whose registry mirror has no advisory API).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from scripts import audit

SKIPPED = json.dumps(
    {
        "dependencies": [
            {"name": n, "skip_reason": f"Dependency not found on PyPI and could not be audited: {n} (1.0)"}
            for n in ("fastavro", "aws-lambda-powertools")
        ],
        "fixes": [],
    }
)
CLEAN_PIP = json.dumps(
    {"dependencies": [{"name": "fastavro", "version": "1.13.1", "vulns": []}], "fixes": []}
)
VULNERABLE_PIP = json.dumps(
    {
        "dependencies": [
            {"name": "fastavro", "version": "1.13.1", "vulns": []},
            {
                "name": "jmespath",
                "version": "1.1.0",
                "vulns": [{"id": "PYSEC-2099-1", "fix_versions": ["1.1.1"], "aliases": ["CVE-2099-1"]}],
            },
        ]
    }
)
OSV_UNREACHABLE = (
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', port=443): Max retries "
    "exceeded with url: /v1/query (Caused by NameResolutionError(...))\n"
)
NPM_405 = json.dumps(
    {
        "message": "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
        "statusCode": 405,
        "error": {"summary": "", "detail": ""},
    }
)
NPM_CLEAN = json.dumps(
    {"auditReportVersion": 2, "vulnerabilities": {}, "metadata": {"vulnerabilities": {"total": 0}}}
)
NPM_VULNERABLE = json.dumps(
    {
        "vulnerabilities": {
            "tar": {"severity": "high", "via": [{"title": "Path traversal"}], "fixAvailable": True}
        },
        "metadata": {"vulnerabilities": {"high": 1, "total": 1}},
    }
)


def test_pip_audit_that_skipped_every_dependency_is_incomplete_not_clean():
    # GIVEN pip-audit's exit 0 and "No known vulnerabilities found" after the service knew no package
    outcome = audit.pip_audit_outcome(0, SKIPPED, "No known vulnerabilities found\n")
    # THEN it is incomplete, and says which ones and why
    assert outcome.status == audit.INCOMPLETE
    assert "every dependency could not be checked" in outcome.lines[0]
    assert "aws-lambda-powertools, fastavro" in outcome.lines[0]


def test_pip_audit_that_cannot_reach_osv_is_incomplete_with_the_reason():
    outcome = audit.pip_audit_outcome(1, "", "Traceback ...\n" + OSV_UNREACHABLE)
    assert outcome.status == audit.INCOMPLETE
    assert outcome.lines == (f"no report (exit 1): {OSV_UNREACHABLE.strip()[:300]}",)


def test_pip_audit_findings_name_the_advisory_and_the_fix():
    outcome = audit.pip_audit_outcome(1, VULNERABLE_PIP, "")
    assert (outcome.status, outcome.lines) == (
        audit.FINDINGS,
        ("jmespath 1.1.0: PYSEC-2099-1 (CVE-2099-1); fixed in 1.1.1",),
    )


def test_pip_audit_clean_only_when_every_dependency_was_checked():
    assert audit.pip_audit_outcome(0, CLEAN_PIP, "").status == audit.CLEAN
    assert audit.pip_audit_outcome(0, json.dumps({"dependencies": []}), "").status == audit.INCOMPLETE


def test_npm_audit_endpoint_error_is_incomplete():
    outcome = audit.npm_audit_outcome(1, NPM_405, "npm error audit endpoint returned an error\n", None)
    assert outcome.status == audit.INCOMPLETE
    assert "405 Method Not Allowed" in outcome.lines[0]
    assert audit.npm_audit_outcome(1, "", "getaddrinfo ENOTFOUND\n", 2).status == audit.INCOMPLETE


def test_npm_audit_with_no_production_dependencies_says_there_is_nothing_to_audit():
    outcome = audit.npm_audit_outcome(0, NPM_CLEAN, "", 0)
    assert outcome.status == audit.CLEAN
    assert "nothing to audit" in outcome.lines[0] and "vulnerabilities" not in outcome.lines[0]


def test_npm_findings():
    outcome = audit.npm_audit_outcome(1, NPM_VULNERABLE, "", None)
    assert outcome.status == audit.FINDINGS
    assert outcome.lines == ("1 known vulnerabilities", "tar: high (Path traversal); fix: True")


@pytest.mark.parametrize(
    ("pip", "npm", "status", "last"),
    [
        ((0, SKIPPED, ""), (0, NPM_CLEAN, ""), audit.INCOMPLETE, "make audit: INCOMPLETE"),
        ((1, "", OSV_UNREACHABLE), (1, NPM_405, ""), audit.INCOMPLETE, "make audit: INCOMPLETE"),
        ((1, VULNERABLE_PIP, ""), (1, NPM_405, ""), audit.FINDINGS, "make audit: FAILED"),
        ((0, CLEAN_PIP, ""), (0, NPM_CLEAN, ""), audit.CLEAN, "make audit: every runtime dependency checked"),
    ],
)
def test_main_prints_each_audit_and_exits_with_the_verdict(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pip, npm, status: int, last: str
):
    # GIVEN the two tools answer as recorded
    def fake_run(command: Sequence[str]) -> tuple[int, str, str]:
        return pip if "pip-audit" in command[0] else npm

    monkeypatch.setattr(audit, "_run", fake_run)
    # WHEN make audit runs
    assert audit.main([]) == status
    out = capsys.readouterr().out
    # THEN the last line is the verdict, and "no known vulnerabilities" appears only on a full pass
    assert out.splitlines()[-1].startswith(last)
    assert ("no known vulnerabilities" in out.lower()) == (status == audit.CLEAN)
    assert out.splitlines()[0].startswith("pip-audit -r requirements.txt: ")
    assert any(line.startswith("npm audit --omit=dev: ") for line in out.splitlines())
