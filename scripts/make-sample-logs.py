#!/usr/bin/env python3
"""Writes the small sample log files in events/logs/ (deterministic; run from the repo root).

Lines are shaped after the AWS documentation's standard-log example (33 fields, TAB-separated,
URL-encoded user agent) and the v2 JSON example (every value a string), dated 2026-11-20 12:xx
UTC, with documentation IP addresses (192.0.2.0/24, 198.51.100.0/24) only.
"""
import gzip, os, random

FIELDS = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status "
          "cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id "
          "x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher "
          "x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port "
          "time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len "
          "sc-range-start sc-range-end").split()
UA = "Mozilla/5.0%20(Windows%20NT%2010.0;%20Win64;%20x64)%20AppleWebKit/537.36%20(KHTML,%20like%20Gecko)%20Chrome/78.0.3904.108%20Safari/537.36"
POPS = ["LAX1", "IAD89-C1", "FRA56-P3", "SOF50-P2"]
PATHS = ["/index.html", "/css/site.css", "/js/app.js", "/img/logo.png", "/api/items"]
RESULTS = [("Hit", 200), ("Hit", 200), ("RefreshHit", 200), ("Miss", 200), ("Miss", 404),
           ("Error", 502), ("Redirect", 301), ("Hit", 304)]


def record(rng, minute, i):
    result, status = rng.choice(RESULTS)
    detailed = "OriginDnsError" if status == 502 else result
    second = rng.randrange(60)
    taken = rng.choice([1, 2, 5, 12, 40, 82, 250, 1200])
    ttfb = max(1, taken // 2)
    size = 0 if status == 304 else rng.randrange(200, 200_000)
    return {
        "date": "2026-11-20", "time": f"12:{minute:02d}:{second:02d}",
        "x-edge-location": rng.choice(POPS), "sc-bytes": str(size + 300),
        "c-ip": f"192.0.2.{rng.randrange(1, 250)}", "cs-method": "GET",
        "cs(Host)": "d111111abcdef8.cloudfront.net", "cs-uri-stem": rng.choice(PATHS),
        "sc-status": str(status), "cs(Referer)": "-", "cs(User-Agent)": UA,
        "cs-uri-query": "-", "cs(Cookie)": "-", "x-edge-result-type": result,
        "x-edge-request-id": f"EXAMPLE{minute:02d}{i:04d}requestid0000000000000000000000000000000000==",
        "x-host-header": "www.example.com", "cs-protocol": "https", "cs-bytes": str(rng.randrange(80, 600)),
        "time-taken": f"{taken // 1000}.{taken % 1000:03d}", "x-forwarded-for": "-",
        "ssl-protocol": "TLSv1.3", "ssl-cipher": "TLS_AES_128_GCM_SHA256",
        "x-edge-response-result-type": result, "cs-protocol-version": "HTTP/2.0",
        "fle-status": "-", "fle-encrypted-fields": "-", "c-port": str(rng.randrange(1024, 65535)),
        "time-to-first-byte": f"{ttfb // 1000}.{ttfb % 1000:03d}",
        "x-edge-detailed-result-type": detailed,
        "sc-content-type": "-" if status == 304 else "text/html", "sc-content-len": str(size) if size else "-",
        "sc-range-start": "-", "sc-range-end": "-",
        "c-country": rng.choice(["US", "DE", "BG"]), "cache-behavior-path-pattern": "*",
        "origin-fbl": "-" if result == "Hit" else f"0.{rng.randrange(10, 300):03d}",
        "origin-lbl": "-" if result == "Hit" else f"0.{rng.randrange(300, 900):03d}",
    }


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        # mtime=0: the same bytes every run
        f.write(gzip.compress(data.encode(), mtime=0))


def main():
    rng = random.Random(2026)
    # Legacy standard log, two files of the same hour (the second is a two-member gzip).
    lines = ["#Version: 1.0", "#Fields: " + " ".join(FIELDS)]
    for m in range(0, 3):
        for i in range(20):
            r = record(rng, m, i)
            lines.append("\t".join(r[f] for f in FIELDS))
    write("events/logs/cloudfront/E2EXAMPLE1234.2026-11-20-12.a1b2c3d4.gz", "\n".join(lines) + "\n")
    first = ["#Version: 1.0", "#Fields: " + " ".join(FIELDS)]
    second = list(first)
    for i in range(15):
        first.append("\t".join(record(rng, 3, i)[f] for f in FIELDS))
        second.append("\t".join(record(rng, 4, i)[f] for f in FIELDS))
    path = "events/logs/cloudfront/E2EXAMPLE1234.2026-11-20-12.e5f6a7b8.gz"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(gzip.compress(("\n".join(first) + "\n").encode(), mtime=0))
        f.write(gzip.compress(("\n".join(second) + "\n").encode(), mtime=0))
    # Standard logging v2, JSON output, in a key with a space and a '+'.
    import json
    v2 = ["timestamp(ms)", "x-edge-location", "sc-bytes", "sc-status", "x-edge-result-type",
          "time-taken", "time-to-first-byte", "origin-fbl", "origin-lbl", "c-country",
          "cache-behavior-path-pattern", "cs-method", "x-host-header", "c-ip"]
    out = []
    for m in range(5, 8):
        for i in range(10):
            r = record(rng, m, i)
            sec = int(r["time"][6:])
            r["timestamp(ms)"] = str(1795176000000 + m * 60_000 + sec * 1000 + rng.randrange(1000))
            out.append(json.dumps({k: r[k] for k in v2}, separators=(",", ":")))
    write("events/logs/v2 logs/E3EXAMPLE5678/2026/11/20/12/part+1.log.gz", "\n".join(out) + "\n")
    # Standard logging v2, W3C output with a field subset, delivered under a Hive-style path
    # (EventBridge example: the key has colons, carried raw by EventBridge).
    w3c = ["date", "time", "sc-status", "sc-bytes", "x-edge-result-type", "time-taken", "x-edge-location"]
    lines = ["#Fields: " + " ".join(w3c)]
    for i in range(12):
        r = record(rng, 9, i)
        lines.append("\t".join(r[f] for f in w3c))
    write("events/logs/v2/distributionid=E4EXAMPLE9012/2026-11-20T12:09:00.log.gz", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
