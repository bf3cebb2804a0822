#!/usr/bin/env python3
"""Local AWS for the integration tests: moto's server plus a small adapter in front of it.

Started by tests/support/mod.rs (``MotoStack::start``) with the venv made by
scripts/dev-venv.sh; can also be run by hand::

    .venv/bin/python tests/support/moto_stack.py [--verbose] [--no-limits]

It prints ONE line of JSON on stdout, then serves until stdin reaches EOF or it
gets SIGTERM/SIGINT::

    {"moto": "http://127.0.0.1:PORT", "adapter": "http://127.0.0.1:PORT"}

moto
    ``moto.server.ThreadedMotoServer`` (all services, in memory). Point S3 clients
    here (path-style addressing).

adapter
    A threaded HTTP proxy that forwards every request to moto unchanged, except:

    * CloudWatch Smithy RPC v2 CBOR requests, which moto does not understand:
      ``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with
      ``Content-Type: application/cbor`` (``smithy-protocol: rpc-v2-cbor``), body
      gzip'd by the SDK when it is >= 10 KiB (``Content-Encoding: gzip``).
      The adapter gunzips, decodes CBOR, re-encodes it as AWS JSON 1.0
      (``X-Amz-Target: GraniteServiceVersion20100801.<Op>``), posts it to moto and
      translates moto's JSON answer back into CBOR.  The botocore service model
      (botocore comes with moto) types every member, so timestamps become CBOR
      tag 1 + float64 epoch seconds, doubles are always float64 and integers are
      always integers: aws-smithy-cbor (minicbor) refuses an integer where a
      double is modelled, and wants tag 1 + int/float for timestamps.
      Errors: moto's JSON error becomes a CBOR map ``{"__type", "message"}`` with
      the same HTTP status; moto's ``x-amzn-query-error`` header (awsQueryCompatible,
      e.g. ``InvalidParameterValue;Sender``) is passed through, and the SDK takes
      the error code from it, so modelled errors such as
      ``InvalidParameterValueException`` come out as they do against AWS.
    * PutMetricData limits that moto does not check (on by default, ``--no-limits``
      or ``POST /__config {"limits": false}`` turns it off): at most 1000 datums,
      at most 150 values per datum, Counts as long as Values, at most 30
      dimensions, dimension values of 1 to 1024 printable ASCII characters with at
      least one non-whitespace one, request body on the wire at most 1 MiB.  A violation is answered
      with 400 ``InvalidParameterValue`` whose message starts with
      ``moto_stack limit check:``.
    * S3 conditional writes (PutObject with ``If-None-Match: *`` or ``If-Match``): moto 5.2.5
      checks the condition and then writes without holding a lock
      (moto/s3/responses.py ``put_object``), so two concurrent conditional writes of one key
      can both succeed there, which S3 never lets happen. The adapter forwards conditional
      PutObjects one at a time, which makes moto's own check-and-write atomic (the check is
      still moto's). Point S3 clients at the adapter when a test races conditional writes.
    * Control endpoints (never forwarded), JSON in and out:
        POST   /__faults  {"rules": [RULE, ...]}  replaces the rules (returns them)
        PUT    /__faults  {"rules": [...]}        appends rules
        DELETE /__faults                          clears the rules
        GET    /__faults                          the rules with their counters
        GET    /__stats                           counters (see below)
        DELETE /__stats                           zeroes the counters
        POST   /__config  {"limits": bool}        adapter options
        GET    /__health                          {"ok": true}

Fault rules
    A RULE is a JSON object:
      operation  "PutMetricData", "GetObject", ... or "*" (default "*")
      service    "cloudwatch", "s3", "other" or "*" (default "*")
      action     "throttle"  CloudWatch: 400 + CBOR {"__type": "ThrottlingException"}
                             (in aws-runtime's THROTTLING_ERRORS: the SDK's standard
                             retry treats it as throttling);
                             S3: 503 XML <Code>SlowDown</Code>;
                             other: 400 JSON {"__type": "ThrottlingException"}
                 "error500"  CloudWatch: 500 + CBOR {"__type": "InternalServiceFault"}
                             with x-amzn-query-error "InternalServiceError;Receiver";
                             S3: 500 XML <Code>InternalError</Code>; other: 500 JSON
                 "invalid"   CloudWatch only: 400 InvalidParameterValue naming
                             MetricData.member.2 (a refused datum: not retryable)
                 "slow"      sleeps delay_ms, then carries on normally
                 "drop"      closes the connection without any response
      delay_ms   for "slow" (default 1000)
      every      inject on every N-th matching request: 1 = each, 3 = 3rd, 6th, ...
                 (default 1)
      skip       let the first K matching requests through before counting (default 0);
                 a negative K starts the count ahead: every 10, skip -9 injects on the
                 1st, 11th, 21st, ... matching request
      times      inject at most N times, then the rule is spent (default: no limit)
      phase      "request" (default): the fault replaces the call, moto never sees it;
                 "response": the request IS forwarded to moto (and takes effect
                 there), then its response is replaced by the fault (or delayed,
                 or the connection dropped) - a lost response, as for a timeout.
    Rules are checked in order; the first rule that injects wins.  Every rule
    whose operation/service match counts the request in its "matched" counter.

Operation names
    CloudWatch CBOR: the <Op> of the path.  S3 (only path-style: /bucket/key) is
    named from method, path and query: ListBuckets, CreateBucket, DeleteBucket,
    HeadBucket, ListObjectsV2, ListObjects, DeleteObjects, PutObject, CopyObject,
    UploadPart, GetObject, HeadObject, DeleteObject, CreateMultipartUpload,
    CompleteMultipartUpload, AbortMultipartUpload, or "<METHOD>" if none fits.
    Other requests with X-Amz-Target use its operation part.

Stats (GET /__stats)
    {"requests": {"PutMetricData": 3, "PutObject": 1, ...},   attempts that reached the adapter
     "faults": {"PutMetricData": {"throttle": 2}, ...},        faults injected
     "faults_total": 2,
     "gzip": {"PutMetricData": 1},                             CBOR requests that came gzip'd
     "limit_rejections": {"PutMetricData": 0},
     "response_bytes": {"GetObject": 65536},                    body bytes answered (S3 and others)
     "ranged": {"GetObject": 3},                               requests with a Range header
     "ranged_bytes": {"GetObject": 70000},                     body bytes answered to those
     "rules": [RULE + {"matched": n, "injected": n}, ...]}

Requests are counted per operation name only (services do not share names here).

What moto 5.2.5 does with PutMetricData (checked against moto/cloudwatch/models.py
and by experiment; not patched here)
    Right:
      * Value: one sample.
      * Values + Counts with whole-number counts: value[i] is stored counts[i] times,
        so Sum = sum(v*c), SampleCount = sum(c), Minimum/Maximum = min/max of the
        values, exactly (for values whose repeated addition is exact in float64).
        Values without Counts: each counts once.  Two datums for the same metric and
        timestamp add up.
      * StatisticValues: Sum, SampleCount (fractional too), Minimum, Maximum kept as
        sent and combined with other samples of the period.
      * NaN Value/Values, Value together with Values, Counts of another length than
        Values: refused with InvalidParameterValue, as AWS does.
    Wrong / different from CloudWatch:
      * Fractional Counts are truncated: int(float(count)); a count of 0.5 drops the
        value entirely and 2.7 counts as 2 (CloudWatch weights by the exact count:
        Values [10, 20] Counts [0.5, 2.7] gives Sum 59, SampleCount 3.2, Min 10 on
        AWS, and Sum 40, SampleCount 2, Min 20 on moto). A count of 0 drops the value.
      * Memory and time are O(sum of Counts): one object per counted sample
        (Counts [200000] takes ~0.7 s; tens of millions would exhaust the test).
      * Sum is computed by repeated addition (0.1 with count 3 gives
        0.30000000000000004); Average = Sum / SampleCount.
      * Values together with StatisticValues: StatisticValues is silently ignored;
        Value 0 together with StatisticValues is accepted and ignored.
      * No limits: more than 1000 datums, more than 150 values, more than 30
        dimensions, bodies over 1 MiB are all taken (the adapter checks these).
      * GetMetricStatistics: periods start at the first matching datum's timestamp,
        not at multiples of Period; Dimensions match as a subset, not exactly.
      * GetMetricData: periods start at StartTime; with Dimensions given, the
        Namespace of the query is not checked.
      * ListMetrics: a metric without dimensions is listed once per stored sample
        (not deduplicated), and pages hold 500 entries: use the paginator and a set.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as _dt
import gzip
import http.client
import json
import logging
import math
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

try:
    import cbor2
    from botocore.session import get_session
    from moto.server import ThreadedMotoServer
except ImportError as exc:  # pragma: no cover - reported to the Rust helper
    print(
        f"moto_stack.py: moto not installed ({exc}): run scripts/dev-venv.sh",
        file=sys.stderr,
    )
    sys.exit(3)  # tests/support/mod.rs treats exit code 3 as "not installed"

CBOR_SERVICES = {
    # Smithy service shape name (path segment) -> (botocore service name, JSON target prefix)
    "GraniteServiceVersion20100801": ("cloudwatch", "GraniteServiceVersion20100801"),
}
CBOR_PATH = re.compile(r"^/service/(?P<service>[^/]+)/operation/(?P<op>[^/?#]+)$")

# Hop-by-hop and framing headers that are never copied between the two legs.
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "content-length",
}

# PutMetricData limits of the real service (moto checks none of them).
LIMIT_DATUMS = 1000
LIMIT_VALUES = 150
LIMIT_DIMENSIONS = 30
LIMIT_BODY_BYTES = 1024 * 1024

log = logging.getLogger("moto_stack")


# --------------------------------------------------------------------------- model


class Model:
    """botocore service models, loaded lazily (loading one takes ~100 ms)."""

    _lock = threading.Lock()
    _session = None
    _models: dict[str, Any] = {}

    @classmethod
    def service(cls, name: str) -> Any:
        with cls._lock:
            if name not in cls._models:
                if cls._session is None:
                    cls._session = get_session()
                cls._models[name] = cls._session.get_service_model(name)
            return cls._models[name]

    @classmethod
    def operation(cls, service: str, op: str) -> Any | None:
        try:
            return cls.service(service).operation_model(op)
        except Exception:  # unknown operation: convert generically
            return None


# ------------------------------------------------------------ CBOR <-> JSON values


def _epoch(value: Any) -> float | int:
    """A CBOR timestamp (tag 1 / datetime) or anything time-like -> epoch seconds."""
    if isinstance(value, cbor2.CBORTag) and value.tag == 1:
        value = value.value
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, str):
        return _dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return value


def _json_float(value: Any) -> Any:
    """AWS JSON writes non-finite doubles as strings."""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    return value


def cbor_to_json(value: Any, shape: Any | None) -> Any:
    """Decoded CBOR request value -> JSON-ready value, guided by the botocore shape."""
    t = shape.type_name if shape is not None else None
    if value is None:
        return None
    if t == "structure" or (t is None and isinstance(value, dict)):
        members = shape.members if shape is not None else {}
        return {
            k: cbor_to_json(v, members.get(k))
            for k, v in value.items()
            if v is not None
        }
    if t == "list" or (t is None and isinstance(value, list)):
        member = shape.member if shape is not None else None
        return [cbor_to_json(v, member) for v in value]
    if t == "map":
        return {k: cbor_to_json(v, shape.value) for k, v in value.items()}
    if t == "timestamp" or isinstance(value, _dt.datetime) or (
        isinstance(value, cbor2.CBORTag) and value.tag == 1
    ):
        return _epoch(value)
    if t == "blob" or isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if t in ("double", "float"):
        return _json_float(float(value))
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, cbor2.CBORTag):
        return cbor_to_json(value.value, None)
    return value


def _cbor_float(value: Any) -> float:
    if isinstance(value, str):  # "NaN", "Infinity", "-Infinity"
        return float(value)
    return float(value)


def json_to_cbor(value: Any, shape: Any | None) -> Any:
    """moto's JSON response value -> value for cbor2.dumps, typed by the botocore shape.

    aws-smithy-cbor is strict: a double must be a CBOR float (minicbor's f64()
    refuses integers), an int/long must be a CBOR integer, a timestamp must be tag 1
    around an integer or a float.  cbor2 writes Python floats as float64 (we never
    pass canonical=True), which is what the SDK's own encoder does too.
    """
    t = shape.type_name if shape is not None else None
    if value is None:
        return None
    if t == "structure":
        out = {}
        for k, v in value.items():
            if v is None:
                continue
            out[k] = json_to_cbor(v, shape.members.get(k))
        return out
    if t == "list":
        return [json_to_cbor(v, shape.member) for v in value]
    if t == "map":
        return {k: json_to_cbor(v, shape.value) for k, v in value.items()}
    if t == "timestamp":
        return cbor2.CBORTag(1, float(_epoch(value)))
    if t in ("double", "float"):
        return _cbor_float(value)
    if t in ("integer", "long", "short", "byte"):
        return int(value)
    if t == "blob":
        return base64.b64decode(value) if isinstance(value, str) else bytes(value)
    if t == "boolean":
        return bool(value)
    if t is None:  # not in the model: keep the JSON value as it is
        if isinstance(value, dict):
            return {k: json_to_cbor(v, None) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [json_to_cbor(v, None) for v in value]
    return value


# ------------------------------------------------------------------- fault rules

ACTIONS = {"throttle", "error500", "invalid", "slow", "drop"}


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rules: list[dict[str, Any]] = []
        self.reset_stats()

    def reset_stats(self) -> None:
        self.requests: dict[str, int] = {}
        self.faults: dict[str, dict[str, int]] = {}
        self.gzip: dict[str, int] = {}
        self.limit_rejections: dict[str, int] = {}
        self.response_bytes: dict[str, int] = {}
        self.ranged: dict[str, int] = {}
        self.ranged_bytes: dict[str, int] = {}

    @staticmethod
    def _check(rule: Any) -> dict[str, Any]:
        if not isinstance(rule, dict):
            raise ValueError("a rule must be a JSON object")
        rule = dict(rule)
        if rule.get("action") not in ACTIONS:
            raise ValueError(f"rule action must be one of {sorted(ACTIONS)}: {rule!r}")
        rule.setdefault("operation", "*")
        rule.setdefault("service", "*")
        rule.setdefault("every", 1)
        rule.setdefault("skip", 0)
        rule.setdefault("times", None)
        rule.setdefault("phase", "request")
        rule.setdefault("delay_ms", 1000)
        if rule["phase"] not in ("request", "response"):
            raise ValueError(f"rule phase must be request or response: {rule!r}")
        if int(rule["every"]) < 1:
            raise ValueError(f"rule every must be >= 1: {rule!r}")
        rule["matched"] = 0
        rule["injected"] = 0
        return rule

    def set_rules(self, rules: list[Any], append: bool) -> list[dict[str, Any]]:
        checked = [self._check(r) for r in rules]
        with self.lock:
            if append:
                self.rules.extend(checked)
            else:
                self.rules = checked
            return [dict(r) for r in self.rules]

    def clear(self) -> None:
        with self.lock:
            self.rules = []

    def count(self, table: str, op: str, n: int = 1) -> None:
        with self.lock:
            d = getattr(self, table)
            d[op] = d.get(op, 0) + n

    def decide(self, service: str, op: str) -> dict[str, Any] | None:
        """Counts the request and returns the rule to inject, if any."""
        with self.lock:
            self.requests[op] = self.requests.get(op, 0) + 1
            chosen = None
            for rule in self.rules:
                if rule["operation"] not in ("*", op):
                    continue
                if rule["service"] not in ("*", service):
                    continue
                rule["matched"] += 1
                if chosen is not None:
                    continue
                n = rule["matched"] - int(rule["skip"])
                if n <= 0 or n % int(rule["every"]) != 0:
                    continue
                if rule["times"] is not None and rule["injected"] >= int(rule["times"]):
                    continue
                rule["injected"] += 1
                per_op = self.faults.setdefault(op, {})
                per_op[rule["action"]] = per_op.get(rule["action"], 0) + 1
                chosen = dict(rule)
            return chosen

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "faults": {k: dict(v) for k, v in self.faults.items()},
                "faults_total": sum(sum(v.values()) for v in self.faults.values()),
                "gzip": dict(self.gzip),
                "limit_rejections": dict(self.limit_rejections),
                "response_bytes": dict(self.response_bytes),
                "ranged": dict(self.ranged),
                "ranged_bytes": dict(self.ranged_bytes),
                "rules": [dict(r) for r in self.rules],
            }


# -------------------------------------------------------------------- the proxy


def s3_operation(method: str, target: str, headers: Any) -> str:
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    path = parts.path.lstrip("/")
    bucket, _, key = path.partition("/")
    if not bucket:
        return "ListBuckets" if method == "GET" else method
    if not key:
        if method == "PUT" and not query:
            return "CreateBucket"
        if method == "DELETE" and not query:
            return "DeleteBucket"
        if method == "HEAD":
            return "HeadBucket"
        if method == "GET" and query.get("list-type") == ["2"]:
            return "ListObjectsV2"
        if method == "GET" and not (set(query) - {"prefix", "delimiter", "marker", "max-keys", "encoding-type"}):
            return "ListObjects"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        return method
    if method == "PUT":
        if "partNumber" in query and "uploadId" in query:
            return "UploadPart"
        if headers.get("x-amz-copy-source"):
            return "CopyObject"
        return "PutObject" if not query or set(query) <= {"x-id"} else method
    if method == "GET":
        return "GetObject" if not (set(query) - {"x-id", "partNumber", "versionId"}) else method
    if method == "HEAD":
        return "HeadObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
    return method


def _service_from_auth(headers: Any) -> str | None:
    auth = headers.get("Authorization") or ""
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/", auth)
    return m.group(1) if m else None


class Stack:
    def __init__(self, moto_host: str, moto_port: int, limits: bool) -> None:
        self.moto_host = moto_host
        self.moto_port = moto_port
        self.limits = limits
        self.faults = Faults()
        self.conditional_writes = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "moto-stack-adapter"
    stack: Stack  # set on the subclass made in main()
    verbose = False

    # quiet unless --verbose
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.verbose:
            sys.stderr.write("adapter: " + (format % args) + "\n")

    def do_GET(self) -> None:
        self.handle_any()

    def do_HEAD(self) -> None:
        self.handle_any()

    def do_POST(self) -> None:
        self.handle_any()

    def do_PUT(self) -> None:
        self.handle_any()

    def do_DELETE(self) -> None:
        self.handle_any()

    def do_PATCH(self) -> None:
        self.handle_any()

    def do_OPTIONS(self) -> None:
        self.handle_any()

    # ------------------------------------------------------------------ helpers

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in HOP_HEADERS and k.lower() not in ("server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_json(self, status: int, obj: Any) -> None:
        self.send(status, [("Content-Type", "application/json")], json.dumps(obj).encode())

    def send_cbor(self, status: int, obj: Any, extra: list[tuple[str, str]] | None = None) -> None:
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        self.send(status, headers + (extra or []), cbor2.dumps(obj))

    def drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def forward(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(self.stack.moto_host, self.stack.moto_port, timeout=300)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            has_host = False
            for k, v in headers:
                if k.lower() in HOP_HEADERS:
                    continue
                has_host = has_host or k.lower() == "host"
                conn.putheader(k, v)
            if not has_host:
                conn.putheader("Host", f"{self.stack.moto_host}:{self.stack.moto_port}")
            if body or method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, list(resp.getheaders()), data
        finally:
            conn.close()

    # --------------------------------------------------------------- dispatch

    def handle_any(self) -> None:
        try:
            body = self.read_body()
            path = urlsplit(self.path).path
            if path.startswith("/__"):
                self.control(path, body)
                return
            m = CBOR_PATH.match(path)
            if self.command == "POST" and m and m.group("service") in CBOR_SERVICES:
                self.cbor_call(m.group("service"), m.group("op"), body)
                return
            self.plain_call(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # report it to the client as a 500, keep serving
            traceback.print_exc()
            with contextlib.suppress(Exception):
                self.send_json(500, {"__type": "MotoStackAdapterError", "message": repr(exc)})

    def apply_fault(self, rule: dict[str, Any] | None, phase: str, kind: str) -> bool:
        """Injects ``rule`` if its phase is ``phase``; True when the response is sent."""
        if rule is None or rule["phase"] != phase:
            return False
        action = rule["action"]
        if action == "slow":
            time.sleep(float(rule["delay_ms"]) / 1000.0)
            return False
        if action == "drop":
            self.drop()
            return True
        msg = f"injected by moto_stack ({action})"
        if kind == "cloudwatch":
            if action == "invalid":
                # What CloudWatch answers a datum it refuses: 400, never worth retrying.
                self.send_cbor(
                    400,
                    {
                        "__type": "InvalidParameterValueException",
                        "message": "The value for parameter MetricData.member.2.Dimensions.member.1.Value "
                        "is invalid: " + msg,
                    },
                    [("x-amzn-query-error", "InvalidParameterValue;Sender")],
                )
            elif action == "throttle":
                self.send_cbor(400, {"__type": "ThrottlingException", "message": "Rate exceeded: " + msg})
            else:
                self.send_cbor(
                    500,
                    {"__type": "InternalServiceFault", "message": msg},
                    [("x-amzn-query-error", "InternalServiceError;Receiver")],
                )
            return True
        if kind == "s3":
            code, status = ("SlowDown", 503) if action == "throttle" else ("InternalError", 500)
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{msg}</Message>"
                "<RequestId>moto-stack</RequestId></Error>"
            ).encode()
            self.send(status, [("Content-Type", "application/xml")], xml)
            return True
        status, code = (400, "ThrottlingException") if action == "throttle" else (500, "InternalFailure")
        self.send(
            status,
            [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-ErrorType", code)],
            json.dumps({"__type": code, "message": msg}).encode(),
        )
        return True

    # --------------------------------------------------------------- control

    def control(self, path: str, body: bytes) -> None:
        faults = self.stack.faults
        method = self.command
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            self.send_json(400, {"error": f"bad JSON: {exc}"})
            return
        try:
            if path == "/__faults" and method in ("POST", "PUT"):
                rules = payload.get("rules", []) if isinstance(payload, dict) else payload
                if not isinstance(rules, list):
                    raise ValueError('expected {"rules": [...]}')
                self.send_json(200, {"rules": faults.set_rules(rules, append=method == "PUT")})
            elif path == "/__faults" and method == "DELETE":
                faults.clear()
                self.send_json(200, {"rules": []})
            elif path == "/__faults" and method == "GET":
                self.send_json(200, {"rules": faults.snapshot()["rules"]})
            elif path == "/__stats" and method == "GET":
                self.send_json(200, faults.snapshot())
            elif path == "/__stats" and method == "DELETE":
                with faults.lock:
                    faults.reset_stats()
                    for r in faults.rules:
                        r["matched"] = r["injected"] = 0
                self.send_json(200, faults.snapshot())
            elif path == "/__config" and method == "POST":
                if "limits" in payload:
                    self.stack.limits = bool(payload["limits"])
                self.send_json(200, {"limits": self.stack.limits})
            elif path == "/__health":
                self.send_json(200, {"ok": True})
            else:
                self.send_json(404, {"error": f"no control endpoint {method} {path}"})
        except ValueError as exc:
            self.send_json(400, {"error": str(exc)})

    # ----------------------------------------------------------- pass-through

    def plain_call(self, body: bytes) -> None:
        service = _service_from_auth(self.headers)
        target = self.headers.get("X-Amz-Target")
        if service == "s3" or (service is None and not target):
            kind, op = "s3", s3_operation(self.command, self.path, self.headers)
        else:
            kind, op = "other", (target.rsplit(".", 1)[-1] if target else self.command)
        rule = self.stack.faults.decide(kind, op)
        if self.apply_fault(rule, "request", kind):
            return
        conditional = kind == "s3" and op == "PutObject" and (
            self.headers.get("If-Match") or self.headers.get("If-None-Match")
        )
        if conditional:
            # moto checks the condition, then writes, without a lock: make it atomic, as on S3.
            with self.stack.conditional_writes:
                status, headers, data = self.forward(self.command, self.path, list(self.headers.items()), body)
        else:
            status, headers, data = self.forward(self.command, self.path, list(self.headers.items()), body)
        if self.apply_fault(rule, "response", kind):
            return
        self.stack.faults.count("response_bytes", op, len(data))
        if self.headers.get("Range"):
            self.stack.faults.count("ranged", op)
            self.stack.faults.count("ranged_bytes", op, len(data))
        self.send(status, headers, data)

    # ------------------------------------------------------------ CloudWatch

    def cbor_call(self, smithy_service: str, op: str, body: bytes) -> None:
        service, prefix = CBOR_SERVICES[smithy_service]
        faults = self.stack.faults
        rule = faults.decide(service, op)
        if self.apply_fault(rule, "request", service):
            return

        wire_size = len(body)
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        if "gzip" in encoding:
            faults.count("gzip", op)
            body = gzip.decompress(body)
        try:
            decoded = cbor2.loads(body) if body else {}
        except Exception as exc:
            self.send_cbor(400, {"__type": "SerializationException", "message": f"bad CBOR: {exc}"})
            return

        opm = Model.operation(service, op)
        request = cbor_to_json(decoded, opm.input_shape if opm is not None else None) or {}

        if self.stack.limits and op == "PutMetricData":
            problem = check_put_metric_data(request, wire_size)
            if problem:
                faults.count("limit_rejections", op)
                self.send_cbor(
                    400,
                    {"__type": "InvalidParameterValueException", "message": "moto_stack limit check: " + problem},
                    [("x-amzn-query-error", "InvalidParameterValue;Sender")],
                )
                return

        headers = [
            (k, v)
            for k, v in self.headers.items()
            if k.lower() not in ("content-type", "content-encoding", "smithy-protocol", "accept", "x-amzn-query-mode")
        ]
        headers += [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", f"{prefix}.{op}"),
        ]
        status, moto_headers, data = self.forward("POST", "/", headers, json.dumps(request).encode())
        if self.apply_fault(rule, "response", service):
            return

        extra = [
            (k, v)
            for k, v in moto_headers
            if k.lower() in ("x-amzn-requestid", "x-amzn-query-error", "x-amz-request-id")
        ]
        try:
            answer = json.loads(data) if data.strip() else {}
        except ValueError:
            answer = None
        if 200 <= status < 300:
            if not isinstance(answer, dict):
                self.send_cbor(500, {"__type": "InternalFailure", "message": f"moto sent non-JSON: {data[:200]!r}"}, extra)
                return
            shape = opm.output_shape if opm is not None else None
            out = json_to_cbor(answer, shape) if shape is not None else {}
            self.send_cbor(status, out if out is not None else {}, extra)
            return
        # error: moto's {"__type": "GraniteServiceVersion20100801#XxxException", "message": ...}
        if isinstance(answer, dict):
            err = {"__type": answer.get("__type") or f"HTTP{status}"}
            message = answer.get("message") or answer.get("Message")
            if message is not None:
                err["message"] = message
        else:
            err = {"__type": "InternalFailure", "message": data.decode("utf-8", "replace")[:2000]}
        self.send_cbor(status, err, extra)


def check_put_metric_data(request: dict[str, Any], wire_size: int) -> str | None:
    if wire_size > LIMIT_BODY_BYTES:
        return f"request body is {wire_size} bytes on the wire, more than {LIMIT_BODY_BYTES}"
    data = request.get("MetricData") or []
    if len(data) > LIMIT_DATUMS:
        return f"MetricData has {len(data)} items, more than {LIMIT_DATUMS}"
    for i, d in enumerate(data, 1):
        values = d.get("Values") or []
        counts = d.get("Counts")
        if len(values) > LIMIT_VALUES:
            return f"MetricData.member.{i}.Values has {len(values)} items, more than {LIMIT_VALUES}"
        if counts is not None and len(counts) != len(values):
            return f"MetricData.member.{i}.Values and Counts differ in size ({len(values)} != {len(counts)})"
        dims = d.get("Dimensions") or []
        if len(dims) > LIMIT_DIMENSIONS:
            return f"MetricData.member.{i}.Dimensions has {len(dims)} items, more than {LIMIT_DIMENSIONS}"
        for j, dim in enumerate(dims, 1):
            value = dim.get("Value")
            if not valid_dimension_value(value):
                return (
                    f"The value {value!r} for parameter MetricData.member.{i}.Dimensions.member.{j}.Value "
                    "is invalid: 1 to 1024 ASCII characters, no control characters, at least one "
                    "non-whitespace character"
                )
    return None


def valid_dimension_value(value: Any) -> bool:
    """CloudWatch's rule for a dimension value (one invalid value fails the whole request)."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 1024
        and value.isascii()
        and all(0x20 <= ord(c) < 0x7F for c in value)
        and not value.isspace()
    )


# ------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--moto-port", type=int, default=0)
    parser.add_argument("--adapter-port", type=int, default=0)
    parser.add_argument("--verbose", action="store_true", default=bool(os.environ.get("MOTO_STACK_VERBOSE")))
    parser.add_argument("--no-limits", action="store_true", help="do not check PutMetricData limits")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    moto = ThreadedMotoServer(ip_address=args.host, port=args.moto_port, verbose=False)
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the JSON line
        moto.start()
    moto_host, moto_port = moto.get_host_and_port()

    stack = Stack(moto_host, moto_port, limits=not args.no_limits)
    handler = type("BoundHandler", (Handler,), {"stack": stack, "verbose": args.verbose})
    adapter = ThreadingHTTPServer((args.host, args.adapter_port), handler)
    adapter.daemon_threads = True
    adapter_port = adapter.server_address[1]
    threading.Thread(target=adapter.serve_forever, name="adapter", daemon=True).start()

    # Warm the CloudWatch model now rather than during the first (timed) request.
    Model.service("cloudwatch")

    stop = threading.Event()

    def watch_stdin() -> None:
        with contextlib.suppress(Exception):
            while sys.stdin.buffer.read(65536):
                pass
        stop.set()

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    sys.stdout.write(
        json.dumps({"moto": f"http://{moto_host}:{moto_port}", "adapter": f"http://{args.host}:{adapter_port}"})
        + "\n"
    )
    sys.stdout.flush()

    while not stop.wait(0.5):
        pass
    with contextlib.suppress(Exception):
        adapter.shutdown()
    # moto.stop() joins its thread; do not let a stuck request keep us alive.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
