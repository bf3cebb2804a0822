"""Checks of the SAM template and the dashboards against the code's own contract.

The metric names and the Lambda's environment variables come from `cflogs catalogue` (the single
source of truth, src/catalogue.rs and src/config.rs). Run from the repository root:

    .venv/bin/python -m pytest tests/deploy -q

`CFLOGS=/path/to/cflogs` skips building the binary (default: `cargo run -q --bin cflogs`).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yml"
GRAFANA = ROOT / "dashboards" / "grafana-cloudwatch.json"

# Metrics the dashboards may read besides the catalogue's: AWS's own, and the metric filters the
# template defines (checked separately below).
AWS_METRICS = {
    "AWS/Lambda": {
        "Invocations",
        "Errors",
        "Throttles",
        "Duration",
        "ConcurrentExecutions",
        "IteratorAge",
    },
    "AWS/SQS": {"ApproximateNumberOfMessagesVisible"},
}
# What the dashboards claim to show (issue 4): every one of these must be on both dashboards.
DASHBOARD_MUST_SHOW = {
    "Requests",
    "BytesDownloaded",
    "BytesUploaded",
    "Hit",
    "RefreshHit",
    "Miss",
    "Status2xx",
    "Status3xx",
    "Status4xx",
    "Status5xx",
    "TimeTaken",
}
PERCENTILES = {"p50", "p90", "p99"}
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "cflm",
    "AWS::URLSuffix": "amazonaws.com",
}


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def catalogue() -> dict:
    cmd = os.environ.get("CFLOGS")
    argv = shlex.split(cmd) if cmd else ["cargo", "run", "-q", "--bin", "cflogs", "--"]
    out = subprocess.run(
        [*argv, "catalogue"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    cat = json.loads(out)
    assert cat["metrics"] and cat["lambda_env"] and cat["namespace"]
    return cat


@pytest.fixture(scope="session")
def catalogue_metrics(catalogue) -> dict[str, dict]:
    return {m["name"]: m for m in catalogue["metrics"]}


@pytest.fixture(scope="session")
def template() -> dict:
    return cfn_yaml.load(str(TEMPLATE))


@pytest.fixture(scope="session")
def resources(template) -> dict:
    return template["Resources"]


@pytest.fixture(scope="session")
def function(resources) -> dict:
    fns = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    assert len(fns) == 1, "exactly one function"
    return fns[0]


@pytest.fixture(scope="session")
def role_statements(resources, function) -> list[dict]:
    role = function["Properties"]["Role"]
    assert role == {"Fn::GetAtt": ["FunctionRole", "Arn"]}, "the function uses FunctionRole"
    statements = []
    for policy in resources["FunctionRole"]["Properties"]["Policies"]:
        if "Fn::If" in policy:
            # A policy that exists with a feature (real-time logs): its true branch.
            cond, policy, absent = policy["Fn::If"]
            assert absent == {"Ref": "AWS::NoValue"}, cond
        for st in policy["PolicyDocument"]["Statement"]:
            statements.append(st)
    return statements


@pytest.fixture(scope="session")
def filter_metrics(resources) -> set[str]:
    names = set()
    for r in resources.values():
        if r["Type"] == "AWS::Logs::MetricFilter":
            for t in r["Properties"]["MetricTransformations"]:
                names.add(t["MetricName"])
    return names


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


def render_sub(template: dict, text: str, extra: dict | None = None) -> str:
    """Resolves a Fn::Sub string the way CloudFormation would, with parameter defaults, fixed
    pseudo parameters and placeholder names for resources and attributes."""
    params = template.get("Parameters", {})
    resources = template["Resources"]
    extra = extra or {}

    def repl(m: re.Match) -> str:
        name = m.group(1)
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in extra:
            return str(extra[name])
        if name in PSEUDO:
            return PSEUDO[name]
        if name in params:
            return str(params[name].get("Default", f"param-{name}"))
        base = name.split(".")[0]
        assert base in resources, f"${{{name}}} names no parameter, resource or pseudo parameter"
        return f"{base.lower()}-placeholder"

    return re.sub(r"\$\{([^}]*)\}", repl, text)


def statements_with(statements, action) -> list[dict]:
    return [
        s
        for s in statements
        if s.get("Effect") == "Allow" and action in as_list(s["Action"])
    ]


def dashboard_body(template) -> dict:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]
    return json.loads(render_sub(template, sub_text(body)))


SEARCH_METRIC = re.compile(r'MetricName="([^"]+)"')
SEARCH_SCHEMA = re.compile(r"SEARCH\('\{([^,}]+)")


def cloudwatch_dashboard_metrics(body: dict) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(namespace -> metric names, metric name -> statistics) of a CloudWatch dashboard body."""
    names: dict[str, set[str]] = {}
    stats: dict[str, set[str]] = {}
    for w in body["widgets"]:
        props = w.get("properties", {})
        for row in props.get("metrics", []):
            opts = row[-1] if row and isinstance(row[-1], dict) else {}
            strings = [x for x in row if isinstance(x, str)]
            if "expression" in opts:
                expr = opts["expression"]
                schema = SEARCH_SCHEMA.findall(expr)
                for ns, metric in zip(schema, SEARCH_METRIC.findall(expr)):
                    names.setdefault(ns, set()).add(metric)
                    m = re.search(r"',\s*'([^']+)'", expr)
                    if m:
                        stats.setdefault(metric, set()).add(m.group(1))
                continue
            assert len(strings) >= 2, f"metric row without namespace and name: {row}"
            assert "..." not in strings, "write rows out in full (no '...')"
            ns, metric = strings[0], strings[1]
            names.setdefault(ns, set()).add(metric)
            stats.setdefault(metric, set()).add(opts.get("stat", props.get("stat", "Average")))
    return names, stats


# ----------------------------------------------------------------------------- the function


def test_function_build_and_runtime(function):
    props = function["Properties"]
    assert props["Runtime"] == "provided.al2023"
    assert props["Handler"] == "bootstrap"
    assert props["Architectures"] == ["arm64"]
    assert props["CodeUri"] == "."
    assert function["Metadata"]["BuildMethod"] == "rust-cargolambda"
    assert function["Metadata"]["BuildProperties"]["Binary"] == "cloudfront-log-metrics"
    assert props["MemorySize"] == {"Ref": "MemorySize"}
    assert props["Timeout"] == {"Ref": "Timeout"}
    # SAM adds AWSLambdaBasicExecutionRole (logs on "*") to roles it generates: not wanted.
    assert "Policies" not in props


def test_every_lambda_env_var_is_set(function, catalogue, template):
    env = function["Properties"]["Environment"]["Variables"]
    missing = [v for v in catalogue["lambda_env"] if v not in env]
    assert not missing, f"lambda_env variables not set by the template: {missing}"
    params = template["Parameters"]
    for var in catalogue["lambda_env"]:
        value = env[var]
        assert isinstance(value, dict) and "Ref" in value, f"{var} should come from a parameter"
        assert value["Ref"] in params, f"{var} refers to unknown parameter {value['Ref']}"
    assert env["MARKER_BUCKET"] == {"Ref": "LogBucketName"}, "markers live in the log bucket"


def test_parameter_defaults_match_the_code(template, catalogue):
    p = template["Parameters"]
    assert p["MetricsNamespace"]["Default"] == catalogue["namespace"]
    assert p["MarkerPrefix"]["Default"] == "_cflm/processed/"
    # Sizing (README): measured with scripts/sizing.sh; change both together.
    assert p["MemorySize"]["Default"] == 512
    assert p["Timeout"]["Default"] == 300
    dims = p["MetricsDimensions"]["Default"]
    keys = {k.strip() for s in dims.split(";") for k in s.split(",") if k.strip()}
    assert keys <= set(catalogue["dimension_keys"])
    assert "DistributionId" in [s.strip() for s in dims.split(";")], (
        "alarms and dashboards read the DistributionId dimension set"
    )


def test_log_group_and_retention(resources, function):
    lg = resources["FunctionLogGroup"]["Properties"]
    assert lg["LogGroupName"] == {"Fn::Sub": "/aws/lambda/${AWS::StackName}"}
    assert function["Properties"]["FunctionName"] == {"Ref": "AWS::StackName"}
    assert lg["RetentionInDays"] == {"Ref": "FunctionLogRetentionDays"}
    assert function["Properties"]["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}


def test_async_invocation_goes_to_failure_queue(function, resources):
    cfg = function["Properties"]["EventInvokeConfig"]
    assert cfg["MaximumRetryAttempts"] == 2
    assert cfg["MaximumEventAgeInSeconds"] == {"Ref": "MaximumEventAgeInSeconds"}
    on_failure = cfg["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert on_failure["Destination"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    assert resources["FailureQueue"]["Type"] == "AWS::SQS::Queue"
    alarms = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    ]
    assert len(alarms) == 1
    a = alarms[0]
    assert a["Namespace"] == "AWS/SQS"
    assert a["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["FailureQueue", "QueueName"]}}
    ]
    assert a["ComparisonOperator"] == "GreaterThanThreshold" and a["Threshold"] == 0


# ----------------------------------------------------------------------------- least privilege


def test_role_actions_are_the_expected_few(role_statements):
    actions = {a for s in role_statements for a in as_list(s["Action"])}
    assert actions == {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        # The version an event names, under LogPrefix only (tests/deploy/test_security.py).
        "s3:GetObjectVersion",
        "s3:PutObject",
        "s3:ListBucket",
        "cloudwatch:PutMetricData",
        "sqs:SendMessage",
        # Real-time logs (EnableRealtimeLogs): reading its stream, see the test below.
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
        # A customer key of the stream (RealtimeStreamKmsKeyArn): test_security.py.
        "kms:Decrypt",
    }
    assert all(s["Effect"] == "Allow" for s in role_statements)
    assert not any("*" in a for a in actions)


def test_only_put_metric_data_has_star_resource(role_statements):
    for s in role_statements:
        for r in as_list(s["Resource"]):
            if r == "*":
                assert as_list(s["Action"]) == ["cloudwatch:PutMetricData"], s


def test_put_metric_data_limited_to_namespace(role_statements):
    (s,) = statements_with(role_statements, "cloudwatch:PutMetricData")
    assert s["Resource"] == "*"
    assert s["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": {"Ref": "MetricsNamespace"}}
    }


def test_get_object_only_on_log_and_marker_prefixes(role_statements):
    resources = [
        sub_text(r)
        for s in statements_with(role_statements, "s3:GetObject")
        for r in as_list(s["Resource"])
    ]
    assert sorted(resources) == sorted(
        [
            "arn:${AWS::Partition}:s3:::${LogBucketName}/${LogPrefix}*",
            "arn:${AWS::Partition}:s3:::${LogBucketName}/${MarkerPrefix}*",
        ]
    )


def test_put_object_only_on_marker_prefix(role_statements):
    stmts = statements_with(role_statements, "s3:PutObject")
    resources = [sub_text(r) for s in stmts for r in as_list(s["Resource"])]
    assert resources == ["arn:${AWS::Partition}:s3:::${LogBucketName}/${MarkerPrefix}*"]


def test_list_bucket_only_for_marker_prefix(role_statements):
    (s,) = statements_with(role_statements, "s3:ListBucket")
    assert sub_text(s["Resource"]) == "arn:${AWS::Partition}:s3:::${LogBucketName}"
    assert sub_text(s["Condition"]["StringLike"]["s3:prefix"]) == "${MarkerPrefix}*"


def test_logs_and_queue_resources_are_own(role_statements):
    (logs,) = statements_with(role_statements, "logs:PutLogEvents")
    assert logs["Resource"] == {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}
    (sqs,) = statements_with(role_statements, "sqs:SendMessage")
    assert sqs["Resource"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}


def batch_role_statements(resources) -> list[dict]:
    return [
        st
        for policy in resources["BatchOperationsRole"]["Properties"]["Policies"]
        for st in policy["PolicyDocument"]["Statement"]
    ]


def test_batch_operations_role_is_assumed_only_by_this_account_s_jobs(resources):
    role = resources["BatchOperationsRole"]
    assert role["Type"] == "AWS::IAM::Role"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_batch_operations_role_reads_manifests_invokes_the_function_writes_reports(resources):
    grants = {}
    for st in batch_role_statements(resources):
        assert st["Effect"] == "Allow"
        for action in as_list(st["Action"]):
            for r in as_list(st["Resource"]):
                grants.setdefault(action, []).append(
                    r if isinstance(r, dict) and "Fn::GetAtt" in r else sub_text(r)
                )
    bucket = "arn:${AWS::Partition}:s3:::${LogBucketName}"
    assert grants == {
        "s3:GetObject": [f"{bucket}/${{BatchOperationsPrefix}}manifests/*"],
        "s3:GetObjectVersion": [f"{bucket}/${{BatchOperationsPrefix}}manifests/*"],
        "s3:PutObject": [f"{bucket}/${{BatchOperationsPrefix}}reports/*"],
        "s3:GetBucketLocation": [bucket],
        "lambda:InvokeFunction": [{"Fn::GetAtt": ["Function", "Arn"]}],
    }


def test_backfill_outputs_match_cflogs_defaults(template):
    p = template["Parameters"]["BatchOperationsPrefix"]
    out = template["Outputs"]
    assert out["BatchOperationsRoleArn"]["Value"] == {"Fn::GetAtt": ["BatchOperationsRole", "Arn"]}
    assert out["FunctionArn"]["Value"] == {"Fn::GetAtt": ["Function", "Arn"]}
    manifests = sub_text(out["BatchManifestPrefix"]["Value"])
    reports = sub_text(out["BatchReportPrefix"]["Value"])
    assert manifests == "${BatchOperationsPrefix}manifests/"
    assert reports == "${BatchOperationsPrefix}reports/"
    cmd = os.environ.get("CFLOGS")
    argv = shlex.split(cmd) if cmd else ["cargo", "run", "-q", "--bin", "cflogs", "--"]
    help_text = subprocess.run(
        [*argv, "backfill", "--help"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    default = p["Default"]
    for flag, value in [
        ("--manifest-prefix", manifests.replace("${BatchOperationsPrefix}", default)),
        ("--report-prefix", reports.replace("${BatchOperationsPrefix}", default)),
    ]:
        m = re.search(re.escape(flag) + r" <PREFIX>[^\n]*\[default: ([^\]]+)\]", help_text)
        assert m and m.group(1) == value, (flag, value)
    assert not default.startswith(template["Parameters"]["LogPrefix"]["Default"])


def test_batch_operations_files_expire_and_reserved_concurrency_is_optional(resources, template):
    rules = resources["LogBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if isinstance(r, dict) and r.get("Id") == "expire-batch-operations"]
    assert rule["Prefix"] == {"Ref": "BatchOperationsPrefix"}
    assert rule["ExpirationInDays"] == {"Ref": "MarkerExpirationDays"}
    fn = resources["Function"]["Properties"]
    assert fn["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == 0


def test_invoke_permissions_name_their_source(resources):
    perms = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::Permission"}
    assert perms, "the triggers need invoke permissions"
    for name, r in perms.items():
        assert "SourceArn" in r["Properties"], f"{name} allows any source"


# ----------------------------------------------------------------------------- bucket and triggers


def test_created_bucket_settings(resources):
    b = resources["LogBucket"]
    assert b["Condition"] == "CreateBucket"
    p = b["Properties"]
    # ACLs stay on for legacy logging unless the stack configures v2 (test_security.py).
    (rule,) = p["OwnershipControls"]["Rules"]
    assert rule["ObjectOwnership"]["Fn::If"][2] == "BucketOwnerPreferred"
    assert all(p["PublicAccessBlockConfiguration"].values())
    assert len(p["PublicAccessBlockConfiguration"]) == 4
    (sse,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert sse["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = p["LifecycleConfiguration"]["Rules"]
    plain = [r for r in rules if isinstance(r, dict) and "Fn::If" not in r]
    marker_rules = [r for r in plain if r.get("Prefix") == {"Ref": "MarkerPrefix"}]
    assert marker_rules and marker_rules[0]["ExpirationInDays"] == {"Ref": "MarkerExpirationDays"}
    conditional = [r["Fn::If"][1] for r in rules if isinstance(r, dict) and "Fn::If" in r]
    assert any(r.get("ExpirationInDays") == {"Ref": "LogExpirationDays"} for r in conditional)


def test_bucket_policy_denies_plain_http(resources):
    pol = resources["LogBucketPolicy"]
    assert pol["Condition"] == "CreateBucket"
    stmts = pol["Properties"]["PolicyDocument"]["Statement"]
    deny = [s for s in stmts if isinstance(s, dict) and s.get("Effect") == "Deny"]
    assert len(deny) == 1
    assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny[0]["Action"] == "s3:*"


def test_s3_notification_for_created_bucket(resources):
    cond, with_prefix, whole_bucket = resources["LogBucket"]["Properties"][
        "NotificationConfiguration"
    ]["LambdaConfigurations"]["Fn::If"]
    assert cond == "HasLogPrefix"
    for cfg in with_prefix + whole_bucket:
        assert cfg["Function"] == {"Fn::GetAtt": ["Function", "Arn"]}
        assert cfg["Event"] == "s3:ObjectCreated:*"
    # Every object under LogPrefix (any v2 format); without one only log-like names (the
    # markers end in .json). tests/deploy/test_logging_v2.py applies them to generated keys.
    assert [c["Filter"]["S3Key"]["Rules"] for c in with_prefix] == [
        [{"Name": "prefix", "Value": {"Ref": "LogPrefix"}}]
    ]
    assert [c["Filter"]["S3Key"]["Rules"] for c in whole_bucket] == [
        [{"Name": "suffix", "Value": ".gz"}],
        [{"Name": "suffix", "Value": ".parquet"}],
    ]
    assert resources["LogBucket"]["DependsOn"] == "LogBucketInvokePermission"


def test_eventbridge_rule_for_existing_bucket(resources):
    rule = resources["LogObjectCreatedRule"]
    assert rule["Condition"] == "UseExistingBucket"
    pat = rule["Properties"]["EventPattern"]
    assert pat["source"] == ["aws.s3"]
    assert pat["detail-type"] == ["Object Created"]
    assert pat["detail"]["bucket"]["name"] == [{"Ref": "LogBucketName"}]
    key = pat["detail"]["object"]["key"]["Fn::If"]
    assert key[1] == [{"prefix": {"Ref": "LogPrefix"}}]
    assert key[2] == [{"suffix": ".gz"}, {"suffix": ".parquet"}]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}


def test_eventbridge_target_retries_then_goes_to_failure_queue(resources, template):
    (target,) = resources["LogObjectCreatedRule"]["Properties"]["Targets"]
    retry = target["RetryPolicy"]
    assert 0 < retry["MaximumRetryAttempts"] <= 185
    # The same bound as Lambda's own retries of an asynchronous invocation.
    assert retry["MaximumEventAgeInSeconds"] == {"Ref": "MaximumEventAgeInSeconds"}
    age = template["Parameters"]["MaximumEventAgeInSeconds"]
    assert 60 <= age["MinValue"] and age["MaxValue"] <= 86400, "EventBridge's own limits"
    # Events EventBridge could not deliver land where failed invocations land.
    assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}


def test_failure_queue_accepts_only_the_rule_s_dead_letters(resources):
    policies = [r for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    assert len(policies) == 1
    pol = policies[0]
    # Only the existing-bucket path has the rule; the function's own on-failure destination
    # needs no queue policy (its role allows sqs:SendMessage). The policy's other statement
    # denies plain HTTP, on either path (test_security.py).
    assert "Condition" not in pol
    assert pol["Properties"]["Queues"] == [{"Ref": "FailureQueue"}]
    _deny, rule_statement = pol["Properties"]["PolicyDocument"]["Statement"]
    cond, st, absent = rule_statement["Fn::If"]
    assert cond == "UseExistingBucket" and absent == {"Ref": "AWS::NoValue"}
    assert st["Effect"] == "Allow"
    assert st["Principal"] == {"Service": "events.amazonaws.com"}
    assert as_list(st["Action"]) == ["sqs:SendMessage"]
    assert st["Resource"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    assert st["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["LogObjectCreatedRule", "Arn"]}}
    }


def test_markers_outlive_every_redelivery(template, resources):
    p = template["Parameters"]["MarkerExpirationDays"]
    retention_s = resources["FailureQueue"]["Properties"]["MessageRetentionPeriod"]
    assert retention_s == 14 * 86400
    # An event reaches the failure queue up to MaximumEventAgeInSeconds after the first attempt
    # (which wrote the marker) and can be replayed until the queue drops it: the marker must
    # still be there then, or the replay counts the file twice.
    longest_age_s = template["Parameters"]["MaximumEventAgeInSeconds"]["MaxValue"]
    assert p["MinValue"] >= 14
    assert p["MinValue"] * 86400 >= retention_s + longest_age_s
    assert p["Default"] >= p["MinValue"]
    for word in ("failure queue", "14 days"):
        assert word in p["Description"], f"the Description should say why ({word!r})"


def test_namespace_pattern_refuses_what_put_metric_data_refuses(template):
    p = template["Parameters"]["MetricsNamespace"]
    pattern = p["AllowedPattern"]
    assert "AWS/" in p["ConstraintDescription"]
    good = [
        p["Default"],
        "CloudFront/AccessLogs",
        "MyCompany/CDN-prod_2#edge.v1",
        "AWSome/Metrics",
        "aws/lower-case-is-not-reserved",
        "x" * 255,
    ]
    bad = [
        "AWS/CloudFront",
        "AWS/",
        "",
        "x" * 256,
        # Colons are refused by the log metric filters, which publish to the same namespace,
        # spaces by the dashboards' SEARCH expressions (and "*", "$" by both).
        "Cloud:Front",
        ":leading",
        "Cloud Front",
        "Cloud*Front",
        "Cloud$Front",
        "Caf\u00e9",
    ]
    for v in good:
        assert re.fullmatch(pattern, v), f"{v!r} should be accepted"
    for v in bad:
        assert not re.fullmatch(pattern, v), f"{v!r} should be refused"


def test_logging_v2(resources, template):
    src = resources["LoggingV2Source"]["Properties"]
    assert src["LogType"] == "ACCESS_LOGS"
    assert sub_text(src["ResourceArn"]).endswith(
        ":cloudfront::${AWS::AccountId}:distribution/${DistributionId}"
    )
    dest = resources["LoggingV2Destination"]["Properties"]
    assert dest["OutputFormat"] == {"Ref": "LoggingV2OutputFormat"}
    assert template["Parameters"]["LoggingV2OutputFormat"]["AllowedValues"] == [
        "w3c",
        "json",
        "plain",
        "parquet",
    ]
    d = resources["LoggingV2Delivery"]["Properties"]
    assert d["RecordFields"] == {"Ref": "LoggingV2RecordFields"}
    assert d["S3SuffixPath"] == {"Ref": "LoggingV2SuffixPath"}
    assert template["Parameters"]["LoggingV2SuffixPath"]["Default"] == (
        "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}"
    )
    fields = template["Parameters"]["LoggingV2RecordFields"]["Default"].split(",")
    for needed in ("date", "time", "sc-bytes", "sc-status", "x-edge-result-type", "time-taken"):
        assert needed in fields
    for private in ("c-ip", "cs(Cookie)", "cs-uri-query", "cs(User-Agent)", "x-forwarded-for"):
        assert private not in fields
    for name in ("LoggingV2Source", "LoggingV2Destination", "LoggingV2Delivery"):
        assert resources[name]["Condition"] == "LoggingV2"
    assert "V2LoggingNeedsUsEast1" in template["Rules"]


# ----------------------------------------------------------------------------- alarms


def alarm_metric_names(props) -> set[str]:
    if "MetricName" in props:
        return {props["MetricName"]}
    return {
        m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m
    }


def test_alarms_are_optional_and_notify_the_topic(resources):
    alarms = {k: r for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert {
        "EgressAlarm",
        "ErrorRateAlarm",
        "CacheHitRatioAlarm",
        "FunctionErrorsAlarm",
        "FunctionThrottlesAlarm",
        "FailureQueueAlarm",
    } <= set(alarms)
    for name, a in alarms.items():
        assert a["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        if name != "FailureQueueAlarm":
            assert "Condition" in a, f"{name} must be optional"
        # Only "logs stopped" reads no data as a fault: that is what it watches for.
        want = "breaching" if name == "LogsStoppedAlarm" else "notBreaching"
        assert a["Properties"]["TreatMissingData"] == want, name
    sub = resources["AlarmEmailSubscription"]
    assert sub["Condition"] == "HasAlarmEmail"
    assert sub["Properties"]["Protocol"] == "email"


def test_alarm_metrics_exist(resources, catalogue_metrics, filter_metrics):
    for name, r in resources.items():
        if r["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = r["Properties"]
        ns_values = (
            [props["Namespace"]]
            if "Namespace" in props
            else [m["MetricStat"]["Metric"]["Namespace"] for m in props["Metrics"] if "MetricStat" in m]
        )
        for ns, metric in zip(ns_values, sorted(alarm_metric_names(props))):
            if ns == {"Ref": "MetricsNamespace"}:
                assert metric in catalogue_metrics or metric in filter_metrics, (name, metric)
            else:
                assert metric in AWS_METRICS[ns], (name, metric)


def test_distribution_alarms_survive_late_logs(resources, template):
    """Period x EvaluationPeriods <= 7 days (periods of an hour or more), 1 breaching datapoint
    alarms, and the look-back covers CloudFront's delivery delay."""
    lookback = template["Parameters"]["AlarmLookbackHours"]
    assert lookback["Default"] >= 24 and lookback["MaxValue"] * 3600 <= 7 * 86400
    for name in ("EgressAlarm", "ErrorRateAlarm", "CacheHitRatioAlarm"):
        p = resources[name]["Properties"]
        assert p["DatapointsToAlarm"] == 1
        assert "DistributionId" in json.dumps(p["Metrics"])
        for m in p["Metrics"]:
            if "MetricStat" in m:
                (dim,) = m["MetricStat"]["Metric"]["Dimensions"]
                assert dim["Name"] == "DistributionId"
    egress = resources["EgressAlarm"]["Properties"]
    periods = template["Parameters"]["EgressAlarmPeriod"]["AllowedValues"]
    daily_evals, hourly_evals = egress["EvaluationPeriods"]["Fn::If"][1:]
    assert egress["EvaluationPeriods"]["Fn::If"][0] == "EgressDaily"
    assert 86400 * daily_evals <= 7 * 86400 and 86400 * daily_evals >= 2 * 86400
    assert hourly_evals == {"Ref": "AlarmLookbackHours"}
    assert set(periods) == {3600, 86400}
    rate = resources["ErrorRateAlarm"]["Properties"]
    exprs = [sub_text(m["Expression"]) for m in rate["Metrics"] if "Expression" in m]
    assert any("FILL(e5, 0) / req" in e for e in exprs)
    hit = resources["CacheHitRatioAlarm"]["Properties"]
    assert hit["ComparisonOperator"] == "LessThanThreshold"


def test_logs_stopped_alarm_sums_log_files_and_reads_silence_as_a_fault(resources, template, catalogue_metrics):
    """Per AlarmDistributionId, LogFiles summed over a configurable period below 1, missing data
    breaching; a period of 0 disables it."""
    a = resources["LogsStoppedAlarm"]
    assert a["Condition"] == "LogsStoppedAlarmEnabled"
    cond = template["Conditions"]["LogsStoppedAlarmEnabled"]["Fn::And"]
    assert {"Condition": "HasAlarmDistribution"} in cond
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "LogsStoppedAlarmPeriodSeconds"}, 0]}]} in cond
    p = a["Properties"]
    assert p["Namespace"] == {"Ref": "MetricsNamespace"}
    assert p["MetricName"] == "LogFiles" and catalogue_metrics["LogFiles"]["unit"] == "Count"
    (dim,) = p["Dimensions"]
    assert dim["Name"] == "DistributionId"
    assert p["Statistic"] == "Sum"
    assert p["Period"] == {"Ref": "LogsStoppedAlarmPeriodSeconds"}
    assert (p["EvaluationPeriods"], p["Threshold"], p["ComparisonOperator"]) == (1, 1, "LessThanThreshold")
    assert p["TreatMissingData"] == "breaching"
    param = template["Parameters"]["LogsStoppedAlarmPeriodSeconds"]
    assert param["Default"] == 7200 and 0 in param["AllowedValues"]
    assert all(v % 3600 == 0 and v <= 86400 for v in param["AllowedValues"])


def test_freshness_widgets_on_both_dashboards(template):
    body = sub_text(template["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
    for stat in ("p50", "p99", "Maximum"):
        assert re.search(r"DeliveryDelay[^,]*', '" + stat + "'", body), stat
    assert re.search(r"LogFiles[^,]*', 'Sum'", body)
    assert "DeliveryDelay" in body and "LogFiles" in body
    grafana = json.loads((ROOT / "dashboards" / "grafana-cloudwatch.json").read_text())
    targets = [(t.get("metricName"), t.get("statistic")) for p in grafana["panels"] for t in p.get("targets", [])]
    for want in [("DeliveryDelay", "p50"), ("DeliveryDelay", "p99"), ("DeliveryDelay", "Maximum"), ("LogFiles", "Sum")]:
        assert want in targets, want


def test_metric_filters_publish_to_own_namespace(resources, catalogue_metrics, filter_metrics):
    assert {"RejectedRecords", "StaleRecordsSkipped"} <= filter_metrics
    assert not filter_metrics & set(catalogue_metrics), "filter metrics must not shadow the catalogue"
    for r in resources.values():
        if r["Type"] == "AWS::Logs::MetricFilter":
            assert r["Properties"]["LogGroupName"] == {"Ref": "FunctionLogGroup"}
            for t in r["Properties"]["MetricTransformations"]:
                assert t["MetricNamespace"] == {"Ref": "MetricsNamespace"}


# ----------------------------------------------------------------------------- dashboards


def test_cloudwatch_dashboard(template, catalogue, catalogue_metrics, filter_metrics):
    body = dashboard_body(template)
    names, stats = cloudwatch_dashboard_metrics(body)
    ns = catalogue["namespace"]
    own = names.pop(ns, set())
    for aws_ns, metrics in names.items():
        assert aws_ns in AWS_METRICS, f"unexpected namespace {aws_ns}"
        assert metrics <= AWS_METRICS[aws_ns], metrics - AWS_METRICS[aws_ns]
    unknown = own - set(catalogue_metrics) - filter_metrics
    assert not unknown, f"dashboard names metrics outside the catalogue: {unknown}"
    assert DASHBOARD_MUST_SHOW <= own, DASHBOARD_MUST_SHOW - own
    assert PERCENTILES <= stats["TimeTaken"]
    for m, s in stats.items():
        if m in catalogue_metrics and catalogue_metrics[m]["kind"] == "sum":
            assert s == {"Sum"}, f"{m} is a per-minute sum, read it with Sum"
    # Function health and the rejected/stale counts (Logs Insights over the function's logs).
    assert {"Invocations", "Errors", "Throttles", "Duration"} <= names["AWS/Lambda"]
    logs = [w for w in body["widgets"] if w["type"] == "log"]
    assert len(logs) == 1
    query = logs[0]["properties"]["query"]
    assert query.startswith("SOURCE 'functionloggroup-placeholder' |"), "the function's log group"
    assert "sum(rejected)" in query and "sum(skipped_stale)" in query


def test_cloudwatch_dashboard_substitutions_are_known(template):
    text = sub_text(template["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
    render_sub(template, text)  # asserts every ${...} resolves


def grafana_metrics(dash) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    names: dict[str, set[str]] = {}
    stats: dict[str, set[str]] = {}
    for p in dash["panels"]:
        for t in p.get("targets", []):
            assert t["datasource"]["type"] == "cloudwatch"
            if t.get("metricEditorMode") == 1:
                for m in SEARCH_METRIC.findall(t["expression"]):
                    names.setdefault("$namespace", set()).add(m)
                continue
            names.setdefault(t["namespace"], set()).add(t["metricName"])
            stats.setdefault(t["metricName"], set()).add(t["statistic"])
    return names, stats


def test_grafana_dashboard(catalogue_metrics, filter_metrics):
    dash = json.loads(GRAFANA.read_text())
    assert 36 <= dash["schemaVersion"] <= 41
    (inp,) = dash["__inputs"]
    assert inp["type"] == "datasource" and inp["pluginId"] == "cloudwatch"
    ds_ref = "${" + inp["name"] + "}"
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["region"]["query"]["queryType"] == "regions"
    dist = variables["distribution"]
    q = dist["query"]
    assert (q["queryType"], q["metricName"], q["dimensionKey"]) == (
        "dimensionValues",
        "Requests",
        "DistributionId",
    )
    assert q["region"] == "$region" and q["namespace"] == "$namespace"
    assert dist["definition"] == "dimension_values($region, $namespace, Requests, DistributionId)"
    for p in dash["panels"]:
        if p["type"] == "row":
            continue
        assert p["datasource"]["uid"] == ds_ref
        for t in p["targets"]:
            assert t["datasource"]["uid"] == ds_ref
            assert t["region"] == "$region"
            if t.get("metricEditorMode") != 1 and t["namespace"] == "$namespace" and t["dimensions"]:
                assert t["dimensions"] == {"DistributionId": "$distribution"}
    names, stats = grafana_metrics(dash)
    own = names.pop("$namespace", set())
    for aws_ns, metrics in names.items():
        assert aws_ns in AWS_METRICS, f"unexpected namespace {aws_ns}"
        assert metrics <= AWS_METRICS[aws_ns]
    unknown = own - set(catalogue_metrics) - filter_metrics
    assert not unknown, f"Grafana dashboard names metrics outside the catalogue: {unknown}"
    assert DASHBOARD_MUST_SHOW <= own, DASHBOARD_MUST_SHOW - own
    assert PERCENTILES <= stats["TimeTaken"]
    for m, s in stats.items():
        if m in catalogue_metrics and catalogue_metrics[m]["kind"] == "sum":
            assert s == {"Sum"}, f"{m} is a per-minute sum, read it with Sum"
    assert {"RejectedRecords", "StaleRecordsSkipped"} <= own
    assert {"Invocations", "Errors", "Throttles", "Duration"} <= names["AWS/Lambda"]


def test_math_expressions_reference_hidden_queries():
    """Grafana math expressions may only use ids of queries in the same panel."""
    dash = json.loads(GRAFANA.read_text())
    for p in dash["panels"]:
        ids = {t["id"] for t in p.get("targets", []) if t.get("id")}
        for t in p.get("targets", []):
            if t.get("metricEditorMode") == 1:
                used = set(re.findall(r"\b([a-z][A-Za-z0-9_]*)\b", t["expression"])) - {"FILL"}
                used = {u for u in used if not u.isupper()}
                assert used <= ids, (p["title"], used - ids)


# ----------------------------------------------------------------------------- docs and samconfig


def test_samconfig_example_overrides_are_template_parameters(template):
    import tomllib

    cfg = tomllib.loads((ROOT / "samconfig.example.toml").read_text())
    deploy = cfg["default"]["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert cfg["default"]["global"]["parameters"]["region"] == "us-east-1"
    params = template["Parameters"]
    for item in deploy["parameter_overrides"]:
        key, _, value = item.partition("=")
        assert key in params, f"samconfig.example.toml overrides unknown parameter {key}"
        allowed = params[key].get("AllowedValues")
        if allowed:
            assert value in [str(a) for a in allowed], (key, value)
        if "AllowedPattern" in params[key]:
            assert re.fullmatch(params[key]["AllowedPattern"], value), (key, value)
    assert any(i.startswith("LogBucketName=") for i in deploy["parameter_overrides"])


def test_readme_describes_every_parameter(template):
    docs = (ROOT / "README.md").read_text()
    missing = [p for p in template["Parameters"] if f"| `{p}` |" not in docs]
    assert not missing, f"README.md's parameter table lacks {missing}"


# ----------------------------------------------------------------------------- real-time logs

REALTIME_RESOURCES = {
    "RealtimeStream",
    "RealtimeLogRole",
    "RealtimeLogConfig",
    "RealtimeEventSourceMapping",
    "RealtimeFlushSchedule",
    "RealtimeFlushPermission",
    "IteratorAgeAlarm",
}


def test_realtime_resources_exist_only_when_enabled(resources, template):
    assert template["Parameters"]["EnableRealtimeLogs"]["Default"] == "false"
    for name in REALTIME_RESOURCES:
        assert name in resources, name
        assert resources[name].get("Condition") in ("Realtime", "IteratorAgeAlarmEnabled"), name


def test_kinesis_reads_only_on_the_stream(role_statements):
    kinesis = [s for s in role_statements if any(a.startswith("kinesis:") for a in as_list(s["Action"]))]
    assert len(kinesis) == 1
    assert kinesis[0]["Resource"] == {"Fn::GetAtt": ["RealtimeStream", "Arn"]}
    assert not any("Put" in a for a in as_list(kinesis[0]["Action"]))


def test_cloudfront_writes_only_to_the_stream(resources):
    role = resources["RealtimeLogRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    (policy,) = role["Policies"]
    # The second statement: a customer key's kms:GenerateDataKey (test_security.py).
    st, _kms = policy["PolicyDocument"]["Statement"]
    assert st["Resource"] == {"Fn::GetAtt": ["RealtimeStream", "Arn"]}
    assert set(st["Action"]) == {
        "kinesis:DescribeStreamSummary",
        "kinesis:DescribeStream",
        "kinesis:PutRecord",
        "kinesis:PutRecords",
    }


def test_event_source_mapping_serves_the_exactly_once_design(resources):
    """README "Real-time logs": one batch per shard at a time, partial batch responses, retries
    until a record expires rather than skipping it, failures to the queue."""
    p = resources["RealtimeEventSourceMapping"]["Properties"]
    assert p["ParallelizationFactor"] == 1
    assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert p["BisectBatchOnFunctionError"] is False
    assert p["MaximumRetryAttempts"] == -1
    assert p["MaximumRecordAgeInSeconds"] == -1
    assert p["BatchSize"] == 10000
    assert p["StartingPosition"] == "LATEST"
    assert p["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["FailureQueue", "Arn"]}


def test_parallelization_factor_is_fixed_at_one(template, resources):
    """The shard checkpoint is one sequence number: concurrent batches of one shard would
    interleave and lose records. Not a parameter, so no deployment can change it."""
    p = resources["RealtimeEventSourceMapping"]["Properties"]
    assert p["ParallelizationFactor"] == 1
    assert not any("Paralleli" in name for name in template["Parameters"])


def test_realtime_flush_runs_every_minute_on_this_function_only(resources):
    """A minute goes out whether or not its shard gets more records (parents after a reshard,
    quiet shards): the schedule invokes the function every minute."""
    rule = resources["RealtimeFlushSchedule"]
    assert rule["Condition"] == "Realtime"
    p = rule["Properties"]
    assert p["ScheduleExpression"] == "rate(1 minute)"
    assert p["State"] == "ENABLED"
    (target,) = p["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert "Input" not in target, "the function reads the Scheduled Event as EventBridge sends it"
    perm = resources["RealtimeFlushPermission"]
    assert perm["Condition"] == "Realtime"
    assert perm["Properties"]["Principal"] == "events.amazonaws.com"
    assert perm["Properties"]["SourceArn"] == {"Fn::GetAtt": ["RealtimeFlushSchedule", "Arn"]}


def test_default_realtime_fields_are_read_and_none_is_personal(template):
    fields = template["Parameters"]["RealtimeLogFields"]["Default"]
    names = fields.split(",")
    for private in ["c-ip", "cs-cookie", "cs-uri-query", "x-edge-request-id", "cs-user-agent",
                    "cs-referer", "x-forwarded-for", "cs-headers", "cs-uri-stem"]:
        assert private not in names, private
    # The function accepts the selection and reads the sample records written with it.
    cmd = os.environ.get("CFLOGS")
    argv = shlex.split(cmd) if cmd else ["cargo", "run", "-q", "--bin", "cflogs", "--"]
    out = subprocess.run(
        [*argv, "process", "--dry-run", "--output", "none", "--realtime-fields", fields,
         "--distribution-hosts", "d333example.cloudfront.net=E6EXAMPLE7890",
         "tests/fixtures/realtime/sample.tsv"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "records: 60, rejected lines: 0," in out.stderr, out.stderr


def test_firehose_export_writes_only_its_prefix_and_invokes_only_this_function(resources):
    p = resources["FirehoseExport"]["Properties"]
    assert resources["FirehoseExport"]["Condition"] == "FirehoseExport"
    assert p["DeliveryStreamType"] == "KinesisStreamAsSource"
    s3 = p["ExtendedS3DestinationConfiguration"]
    assert s3["CompressionFormat"] == "GZIP"
    (proc,) = s3["ProcessingConfiguration"]["Processors"]
    lambda_arn = [x for x in proc["Parameters"] if x["ParameterName"] == "LambdaArn"]
    assert lambda_arn[0]["ParameterValue"] == {"Fn::GetAtt": ["Function", "Arn"]}
    role = resources["FirehoseExportRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    for policy in role["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in st:
                # A customer key's kms:Decrypt (test_security.py).
                st = st["Fn::If"][1]
            actions = as_list(st["Action"])
            if "s3:PutObject" in actions:
                assert sub_text(st["Resource"]).endswith("/${ExportPrefix}*"), st
            if "lambda:InvokeFunction" in actions:
                assert st["Resource"] == {"Fn::GetAtt": ["Function", "Arn"]}
            assert st["Resource"] != "*", st
