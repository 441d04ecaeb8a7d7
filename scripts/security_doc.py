"""Write SECURITY.md's generated sections: each function's permissions and the checkov suppressions.

The permissions come from the packaged template (``make package``, i.e. ``npx sls package --stage dev``,
writes ``.serverless/cloudformation-template-update-stack.json``): every ``AWS::Lambda::Function``, its
role's statements, and the stack's ``OperatorPolicy``. The suppressions come from ``.ci/checkov.yaml``.
Stage-specific names are written with ``<stage>``, so any stage's template gives the same text.

    .venv/bin/python scripts/security_doc.py            # rewrite the sections in SECURITY.md
    .venv/bin/python scripts/security_doc.py --check    # exit 1 if they are stale

``tests/integration/test_security_doc.py`` fails when the committed sections are stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "SECURITY.md"
TEMPLATE = ROOT / ".serverless" / "cloudformation-template-update-stack.json"
SUPPRESSIONS = ROOT / ".ci" / "checkov.yaml"
SERVICE = "sensorflow"
SECTIONS = ("permissions", "suppressions")


def begin(section: str) -> str:
    return f"<!-- BEGIN GENERATED {section}: scripts/security_doc.py, do not edit by hand -->"


def end(section: str) -> str:
    return f"<!-- END GENERATED {section} -->"


def _stageless(text: str, stage: str) -> str:
    return text.replace(f"{SERVICE}-{stage}", f"{SERVICE}-<stage>").replace(
        f"/{SERVICE}/{stage}/", f"/{SERVICE}/<stage>/"
    )


def value(node: Any, stage: str) -> str:
    """A template value as a reader writes it: ``AlarmsTable``, ``ReadingsBucket/readings/*``, ``*``."""
    if isinstance(node, str):
        return _stageless(node, stage)
    if isinstance(node, list):
        return ", ".join(value(n, stage) for n in node)
    if isinstance(node, dict) and len(node) == 1:
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return "the stack itself" if arg == "AWS::StackId" else str(arg)
        if fn == "Fn::GetAtt":
            return arg[0] if arg[1] == "Arn" else f"{arg[0]}.{arg[1]}"
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            text = re.sub(
                r"arn:\$\{AWS::Partition\}:(\w+):\$\{AWS::Region\}:\$\{AWS::AccountId\}:", r"\1:", text
            )
            text = re.sub(r"\$\{(\w+)\.Arn\}", r"\1", text).replace("${AWS::Region}", "<region>")
            return _stageless(text, stage)
        if fn == "Fn::Join":
            return "".join(value(n, stage) for n in arg[1])
    return json.dumps(node, sort_keys=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _statement_rows(statements: list[dict[str, Any]], stage: str) -> Iterator[str]:
    for s in statements:
        actions = s.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        conditions = "; ".join(
            f"{op} {key} = {value(v, stage)}"
            for op, pairs in sorted(s.get("Condition", {}).items())
            for key, v in sorted(pairs.items())
        )
        yield (
            f"| {s.get('Sid', '')} | {s['Effect']} | {_cell(', '.join(f'`{a}`' for a in actions))} "
            f"| {_cell(value(s.get('Resource', ''), stage))} | {_cell(conditions) or '-'} |"
        )


HEADER = ("| Sid | Effect | Actions | Resources | Conditions |", "| --- | --- | --- | --- | --- |")


def _role_of(function: dict[str, Any]) -> str:
    role = function["Properties"]["Role"]
    return value(role, "").removesuffix(".Arn")


def permissions(template: dict[str, Any], stage: str) -> str:
    """Every function's role, statement by statement, then the operator policy."""
    resources = template["Resources"]
    lines: list[str] = []
    functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Lambda::Function"}
    for logical, function in sorted(functions.items()):
        props = function["Properties"]
        name = _stageless(props.get("FunctionName", logical), stage)
        role = _role_of(function)
        reserved = props.get("ReservedConcurrentExecutions", "none")
        lines += ["", f"### {name} (`{props['Handler']}`)", ""]
        lines.append(
            f"Role `{role}`; reserved concurrency {value(reserved, stage)}; timeout {props.get('Timeout')} s."
        )
        lines += ["", *HEADER]
        for policy in resources[role]["Properties"].get("Policies", []):
            lines += _statement_rows(policy["PolicyDocument"]["Statement"], stage)
        managed = resources[role]["Properties"].get("ManagedPolicyArns", [])
        lines += [f"| (managed) | Allow | {value(arn, stage)} | | |" for arn in managed]
    for logical, policy in sorted(resources.items()):
        if policy["Type"] == "AWS::IAM::ManagedPolicy":
            lines += ["", f"### {logical} (output `{logical}Arn`)", ""]
            output = template.get("Outputs", {}).get(f"{logical}Arn", {})
            lines.append(output.get("Description", "A managed policy of the stack."))
            lines += [
                "",
                *HEADER,
                *_statement_rows(policy["Properties"]["PolicyDocument"]["Statement"], stage),
            ]
    return "\n".join(lines).strip("\n")


def suppressions(config: dict[str, Any]) -> str:
    lines = ["| Check | Resources | Reason |", "| --- | --- | --- |"]
    for entry in config.get("suppressions", []):
        resources = ", ".join(f"`{r}`" for r in entry.get("resources", []))
        lines.append(f"| {entry['check']} | {resources} | {_cell(entry['reason'])} |")
    return "\n".join(lines)


def generated(template: dict[str, Any], stage: str, config: dict[str, Any]) -> dict[str, str]:
    return {"permissions": permissions(template, stage), "suppressions": suppressions(config)}


def section(doc: str, name: str) -> str:
    """The text between a section's markers in ``doc``."""
    start, stop = doc.index(begin(name)) + len(begin(name)), doc.index(end(name))
    return doc[start:stop].strip("\n")


def replaced(doc: str, sections: dict[str, str]) -> str:
    for name, text in sections.items():
        start, stop = doc.index(begin(name)) + len(begin(name)), doc.index(end(name))
        doc = doc[:start] + "\n" + text + "\n" + doc[stop:]
    return doc


def template_stage(template: dict[str, Any]) -> str:
    """The stage the template was packaged for, from its functions' names (``sensorflow-<stage>-<name>``)."""
    names = [
        (v["Properties"]["FunctionName"], k.removesuffix("LambdaFunction").lower())
        for k, v in template["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function"
    ]
    name, key = names[0]
    return name.removeprefix(f"{SERVICE}-").removesuffix(f"-{key}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--template", type=Path, default=TEMPLATE, help="the packaged template (make package)"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if SECURITY.md's sections are stale")
    args = parser.parse_args(argv)
    if not args.template.is_file():
        sys.stderr.write(f"{args.template} not found: run `make package` first\n")
        return 2
    template = json.loads(args.template.read_text())
    config = yaml.safe_load(SUPPRESSIONS.read_text()) if SUPPRESSIONS.is_file() else {}
    doc = DOC.read_text()
    new = replaced(doc, generated(template, template_stage(template), config))
    if args.check:
        if new != doc:
            sys.stderr.write(
                "SECURITY.md is stale: run `make package && .venv/bin/python scripts/security_doc.py`\n"
            )
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
