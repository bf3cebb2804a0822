"""Checks of the standard logging (v2) delivery for every choice its parameters offer.

For each output format and path layout (Hive-compatible or not, suffix paths with the variables
in several orders, a LogPrefix or the whole bucket): the template lints, the delivery sets a field
delimiter only where the format has one, and the function's trigger (S3 notification, EventBridge
rule) selects every log key and no key of the function's own objects. Run from the repository
root: `.venv/bin/python -m pytest tests/deploy -q`.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yml"
ACCOUNT = "123456789012"
DISTRIBUTION = "E2Q4ABCDEFGH"
NO_VALUE = object()

# Suffix paths as a user may choose them (the template's default first); src/distribution.rs
# reads the distribution ID and the hour from each (its test every_v2_path_layout_...).
SUFFIX_PATHS = [
    "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}",
    "{distributionid}/{yyyy}/{MM}/{dd}/{HH}",
    "{accountid}/{DistributionId}/{yyyy}/{MM}/{dd}/{HH}",
    "{DistributionId}/{accountid}/{yyyy}/{MM}/{dd}/{HH}",
    "{yyyy}/{MM}/{dd}/{HH}/{DistributionId}",
    "{yyyy}/{MM}/{dd}/{HH}/{accountid}/{distributionid}",
    "{accountid}/{yyyy}/{MM}/{dd}/{HH}/{distributionid}/logs",
    "/cloudfront/{DistributionId}/my_distribution_log_data/{yyyy}/{MM}/{dd}/{HH}/logs",
]
# v2 file names are not documented: text formats, Parquet, and a name without an extension.
FILE_NAMES = ["a1b2c3d4.log.gz", "a1b2c3d4.parquet", "a1b2c3d4"]


@pytest.fixture(scope="module")
def template() -> dict:
    return cfn_yaml.load(str(TEMPLATE))


# ----------------------------------------------------------------------------- helpers


def params_with(template: dict, **overrides) -> dict:
    """Parameter values: the defaults, then `overrides`."""
    values = {k: p.get("Default") for k, p in template["Parameters"].items()}
    values.update(overrides)
    return values


def condition(template: dict, params: dict, name: str) -> bool:
    def ev(e) -> bool:
        (fn, arg), = e.items()
        if fn == "Fn::Equals":
            a, b = (resolve(template, params, x) for x in arg)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not ev(arg[0])
        if fn == "Fn::And":
            return all(ev(x) for x in arg)
        if fn == "Fn::Or":
            return any(ev(x) for x in arg)
        if fn == "Condition":
            return condition(template, params, arg)
        raise AssertionError(f"unknown condition function {fn}")

    return ev(template["Conditions"][name])


def resolve(template: dict, params: dict, node):
    """`node` with Ref (parameters, AWS::NoValue), Fn::If and Fn::FindInMap resolved as
    CloudFormation would for `params`; other intrinsic functions are left as they are."""
    if isinstance(node, dict) and len(node) == 1:
        (fn, arg), = node.items()
        if fn == "Ref" and arg == "AWS::NoValue":
            return NO_VALUE
        if fn == "Ref" and arg in params:
            return params[arg]
        if fn == "Fn::If":
            cond, yes, no = arg
            return resolve(template, params, yes if condition(template, params, cond) else no)
        if fn == "Fn::FindInMap":
            m, k1, k2 = (resolve(template, params, x) for x in arg)
            return template["Mappings"][m][k1][k2]
    if isinstance(node, dict):
        out = {k: resolve(template, params, v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}
    if isinstance(node, list):
        return [v for v in (resolve(template, params, x) for x in node) if v is not NO_VALUE]
    return node


def expand(suffix: str, hive: bool, when: tuple[int, int, int, int]) -> str:
    """A suffix path as CloudFront writes it: each variable its value, or with Hive-compatible
    paths a `name=value` segment (CloudFront Developer Guide, standard logging v2)."""
    y, m, d, h = when
    values = {
        "DistributionId": ("DistributionId", DISTRIBUTION),
        "distributionid": ("distributionid", DISTRIBUTION),
        "accountid": ("accountid", ACCOUNT),
        "yyyy": ("year", f"{y:04}"),
        "MM": ("month", f"{m:02}"),
        "dd": ("day", f"{d:02}"),
        "HH": ("hour", f"{h:02}"),
    }
    for var, (hive_name, value) in values.items():
        suffix = suffix.replace("{" + var + "}", f"{hive_name}={value}" if hive else value)
    assert "{" not in suffix, suffix
    return suffix


def log_keys(log_prefix: str) -> list[str]:
    """Every key a log file may have below `log_prefix` (empty: CloudFront's own AWSLogs/…
    prefix for v2, the bucket's root for legacy logging)."""
    keys = [f"{log_prefix}{DISTRIBUTION}.2025-01-02-03.a1b2c3d4.gz"]
    for hive in (False, True):
        prefix = log_prefix or (
            f"AWSLogs/aws-account-id={ACCOUNT}/CloudFront/" if hive
            else f"AWSLogs/{ACCOUNT}/CloudFront/"
        )
        for suffix in SUFFIX_PATHS:
            for name in FILE_NAMES:
                keys.append(f"{prefix}{expand(suffix, hive, (2024, 2, 29, 0))}/{name}")
    return keys


def own_keys(template: dict, params: dict, logs: list[str]) -> list[str]:
    """Keys the function and its jobs write into the log bucket: a marker per log file, long-key
    markers, shard states (src/idempotency/store.rs, src/kinesis.rs), Batch Operations files."""
    marker = params["MarkerPrefix"]
    batch = params["BatchOperationsPrefix"]
    keys = [f"{marker}{k}.json" for k in logs]
    keys += [f"{marker}_long/0123456789abcdef0123456789abcdef.json",
             f"{marker}kinesis/cflm-stream/shardId-000000000000.json",
             f"{batch}manifests/job-1.csv", f"{batch}reports/job-1/manifest.json",
             f"{batch}reports/job-1/results/abc.csv"]
    if params["LogPrefix"]:
        # The export needs a LogPrefix (rule FirehoseExportNeedsALogPrefix); gzip'd documents.
        keys.append(f"{params['ExportPrefix']}2025/01/02/03/cflm-export-1.gz")
    return keys


def s3_notification_matches(configs: list[dict], key: str) -> bool:
    """Whether an S3 event notification (LambdaConfigurations) fires for `key`."""
    def fires(cfg) -> bool:
        ok = True
        for r in cfg["Filter"]["S3Key"]["Rules"]:
            if r["Name"] == "prefix":
                ok &= key.startswith(r["Value"])
            elif r["Name"] == "suffix":
                ok &= key.endswith(r["Value"])
            else:
                raise AssertionError(f"unknown S3 filter rule {r}")
        return ok

    return any(fires(c) for c in configs if c["Event"] == "s3:ObjectCreated:*")


def eventbridge_matches(key_pattern: list, key: str) -> bool:
    """Whether an EventBridge pattern's `detail.object.key` list matches `key`."""
    def one(p) -> bool:
        if isinstance(p, str):
            return key == p
        (op, v), = p.items()
        if op == "prefix":
            return key.startswith(v)
        if op == "suffix":
            return key.endswith(v)
        if op == "exists":
            return bool(v)
        raise AssertionError(f"unknown EventBridge matcher {p}")

    return any(one(p) for p in key_pattern)


def cfn_lint() -> str:
    """cfn-lint of the venv running the tests (as scripts/check-deploy.sh), else on PATH. Missing:
    skipped, except under CI=true."""
    exe = Path(sys.executable).parent / "cfn-lint"
    found = str(exe) if exe.exists() else shutil.which("cfn-lint")
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail("cfn-lint missing (CI=true): run bash scripts/dev-venv.sh")
        pytest.skip("cfn-lint not installed (bash scripts/dev-venv.sh)")
    return found


def with_default(text: str, param: str, value: str) -> str:
    """`text` (the template) with parameter `param`'s Default line set to `value`."""
    block = re.compile(rf"(\n  {param}:\n(?:    .*\n|\n)*?    Default: ).*\n")
    out, n = block.subn(lambda m: m.group(1) + value + "\n", text, count=1)
    assert n == 1, f"no Default line for {param}"
    return out


# ----------------------------------------------------------------------------- tests


def test_output_formats_and_path_parameters(template):
    p = template["Parameters"]
    assert p["LoggingV2OutputFormat"]["AllowedValues"] == ["w3c", "json", "plain", "parquet"]
    assert p["LoggingV2OutputFormat"]["Default"] == "w3c"
    # The function splits w3c and plain lines on tabs only (src/parse/tabs.rs, tsv.rs, w3c.rs).
    assert p["LoggingV2FieldDelimiter"]["AllowedValues"] == ["tab"]
    assert template["Mappings"]["FieldDelimiters"] == {"tab": {"Character": "\t"}}
    assert p["LoggingV2HiveCompatiblePath"]["AllowedValues"] == ["true", "false"]
    assert p["LoggingV2SuffixPath"]["Default"] == SUFFIX_PATHS[0]
    d = template["Resources"]["LoggingV2Delivery"]["Properties"]
    assert d["S3SuffixPath"] == {"Ref": "LoggingV2SuffixPath"}


def test_suffix_path_pattern_takes_what_the_function_reads(template):
    p = template["Parameters"]["LoggingV2SuffixPath"]
    pattern = p["AllowedPattern"]
    good = [*SUFFIX_PATHS, "{distributionid}", "my_distribution_log_data/{DistributionId}/logs",
            "{DistributionId}/{yyyy}/{MM}", "{DistributionId}/" + "x" * 239]
    bad = [
        "",
        "{yyyy}/{MM}/{dd}/{HH}",  # no distribution ID in the key
        "{account-id}/{DistributionId}",  # reserved for CloudFront's default prefix
        "{DistributionId}/{mm}",
        "{DistributionId}/{distributionid}",
        "{accountid}/{accountid}/{DistributionId}",
        "{DistributionId}/{HH}/{dd}/{MM}/{yyyy}",  # the hour would be misread without Hive
        "{DistributionId}/{yyyy}/{dd}",
        "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}/{yyyy}",
        "logs-{DistributionId}",  # a variable inside a segment
        "{DistributionId}/year=2025",  # a Hive-looking literal
        "EXAMPLE12345/{DistributionId}",  # a literal the function would take for the ID
        "{DistributionId}//logs",
        "{DistributionId}/a*b",
        "{DistributionId}/" + "x" * 240,  # 257 characters
    ]
    for v in good:
        assert re.fullmatch(pattern, v), f"{v!r} should be accepted"
    for v in bad:
        assert not re.fullmatch(pattern, v), f"{v!r} should be refused"
    assert p["MaxLength"] == 256


@pytest.mark.parametrize("fmt", ["w3c", "json", "plain", "parquet"])
def test_field_delimiter_only_for_delimited_formats(template, fmt):
    delivery = template["Resources"]["LoggingV2Delivery"]["Properties"]
    for hive in ("true", "false"):
        params = params_with(template, LoggingV2OutputFormat=fmt, DistributionId=DISTRIBUTION,
                             LoggingV2HiveCompatiblePath=hive)
        props = resolve(template, params, delivery)
        if fmt in ("w3c", "plain"):
            assert props["FieldDelimiter"] == "\t"
        else:
            assert "FieldDelimiter" not in props
        assert props["S3EnableHiveCompatiblePath"] is (hive == "true")
        assert props["S3SuffixPath"] == SUFFIX_PATHS[0]
        dest = resolve(template, params, template["Resources"]["LoggingV2Destination"])
        assert dest["Properties"]["OutputFormat"] == fmt


@pytest.mark.parametrize("log_prefix", ["cloudfront/", ""])
def test_trigger_selects_every_log_key_and_none_of_the_function_s_own(template, log_prefix):
    params = params_with(template, LogPrefix=log_prefix)
    res = template["Resources"]
    s3 = resolve(template, params, res["LogBucket"]["Properties"]["NotificationConfiguration"])
    configs = s3["LambdaConfigurations"]
    rule = resolve(template, params, res["LogObjectCreatedRule"]["Properties"]["EventPattern"])
    key_pattern = rule["detail"]["object"]["key"]
    (read,) = [
        s for pol in resolve(template, params, res["FunctionRole"]["Properties"]["Policies"])
        if pol["PolicyName"] == "read-access-logs"
        for s in pol["PolicyDocument"]["Statement"]
    ]
    readable = read["Resource"]["Fn::Sub"].replace("${AWS::Partition}", "aws")
    readable = readable.replace("${LogBucketName}", "b").replace("${LogPrefix}", log_prefix)

    logs = log_keys(log_prefix)
    for key in logs:
        # Without a LogPrefix only *.gz and *.parquet keys trigger; the stack then configures no
        # v2 delivery (rule below), whose file names are not documented.
        expected = bool(log_prefix) or key.endswith((".gz", ".parquet"))
        assert s3_notification_matches(configs, key) is expected, key
        assert eventbridge_matches(key_pattern, key) is expected, key
        assert fnmatch.fnmatchcase(f"arn:aws:s3:::b/{key}", readable), key
    for key in own_keys(template, params, logs):
        assert not s3_notification_matches(configs, key), key
        assert not eventbridge_matches(key_pattern, key), key
    if not log_prefix:
        asserts = template["Rules"]["V2LoggingNeedsUsEast1"]["Assertions"]
        assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "LogPrefix"}, ""]}]} in [
            a["Assert"] for a in asserts
        ]


def test_template_lints_for_every_format_and_path_choice(template, tmp_path):
    """cfn-lint on copies of the template whose defaults configure v2 logging with each output
    format, Hive paths on and off, and each suffix path (cfn-lint checks the default against the
    AllowedPattern and every resource as its conditions then resolve)."""
    lint = cfn_lint()
    text = TEMPLATE.read_text()
    files = []
    formats = template["Parameters"]["LoggingV2OutputFormat"]["AllowedValues"]
    for i, fmt in enumerate(formats):
        for j, hive in enumerate(("true", "false")):
            suffix = SUFFIX_PATHS[(2 * i + j) % len(SUFFIX_PATHS)]
            t = with_default(text, "DistributionId", f'"{DISTRIBUTION}"')
            t = with_default(t, "LoggingV2OutputFormat", fmt)
            t = with_default(t, "LoggingV2HiveCompatiblePath", f'"{hive}"')
            t = with_default(t, "LoggingV2SuffixPath", f'"{suffix}"')
            assert t != text
            f = tmp_path / f"template-{fmt}-hive-{hive}.yml"
            f.write_text(t)
            files.append(str(f))
    out = subprocess.run([lint, "--include-checks", "I", "--", *files],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # The check can fail: a default the pattern refuses is reported.
    bad = tmp_path / "template-bad-suffix.yml"
    bad.write_text(with_default(text, "LoggingV2SuffixPath", '"{yyyy}/{MM}/{dd}/{HH}"'))
    out = subprocess.run([lint, "--", str(bad)], capture_output=True, text=True)
    assert out.returncode != 0 and "AllowedPattern" in out.stdout, out.stdout
