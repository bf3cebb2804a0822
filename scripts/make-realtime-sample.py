#!/usr/bin/env python3
"""Writes the real-time log sample: tests/fixtures/realtime/sample.tsv (one record per line),
events/kinesis-realtime.json (the same records as a Kinesis event, wrapped the way the Lambda
event source mapping wraps them) and events/firehose-realtime.json (the first 20 as a Firehose
transformation event from a Kinesis source), plus events/firehose-direct-put.json (standard log
lines PUT directly to Firehose: a header record, records of lines, a comment, a broken line).

The records follow the layout of a real CloudFront real-time record (aws-solutions/
centralized-logging-with-opensearch's test record, tests/fixtures/samples/
aws-solutions_centralized-logging_realtime-kinesis-record.tsv) reduced to the fields the
template's default RealtimeLogFields select (FIELDS below, in canonical order): nothing personal.
They are dated 2026-11-20 12:00-12:09 UTC like the other samples, on two distributions: one
named by primary-distribution-id, one only by its domain name (cs-host), which
DISTRIBUTION_HOSTS maps. Deterministic: running it again writes the same bytes.

    python3 scripts/make-realtime-sample.py
"""
import base64
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIELDS = [
    "timestamp", "time-to-first-byte", "sc-status", "sc-bytes", "cs-method", "cs-protocol",
    "cs-host", "cs-bytes", "x-edge-location", "x-host-header", "time-taken",
    "cs-protocol-version", "x-edge-result-type", "sc-content-type",
    "x-edge-detailed-result-type", "c-country", "cache-behavior-path-pattern",
    "primary-distribution-id", "origin-fbl", "origin-lbl",
]
START = 1795176000  # 2026-11-20T12:00:00Z
RESULTS = ["Hit", "Hit", "Miss", "RefreshHit", "Error"]
EDGES = ["NRT57-C1", "HKG62-C2", "FRA56-P7", "IAD89-C3"]


def record(i: int) -> str:
    result = RESULTS[i % len(RESULTS)]
    status = {"Error": "502", "Miss": "200"}.get(result, "200" if i % 7 else "304")
    own = i % 2 == 0
    host = "d2omsvnrx2yu4i.cloudfront.net" if own else "d333example.cloudfront.net"
    origin = result in ("Miss", "Error")
    v = {
        "timestamp": f"{START + i * 10}.{(i * 37) % 1000:03d}",
        "time-to-first-byte": f"{0.001 + (i % 9) * 0.004:.3f}",
        "sc-status": status,
        "sc-bytes": str(400 + i * 53),
        "cs-method": "GET" if i % 5 else "POST",
        "cs-protocol": "https",
        "cs-host": host,
        "cs-bytes": str(50 + i % 13),
        "x-edge-location": EDGES[i % len(EDGES)],
        "x-host-header": "www.example.com" if own else "static.example.org",
        "time-taken": f"{0.002 + (i % 11) * 0.005:.3f}",
        "cs-protocol-version": "HTTP/2.0" if i % 3 else "HTTP/1.1",
        "x-edge-result-type": result,
        "sc-content-type": "application/json" if i % 4 else "text/html",
        "x-edge-detailed-result-type": "OriginDnsError" if result == "Error" else result,
        "c-country": ["JP", "US", "DE", "BR"][i % 4],
        "cache-behavior-path-pattern": "*" if i % 3 else "/api/*",
        "primary-distribution-id": "E5EXAMPLE3456" if own else "-",
        "origin-fbl": f"{0.010 + (i % 5) * 0.003:.3f}" if origin else "-",
        "origin-lbl": f"{0.012 + (i % 5) * 0.003:.3f}" if origin else "-",
    }
    return "\t".join(v[f] for f in FIELDS) + "\n"


def main() -> None:
    lines = [record(i) for i in range(60)]
    (ROOT / "tests/fixtures/realtime/sample.tsv").write_text("".join(lines))
    records = []
    for i, line in enumerate(lines):
        seq = f"49656512877433437227350462735417268941318466537{i + 1:09d}"
        records.append({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "d2omsvnrx2yu4i",
                "sequenceNumber": seq,
                "data": base64.b64encode(line.encode()).decode(),
                "approximateArrivalTimestamp": START + i * 10 + 1.5,
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"shardId-000000000000:{seq}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/cloudfront-log-metrics",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/cloudfront-realtime-logs",
        })
    (ROOT / "events/kinesis-realtime.json").write_text(json.dumps({"Records": records}, indent=2) + "\n")
    stream = "arn:aws:kinesis:us-east-1:123456789012:stream/cloudfront-realtime-logs"
    fh = []
    for i, line in enumerate(lines[:20]):
        seq = f"49656512877433437227350462735417268941318466537{i + 1:09d}"
        fh.append({
            "recordId": f"{seq}-0",
            "approximateArrivalTimestamp": (START + i * 10) * 1000 + 1500,
            "data": base64.b64encode(line.encode()).decode(),
            "kinesisRecordMetadata": {
                "shardId": "shardId-000000000000", "partitionKey": "d2omsvnrx2yu4i",
                "approximateArrivalTimestamp": (START + i * 10) * 1000 + 1500,
                "sequenceNumber": seq, "subsequenceNumber": 0,
            },
        })
    (ROOT / "events/firehose-realtime.json").write_text(json.dumps({
        "invocationId": "00540a87-5050-496a-84e4-e7d92bbaf5e2",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/cloudfront-export",
        "sourceKinesisStreamArn": stream,
        "region": "us-east-1",
        "records": fh,
    }, indent=2) + "\n")
    direct = [
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id time-taken\n",
        "2026-11-20\t12:01:02\tFRA56-P7\t2048\t198.51.100.23\tGET\td333example.cloudfront.net\t/img/a%20b.png\t200\thttps://www.example.org/page?utm=1\tMozilla/5.0%20(X11;%20Linux)\tsize=big\tsession=s3cr3t\tHit\tQxDmcEXAMPLEreqid==\t0.012\n"
        "2026-11-20\t12:01:03\tFRA56-P7\t512\t2001:db8:85a3::8a2e:370:7334\tGET\td333example.cloudfront.net\t/api\t404\t-\tcurl/8.4.0\t-\t-\tError\tREQ2EXAMPLEid==\t0.003\n",
        "# a comment line\n",
        "2026-11-20\t12:01:04\tFRA56-P7\tnot-a-number\t198.51.100.24\tGET\td333example.cloudfront.net\t/x\t200\t-\t-\t-\t-\tHit\tREQ3==\t0.001\n",
    ]
    (ROOT / "events/firehose-direct-put.json").write_text(json.dumps({
        "invocationId": "7d7f2c8a-2d4b-4f5e-9d1c-0a1b2c3d4e5f",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/cloudfront-direct",
        "region": "us-east-1",
        "records": [
            {"recordId": f"direct-{i}", "approximateArrivalTimestamp": (START + 62) * 1000,
             "data": base64.b64encode(d.encode()).decode()}
            for i, d in enumerate(direct)
        ],
    }, indent=2) + "\n")
    print(",".join(FIELDS))


if __name__ == "__main__":
    main()
