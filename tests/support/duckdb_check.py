#!/usr/bin/env python3
"""Loads `cflogs export` NDJSON into DuckDB and checks it against `cflogs process` datums of the
same files (tests/export.rs):

- every column has the type the export promises (numbers as BIGINT/DOUBLE, @timestamp a
  TIMESTAMP, the rest VARCHAR);
- per distribution and minute, SQL totals equal the datums: Requests (count), BytesDownloaded
  (sum sc-bytes), BytesUploaded (sum cs-bytes), each result type (Hit, Miss, ...), and the sum of
  TimeTaken in milliseconds.

    duckdb_check.py EXPORT.ndjson DATUMS.jsonl

Prints what it compared as JSON; exits 1 listing the mismatches.
"""
import collections
import json
import sys

import duckdb

NUMBERS = {"sc-bytes": "BIGINT", "cs-bytes": "BIGINT", "sc-status": "BIGINT", "c-port": "BIGINT",
           "sc-content-len": "BIGINT", "time-taken": "DOUBLE", "time-to-first-byte": "DOUBLE",
           "origin-fbl": "DOUBLE", "origin-lbl": "DOUBLE"}
RESULTS = ["Hit", "RefreshHit", "Miss", "Error", "Redirect"]


def main() -> int:
    export, datums_path = sys.argv[1:3]
    con = duckdb.connect()
    con.execute(f"CREATE TABLE logs AS SELECT * FROM read_json_auto('{export}', format='newline_delimited', sample_size=-1)")
    types = {row[0]: row[1] for row in con.execute("DESCRIBE logs").fetchall()}
    problems = []
    for col, want in NUMBERS.items():
        if col in types and types[col] != want:
            problems.append(f"column {col} is {types[col]}, not {want}")
    if not types.get("@timestamp", "").startswith("TIMESTAMP"):
        problems.append(f"@timestamp is {types.get('@timestamp')}")
    for col in ("c-ip", "cs-uri-stem", "x-edge-location", "distribution_id"):
        if col in types and types[col] != "VARCHAR":
            problems.append(f"column {col} is {types[col]}, not VARCHAR")

    has = lambda c: c in types  # noqa: E731
    result_sums = ", ".join(
        f"count(*) FILTER (WHERE \"x-edge-result-type\" = '{r}')" for r in RESULTS)
    rows = con.execute(f"""
        SELECT distribution_id, strftime(date_trunc('minute', "@timestamp"), '%Y-%m-%dT%H:%M:00Z') AS minute,
               count(*), sum("sc-bytes"), {'sum("cs-bytes")' if has('cs-bytes') else '0'},
               {result_sums},
               sum(round("time-taken" * 1000))
        FROM logs GROUP BY ALL ORDER BY ALL""").fetchall()
    sql = {}
    for r in rows:
        key = (r[0], r[1])
        vals = {"Requests": r[2], "BytesDownloaded": r[3] or 0, "BytesUploaded": r[4] or 0}
        for i, name in enumerate(RESULTS):
            vals[name] = r[5 + i]
        vals["TimeTakenSumMs"] = int(r[5 + len(RESULTS)] or 0)
        sql[key] = vals

    datums = collections.defaultdict(lambda: collections.defaultdict(int))
    for line in open(datums_path):
        d = json.loads(line)
        dims = d["dimensions"]
        if list(dims) != ["DistributionId"]:
            continue
        key = (dims["DistributionId"], d["timestamp"])
        name = d["metric_name"]
        if name == "TimeTaken":
            datums[key]["TimeTakenSumMs"] += sum(v * c for v, c in zip(d["values"], d["counts"]))
        elif "value" in d:
            datums[key][name] += d["value"]

    compared = 0
    for key in sorted(set(sql) | set(datums)):
        for metric in ["Requests", "BytesDownloaded", "BytesUploaded", *RESULTS, "TimeTakenSumMs"]:
            a = sql.get(key, {}).get(metric, 0)
            b = datums.get(key, {}).get(metric, 0)
            compared += 1
            if a != b:
                problems.append(f"{key} {metric}: SQL {a}, datums {b}")
    print(json.dumps({"rows": len(sql), "compared": compared, "columns": types, "problems": problems}))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
