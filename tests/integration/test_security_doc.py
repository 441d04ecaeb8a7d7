"""SECURITY.md's generated sections match the packaged template and .ci/checkov.yaml.

A new function, statement or suppression changes the generated text, so this fails until the document is
regenerated (``make package && .venv/bin/python scripts/security_doc.py``) and the change is reviewed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import security_doc
from tests.integration.packaged import packaged_template

pytestmark = pytest.mark.packaging
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return packaged_template("ci")


def test_the_committed_sections_are_the_generated_ones(template: dict[str, Any]):
    # GIVEN the template packaged now and the checked-in suppressions
    config = yaml.safe_load((ROOT / ".ci" / "checkov.yaml").read_text())
    expected = security_doc.generated(template, security_doc.template_stage(template), config)
    doc = (ROOT / "SECURITY.md").read_text()
    # THEN SECURITY.md holds exactly that text between its markers
    fix = "SECURITY.md is stale: run `make package && .venv/bin/python scripts/security_doc.py`"
    for name in security_doc.SECTIONS:
        assert security_doc.section(doc, name) == expected[name], fix


def test_every_function_and_suppression_is_listed(template: dict[str, Any]):
    text = security_doc.generated(template, "ci", yaml.safe_load((ROOT / ".ci" / "checkov.yaml").read_text()))
    functions = [v for v in template["Resources"].values() if v["Type"] == "AWS::Lambda::Function"]
    assert functions
    for f in functions:
        name = f["Properties"]["FunctionName"].replace("sensorflow-ci-", "sensorflow-<stage>-")
        assert f"### {name} (`{f['Properties']['Handler']}`)" in text["permissions"]
    assert "### OperatorPolicy (output `OperatorPolicyArn`)" in text["permissions"]
    # the stage never shows: the same text for every stage's template
    assert "-ci-" not in text["permissions"] and "/ci/" not in text["permissions"]
    assert text["suppressions"].count("\n| CKV_") == len(
        yaml.safe_load((ROOT / ".ci" / "checkov.yaml").read_text())["suppressions"]
    )


def test_a_changed_statement_makes_the_document_stale(template: dict[str, Any]):
    # GIVEN the template with one more action on the operator policy
    changed = yaml.safe_load(yaml.safe_dump(template))
    changed["Resources"]["OperatorPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Action"] = [
        "cloudformation:DescribeStacks",
        "cloudformation:DeleteStack",
    ]
    # THEN its section differs from the committed one
    doc = (ROOT / "SECURITY.md").read_text()
    assert security_doc.permissions(changed, "ci") != security_doc.section(doc, "permissions")
