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
    ("src/conditional.rs", r"self\.get_object\(\)", ["s3:GetObject"], f"{BUCKET}/${{MarkerPrefix}}*"),
    ("src/conditional.rs", r"\.put_object\(\)", ["s3:PutObject"], f"{BUCKET}/${{MarkerPrefix}}*"),
    ("src/conditional.rs", r"is_no_such_key", ["s3:ListBucket"], BUCKET),
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


# ----------------------------------------------------------------------------- 2, 5. prefixes

# Every key prefix the stack reads, writes or triggers on, in the log bucket.
PREFIXES = ["LogPrefix", "ExportPrefix", "MarkerPrefix", "BatchOperationsPrefix"]
GOOD_PREFIXES = ["cloudfront/", "logs/cf/", "_cflm/processed/", "a.b-c_d/(x)/", "Logs 2025/"]
BAD_PREFIXES = [
    "cloudfront",  # no trailing "/": cloudfront-export/ would be inside it
    "*/",  # an IAM wildcard: every key of the bucket
    "logs/*/",
    "logs?/",
    "/logs/",
    "/",
    "logs//x",
]


def rule_value(expr, values: dict):
    """Evaluates a Rules expression (the rule functions of CloudFormation that this template uses)
    for parameter `values`."""
    if isinstance(expr, str):
        return expr
    if isinstance(expr, list):
        return [rule_value(x, values) for x in expr]
    ((fn, arg),) = expr.items()
    if fn == "Ref":
        return values[arg]
    if fn == "Fn::Equals":
        a, b = (rule_value(x, values) for x in arg)
        return str(a) == str(b)
    if fn == "Fn::Not":
        return not rule_value(arg[0], values)
    if fn == "Fn::And":
        return all(rule_value(x, values) for x in arg)
    if fn == "Fn::Or":
        return any(rule_value(x, values) for x in arg)
    if fn == "Fn::Contains":
        items, v = rule_value(arg[0], values), rule_value(arg[1], values)
        return v in items
    raise AssertionError(f"rule function {fn} not evaluated here")


def refusals(template, **overrides) -> list[str]:
    """What the template refuses for these parameter values (the defaults, then `overrides`):
    each parameter whose AllowedPattern does not match, each failed Rules assertion."""
    values = {k: p.get("Default") for k, p in template["Parameters"].items()}
    values["AWS::Region"] = "us-east-1"
    values.update(overrides)
    out = []
    for name, p in template["Parameters"].items():
        pattern = p.get("AllowedPattern")
        if pattern and isinstance(values[name], str) and not re.fullmatch(pattern, values[name]):
            out.append(f"{name}: pattern")
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not rule_value(rule["RuleCondition"], values):
            continue
        for a in rule["Assertions"]:
            if not rule_value(a["Assert"], values):
                out.append(f"{name}: {a['AssertDescription']}")
    return out


def test_defaults_are_accepted(template):
    assert refusals(template) == []
    assert refusals(template, EnableRealtimeLogs="true", EnableFirehoseExport="true") == []


@pytest.mark.parametrize("name", PREFIXES)
def test_every_prefix_ends_in_a_slash_and_has_no_wildcard(params, name):
    p = params[name]
    assert p["Default"].endswith("/")
    for v in GOOD_PREFIXES:
        assert re.fullmatch(p["AllowedPattern"], v), f"{name}: {v!r} should be accepted"
    for v in BAD_PREFIXES:
        assert not re.fullmatch(p["AllowedPattern"], v), f"{name}: {v!r} should be refused"
    assert '"/"' in p["ConstraintDescription"]
    # Only LogPrefix may be empty (the whole bucket, where only *.gz and *.parquet trigger).
    assert bool(re.fullmatch(p["AllowedPattern"], "")) == (name == "LogPrefix")


def test_export_prefix_has_no_firehose_expression(params):
    # Firehose reads "!{...}" in a prefix as an expression.
    assert not re.fullmatch(params["ExportPrefix"]["AllowedPattern"], "x!{timestamp:yyyy}/")


@pytest.mark.parametrize("a", PREFIXES)
@pytest.mark.parametrize("b", PREFIXES)
def test_no_prefix_may_equal_another(template, a, b):
    if a == b:
        return
    found = refusals(template, EnableRealtimeLogs="true", EnableFirehoseExport="true",
                     **{a: "shared/", b: "shared/"})
    assert any(r.startswith("PrefixesKeptApart:") for r in found), (a, b, found)


def test_the_default_export_prefix_is_not_under_cloudfront(template):
    """The issue's case: LogPrefix `cloudfront` held the default export `cloudfront-export/`."""
    found = refusals(template, LogPrefix="cloudfront", EnableRealtimeLogs="true",
                     EnableFirehoseExport="true")
    assert "LogPrefix: pattern" in found


def test_nested_prefixes_reach_the_function_which_skips_them(template, resources):
    """`logs/` and `logs/export/`: CloudFormation's rule functions compare whole values only (no
    Fn::Split or Fn::Select in Rules), so a nested prefix passes the template; the function is
    told the export and batch prefixes and skips their keys as it skips markers
    (src/event/tests.rs, keys_under_the_stack_s_own_prefixes_are_skipped)."""
    env = resources["Function"]["Properties"]["Environment"]["Variables"]
    assert env["MARKER_PREFIX"] == {"Ref": "MarkerPrefix"}
    assert env["EXPORT_PREFIX"] == {"Ref": "ExportPrefix"}
    assert env["BATCH_OPERATIONS_PREFIX"] == {"Ref": "BatchOperationsPrefix"}
    readme = (ROOT / "README.md").read_text()
    assert "keys_under_the_stack_s_own_prefixes_are_skipped" in readme


# ----------------------------------------------------------------------------- 6. the log level


def test_log_level_never_reaches_trace(params):
    """At trace the Lambda runtime logs every raw event body (lambda_runtime's "raw JSON event
    received from Lambda": base64 real-time records with viewer data), the SDK whole requests;
    a bare target (`lambda_runtime`) or a numeric level enables trace too."""
    p = params["LogLevel"]
    good = [p["Default"], "info", "debug", "warn", "error", "off", "info,aws_config=warn",
            "warn,cloudfront_log_metrics=debug", "info,aws_smithy_runtime::client=warn"]
    bad = ["trace", "TRACE", "Trace", "info,lambda_runtime=trace", "lambda_runtime",
           "info,lambda_runtime", "5", "info,aws_smithy_runtime=5", "info,[{body}]=debug",
           "debug,lambda_runtime[request]=debug", "", "info,", "info trace"]
    for v in good:
        assert re.fullmatch(p["AllowedPattern"], v), f"{v!r} should be accepted"
    for v in bad:
        assert not re.fullmatch(p["AllowedPattern"], v), f"{v!r} should be refused"
    assert "trace" in p["ConstraintDescription"]


# ----------------------------------------------------------------------------- 3. the stream


def test_realtime_stream_is_encrypted_with_kms(resources, params, template):
    enc = resources["RealtimeStream"]["Properties"]["StreamEncryption"]
    assert enc["EncryptionType"] == "KMS"
    # The AWS-managed key by default, a customer key (its ARN) when given.
    assert enc["KeyId"] == {
        "Fn::If": ["HasRealtimeStreamKey", {"Ref": "RealtimeStreamKmsKeyArn"}, "alias/aws/kinesis"]
    }
    p = params["RealtimeStreamKmsKeyArn"]
    assert p["Default"] == ""
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert re.fullmatch(p["AllowedPattern"], key)
    for bad in ["alias/my-key", "*", "arn:aws:kms:us-east-1:123456789012:alias/x", "1234abcd"]:
        assert not re.fullmatch(p["AllowedPattern"], bad), bad
    assert template["Conditions"]["HasRealtimeStreamKey"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RealtimeStreamKmsKeyArn"}, ""]}]
    }


def kms_grants(resources, role) -> dict[str, list]:
    """The KMS actions a role's policies allow, each policy or statement present only with a
    customer key (condition HasRealtimeStreamKey, or one that includes it)."""
    out: dict[str, list] = {}
    for policy in resources[role]["Properties"]["Policies"]:
        cond = None
        if "Fn::If" in policy:
            cond, policy, _ = policy["Fn::If"]
        for st in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in st:
                cond, st, absent = st["Fn::If"]
                assert absent == {"Ref": "AWS::NoValue"}
            actions = [a for a in as_list(st["Action"]) if a.startswith("kms:")]
            if not actions:
                continue
            assert cond in ("HasRealtimeStreamKey", "RealtimeCustomerKey"), (role, cond)
            assert st["Resource"] == {"Ref": "RealtimeStreamKmsKeyArn"}, (role, st)
            # Only through Kinesis, in this region.
            assert st["Condition"] == {
                "StringEquals": {"kms:ViaService": {"Fn::Sub": "kinesis.${AWS::Region}.amazonaws.com"}}
            }, (role, st)
            for a in actions:
                out.setdefault(a, []).append(role)
    return out


def test_every_stream_client_may_use_a_customer_key(resources, template):
    """CloudFront writes (GenerateDataKey), the function's event source mapping and Firehose
    read (Decrypt); with the AWS-managed key none of this is needed, so none is granted."""
    assert kms_grants(resources, "RealtimeLogRole") == {"kms:GenerateDataKey": ["RealtimeLogRole"]}
    assert kms_grants(resources, "FunctionRole") == {"kms:Decrypt": ["FunctionRole"]}
    assert kms_grants(resources, "FirehoseExportRole") == {"kms:Decrypt": ["FirehoseExportRole"]}
    assert template["Conditions"]["RealtimeCustomerKey"] == {
        "Fn::And": [{"Condition": "Realtime"}, {"Condition": "HasRealtimeStreamKey"}]
    }


# ----------------------------------------------------------------------------- 4. lifecycle


def lifecycle_rules(resources) -> dict[str, dict]:
    """The created bucket's lifecycle rules by Id (a conditional rule: its true branch)."""
    out = {}
    for r in resources["LogBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]:
        if "Fn::If" in r:
            r = r["Fn::If"][1]
        out[r["Id"]] = r
    return out


def test_every_prefix_the_stack_writes_expires(resources, params):
    rules = lifecycle_rules(resources)
    by_prefix = {sub_text(r["Prefix"]) if "Fn::Sub" in r["Prefix"] else r["Prefix"]["Ref"]: r
                 for r in rules.values()}
    # What the stack writes or has written into the bucket: logs (v2), markers, batch files,
    # the export and its errors (shorter).
    for prefix, days in [
        ("LogPrefix", "LogExpirationDays"),
        ("MarkerPrefix", "MarkerExpirationDays"),
        ("BatchOperationsPrefix", "MarkerExpirationDays"),
        ("ExportPrefix", "ExportExpirationDays"),
        ("${ExportPrefix}errors/", "ExportErrorExpirationDays"),
    ]:
        assert prefix in by_prefix, prefix
        rule = by_prefix[prefix]
        assert rule["Status"] == "Enabled"
        assert rule["ExpirationInDays"] == {"Ref": days}, prefix
    export = by_prefix["ExportPrefix"]
    assert export["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    keep, errors = params["ExportExpirationDays"], params["ExportErrorExpirationDays"]
    assert keep["MinValue"] >= 1 and errors["MinValue"] >= 1
    assert errors["Default"] < keep["Default"]


# ----------------------------------------------------------------------------- 7. TLS only


def deny_insecure(statements) -> list[dict]:
    return [s for s in statements
            if isinstance(s, dict) and s.get("Effect") == "Deny"
            and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            and s.get("Principal") == "*"]


def test_alarm_topic_accepts_tls_only_and_cloudwatch_alarms_of_this_account(resources):
    (pol,) = [r for r in resources.values() if r["Type"] == "AWS::SNS::TopicPolicy"]
    assert "Condition" not in pol
    assert pol["Properties"]["Topics"] == [{"Ref": "AlarmTopic"}]
    stmts = pol["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = deny_insecure(stmts)
    assert deny["Action"] == "sns:Publish" and deny["Resource"] == {"Ref": "AlarmTopic"}
    (allow,) = [s for s in stmts if s.get("Effect") == "Allow"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert sub_text(allow["Condition"]["ArnLike"]["aws:SourceArn"]) == (
        "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*"
    )


def test_alarm_topic_may_be_encrypted_with_a_customer_key(resources, params, template):
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {
        "Fn::If": ["HasAlarmTopicKey", {"Ref": "AlarmTopicKmsKeyArn"}, {"Ref": "AWS::NoValue"}]
    }
    p = params["AlarmTopicKmsKeyArn"]
    assert p["Default"] == ""
    assert re.fullmatch(p["AllowedPattern"], "arn:aws:kms:eu-west-1:123456789012:key/mrk-1234abcd")
    assert not re.fullmatch(p["AllowedPattern"], "alias/aws/sns"), "CloudWatch cannot use it"
    # The key policy must let CloudWatch alarms use it: the description says so.
    assert "cloudwatch.amazonaws.com" in p["Description"]
    assert template["Conditions"]["HasAlarmTopicKey"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicKmsKeyArn"}, ""]}]
    }


def test_failure_queue_accepts_tls_only_whichever_the_bucket(resources):
    """One queue policy (two would overwrite each other), present with a created bucket too."""
    (pol,) = [r for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert "Condition" not in pol
    assert pol["Properties"]["Queues"] == [{"Ref": "FailureQueue"}]
    stmts = pol["Properties"]["PolicyDocument"]["Statement"]
    (deny,) = deny_insecure(stmts)
    assert deny["Action"] == "sqs:*"
    assert deny["Resource"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}


def test_every_store_is_encrypted(resources):
    bucket = resources["LogBucket"]["Properties"]["BucketEncryption"]
    assert bucket["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert resources["FailureQueue"]["Properties"]["SqsManagedSseEnabled"] is True
    assert "StreamEncryption" in resources["RealtimeStream"]["Properties"]
    assert "KmsMasterKeyId" in resources["AlarmTopic"]["Properties"]


# ----------------------------------------------------------------------------- 8. v2 delivery


def test_log_delivery_writes_only_from_this_stack_s_source_with_owner_control(resources):
    stmts = resources["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    v2 = {s["Fn::If"][1]["Sid"]: s["Fn::If"][1] for s in stmts if "Fn::If" in s}
    source = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:delivery-source:cflm-${DistributionId}"
    assert sub_text(resources["LoggingV2Source"]["Properties"]["Name"]) == "cflm-${DistributionId}"
    write, acl = v2["AWSLogDeliveryWrite"], v2["AWSLogDeliveryAclCheck"]
    for st in (write, acl):
        assert st["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
        assert sub_text(st["Condition"]["ArnLike"]["aws:SourceArn"]) == source
        assert st["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert write["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert as_list(write["Action"]) == ["s3:PutObject"]


def test_acls_are_disabled_unless_legacy_logging_may_need_them(resources):
    """Legacy logging writes through an ACL grant; v2 logging by the stack does not, and then
    the bucket owner owns every object and ACLs are off."""
    rules = resources["LogBucket"]["Properties"]["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": {"Fn::If": ["LoggingV2", "BucketOwnerEnforced",
                                                     "BucketOwnerPreferred"]}}]


# ----------------------------------------------------------------------------- 9. namespace


def test_jobs_keep_to_the_namespace_unless_the_stack_allows_otherwise(params, resources):
    """The EMF sink is not limited by the role's cloudwatch:namespace condition: the function
    refuses a job's other namespace (src/settings/tests.rs,
    a_job_may_override_the_namespace_only_when_allowed) unless this parameter allows it."""
    p = params["AllowNamespaceOverride"]
    assert p["Default"] == "false" and p["AllowedValues"] == ["true", "false"]
    env = resources["Function"]["Properties"]["Environment"]["Variables"]
    assert env["ALLOW_NAMESPACE_OVERRIDE"] == {"Ref": "AllowNamespaceOverride"}


# ----------------------------------------------------------------------------- 10. the README


def permissions_section() -> str:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("### Permissions\n")
    end = readme.index("\n### ", start + 1)
    return readme[start:end]


def test_readme_lists_every_role_and_what_it_may_do(resources):
    text = permissions_section()
    roles = [k for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"]
    assert set(roles) == {"FunctionRole", "BatchOperationsRole", "RealtimeLogRole",
                          "FirehoseExportRole"}
    for role in roles:
        assert f"`{role}`" in text, f"README's Permissions section does not name {role}"
        props = resources[role]["Properties"]
        (trust,) = props["AssumeRolePolicyDocument"]["Statement"]
        assert f"`{trust['Principal']['Service']}`" in text, role
        for st in role_statements(resources, role):
            if "Fn::If" in st:
                st = st["Fn::If"][1]
            for action in as_list(st["Action"]):
                assert f"`{action}`" in text, f"{role}: {action} not in the README"
    # The resource policies, and that no other role is created (SAM adds none: Role is given).
    for name in ("LogBucketPolicy", "FailureQueueRulePolicy", "AlarmTopicPolicy"):
        assert f"`{name}`" in text, name
    assert "Role" in resources["Function"]["Properties"]
