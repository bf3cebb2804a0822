"""Secure by default when deployed (issue 29): the template against the calls the code makes, the
prefixes kept apart, encryption and TLS-only policies, lifecycle rules, the log level.

Each check reads template.yml as CloudFormation would see it (cfn-lint's loader) and, where a
parameter's value decides, evaluates the AllowedPattern (CloudFormation matches the whole value
with a Java regex; these patterns mean the same in Python) and the Rules for that value. Run from
the repository root: `.venv/bin/python -m pytest tests/deploy -q`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yml"
SRC = ROOT / "src"
BUCKET = "arn:${AWS::Partition}:s3:::${LogBucketName}"


@pytest.fixture(scope="module")
def template() -> dict:
    return cfn_yaml.load(str(TEMPLATE))


@pytest.fixture(scope="module")
def resources(template) -> dict:
    return template["Resources"]


@pytest.fixture(scope="module")
def params(template) -> dict:
    return template["Parameters"]


# ----------------------------------------------------------------------------- helpers


def as_list(v) -> list:
    return v if isinstance(v, list) else [v]


def sub_text(v) -> str:
    """The text of a string or `Fn::Sub` (its template string)."""
    if isinstance(v, str):
        return v
    if isinstance(v, dict) and "Fn::Sub" in v:
        s = v["Fn::Sub"]
        return s if isinstance(s, str) else s[0]
    raise AssertionError(f"expected a string or Fn::Sub, got {v!r}")


def role_statements(resources, role: str) -> list[dict]:
    """Every statement of a role's inline policies (a conditional policy: its true branch)."""
    out = []
    for policy in resources[role]["Properties"].get("Policies", []):
        if "Fn::If" in policy:
            _, policy, absent = policy["Fn::If"]
            assert absent == {"Ref": "AWS::NoValue"}
        out.extend(policy["PolicyDocument"]["Statement"])
    return out


def grants(statements) -> dict[str, list]:
    """action -> the resources it is allowed on (Fn::Sub texts, or the intrinsic as it is)."""
    out: dict[str, list] = {}
    for st in statements:
        if st.get("Effect") != "Allow":
            continue
        for action in as_list(st["Action"]):
            for r in as_list(st["Resource"]):
                try:
                    r = sub_text(r)
                except AssertionError:
                    pass
                out.setdefault(action, []).append(r)
    return out


def source(path: str) -> str:
    return (ROOT / path).read_text()


# ----------------------------------------------------------------------------- 1. the role and the code

# The S3 and CloudWatch calls the deployed function makes (not `cflogs`), where the code makes
# them, and what IAM authorises each with on which resource. `evidence` must still be in the file:
# a call that moves or changes makes this table (and so the role) be looked at again.
FUNCTION_CALLS = [
    # A log file, the version its event names (versioned buckets): GetObject with a versionId is
    # authorised as s3:GetObjectVersion, without one as s3:GetObject; ranges are the same call.
    ("src/object_store.rs", r"\.get_object\(\)", ["s3:GetObject"], f"{BUCKET}/${{LogPrefix}}*"),
    (
        "src/object_store.rs",
        r"\.set_version_id\(expected\.version_id",
        ["s3:GetObjectVersion"],
        f"{BUCKET}/${{LogPrefix}}*",
    ),
    # Markers and shard states: read, conditional writes, a missing one answered 404.
    ("src/idempotency/store.rs", r"self\.get_object\(\)", ["s3:GetObject"], f"{BUCKET}/${{MarkerPrefix}}*"),
    ("src/idempotency/store.rs", r"\.put_object\(\)", ["s3:PutObject"], f"{BUCKET}/${{MarkerPrefix}}*"),
    ("src/idempotency/store.rs", r"is_no_such_key", ["s3:ListBucket"], BUCKET),
    ("src/sink/cloudwatch.rs", r"\.put_metric_data\(\)", ["cloudwatch:PutMetricData"], "*"),
]


@pytest.mark.parametrize("path,evidence,actions,resource", FUNCTION_CALLS)
def test_function_role_allows_every_call_the_code_makes(resources, path, evidence, actions, resource):
    assert re.search(evidence, source(path)), f"{path} no longer has {evidence!r}: update FUNCTION_CALLS"
    allowed = grants(role_statements(resources, "FunctionRole"))
    for action in actions:
        assert resource in allowed.get(action, []), f"FunctionRole lacks {action} on {resource}"


def test_versions_are_read_only_where_logs_are(resources):
    """s3:GetObjectVersion reads any version, also overwritten ones: only under LogPrefix."""
    allowed = grants(role_statements(resources, "FunctionRole"))
    assert allowed["s3:GetObjectVersion"] == [f"{BUCKET}/${{LogPrefix}}*"]
