#!/usr/bin/env python3
"""Puts real-time log lines into a Kinesis stream on moto with boto3 (the AWS SDK for Python),
reads them back with GetRecords, and prints them wrapped as the Lambda event source mapping
wraps them (a KinesisEvent), for tests/lambda_runtime.rs.

    kinesis_event.py MOTO_URL STREAM LINES_FILE [FIRST [COUNT]]

Creates STREAM (one shard) when it does not exist; puts lines FIRST..FIRST+COUNT of LINES_FILE
(all by default), one record each, and prints the event of exactly those records.
"""
import base64
import json
import sys
import time

import boto3


def main() -> None:
    url, stream, path = sys.argv[1:4]
    first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    lines = open(path, "rb").read().splitlines(keepends=True)
    count = int(sys.argv[5]) if len(sys.argv) > 5 else len(lines) - first
    k = boto3.client("kinesis", endpoint_url=url, region_name="us-east-1",
                     aws_access_key_id="testing", aws_secret_access_key="testing")
    if stream not in k.list_streams()["StreamNames"]:
        k.create_stream(StreamName=stream, ShardCount=1)
        k.get_waiter("stream_exists").wait(StreamName=stream)
    desc = k.describe_stream(StreamName=stream)["StreamDescription"]
    arn, shard = desc["StreamARN"], desc["Shards"][0]["ShardId"]
    put = [k.put_record(StreamName=stream, Data=line, PartitionKey="edge")["SequenceNumber"]
           for line in lines[first:first + count]]
    it = k.get_shard_iterator(StreamName=stream, ShardId=shard,
                              ShardIteratorType="AT_SEQUENCE_NUMBER",
                              StartingSequenceNumber=put[0])["ShardIterator"]
    got = []
    while len(got) < len(put):
        out = k.get_records(ShardIterator=it, Limit=10000)
        got.extend(out["Records"])
        it = out["NextShardIterator"]
        if not out["Records"]:
            time.sleep(0.1)
    records = []
    for r in got[:len(put)]:
        seq = r["SequenceNumber"]
        records.append({
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": r["PartitionKey"],
                "sequenceNumber": seq,
                "data": base64.b64encode(r["Data"]).decode(),
                "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
            },
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{seq}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/cloudfront-log-metrics",
            "awsRegion": "us-east-1",
            "eventSourceARN": arn,
        })
    json.dump({"Records": records}, sys.stdout)


if __name__ == "__main__":
    main()
